"""The registry client, login and ``lain versions`` against real registries.

Images are pushed by the real engine (``docker push`` through the docker SDK) to throwaway
registries started by the ``registry`` and ``auth_registry`` fixtures.  Every test uses its own
repository name, so the suite can run twice against the same registries.
"""

from __future__ import annotations

import json
import socket
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import keyring.backend
import keyring.errors
import pytest

from lain_cli.exit import ExitStatus
from lain_cli.tables import short_version
from lain_sdk import Credentials, CredentialStore, RegistryClient, registry_login
from lain_sdk.errors import RegistryAuthError, RegistryError

BASE_IMAGE = "lain-local/busybox:latest"  # made by scripts/setup-engine (fixture base_image)
T = 1_700_000_000
SHA_A, SHA_B, SHA_C, SHA_D = (uuid.uuid4().hex + uuid.uuid4().hex[:8] for _ in range(4))
SAME_SECOND = sorted([f"{T}-{SHA_A}", f"{T}-{SHA_B}"])  # same-second commits: by sha
OLDER = f"{T - 100}-{SHA_C}"
META_ONLY = f"{T + 50}-{SHA_D}"


class DictKeyring(keyring.backend.KeyringBackend):
    """A keyring backend that keeps passwords in a dict."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.passwords.pop((service, username), None) is None:
            raise keyring.errors.PasswordDeleteError("not found")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def push_tags(
    docker_client: Any, base_image: str, server: Any, repo: str, tags: list[str]
) -> dict[str, str]:
    """Tag ``base_image`` as ``<server>/<repo>:<tag>`` for each tag and push them all.

    Returns:
        The digest the engine reported for each pushed tag.
    """
    name = f"{server.host}/{repo}"
    image = docker_client.images.get(base_image)
    for tag in tags:
        image.tag(name, tag)
    digests: dict[str, str] = {}
    try:
        for tag in tags:
            for line in docker_client.images.push(
                name, tag=tag, stream=True, decode=True, auth_config=server.auth_config
            ):
                if "error" in line:
                    pytest.fail(f"docker push {name}:{tag} failed: {line['error']}")
                aux = line.get("aux") or {}
                if aux.get("Digest"):
                    digests[aux["Tag"]] = aux["Digest"]
    finally:
        for tag in tags:
            docker_client.images.remove(f"{name}:{tag}")
    return digests


@pytest.fixture(scope="module")
def app_repo(docker_client: Any, base_image: str, registry: Any) -> tuple[str, dict[str, str]]:
    """An app with three versions (two in the same second), a meta-only one and stray tags."""
    repo = unique("versions")
    tags = ["latest", "meta-notaversion", "release-notaversion", f"meta-{META_ONLY}"]
    for mv in [*SAME_SECOND, OLDER]:
        tags += [f"meta-{mv}", f"release-{mv}"]
    return repo, push_tags(docker_client, base_image, registry, repo, tags)


@pytest.fixture(scope="module")
def auth_repo(docker_client: Any, base_image: str, auth_registry: Any) -> str:
    repo = unique("private")
    push_tags(docker_client, base_image, auth_registry, repo, [f"meta-{OLDER}", f"release-{OLDER}"])
    return repo


@pytest.fixture
def closed_port() -> Iterator[str]:
    """``127.0.0.1:PORT`` where nothing listens."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    yield f"127.0.0.1:{port}"


# -- the client --------------------------------------------------------------------------------


def test_ping(registry: Any) -> None:
    with RegistryClient(registry.host) as client:
        assert client.url == registry.url
        client.ping()


def test_tags_after_push(registry: Any, app_repo: tuple[str, dict[str, str]]) -> None:
    repo, digests = app_repo
    with RegistryClient(registry.host) as client:
        assert sorted(client.tags(repo)) == sorted(digests)


def test_tags_follow_the_registrys_pagination(
    registry: Any, app_repo: tuple[str, dict[str, str]]
) -> None:
    repo, digests = app_repo
    with RegistryClient(registry.host) as client:
        assert sorted(client.tags(repo, page_size=3)) == sorted(digests)


def test_tags_of_an_unknown_repository(registry: Any) -> None:
    with RegistryClient(registry.host) as client:
        assert client.tags(unique("nothing")) == []


def test_manifest_digest_is_the_pushed_digest(
    registry: Any, app_repo: tuple[str, dict[str, str]]
) -> None:
    repo, digests = app_repo
    with RegistryClient(registry.host) as client:
        assert client.manifest_digest(repo, f"release-{OLDER}") == digests[f"release-{OLDER}"]
        assert client.manifest_digest(repo, "no-such-tag") is None
        assert client.has_tag(repo, f"meta-{META_ONLY}")
        assert not client.has_tag(repo, f"release-{META_ONLY}")


def test_app_versions_newest_first_keeping_same_second_commits(
    registry: Any, app_repo: tuple[str, dict[str, str]]
) -> None:
    repo, _ = app_repo
    with RegistryClient(registry.host) as client:
        assert client.app_versions(repo) == [*SAME_SECOND, OLDER]
        assert client.app_versions(unique("nothing")) == []


