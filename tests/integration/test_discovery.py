"""Isolation and service discovery between apps on the real swarm (use_services, portals)."""

from __future__ import annotations

from typing import Any

import pytest
from apps import unique_app_name
from in_tasks import SLEEPER, fetch, run_in, wait_fetch
from swarm_apps import CHECK, WEB_CMD, TestApp, push_version

import lain_sdk
from lain_cli.exit import ExitStatus
from lain_sdk import app_status, deploy_app, list_releases
from lain_sdk.cluster.names import link_network_name, service_name
from lain_sdk.errors import NotFound
from lain_sdk.settings import LOCAL_ROUTER_BASE

TIMEOUT = 90

PROVIDER = f"""\
appname: {{name}}
build:
  base: lain-local/busybox:latest
service.echo:
  cmd: {WEB_CMD}
  port: 80
  memory: 16m
  container_healthcheck:
    cmd: {CHECK}
    options: {{{{interval: 1, timeout: 1, retries: 1}}}}
  portal: {{{{}}}}
"""

# The portal runs a program of its own: it serves its own page, and proves it can reach the
# proc behind it through LAIN_SERVICE_BACKEND.
PORTAL_CMD = (
    '[sh, -c, \'trap "exit 0" TERM; mkdir -p /p; echo portal of $LAIN_SERVICE_NAME > '
    "/p/index.html; httpd -f -p 80 -h /p & wait']"
)
PROVIDER_WITH_PORTAL_CMD = f"""\
appname: {{name}}
build:
  base: lain-local/busybox:latest
service.kv:
  cmd: {WEB_CMD}
  port: 80
  memory: 16m
  container_healthcheck:
    cmd: {CHECK}
    options: {{{{interval: 1, timeout: 1, retries: 1}}}}
  portal:
    cmd: {PORTAL_CMD}
    port: 80
    memory: 16m
    container_healthcheck:
      cmd: {CHECK}
      options: {{{{interval: 1, timeout: 1, retries: 1}}}}
"""

WORKER_APP = f"""\
appname: {{name}}
build:
  base: lain-local/busybox:latest
worker:
  cmd: {SLEEPER}
  memory: 8m
"""


def consumer_yaml(name: str, uses: dict[str, list[str]]) -> str:
    text = WORKER_APP.format(name=name)
    if uses:
        lines = [f"  {app}: [{', '.join(names)}]\n" for app, names in uses.items()]
        text += "use_services:\n" + "".join(lines)
    return text


def deploy(docker_client: Any, app: TestApp, **kw: Any) -> Any:
    operation = deploy_app(app.name, cluster=app.cluster(), timeout=TIMEOUT, **kw)
    return lain_sdk.drain(operation)


def releases(docker_client: Any, app: TestApp) -> int:
    return len(list_releases(app.name, cluster=app.cluster()))


def task_ip(docker_client: Any, app: TestApp, proc: str) -> str:
    status = app_status(app.name, cluster=app.cluster())
    address = status.procs[[p.proc for p in status.procs].index(proc)].instances[0].address
    assert address and ":" not in address, address  # an overlay IP, not a published port
    return address


