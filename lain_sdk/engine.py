"""Connecting to a Docker engine: the one place that turns "no engine" into a clear error."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Mapping

from lain_sdk.errors import EngineError

if TYPE_CHECKING:
    import docker

# Where local tests and the README's set-up put a busybox root filesystem (nothing can be
# pulled on machines without Docker Hub access).
LOCAL_BASE_IMAGE = "lain-local/busybox:latest"


def connect(
    base_url: str | None = None,
    *,
    timeout: float = 60,
    environ: Mapping[str, str] | None = None,
) -> docker.DockerClient:
    """Return a client for the engine at ``base_url`` (default: DOCKER_HOST, else the local socket).

    ``ssh://`` and ``tcp://`` (with DOCKER_TLS_VERIFY/DOCKER_CERT_PATH) work as the docker SDK
    allows.  Creating the client asks the engine for its API version (one round trip, which is
    also the liveness check), so a dead engine fails here, naming the address.

    Raises:
        EngineError: the engine did not answer.
    """
    import docker
    from docker.errors import DockerException

    try:
        if base_url:
            client = docker.DockerClient(
                base_url=base_url, timeout=int(timeout), use_ssh_client=base_url.startswith("ssh://")
            )
        else:
            client = docker.from_env(timeout=int(timeout), environment=dict(environ) if environ else None)
    except (DockerException, OSError) as e:
        env = os.environ if environ is None else environ
        where = base_url or env.get("DOCKER_HOST") or "the local Docker socket"
        raise EngineError(
            f"the Docker engine at {where} did not answer ({_short(e)}); "
            "is dockerd running and reachable?"
        ) from e
    return client


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


def _short(error: Exception) -> str:
    text = str(error).strip()
    for marker, meaning in _CAUSES:
        if marker in text:
            return meaning
    return (text.splitlines()[0] if text else type(error).__name__)[:200]
