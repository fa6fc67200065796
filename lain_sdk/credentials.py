"""Registry credentials: where lain finds them, where it keeps them, and logging in.

Lookup order of :meth:`CredentialStore.get` (first hit wins):

1. the environment: ``LAIN_REGISTRY_USERNAME`` and ``LAIN_REGISTRY_PASSWORD`` together (for CI);
2. the system keyring through ``keyring`` (service ``lain``, user name = registry host, value =
   JSON ``{"username": ..., "password": ...}``);
3. lain's fallback file ``$XDG_CONFIG_HOME/lain/credentials.json`` (default ``~/.config``), used
   only where no keyring backend works (headless machines, CI); mode 0600;
4. Docker's own config (``$DOCKER_CONFIG/config.json``, default ``~/.docker/config.json``):
   ``credHelpers``/``credsStore`` through the ``docker-credential-*`` helper when present,
   else ``auths[host].auth``.  Docker's files are read, never written.

``keyring`` is imported inside functions: some backends talk to D-Bus at import time, and
``lain --help`` must not pay for that.  Nothing here prints or prompts; secrets never appear in
reprs, messages or exceptions.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import shutil
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import lain_sdk.arguments as arguments
from lain_sdk.errors import CredentialsFileError, InvalidArgument, LainError, RegistryError
from lain_sdk.files import replace_file

KEYRING_SERVICE = "lain"
ENV_USERNAME = "LAIN_REGISTRY_USERNAME"
ENV_PASSWORD = "LAIN_REGISTRY_PASSWORD"
STORED_IN_KEYRING = "keyring"
HELPER_TIMEOUT = 10.0


class _UserAndPassword(NamedTuple):
    username: str
    password: str


class Credentials(_UserAndPassword):
    """A user name and password for one registry (immutable, compared by value).

    The password never shows in ``repr()`` or ``str()``, so a credential can be logged or put in
    an error message by mistake without leaking.
    """

    __slots__ = ()

    def __new__(cls, username: str, password: str) -> Credentials:
        for name, value in (("username", username), ("password", password)):
            if not isinstance(value, str):
                # the value is not shown: it may be the password itself
                kind = type(value).__name__
                raise InvalidArgument(f"Credentials.{name} must be a string, not a {kind}")
        return super().__new__(cls, username, password)

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password='********')"

    __str__ = __repr__


def normalize_registry(value: str) -> str:
    """Return the canonical ``host[:port]`` of a registry address.

    ``https://Reg.Example.com:5000/v2/`` and ``reg.example.com:5000`` name the same registry,
    so credentials and settings are keyed by the bare, lower-case ``host[:port]``.

    Raises:
        RegistryError: the value is empty or is not an address.
        InvalidArgument: the value is not a string.
    """
    text = arguments.string(value, "registry").strip()
    if "://" in text:
        text = text.split("://", 1)[1]
    text = text.split("/", 1)[0].lower()
    if not text or any(c.isspace() for c in text) or "@" in text:
        raise RegistryError(f"{value!r} is not a registry address: use HOST or HOST:PORT")
    return text


class CredentialStore:
    """Finds, stores and removes registry credentials (see the module docstring for the order).

    Args:
        environ: the environment to read (default ``os.environ``); it provides the CI variables,
            ``HOME``, ``XDG_CONFIG_HOME``, ``DOCKER_CONFIG`` and the ``PATH`` used to find
            Docker credential helpers.
        path: the fallback file (default ``$XDG_CONFIG_HOME/lain/credentials.json``).
        docker_config: Docker's config file (default ``$DOCKER_CONFIG/config.json``, else
            ``~/.docker/config.json``).
    """

    def __init__(
        self,
        *,
        environ: Mapping[str, str] | None = None,
        path: str | os.PathLike[str] | None = None,
        docker_config: str | os.PathLike[str] | None = None,
    ) -> None:
        environ = arguments.environ(environ)
        path = arguments.optional_path(path, "path")
        docker_config = arguments.optional_path(docker_config, "docker_config")
        self.environ: Mapping[str, str] = os.environ if environ is None else environ
        home = Path(self.environ.get("HOME") or Path.home())
        config_home = Path(self.environ.get("XDG_CONFIG_HOME") or home / ".config")
        self.path = Path(path) if path else config_home / "lain" / "credentials.json"
        docker_dir = self.environ.get("DOCKER_CONFIG")
        self.docker_config = (
            Path(docker_config)
            if docker_config
            else (Path(docker_dir) if docker_dir else home / ".docker") / "config.json"
        )
        # Why the last set() did not use the keyring (shown to the user by the CLI).
        self.fallback_reason: str | None = None

    def __repr__(self) -> str:
        return (
            f"CredentialStore(path={str(self.path)!r}, docker_config={str(self.docker_config)!r})"
        )

    # -- reading -------------------------------------------------------------------------------

    def get(self, registry: str) -> Credentials | None:
        """Return the credentials for ``registry``, or None when none are found anywhere.

        Raises:
            CredentialsFileError: lain's own fallback file exists but cannot be read.
        """
        found = self.find(registry)
        return found[0] if found else None

    def find(self, registry: str) -> tuple[Credentials, str] | None:
        """Like :meth:`get`, but also say where the credentials came from.

        Returns:
            ``(credentials, source)`` where source is ``"environment"``, ``"keyring"``, the
            fallback file's path, or ``"docker config FILE"``; None when nothing is found.
        """
        host = normalize_registry(registry)
        username, password = self.environ.get(ENV_USERNAME), self.environ.get(ENV_PASSWORD)
        if username and password:
            return Credentials(username, password), "environment"
        lookups: tuple[tuple[Callable[[str], Credentials | None], str], ...] = (
            (self._from_keyring, STORED_IN_KEYRING),
            (self._from_file, str(self.path)),
            (self._from_docker_config, f"docker config {self.docker_config}"),
        )
        for lookup, source in lookups:
            creds = lookup(host)
            if creds is not None:
                return creds, source
        return None

    def _from_keyring(self, host: str) -> Credentials | None:
        backend = _usable_keyring()[0]
        if backend is None:
            return None
        try:
            raw = backend.get_password(KEYRING_SERVICE, host)
        except Exception:  # a locked or broken keyring is "nothing stored" for reading
            return None
        return _decode_entry(raw)

    def _from_file(self, host: str) -> Credentials | None:
        entry = self._read_file().get(host)
        return _entry_credentials(entry)

    def _read_file(self) -> dict[str, Any]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as e:
            raise CredentialsFileError(
                str(self.path),
                f"cannot read the credentials file {self.path} ({e.strerror}): "
                "fix its permissions, or delete it and log in again",
            ) from e
        try:
            text: str | None = raw.decode("utf-8")
        except UnicodeDecodeError:
            # Reported below, outside this block: the UnicodeDecodeError holds the file's bytes
            # (a password among them) and must not ride along as the context of the error.
            text = None
        try:
            if text is None:
                raise ValueError("not UTF-8 text")
            data = json.loads(text)
            registries = data["registries"]
            if not isinstance(registries, dict):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            raise CredentialsFileError(
                str(self.path),
                f"the credentials file {self.path} is corrupt: delete it and log in again",
            ) from None  # the parse error could quote a password
        return registries

    def _from_docker_config(self, host: str) -> Credentials | None:
        try:
            data = json.loads(self.docker_config.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # Docker's file, not ours: an unreadable one is simply not used
        if not isinstance(data, dict):
            return None
        # Docker's own order: a per-registry helper, then the default store, then inline auths.
        helpers = data.get("credHelpers") or {}
        helper = (helpers.get(host) if isinstance(helpers, dict) else None) or data.get(
            "credsStore"
        )
        if isinstance(helper, str) and helper:
            creds = self._from_helper(helper, host)
            if creds is not None:
                return creds
        auths = data.get("auths") or {}
        if not isinstance(auths, dict):
            return None
        for key, entry in auths.items():
            try:
                same = normalize_registry(key) == host
            except RegistryError:
                continue
            if same and isinstance(entry, dict):
                creds = _docker_auth_entry(entry)
                if creds is not None:
                    return creds
        return None

    def _from_helper(self, helper: str, host: str) -> Credentials | None:
        program = shutil.which(f"docker-credential-{helper}", path=self.environ.get("PATH"))
        if program is None:
            return None
        try:
            done = subprocess.run(
                [program, "get"],
                input=host,
                capture_output=True,
                text=True,
                timeout=HELPER_TIMEOUT,
                check=False,
            )
            answer = json.loads(done.stdout) if done.returncode == 0 else None
        except (OSError, ValueError, subprocess.SubprocessError):
            # Helper output may hold the secret: it is dropped, never quoted in an error.
            return None
        if not isinstance(answer, dict):
            return None
        username, secret = answer.get("Username"), answer.get("Secret")
        # "<token>" marks an identity token, which the registry v2 API cannot use as a password.
        if not username or not secret or username == "<token>":
            return None
        return Credentials(str(username), str(secret))

    # -- writing -------------------------------------------------------------------------------

    def set(self, registry: str, credentials: Credentials) -> str:
        """Store ``credentials`` for ``registry``.

        The system keyring is used when a backend works; otherwise the fallback file (mode 0600,
        its directory created 0700) and :attr:`fallback_reason` says why.

        Returns:
            ``"keyring"``, or the path of the fallback file.
        """
        host = normalize_registry(registry)
        credentials = arguments.instance(credentials, Credentials, "credentials")
        value = json.dumps({"username": credentials.username, "password": credentials.password})
        backend, reason = _usable_keyring()
        if backend is not None:
            try:
                backend.set_password(KEYRING_SERVICE, host, value)
            except Exception as e:  # locked, denied, no D-Bus session ...
                reason = f"the keyring refused to store them ({type(e).__name__})"
            else:
                self.fallback_reason = None
                self._remove_from_file(host)  # no stale copy left on disk
                return STORED_IN_KEYRING
        self.fallback_reason = reason
        registries = self._read_file()
        registries[host] = {"username": credentials.username, "password": credentials.password}
        self._write_file(registries)
        return str(self.path)

    def delete(self, registry: str) -> bool:
        """Remove lain's stored credentials for ``registry`` (keyring and fallback file).

        The environment and Docker's config are not touched.

        Returns:
            True when something was removed.
        """
        host = normalize_registry(registry)
        removed = False
        backend = _usable_keyring()[0]
        if backend is not None:
            try:
                if backend.get_password(KEYRING_SERVICE, host) is not None:
                    backend.delete_password(KEYRING_SERVICE, host)
                    removed = True
            except Exception:  # nothing to delete there, or a keyring we cannot use
                pass
        return self._remove_from_file(host) or removed

    def _remove_from_file(self, host: str) -> bool:
        if not self.path.exists():
            return False
        registries = self._read_file()
        if registries.pop(host, None) is None:
            return False
        self._write_file(registries)
        return True

    def _write_file(self, registries: dict[str, Any]) -> None:
        directory = self.path.parent
        try:
            if not directory.exists():
                directory.mkdir(mode=0o700, parents=True)
                directory.chmod(0o700)  # mkdir's mode is filtered by the umask
            # Written beside the target and renamed, so a crash never leaves half a file, and
            # created 0600 so the password is never readable by others, not even for a moment;
            # a failed write leaves no temporary file (with a password in it) behind.
            text = json.dumps({"registries": registries}, indent=2, sort_keys=True) + "\n"
            replace_file(self.path, text.encode("utf-8"), 0o600)
        except OSError as e:
            raise LainError(
                f"cannot write the credentials file {self.path} ({e.strerror}): "
                "check the permissions of its directory"
            ) from e


def _usable_keyring() -> tuple[Any | None, str | None]:
    """``(backend, None)`` when a real keyring backend is configured, else ``(None, why)``."""
    try:
        import keyring
        from keyring.backends import chainer, fail, null

        backend = keyring.get_keyring()
    except Exception as e:
        return None, f"the keyring could not be loaded ({type(e).__name__})"
    # fail and null accept nothing or silently drop everything; an empty chain is the same.
    if isinstance(backend, (fail.Keyring, null.Keyring)) or (
        isinstance(backend, chainer.ChainerBackend) and not backend.backends
    ):
        return None, "no keyring backend available"
    return backend, None


def _decode_entry(raw: str | None) -> Credentials | None:
    if not raw:
        return None
    try:
        entry = json.loads(raw)
    except ValueError:
        return None
    return _entry_credentials(entry)


def _entry_credentials(entry: Any) -> Credentials | None:
    if not isinstance(entry, dict):
        return None
    username, password = entry.get("username"), entry.get("password")
    if isinstance(username, str) and isinstance(password, str) and username and password:
        return Credentials(username, password)
    return None


def _docker_auth_entry(entry: dict[str, Any]) -> Credentials | None:
    auth = entry.get("auth")
    if isinstance(auth, str) and auth:
        try:
            decoded = base64.b64decode(auth, validate=False).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        username, sep, password = decoded.partition(":")
        if sep and username and password:
            return Credentials(username, password)
        return None
    # Older docker CLIs wrote the two fields separately.
    return _entry_credentials(
        {"username": entry.get("username"), "password": entry.get("password")}
    )
