"""The JSON Schema of lain.yaml and its messages (lain_sdk.appconfig.validation).

The shipped schema itself (valid, self-describing, the one source of the structural rules), one
test per structural rule with the exact message a user sees, and the memory of texts that passed
the schema (only those, and only for this schema).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from lain_sdk.appconfig import parse_app_config, schema
from lain_sdk.appconfig.validation import SCHEMA_FILE
from lain_sdk.errors import AppConfigError
from tests.conftest import REPO_ROOT

HEAD = "appname: hello\nbuild:\n  base: golang\n"  # three lines: the body starts on line 4
SECTIONS = (
    "a proc section is web[.NAME], worker[.NAME], oneshot[.NAME], proc.NAME, portal.NAME or "
    "service.NAME; the other top-level keys are listed in the lain.yaml schema and the "
    "README's lain.yaml "
    "reference"
)
PROC_KEYS = (
    "image, cmd, entrypoint, user, workdir, working_dir, num_instances, cpu, memory, port, ports, "
    "env, mountpoint, https_only, healthcheck, container_healthcheck, secret_files, "
    "secret_files_bypass, persistent_dirs, volumes, cloud_volumes, logs, setup_time, "
    "kill_timeout, stateful, labels, filters, dns_search"
)
PROC_KEY_COUNT = len(PROC_KEYS.split(", ")) + 1  # and type


def problems(text: str) -> list[str]:
    with pytest.raises(AppConfigError) as e:
        parse_app_config(text)
    return [str(p) for p in e.value.problems]


def body_problems(body: str) -> list[str]:
    return problems(HEAD + body)


# -- the schema --------------------------------------------------------------------------------


def _walk(node: Any, path: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{path}/{i}")


def test_the_schema_is_a_valid_draft_7_schema() -> None:
    document = schema()
    assert document["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(document)


def test_the_file_is_what_schema_returns() -> None:
    assert json.loads(SCHEMA_FILE.read_text(encoding="utf-8")) == schema()


def test_schema_returns_a_copy() -> None:
    schema()["title"] = "changed"
    assert schema()["title"] == "lain.yaml"


def test_every_pattern_and_choice_says_what_it_expects() -> None:
    """Messages quote x-expected, never a regular expression."""
    document = schema()
    for path, node in _walk(document):
        if "pattern" in node and "propertyNames" not in path:
            owner = _owner(document, path)
            assert "x-expected" in node or "x-expected" in owner, path
        if "anyOf" in node:
            assert "x-expected" in node, path


def _owner(document: dict[str, Any], path: str) -> dict[str, Any]:
    """The anyOf schema a branch belongs to."""
    parts = path.split("/")[1:]
    node: Any = document
    owner: dict[str, Any] = {}
    for part in parts:
        if isinstance(node, dict) and "anyOf" in node:
            owner = node
        node = node[int(part)] if isinstance(node, list) else node[part]
    return owner


def test_references_all_resolve() -> None:
    """Every $ref points at a definition inside the schema, and none leads back to itself (the
    validator is built with every reference replaced by its target)."""
    document = schema()

    def target(ref: str) -> Any:
        assert ref.startswith("#/"), f"{ref} is not a reference inside the schema"
        node: Any = document
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            assert isinstance(node, dict) and part in node, f"{ref} leads nowhere"
            node = node[part]
        return node

    def refs(node: Any) -> list[str]:
        return [sub["$ref"] for _, sub in _walk(node) if isinstance(sub.get("$ref"), str)]

    resolved: set[str] = set()

    def resolve(ref: str, through: tuple[str, ...]) -> None:
        assert ref not in through, f"recursive reference: {' -> '.join((*through, ref))}"
        if ref not in resolved:
            for inner in refs(target(ref)):
                resolve(inner, (*through, ref))
            resolved.add(ref)

    found = refs(document)
    assert found
    for ref in found:
        resolve(ref, ())


def test_defaults_are_documented() -> None:
    document = schema()
    keys = document["definitions"]["procKeys"]["properties"]
    assert document["definitions"]["memory"]["default"] == "32m"
    assert keys["num_instances"]["default"] == 1
    assert keys["cpu"]["default"] == 0
    assert keys["setup_time"] == {**keys["setup_time"], "minimum": 0, "maximum": 120, "default": 0}
    assert keys["kill_timeout"] == {
        **keys["kill_timeout"],
        "minimum": 10,
        "maximum": 60,
        "default": 10,
    }
    assert document["properties"]["apptype"]["default"] == "app"
    assert document["definitions"]["portal"]["properties"]["allow_clients"]["default"] == "**"
    for name, node in keys.items():
        target = (
            node
            if "description" in node
            else document["definitions"].get(node.get("$ref", "").split("/")[-1], {})
        )
        assert "description" in target, name


@pytest.mark.parametrize(
    "key",
    [
        "appname",
        "giturl",
        "apptype",
        "build",
        "release",
        "test",
        "notify",
        "use_services",
        "use_resources",
    ],
)
def test_every_v2_top_level_key(key: str) -> None:
    assert key in schema()["properties"]


def test_every_v2_proc_key() -> None:
    keys = set(schema()["definitions"]["procKeys"]["properties"])
    assert keys == {
        "image", "cmd", "entrypoint", "user", "workdir", "working_dir", "num_instances", "cpu",
        "memory", "port", "ports", "env", "mountpoint", "https_only", "healthcheck",
        "container_healthcheck", "secret_files", "secret_files_bypass", "persistent_dirs",
        "volumes", "cloud_volumes", "logs", "setup_time", "kill_timeout", "stateful", "labels",
        "filters", "dns_search",
    }  # fmt: skip
    definitions = schema()["definitions"]
    assert set(definitions["portal"]["properties"]) == keys | {"service_name", "allow_clients"}
    assert set(definitions["service"]["properties"]) == keys | {"type", "portal"}
    assert set(definitions["proc"]["properties"]) == keys | {"type"}
    assert set(definitions["typedProc"]["properties"]) == keys | {"type"}


def test_list_fields_are_arrays() -> None:
    """v2 declared lists as {"items": ...} without a type, so any string passed."""
    for path, node in _walk(schema()):
        if "items" in node:
            assert node.get("type") == "array", path


# -- top level ---------------------------------------------------------------------------------


def test_appname_and_build_are_required() -> None:
    assert problems("giturl: x\n") == [
        "lain.yaml:1:1: missing required key 'appname'",
        "lain.yaml:1:1: missing required key 'build'",
    ]


def test_build_base_is_required() -> None:
    assert problems("appname: a\nbuild:\n  script: [make]\n") == [
        "lain.yaml:2:1: build: missing required key 'base'"
    ]


def test_appname_pattern() -> None:
    assert problems("appname: my_app\nbuild: {base: x}\n") == [
        (
            "lain.yaml:1:10: appname: expected a name of letters and digits, with single dashes "
            "between words, starting with a letter (like my-app), got 'my_app'"
        )
    ]


def test_apptype_values() -> None:
    assert body_problems("apptype: service\n") == [
        "lain.yaml:4:10: apptype: expected one of app, resource, got 'service'"
    ]


def test_unknown_section_says_what_a_section_is_and_where_the_keys_are() -> None:
    assert body_problems("publish:\n  script: [echo]\n") == [
        f"lain.yaml:4:1: publish: unknown section 'publish': {SECTIONS}"
    ]


def test_unknown_section_suggests_a_close_name() -> None:
    assert body_problems("wroker: {}\n") == [
        f"lain.yaml:4:1: wroker: unknown section 'wroker' (did you mean 'worker'?): {SECTIONS}"
    ]


def test_a_proc_key_at_the_top_level_is_said_to_belong_under_a_proc() -> None:
    assert body_problems("memory: 64m\n") == [
        "lain.yaml:4:1: memory: unknown section 'memory': memory is a proc key; indent it under "
        "a proc section (like web:) with spaces"
    ]


def test_invalid_proc_section_names() -> None:
    assert body_problems("web.a.b: {}\nworker.my_q: {}\nportal: {}\n") == [
        (
            "lain.yaml:4:1: web.a.b: invalid proc section 'web.a.b': after 'web.' comes a proc "
            "name of letters and digits, with single dashes between words, starting with a letter "
            "(like web.my-proc)"
        ),
        (
            "lain.yaml:5:1: worker.my_q: invalid proc section 'worker.my_q': after 'worker.' "
            "comes a proc name of letters and digits, with single dashes between words, starting "
            "with a letter (like worker.my-proc)"
        ),
        "lain.yaml:6:1: portal: 'portal' needs a name: write portal.NAME, like portal.my-portal",
    ]


def test_notify_takes_any_keys() -> None:
    config = parse_app_config(
        HEAD + "notify: {slack: '#a', email: a@example.com, hook: {url: x}}\n"
    )
    assert config.notify["hook"] == {"url": "x"}


# -- build, release, test ----------------------------------------------------------------------


def test_unknown_key_in_build_lists_the_keys() -> None:
    assert problems("appname: a\nbuild:\n  base: x\n  scripts: [make]\n") == [
        (
            "lain.yaml:4:3: build.scripts: unknown key 'scripts' (did you mean 'script'?); build "
            "takes base, script, prepare, build_arg, volumes"
        )
    ]


def test_script_must_be_a_list() -> None:
    # v2's schema forgot "type": "array", so a string passed and was iterated character by character
    assert problems("appname: a\nbuild:\n  base: x\n  script: make\n") == [
        "lain.yaml:4:11: build.script: expected a list, got 'make'"
    ]


def test_script_lines_are_strings() -> None:
    assert problems("appname: a\nbuild:\n  base: x\n  script: [make, {a: b}]\n") == [
        "lain.yaml:4:18: build.script[1]: expected a shell command line, got a mapping"
    ]


def test_prepare_version_pattern() -> None:
    assert problems("appname: a\nbuild:\n  base: x\n  prepare: {version: '1.0'}\n") == [
        (
            "lain.yaml:4:22: build.prepare.version: expected a version of letters and digits "
            "(like 20180428), got '1.0'"
        )
    ]


def test_prepare_is_validated() -> None:
    # v2's anyOf let any mapping through as the list form, so prepare was never checked
    assert problems("appname: a\nbuild:\n  base: x\n  prepare: {scrip: [a], keep: vendor}\n") == [
        (
            "lain.yaml:4:13: build.prepare.scrip: unknown key 'scrip' (did you mean 'script'?); "
            "build.prepare takes version, script, keep, build_arg"
        ),
        "lain.yaml:4:31: build.prepare.keep: expected a list, got 'vendor'",
    ]


def test_prepare_forms() -> None:
    assert problems("appname: a\nbuild:\n  base: x\n  prepare: make\n") == [
        (
            "lain.yaml:4:12: build.prepare: expected a list of script lines, or {version, script, "
            "keep, build_arg}, got 'make'"
        )
    ]


def test_build_args() -> None:
    assert problems("appname: a\nbuild:\n  base: x\n  build_arg: [VERSION]\n") == [
        "lain.yaml:4:15: build.build_arg[0]: expected KEY=VALUE, got 'VERSION'"
    ]


def test_build_volumes_are_absolute() -> None:
    assert problems("appname: a\nbuild:\n  base: x\n  volumes: [node_modules]\n") == [
        "lain.yaml:4:13: build.volumes[0]: expected an absolute path, got 'node_modules'"
    ]


def test_copy_items() -> None:
    assert body_problems("release:\n  copy:\n    - 1\n    - dest: /x\n    - {src: a, to: b}\n") == [
        "lain.yaml:6:7: release.copy[0]: expected a path, or {src, dest}, got 1",
        "lain.yaml:7:7: release.copy[1]: missing required key 'src'",
        "lain.yaml:8:16: release.copy[2].to: unknown key 'to'; release.copy[2] takes src, dest",
    ]


def test_unknown_key_in_test() -> None:
    assert body_problems("test:\n  scripts: [a]\n") == [
        "lain.yaml:5:3: test.scripts: unknown key 'scripts' (did you mean 'script'?); test takes "
        "script"
    ]


# -- proc keys ---------------------------------------------------------------------------------


def test_unknown_proc_key_suggests_and_points_to_the_reference_not_all_its_keys() -> None:
    assert body_problems("proc.mysqld:\n  num_instance: 3\n") == [
        (
            "lain.yaml:5:3: proc.mysqld.num_instance: unknown key 'num_instance' (did you mean "
            f"'num_instances'?); proc.mysqld takes {PROC_KEY_COUNT} keys, listed in the lain.yaml "
            "schema "
            "and the README's lain.yaml reference"
        )
    ]
    assert body_problems("web:\n  secret_file: [a]\n") == [
        (
            "lain.yaml:5:3: web.secret_file: unknown key 'secret_file' (did you mean "
            f"'secret_files' or 'secret_files_bypass'?); web takes {PROC_KEY_COUNT} keys, listed "
            "in the lain.yaml schema and the README's lain.yaml reference"
        )
    ]


def test_v2_backup_key_from_the_docs_is_unknown() -> None:
    assert body_problems(
        "worker:\n  persistent_dirs:\n    - /data:\n        backup: {schedule: x}\n"
    ) == [
        (
            "lain.yaml:7:9: worker.persistent_dirs[0]./data.backup: unknown key 'backup' (did "
            "you mean 'backup_full'?); worker.persistent_dirs[0]./data takes backup_full, "
            "backup_increment"
        )
    ]


def test_backups_need_a_schedule() -> None:
    assert body_problems("worker:\n  volumes:\n    - /data: {backup_full: {expire: 3d}}\n") == [
        "lain.yaml:6:15: worker.volumes[0]./data.backup_full: missing required key 'schedule'"
    ]


def test_a_volume_mapping_holds_one_directory() -> None:
    assert body_problems("worker:\n  volumes:\n    - {/a: {}, /b: {}}\n") == [
        (
            "lain.yaml:6:7: worker.volumes[0]: expected one directory with its backup settings, "
            "like {/data: {backup_full: {schedule: ...}}}, got a mapping"
        )
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("'1a'", "expected an integer, got '1a'"),
        ("1.5", "expected an integer, got 1.5"),
        ("true", "expected an integer, got true"),
        ("-1", "must be between 0 and 1024, got -1"),
    ],
)
def test_integer_keys(value: str, message: str) -> None:
    assert body_problems(f"worker: {{cpu: {value}}}\n") == [
        f"lain.yaml:4:15: worker.cpu: {message}"
    ]


@pytest.mark.parametrize("value", ["lots", "64mb", "1.5g", "-64m", "true"])
def test_memory_format(value: str) -> None:
    assert body_problems(f"worker: {{memory: {value}}}\n") == [
        (
            f"lain.yaml:4:18: worker.memory: expected a memory size like 64m, 512M or 1g, got "
            f"{'true' if value == 'true' else repr(value)}"
        )
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "uu80:udp",
            "expected a port like 80, '80:tcp', '53:udp' or {80: ['type:tcp']}, got 'uu80:udp'",
        ),
        (
            "80:udpaaaaa",
            "expected a port like 80, '80:tcp', '53:udp' or {80: ['type:tcp']}, got '80:udpaaaaa'",
        ),
        (
            "[80, 81]",
            "expected a port like 80, '80:tcp', '53:udp' or {80: ['type:tcp']}, got a list",
        ),
        ("0", "must be between 1 and 65535, got 0"),
    ],
)
def test_port_forms(value: str, message: str) -> None:
    # The number in a port written as text ('70000:tcp') is a semantic check's.
    assert body_problems(f"worker: {{port: {value}}}\n") == [
        f"lain.yaml:4:16: worker.port: {message}"
    ]


def test_port_mapping_form() -> None:
    assert body_problems("worker: {port: {http: [type:tcp]}}\nweb: {port: {80: [kind:tcp]}}\n") == [
        "lain.yaml:4:17: worker.port.http: invalid key 'http': expected a port number",
        "lain.yaml:5:19: web.port.80[0]: expected 'type:tcp' or 'type:udp', got 'kind:tcp'",
    ]


def test_env_is_a_list_of_key_value_lines() -> None:
    assert body_problems("web: {env: A=1}\nworker: {env: [A=1, B, 3]}\n") == [
        "lain.yaml:4:12: web.env: expected a list of KEY=VALUE lines, got 'A=1'",
        "lain.yaml:5:21: worker.env[1]: expected KEY=VALUE, got 'B'",
        "lain.yaml:5:24: worker.env[2]: expected KEY=VALUE, got 3",
    ]


def test_labels_and_filters() -> None:
    assert body_problems("worker: {labels: [team], filters: [group==a]}\n") == [
        "lain.yaml:4:19: worker.labels[0]: expected 'key:value', got 'team'",
        (
            "lain.yaml:4:36: worker.filters[0]: expected a filter like 'constraint:KEY==VALUE' or "
            "'affinity:KEY!=VALUE', got 'group==a'"
        ),
    ]


def test_command_forms() -> None:
    assert body_problems("worker: {cmd: {run: x}, entrypoint: [sh, 1]}\n") == [
        "lain.yaml:4:15: worker.cmd: expected a command line or a list of arguments, got a mapping",
        "lain.yaml:4:42: worker.entrypoint[1]: expected a string, got 1",
    ]


def test_healthcheck_is_a_path() -> None:
    assert body_problems("web: {healthcheck: ping}\n") == [
        "lain.yaml:4:20: web.healthcheck: expected a URL path starting with '/' (like /health), "
        "got 'ping'"
    ]


def test_container_healthcheck() -> None:
    assert body_problems(
        "worker: {container_healthcheck: {options: {interval: 0, retries: -1, every: 3}}}\n"
    ) == [
        "lain.yaml:4:10: worker.container_healthcheck: missing required key 'cmd'",
        "lain.yaml:4:54: worker.container_healthcheck.options.interval: must be more than 0, got 0",
        "lain.yaml:4:66: worker.container_healthcheck.options.retries: must be at least 0, got -1",
        (
            "lain.yaml:4:70: worker.container_healthcheck.options.every: unknown key 'every'; "
            "worker.container_healthcheck.options takes interval, timeout, retries"
        ),
    ]


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("setup_time", "121", "must be between 0 and 120, got 121"),
        ("setup_time", "-1", "must be between 0 and 120, got -1"),
        ("kill_timeout", "5", "must be between 10 and 60, got 5"),
        ("kill_timeout", "61", "must be between 10 and 60, got 61"),
    ],
)
def test_timing_ranges(key: str, value: str, message: str) -> None:
    # v2's schema rejected these and its parser clamped them; lain rejects them
    assert body_problems(f"web:\n  {key}: {value}\n") == [
        f"lain.yaml:5:{len(key) + 5}: web.{key}: {message}"
    ]


def test_cloud_volumes() -> None:
    assert body_problems("worker:\n  cloud_volumes: {type: shared}\n") == [
        "lain.yaml:5:3: worker.cloud_volumes: missing required key 'dirs'",
        "lain.yaml:5:25: worker.cloud_volumes.type: expected one of multi, single, got 'shared'",
    ]


def test_boolean_keys() -> None:
    assert body_problems("web: {https_only: 'yes please'}\n") == [
        "lain.yaml:4:19: web.https_only: expected true or false, got 'yes please'"
    ]


def test_a_section_must_be_a_mapping() -> None:
    assert body_problems("web:\nworker: [a]\n") == [
        "lain.yaml:4:5: web: expected a mapping of proc settings (write {} for all defaults), got "
        "an empty value",
        "lain.yaml:5:9: worker: expected a mapping of proc settings (write {} for all defaults), "
        "got a list",
    ]


# -- procs -------------------------------------------------------------------------------------


def test_proc_type() -> None:
    assert body_problems("proc.x: {type: portal}\n") == [
        "lain.yaml:4:16: proc.x.type: expected one of web, worker, oneshot, got 'portal'"
    ]


def test_a_service_needs_its_portal() -> None:
    assert body_problems("service.echo: {cmd: ./echo}\n") == [
        (
            "lain.yaml:4:1: service.echo: missing required key 'portal': service.NAME expands to "
            "proc NAME and portal portal-NAME; add a portal: mapping (portal: {} for defaults)"
        )
    ]


def test_a_portal_needs_a_service_name() -> None:
    assert body_problems("portal.portal-echo: {cmd: ./proxy, allow_clients: [a, b]}\n") == [
        (
            "lain.yaml:4:1: portal.portal-echo: missing required key 'service_name': name the "
            "proc this portal fronts, like service_name: my-proc"
        ),
        "lain.yaml:4:51: portal.portal-echo.allow_clients: expected a string, got a list",
    ]


def test_the_portal_of_a_service_is_named_by_it() -> None:
    assert body_problems("service.echo: {portal: {service_name: x}}\n")[0].startswith(
        "lain.yaml:4:25: service.echo.portal.service_name: unknown key 'service_name'; "
    )


# -- dependencies ------------------------------------------------------------------------------


def test_use_services_names() -> None:
    assert body_problems("use_services:\n  my_db: [master]\n  db: [Master_1]\n") == [
        (
            "lain.yaml:5:3: use_services.my_db: invalid key 'my_db': expected a name of letters "
            "and digits, with single dashes between words, starting with a letter (like my-app)"
        ),
        (
            "lain.yaml:6:8: use_services.db[0]: expected a name of letters and digits, with "
            "single dashes between words, starting with a letter (like my-app), got 'Master_1'"
        ),
    ]


def test_use_resources_need_services() -> None:
    assert body_problems("use_resources:\n  redis: {memory: 128M, sizes: [1]}\n") == [
        (
            "lain.yaml:5:3: use_resources.redis: missing required key 'services': list the "
            "resource's services this app uses, like services: [redis]"
        ),
        (
            "lain.yaml:5:32: use_resources.redis.sizes: expected a template parameter (a string "
            "or a number), got a list"
        ),
    ]


# -- templates ---------------------------------------------------------------------------------


def test_templates_are_plain_strings_in_an_app() -> None:
    assert body_problems("worker: {memory: '{{ memory }}'}\n") == [
        "lain.yaml:4:18: worker.memory: expected a memory size like 64m, 512M or 1g, got '{{ "
        "memory }}'"
    ]


def test_a_resource_template_is_still_checked_where_it_is_concrete() -> None:
    assert body_problems(
        "apptype: resource\nworker: {memory: lots, cpu: '{{ cpu }}', bogus: 1}\n"
    ) == [
        "lain.yaml:5:18: worker.memory: expected a memory size like 64m, 512M or 1g, got 'lots'",
        (
            f"lain.yaml:5:42: worker.bogus: unknown key 'bogus'; worker takes {PROC_KEY_COUNT} "
            "keys, listed in the lain.yaml schema and the README's lain.yaml reference"
        ),
    ]


# -- texts that passed the schema --------------------------------------------------------------


VALID = "appname: cached\nbuild:\n  base: busybox\nweb:\n  cmd: httpd -f\n"
# Structurally wrong (the schema's problem, not a semantic one).
INVALID = "appname: cached\nbuild:\n  base: busybox\nweb:\n  num_instances: many\n"


def passed(home: Path) -> list[Path]:
    folder = home / ".cache" / "lain" / "schema-passed"
    return sorted(folder.iterdir()) if folder.is_dir() else []


def count_schema_runs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record each time a document is validated against the schema (by jsonschema's draft-07
    validator, which the schema names)."""
    runs: list[int] = []
    real = jsonschema.Draft7Validator.iter_errors
    depth = [0]

    def counted(self: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
        if depth[0] == 0:  # a whole document, not jsonschema descending into a part of it
            runs.append(1)
        depth[0] += 1
        try:
            yield from real(self, *args, **kwargs)
        finally:
            depth[0] -= 1

    monkeypatch.setattr(jsonschema.Draft7Validator, "iter_errors", counted)
    return runs


def test_a_text_that_passed_is_not_checked_again(
    isolation: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = count_schema_runs(monkeypatch)
    first = parse_app_config(VALID)
    assert len(runs) == 1 and len(passed(isolation)) == 1
    assert parse_app_config(VALID) == first
    assert len(runs) == 1
    # Another text is checked.
    parse_app_config(VALID + "  port: 8080\n")
    assert len(runs) == 2 and len(passed(isolation)) == 2


def test_a_text_that_passed_is_checked_again_under_another_schema(
    isolation: Path, tmp_path: Path
) -> None:
    parse_app_config(VALID)
    assert len(passed(isolation)) == 1
    # The same text, in a fresh process whose lain ships another schema (the same one with
    # another title): it is checked, so it passes again and is remembered apart.
    other = tmp_path / "lain.schema.json"
    document = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    document["title"] = "lain.yaml (another version)"
    other.write_text(json.dumps(document), encoding="utf-8")
    code = (
        "from pathlib import Path\n"
        "from lain_sdk.appconfig import parse_app_config, schema, validation\n"
        f"validation.SCHEMA_FILE = Path({str(other)!r})\n"
        "assert schema()['title'] == 'lain.yaml (another version)'\n"
        f"parse_app_config({VALID!r})\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True, timeout=60)
    assert len(passed(isolation)) == 2


def test_a_text_that_failed_is_never_remembered(
    isolation: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = count_schema_runs(monkeypatch)
    for attempt in (1, 2):
        with pytest.raises(AppConfigError, match=r"web\.num_instances"):
            parse_app_config(INVALID)
        assert len(runs) == attempt
    assert passed(isolation) == []


def test_an_unwritable_cache_only_costs_time(
    isolation: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (isolation / ".cache").write_text("a file where the cache directory would be")
    runs = count_schema_runs(monkeypatch)
    parse_app_config(VALID)
    parse_app_config(VALID)
    assert len(runs) == 2
