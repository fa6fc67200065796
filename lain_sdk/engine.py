"""Connecting to a Docker engine: the one place lain makes a docker-py client.

The first connection to an engine asks it for its API version (a round trip that, over ssh://,
costs a whole ssh handshake); lain remembers the answer per engine address in its cache
directory, so later commands skip it.  A version remembered from an engine that was since
replaced by an older one is forgotten when that engine refuses it (see
:func:`lain_sdk.cluster.engine_calls.engine_errors`).
"""

from __future__ import annotations

import json
import os
import time
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from lain_sdk.errors import EngineError
from lain_sdk.files import replace_file
from lain_sdk.protocols import EngineClient as EngineClient
from lain_sdk.settings import cache_dir
from lain_sdk.ssh_tunnel import SSHTunnel

# Where local tests and the README's set-up put a busybox root filesystem (nothing can be
# pulled on machines without Docker Hub access).
LOCAL_BASE_IMAGE = "lain-local/busybox:latest"
LOCAL_SOCKET = "unix:///var/run/docker.sock"
API_VERSIONS_FILE = "engine-api-versions.json"
# A remembered version is asked again after this long, so an upgraded engine's newer API is
# used eventually.
API_VERSION_TTL = 24 * 3600.0


def engine_address(base_url: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The address an engine is reached at: ``base_url``, else DOCKER_HOST, else the socket."""
    env = os.environ if environ is None else environ
    return base_url or env.get("DOCKER_HOST") or LOCAL_SOCKET


def connect(
    base_url: str | None = None,
    *,
    timeout: float = 60,
    environ: Mapping[str, str] | None = None,
    remember_version: bool = True,
) -> EngineClient:
    """A docker-py ``DockerClient`` for the engine at ``base_url`` (default: DOCKER_HOST, else
    the local socket), typed as the :class:`EngineClient` lain uses of it.

    ``ssh://`` and ``tcp://`` (with DOCKER_TLS_VERIFY/DOCKER_CERT_PATH in ``environ``) work as
    the docker SDK allows.  When the engine's API version is not remembered yet, creating the
    client asks for it, which also checks that the engine answers; otherwise no request is made
    until the first call.

    Raises:
        EngineError: the engine did not answer (only when its version had to be asked).
    """
    import docker
    from docker.errors import DockerException

    env = os.environ if environ is None else environ
    address = engine_address(base_url, env)
    version = remembered_api_version(address) if remember_version else None
    client: EngineClient
    tunnel = SSHTunnel(base_url, timeout) if base_url and base_url.startswith("ssh://") else None
    try:
        if base_url:
            url = tunnel.url if tunnel is not None else base_url
            client = docker.DockerClient(base_url=url, version=version, timeout=int(timeout))
        else:
            client = docker.from_env(version=version, timeout=int(timeout), environment=dict(env))
    except (DockerException, OSError) as e:
        why = describe_connection_failure(e)
        if tunnel is not None:
            why = tunnel.failure() or why
            tunnel.close()
        raise EngineError(
            f"the Docker engine at {address} did not answer ({why}); "
            "is dockerd running and reachable?"
        ) from e
    if tunnel is not None:
        # The tunnel lives as long as the client: closed with it, or when it is collected.
        weakref.finalize(client, tunnel.close)
        client.api.close = _closing_too(client.api.close, tunnel)
    if not address.startswith(("tcp://", "http://", "https://")):
        # No proxy or .netrc applies to a socket or an ssh tunnel; without this, requests
        # reads the environment for them on every call (about 0.6 ms each).
        client.api.trust_env = False
    if remember_version and version is None:
        remember_api_version(address, str(client.api.api_version))
    return client


def _closing_too(close: Callable[[], None], tunnel: SSHTunnel) -> Callable[[], None]:
    def close_both() -> None:
        close()
        tunnel.close()

    return close_both


def connected(engine: EngineClient | None) -> EngineClient:
    """``engine`` itself, or when it is None a client of the local engine (:func:`connect`).

    Raises:
        EngineError: the local engine did not answer.
    """
    return engine if engine is not None else connect()


def _versions_file() -> str:
    return str(cache_dir() / API_VERSIONS_FILE)


def _read_versions() -> dict[str, Any]:
    try:
        with open(_versions_file(), encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def remembered_api_version(address: str) -> str | None:
    """The API version remembered for the engine at ``address``, if fresh."""
    entry = _read_versions().get(address)
    if not isinstance(entry, dict):
        return None
    version, when = entry.get("version"), entry.get("time", 0)
    if not isinstance(version, str) or not isinstance(when, (int, float)):
        return None
    return version if time.time() - when < API_VERSION_TTL else None


def remember_api_version(address: str, version: str) -> None:
    """Remember the API version of the engine at ``address`` (a cache: failures are ignored)."""
    _write_versions({**_read_versions(), address: {"version": version, "time": time.time()}})


def forget_api_version(address: str) -> None:
    """Forget what was remembered for the engine at ``address``: the address a client was
    made with (``tcp://HOST:PORT``), or the one docker-py's low-level client goes by
    (``https://HOST:PORT``; ``http+docker://...`` for sockets and ssh, which no longer says
    which engine it is: then everything is forgotten)."""
    versions = _read_versions()
    if address.startswith("http+docker://"):
        kept: dict[str, Any] = {}
    else:
        where = urlsplit(address).netloc
        kept = {k: v for k, v in versions.items() if k != address and urlsplit(k).netloc != where}
    if kept != versions:
        _write_versions(kept)


def _write_versions(data: dict[str, Any]) -> None:
    path = Path(_versions_file())
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        replace_file(path, json.dumps(data).encode("utf-8"))  # leaves no .tmp when it fails
    except OSError:
        pass  # a cache that cannot be written only costs a version request next time


# What the docker SDK's (long, nested) connection errors mean, in words a person can act on.
_CAUSES = (
    ("NewConnectionError", "connection refused"),
    ("Connection refused", "connection refused"),
    ("FileNotFoundError", "no such socket"),
    ("No such file or directory", "no such socket"),
    ("PermissionError", "permission denied on the socket"),
    ("timed out", "timed out"),
    ("Name or service not known", "unknown host"),
    ("nodename nor servname", "unknown host"),
)


def describe_connection_failure(error: BaseException) -> str:
    """A connection error of the docker SDK or requests, in a few words."""
    text = f"{type(error).__name__}: {error}".strip()
    for marker, meaning in _CAUSES:
        if marker in text:
            return meaning
    return (str(error).splitlines()[0] if str(error) else type(error).__name__)[:200]
