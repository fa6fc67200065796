"""Where credentials are found and kept: environment, keyring, fallback file, Docker's config."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path
from typing import Any

import keyring
import keyring.backend
import keyring.errors
import pytest
from conftest import DictKeyring

from lain_sdk.credentials import Credentials, CredentialStore, normalize_registry
from lain_sdk.errors import CredentialsFileError, LainError, RegistryError

HOST = "registry.example.com:5000"
SECRET = "s3cret-Pa55"
CREDS = Credentials("alice", SECRET)


class LockedKeyring(DictKeyring):
    """A keyring that exists but refuses to store anything (a locked collection, say)."""

    def set_password(self, service: str, username: str, password: str) -> None:
        raise keyring.errors.PasswordSetError(f"locked, cannot store {password}")


def write_docker_config(home: Path, data: dict[str, Any]) -> Path:
    path = home / ".docker" / "config.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def docker_auth(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def write_credentials_file(store: CredentialStore, registries: dict[str, Any]) -> None:
    """Write lain's fallback file by hand, in the form ``set`` writes it."""
    store.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    store.path.write_text(json.dumps({"registries": registries}))
    store.path.chmod(0o600)


# -- values ------------------------------------------------------------------------------------


def test_credentials_repr_hides_the_password() -> None:
    assert repr(CREDS) == "Credentials(username='alice', password='********')"
    assert SECRET not in str(CREDS)
    assert SECRET not in f"{[CREDS]}"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("registry.example.com", "registry.example.com"),
        ("Registry.Example.COM:5000", "registry.example.com:5000"),
        ("https://registry.example.com:5000/v2/", "registry.example.com:5000"),
        ("  127.0.0.1:5000/ ", "127.0.0.1:5000"),
        ("[::1]:5000", "[::1]:5000"),
    ],
)
def test_normalize_registry(value: str, expected: str) -> None:
    assert normalize_registry(value) == expected


@pytest.mark.parametrize("value", ["", "  ", "https://", "user@host", "a b"])
def test_normalize_registry_refuses_non_addresses(value: str) -> None:
    with pytest.raises(RegistryError, match="is not a registry address"):
        normalize_registry(value)


# -- lookup order ------------------------------------------------------------------------------


def test_nothing_stored_anywhere(env: dict[str, str]) -> None:
    assert CredentialStore(environ=env).get(HOST) is None


def test_lookup_order_env_keyring_file_docker(
    env: dict[str, str], isolation: Path, fake_keyring: DictKeyring
) -> None:
    write_docker_config(isolation, {"auths": {HOST: {"auth": docker_auth("docker-user", "d")}}})
    store = CredentialStore(environ=env)
    assert store.find(HOST) == (
        Credentials("docker-user", "d"),
        f"docker config {store.docker_config}",
    )

    write_credentials_file(store, {HOST: {"username": "file-user", "password": "f"}})
    assert store.find(HOST) == (Credentials("file-user", "f"), str(store.path))

    fake_keyring.set_password("lain", HOST, json.dumps({"username": "ring-user", "password": "k"}))
    assert store.find(HOST) == (Credentials("ring-user", "k"), "keyring")

    with_env = CredentialStore(
        environ={**env, "LAIN_REGISTRY_USERNAME": "ci", "LAIN_REGISTRY_PASSWORD": "e"}
    )
    assert with_env.find(HOST) == (Credentials("ci", "e"), "environment")


def test_env_needs_both_variables(env: dict[str, str]) -> None:
    store = CredentialStore(environ={**env, "LAIN_REGISTRY_USERNAME": "ci"})
    assert store.get(HOST) is None


def test_lookup_normalizes_the_registry(env: dict[str, str], fake_keyring: DictKeyring) -> None:
    store = CredentialStore(environ=env)
    store.set("https://Registry.Example.com:5000/", CREDS)
    assert store.get(HOST) == CREDS


def test_a_broken_keyring_entry_is_ignored(env: dict[str, str], fake_keyring: DictKeyring) -> None:
    fake_keyring.set_password("lain", HOST, "not json")
    assert CredentialStore(environ=env).get(HOST) is None


# -- storing -----------------------------------------------------------------------------------


