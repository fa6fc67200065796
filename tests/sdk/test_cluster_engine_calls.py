"""The boundary with docker-py: its errors become lain errors saying what was being done."""

from __future__ import annotations

import socket

import pytest
import requests
from docker.errors import APIError, DockerException
from fakes.base import api_error

from lain_sdk.cluster.engine_calls import engine_errors, engine_name, parse_time
from lain_sdk.engine import connect, remember_api_version, remembered_api_version
from lain_sdk.errors import ClusterError, EngineError


class Api:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_engines_are_named_by_address() -> None:
    assert engine_name(Api("http+docker://localhost")) == "the local Docker engine"
    assert engine_name(Api("https://10.0.0.5:2376")) == "the Docker engine at https://10.0.0.5:2376"


def test_refusals_lost_connections_and_other_failures_say_what_was_done() -> None:
    api = Api("http+docker://localhost")
    refused = pytest.raises(ClusterError, match="refused to list services: no such thing; try")
    with refused, engine_errors(api, "list services", "try again"):
        raise api_error(404, "no such thing")
    lost = pytest.raises(EngineError, match=r"when asked to list services \(connection refused\)")
    with lost, engine_errors(api, "list services"):
        raise requests.ConnectionError("Connection refused")
    odd = pytest.raises(EngineError, match="failed to list services: odd")
    with odd, engine_errors(api, "list services"):
        raise DockerException("odd")


def test_a_refused_version_of_a_tcp_engine_is_forgotten() -> None:
    url = f"tcp://127.0.0.1:{_closed_port()}"
    remember_api_version(url, "1.99")  # remembered from an engine since replaced by an older one
    client = connect(url, timeout=5)  # no request: the remembered version is used
    try:
        refused = APIError(
            "400 Client Error",
            explanation="client version 1.99 is too new. Maximum supported API version is 1.41",
        )
        again = pytest.raises(ClusterError, match="run the command again")
        with again, engine_errors(client.api, "list services"):
            raise refused
    finally:
        client.close()
    assert remembered_api_version(url) is None


def test_engine_timestamps_with_nanoseconds_and_offsets() -> None:
    assert parse_time("2023-11-14T22:13:20.123456789Z") == pytest.approx(1700000000.123456789)
    assert parse_time("2023-11-14T23:13:20+01:00") == 1700000000.0
    with pytest.raises(ValueError):
        parse_time("yesterday")
