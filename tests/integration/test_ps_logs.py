"""`lain ps` and `lain logs` for an app with two procs, on the real swarm."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from apps import unique_app_name
from swarm_apps import TestApp, cleanup, push_version, wait_http, web_app

import lain_sdk
from lain_cli.exit import ExitStatus
from lain_sdk import app_logs, app_status, deploy_app

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


def test_logs_merged_and_prefixed(docker_client: Any, deployed: TestApp, lain: Any) -> None:
    deploy(docker_client, deployed)
    time.sleep(2)  # a few ticks

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
