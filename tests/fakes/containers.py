"""The container calls of a local run (``docker run`` of one proc) on the fake engine: host
configs, published ports, attaching to a container's output, inspecting and stopping it.

Containers themselves (create, start, wait, remove, put_archive) are the image side's
(``fakes.images``): a container's program runs when it starts, as scripted there with
``on_command``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import docker.types
from fakes.images import FakeImagesAPI

FIRST_HOST_PORT = 32768


class OutputStream:
    """What ``attach(stream=True, demux=True)`` returns: (stdout, stderr) chunks, closable."""

    def __init__(self, chunks: Iterator[tuple[bytes | None, bytes | None]]) -> None:
        self._chunks = chunks
        self.closed = False

    def __iter__(self) -> Iterator[tuple[bytes | None, bytes | None]]:
        return self._chunks

    def close(self) -> None:
        self.closed = True


class FakeContainersAPI(FakeImagesAPI):
    """docker-py's calls for running a container, on top of the image side's containers."""

    def __init__(self) -> None:
        super().__init__()
        self.host_configs: dict[str, dict[str, Any]] = {}  # container id -> its host config
        self.resized: list[tuple[str, int, int]] = []

    def create_host_config(self, **kwargs: Any) -> dict[str, Any]:
        return dict(docker.types.HostConfig(version="1.41", **kwargs))

    def create_container(self, image: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        created = super().create_container(image, *args, **kwargs)
        self.host_configs[created["Id"]] = dict(kwargs.get("host_config") or {})
        return created

    def _ports(self, container_id: str) -> dict[str, list[dict[str, str]]]:
        bindings = self.host_configs.get(container_id, {}).get("PortBindings") or {}
        ports = {}
        for offset, (port, bound) in enumerate(sorted(bindings.items())):
            host = (bound or [{}])[0].get("HostIp") or "0.0.0.0"
            ports[port] = [{"HostIp": host, "HostPort": str(FIRST_HOST_PORT + offset)}]
        return ports

    def inspect_container(self, container: str) -> dict[str, Any]:
        self._begin("inspect_container", container=container)
        found = self._container_or_404(container)
        running = found.state == "running"
        return {
            "Id": found.id,
            "Name": f"/{found.name}",
            "Config": found.config,
            "HostConfig": self.host_configs.get(found.id, {}),
            "State": {"Status": found.state, "Running": running, "ExitCode": found.exit_code},
            "NetworkSettings": {"Ports": self._ports(found.id) if running else {}},
        }

    def attach(
        self,
        container: str,
        stdout: bool = True,
        stderr: bool = True,
        stream: bool = False,
        logs: bool = False,
        demux: bool = False,
    ) -> OutputStream:
        self._begin("attach", container=container)
        found = self._container_or_404(container)

        def chunks() -> Iterator[tuple[bytes | None, bytes | None]]:
            # Read when iterated: by then the container has started and its program has run.
            if found.stdout:
                yield found.stdout, None
            if found.stderr:
                yield None, found.stderr

        return OutputStream(chunks())

    def stop(self, container: str, timeout: int | None = None) -> None:
        self._begin("stop", container=container)
        found = self._container_or_404(container)
        if found.state == "running":
            found.state, found.exit_code = "exited", 143

    def resize(self, container: str, height: int, width: int) -> None:
        self._begin("resize", container=container)
        self.resized.append((container, height, width))
