"""`lain apps` on the real swarm: two deployed apps with their procs, health and the URL the
router serves one at, in three engine requests; an undeployed app only with --all.

Other tests may run apps on the same swarm meanwhile: only this test's apps are looked at.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from apps import unique_app_name
from routed import wait_answer
from swarm_apps import TestApp, cleanup, push_version, web_app

import lain_sdk
from lain_cli.exit import ExitStatus
from lain_sdk import deploy_app, list_apps, undeploy_app

pytestmark = pytest.mark.docker

TIMEOUT = 90
WORKER_ONLY = """\
appname: {name}
build:
  base: lain-local/busybox:latest
worker:
  cmd: [sh, -c, 'trap "exit 0" TERM; while true; do sleep 1; done']
  memory: 8m
"""


def deploy(app: TestApp) -> None:
    lain_sdk.drain(deploy_app(app.name, cluster=app.cluster(), timeout=TIMEOUT))


@pytest.fixture
def two_apps(
    docker_client: Any, registry: Any, router: Any, lain: Any
) -> Iterator[tuple[TestApp, TestApp]]:
    """``site``: a web proc (2 instances, routed) and a worker; ``job``: a worker alone."""
    site = TestApp(unique_app_name("la"), registry.host, engine=docker_client)
    job = TestApp(unique_app_name("la"), registry.host, engine=docker_client)
    added = lain("cluster", "add", "test", "--registry", registry.host, "--use")
    assert added.exit_code == ExitStatus.OK, added.stderr
    try:
        push_version(docker_client, site, web_app(site.name, worker=True), "page apps")
        push_version(docker_client, job, WORKER_ONLY.format(name=job.name), "no page")
        # Both at once: each deploy mostly waits for its instances to turn healthy.
        with ThreadPoolExecutor(max_workers=2) as pool:
            deploys = [pool.submit(deploy, app) for app in (site, job)]
            for done in deploys:
                done.result()
        yield site, job
    finally:
        for app in (job, site):
            cleanup(docker_client, app.name, app.images)


class RequestCounter:
    """Counts the HTTP requests a docker client makes (a requests response hook)."""

    def __init__(self, client: Any) -> None:
        self.hooks = client.api.hooks["response"]
        self.count = 0

    def __call__(self, response: Any, *args: Any, **kwargs: Any) -> None:
        self.count += 1

    def __enter__(self) -> RequestCounter:
        self.hooks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        self.hooks.remove(self)


def listed(lain: Any, *args: str) -> dict[str, Any]:
    result = lain("-o", "json", "apps", *args)
    assert result.exit_code == ExitStatus.OK, result.stderr
    data = json.loads(result.stdout)
    assert data["cluster"] == "test"
    return {a["app"]: a for a in data["apps"]}


def test_apps_lists_deployed_apps_with_procs_health_and_urls(
    docker_client: Any, two_apps: tuple[TestApp, TestApp], lain: Any
) -> None:
    site, job = two_apps
    with RequestCounter(docker_client) as requests:
        found = {a.app: a for a in list_apps(cluster=site.cluster())}
    assert requests.count == 3  # services, tasks, nodes: however many apps the swarm runs
    assert found[site.name].health == "healthy"

    apps = listed(lain)
    shown, worker = apps[site.name], apps[job.name]
    assert (shown["release"], shown["version"], shown["health"]) == (1, site.versions[0], "healthy")
    assert {p["proc"]: (p["running"], p["desired"]) for p in shown["procs"]} == {
        "ticker": (1, 1),
        "web": (2, 2),
    }
    url = f"http://{site.name}.lain.local/"
    assert shown["urls"] == [url]
    # The URL is where the router serves the app.
    answer = wait_answer(f"{site.name}.lain.local", "/index.html")
    assert answer.status == 200 and "page apps" in answer.body
    assert worker["health"] == "healthy" and worker["urls"] == []
    assert [(p["proc"], p["running"], p["desired"]) for p in worker["procs"]] == [("worker", 1, 1)]

    text = lain("apps")
    assert text.exit_code == ExitStatus.OK, text.stderr
    row = next(line for line in text.stdout.splitlines() if line.startswith(site.name + " "))
    assert "healthy" in row and url in row and "ticker 1/1, web 2/2" in row

    lain_sdk.drain(undeploy_app(job.name, cluster=job.cluster(), timeout=TIMEOUT))
    assert job.name not in listed(lain) and site.name in listed(lain)
    gone = listed(lain, "--all")[job.name]
    assert (gone["health"], gone["release"], gone["procs"]) == ("undeployed", 1, [])