def test_declared_consumer_reaches_the_provider_and_an_undeclared_app_cannot(
    docker_client: Any, new_app: Any, lain: Any
) -> None:
    provider, consumer, outsider = new_app("dp"), new_app("dc"), new_app("do")
    push_version(docker_client, provider, PROVIDER.format(name=provider.name), "provider page v1")
    push_version(
        docker_client, consumer, consumer_yaml(consumer.name, {provider.name: ["echo"]}), "c"
    )
    push_version(docker_client, outsider, consumer_yaml(outsider.name, {}), "o")
    deploy(docker_client, provider)
    deploy(docker_client, consumer)
    deploy(docker_client, outsider)

    # The consumer resolves the service name and gets the provider's page over HTTP.
    wait_fetch(docker_client, consumer.name, "worker", "http://echo/index.html", "provider page v1")
    code, answer = run_in(docker_client, consumer.name, "worker", "nslookup echo")
    assert code == 0, answer

    # The undeclared app is not on the provider's network: the name does not resolve, and
    # the provider's task address does not lead to the provider (whatever else may answer
    # there through the node's default route, it is not the provider's page).
    code, answer = run_in(docker_client, outsider.name, "worker", "nslookup echo")
    assert code != 0, answer
    code, answer = fetch(docker_client, outsider.name, "worker", "http://echo/index.html")
    assert code != 0 and "provider page" not in answer
    ip = task_ip(docker_client, provider, "echo")
    code, answer = fetch(docker_client, outsider.name, "worker", f"http://{ip}/index.html")
    assert "provider page" not in answer
    outsider_networks = docker_client.api.inspect_service(service_name(outsider.name, "worker"))
    targets = outsider_networks["Spec"]["TaskTemplate"]["Networks"]
    assert len(targets) == 1  # its own network only

    # Redeploying the provider keeps the consumer attached: its spec names the network, so
    # the consumer's service is not touched and reaches the new version.
    consumer_service = docker_client.api.inspect_service(service_name(consumer.name, "worker"))
    push_version(docker_client, provider, PROVIDER.format(name=provider.name), "provider page v2")
    deploy(docker_client, provider)
    wait_fetch(docker_client, consumer.name, "worker", "http://echo/index.html", "provider page v2")
    after = docker_client.api.inspect_service(service_name(consumer.name, "worker"))
    assert after["Version"]["Index"] == consumer_service["Version"]["Index"]
    link = docker_client.api.inspect_network(link_network_name(provider.name, consumer.name))
    assert link["Id"] in [n["Target"] for n in after["Spec"]["TaskTemplate"]["Networks"]]

    # A consumer version that uses a service the provider does not have fails before any
    # change, naming both apps and the missing service.
    use_cluster(lain, consumer)
    push_version(
        docker_client,
        consumer,
        consumer_yaml(consumer.name, {provider.name: ["echo", "nope"]}),
        "c2",
    )
    releases_before = releases(docker_client, consumer)
    failed = lain("deploy", "-a", consumer.name, "--timeout", "30")
    assert failed.exit_code == ExitStatus.NOT_FOUND, failed.stderr
    assert consumer.name in failed.stderr and provider.name in failed.stderr
    assert "nope" in failed.stderr and "provides: echo" in failed.stderr
    assert releases(docker_client, consumer) == releases_before
    unchanged = docker_client.api.inspect_service(service_name(consumer.name, "worker"))
    assert unchanged["Version"]["Index"] == after["Version"]["Index"]


def use_cluster(lain: Any, app: TestApp) -> None:
    """Select a cluster with the test registry for the CLI."""
    added = lain(
        "cluster",
        "add",
        "test",
        "--registry",
        app.registry,
        "--publish-ports",
        "--router-base-image",
        LOCAL_ROUTER_BASE,
        "--insecure-registry",
        "--use",
    )
    assert added.exit_code == ExitStatus.OK, added.stderr


def test_use_services_naming_a_missing_app_fails_before_any_change(
    docker_client: Any, new_app: Any
) -> None:
    consumer = new_app("dm")
    missing = unique_app_name("nothere")
    push_version(docker_client, consumer, consumer_yaml(consumer.name, {missing: ["db"]}), "c")
    with pytest.raises(NotFound) as caught:
        deploy(docker_client, consumer)
    message = str(caught.value)
    assert consumer.name in message and missing in message and "not deployed" in message
    label = {"label": f"lain.app={consumer.name}"}
    assert docker_client.api.services(filters=label) == []
    assert docker_client.api.networks(filters=label) == []
    assert docker_client.api.configs(filters=label) == []  # no release, no lock left


def test_portal_with_its_own_cmd_answers_for_the_service(docker_client: Any, new_app: Any) -> None:
    provider, consumer = new_app("dg"), new_app("dk")
    push_version(
        docker_client, provider, PROVIDER_WITH_PORTAL_CMD.format(name=provider.name), "kv page"
    )
    uses = consumer_yaml(consumer.name, {provider.name: ["kv"]})
    push_version(docker_client, consumer, uses, "c")
    result = deploy(docker_client, provider)
    assert [c.proc for c in result.plan.procs] == ["kv", "portal-kv"]
    deploy(docker_client, consumer)

    # The service name leads to the portal, not to the proc behind it...
    wait_fetch(docker_client, consumer.name, "worker", "http://kv/index.html", "portal of kv")
    # ...which the portal reaches by the name lain gives it.
    backend = service_name(provider.name, "kv")
    code, env = run_in(docker_client, provider.name, "portal-kv", "echo $LAIN_SERVICE_BACKEND")
    assert code == 0 and env.strip() == backend
    wait_fetch(docker_client, provider.name, "portal-kv", f"http://{backend}/index.html", "kv page")
