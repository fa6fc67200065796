"""Fixtures for tests against the real Docker engine (and, further down, real registries).

Every test in this folder is marked ``docker``, so ``pytest -m "not docker"`` is the fast loop.
Without an engine these tests skip with the reason; under ``CI=true`` they fail instead, so CI
never goes green by skipping them.  ``scripts/setup-engine`` prepares a machine.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest
from apps import unique_app_name
from lab import MANAGER, WORKER, LabUnavailable, SwarmLab, swarm_lab
from swarm_apps import TestApp, cleanup

import lain_sdk
from lain_sdk.cluster.router import router_up
from lain_sdk.cluster.session import Cluster
from lain_sdk.engine import LOCAL_BASE_IMAGE
from lain_sdk.settings import LOCAL_ROUTER_BASE, ClusterSettings, RouterSettings

HERE = Path(__file__).resolve().parent
IN_CI = os.environ.get("CI", "") not in ("", "0", "false")
SETUP_HINT = "run scripts/setup-engine as root (or leave these tests out: -m 'not docker')"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # The hook sees the whole session's items: mark only the ones in this folder.
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.docker)


def unavailable(reason: str) -> NoReturn:
    """Skip the test for lack of ``reason``, or fail it under CI, where nothing may be skipped."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: integration tests must run)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def skip_or_fail() -> Callable[[str], NoReturn]:
    """:func:`unavailable`, for tests that find out for themselves that something is missing."""
    return unavailable


# -- the engine ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    """A docker SDK client for the local engine (DOCKER_HOST, else the local socket)."""
    from lain_sdk.engine import connect
    from lain_sdk.errors import EngineError

    try:
        client = connect()
    except EngineError as e:
        unavailable(f"{e}; {SETUP_HINT}")
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="session")
def base_image(docker_client: Any) -> str:
    """The name of the local busybox base image that test apps build on."""
    from docker.errors import ImageNotFound

    try:
        docker_client.images.get(LOCAL_BASE_IMAGE)
    except ImageNotFound:
        pytest.fail(f"the local base image {LOCAL_BASE_IMAGE} is missing: {SETUP_HINT}")
    return LOCAL_BASE_IMAGE


# -- registries ------------------------------------------------------------------------------
# Throwaway registries (Debian's docker-registry, distribution 2.8) on free loopback ports, one
# open and one behind htpasswd, shared by the whole session.  Docker treats 127.0.0.0/8
# registries as insecure, so the engine pushes to them over plain HTTP without configuration.

REGISTRY_START_TIMEOUT = 30.0


@dataclass
class RegistryServer:
    """A running test registry.

    ``host`` is ``127.0.0.1:PORT`` (what image names and ``lain --registry`` take), ``url`` the
    base URL; ``username``/``password`` are set when the registry needs them.
    """

    host: str
    url: str
    data_dir: Path
    log_path: Path
    username: str | None = None
    password: str | None = None

    @property
    def auth_config(self) -> dict[str, str] | None:
        """``auth_config`` for the docker SDK's ``images.push``/``pull``."""
        if self.username is None:
            return None
        return {"username": self.username, "password": self.password or ""}

    def log(self, last: int = 40) -> str:
        """The last lines of the registry's own log (for failure messages)."""
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(lines[-last:])


def _registry_program(name: str) -> str:
    import shutil

    found = shutil.which(name) or next(
        (p for p in (f"/usr/bin/{name}", f"/usr/sbin/{name}") if Path(p).exists()), None
    )
    if found is None:
        unavailable(f"{name} is not installed; {SETUP_HINT}")
    return found


def _free_port(address: str) -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((address, 0))
        return int(s.getsockname()[1])


def _registry_answers(url: str) -> bool:
    import urllib.error
    import urllib.request

    # No proxy: a CI proxy setting must not swallow loopback requests.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{url}/v2/", timeout=1) as response:
            return response.status == 200
    except urllib.error.HTTPError as e:
        return e.code == 401  # an auth registry answers, just not to us
    except OSError:
        return False


