"""Zero failed requests through the router while the instances behind it change.

A steady stream of GETs goes through the router (port 80 of this machine, the app's host in
the Host header) from a few threads at once: some open a new connection for every request,
others keep one connection alive and reuse it, as browsers and HTTP client libraries do.
Meanwhile the app is deployed in a new version, scaled down and up, restarted, and loses an
instance to ``docker kill``.  Every answer must be a 2xx, and no request may fail to connect
or be cut: an instance leaves the upstreams before Swarm stops it, a new one joins once it is
healthy, and a connection that fails is retried on another instance.

Two things no proxy can hide are told apart rather than counted as failures, and both are
bounded: a kept-alive connection the router closes while it is idle, at a reload, is opened
again by the client (see :class:`KeepAlive`); and an answer the killed instance had begun
(status line passed on, body not) is cut, at most one request per client.

The counts are printed (``pytest -s``): how many requests each step saw.
"""

from __future__ import annotations

import http.client
import json
import select
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any, NamedTuple

import pytest
from routed import HTTP_PORT, get, wait_answer
from swarm_apps import CHECK, TestApp, push_version

import lain_sdk
from lain_router.labels import ROUTER_SERVICE
from lain_sdk import deploy_app, restart_app, scale_proc
from lain_sdk.cluster.router import STATUS_PATH

pytestmark = pytest.mark.docker

TIMEOUT = 120
# Long enough for a connection to a vanished instance to time out (the router waits 2 s) and
# be retried on another one: a slow answer is still an answer.
REQUEST_TIMEOUT = 10.0
THREADS_PER_KIND = 2
# After each change: the router has applied what the swarm now says (it reacts within 1 s).
SETTLE = 1.5

APP = """\
appname: {name}
build:
  base: lain-local/busybox:latest
web:
  cmd: [sh, -c, 'trap "exit 0" TERM; httpd -f -p 80 -h /www & wait']
  num_instances: {instances}
  memory: 16m
  container_healthcheck:
    cmd: {check}
    options: {{interval: 1, timeout: 1, retries: 1}}
"""


class Sample(NamedTuple):
    at: float  # time.monotonic() when the answer (or the failure) came
    wall: float  # time.time() then, to compare with the router's log
    kind: str  # "new" (a connection per request) or "keepalive"
    status: int  # 0: no answer (the error is the body)
    body: str
    seconds: float
    resent: bool = False  # kept alive: sent again on a new connection (see KeepAlive)


class KeepAlive:
    """One connection to the router, kept open and reused, as browsers, curl and Go's HTTP
    client use one.

    A server may close a kept-alive connection whenever it is idle (RFC 9112, 9.6); nginx does
    so when it reloads its configuration.  A request that was under way on a reused
    connection at that moment gets no answer at all, and those clients send it again on a
    new connection (RFC 9112, 9.3.1: a GET, on a reused connection, before any byte of an
    answer).  This client does the same, says so, and retries nothing else: a new connection
    that fails, a timeout, a cut answer or a non-2xx is a failure.
    """

    def __init__(self, host: str) -> None:
        self.host = host
        self.connection: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
        self.connection = None

    def _reusable(self) -> bool:
        """A connection is open and the server has not closed it (as urllib3 checks)."""
        sock = self.connection.sock if self.connection is not None else None
        if sock is None:
            return False
        readable, _, _ = select.select([sock], [], [], 0)
        return not readable  # readable while idle: the server closed it

    def get(self, path: str) -> tuple[int, str, bool]:
        """Status (0: no answer), body (or the error), and whether the request was sent
        again."""
        resent = False
        for attempt in (1, 2):
            reused = self._reusable()
            if not reused:
                self.close()
                self.connection = http.client.HTTPConnection(
                    "127.0.0.1", HTTP_PORT, timeout=REQUEST_TIMEOUT
                )
            assert self.connection is not None
            try:
                self.connection.request("GET", path, headers={"Host": self.host})
                response = self.connection.getresponse()
                body = response.read().decode("utf-8", "replace")
                if response.will_close:
                    self.close()
                return response.status, body, resent
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as e:
                self.close()
                if reused and attempt == 1:
                    resent = True
                    continue
                return 0, f"{type(e).__name__}: {e}", resent
            except (OSError, http.client.HTTPException) as e:
                self.close()
                return 0, f"{type(e).__name__}: {e}", resent
        raise AssertionError("unreachable")


