"""A two-node swarm made of extra engines on this machine (``scripts/swarm-lab``), for the
tests that need more than one node: spreading, node loss, data pinned to a node, node commands,
pulls with credentials on a worker, the router reaching another node.

Node ``a`` is the manager (lain's cluster engine, and the engine that builds test images), node
``b`` a worker; the host reaches both at 192.168.213.x, where the lab's registries listen.  The
machine's own engine and swarm are not touched.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docker.errors import APIError, ImageNotFound

from lain_sdk.engine import connect
from lain_sdk.settings import LOCAL_ROUTER_BASE, ClusterSettings, RouterSettings

SWARM_LAB = Path(__file__).resolve().parents[2] / "scripts" / "swarm-lab"
MANAGER, WORKER = "a", "b"
READY_TIMEOUT = 90


def keygen(path: Path) -> None:
    """An ed25519 key pair at ``path`` (and ``.pub``), unless there is one."""
    if not path.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)


def wait_listening(
    address: str, port: int, server: subprocess.Popen[bytes], log: Path, timeout: float = 15
) -> None:
    """Wait until ``server`` accepts connections on ``address:port``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((address, port), timeout=1).close()
            return
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    f"nothing listens on {address}:{port}: {log.read_text()}"
                ) from None
            time.sleep(0.1)


class LabUnavailable(Exception):
    """The lab could not be set up; the message says why."""


def swarm_lab(*args: str) -> dict[str, Any]:
    """Run ``scripts/swarm-lab ARGS``; its JSON status (empty for ``down``)."""
    done = subprocess.run([str(SWARM_LAB), *args], capture_output=True, text=True, timeout=180)
    if done.returncode != 0:
        raise LabUnavailable(f"scripts/swarm-lab {' '.join(args)}: {done.stderr.strip()}")
    return json.loads(done.stdout) if done.stdout.strip() else {}