def _start_registry(
    workdir: Path, *, auth: bool, address: str = "127.0.0.1"
) -> tuple[RegistryServer, subprocess.Popen]:
    import json
    import secrets
    import time

    program = _registry_program("docker-registry")
    data_dir = workdir / "data"
    data_dir.mkdir()
    username = password = None
    config: dict = {
        "version": 0.1,
        "log": {"level": "info", "formatter": "text", "accesslog": {"disabled": True}},
        "storage": {
            "filesystem": {"rootdirectory": str(data_dir)},
            "delete": {"enabled": True},
            "maintenance": {"uploadpurging": {"enabled": False}},
        },
        "http": {"secret": secrets.token_hex(16)},
    }
    if auth:
        htpasswd = _registry_program("htpasswd")
        username, password = "lain-test", secrets.token_urlsafe(12)
        made = subprocess.run(
            [htpasswd, "-Bbn", username, password], capture_output=True, text=True, check=True
        )
        (workdir / "htpasswd").write_text(made.stdout)
        config["auth"] = {"htpasswd": {"realm": "lain-test", "path": str(workdir / "htpasswd")}}

    log_path = workdir / "registry.log"
    for _ in range(3):  # another process may take the free port before the registry binds it
        port = _free_port(address)
        config["http"]["addr"] = f"{address}:{port}"
        config_path = workdir / "config.yml"
        config_path.write_text(json.dumps(config, indent=2))  # JSON is YAML
        server = RegistryServer(
            f"{address}:{port}", f"http://{address}:{port}", data_dir, log_path, username, password
        )
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                [program, "serve", str(config_path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + REGISTRY_START_TIMEOUT
        while process.poll() is None and time.monotonic() < deadline:
            if _registry_answers(server.url):
                return server, process
            time.sleep(0.1)
        exited = process.poll()
        _stop_registry(process)
        if "address already in use" not in server.log():
            break
    why = (
        f"exited with status {exited}"
        if exited is not None
        else (f"did not answer within {REGISTRY_START_TIMEOUT:g}s")
    )
    pytest.fail(
        f"docker-registry on {server.url} {why}; its log ({log_path}):\n{server.log()}",
        pytrace=False,
    )


def _stop_registry(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """An open registry on a free loopback port, for the whole session."""
    server, process = _start_registry(tmp_path_factory.mktemp("registry"), auth=False)
    yield server
    _stop_registry(process)


@pytest.fixture(scope="session")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """A registry behind htpasswd (bcrypt) Basic auth; ``.username``/``.password`` log in."""
    server, process = _start_registry(tmp_path_factory.mktemp("auth-registry"), auth=True)
    yield server
    _stop_registry(process)


@pytest.fixture
def new_app(docker_client: Any, registry: Any, base_image: str) -> Iterator[Any]:
    """``new_app(prefix)``: a test app with a unique name on the test registry; all are cleaned
    up at the end, the last made first (clients before the providers whose networks they
    share)."""
    made: list[TestApp] = []

    def make(prefix: str) -> TestApp:
        app = TestApp(unique_app_name(prefix), registry.host, engine=docker_client)
        made.append(app)
        return app

    yield make
    for app in reversed(made):
        cleanup(docker_client, app.name, app.images)


@pytest.fixture(scope="session")
def router(docker_client: Any, registry: Any, base_image: str) -> Any:
    """The cluster's router, started (or brought up to date) once for the session on the
    local engine's swarm, listening on ports 80 and 443 of this machine."""
    settings = ClusterSettings(
        name="test",
        registry=registry.host,
        insecure_registry=True,
        router=RouterSettings(base_image=LOCAL_ROUTER_BASE),
    )
    status = lain_sdk.drain(router_up(Cluster(settings, engine=docker_client), timeout=240))
    assert status.running, status
    return status


# -- a two-node swarm ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def lab(
    docker_client: Any, base_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SwarmLab]:
    """Two extra engines forming a swarm of their own (manager ``a``, worker ``b``), with an
    open and an htpasswd registry where both can reach them; the test images are on ``a``,
    which builds.  Made once per session and removed at its end."""
    try:
        swarm = SwarmLab(swarm_lab("up", MANAGER, WORKER))
    except LabUnavailable as e:
        unavailable(f"{e}; scripts/swarm-lab needs root, iproute2 and dockerd")
    processes = []
    try:
        swarm.load_image(docker_client, base_image)
        for auth in (False, True):
            workdir = tmp_path_factory.mktemp("lab-registry")
            server, process = _start_registry(workdir, auth=auth, address=swarm.host_address)
            processes.append(process)
            if auth:
                swarm.auth_registry = server
            else:
                swarm.registry = server
        yield swarm
    finally:
        for process in processes:
            _stop_registry(process)
        swarm.close()
        swarm_lab("down")
