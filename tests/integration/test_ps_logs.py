"""`lain ps` and `lain logs` for an app with two procs, on the real swarm."""

from __future__ import annotations

import json
import re
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from apps import unique_app_name
from swarm_apps import TestApp, cleanup, push_version, wait_http, web_app

import lain_sdk
from lain_cli.exit import ExitStatus
from lain_sdk import app_logs, app_status, deploy_app, restart_app

TIMEOUT = 90


@pytest.fixture
def deployed(docker_client: Any, registry: Any, base_image: str, lain: Any) -> Iterator[TestApp]:
    """A web proc (2 instances) and a worker printing a tick a second, deployed."""
    app = TestApp(unique_app_name("lp"), registry.host, engine=docker_client)
    try:
        push_version(docker_client, app, web_app(app.name, worker=True), "page ps")
        added = lain(
            "cluster", "add", "test", "--registry", app.registry, "--publish-ports", "--use"
        )
        assert added.exit_code == ExitStatus.OK
        yield app
    finally:
        cleanup(docker_client, app.name, app.images)


class CallCounter:
    """Counts the HTTP requests a docker client makes (a requests response hook)."""

    def __init__(self, client: Any) -> None:
        self.api = client.api
        self.count = 0

    def __call__(self, response: Any, *args: Any, **kwargs: Any) -> None:
        self.count += 1

    def __enter__(self) -> CallCounter:
        self.api.hooks["response"].append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        self.api.hooks["response"].remove(self)


def deploy(client: Any, app: TestApp, procs: list[str] | None = None) -> None:
    lain_sdk.drain(deploy_app(app.name, cluster=app.cluster(), procs=procs, timeout=TIMEOUT))


def test_ps_costs_the_same_engine_calls_however_many_procs(
    docker_client: Any, deployed: TestApp, lain: Any
) -> None:
    deploy(docker_client, deployed, procs=["web"])
    with CallCounter(docker_client) as one_proc:
        status = app_status(deployed.name, cluster=deployed.cluster())
    assert [p.proc for p in status.procs] == ["web"]

    deploy(docker_client, deployed)
    with CallCounter(docker_client) as two_procs:
        status = app_status(deployed.name, cluster=deployed.cluster())
    assert [p.proc for p in status.procs] == ["ticker", "web"]
    assert one_proc.count == two_procs.count == 3  # services, tasks, nodes

    result = lain("-o", "json", "ps", "-a", deployed.name)
    assert result.exit_code == ExitStatus.OK, result.stderr
    data = json.loads(result.stdout)
    assert data["app"] == deployed.name and data["healthy"]
    procs = {p["proc"]: p for p in data["procs"]}
    web, ticker = procs["web"], procs["ticker"]
    assert (web["desired"], web["running"], ticker["desired"], ticker["running"]) == (2, 2, 1, 1)
    assert web["version"] == deployed.versions[0] and web["proctype"] == "web"
    assert web["cpu"] == 1 and web["memory"] == 16 * 1024 * 1024
    assert ticker["proctype"] == "worker"
    instances = web["instances"]
    assert sorted(i["instance"] for i in instances) == [1, 2]
    for instance in instances:
        assert instance["state"] == "running" and instance["health"] == "healthy"
        assert instance["node"] and instance["uptime"] is not None
        assert instance["address"].startswith("127.0.0.1:")
        wait_http(instance["address"], "page ps")
    # A worker publishes nothing: its address is its IP on the app's network.
    assert ticker["instances"][0]["address"].count(".") == 3
    assert ticker["instances"][0]["health"] == "none"

    text = lain("ps", "-a", deployed.name)
    assert text.exit_code == ExitStatus.OK
    assert "web (web)" in text.stdout and "2/2 running" in text.stdout
    for name in ("web.1", "web.2", "ticker.1"):
        assert name in text.stdout
    assert instances[0]["address"] in text.stdout

    missing = lain("ps", "-a", "lp-not-deployed")
    assert missing.exit_code == ExitStatus.NOT_FOUND
    assert "lp-not-deployed is not deployed on cluster test" in missing.stderr


def wait_for_lines(app: TestApp, proc: str, count: int, timeout: float = 30) -> list[Any]:
    """The lines of ``proc`` once it has printed at least ``count`` (polled, with a deadline)."""
    deadline = time.monotonic() + timeout
    while True:
        lines = list(app_logs(app.name, cluster=app.cluster(), procs=[proc]))
        if len(lines) >= count:
            return lines
        assert time.monotonic() < deadline, f"{proc} printed {len(lines)} of {count} lines"
        time.sleep(0.2)


