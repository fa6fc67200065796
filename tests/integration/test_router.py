"""The router on the real swarm: web procs served by host and path through nginx on port 80.

One app with four web procs is deployed once for the module and each test asks it something
different through the router; tests that change what is deployed use apps of their own.
"""

from __future__ import annotations

from typing import Any

import pytest
from routed import get, wait_answer
from swarm_apps import TestApp, push_version, web_app

import lain_sdk
from lain_sdk import deploy_app, scale_proc, undeploy_app

pytestmark = pytest.mark.docker

TIMEOUT = 120
ECHO_CHECK = "wget -q -O /dev/null http://127.0.0.1:80/index.html"


def routed_app(name: str) -> str:
    """web on the app's default domains; web.api on /api of them and on a host of its own;
    web.zero with no instance; all busybox httpd answering /cgi-bin/echo."""
    proc = """\
  cmd: [sh, -c, 'trap "exit 0" TERM; httpd -f -p 80 -h /www & wait']
  memory: 16m
  container_healthcheck:
    cmd: {check}
    options: {{interval: 1, timeout: 1, retries: 1}}
"""
    body = proc.format(check=ECHO_CHECK)
    return (
        f"appname: {name}\nbuild:\n  base: lain-local/busybox:latest\n"
        f"web:\n{body}  num_instances: 2\n"
        f"web.api:\n{body}  mountpoint: [/api, api-{name}.example.test]\n"
        f"web.zero:\n{body}  num_instances: 0\n  mountpoint: [/zero]\n"
    )


@pytest.fixture(scope="module")
def served(docker_client: Any, registry: Any, router: Any) -> Any:
    from apps import unique_app_name
    from swarm_apps import cleanup

    app = TestApp(unique_app_name("rt"), registry.host, engine=docker_client)
    push_version(docker_client, app, routed_app(app.name), "routed page", echo=True)
    cluster = app.cluster()
    lain_sdk.drain(deploy_app(app.name, cluster=cluster, timeout=TIMEOUT))
    yield app
    cleanup(docker_client, app.name, app.images)


def test_a_web_proc_answers_at_its_domain_with_forwarded_headers(served: TestApp) -> None:
    host = f"{served.name}.lain.local"
    answer = wait_answer(host, "/cgi-bin/echo?x=1")
    assert answer.status == 200, answer
    said = dict(line.split("=", 1) for line in answer.body.splitlines() if "=" in line)
    assert said["uri"] == "/cgi-bin/echo?x=1" and said["proc"] == "web"
    assert said["host"] == host and said["xhost"] == host and said["proto"] == "http"
    assert said["xff"]  # the client's address, as the router saw it
    assert get(host, "/index.html").body == "routed page\n"


def test_a_path_mountpoint_strips_its_prefix_and_the_longest_prefix_wins(served: TestApp) -> None:
    host = f"{served.name}.lain.local"
    answer = wait_answer(host, "/api/cgi-bin/echo")
    said = dict(line.split("=", 1) for line in answer.body.splitlines() if "=" in line)
    assert answer.status == 200 and said["proc"] == "api", answer
    assert said["uri"] == "/cgi-bin/echo" and said["prefix"] == "/api"
    # /api itself, and a path that only starts like it: the first is web.api's root, the
    # second still web's.
    assert get(host, "/api").body == "routed page\n"
    assert get(host, "/apiary").status == 404 and "404" in get(host, "/apiary").body
    own = wait_answer(f"api-{served.name}.example.test", "/cgi-bin/echo")
    assert "proc=api" in own.body and "uri=/cgi-bin/echo" in own.body


def test_forwarded_headers_a_client_sends_are_replaced_not_trusted(served: TestApp) -> None:
    spoofed = {
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "bank.example.test",
        "X-Forwarded-Prefix": "/evil",
        "X-Forwarded-For": "203.0.113.9",
    }
    answer = get(f"{served.name}.lain.local", "/cgi-bin/echo", headers=spoofed)
    said = dict(line.split("=", 1) for line in answer.body.splitlines() if "=" in line)
    assert answer.status == 200, answer
    assert (said["proto"], said["xhost"], said["prefix"]) == (
        "http",
        f"{served.name}.lain.local",
        "",
    )
    # The client's list is kept (a proxy in front may have set it) and the router adds the
    # address it saw last, which is the one an app can trust.
    assert said["xff"].startswith("203.0.113.9, ") and said["xff"].split(", ")[-1]
    # A path written to climb between prefixes is resolved before it is routed: /zero/../api
    # is /api, so web.api gets it with its own prefix stripped.
    climbing = get(f"{served.name}.lain.local", "/zero/../api/cgi-bin/echo")
    assert "proc=api" in climbing.body and "uri=/cgi-bin/echo" in climbing.body, climbing


def test_an_unknown_host_gets_404_from_the_router(served: TestApp) -> None:
    answer = get(f"nobody-{served.name}.lain.local", "/")
    assert answer.status == 404 and "no app is served here" in answer.body


def test_a_proc_with_no_healthy_instance_gets_503(served: TestApp) -> None:
    answer = wait_answer(f"{served.name}.lain.local", "/zero/", lambda a: a.status == 503)
    assert answer.status == 503 and "no instance" in answer.body
    # Scaled up, it serves; scaled back to none, 503 again (never 502).
    cluster = served.cluster()
    lain_sdk.drain(scale_proc(served.name, "zero", cluster=cluster, instances=1, timeout=TIMEOUT))
    assert wait_answer(f"{served.name}.lain.local", "/zero/index.html").status == 200
    lain_sdk.drain(scale_proc(served.name, "zero", cluster=cluster, instances=0, timeout=TIMEOUT))
    after = wait_answer(f"{served.name}.lain.local", "/zero/", lambda a: a.status != 200)
    assert after.status == 503, after


def test_an_undeployed_app_is_no_longer_served_and_its_router_network_goes(
    docker_client: Any, new_app: Any, router: Any
) -> None:
    app = new_app("rtu")
    push_version(docker_client, app, web_app(app.name), "short-lived page")
    lain_sdk.drain(deploy_app(app.name, cluster=app.cluster(), timeout=TIMEOUT))
    host = f"{app.name}.lain.local"
    assert wait_answer(host, "/index.html").body == "short-lived page\n"
    result = lain_sdk.drain(undeploy_app(app.name, cluster=app.cluster(), timeout=60))
    assert result.network_removed
    # The router left the app's network (within a second) so that it could be removed.
    assert not docker_client.networks.list(names=[f"lain-router_{app.name}"])
    assert wait_answer(host, "/index.html", lambda a: a.status == 404).status == 404
