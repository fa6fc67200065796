"""``lain login``, ``logout`` and ``versions`` where no registry needs to run.

What needs a real registry (a successful login, a rejected password, listing versions) is in
tests/integration/test_live_registry.py, beside the registry fixtures.
"""

from __future__ import annotations

import base64
import io
import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from fakes.repos import SIMPLE, SampleApp, make_app

from lain_cli.exit import ExitStatus
from lain_cli.tables import ago, short_version
from lain_sdk import Credentials, CredentialStore


@pytest.fixture
def closed_port() -> str:
    """``127.0.0.1:PORT`` where nothing listens."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    (tmp_path / "lain.yaml").write_text(
        "appname: hello\n"
        "build:\n"
        "  base: lain-local/busybox:latest\n"
        "  script:\n"
        "    - echo built\n"
        "web:\n"
        "  cmd: httpd -f -p 80\n"
    )
    return tmp_path


def test_commands_are_listed(lain: Any) -> None:
    result = lain("--help")
    for name in ("login", "logout", "versions"):
        assert f"\n  {name} " in result.stdout


def test_versions_help_names_the_env_var(lain: Any) -> None:
    result = lain("versions", "--help")
    assert result.exit_code == ExitStatus.OK
    assert "LAIN_REGISTRY" in result.stdout
    assert "--app-dir DIR" in result.stdout


def test_login_needs_password_stdin_when_not_on_a_terminal(lain: Any) -> None:
    result = lain("login", "registry.example.com", "-u", "alice", input="secret\n")
    assert result.exit_code == ExitStatus.USAGE
    assert "pass --password-stdin and the password on stdin" in result.stderr
    assert "secret" not in result.stdout + result.stderr


def test_login_needs_a_user_name_with_password_stdin(lain: Any) -> None:
    result = lain("login", "registry.example.com", "--password-stdin", input="secret\n")
    assert result.exit_code == ExitStatus.USAGE
    assert "pass the user name with -u USER" in result.stderr


def test_login_refuses_an_empty_password(lain: Any) -> None:
    result = lain("login", "registry.example.com", "-u", "alice", "--password-stdin", input="\n")
    assert result.exit_code == ExitStatus.USAGE
    assert "the password is empty" in result.stderr


def test_login_refuses_a_bad_address(lain: Any) -> None:
    result = lain("login", "not a host", "-u", "alice", "--password-stdin", input="pw\n")
    assert result.exit_code == ExitStatus.REGISTRY_ERROR
    assert result.stderr == (
        "lain: error: 'not a host' is not a registry address: use HOST or HOST:PORT\n"
    )


class TerminalInput(io.BytesIO):
    """Standard input that is a terminal, as far as lain can tell."""

    def isatty(self) -> bool:
        return True


def test_login_prompts_on_a_terminal(lain: Any, closed_port: str) -> None:
    result = lain("login", closed_port, input=TerminalInput(b"alice\nhidden-secret\n"))
    assert "Username: " in result.stderr
    assert "Password: " in result.stderr
    assert "hidden-secret" not in result.stdout + result.stderr  # the prompt does not echo it
    # the credentials were checked against the (absent) registry, and not stored
    assert result.exit_code == ExitStatus.REGISTRY_ERROR
    assert CredentialStore().get(closed_port) is None


def test_login_to_an_unreachable_registry_stores_nothing(lain: Any, closed_port: str) -> None:
    result = lain("login", closed_port, "-u", "alice", "--password-stdin", input="pw\n")
    assert result.exit_code == ExitStatus.REGISTRY_ERROR
    assert result.stdout == ""
    assert result.stderr == (
        f"lain: error: registry {closed_port} is unreachable at http://{closed_port}/v2/: "
        "connection refused; check the address and that the registry is running\n"
    )
    assert CredentialStore().get(closed_port) is None


def test_logout_removes_stored_credentials(lain: Any) -> None:
    CredentialStore().set("registry.example.com", Credentials("alice", "pw"))
    result = lain("logout", "https://Registry.Example.com/")
    assert (result.exit_code, result.stdout) == (
        ExitStatus.OK,
        "Removed the credentials for registry.example.com\n",
    )
    assert CredentialStore().get("registry.example.com") is None


def test_logout_with_nothing_stored(lain: Any) -> None:
    result = lain("-o", "json", "logout", "registry.example.com")
    assert result.exit_code == ExitStatus.OK
    assert json.loads(result.stdout) == {"registry": "registry.example.com", "removed": False}


def test_logout_says_when_docker_still_has_credentials(lain: Any, isolation: Path) -> None:
    config = isolation / ".docker" / "config.json"
    config.parent.mkdir()
    auth = base64.b64encode(b"alice:pw").decode()
    config.write_text(json.dumps({"auths": {"registry.example.com": {"auth": auth}}}))
    result = lain("logout", "registry.example.com")
    assert result.exit_code == ExitStatus.OK
    assert result.stdout == "No credentials stored for registry.example.com\n"
    assert result.stderr == (
        "lain: warning: credentials for registry.example.com are still found in the "
        f"docker config {config}\n"
    )


def test_versions_without_a_registry_uses_the_clusters(
    lain: Any, app_dir: Path, closed_port: str, tmp_path: Path
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"clusters:\n  lab:\n    registry: {closed_port}\ncurrent: lab\n")
    result = lain("versions", "--app-dir", str(app_dir), env={"LAIN_CONFIG": str(config)})
    assert result.exit_code == ExitStatus.REGISTRY_ERROR
    assert f"registry {closed_port} is unreachable" in result.stderr


def test_versions_with_an_unknown_cluster(lain: Any, app_dir: Path) -> None:
    result = lain("-c", "nowhere", "versions", "--app-dir", str(app_dir))
    assert result.exit_code == ExitStatus.NOT_FOUND
    assert "nowhere" in result.stderr


def test_versions_from_an_unreachable_registry(lain: Any, app_dir: Path, closed_port: str) -> None:
    result = lain("versions", "--app-dir", str(app_dir), env={"LAIN_REGISTRY": closed_port})
    assert result.exit_code == ExitStatus.REGISTRY_ERROR
    assert f"registry {closed_port} is unreachable" in result.stderr
    assert "connection refused" in result.stderr


# -- versions, listed from a fake registry (tests/cli/conftest.py: mirror) ---------------------


@pytest.fixture
def pushed(tmp_path: Path, mirror: Any) -> tuple[SampleApp, list[str]]:
    """An app with two commits, both pushed to ``mirror``, and a third version pushed from a
    commit the checkout does not have; newest first."""
    app = make_app(tmp_path, SIMPLE, name="hello")
    first = app.meta_version
    second = app.commit("Fix the login page")
    elsewhere = f"{app.commit_time + 100}-{'e' * 40}"
    for version in (first, second, elsewhere):
        for phase in ("release", "meta"):
            mirror.add_image(f"hello:{phase}-{version}")
    return app, [elsewhere, second, first]


def test_versions_show_short_forms_ages_and_commit_subjects(
    lain: Any, pushed: tuple[SampleApp, list[str]], mirror: Any
) -> None:
    app, found = pushed
    result = lain("versions", "--registry", mirror.host, "--app-dir", str(app.path))
    assert result.exit_code == ExitStatus.OK, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["VERSION", "AGE", "COMMIT"]
    rows = [line.split("  ") for line in lines[1:]]
    assert [row[0] for row in rows] == [short_version(v) for v in found]
    assert [row[-1].strip() for row in rows] == ["-", "Fix the login page", "first"]
    assert all(row[1] == ago(app.commit_time, time.time()) for row in rows[1:])
    assert all(len(line) < 100 for line in lines)


def test_versions_with_a_and_no_app_folder(
    lain: Any, pushed: tuple[SampleApp, list[str]], mirror: Any, tmp_path: Path
) -> None:
    _, found = pushed
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = lain("versions", "-a", "hello", "--app-dir", str(elsewhere), "--registry", mirror.host)
    assert result.exit_code == ExitStatus.OK, result.stderr
    assert [line.split("  ")[0] for line in result.stdout.splitlines()[1:]] == [
        short_version(v) for v in found
    ]
    assert all(line.endswith("-") for line in result.stdout.splitlines()[1:])  # no checkout here
    result = lain("-o", "json", "versions", "-a", "hello", "--registry", mirror.host)
    assert json.loads(result.stdout) == {"app": "hello", "registry": mirror.host, "versions": found}