def test_set_uses_the_keyring_when_there_is_one(
    env: dict[str, str], fake_keyring: DictKeyring
) -> None:
    store = CredentialStore(environ=env)
    assert store.set(HOST, CREDS) == "keyring"
    assert json.loads(fake_keyring.store[("lain", HOST)]) == {
        "username": "alice",
        "password": SECRET,
    }
    assert store.fallback_reason is None
    assert not store.path.exists()


def test_set_falls_back_to_a_private_file_without_keyring(env: dict[str, str]) -> None:
    # the autouse isolation selects keyring's null backend
    store = CredentialStore(environ=env)
    where = store.set(HOST, CREDS)
    assert where == str(Path(env["XDG_CONFIG_HOME"]) / "lain" / "credentials.json")
    assert store.fallback_reason == "no keyring backend available"
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.path.parent.stat().st_mode) == 0o700
    assert json.loads(store.path.read_text()) == {
        "registries": {HOST: {"username": "alice", "password": SECRET}}
    }
    assert CredentialStore(environ=env).find(HOST) == (CREDS, where)


def test_fallback_file_stays_private_under_a_lax_umask(env: dict[str, str]) -> None:
    old = os.umask(0)
    try:
        store = CredentialStore(environ=env)
        store.set(HOST, CREDS)
        store.set("other.example.com", Credentials("bob", "b"))
    finally:
        os.umask(old)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.path.parent.stat().st_mode) == 0o700
    assert set(json.loads(store.path.read_text())["registries"]) == {HOST, "other.example.com"}


def test_a_keyring_that_refuses_falls_back_without_leaking(
    env: dict[str, str], use_keyring: Any
) -> None:
    use_keyring(LockedKeyring())
    store = CredentialStore(environ=env)
    assert store.set(HOST, CREDS) == str(store.path)
    assert store.fallback_reason == "the keyring refused to store them (PasswordSetError)"
    assert store.get(HOST) == CREDS


def test_storing_in_the_keyring_removes_a_stale_file_copy(
    env: dict[str, str], use_keyring: Any
) -> None:
    store = CredentialStore(environ=env)
    store.set(HOST, Credentials("alice", "old"))  # null backend: goes to the file
    use_keyring(DictKeyring())
    assert store.set(HOST, CREDS) == "keyring"
    assert "old" not in store.path.read_text()
    assert json.loads(store.path.read_text()) == {"registries": {}}


def test_corrupt_file_is_named_and_not_quoted(env: dict[str, str]) -> None:
    store = CredentialStore(environ=env)
    store.path.parent.mkdir(parents=True)
    store.path.write_text('{"registries": {"x": "' + SECRET)
    with pytest.raises(CredentialsFileError) as e:
        store.get(HOST)
    assert str(e.value) == (
        f"the credentials file {store.path} is corrupt: delete it and log in again"
    )
    assert e.value.path == str(store.path)
    assert e.value.__cause__ is None and SECRET not in repr(e.value.__context__ or "")


# -- deleting ----------------------------------------------------------------------------------


def test_delete_from_keyring_and_file(env: dict[str, str], use_keyring: Any) -> None:
    store = CredentialStore(environ=env)
    store.set(HOST, CREDS)  # file
    ring = use_keyring(DictKeyring())
    ring.set_password("lain", HOST, json.dumps({"username": "a", "password": "b"}))
    assert store.delete(HOST) is True
    assert ring.store == {}
    assert store.get(HOST) is None
    assert store.delete(HOST) is False


# -- Docker's config ---------------------------------------------------------------------------


def test_docker_config_auths_with_url_keys(env: dict[str, str], isolation: Path) -> None:
    write_docker_config(
        isolation,
        {"auths": {"https://registry.example.com:5000/v1/": {"auth": docker_auth("bob", "p:w")}}},
    )
    assert CredentialStore(environ=env).get(HOST) == Credentials("bob", "p:w")


def test_docker_config_dir_from_env(env: dict[str, str], tmp_path: Path) -> None:
    write_docker_config(tmp_path, {"auths": {HOST: {"auth": docker_auth("carol", "c")}}})
    store = CredentialStore(environ={**env, "DOCKER_CONFIG": str(tmp_path / ".docker")})
    assert store.get(HOST) == Credentials("carol", "c")