def test_version_exists(registry: Any, app_repo: tuple[str, dict[str, str]]) -> None:
    repo, _ = app_repo
    with RegistryClient(registry.host) as client:
        assert client.version_exists(repo, OLDER)
        assert client.version_exists(repo, SAME_SECOND[1])
        assert not client.version_exists(repo, META_ONLY)  # no release image
        assert not client.version_exists(repo, f"{T}-{'0' * 40}")


def test_auth_registry_with_the_right_credentials(auth_registry: Any, auth_repo: str) -> None:
    creds = Credentials(auth_registry.username, auth_registry.password)
    with RegistryClient(auth_registry.host, credentials=creds) as client:
        client.ping()
        assert client.app_versions(auth_repo) == [OLDER]
        assert client.version_exists(auth_repo, OLDER)
        # A file read from an image's layers (as deploy reads lain.yaml from a meta image):
        # the blob requests answer the same challenge as the manifest ones.
        busybox = client.read_image_file(auth_repo, f"meta-{OLDER}", "/bin/busybox")
        assert busybox is not None and busybox.startswith(b"\x7fELF")
        assert client.read_image_file(auth_repo, f"meta-{OLDER}", "no/such/file") is None


def test_auth_registry_without_credentials(auth_registry: Any) -> None:
    with RegistryClient(auth_registry.host) as client, pytest.raises(RegistryAuthError) as e:
        client.ping()
    assert str(e.value) == f"registry {auth_registry.host} needs credentials: log in to it first"
    with RegistryClient(auth_registry.host) as client, pytest.raises(RegistryAuthError):
        client.read_image_file("any", "meta-1", "lain.yaml")


def test_auth_registry_with_a_wrong_password(auth_registry: Any, auth_repo: str) -> None:
    creds = Credentials(auth_registry.username, "wrong-password")
    with (
        RegistryClient(auth_registry.host, credentials=creds) as client,
        pytest.raises(RegistryAuthError) as e,
    ):
        client.tags(auth_repo)
    message = str(e.value)
    assert f"registry {auth_registry.host} rejected the credentials for user 'lain-test'" in message
    assert "wrong-password" not in message
    assert auth_registry.password not in message


def test_unreachable_registry(closed_port: str) -> None:
    with RegistryClient(closed_port, timeout=3) as client, pytest.raises(RegistryError) as e:
        client.ping()
    assert str(e.value) == (
        f"registry {closed_port} is unreachable at http://{closed_port}/v2/: connection refused; "
        "check the address and that the registry is running"
    )


# -- login through the SDK ---------------------------------------------------------------------


def test_login_stores_only_accepted_credentials(auth_registry: Any) -> None:
    store = CredentialStore()
    with pytest.raises(RegistryAuthError):
        registry_login(auth_registry.host, Credentials(auth_registry.username, "nope"), store)
    assert store.get(auth_registry.host) is None

    creds = Credentials(auth_registry.username, auth_registry.password)
    where = registry_login(auth_registry.host, creds, store)
    assert where == str(store.path)  # the tests run with keyring's null backend
    assert store.get(auth_registry.host) == creds
    with RegistryClient.from_env(auth_registry.host) as client:
        client.ping()


# -- the CLI -----------------------------------------------------------------------------------
# (here rather than in tests/cli: the registry fixtures live in this folder's conftest)


def write_app(tmp_path: Path, appname: str) -> Path:
    (tmp_path / "lain.yaml").write_text(
        f"appname: {appname}\n"
        "build:\n"
        f"  base: {BASE_IMAGE}\n"
        "  script:\n"
        "    - echo built\n"
        "web:\n"
        "  cmd: httpd -f -p 80\n"
    )
    return tmp_path