class Load:
    """Threads sending GETs through the router until stopped; every answer is kept."""

    def __init__(self, host: str, path: str = "/index.html") -> None:
        self.host, self.path = host, path
        self.samples: list[Sample] = []
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=target, daemon=True)
            for target in (self._new_connections, self._keepalive)
            for _ in range(THREADS_PER_KIND)
        ]

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(REQUEST_TIMEOUT + 5)

    def _new_connections(self) -> None:
        while not self.stop.is_set():
            start = time.monotonic()
            try:
                answer = get(self.host, self.path, timeout=REQUEST_TIMEOUT)
                status, body = answer.status, answer.body
            except http.client.HTTPException as e:  # a cut or garbled answer
                status, body = 0, f"{type(e).__name__}: {e}"
            now = time.monotonic()
            self.samples.append(Sample(now, time.time(), "new", status, body, now - start))

    def _keepalive(self) -> None:
        client = KeepAlive(self.host)
        try:
            while not self.stop.is_set():
                start = time.monotonic()
                status, body, resent = client.get(self.path)
                now = time.monotonic()
                sample = Sample(now, time.time(), "keepalive", status, body, now - start, resent)
                self.samples.append(sample)
        finally:
            client.close()

    def since(self, start: float) -> list[Sample]:
        return [s for s in list(self.samples) if s.at >= start]

    def wait_for(self, body: str, timeout: float = 15.0) -> None:
        """Wait until an answer carrying ``body`` arrives."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if any(s.body.strip() == body for s in self.since(start - 1)):
                return
            time.sleep(0.1)
        raise AssertionError(f"no answer {body!r} within {timeout:.0f} s: {self.summary()}")

    def summary(self, samples: list[Sample] | None = None) -> str:
        samples = list(self.samples) if samples is None else samples
        kinds = Counter(s.kind for s in samples)
        statuses = Counter(s.status for s in samples)
        slowest = max((s.seconds for s in samples), default=0.0)
        return (
            f"{len(samples)} requests ({kinds['new']} on new connections, "
            f"{kinds['keepalive']} kept alive), statuses {dict(sorted(statuses.items()))}, "
            f"slowest {slowest:.2f} s; {sum(s.resent for s in samples)} kept alive sent again "
            "on a new connection (the router closed the idle one as it reloaded)"
        )


def failures(samples: list[Sample]) -> list[Sample]:
    return [s for s in samples if not 200 <= s.status < 300]


def running_containers(client: Any, service: str) -> list[str]:
    """The container IDs of the service's tasks that run and should."""
    tasks = client.api.tasks(filters={"service": service, "desired-state": "running"})
    return [
        t["Status"]["ContainerStatus"]["ContainerID"]
        for t in tasks
        if t["Status"]["State"] == "running" and t["Status"].get("ContainerStatus")
    ]


def router_generation(client: Any) -> tuple[str, int]:
    """The router's running container and the generation of its configuration (each reload
    is one)."""
    from docker.errors import APIError

    deadline = time.monotonic() + 60
    while True:
        found = running_containers(client, ROUTER_SERVICE)
        try:
            if len(found) == 1:
                api = client.api
                said = api.exec_start(api.exec_create(found[0], ["cat", STATUS_PATH])["Id"])
                return found[0], int(json.loads(said)["generation"])
        except (APIError, ValueError, KeyError):
            pass  # replaced meanwhile, or no configuration applied yet
        assert time.monotonic() < deadline, f"no router to ask: {len(found)} running"
        time.sleep(0.5)


