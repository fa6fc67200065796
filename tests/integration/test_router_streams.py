"""Stream ports and claims on the real swarm.

- An app with ``ports: [P:5000]`` whose proc echoes on TCP 5000 answers at 127.0.0.1:P through
  the router once deployed, and P is withdrawn when it is undeployed.  The router's tasks
  restart when its published ports change, which every app served by it feels, so this module
  deploys and undeploys a stream app once (the tests take turns on it, in file order).
- While it runs, another app claiming its mountpoint or its stream port is refused at the plan
  and at the deploy, naming it, and nothing of the other app is made.
- Services made by hand, past lain's checks, with router labels that try to inject nginx
  configuration, or claim another app's mountpoint, change nothing of what the router serves
  for other apps, and ``router_status`` names them while they are there.
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from apps import unique_app_name
from routed import get, wait_answer
from swarm_apps import TestApp, cleanup, push_version

import lain_sdk
from lain_router.labels import (
    LABEL_MOUNTPOINTS,
    LABEL_NETWORK,
    LABEL_PORT,
    LABEL_ROUTER,
    LABEL_STREAMS,
    ROUTER_SERVICE,
    STREAM_ROUTER_SERVICE,
)
from lain_sdk import deploy_app, plan_deploy, scale_proc, undeploy_app
from lain_sdk.cluster.claims import STREAM_PORT, held_by_others
from lain_sdk.cluster.router import refresh_router, router_status
from lain_sdk.cluster.session import Cluster
from lain_sdk.errors import RouteTaken
from lain_sdk.events import Message

pytestmark = pytest.mark.docker

TIMEOUT = 120
HTTPD = """\
  cmd: [sh, -c, 'trap "exit 0" TERM; httpd -f -p 80 -h /www & wait']
  memory: 16m
  container_healthcheck:
    cmd: wget -q -O /dev/null http://127.0.0.1:80/index.html
    options: {interval: 1, timeout: 1, retries: 1}
"""
# busybox nc: -ll keeps listening, and each connection gets a cat of its own.
ECHO = """\
  cmd: [sh, -c, 'trap "exit 0" TERM; nc -ll -p 5000 -e cat & wait']
  memory: 16m
