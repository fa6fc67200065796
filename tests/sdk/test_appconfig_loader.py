"""Reading a lain.yaml (lain_sdk.appconfig.loader): files, every problem at once, resource
templates previewed and instantiated for a client, and a property: however a real lain.yaml is
damaged, loading it raises AppConfigError or succeeds, never another exception.
"""

from __future__ import annotations

import contextlib
import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lain_sdk.appconfig import (
    check_app_config,
    load_app_config,
    parse_app_config,
    render_resource_instance,
)
from lain_sdk.errors import AppConfigError, AppConfigMissing
from tests.conftest import CORPUS, DATA, EXAMPLES, corpus_dir

HEAD = "appname: hello\nbuild:\n  base: golang\n"  # three lines: the body starts on line 4
SECTIONS = (
    "a proc section is web[.NAME], worker[.NAME], oneshot[.NAME], proc.NAME, portal.NAME or "
    "service.NAME; the other top-level keys are listed in the lain.yaml schema and the "
    "README's lain.yaml "
    "reference"
)
REDIS = (DATA / "redis-resource.yaml").read_text()
MiB = 1024 * 1024


# -- files -------------------------------------------------------------------------------------


def test_load_from_a_directory_or_a_file() -> None:
    by_dir = load_app_config(EXAMPLES / "hello")
    by_file = load_app_config(EXAMPLES / "hello" / "lain.yaml")
    assert by_dir == by_file
    assert by_dir.path.endswith("hello/lain.yaml")
    assert by_dir.source == (EXAMPLES / "hello" / "lain.yaml").read_text()


def test_load_from_the_current_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "lain.yaml").write_text(HEAD)
    monkeypatch.chdir(tmp_path)
    assert load_app_config().path == "lain.yaml"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AppConfigMissing) as e:
        load_app_config(tmp_path)
    shown = f"{tmp_path}/lain.yaml"
    assert str(e.value) == f"{shown}: 1 problem\n{shown}: no such file; create one"
    assert e.value.path == shown
    assert check_app_config(tmp_path)[0].message == "no such file; create one"


def test_missing_named_file(tmp_path: Path) -> None:
    problems = check_app_config(tmp_path / "other.yaml")
    assert [str(p) for p in problems] == [f"{tmp_path}/other.yaml: no such file; check the path"]


def test_unreadable_bytes_are_a_problem(tmp_path: Path) -> None:
    (tmp_path / "lain.yaml").write_bytes(b"appname: a\nbuild: {base: \xff}\n")
    assert [str(p) for p in check_app_config(tmp_path)] == [
        f"{tmp_path}/lain.yaml:2:15: not UTF-8 text (byte 0xff); save the file as UTF-8"
    ]


def test_a_byte_order_mark_is_fine(tmp_path: Path) -> None:
    (tmp_path / "lain.yaml").write_bytes(b"\xef\xbb\xbf" + HEAD.encode())
    assert check_app_config(tmp_path) == []


def test_check_app_config_returns_no_problems_for_a_valid_file() -> None:
    assert check_app_config(EXAMPLES / "hello") == []


# -- every problem at once ---------------------------------------------------------------------


def test_every_problem_at_once_sorted_by_position() -> None:
    assert [str(p) for p in check_app_config(DATA / "broken.yaml")] == [
        p.replace("broken.yaml", str(DATA / "broken.yaml"), 1)
        for p in [
            (
                "broken.yaml:1:10: appname: expected a name of letters and digits, with single "
                "dashes between words, starting with a letter (like my-app), got 'my_app'"
            ),
            (
                "broken.yaml:7:14: build.prepare.version: expected a version of letters and digits "
                "(like 20180428), got '1.0'"
            ),
            f"broken.yaml:8:1: publish: unknown section 'publish': {SECTIONS}",
            "broken.yaml:11:11: web.memory: expected a memory size like 64m, 512M or 1g, got "
            "'lots'",
            "broken.yaml:12:18: web.num_instances: expected an integer, got 'many'",
            "broken.yaml:14:15: web.setup_time: must be between 0 and 120, got 500",
            (
                "broken.yaml:15:1: web.admin: web proc 'admin' needs its own mountpoint: only the "
                "proc named web gets the default domains; add mountpoint: [/admin] (a path on the "
                "app's domains) or a domain of its own"
            ),
            (
                "broken.yaml:18:3: worker.queue.mountpoint: mountpoint only works on web procs "
                "(queue is a worker); remove it, or make the proc a web proc"
            ),
            "broken.yaml:19:17: worker.queue.kill_timeout: must be between 10 and 60, got 5",
            (
                "broken.yaml:20:10: worker.queue.logs[0]: must be a path relative to /lain/logs, "
                "like 'queue.log'"
            ),
        ]
    ]


