"""Resources on the real swarm: instances rendered per client, deployed first, operated with -a."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from apps import unique_app_name
from in_tasks import SLEEPER, run_in, wait_fetch
from swarm_apps import CHECK, TestApp, cleanup, push_version

import lain_sdk
from lain_cli.exit import ExitStatus
from lain_cli.tables import short_version
from lain_sdk import app_status, deploy_app
from lain_sdk.cluster.names import service_name
from lain_sdk.errors import NotFound
from lain_sdk.events import ProcChanged
from lain_sdk.settings import LOCAL_ROUTER_BASE

TIMEOUT = 90

# A resource template: the client's parameters decide the greeting it serves and its memory.
RESOURCE_CMD = (
    '[sh, -c, \'trap "exit 0" TERM; echo $GREETING > /www/greet.html; '
    "httpd -f -p 80 -h /www & wait']"
)
# Formatted once: {{ }} below become the Jinja2 braces of the template.
RESOURCE = """\
appname: {name}
apptype: resource
build:
  base: lain-local/busybox:latest
service.kv:
  cmd: {cmd}
  port: 80
  memory: "{{{{ memory|default('16m') }}}}"
  num_instances: "{{{{ instances|default(1) }}}}"
  env:
    - "GREETING={{{{ greeting|default('hi') }}}}"
  container_healthcheck:
    cmd: {check}
    options: {{interval: 1, timeout: 1, retries: 1}}
  portal: {{}}
"""


def resource_yaml(name: str) -> str:
    return RESOURCE.format(name=name, cmd=RESOURCE_CMD, check=CHECK)


CLIENT = f"""\
appname: {{name}}
build:
  base: lain-local/busybox:latest
worker:
  cmd: {SLEEPER}
  memory: 8m
use_resources:
  {{resource}}:
    services: [{{services}}]
    greeting: hello-{{name}}
    memory: 12m
