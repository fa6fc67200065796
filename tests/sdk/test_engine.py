"""Connecting to an engine: one clear line when it does not answer, and the API version
remembered per engine address so that later connections skip asking for it."""

from __future__ import annotations

import json
import socket
import threading
import types
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from lain_sdk.engine import (
    API_VERSION_TTL,
    API_VERSIONS_FILE,
    connect,
    forget_api_version,
    remember_api_version,
    remembered_api_version,
)
from lain_sdk.errors import EngineError
from lain_sdk.settings import cache_dir


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


def test_missing_socket_from_the_environment(tmp_path: Path) -> None:
    sock = f"unix://{tmp_path}/docker.sock"
    with pytest.raises(EngineError) as caught:
        connect(environ={"DOCKER_HOST": sock}, timeout=5)
    assert str(caught.value) == (
        f"the Docker engine at {sock} did not answer (no such socket); "
        "is dockerd running and reachable?"
    )


# -- the API version memory ----------------------------------------------------------------------


class VersionEngine:
    """An engine that answers only ``GET /version``, counting how often it is asked."""

    def __init__(self, api_version: str = "1.41") -> None:
        engine = self
        self.asked = 0

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/version"):
                    engine.asked += 1
                    body = json.dumps({"ApiVersion": api_version, "Version": "20.10.0"}).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                else:
                    self.send_error(404)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"tcp://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def version_engine() -> Iterator[VersionEngine]:
    engine = VersionEngine()
    yield engine
    engine.close()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The wall clock lain_sdk.engine reads: ``clock[0]``, moved by the test."""
    now = [1_700_000_000.0]
    monkeypatch.setattr("lain_sdk.engine.time", types.SimpleNamespace(time=lambda: now[0]))
    return now


def test_a_version_is_remembered_per_address_in_the_cache_dir(isolation: Path) -> None:
    assert remembered_api_version("tcp://a:2376") is None
    remember_api_version("tcp://a:2376", "1.43")
    remember_api_version("ssh://deploy@b", "1.41")
    assert remembered_api_version("tcp://a:2376") == "1.43"
    assert remembered_api_version("ssh://deploy@b") == "1.41"
    assert remembered_api_version("tcp://c:2376") is None
    remember_api_version("tcp://a:2376", "1.44")  # a newer answer replaces the old one
    assert remembered_api_version("tcp://a:2376") == "1.44"
    # The cache is under XDG_CACHE_HOME, like everything lain may throw away.
    path = cache_dir() / API_VERSIONS_FILE
    assert path.is_file() and path.is_relative_to(isolation)


def test_a_remembered_version_is_asked_again_after_the_ttl(clock: list[float]) -> None:
    remember_api_version("tcp://a:2376", "1.43")
    clock[0] += API_VERSION_TTL - 1
    assert remembered_api_version("tcp://a:2376") == "1.43"
    clock[0] += 1
    assert remembered_api_version("tcp://a:2376") is None
    remember_api_version("tcp://a:2376", "1.45")  # asked again: fresh for another TTL
    clock[0] += API_VERSION_TTL - 1
    assert remembered_api_version("tcp://a:2376") == "1.45"


def test_forgetting_one_address_keeps_the_others() -> None:
    remember_api_version("tcp://a:2376", "1.43")
    remember_api_version("tcp://b:2376", "1.41")
    forget_api_version("tcp://a:2376")
    assert remembered_api_version("tcp://a:2376") is None
    assert remembered_api_version("tcp://b:2376") == "1.41"
    forget_api_version("tcp://never-seen:2376")  # nothing to forget: nothing changes
    assert remembered_api_version("tcp://b:2376") == "1.41"


def test_an_address_only_the_low_level_client_knows_forgets_them_all() -> None:
    # docker-py names sockets and ssh engines "http+docker://...": which one it was is
    # unknown, so every remembered version goes.
    remember_api_version("unix:///var/run/docker.sock", "1.43")
    remember_api_version("ssh://deploy@b", "1.41")
    forget_api_version("http+docker://localhost")
    assert remembered_api_version("unix:///var/run/docker.sock") is None
    assert remembered_api_version("ssh://deploy@b") is None


def test_a_damaged_cache_file_is_ignored_then_rewritten() -> None:
    path = cache_dir() / API_VERSIONS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{not json")
    assert remembered_api_version("tcp://a:2376") is None
    remember_api_version("tcp://a:2376", "1.43")
    assert remembered_api_version("tcp://a:2376") == "1.43"
    path.write_text(json.dumps({"tcp://a:2376": "1.43", "tcp://b:2376": {"version": 1}}))
    assert remembered_api_version("tcp://a:2376") is None
    assert remembered_api_version("tcp://b:2376") is None


def test_an_unwritable_cache_dir_costs_only_a_version_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version_engine: VersionEngine
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory should be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    remember_api_version("tcp://a:2376", "1.43")  # no error
    assert remembered_api_version("tcp://a:2376") is None
    forget_api_version("http+docker://localhost")  # no error either
    for _ in range(2):
        client = connect(version_engine.url, timeout=5)
        assert client.api.api_version == "1.41"
        client.close()
    assert version_engine.asked == 2


def test_connect_asks_a_new_engine_once_then_remembers(version_engine: VersionEngine) -> None:
    first = connect(version_engine.url, timeout=5)
    assert first.api.api_version == "1.41"
    first.close()
    assert version_engine.asked == 1
    assert remembered_api_version(version_engine.url) == "1.41"
    again = connect(version_engine.url, timeout=5)
    assert again.api.api_version == "1.41"
    again.close()
    assert version_engine.asked == 1  # the second connection made no request


def test_connect_through_docker_host_remembers_under_that_address(
    version_engine: VersionEngine,
) -> None:
    client = connect(environ={"DOCKER_HOST": version_engine.url}, timeout=5)
    client.close()
    assert remembered_api_version(version_engine.url) == "1.41"


def test_connect_with_a_remembered_version_makes_no_request_until_used() -> None:
    # So an engine that is down is found out at the first call, not by connect.
    url = f"tcp://127.0.0.1:{_closed_port()}"
    remember_api_version(url, "1.43")
    client = connect(url, timeout=5)
    assert client.api.api_version == "1.43"
    client.close()
    # Without the memory, connect asks (and finds the engine down).
    with pytest.raises(EngineError, match="did not answer"):
        connect(url, timeout=5, remember_version=False)


def test_connect_without_the_memory_neither_reads_nor_writes_it(
    version_engine: VersionEngine,
) -> None:
    remember_api_version(version_engine.url, "1.43")
    client = connect(version_engine.url, timeout=5, remember_version=False)
    assert client.api.api_version == "1.41"  # asked, not read
    client.close()
    assert version_engine.asked == 1
    assert remembered_api_version(version_engine.url) == "1.43"  # not written


def test_a_failed_connection_remembers_nothing() -> None:
    url = f"tcp://127.0.0.1:{_closed_port()}"
    with pytest.raises(EngineError):
        connect(url, timeout=5)
    assert remembered_api_version(url) is None


def test_a_tcp_engine_is_reached_through_the_proxy_of_the_environment(
    version_engine: VersionEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As the docker CLI does: HTTP_PROXY applies to a tcp:// engine (here the proxy answers
    # for an engine address nothing listens on).
    monkeypatch.setenv("HTTP_PROXY", version_engine.url.replace("tcp://", "http://"))
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = connect(f"tcp://127.0.0.1:{_closed_port()}", timeout=5, remember_version=False)
    client.close()
    assert version_engine.asked == 1


def test_a_socket_engine_does_not_read_the_proxy_environment_on_each_call(
    tmp_path: Path,
) -> None:
    url = f"unix://{tmp_path}/docker.sock"
    remember_api_version(url, "1.41")
    client = connect(url, timeout=5)
    assert client.api.trust_env is False
    client.close()


@pytest.mark.parametrize("failing", ["write", "replace"])
def test_a_cache_write_that_fails_leaves_no_temporary_file(
    isolation: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    remember_api_version("tcp://a:2376", "1.43")

    def full_disk(*args: object) -> None:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patched:
        patched.setattr(f"os.{failing}", full_disk)
        remember_api_version("tcp://b:2376", "1.44")  # a cache: the failure only costs time
    assert sorted(p.name for p in cache_dir().iterdir()) == [API_VERSIONS_FILE]
    assert remembered_api_version("tcp://a:2376") == "1.43"
    assert remembered_api_version("tcp://b:2376") is None