def test_the_error_message_lists_every_problem() -> None:
    with pytest.raises(AppConfigError) as e:
        parse_app_config(HEAD + "web: {cpu: x, memory: y}\n", path="app/lain.yaml")
    assert e.value.path == "app/lain.yaml"
    assert str(e.value) == (
        "app/lain.yaml: 2 problems\n"
        "app/lain.yaml:4:12: web.cpu: expected an integer, got 'x'\n"
        "app/lain.yaml:4:23: web.memory: expected a memory size like 64m, 512M or 1g, got 'y'"
    )


# -- resource templates ------------------------------------------------------------------------


def test_a_resource_template_may_put_templates_anywhere() -> None:
    config = parse_app_config(
        HEAD
        + "apptype: resource\n"
        + "worker:\n"
        + "  memory: '{{ memory }}'\n"
        + "  num_instances: '{{ n|default(2) }}'\n"
        + "  port: '{{ port }}'\n"
        + "  env: '{{ env }}'\n"
        + "  secret_files: ['{{ secret }}']\n"
        + "  cmd: run {{ flags }}\n"
    )
    worker = config.proc("worker")
    # rendered without parameters, as a preview: what needs a parameter falls back to the default
    assert (worker.memory, worker.num_instances, worker.port, worker.cmd) == (
        32 * 1024 * 1024,
        2,
        None,
        ("run",),
    )
    assert worker.secret_files == () and dict(worker.env) == {}


def test_the_resource_template_itself_validates_and_previews_its_defaults() -> None:
    config = load_app_config(corpus_dir("lain-yaml") / "laincloud__mysql-resource__lain.yaml")
    assert config.apptype == "resource"
    server = config.proc("mysql-server")
    assert (server.memory, server.num_instances) == (512 * MiB, 3)
    assert server.cmd == ("./init_mysql_service.sh", "512m", "128m")


def test_redis_template_validates() -> None:
    config = load_app_config(DATA / "redis-resource.yaml")
    assert config.appname == "redis" and config.apptype == "resource"


def render(text: str = REDIS, context: dict | None = None, **kwargs):
    return render_resource_instance(
        text, resource="redis", client="hello", context=context or {}, **kwargs
    )


def test_redis_example_with_the_client_parameters() -> None:
    config = render(context={"memory": "128M", "num_instances": 1})
    assert config.appname == "resource.redis.hello"
    assert config.apptype == "app"
    assert config.path == "resource.redis.hello"
    redis, portal = config.procs
    assert (redis.name, redis.type, redis.memory, redis.num_instances) == (
        "redis",
        "worker",
        128 * MiB,
        1,
    )
    assert redis.cmd == ("redis", "-p", "3333")
    assert (portal.name, portal.service_name) == ("portal-redis", "redis")
    assert portal.image == "myregistry.lain.org/proxy:release-1234567-abc"
    assert redis.dns_search == ("hello.redis.resource.lain",)


def test_the_instance_source_is_the_rendered_yaml() -> None:
    config = render(context={"memory": "256m"})
    data = yaml.safe_load(config.source)
    assert data["appname"] == "resource.redis.hello"
    assert "apptype" not in data
    assert data["service.redis"]["memory"] == "256m"
    assert data["service.redis"]["num_instances"] == 2


def test_an_invalid_rendering_names_the_resource_and_the_template_line() -> None:
    with pytest.raises(AppConfigError) as e:
        render(context={"memory": "lots", "num_instances": "-3"})
    assert str(e.value) == (
        "resource.redis.hello: 2 problems\nresource.redis.hello:19:18: "
        "service.redis.num_instances: must be between 0 and 1000, got -3\n"
        "resource.redis.hello:20:11: service.redis.memory: expected a memory size like 64m, "
        "512M or 1g, got 'lots'"
    )


def test_only_a_resource_can_be_instantiated() -> None:
    with pytest.raises(AppConfigError) as e:
        render(REDIS.replace("apptype: resource\n", ""))
    assert [str(p) for p in e.value.problems] == [
        "resource.redis.hello:2:1: redis is not a resource: its lain.yaml needs apptype: resource"
    ]


