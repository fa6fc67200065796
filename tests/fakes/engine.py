"""A fake Docker engine at lain's boundary: docker-py's client, with the image side
(``fakes.images``) and the Swarm side (``fakes.swarm``) answered in memory."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, TypeVar

from fakes.containers import FakeContainersAPI
from fakes.images import FakeImageCollection, ImageEngine
from fakes.swarm import FakeSwarmAPI

from lain_sdk.events import Event, drain

T = TypeVar("T")

# The busybox-like base image sample apps build on (``base_image`` puts it on the engine).
BASE_IMAGE = "lain-local/busybox:latest"
BASE_CONFIG = {
    "Cmd": ["sh"],
    "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
}


class FakeAPIClient(FakeSwarmAPI, FakeContainersAPI):
    """docker-py's ``APIClient``: the Swarm, container and image calls of one fake engine."""

    def __init__(self) -> None:
        FakeSwarmAPI.__init__(self)
        FakeContainersAPI.__init__(self)


class FakeDockerClient:
    """What ``lain_sdk.images`` uses of a ``docker.DockerClient``: ``api``, ``images``, ``close``.

    ``engine`` is the fake engine's state and scripting (``api.image_store``).
    """

    def __init__(self, api: FakeAPIClient | None = None) -> None:
        self.api = api if api is not None else FakeAPIClient()
        self.images = FakeImageCollection(self)
        self.closed = False

    @property
    def engine(self) -> ImageEngine:
        return self.api.image_store

    def close(self) -> None:
        self.closed = True


def run_to_end(operation: Generator[Event, None, T]) -> tuple[T, list[Event]]:
    """Run a long lain operation to its end: its result and every event it yielded."""
    events: list[Event] = []
    return drain(operation, on_event=events.append), events


def raise_from(operation: Generator[Event, None, Any], events: list[Event]) -> None:
    """Run ``operation``, keeping its events in ``events``, for ``pytest.raises`` blocks."""
    drain(operation, on_event=events.append)
