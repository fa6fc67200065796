"""lain_sdk's flat public API: complete, sorted, lazy, typed for type checkers and at run time
(annotations that resolve, no parameter typed ``Any``), nothing heavy on import, and a wrong
argument refused with an ``InvalidArgument`` that names it, at the call."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import lain_sdk
from lain_sdk import (
    Credentials,
    CredentialStore,
    GitInfo,
    InvalidArgument,
    RegistryClient,
    Settings,
    build_app,
    check_app_config,
    clean_app,
    drain,
    image_tag,
    load_app_config,
    parse_app_config,
    parse_meta_version,
    prepare_app,
    push_app,
    read_appname,
    registry_login,
    registry_logout,
    render_resource_instance,
    test_app,
)
from lain_sdk.engine import EngineClient

INIT = Path(lain_sdk.__file__)


def test_all_is_sorted_and_unique() -> None:
    assert lain_sdk.__all__ == sorted(set(lain_sdk.__all__))


def test_every_public_name_resolves() -> None:
    for name in lain_sdk.__all__:
        assert getattr(lain_sdk, name) is not None, name


def test_dir_lists_the_public_names() -> None:
    assert set(lain_sdk.__all__) <= set(dir(lain_sdk))


def test_errors_share_one_root() -> None:
    error_names = [n for n in lain_sdk.__all__ if n.endswith(("Error", "Failed"))]
    error_names += ["CredentialsMissing", "NotFound", "LainTimeout", "LockHeld", "InvalidArgument"]
    for name in error_names:
        assert issubclass(getattr(lain_sdk, name), lain_sdk.LainError), name


def test_import_loads_no_cli_or_heavy_library() -> None:
    code = (
        "import sys, lain_sdk\n"
        "heavy = ('click', 'rich', 'docker', 'git', 'requests', 'keyring', 'jsonschema', 'yaml')\n"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_type_checkers_see_the_same_names_as_the_lazy_table() -> None:
    tree = ast.parse(INIT.read_text())
    guarded = next(
        n for n in tree.body if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test)
    )
    seen = {
        a.asname: f"{n.module}"
        for n in guarded.body
        if isinstance(n, ast.ImportFrom)
        for a in n.names
    }
    assert set(seen) == set(lain_sdk.__all__) - {"__version__"}
    for name, module in seen.items():
        value = getattr(lain_sdk, name)
        if hasattr(value, "__module__") and not isinstance(value, type(lain_sdk.ClusterLike)):
            assert value.__module__ == module, name


def test_mypy_sees_the_real_types_of_public_names(tmp_path) -> None:
    from mypy import api

    sample = tmp_path / "sample.py"
    sample.write_text(
        "import lain_sdk\n"
        "app = lain_sdk.load_app_config('.')\n"
        "memory: str = app.procs[0].memory\n"
        "reveal_type(lain_sdk.deploy_app)\n"
    )
    out, _, status = api.run(
        [str(sample), "--no-error-summary", "--cache-dir", str(tmp_path / "cache")]
    )
    assert status == 1
    assert (
        'Incompatible types in assignment (expression has type "int", variable has type "str")'
        in out
    )
    (revealed,) = [line for line in out.splitlines() if "Revealed type is" in line]
    assert "cluster: lain_sdk.cluster.session.Cluster" in revealed and "Any" not in revealed
    assert "lain_sdk.cluster.deploy.DeployResult" in revealed


@pytest.mark.parametrize(
    ("call", "says"),
    [
        (
            lambda: lain_sdk.scale_proc("shop", "web", cluster="local", memory="lots"),
            "is not a memory size",
        ),
        (lambda: lain_sdk.deploy_app("shop", cluster=3), "cluster must be a Cluster"),
        (lambda: lain_sdk.deploy_app(["shop"], cluster="local"), "app must be an app name"),
        (
            lambda: lain_sdk.rollback_app("shop", "2", cluster="local"),
            "number must be a whole number",
        ),
        (
            lambda: lain_sdk.undeploy_app("shop", cluster="local", procs="web"),
            "procs must be a list",
        ),
        (lambda: lain_sdk.app_status("shop", cluster=None), "cluster must be a Cluster"),
        (
            lambda: lain_sdk.app_logs("shop", cluster="local", since="yesterday"),
            "since must be a Unix time",
        ),
        (
            lambda: lain_sdk.add_secret("shop", "web", "/a", "text", cluster="local"),
            "must be bytes",
        ),
        (
            lambda: lain_sdk.read_secret("shop", "web", "", cluster="local"),
            "a secret file needs a path",
        ),
        (
            lambda: lain_sdk.exec_in_instance("shop", "web", "ls", cluster="local"),
            "command must be a non-empty list",
        ),
        (
            lambda: lain_sdk.list_secrets("shop", cluster="local", proc="no such"),
            "is not a proc name",
        ),
    ],
)
def test_entry_points_refuse_wrong_arguments_with_a_lain_error(call, says) -> None:
    with pytest.raises(lain_sdk.InvalidArgument, match=says):
        result = call()
        if inspect.isgenerator(result):
            next(result)


def test_a_cluster_name_is_taken_where_a_session_is_expected(tmp_path, monkeypatch) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "clusters:\n  prod:\n    registry: reg.example.com\n    docker_host: unix:///nonexistent.sock\n"
    )
    monkeypatch.setenv("LAIN_CONFIG", str(config))
    with pytest.raises(lain_sdk.EngineError, match=r"unix:///nonexistent\.sock"):
        lain_sdk.app_status("shop", cluster="prod")
    with pytest.raises(lain_sdk.NotFound, match="no cluster named 'nope'"):
        lain_sdk.app_status("shop", cluster="nope")


PUBLIC = sorted(set(lain_sdk.__all__) - {"__version__"})


def _callables(name: str) -> list[tuple[str, Callable[..., Any]]]:
    """The export itself, and for a class its public methods and properties (none for a type
    alias such as ``ClusterLike``)."""
    value = getattr(lain_sdk, name)
    if not (inspect.isclass(value) or inspect.isfunction(value)):
        return []
    found: list[tuple[str, Callable[..., Any]]] = [(name, value)]
    if inspect.isclass(value):
        for attribute, member in vars(value).items():
            if attribute.startswith("_") and attribute != "__init__":
                continue
            if isinstance(member, property) and member.fget is not None:
                found.append((f"{name}.{attribute}", member.fget))
            elif isinstance(member, (classmethod, staticmethod)):
                found.append((f"{name}.{attribute}", member.__func__))
            elif inspect.isfunction(member):
                found.append((f"{name}.{attribute}", member))
    return found


@pytest.mark.parametrize("name", PUBLIC)
def test_annotations_resolve_at_run_time(name: str) -> None:
    for label, value in _callables(name):
        try:
            typing.get_type_hints(value)
        except NameError as e:  # pragma: no cover - the message says which
            pytest.fail(f"{label}: {e}")


@pytest.mark.parametrize("name", PUBLIC)
def test_no_parameter_is_typed_any(name: str) -> None:
    for label, value in _callables(name):
        if not callable(value) or inspect.isclass(value):
            continue
        hints = typing.get_type_hints(value)
        loose = [p for p in inspect.signature(value).parameters if hints.get(p) is Any]
        assert not loose, f"{label}: {loose}"


@pytest.mark.parametrize("function", [build_app, prepare_app, test_app, push_app, clean_app])
def test_the_engine_is_a_protocol(function: Callable[..., Any]) -> None:
    hints = typing.get_type_hints(function)
    assert hints["engine"] == EngineClient | None
    assert "docker_client" not in inspect.signature(function).parameters


class NotAnEngine:
    api = None  # no close()


# (call, the argument the message must name)
WRONG: list[tuple[Callable[[], object], str]] = [
    (lambda: build_app(123), "app_dir"),  # type: ignore[arg-type]
    (lambda: build_app(".", registry=5), "registry"),  # type: ignore[arg-type]
    (lambda: build_app(".", engine="docker"), "engine"),  # type: ignore[arg-type]
    (lambda: build_app(".", engine=NotAnEngine()), "engine"),  # type: ignore[arg-type]
    (lambda: build_app(".", timeout=0), "timeout"),
    (lambda: build_app(".", environ=["A=1"]), "environ"),  # type: ignore[arg-type]
    (lambda: build_app(".", push="yes"), "push"),  # type: ignore[arg-type]
    (lambda: build_app(".", credentials=("alice", "s3cret")), "credentials"),  # type: ignore[arg-type]
    (lambda: prepare_app(None), "app_dir"),  # type: ignore[arg-type]
    (lambda: test_app(".", allow_dirty=1), "allow_dirty"),  # type: ignore[arg-type]
    (lambda: push_app(".", registry=5), "registry"),  # type: ignore[arg-type]
    (lambda: push_app(".", registry=""), "registry"),
    (lambda: push_app(".", 5, registry="r.example.com"), "meta_version"),  # type: ignore[arg-type]
    (lambda: push_app(".", registry="r.example.com", app="Not An App"), "app"),
    (lambda: clean_app(".", keep=-1), "keep"),
    (lambda: clean_app(".", keep="2"), "keep"),  # type: ignore[arg-type]
    (lambda: clean_app(b"."), "app_dir"),  # type: ignore[arg-type]
    (lambda: clean_app(".", engine=object()), "engine"),  # type: ignore[arg-type]
    (lambda: image_tag("hello", "nope", "1"), "phase"),
    (lambda: image_tag(1, "release", "1"), "app"),  # type: ignore[arg-type]
    (lambda: RegistryClient(5), "host"),  # type: ignore[arg-type]
    (lambda: RegistryClient("r.example.com", session="s"), "session"),  # type: ignore[arg-type]
    (lambda: RegistryClient("r", credentials=("u", "s3cret")), "credentials"),  # type: ignore[arg-type]
    (lambda: RegistryClient("r.example.com", timeout=-1), "timeout"),
    (lambda: RegistryClient.from_env("r.example.com", store="x"), "store"),  # type: ignore[arg-type]
    (lambda: RegistryClient("r.example.com").tags(5), "repo"),  # type: ignore[arg-type]
    (lambda: RegistryClient("r.example.com").tags("a", page_size=0), "page_size"),
    (
        lambda: RegistryClient("r.example.com").read_image_file("a", "b", None),  # type: ignore[arg-type]
        "path",
    ),
    (lambda: registry_login("r", ("u", "s3cret")), "credentials"),  # type: ignore[arg-type]
    (lambda: registry_login(5, Credentials("u", "p")), "registry"),  # type: ignore[arg-type]
    (lambda: registry_logout(None), "registry"),  # type: ignore[arg-type]
    (lambda: Credentials("u", 5), "password"),  # type: ignore[arg-type]
    (lambda: CredentialStore(environ=["A"]), "environ"),  # type: ignore[arg-type]
    (lambda: CredentialStore(path=5), "path"),  # type: ignore[arg-type]
    (lambda: CredentialStore().get(5), "registry"),  # type: ignore[arg-type]
    (lambda: GitInfo.from_path(5), "path"),  # type: ignore[arg-type]
    (lambda: parse_meta_version(5), "meta version"),  # type: ignore[arg-type]
    (lambda: load_app_config(5), "path"),  # type: ignore[arg-type]
    (lambda: check_app_config(None), "path"),  # type: ignore[arg-type]
    (lambda: read_appname(3.5), "path"),  # type: ignore[arg-type]
    (lambda: parse_app_config(b"appname: a"), "text"),  # type: ignore[arg-type]
    (lambda: parse_app_config("", domains="lain.local"), "domains"),  # type: ignore[arg-type]
    (
        lambda: render_resource_instance("", resource="r", client="c", context=[]),  # type: ignore[arg-type]
        "context",
    ),
    (lambda: Settings.load(path=5), "path"),  # type: ignore[arg-type]
    (lambda: Settings.load(environ={}).cluster(5), "name"),  # type: ignore[arg-type]
    (lambda: Settings.load(environ={}).add("prod"), "cluster"),  # type: ignore[arg-type]
    (lambda: drain(5), "operation"),  # type: ignore[arg-type]
    (lambda: drain(iter([]), on_event=5), "on_event"),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(("call", "argument"), WRONG, ids=[a for _, a in WRONG])
def test_a_wrong_argument_is_refused_by_the_call(
    call: Callable[[], object], argument: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # nothing to read here: the check must come first
    with pytest.raises(InvalidArgument) as caught:
        call()
    assert argument in str(caught.value)
    assert "s3cret" not in str(caught.value)
    assert isinstance(caught.value, ValueError)
