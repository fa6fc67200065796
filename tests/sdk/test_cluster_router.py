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
    spec = router_spec(
        settings,
        "registry.example.com/lain/router:abc",
        certificates=[secret],
        streams=[StreamPort(9501, 5432), StreamPort(9501, 1), StreamPort(9502, 53, "udp")],
    )
    assert spec["Name"] == "lain-router" and spec["Mode"] == {"Global": {}}
    template = spec["TaskTemplate"]
    assert template["Placement"]["Constraints"] == ["node.labels.edge==true"]
    published = [
        (p["PublishedPort"], p["Protocol"], p["PublishMode"]) for p in spec["EndpointSpec"]["Ports"]
    ]
    assert published == [
        (80, "tcp", "host"),
        (443, "tcp", "host"),
        (9501, "tcp", "host"),  # once, however many apps' entries name it
        (9502, "udp", "host"),
    ]
    container = template["ContainerSpec"]
    assert container["Secrets"] == [secret]
    assert {m["Target"] for m in container["Mounts"]} == {"/var/run/docker.sock"}
    assert "LAIN_ROUTER_NODE={{.Node.Hostname}}" in container["Env"]
    # Host ports cannot be held twice on a node: an update stops the old task first.
    assert spec["UpdateConfig"]["Order"] == "stop-first"


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
    assert [t.state for t in status.tasks] == ["running"]
    said = [e.text for e in events if isinstance(e, Message)]
    assert any("started the router" in s for s in said)
    again: list[object] = []
    lain_sdk.drain(router_up(session, timeout=30), on_event=again.append)
    assert "the router is up to date" in [e.text for e in again if isinstance(e, Message)]
    live = session.api.service_named("lain-router")["Spec"]
    assert [p["PublishedPort"] for p in live["EndpointSpec"]["Ports"]] == [8080, 8443]


def test_a_new_stream_port_refreshes_the_router_and_nothing_new_does_not(session) -> None:
    lain_sdk.drain(router_up(session, timeout=30))
    assert not refresh_router(session)
    labels = {
        "lain.app": "db",
        "lain.proc": "main",
        **router_labels(network="lain-router_db", streams=[StreamPort(9501, 5432)]),
    }
    assert LABEL_STREAMS in labels
    session.api.create_service(
        task_template={"ContainerSpec": {"Image": "x"}}, name="db__main", labels=labels
    )
    assert refresh_router(session)
    live = session.api.service_named("lain-router")["Spec"]
    assert 9501 in [p["PublishedPort"] for p in live["EndpointSpec"]["Ports"]]
    assert not refresh_router(session)


def test_status_and_down_when_there_is_a_router_and_when_there_is_none(session) -> None:
    assert not router_status(session).running and not router_down(session)
    lain_sdk.drain(router_up(session, timeout=30))
    assert router_status(session).running
    assert router_down(session) and not router_status(session).running