def test_cli_login_logout(lain: Any, auth_registry: Any, isolation: Path) -> None:
    host = auth_registry.host
    result = lain(
        "login",
        host,
        "-u",
        auth_registry.username,
        "--password-stdin",
        input=auth_registry.password + "\n",
    )
    path = isolation / ".config" / "lain" / "credentials.json"
    assert result.exit_code == ExitStatus.OK, result.stderr
    assert result.stdout == (
        f"Login Succeeded: credentials for {host} stored in {path} "
        "(no keyring backend available; the file is readable only by you)\n"
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert CredentialStore().get(host) == Credentials(
        auth_registry.username, auth_registry.password
    )
    assert auth_registry.password not in result.stdout + result.stderr

    result = lain("logout", host)
    assert (result.exit_code, result.stdout) == (
        ExitStatus.OK,
        f"Removed the credentials for {host}\n",
    )
    assert CredentialStore().get(host) is None
    result = lain("logout", host)
    assert (result.exit_code, result.stdout) == (
        ExitStatus.OK,
        f"No credentials stored for {host}\n",
    )


def test_cli_login_json(lain: Any, auth_registry: Any, isolation: Path) -> None:
    result = lain(
        "-o",
        "json",
        "login",
        auth_registry.host,
        "-u",
        auth_registry.username,
        "--password-stdin",
        input=auth_registry.password,
    )
    assert result.exit_code == ExitStatus.OK, result.stderr
    assert json.loads(result.stdout) == {
        "registry": auth_registry.host,
        "username": auth_registry.username,
        "stored_in": str(isolation / ".config" / "lain" / "credentials.json"),
        "fallback_reason": "no keyring backend available",
    }


def test_cli_login_with_a_wrong_password_stores_nothing(
    lain: Any, auth_registry: Any, isolation: Path
) -> None:
    result = lain(
        "login",
        auth_registry.host,
        "-u",
        auth_registry.username,
        "--password-stdin",
        input="not-the-password\n",
    )
    assert result.exit_code == ExitStatus.REGISTRY_ERROR
    assert result.stdout == ""
    assert result.stderr == (
        f"lain: error: registry {auth_registry.host} rejected the credentials for user "
        f"'{auth_registry.username}': check the user name and password, then log in again\n"
        f"hint: log in again with `lain login {auth_registry.host}`\n"
    )
    assert "not-the-password" not in result.stderr
    assert not (isolation / ".config" / "lain" / "credentials.json").exists()
    assert CredentialStore().get(auth_registry.host) is None


def test_cli_login_uses_the_system_keyring(lain: Any, auth_registry: Any, isolation: Path) -> None:
    previous = keyring.get_keyring()
    ring = DictKeyring()
    keyring.set_keyring(ring)
    try:
        result = lain(
            "login",
            auth_registry.host,
            "-u",
            auth_registry.username,
            "--password-stdin",
            input=auth_registry.password + "\n",
        )
        assert result.exit_code == ExitStatus.OK, result.stderr
        assert result.stdout == (
            f"Login Succeeded: credentials for {auth_registry.host} stored in the system keyring\n"
        )
        assert json.loads(ring.passwords[("lain", auth_registry.host)]) == {
            "username": auth_registry.username,
            "password": auth_registry.password,
        }
        assert not (isolation / ".config" / "lain" / "credentials.json").exists()
        assert lain("logout", auth_registry.host).exit_code == ExitStatus.OK
        assert ring.passwords == {}
    finally:
        keyring.set_keyring(previous)


def test_cli_versions(
    lain: Any, registry: Any, app_repo: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    repo, _ = app_repo
    app_dir = write_app(tmp_path, repo)
    result = lain("versions", "--registry", registry.host, "--app-dir", str(app_dir))
    assert result.exit_code == ExitStatus.OK, result.stderr
    rows = result.stdout.splitlines()
    assert rows[0].split() == ["VERSION", "AGE", "COMMIT"]
    assert [row.split("  ")[0] for row in rows[1:]] == [
        short_version(v) for v in [*SAME_SECOND, OLDER]
    ]

    result = lain(
        "-o", "json", "versions", "--app-dir", str(app_dir), env={"LAIN_REGISTRY": registry.host}
    )
    assert result.exit_code == ExitStatus.OK, result.stderr
    assert json.loads(result.stdout) == {
        "app": repo,
        "registry": registry.host,
        "versions": [*SAME_SECOND, OLDER],
    }


def test_cli_versions_when_nothing_was_pushed(lain: Any, registry: Any, tmp_path: Path) -> None:
    app = unique("empty")
    app_dir = write_app(tmp_path, app)
    result = lain("versions", "--registry", registry.host, "--app-dir", str(app_dir))
    assert (result.exit_code, result.stdout) == (ExitStatus.OK, "")
    assert result.stderr == (
        f"no version of {app} in {registry.host} yet: build and push one with `lain build --push`\n"
    )
    result = lain("-o", "json", "versions", "--registry", registry.host, "--app-dir", str(app_dir))
    assert result.exit_code == ExitStatus.OK
    assert json.loads(result.stdout)["versions"] == []


def test_cli_versions_needs_credentials_then_uses_them(
    lain: Any, auth_registry: Any, auth_repo: str, tmp_path: Path
) -> None:
    app_dir = str(write_app(tmp_path, auth_repo))
    result = lain("versions", "--registry", auth_registry.host, "--app-dir", app_dir)
    assert result.exit_code == ExitStatus.REGISTRY_ERROR
    assert f"needs credentials for repository:{auth_repo}:pull" in result.stderr
    assert f"hint: log in with `lain login {auth_registry.host}`" in result.stderr

    # CI style: credentials from the environment
    env = {
        "LAIN_REGISTRY_USERNAME": auth_registry.username,
        "LAIN_REGISTRY_PASSWORD": auth_registry.password,
    }
    result = lain("versions", "--registry", auth_registry.host, "--app-dir", app_dir, env=env)
    assert result.exit_code == ExitStatus.OK
    assert result.stdout.splitlines()[1].startswith(f"{short_version(OLDER)}  ")