@dataclass
class SwarmLab:
    """The running lab: engines by node letter, and the registries the host serves it."""

    status: dict[str, Any]
    registry: Any = None  # RegistryServer, open
    auth_registry: Any = None  # RegistryServer behind htpasswd
    clients: dict[str, Any] = field(default_factory=dict)

    @property
    def host_address(self) -> str:
        return str(self.status["host_address"])

    def docker_host(self, node: str) -> str:
        return str(self.status["nodes"][node]["docker_host"])

    def engine_socket(self, node: str) -> str:
        """The path of ``node``'s engine socket (what the router on it mounts)."""
        return self.docker_host(node).removeprefix("unix://")

    def address(self, node: str) -> str:
        return str(self.status["nodes"][node]["address"])

    def hostname(self, node: str) -> str:
        return str(self.status["nodes"][node]["hostname"])

    def client(self, node: str = MANAGER) -> Any:
        """A docker SDK client for ``node``'s engine (kept for the session)."""
        if node not in self.clients:
            self.clients[node] = connect(self.docker_host(node))
        return self.clients[node]

    @property
    def manager(self) -> Any:
        return self.client(MANAGER)

    def settings(self, registry: Any = None, **overrides: Any) -> ClusterSettings:
        """Cluster settings for the lab, with the open registry unless told otherwise."""
        values: dict[str, Any] = {
            "name": "lab",
            "docker_host": self.docker_host(MANAGER),
            "registry": (registry or self.registry).host,
            "insecure_registry": True,
            "router": RouterSettings(
                base_image=LOCAL_ROUTER_BASE, engine_socket=self.engine_socket(MANAGER)
            ),
            **overrides,
        }
        return ClusterSettings(**values)

    def build_env(self) -> dict[str, str]:
        """Environment for ``lain`` commands that build: on the manager's engine."""
        return {"DOCKER_HOST": self.docker_host(MANAGER)}

    def load_image(self, source: Any, name: str) -> None:
        """Copy image ``name`` from engine ``source`` to the manager (nothing can be pulled)."""
        image = source.images.get(name)
        with contextlib.suppress(ImageNotFound):
            if self.manager.images.get(name).id == image.id:
                return
        self.manager.images.load(b"".join(image.save(named=True)))

    def crash(self, node: str) -> None:
        """Kill ``node``'s engine and its containers without warning."""
        self.clients.pop(node, None)
        swarm_lab("crash", node)

    def start(self, node: str) -> None:
        """Start ``node``'s engine again and wait until the manager sees it Ready."""
        self.status = swarm_lab("start", node)
        self.wait_state(node, "ready")

    def spare(self, node: str) -> str:
        """Start an engine in no swarm; its docker host."""
        self.status = swarm_lab("spare", node)
        return self.docker_host(node)

    def remove_volumes(self, node: str, app: str, timeout: float = 60) -> None:
        """Remove ``app``'s volumes on ``node`` (a worker: cleanup() asks a manager), waiting
        for the containers that used them to go."""
        client = self.client(node)
        deadline = time.monotonic() + timeout
        while volumes := client.volumes.list(filters={"label": f"lain.app={app}"}):
            for volume in volumes:
                with contextlib.suppress(APIError):
                    volume.remove()
            if time.monotonic() > deadline:
                raise AssertionError(f"volumes of {app} left on node {node}: {volumes}")
            time.sleep(0.5)

    @contextlib.contextmanager
    def ssh_engine(self, node: str, workdir: Path) -> Iterator[tuple[str, dict[str, str]]]:
        """An sshd in ``node``'s namespace whose sessions reach ``node``'s engine (as a real
        host's ssh reaches its engine): yields the ``ssh://`` docker host and the environment
        under which ``ssh`` logs in with a throwaway key and no host-key prompt (the same key
        and environment for every node given the same ``workdir``)."""
        key = workdir / "id_ed25519"
        keygen(key)
        host_key = workdir / f"host_{node}"
        keygen(host_key)
        config = workdir / f"sshd_{node}.conf"
        config.write_text(
            f"ListenAddress {self.address(node)}:22\n"
            f"HostKey {host_key}\n"
            f"AuthorizedKeysFile {key}.pub\n"
            "PermitRootLogin prohibit-password\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
            f"PidFile {workdir / f'sshd_{node}.pid'}\n"
            f"SetEnv DOCKER_HOST={self.docker_host(node)}\n"
        )
        wrapper = workdir / "bin" / "ssh"
        if not wrapper.exists():
            client_config = workdir / "ssh_config"
            client_config.write_text(
                f"Host *\n  IdentityFile {key}\n  StrictHostKeyChecking no\n"
                "  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n"
            )
            wrapper.parent.mkdir()
            wrapper.write_text(f'#!/bin/sh\nexec /usr/bin/ssh -F {client_config} "$@"\n')
            wrapper.chmod(0o755)
        Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation directory
        with (workdir / f"sshd_{node}.log").open("wb") as log:
            sshd = subprocess.Popen(
                [
                    "nsenter", f"--net=/var/run/netns/lainlab-{node}",
                    "/usr/sbin/sshd", "-D", "-e", "-f", str(config),
                ],
                stdout=subprocess.DEVNULL,
                stderr=log,
            )  # fmt: skip
        try:
            wait_listening(self.address(node), 22, sshd, workdir / f"sshd_{node}.log")
            env = {"PATH": f"{wrapper.parent}:{os.environ['PATH']}"}
            yield f"ssh://root@{self.address(node)}", env
        finally:
            sshd.terminate()
            sshd.wait(timeout=10)

    def leave(self, node: str) -> None:
        """Have ``node`` leave the swarm (if it is in one) and the manager forget it."""
        if node in self.status["nodes"] and self.status["nodes"][node]["running"]:
            with contextlib.suppress(APIError):
                self.client(node).swarm.leave(force=True)
        for found in self.manager.api.nodes():
            if found["Description"]["Hostname"] == self.hostname(node):
                with contextlib.suppress(APIError):
                    self.manager.api.remove_node(found["ID"], force=True)

    def node_state(self, node: str) -> str:
        for found in self.manager.api.nodes():
            if found["Description"]["Hostname"] == self.hostname(node):
                return str(found["Status"]["State"])
        return ""

    def wait_state(self, node: str, state: str, timeout: float = READY_TIMEOUT) -> float:
        """Wait until the manager reports ``node`` in ``state``; the seconds it took."""
        started = time.monotonic()
        while self.node_state(node) != state:
            if time.monotonic() - started > timeout:
                raise AssertionError(f"node {node} not {state} after {timeout}s")
            time.sleep(0.5)
        return time.monotonic() - started

    def ensure_up(self) -> None:
        """Both nodes running and Ready (a test that crashed one may have failed midway)."""
        self.status = swarm_lab("up", MANAGER, WORKER)
        self.wait_state(WORKER, "ready")

    def close(self) -> None:
        for client in self.clients.values():
            client.close()
        self.clients.clear()
