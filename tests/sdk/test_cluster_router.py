"""lain_sdk.cluster.router: the router's image, service spec, start, refresh and status (on the
fake engine; tests/integration/test_router*.py run the real one)."""

from __future__ import annotations

import io
import tarfile

import pytest
from fakes.cluster import SETTINGS, fake_cluster

import lain_sdk
from lain_router.labels import LABEL_STREAMS, StreamPort, router_labels
from lain_sdk.cluster.router import (
    dockerfile,
    image_context,
    refresh_router,
    router_down,
    router_spec,
    router_status,
    router_up,
    stream_router_spec,
)
from lain_sdk.events import Message
from lain_sdk.settings import RouterSettings


@pytest.fixture
def session(fake_docker, registry, base_image):
    settings = SETTINGS._replace(
        router=RouterSettings(base_image=base_image, http_port=8080, https_port=8443)
    )
    return fake_cluster(engine=fake_docker, settings=settings)


def test_the_spec_is_global_on_the_router_nodes_with_host_ports_and_certificates() -> None:
    settings = SETTINGS._replace(router=RouterSettings(constraint="node.labels.edge==true"))
    secret = {"SecretID": "s1", "SecretName": "n", "File": {"Name": "a.test.crt"}}
    spec = router_spec(settings, "registry.example.com/lain/router:abc", certificates=[secret])
    assert spec["Name"] == "lain-router" and spec["Mode"] == {"Global": {}}
    template = spec["TaskTemplate"]
    assert template["Placement"]["Constraints"] == ["node.labels.edge==true"]
    assert published(spec) == [(80, "tcp", "host"), (443, "tcp", "host")]
    container = template["ContainerSpec"]
    assert container["Secrets"] == [secret]
    assert {m["Target"] for m in container["Mounts"]} == {"/var/run/docker.sock"}
    assert "LAIN_ROUTER_NODE={{.Node.Hostname}}" in container["Env"]
    assert "LAIN_ROUTER_SERVES=http" in container["Env"]
    # Host ports cannot be held twice on a node: an update stops the old task first.
    assert spec["UpdateConfig"]["Order"] == "stop-first"


def test_the_router_mounts_the_engine_socket_the_settings_name() -> None:
    settings = SETTINGS._replace(router=RouterSettings(engine_socket="/run/user/1000/docker.sock"))
    spec = router_spec(settings, "registry.example.com/lain/router:abc")
    (mount,) = spec["TaskTemplate"]["ContainerSpec"]["Mounts"]
    assert (mount["Source"], mount["Target"]) == (
        "/run/user/1000/docker.sock",
        "/var/run/docker.sock",
    )


def test_stream_ports_are_a_service_of_their_own_so_http_never_restarts_for_them() -> None:
    spec = stream_router_spec(
        SETTINGS,
        "registry.example.com/lain/router:abc",
        [StreamPort(9501, 5432), StreamPort(9501, 1), StreamPort(9502, 53, "udp")],
    )
    assert spec["Name"] == "lain-router-stream" and spec["Mode"] == {"Global": {}}
    # Each port once, however many apps' entries name it.
    assert published(spec) == [(9501, "tcp", "host"), (9502, "udp", "host")]
    env = spec["TaskTemplate"]["ContainerSpec"]["Env"]
    assert "LAIN_ROUTER_SERVES=stream" in env
    assert "Secrets" not in spec["TaskTemplate"]["ContainerSpec"]


def published(spec) -> list[tuple[int, str, str]]:
    return [
        (p["PublishedPort"], p["Protocol"], p["PublishMode"]) for p in spec["EndpointSpec"]["Ports"]
    ]


def test_the_image_tag_follows_the_base_and_the_router_code() -> None:
    context, tag = image_context("debian:bookworm-slim")
    assert image_context("debian:bookworm-slim")[1] == tag
    assert image_context("ubuntu:24.04")[1] != tag
    with tarfile.open(fileobj=io.BytesIO(context)) as tar:
        names = tar.getnames()
    assert "lain.Dockerfile" in names and "lain_router/watch.py" in names
    assert all(not n.endswith(".pyc") for n in names)
    text = dockerfile("debian:bookworm-slim")
    assert text.startswith("FROM debian:bookworm-slim\n")
    assert "apt-get install" in text and 'ENTRYPOINT ["python3", "-m", "lain_router"]' in text


def test_up_starts_it_once_then_finds_it_up_to_date(session) -> None:
    events: list[object] = []
    status = lain_sdk.drain(router_up(session, timeout=30), on_event=events.append)
    assert status.running and status.image.startswith("registry.example.com/lain/router:")
    assert [t.state for t in status.tasks] == ["running"] and status.stream_tasks == ()
    said = [e.text for e in events if isinstance(e, Message)]
    assert any("created the service lain-router" in s for s in said)
    again: list[object] = []
    lain_sdk.drain(router_up(session, timeout=30), on_event=again.append)
    assert "the router is up to date" in [e.text for e in again if isinstance(e, Message)]
    live = session.api.service_named("lain-router")["Spec"]
    assert [p["PublishedPort"] for p in live["EndpointSpec"]["Ports"]] == [8080, 8443]


def test_stream_ports_start_and_stop_the_stream_router_and_leave_http_alone(session) -> None:
    lain_sdk.drain(router_up(session, timeout=30))
    http_version = session.api.service_named("lain-router")["Version"]["Index"]
    assert refresh_router(session) == []
    labels = {
        "lain.app": "db",
        "lain.proc": "main",
        **router_labels(network="lain-router_db", streams=[StreamPort(9501, 5432)]),
    }
    assert LABEL_STREAMS in labels
    made = session.api.create_service(
        task_template={"ContainerSpec": {"Image": "x"}}, name="db__main", labels=labels
    )
    assert refresh_router(session) == [("lain-router-stream", "created")]
    stream = session.api.service_named("lain-router-stream")["Spec"]
    assert [p["PublishedPort"] for p in stream["EndpointSpec"]["Ports"]] == [9501]
    assert refresh_router(session) == []
    session.api.remove_service(made["ID"])
    assert refresh_router(session) == [("lain-router-stream", "removed")]
    assert session.api.service_named("lain-router")["Version"]["Index"] == http_version


def test_status_and_down_when_there_is_a_router_and_when_there_is_none(session) -> None:
    assert not router_status(session).running and not router_down(session)
    lain_sdk.drain(router_up(session, timeout=30))
    assert router_status(session).running
    assert router_down(session) and not router_status(session).running
