"""The cluster session: made from settings or a name, connects on first use, logs the engine
in to the registry once, names its engine in errors, and closes what it made."""

from __future__ import annotations

import pytest
from fakes.cluster import SETTINGS, FakeDockerClient, fake_cluster

from lain_sdk.cluster.session import Cluster, node_engine_url
from lain_sdk.errors import ClusterError, EngineError, InvalidArgument, NotFound
from lain_sdk.settings import LOCAL_DEFAULT, ClusterSettings, Settings


def test_a_session_is_made_from_settings_a_name_or_itself(tmp_path) -> None:
    session = fake_cluster()
    assert Cluster.of(session) is session
    assert Cluster.of(SETTINGS).settings is SETTINGS
    assert Cluster.of("local").settings == LOCAL_DEFAULT
    config = tmp_path / "config.yaml"
    config.write_text("clusters:\n  prod:\n    registry: reg.example.com\n")
    assert (
        Cluster.from_settings("prod", settings=Settings.load(config)).settings.registry
        == "reg.example.com"
    )
    with pytest.raises(NotFound, match="no cluster named 'nope'"):
        Cluster.of("nope")


@pytest.mark.parametrize("value", [None, 3, "", b"local", object()])
def test_anything_else_is_refused(value) -> None:
    with pytest.raises(
        InvalidArgument, match="cluster must be a Cluster, a ClusterSettings or the name"
    ):
        Cluster.of(value)
    with pytest.raises(InvalidArgument, match="a Cluster is made from ClusterSettings"):
        Cluster(value)


def test_the_engine_is_connected_on_first_use_and_closed_only_when_made_here(monkeypatch) -> None:
    given = FakeDockerClient()
    with Cluster(SETTINGS, engine=given) as session:
        assert session.engine is given
    assert not given.closed  # not ours to close
    dead = ClusterSettings(name="dead", docker_host="unix:///nonexistent/docker.sock")
    session = Cluster(dead)
    with pytest.raises(
        EngineError, match=r"unix:///nonexistent/docker.sock did not answer \(no such socket\)"
    ):
        _ = session.engine


def test_engine_errors_say_what_was_being_done(monkeypatch) -> None:
    from fakes.base import api_error

    session = fake_cluster()
    session.api.fail_next["services"] = api_error(500, "the raft is gone")
    with pytest.raises(
        ClusterError,
        match="the local Docker engine refused to list the services of shop: the raft is gone",
    ):
        from lain_sdk.cluster.swarm import app_services

        app_services(session, "shop")


def test_the_engine_clock_is_the_managers() -> None:
    session = fake_cluster()
    assert abs(session.clock() - __import__("time").time()) < 5


def test_other_nodes_engines_are_reached_like_the_managers() -> None:
    assert node_engine_url("ssh://deploy@manager1:2222", "10.0.0.7") == "ssh://deploy@10.0.0.7:2222"
    assert node_engine_url("tcp://manager1:2376", "fd00::7") == "tcp://[fd00::7]:2376"
    assert node_engine_url("unix:///var/run/docker.sock", "10.0.0.7") is None
    assert node_engine_url(None, "10.0.0.7") is None
    assert fake_cluster().node_engine("10.0.0.7") is None  # a local socket reaches no node


def test_node_engine_urls() -> None:
    assert node_engine_url("ssh://deploy@manager1", "10.0.0.7") == "ssh://deploy@10.0.0.7"
    assert node_engine_url("ssh://deploy@manager1:2222", "10.0.0.7") == "ssh://deploy@10.0.0.7:2222"
    assert node_engine_url("tcp://manager1:2376", "10.0.0.7") == "tcp://10.0.0.7:2376"
    assert node_engine_url("tcp://manager1:2376", "fd00::7") == "tcp://[fd00::7]:2376"
    assert node_engine_url(None, "10.0.0.7") is None
    assert node_engine_url("unix:///var/run/docker.sock", "10.0.0.7") is None
    assert node_engine_url("ssh://deploy@manager1", "") is None
