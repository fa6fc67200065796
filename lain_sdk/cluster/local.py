"""The local default cluster on a laptop or a CI machine.

It is the local engine as a one-node swarm (``docker swarm init --advertise-addr 127.0.0.1``
when the engine is not in a swarm yet) plus a registry on a loopback port, 127.0.0.1:5000 by
default.  The registry is the official ``registry:2`` image when the engine has it; where
nothing can be pulled, Debian's ``docker-registry`` program, started in the background with its
configuration, storage, log and pid file under ``$XDG_DATA_HOME/lain/registry``.  Running it
again changes nothing; ``cluster_down`` stops the registry it started (the swarm stays).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lain_sdk.cluster.engine_calls import engine_errors, is_not_found, unless_missing
from lain_sdk.engine import EngineClient, connect
from lain_sdk.errors import ClusterError, LainTimeout
from lain_sdk.events import Event, Message
from lain_sdk.protocols import EngineAPI
from lain_sdk.settings import LOCAL_REGISTRY, data_dir

REGISTRY_IMAGE = "registry:2"
REGISTRY_CONTAINER = "lain-registry"
REGISTRY_PROGRAMS = ("docker-registry", "/usr/bin/docker-registry")
START_TIMEOUT = 30.0
# Registry processes started by this interpreter: holding the Popen objects keeps Python from
# warning that they still run (they are meant to).
_STARTED: list[subprocess.Popen[bytes]] = []


@dataclass(frozen=True)
class LocalCluster:
    """What ``cluster_up`` found or made.

    Attributes:
        swarm_created: True when this call turned the engine into a swarm.
        registry: ``host:port`` of the registry.
        registry_kind: ``existing`` (it already answered), ``container`` (``registry:2``) or
            ``process`` (Debian's docker-registry).
        registry_pid: the registry process, when it is one.
        registry_dir: where its configuration, storage and log live (process only).
    """

    swarm_created: bool
    registry: str
    registry_kind: str
    registry_pid: int | None = None
    registry_dir: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "swarm_created": self.swarm_created,
            "registry": self.registry,
            "registry_kind": self.registry_kind,
            "registry_pid": self.registry_pid,
            "registry_dir": self.registry_dir,
        }


def registry_answers(registry: str, timeout: float = 2.0) -> bool:
    """True when ``http://<registry>/v2/`` answers like a registry (200, or 401 asking for auth)."""
    import requests

    try:
        response = requests.get(f"http://{registry}/v2/", timeout=timeout)
    except requests.RequestException:
        return False
    return response.status_code in (200, 401)


def _split(registry: str) -> tuple[str, int]:
    host, _, port = registry.rpartition(":")
    if not host or not port.isdigit():
        raise ClusterError(f"the local registry address must be HOST:PORT, not {registry!r}")
    return host, int(port)


def ensure_swarm(api: EngineAPI) -> bool:
    """Make the engine a one-node swarm manager if it is in no swarm; True when it did.

    Raises:
        ClusterError: the engine is a swarm worker, or its swarm is locked or broken.
    """
    with engine_errors(api, "read the engine's swarm state"):
        info = api.info()
    swarm = info.get("Swarm") or {}
    state = swarm.get("LocalNodeState", "inactive")
    if state == "active":
        if not swarm.get("ControlAvailable"):
            raise ClusterError(
                "the local engine is a worker of another swarm; lain needs a manager: add that "
                "swarm's manager as a cluster, or leave the swarm (docker swarm leave)"
            )
        return False
    if state != "inactive":
        raise ClusterError(
            f"the local engine's swarm is {state}; unlock it (docker swarm unlock) or make the "
            "engine leave it, then set up the local cluster again"
        )
    with engine_errors(api, "initialise a swarm"):
        api.init_swarm(advertise_addr="127.0.0.1")
    return True


def cluster_up(
    *,
    registry: str = LOCAL_REGISTRY,
    engine: EngineClient | None = None,
    environ: Mapping[str, str] | None = None,
    timeout: float = START_TIMEOUT,
) -> Generator[Event, None, LocalCluster]:
    """Make the local default cluster: the local engine as a swarm, and a registry.

    Args:
        registry: ``host:port`` for the registry, on a loopback address.
        engine: a client for the local engine (default: connect).
        environ: the environment (for ``XDG_DATA_HOME``); default ``os.environ``.
        timeout: seconds to wait for the registry to answer.

    Raises:
        EngineError: the local engine does not answer.
        ClusterError: no registry can be started here (the message says what to install).
        LainTimeout: the registry did not answer in time (the message names its log).
    """
    api = (engine if engine is not None else connect()).api
    created = ensure_swarm(api)
    yield Message(
        "turned the local engine into a one-node swarm"
        if created
        else "the local engine is a swarm manager already"
    )
    if registry_answers(registry):
        yield Message(f"a registry answers on {registry} already")
        return LocalCluster(created, registry, "existing")
    host, port = _split(registry)

    if _has_image(api, REGISTRY_IMAGE):
        yield Message(f"starting {REGISTRY_IMAGE} as container {REGISTRY_CONTAINER} on {registry}")
        _start_container(api, host, port)
        _wait_registry(registry, timeout, f"docker logs {REGISTRY_CONTAINER}")
        return LocalCluster(created, registry, "container")

    program = next((p for p in REGISTRY_PROGRAMS if shutil.which(p)), None)
    if program is None:
        raise ClusterError(
            f"no registry to start: the engine has no {REGISTRY_IMAGE} image (docker pull "
            f"{REGISTRY_IMAGE}) and the docker-registry program is not installed (apt-get "
            "install docker-registry); or run any registry on "
            f"{registry}, then set up the local cluster again"
        )
    home = data_dir(environ) / "registry"
    yield Message(f"starting {program} on {registry} (files in {home})")
    pid = _start_process(program, home, registry)
    _wait_registry(registry, timeout, str(home / "registry.log"), pid=pid)
    return LocalCluster(created, registry, "process", pid, str(home))


def cluster_down(
    *,
    engine: EngineClient | None = None,
    environ: Mapping[str, str] | None = None,
    timeout: float = 10.0,
) -> list[str]:
    """Stop the registry ``cluster_up`` started (the swarm is left alone); say what was stopped."""
    stopped = []
    home = data_dir(environ) / "registry"
    pid = _read_pid(home)
    if pid is not None and _is_registry_process(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 5
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
        stopped.append(f"registry process {pid}")
    (home / "registry.pid").unlink(missing_ok=True)
    if engine is not None:
        with engine_errors(engine.api, f"stop container {REGISTRY_CONTAINER}"):
            if unless_missing(engine.api.remove_container, REGISTRY_CONTAINER, force=True):
                stopped.append(f"container {REGISTRY_CONTAINER}")
    return stopped


def _has_image(api: EngineAPI, image: str) -> bool:
    with engine_errors(api, f"look for image {image}"):
        return unless_missing(api.inspect_image, image)


def _start_container(api: EngineAPI, host: str, port: int) -> None:
    with engine_errors(api, f"start container {REGISTRY_CONTAINER}"):
        try:
            api.start(REGISTRY_CONTAINER)  # made by an earlier run and stopped since
            return
        except Exception as e:
            if not is_not_found(e):
                raise
        config = api.create_host_config(
            port_bindings={5000: (host, port)},
            restart_policy={"Name": "always"},
            binds={"lain-registry-data": {"bind": "/var/lib/registry", "mode": "rw"}},
        )
        container = api.create_container(
            REGISTRY_IMAGE,
            name=REGISTRY_CONTAINER,
            ports=[5000],
            host_config=config,
            labels={"lain.registry": "local"},
        )
        api.start(container["Id"])


def _registry_config(home: Path, registry: str) -> str:
    return (
        "# written by lain for the local cluster\n"
        "version: 0.1\n"
        "log:\n  level: info\n  fields:\n    service: registry\n"
        "storage:\n"
        f"  filesystem:\n    rootdirectory: {home / 'storage'}\n"
        "  delete:\n    enabled: true\n"
        f"http:\n  addr: {registry}\n"
    )


def _start_process(program: str, home: Path, registry: str) -> int:
    home.mkdir(parents=True, exist_ok=True)
    (home / "storage").mkdir(exist_ok=True)
    config = home / "config.yml"
    config.write_text(_registry_config(home, registry), encoding="utf-8")
    old = _read_pid(home)
    if old is not None and _is_registry_process(old):
        return old  # still starting up from an earlier call
    with open(home / "registry.log", "ab") as log:
        # A new session: the registry outlives this command and the terminal it ran in.
        process = subprocess.Popen(
            [program, "serve", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    _STARTED.append(process)
    (home / "registry.pid").write_text(f"{process.pid}\n", encoding="utf-8")
    return process.pid


def _wait_registry(registry: str, timeout: float, log: str, pid: int | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if registry_answers(registry, timeout=1.0):
            return
        if pid is not None and not _alive(pid):
            raise ClusterError(f"the registry on {registry} exited at start; see {log}")
        time.sleep(0.2)
    raise LainTimeout(f"the registry on {registry} did not answer within {timeout:g}s; see {log}")


def _read_pid(home: Path) -> int | None:
    try:
        return int((home / "registry.pid").read_text().strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A child of ours that exited stays a zombie until reaped: that is not alive.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][:1]
        if state == "Z":
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            return False
    except (OSError, IndexError):
        pass
    return True


def _is_registry_process(pid: int) -> bool:
    """The pid is alive and runs a registry (a recycled pid must not be signalled)."""
    if not _alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return True  # no /proc (macOS): trust our pid file
    return b"registry" in cmdline