@pytest.mark.parametrize(
    "entry",
    [{}, {"auth": "!!!"}, {"auth": docker_auth("nopassword", "")}, {"identitytoken": "tok"}],
)
def test_unusable_docker_entries_are_skipped(
    env: dict[str, str], isolation: Path, entry: Any
) -> None:
    write_docker_config(isolation, {"auths": {HOST: entry}})
    assert CredentialStore(environ=env).get(HOST) is None


def test_unreadable_docker_config_is_ignored(env: dict[str, str], isolation: Path) -> None:
    path = write_docker_config(isolation, {})
    path.write_text("{not json")
    assert CredentialStore(environ=env).get(HOST) is None


def fake_helper(bin_dir: Path, name: str, script: str) -> None:
    bin_dir.mkdir(exist_ok=True)
    helper = bin_dir / f"docker-credential-{name}"
    helper.write_text("#!/bin/sh\n" + script)
    helper.chmod(0o755)


def test_docker_credential_helper(env: dict[str, str], isolation: Path, tmp_path: Path) -> None:
    # The helper reads the server on stdin, like Docker's helpers.
    fake_helper(
        tmp_path / "bin",
        "fake",
        'read server\n[ "$1" = get ] && [ "$server" = "registry.example.com:5000" ] || exit 1\n'
        'echo \'{"ServerURL": "x", "Username": "helper-user", "Secret": "h"}\'\n',
    )
    write_docker_config(isolation, {"auths": {HOST: {}}, "credHelpers": {HOST: "fake"}})
    store = CredentialStore(environ={**env, "PATH": str(tmp_path / "bin")})
    assert store.get(HOST) == Credentials("helper-user", "h")


def test_default_creds_store_and_identity_tokens(
    env: dict[str, str], isolation: Path, tmp_path: Path
) -> None:
    fake_helper(
        tmp_path / "bin", "store", 'echo \'{"Username": "<token>", "Secret": "identity"}\'\n'
    )
    write_docker_config(isolation, {"credsStore": "store"})
    store = CredentialStore(environ={**env, "PATH": str(tmp_path / "bin")})
    assert store.get(HOST) is None  # an identity token is no password


def test_failing_helper_is_ignored_and_falls_back_to_auths(
    env: dict[str, str], isolation: Path, tmp_path: Path
) -> None:
    fake_helper(tmp_path / "bin", "broken", f'echo "oops {SECRET}" >&2\necho "{SECRET}"\nexit 3\n')
    write_docker_config(
        isolation,
        {"credsStore": "broken", "auths": {HOST: {"auth": docker_auth("dave", "d")}}},
    )
    store = CredentialStore(environ={**env, "PATH": str(tmp_path / "bin")})
    assert store.get(HOST) == Credentials("dave", "d")


def test_missing_helper_is_ignored(env: dict[str, str], isolation: Path) -> None:
    write_docker_config(isolation, {"credsStore": "nonexistent-helper"})
    assert CredentialStore(environ=env).get(HOST) is None


# -- a failed write leaves nothing behind ------------------------------------------------------


def _no_space(*args: object) -> None:
    raise OSError(28, "No space left on device")


@pytest.mark.parametrize("failing", ["write", "replace"])
def test_a_full_disk_leaves_no_temporary_file(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    store = CredentialStore(environ=env)
    store.set(HOST, CREDS)
    monkeypatch.setattr(os, failing, _no_space)
    with pytest.raises(LainError, match=r"cannot write the credentials file .*No space left"):
        store.set("other.example.com", Credentials("bob", "b0b-Pa55"))
    assert sorted(p.name for p in store.path.parent.iterdir()) == ["credentials.json"]
    assert "b0b-Pa55" not in store.path.read_text()  # the old file is whole and unchanged
    assert CredentialStore(environ=env).get(HOST) == CREDS


def test_a_file_that_is_not_utf8_is_corrupt_and_not_quoted(env: dict[str, str]) -> None:
    store = CredentialStore(environ=env)
    store.path.parent.mkdir(parents=True)
    store.path.write_bytes(b'{"registries": {"x": {"password": "' + SECRET.encode() + b'\xff"}}}')
    with pytest.raises(CredentialsFileError) as e:
        store.get(HOST)
    assert str(e.value) == (
        f"the credentials file {store.path} is corrupt: delete it and log in again"
    )
    assert e.value.__context__ is None or SECRET not in repr(e.value.__context__)
