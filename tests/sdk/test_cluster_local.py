"""The local default cluster: the engine as a one-node swarm, and a registry on loopback."""

from __future__ import annotations

import subprocess
import sys

import pytest
import requests
from fakes.cluster import FakeDockerClient, run

from lain_sdk.cluster.local import cluster_down, cluster_up, ensure_swarm, registry_answers
from lain_sdk.errors import ClusterError
from lain_sdk.events import Message
from lain_sdk.settings import data_dir


class Answers(requests.adapters.BaseAdapter):
    """Every HTTP request answered with ``status`` (or refused when None)."""

    def __init__(self, status: int | None) -> None:
        super().__init__()
        self.status = status

    def send(self, request, **kwargs):
        if self.status is None:
            raise requests.ConnectionError("Connection refused")
        response = requests.Response()
        response.status_code = self.status
        response.request = request
        return response

    def close(self) -> None:
        pass


@pytest.fixture
def http(monkeypatch):
    transport = Answers(200)
    monkeypatch.setattr(requests.Session, "get_adapter", lambda self, url: transport)
    return transport


def test_an_engine_in_no_swarm_becomes_a_manager_and_an_answering_registry_is_kept(http) -> None:
    engine = FakeDockerClient()
    engine.api.swarm_state = "inactive"
    result, events = run(cluster_up(engine=engine))
    assert result.swarm_created and result.registry_kind == "existing"
    assert result.to_dict()["registry"] == "127.0.0.1:5000"
    assert [e.text for e in events if isinstance(e, Message)] == [
        "turned the local engine into a one-node swarm",
        "a registry answers on 127.0.0.1:5000 already",
    ]
    again, _ = run(cluster_up(engine=engine))
    assert not again.swarm_created


@pytest.mark.parametrize(
    ("status", "answers"), [(200, True), (401, True), (404, False), (None, False)]
)
def test_what_counts_as_a_registry_answering(http, status, answers) -> None:
    http.status = status
    assert registry_answers("127.0.0.1:5000") is answers


def test_a_worker_or_a_locked_swarm_is_refused() -> None:
    engine = FakeDockerClient()
    engine.api.swarm_state = "locked"
    with pytest.raises(ClusterError, match="the local engine's swarm is locked"):
        ensure_swarm(engine.api)


def test_a_registry_address_must_have_a_port(http) -> None:
    http.status = None
    with pytest.raises(ClusterError, match="must be HOST:PORT"):
        run(cluster_up(engine=FakeDockerClient(), registry="localhost"))


def test_down_stops_the_registry_process_up_started_and_nothing_else() -> None:
    home = data_dir() / "registry"
    home.mkdir(parents=True)
    # A process whose command line says registry stands for the one `up` started.
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "registry"])
    (home / "registry.pid").write_text(f"{process.pid}\n")
    assert cluster_down(timeout=5) == [f"registry process {process.pid}"]
    assert process.wait(timeout=5) is not None
    assert not (home / "registry.pid").exists()
    assert cluster_down() == []  # nothing left to stop