def test_logs_merged_and_prefixed(docker_client: Any, deployed: TestApp, lain: Any) -> None:
    deploy(docker_client, deployed)
    wait_for_lines(deployed, "ticker", 2)

    result = lain("logs", "-a", deployed.name)
    assert result.exit_code == ExitStatus.OK, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("web.1") and line.endswith("| web 1 up") for line in lines)
    assert any(line.startswith("web.2") and line.endswith("| web 2 up") for line in lines)
    assert any(line.startswith("ticker.1") and "| tick 1 from 1" in line for line in lines)

    data = [
        json.loads(line)
        for line in lain("-o", "json", "logs", "-a", deployed.name).stdout.splitlines()
    ]
    assert {(d["proc"], d["instance"]) for d in data} >= {("web", 1), ("web", 2), ("ticker", 1)}
    times = [d["time"] for d in data]
    assert times == sorted(times)  # merged by timestamp (same format, so text order is time order)

    tail = lain("logs", "ticker", "--tail", "2", "-a", deployed.name)
    assert tail.exit_code == ExitStatus.OK
    assert len(tail.stdout.splitlines()) == 2
    assert all(line.startswith("ticker.1 | tick") for line in tail.stdout.splitlines())
    # -t: the engine's time first, as docker service logs --timestamps prints it.
    stamped = lain("logs", "ticker", "-t", "--tail", "2", "-a", deployed.name)
    assert stamped.exit_code == ExitStatus.OK, stamped.stderr
    for line in stamped.stdout.splitlines():
        stamp, rest = line.split(" ", 1)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z", stamp), line
        assert rest.startswith("ticker.1 | tick")

    assert lain("logs", "--since", "1h", "-a", deployed.name).stdout.count("tick") >= 1
    assert lain("logs", "--since", "2999-01-01T00:00:00", "-a", deployed.name).stdout == ""
    bad = lain("logs", "--since", "yesterday-ish", "-a", deployed.name)
    assert bad.exit_code == ExitStatus.USAGE
    unknown = lain("logs", "nope", "-a", deployed.name)
    assert unknown.exit_code == ExitStatus.NOT_FOUND and "nope" in unknown.stderr

    # Following: new lines arrive as they are written.
    seen = []
    started = time.monotonic()
    stream = app_logs(
        deployed.name,
        cluster=deployed.cluster(),
        procs=["ticker"],
        follow=True,
        tail=0,
    )
    for line in stream:
        seen.append(line)
        if len(seen) >= 2 or time.monotonic() - started > 20:
            break
    stream.close()
    assert len(seen) == 2 and all(x.source == "ticker.1" and "tick" in x.text for x in seen)


# A worker whose lines say which container printed them: tasks of earlier rollouts tell.
HOST_TICKER = """\
worker.ticker:
  cmd:
    - sh
    - -c
    - trap "exit 0" TERM; i=0;
      while true; do i=$((i+1)); echo tick $i of $(hostname); sleep 0.3; done
  memory: 8m
"""


def current_hosts(client: Any, app: TestApp, proc: str) -> set[str]:
    """The hostnames (short container IDs) of the proc's tasks Swarm wants running."""
    tasks = client.api.tasks(filters={"service": f"{app.name}__{proc}", "desired-state": "running"})
    return {t["Status"]["ContainerStatus"]["ContainerID"][:12] for t in tasks}


def read_lines(stream: Any, count: int, timeout: float = 30) -> list[str]:
    """``count`` lines from a child's stdout, each waited for at most until the deadline."""
    deadline = time.monotonic() + timeout
    lines: list[str] = []
    while len(lines) < count:
        left = deadline - time.monotonic()
        assert left > 0, f"only {len(lines)} of {count} lines: {lines}"
        ready, _, _ = select.select([stream], [], [], left)
        if ready:
            line = stream.readline()
            assert line, f"the stream ended after {lines}"
            lines.append(line.rstrip("\n"))
    return lines


def test_follow_with_tail_gives_the_last_lines_of_current_instances_in_order_then_new_ones(
    docker_client: Any, deployed: TestApp, lain: Any
) -> None:
    push_version(docker_client, deployed, web_app(deployed.name) + HOST_TICKER, "page tail")
    deploy(docker_client, deployed)
    first = wait_for_lines(deployed, "ticker", 3)
    # A restart leaves the earlier ticker task and its lines behind.
    lain_sdk.drain(restart_app(deployed.name, ["ticker"], cluster=deployed.cluster()))
    (host,) = current_hosts(docker_client, deployed, "ticker")
    assert host not in first[-1].text
    deadline = time.monotonic() + 30
    while sum(host in x.text for x in wait_for_lines(deployed, "ticker", 1)) < 2:
        assert time.monotonic() < deadline, "the new ticker task printed nothing"
        time.sleep(0.2)

    # Without -f: the last line of each current instance, in time order.
    tail = lain("-o", "json", "logs", "--tail", "1", "-a", deployed.name)
    assert tail.exit_code == ExitStatus.OK, tail.stderr
    old = [json.loads(line) for line in tail.stdout.splitlines()]
    assert sorted(f"{d['proc']}.{d['instance']}" for d in old) == ["ticker.1", "web.1", "web.2"]
    assert [d["time"] for d in old] == sorted(d["time"] for d in old)
    assert host in old[-1]["text"]

    # With -f: the same, then new lines; no line of the earlier task, none twice, none missed.
    command = [sys.executable, "-m", "lain_cli", "-o", "json", "logs", "-f", "--tail", "1"]
    child = subprocess.Popen(
        [*command, "-a", deployed.name], stdout=subprocess.PIPE, text=True, bufsize=1
    )
    try:
        lines = [json.loads(line) for line in read_lines(child.stdout, 8)]
    finally:
        child.kill()
        child.wait(timeout=10)
    head, new = lines[:3], lines[3:]
    assert sorted(f"{d['proc']}.{d['instance']}" for d in head) == ["ticker.1", "web.1", "web.2"]
    assert [d["time"] for d in head] == sorted(d["time"] for d in head)
    ticks = [d for d in lines if d["proc"] == "ticker"]
    assert all(d["text"].endswith(f" of {host}") for d in ticks), ticks
    numbers = [int(d["text"].split()[1]) for d in ticks]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), numbers
    assert len(new) == 5 and all(d["proc"] == "ticker" for d in new)
