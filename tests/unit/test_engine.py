"""Connecting to an engine that does not answer gives one clear line naming it."""

from __future__ import annotations

import socket

import pytest

from lain_sdk.engine import connect
from lain_sdk.errors import EngineError


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_closed_tcp_port() -> None:
    port = _closed_port()
    with pytest.raises(EngineError) as caught:
        connect(f"tcp://127.0.0.1:{port}", timeout=5)
    assert str(caught.value) == (
        f"the Docker engine at tcp://127.0.0.1:{port} did not answer (connection refused); "
        "is dockerd running and reachable?"
    )


def test_missing_socket_from_the_environment(tmp_path) -> None:
    sock = f"unix://{tmp_path}/docker.sock"
    with pytest.raises(EngineError) as caught:
        connect(environ={"DOCKER_HOST": sock}, timeout=5)
    assert str(caught.value) == (
        f"the Docker engine at {sock} did not answer (no such socket); "
        "is dockerd running and reachable?"
    )