def wait_running(client: Any, service: str, count: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while len(running_containers(client, service)) != count:
        assert time.monotonic() < deadline, f"{service} never had {count} instances running"
        time.sleep(0.2)


@pytest.fixture
def served(new_app: Any, docker_client: Any, router: Any) -> Iterator[Any]:
    """``served(prefix, instances)``: an app deployed with a page ``v1`` and answering it
    through the router."""

    def make(prefix: str, instances: int) -> TestApp:
        app = new_app(prefix)
        text = APP.format(name=app.name, instances=instances, check=CHECK)
        push_version(docker_client, app, text, "v1")
        lain_sdk.drain(deploy_app(app.name, cluster=app.cluster(), timeout=TIMEOUT))
        answer = wait_answer(f"{app.name}.lain.local", "/index.html")
        assert answer.status == 200 and answer.body == "v1\n", answer
        return app

    yield make


def step(load: Load, name: str, started: float, report: list[str]) -> None:
    samples = load.since(started)
    report.append(f"{name}: {load.summary(samples)}")


# How an answer the instance had begun and never finished shows.
CUT = ("IncompleteRead", "RemoteDisconnected", "ConnectionResetError")


def cut_by_kill(samples: list[Sample], killed: tuple[float, float]) -> list[Sample]:
    """The failed requests that were under way when the instance was killed and whose answer
    was cut.  The instance had begun answering (the router had passed its status line on), so
    no proxy can send the request elsewhere: one request per client at most."""
    start, end = killed
    return [
        s
        for s in failures(samples)
        if s.at - s.seconds <= end and s.at >= start and s.body.startswith(CUT)
    ]


def check(
    load: Load,
    report: list[str],
    client: Any,
    router_before: tuple[str, int],
    killed: tuple[float, float] | None = None,
) -> None:
    """No request failed (but for one cut by ``killed`` per client); a kept-alive request
    was sent again only because of a reload."""
    container, generation = router_generation(client)
    replaced = container != router_before[0]
    reloads = None if replaced else generation - router_before[1]
    cut = cut_by_kill(load.samples, killed) if killed else []
    cut_text = f"; {len(cut)} answers cut by the kill" if killed else ""
    report.append(f"in all: {load.summary()}; the router reloaded {reloads} times{cut_text}")
    print("\n" + "\n".join(report))
    bad = [s for s in failures(load.samples) if s not in cut]
    why = "; the router itself was replaced meanwhile (a `lain router up`)" if replaced else ""
    assert not bad, f"{len(bad)} failed{why}: {bad[:10]}\n" + "\n".join(report)
    assert len(cut) <= len(load.threads), cut
    if reloads is not None:
        # A reload closes each idle connection at most once.
        assert sum(s.resent for s in load.samples) <= reloads * THREADS_PER_KIND, report


def test_no_request_fails_through_deploy_scale_restart_and_a_killed_instance(
    served: Any, docker_client: Any
) -> None:
    app = served("zd", 2)
    cluster = app.cluster()
    service = f"{app.name}__web"
    text = APP.format(name=app.name, instances=2, check=CHECK)
    report: list[str] = []
    router_before = router_generation(docker_client)
    with Load(f"{app.name}.lain.local") as load:
        time.sleep(1)
        started = time.monotonic()
        push_version(docker_client, app, text, "v2")
        lain_sdk.drain(deploy_app(app.name, cluster=cluster, timeout=TIMEOUT))
        load.wait_for("v2")
        deployed = time.monotonic()
        time.sleep(SETTLE)
        step(load, "deploy of v2 (2 instances)", started, report)
        # Once the deploy is over, only the new version answers.
        late = [s for s in load.since(deployed + 1) if s.body.strip() != "v2"]
        assert not late, late[:5]

        for instances in (1, 3):
            started = time.monotonic()
            lain_sdk.drain(
                scale_proc(app.name, "web", cluster=cluster, instances=instances, timeout=TIMEOUT)
            )
            time.sleep(SETTLE)
            step(load, f"scale to {instances}", started, report)

        started = time.monotonic()
        lain_sdk.drain(restart_app(app.name, cluster=cluster, timeout=TIMEOUT))
        time.sleep(SETTLE)
        step(load, "restart (3 instances)", started, report)

        started = time.monotonic()
        docker_client.api.kill(running_containers(docker_client, service)[0])
        killed = (started, time.monotonic())
        time.sleep(1)
        wait_running(docker_client, service, 3)
        time.sleep(SETTLE)
        step(load, "docker kill of one of 3 instances", started, report)
    check(load, report, docker_client, router_before, killed)
    assert len(load.samples) > 500, load.summary()


def test_a_single_instance_proc_loses_no_request_through_a_deploy_and_a_restart(
    served: Any, docker_client: Any
) -> None:
    """Start-first keeps the old instance until the new one is healthy; the router must move
    over between the two without a gap."""
    app = served("zd1", 1)
    cluster = app.cluster()
    text = APP.format(name=app.name, instances=1, check=CHECK)
    report: list[str] = []
    router_before = router_generation(docker_client)
    with Load(f"{app.name}.lain.local") as load:
        time.sleep(1)
        started = time.monotonic()
        push_version(docker_client, app, text, "v2")
        lain_sdk.drain(deploy_app(app.name, cluster=cluster, timeout=TIMEOUT))
        load.wait_for("v2")
        time.sleep(SETTLE)
        step(load, "deploy of v2 (1 instance)", started, report)

        started = time.monotonic()
        lain_sdk.drain(restart_app(app.name, cluster=cluster, timeout=TIMEOUT))
        time.sleep(SETTLE)
        step(load, "restart (1 instance)", started, report)
    check(load, report, docker_client, router_before)
    assert len(load.samples) > 200, load.summary()