def test_mysql_resource_from_the_corpus() -> None:
    text = (corpus_dir("lain-yaml") / "laincloud__mysql-resource__lain.yaml").read_text()
    config = render_resource_instance(
        text,
        resource="mysql-resource",
        client="hello",
        context={"memory": "1g", "num_instances": 1},
        domains=["example.com"],
    )
    assert config.appname == "resource.mysql-resource.hello"
    server = config.proc("mysql-server")
    assert server.cmd == ("./init_mysql_service.sh", "1g", "128m")
    assert (server.memory, server.num_instances) == (1024 * MiB, 1)
    assert config.proc("web").mountpoints == (
        "hello.mysql-resource.resource.example.com",
        "hello.mysql-resource.resource.lain",
    )


# -- damaged files (property) ------------------------------------------------------------------


def _samples() -> list[str]:
    files = sorted(CORPUS.glob("*/*.yaml"))
    files += [*sorted(DATA.glob("*.yaml")), EXAMPLES / "hello" / "lain.yaml"]
    return [f.read_text(encoding="utf-8") for f in files]


SAMPLES = _samples()


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.sampled_from(
        [
            "",
            "/",
            "..",
            "{{",
            "{{ x }}",
            "{% if %}",
            "64m",
            "0",
            "-1",
            "80:tcp",
            "9501:80/udp",
            "web",
            "a=b",
            "k:v",
            "none",
            "'unbalanced",
            "/lain/app",
            "resource",
            "constraint:group==x",
            "é",
        ]
    ),
)


VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


JUNK_KEYS = st.one_of(
    st.text(max_size=10),
    st.sampled_from(
        [
            "web",
            "web.x",
            "service.s",
            "portal.p",
            "proc.q",
            "worker.w",
            "portal",
            "<<",
            "memory",
            "port",
            "ports",
            "cmd",
            "type",
            "mountpoint",
            "use_resources",
            "portal-s",
        ]
    ),
)


def _paths(value: Any, path: tuple = ()) -> list[tuple]:
    out = [path]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*path, i))
    return out


def _get(value: Any, path: tuple) -> Any:
    for part in path:
        value = value[part]
    return value


def _set(root: Any, path: tuple, new: Any) -> Any:
    if not path:
        return new
    _get(root, path[:-1])[path[-1]] = new
    return root


@st.composite
def damaged(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(SAMPLES))
    how = draw(st.sampled_from(["data", "data", "data", "truncate", "insert"]))
    if how == "truncate":
        return text[: draw(st.integers(0, len(text)))]
    if how == "insert":
        at = draw(st.integers(0, len(text)))
        junk = draw(
            st.text(alphabet=st.sampled_from(list(" \n\t-:{}[]&*!|>'\"#%@`,?abc01")), max_size=8)
        )
        return text[:at] + junk + text[at:]
    data = yaml.safe_load(text)
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(data)
        path = draw(st.sampled_from(paths))
        op = draw(st.sampled_from(["delete", "retype", "junk", "swap"]))
        target = _get(data, path)
        if op == "delete" and path:
            parent = _get(data, path[:-1])
            del parent[path[-1]]
        elif op == "retype":
            data = _set(data, path, draw(VALUES))
        elif op == "junk" and isinstance(target, dict):
            target[draw(JUNK_KEYS)] = draw(VALUES)
        elif op == "swap":
            other = draw(st.sampled_from(paths))
            if other[: len(path)] != path and path[: len(other)] != path and other != path:
                a, b = copy.deepcopy(_get(data, path)), copy.deepcopy(_get(data, other))
                if other[: len(path)] != path and path[: len(other)] != other:
                    data = _set(data, path, b)
                    data = _set(data, other, a)
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged())
def test_damaged_files_only_raise_app_config_error(text: str) -> None:
    try:
        parse_app_config(text)
    except AppConfigError as e:
        assert e.problems
        for problem in e.problems:
            assert problem.line >= 1 and problem.column >= 1
            assert "Traceback" not in problem.message


@pytest.mark.parametrize("domains", [None, ("example.com", "example.org")])
def test_samples_load_with_domains(domains: tuple[str, ...] | None) -> None:
    for text in SAMPLES:
        with contextlib.suppress(AppConfigError):
            parse_app_config(text, domains=domains)