"""


@pytest.fixture
def apps(docker_client: Any, registry: Any, base_image: str) -> Iterator[Any]:
    """A resource and a client; cleans up the client, its instance, then the resource."""
    resource = TestApp(unique_app_name("rr"), registry.host, engine=docker_client)
    client = TestApp(unique_app_name("rc"), registry.host, engine=docker_client)
    yield resource, client
    cleanup(docker_client, client.name, client.images)
    cleanup(docker_client, instance_of(resource, client))
    cleanup(docker_client, resource.name, resource.images)


def instance_of(resource: TestApp, client: TestApp) -> str:
    return f"resource.{resource.name}.{client.name}"


def use_cluster(lain: Any, app: TestApp) -> None:
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


def push_client(docker_client: Any, resource: TestApp, client: TestApp, services: str) -> str:
    text = CLIENT.format(name=client.name, resource=resource.name, services=services)
    return push_version(docker_client, client, text, "client")


def test_resource_instance_is_deployed_before_its_client_and_operated_with_a(
    docker_client: Any, apps: Any, lain: Any
) -> None:
    resource, client = apps
    instance = instance_of(resource, client)
    use_cluster(lain, client)
    v1 = push_version(docker_client, resource, resource_yaml(resource.name), "kv v1")
    push_client(docker_client, resource, client, "kv")

    # Deploying the resource itself runs nothing: it records the version instances get.
    recorded = lain("deploy", "-a", resource.name)
    assert recorded.exit_code == ExitStatus.OK, recorded.stderr
    assert "is a resource" in recorded.stderr
    assert docker_client.api.services(filters={"label": f"lain.app={resource.name}"}) == []
    listed = lain("-o", "json", "releases", "-a", resource.name)
    assert [r["meta_version"] for r in json.loads(listed.stdout)["releases"]] == [v1]

    # The client's plan shows the instance it would create first, and changes nothing.
    planned = lain("-o", "json", "deploy", "--plan", "-a", client.name)
    assert planned.exit_code == ExitStatus.OK, planned.stderr
    plan = json.loads(planned.stdout)
    [instance_plan] = plan["resource_instances"]
    assert instance_plan["app"] == instance and instance_plan["meta_version"] == v1
    assert [(p["proc"], p["action"]) for p in instance_plan["procs"]] == [("kv", "create")]
    assert plan["changed"] and [p["proc"] for p in plan["procs"]] == ["worker"]
    text = lain("deploy", "--plan", "-a", client.name).stdout
    first = text.index(f"plan for {instance} {short_version(v1)}")
    assert first < text.index(f"plan for {client.name}")
    assert docker_client.api.services(filters={"label": f"lain.app={instance}"}) == []

    # The client's deploy deploys the instance first, then the client.
    events: list[Any] = []
    result = lain_sdk.drain(
        deploy_app(client.name, cluster=client.cluster(), timeout=TIMEOUT),
        on_event=events.append,
    )
    created = [(e.app, e.proc) for e in events if isinstance(e, ProcChanged)]
    assert created == [(instance, "kv"), (client.name, "worker")]
    assert [i.app for i in result.resource_instances] == [instance]
    assert result.resource_instances[0].meta_version == v1

    # The instance runs the resource's image with the client's parameters, and the client
    # reaches it by the resource's service name.
    spec = docker_client.api.inspect_service(service_name(instance, "kv"))["Spec"]
    image = spec["TaskTemplate"]["ContainerSpec"]["Image"]
    assert image.startswith(f"{resource.registry}/{resource.name}:release-{v1}@sha256:")
    assert spec["TaskTemplate"]["Resources"]["Limits"]["MemoryBytes"] == 12 * 1024 * 1024
    wait_fetch(docker_client, client.name, "worker", "http://kv/greet.html", f"hello-{client.name}")

    # ps of the client shows its instance, in text and in JSON.
    status = app_status(client.name, cluster=client.cluster())
    assert [(i.app, [p.proc for p in i.procs]) for i in status.resource_instances] == [
        (instance, ["kv"])
    ]
    shown = lain("-o", "json", "ps", "-a", client.name)
    assert shown.exit_code == ExitStatus.OK, shown.stderr
    data = json.loads(shown.stdout)
    assert [i["app"] for i in data["resource_instances"]] == [instance]
    text = lain("ps", "-a", client.name)
    assert "resource instances" in text.stdout and f"{instance} on test" in text.stdout

    # -a NAME operates on the instance directly: scale, ps, logs.
    scaled = lain("scale", "-a", instance, "kv", "-n", "2", "--timeout", str(TIMEOUT))
    assert scaled.exit_code == ExitStatus.OK, scaled.stderr
    shown = json.loads(lain("-o", "json", "ps", "-a", instance).stdout)
    assert shown["app"] == instance and shown["procs"][0]["running"] == 2
    logs = lain("logs", "-a", instance, "--tail", "5")
    assert logs.exit_code == ExitStatus.OK, logs.stderr

    # A new version of the resource: the client's redeploy leaves the instance on its version.
    v2 = push_version(docker_client, resource, resource_yaml(resource.name), "kv v2")
    again = lain_sdk.drain(deploy_app(client.name, cluster=client.cluster(), timeout=TIMEOUT))
    assert again.resource_instances[0].meta_version == v1
    assert not again.resource_instances[0].changed and not again.changed

    # ...and deploy -a moves the instance to the newest version, with the client's parameters.
    upgraded = lain("deploy", "-a", instance, "--timeout", str(TIMEOUT))
    assert upgraded.exit_code == ExitStatus.OK, upgraded.stderr
    spec = docker_client.api.inspect_service(service_name(instance, "kv"))["Spec"]
    image = spec["TaskTemplate"]["ContainerSpec"]["Image"]
    assert image.startswith(f"{resource.registry}/{resource.name}:release-{v2}@sha256:")
    assert spec["Mode"]["Replicated"]["Replicas"] == 2  # the scale stays
    wait_fetch(docker_client, client.name, "worker", "http://kv/index.html", "kv v2")
    code, answer = run_in(docker_client, client.name, "worker", "wget -q -O - http://kv/greet.html")
    assert code == 0 and f"hello-{client.name}" in answer

    releases = json.loads(lain("-o", "json", "releases", "-a", instance).stdout)["releases"]
    assert [(r["kind"], r["meta_version"]) for r in releases] == [  # newest first
        ("deploy", v2),
        ("scale", v1),
        ("deploy", v1),
    ]

    # The client is undeployed; the instance's network stays usable until the instance goes.
    gone = lain("undeploy", "-a", client.name)
    assert gone.exit_code == ExitStatus.OK, gone.stderr
    gone = lain("undeploy", "-a", instance)
    assert gone.exit_code == ExitStatus.OK, gone.stderr
    assert docker_client.api.services(filters={"label": f"lain.app={instance}"}) == []


def test_resource_problems_fail_the_clients_deploy_before_any_change(
    docker_client: Any, apps: Any, lain: Any
) -> None:
    resource, client = apps
    instance = instance_of(resource, client)

    # The resource was never pushed.
    push_client(docker_client, resource, client, "kv")
    with pytest.raises(NotFound, match=f"no version of {resource.name}"):
        lain_sdk.drain(deploy_app(client.name, cluster=client.cluster()))

    # The client names a service the resource does not provide.
    push_version(docker_client, resource, resource_yaml(resource.name), "kv")
    push_client(docker_client, resource, client, "kv, cache")
    with pytest.raises(NotFound) as caught:
        lain_sdk.drain(deploy_app(client.name, cluster=client.cluster()))
    message = str(caught.value)
    assert f"{client.name} uses service(s) cache of {instance}" in message
    assert f"use_resources.{resource.name}.services" in message and "provides: kv" in message
    for app in (client.name, instance):
        label = {"label": f"lain.app={app}"}
        assert docker_client.api.services(filters=label) == []
        assert docker_client.api.configs(filters=label) == []

    # An instance cannot be deployed by name before its client gave it parameters.
    use_cluster(lain, client)
    early = lain("deploy", "-a", instance)
    assert early.exit_code == ExitStatus.NOT_FOUND, early.stderr
    assert f"{client.name} has no release" in early.stderr
