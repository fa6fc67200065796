"""Isolation between apps, attacked on the real swarm: a client of a provider reaches the
services it declares and nothing else, clients of one provider cannot reach each other, a
client's own names stay its own, and ``allow_clients`` is enforced."""

from __future__ import annotations

import time
from typing import Any

import pytest
from in_tasks import SLEEPER, fetch, run_in, wait_fetch
from swarm_apps import TestApp, push_version

import lain_sdk
from lain_sdk import app_status, deploy_app, list_releases
from lain_sdk.cluster.names import service_name
from lain_sdk.errors import ClientNotAllowed

TIMEOUT = 90


def page_cmd(page: str) -> str:
    """A command serving one page, so each proc answers with its own name."""
    return (
        f'[sh, -c, \'trap "exit 0" TERM; mkdir -p /p; echo {page} > /p/index.html; '
        "httpd -f -p 80 -h /p & wait']"
    )


def provider_yaml(name: str, allow: str) -> str:
    return f"""\
appname: {name}
build:
  base: lain-local/busybox:latest
worker.web:
  cmd: {page_cmd(f"{name}-web")}
  memory: 16m
worker.hidden:
  cmd: {page_cmd(f"{name}-hidden")}
  memory: 16m
service.greeter:
  cmd: {page_cmd(f"{name}-greeter")}
  port: 80
  memory: 16m
  portal:
    allow_clients: "{allow}"
"""


def client_yaml(name: str, provider: str, *, own_hidden: bool = False) -> str:
    text = f"""\
appname: {name}
build:
  base: lain-local/busybox:latest
worker.probe:
  cmd: {SLEEPER}
  memory: 8m
use_services:
  {provider}: [greeter]
"""
    if own_hidden:
        text += f"worker.hidden:\n  cmd: {page_cmd(f'{name}-hidden')}\n  memory: 16m\n"
    return text


def deploy(app: TestApp) -> Any:
    return lain_sdk.drain(deploy_app(app.name, cluster=app.cluster(), timeout=TIMEOUT))


def task_ip(app: TestApp, proc: str) -> str:
    status = app_status(app.name, cluster=app.cluster())
    address = status.procs[[p.proc for p in status.procs].index(proc)].instances[0].address
    assert address and ":" not in address, address
    return address


def resolves(client: Any, app: TestApp, name: str) -> bool:
    code, _answer = run_in(client, app.name, "probe", f"nslookup {name}")
    return code == 0


def answers(client: Any, app: TestApp, url: str) -> str:
    code, answer = fetch(client, app.name, "probe", url)
    return answer if code == 0 else ""


def wait_unreachable(client: Any, app: TestApp, url: str, page: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while page in answers(client, app, url):
        assert time.monotonic() < deadline, f"{app.name} still reaches {url}"
        time.sleep(0.5)


def test_clients_reach_only_the_services_they_declare(docker_client: Any, new_app: Any) -> None:
    a, c1, c2, outsider = new_app("ia"), new_app("ic"), new_app("ic"), new_app("in")
    push_version(docker_client, a, provider_yaml(a.name, f"{c1.name}, {c2.name}"), "a")
    push_version(docker_client, c1, client_yaml(c1.name, a.name), "c1")
    push_version(docker_client, c2, client_yaml(c2.name, a.name, own_hidden=True), "c2")
    deploy(a)
    deploy(c1)
    deploy(c2)

    # Both clients get the service they declare, by its name.
    for client in (c1, c2):
        wait_fetch(docker_client, client.name, "probe", "http://greeter/", f"{a.name}-greeter")

    # c2's own proc name leads to c2's own proc, every time (never to a's proc of that name).
    for _ in range(5):
        assert answers(docker_client, c2, "http://hidden/").strip() == f"{c2.name}-hidden"

    # Nothing else of the provider: not by proc name, Swarm service name, nor address.
    assert resolves(docker_client, c1, "greeter")  # the probe works
    for name in ("hidden", "web", service_name(a.name, "web"), service_name(a.name, "hidden")):
        assert not resolves(docker_client, c1, name), name
    for proc in ("hidden", "web"):
        page = f"{a.name}-{proc}"
        assert page not in answers(docker_client, c1, f"http://{task_ip(a, proc)}/"), proc

    # Clients of one provider share no network: c1 cannot find or reach c2's procs.
    assert not resolves(docker_client, c1, service_name(c2.name, "hidden"))
    c2_hidden = task_ip(c2, "hidden")
    assert f"{c2.name}-hidden" not in answers(docker_client, c1, f"http://{c2_hidden}/")

    # An app that allow_clients leaves out fails before anything of it is made.
    push_version(docker_client, outsider, client_yaml(outsider.name, a.name), "n")
    with pytest.raises(ClientNotAllowed) as refused:
        deploy(outsider)
    error = refused.value
    assert (error.client, error.provider, error.service) == (outsider.name, a.name, "greeter")
    assert error.portal == "portal-greeter" and error.rule == f"{c1.name}, {c2.name}"
    label = {"label": f"lain.app={outsider.name}"}
    assert docker_client.api.services(filters=label) == []
    assert list_releases(outsider.name, cluster=outsider.cluster()) == []

    # Narrowing allow_clients and deploying the provider cuts c2 off; c1 keeps its service.
    push_version(docker_client, a, provider_yaml(a.name, c1.name), "a2")
    events: list[Any] = []
    lain_sdk.drain(deploy_app(a.name, cluster=a.cluster(), timeout=TIMEOUT), on_event=events.append)
    warnings = [str(e.to_dict()) for e in events if "no longer served" in str(e.to_dict())]
    assert any(c2.name in w for w in warnings), events
    wait_unreachable(docker_client, c2, "http://greeter/", f"{a.name}-greeter")
    assert not resolves(docker_client, c2, "greeter")
    wait_fetch(docker_client, c1.name, "probe", "http://greeter/", f"{a.name}-greeter")