"""


def stream_app(name: str, host: str, port: int) -> str:
    """web on ``host`` (and the app's default domains); worker.echo on stream port ``port``."""
    return (
        f"appname: {name}\nbuild:\n  base: lain-local/busybox:latest\n"
        f"web:\n{HTTPD}  mountpoint: [{host}]\n"
        f'worker.echo:\n{ECHO}  ports: ["{port}:5000"]\n'
    )


def free_stream_port(cluster: Cluster) -> int:
    """A stream port no app claims and nothing on this machine listens on."""
    held = {
        int(what.split("/")[0]) for kind, what in held_by_others(cluster, "") if kind == STREAM_PORT
    }
    candidates = [p for p in range(9700, 10001) if p not in held]
    random.shuffle(candidates)
    for port in candidates:
        with socket.socket() as probe:
            try:
                probe.bind(("0.0.0.0", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free stream port between 9700 and 10000")


def echo(port: int, data: bytes, timeout: float = 2.0) -> bytes | str:
    """What comes back for ``data`` on 127.0.0.1:``port`` (an error, as text)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as connection:
            connection.sendall(data)
            return connection.recv(len(data) + 100)
    except OSError as e:
        return f"{type(e).__name__}: {e}"


def wait_echo(port: int, data: bytes, timeout: float = 60.0) -> tuple[bytes | str, float]:
    """``echo`` until ``data`` comes back; the last answer and how long that took."""
    started = time.monotonic()
    while True:
        said = echo(port, data)
        if said == data or time.monotonic() - started >= timeout:
            return said, time.monotonic() - started
        time.sleep(0.1)


def published_ports(docker_client: Any) -> list[int]:
    """The ports the stream router publishes (none when it does not run)."""
    found = docker_client.api.services(filters={"name": STREAM_ROUTER_SERVICE})
    specs = [s["Spec"] for s in found if s["Spec"]["Name"] == STREAM_ROUTER_SERVICE]
    return [p["PublishedPort"] for s in specs for p in s["EndpointSpec"].get("Ports") or []]


class Outages:
    """Asks the router on port 80 for an unknown host every 50 ms from a thread, and keeps
    the stretches of time it did not answer (a router task restarting)."""

    def __init__(self) -> None:
        self.stretches: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        down_since: float | None = None
        while not self._stop.is_set():
            answered = get("nobody.outage.test", "/", timeout=1.0).status != 0
            now = time.monotonic()
            if not answered and down_since is None:
                down_since = now
            elif answered and down_since is not None:
                self.stretches.append(now - down_since)
                down_since = None
            time.sleep(0.05)
        if down_since is not None:
            self.stretches.append(time.monotonic() - down_since)

    def __enter__(self) -> Outages:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


# -- one stream app, deployed once -------------------------------------------------------------


class Streamed:
    def __init__(self, app: TestApp, port: int, host: str) -> None:
        self.app, self.port, self.host = app, port, host
        self.events: list[Any] = []
        self.deploy_seconds = 0.0
        self.deploy_outages: list[float] = []
        self.undeployed = False


@pytest.fixture(scope="module")
def streamed(docker_client: Any, registry: Any, router: Any) -> Iterator[Streamed]:
    app = TestApp(unique_app_name("rs"), registry.host, engine=docker_client)
    cluster = app.cluster()
    port = free_stream_port(cluster)
    host = f"claimed-{app.name}.example.test"
    push_version(docker_client, app, stream_app(app.name, host, port), "streamed page")
    found = Streamed(app, port, host)
    started = time.monotonic()
    with Outages() as outages:
        lain_sdk.drain(
            deploy_app(app.name, cluster=cluster, timeout=TIMEOUT), on_event=found.events.append
        )
    found.deploy_seconds = time.monotonic() - started
    found.deploy_outages = outages.stretches
    yield found
    cleanup(docker_client, app.name, app.images)
    if not found.undeployed:  # a test in between failed: withdraw the port all the same
        refresh_router(cluster)


def test_a_stream_port_answers_through_the_router_once_deployed(streamed: Streamed) -> None:
    texts = [e.text for e in streamed.events if isinstance(e, Message)]
    assert (
        f"the stream router publishes stream port(s) {streamed.port}/tcp: its tasks restart, "
        "one node at a time"
    ) in texts
    assert any(t.startswith("the stream router runs again on 1 node(s) after") for t in texts)
    # HTTP is served by a service of its own: publishing a stream port never interrupts it.
    assert streamed.deploy_outages == []
    said, seconds = wait_echo(streamed.port, b"ping 1\n")
    assert said == b"ping 1\n"
    print(
        f"\nstream port {streamed.port}: deploy took {streamed.deploy_seconds:.1f}s; "
        f"echo answered {seconds:.2f}s after it returned; router outages during the deploy: "
        f"{[round(s, 2) for s in streamed.deploy_outages]}"
    )
    # Every connection is one of its own; the web proc is served by its mountpoint meanwhile.
    assert [echo(streamed.port, f"ping {n}\n".encode()) for n in range(2, 5)] == [
        f"ping {n}\n".encode() for n in range(2, 5)
    ]
    assert wait_answer(streamed.host, "/index.html").body == "streamed page\n"


def test_another_app_claiming_its_mountpoint_or_port_is_refused_naming_it(
    streamed: Streamed, docker_client: Any, registry: Any
) -> None:
    other = TestApp(unique_app_name("rx"), registry.host, engine=docker_client)
    try:
        push_version(
            docker_client, other, stream_app(other.name, streamed.host, streamed.port), "other"
        )
        cluster = other.cluster()
        with pytest.raises(RouteTaken) as refused:
            plan_deploy(other.name, cluster=cluster)
        said = str(refused.value)
        owner = streamed.app.name
        assert f"mountpoint {streamed.host} (proc web) is held by {owner} (proc web)" in said
        assert f"stream port {streamed.port}/tcp (proc echo) is held by {owner} (proc echo)" in said
        with pytest.raises(RouteTaken):
            lain_sdk.drain(deploy_app(other.name, cluster=cluster, timeout=TIMEOUT))
        assert docker_client.api.services(filters={"label": f"lain.app={other.name}"}) == []
        assert docker_client.api.configs(filters={"label": f"lain.app={other.name}"}) == []
        # The holder is untouched.
        assert echo(streamed.port, b"still\n") == b"still\n"
    finally:
        cleanup(docker_client, other.name, other.images)


def test_an_undeployed_stream_port_is_withdrawn(streamed: Streamed, docker_client: Any) -> None:
    cluster = streamed.app.cluster()
    events: list[Any] = []
    started = time.monotonic()
    with Outages() as outages:
        lain_sdk.drain(
            undeploy_app(streamed.app.name, cluster=cluster, timeout=TIMEOUT),
            on_event=events.append,
        )
    streamed.undeployed = True
    took = time.monotonic() - started
    texts = [e.text for e in events if isinstance(e, Message)]
    assert any(
        t.startswith(f"the stream router no longer publishes {streamed.port}/tcp") for t in texts
    )
    assert outages.stretches == []
    assert streamed.port not in published_ports(docker_client)
    # Nothing echoes any more (the port is refused, or closed at once while the stream
    # router's last task stops).
    said = echo(streamed.port, b"gone\n")
    assert said != b"gone\n", said
    print(
        f"\nundeploy took {took:.1f}s; router outages during it: "
        f"{[round(s, 2) for s in outages.stretches]}"
    )


# -- labels made by hand -----------------------------------------------------------------------

HOSTILE_MOUNTPOINTS = ["x.test; } server { listen 81;", "y.test/a;b"]
HOSTILE_STREAMS = ["9601:80/tcp; } server { listen 82;", "70000:1/tcp", "9602:80/sctp"]


def hand_made(docker_client: Any, name: str, labels: dict[str, str]) -> tuple[str, str]:
    """A service with router labels, made past lain's checks, on a router network of its own;
    its ID and its network's."""
    api = docker_client.api
    network = api.create_network(
        f"lain-router_{name}", driver="overlay", attachable=True, labels={LABEL_ROUTER: "true"}
    )["Id"]
    service = api.create_service(
        {
            "ContainerSpec": {"Image": "lain-local/busybox:latest", "Command": ["sleep", "600"]},
            "Networks": [{"Target": network}],
        },
        name=name,
        labels={LABEL_NETWORK: f"lain-router_{name}", LABEL_PORT: "80", **labels},
        endpoint_spec={"Mode": "dnsrr"},
    )["ID"]
    return service, network


def remove_hand_made(docker_client: Any, made: list[tuple[str, str]]) -> None:
    from docker.errors import APIError

    api = docker_client.api
    for service, _ in made:
        with contextlib.suppress(APIError):
            api.remove_service(service)
    deadline = time.monotonic() + 60  # the router leaves the network within a second or two
    networks = [n for _, n in made]
    while networks and time.monotonic() < deadline:
        for network in list(networks):
            try:
                api.remove_network(network)
                networks.remove(network)
            except APIError as e:
                if e.status_code == 404:
                    networks.remove(network)
        time.sleep(0.5)


def live_config(docker_client: Any) -> str:
    """The nginx configuration the router on this node serves."""
    (container,) = docker_client.containers.list(
        filters={"label": f"com.docker.swarm.service.name={ROUTER_SERVICE}"}
    )
    code, output = container.exec_run(["cat", "/run/lain-router/current/nginx.conf"])
    assert code == 0, output
    return str(output.decode())


def named(cluster: Cluster) -> dict[str, list[str]]:
    """What the router's status names: app -> its problems."""
    found: dict[str, list[str]] = {}
    for problem in router_status(cluster).watcher.get("problems") or ():
        found.setdefault(problem["app"], []).append(problem["message"])
    return found


def wait_named(cluster: Cluster, until: Any, timeout: float = 30.0) -> dict[str, list[str]]:
    deadline = time.monotonic() + timeout
    while True:
        found = named(cluster)
        if until(found) or time.monotonic() >= deadline:
            return found
        time.sleep(0.5)


def test_hand_made_labels_never_break_the_router_for_other_apps(
    docker_client: Any, registry: Any, router: Any
) -> None:
    good = TestApp(unique_app_name("rg"), registry.host, engine=docker_client)
    hostile, thief = unique_app_name("rh"), unique_app_name("rt")
    made: list[tuple[str, str]] = []
    try:
        text = f"appname: {good.name}\nbuild:\n  base: lain-local/busybox:latest\nweb:\n{HTTPD}"
        push_version(docker_client, good, text, "good page")
        cluster = good.cluster()
        lain_sdk.drain(deploy_app(good.name, cluster=cluster, timeout=TIMEOUT))
        host = f"{good.name}.lain.local"
        assert wait_answer(host, "/index.html").body == "good page\n"
        made.append(
            hand_made(
                docker_client,
                hostile,
                {
                    LABEL_MOUNTPOINTS: json.dumps(HOSTILE_MOUNTPOINTS),
                    LABEL_STREAMS: json.dumps(HOSTILE_STREAMS),
                },
            )
        )
        # A valid claim on the good app's host, newer: the older service keeps it.
        made.append(hand_made(docker_client, thief, {LABEL_MOUNTPOINTS: json.dumps([host])}))
        found = wait_named(cluster, lambda f: hostile in f and thief in f)
        assert len(found.get(hostile, [])) == 4, found  # the first bad mountpoint, 3 streams
        assert any("is not a host name" in m for m in found[hostile]), found
        assert sum("want SRC:DST/tcp|udp" in m for m in found[hostile]) == 3, found
        assert found[thief] == [f"{host} is served by {good.name} (web)"], found
        # The good app is served as before, and nothing of the labels reached nginx.
        for _ in range(5):
            assert get(host, "/index.html").body == "good page\n"
        config = live_config(docker_client)
        assert "listen 81" not in config and "listen 82" not in config
        assert hostile not in config and thief not in config
        # The router still applies what changes for other apps.
        lain_sdk.drain(scale_proc(good.name, "web", cluster=cluster, instances=2, timeout=TIMEOUT))
        deadline = time.monotonic() + 30
        while not _two_servers(config, good.name):
            assert time.monotonic() < deadline, config
            time.sleep(0.5)
            config = live_config(docker_client)
        assert wait_answer(host, "/index.html").body == "good page\n"
        assert not router_status(cluster).watcher.get("last_error")
    finally:
        remove_hand_made(docker_client, made)
        cleanup(docker_client, good.name, good.images)
    # Gone: no longer named.
    left = wait_named(cluster, lambda f: hostile not in f and thief not in f)
    assert hostile not in left and thief not in left, left


def _two_servers(config: str, app: str) -> bool:
    """Whether the upstream of ``app``'s web proc has two instances."""
    start = config.find(f"upstream {app}__web")
    block = config[start : config.find("}", start)] if start >= 0 else ""
    return block.count("server ") >= 2
