"""`lain deploy` from a registry other than the cluster's (--registry, LAIN_REGISTRY), on the
real swarm: the version is found there, and the node pulls the release image from there."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from apps import unique_app_name
from swarm_apps import TestApp, cleanup, push_version, pushing_with, wait_http, web_app

from lain_cli.exit import ExitStatus
from lain_cli.tables import short_version

TIMEOUT = 90


@pytest.fixture
def two_registries(
    docker_client: Any, registry: Any, auth_registry: Any, base_image: str, lain: Any
) -> Iterator[tuple[TestApp, TestApp]]:
    """One app with version 1 in the cluster's registry and a newer version 2 in another one,
    which asks for credentials (so the node can pull only when lain hands them over)."""
    app = TestApp(unique_app_name("lr"), registry.host, engine=docker_client)
    other = TestApp(app.name, auth_registry.host, engine=docker_client, clock=app.clock + 100)
    try:
        push_version(docker_client, app, web_app(app.name), "from the cluster's registry")
        pusher = pushing_with(docker_client, auth_registry.auth_config)
        push_version(pusher, other, web_app(app.name), "from the other registry")
        added = lain(
            "cluster", "add", "test", "--registry", registry.host, "--publish-ports", "--use"
        )
        assert added.exit_code == ExitStatus.OK, added.stderr
        yield app, other
    finally:
        cleanup(docker_client, app.name, app.images + other.images)


def test_deploy_from_the_registry_given_pulls_the_image_from_there(
    docker_client: Any, auth_registry: Any, two_registries: tuple[TestApp, TestApp], lain: Any
) -> None:
    app, other = two_registries
    env = {
        "LAIN_REGISTRY": auth_registry.host,
        "LAIN_REGISTRY_USERNAME": auth_registry.username,
        "LAIN_REGISTRY_PASSWORD": auth_registry.password,
    }

    planned = lain("-o", "json", "deploy", "--plan", "-a", app.name, env=env)
    assert planned.exit_code == ExitStatus.OK, planned.stderr
    assert json.loads(planned.stdout)["meta_version"] == other.versions[0]
    assert (
        json.loads(lain("-o", "json", "deploy", "--plan", "-a", app.name).stdout)["meta_version"]
        == app.versions[0]
    )

    deployed = lain("deploy", "-a", app.name, "--timeout", str(TIMEOUT), env=env)
    assert deployed.exit_code == ExitStatus.OK, deployed.stderr
    assert f"deploy of {short_version(other.versions[0])}" in deployed.stdout
    image = docker_client.api.inspect_service(f"{app.name}__web")["Spec"]["TaskTemplate"][
        "ContainerSpec"
    ]["Image"]
    assert image.startswith(f"{auth_registry.host}/{app.name}:release-{other.versions[0]}@sha256:")
    status = json.loads(lain("-o", "json", "ps", "-a", app.name).stdout)
    (web,) = status["procs"]
    assert web["running"] == 2
    for instance in web["instances"]:
        wait_http(instance["address"], "from the other registry")

    # The same registry given as an option: nothing to change.
    again = lain(
        "-o", "json", "deploy", "--plan", "-a", app.name, "--registry", auth_registry.host, env=env
    )
    assert again.exit_code == ExitStatus.OK, again.stderr
    assert json.loads(again.stdout)["procs"][0]["action"] == "unchanged"
