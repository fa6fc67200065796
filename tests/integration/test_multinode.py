"""lain on a swarm of two engines (see lab.py): instances spread over both nodes, a worker pulls
from a registry that asks for credentials, a node lost moves stateless instances, and the router
on the manager reaches instances on the worker."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from apps import unique_app_name
from lab import MANAGER, WORKER, SwarmLab
from routed import get, wait_answer
from swarm_apps import TestApp, cleanup, push_version, pushing_with, web_app

import lain_sdk
from lain_cli.exit import ExitStatus
from lain_sdk.cluster.router import router_up
from lain_sdk.cluster.session import Cluster
from lain_sdk.settings import LOCAL_ROUTER_BASE

DEPLOY_TIMEOUT = "120"
MOVE_TIMEOUT = 60  # a node killed without warning: its stateless instances run elsewhere by then
WORKER_ANSWER_TIMEOUT = 30  # the router tries an instance it took out again after 2 s


def add_lab_cluster(lain: Any, lab: SwarmLab, registry: Any, *extra: str) -> None:
    added = lain(
        "cluster",
        "add",
        "lab",
        "--docker-host",
        lab.docker_host(MANAGER),
        "--registry",
        registry.host,
        "--insecure-registry",
        "--router-base-image",
        LOCAL_ROUTER_BASE,
        "--router-engine-socket",
        lab.engine_socket(MANAGER),
        "--use",
        *extra,
    )
    assert added.exit_code == ExitStatus.OK, added.stderr


def ps(lain: Any, app: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    shown = lain("-o", "json", "ps", "-a", app, env=env)
    assert shown.exit_code == ExitStatus.OK, shown.stderr
    return dict(json.loads(shown.stdout))


def running_nodes(status: dict[str, Any], proc: str = "web") -> list[str]:
    (found,) = [p for p in status["procs"] if p["proc"] == proc]
    return sorted(i["node"] for i in found["instances"] if i["state"] == "running")


@pytest.fixture
def lab_app(lab: SwarmLab) -> Iterator[TestApp]:
    """A unique app on the lab's open registry, built on the manager; cleaned up after."""
    lab.ensure_up()
    app = TestApp(unique_app_name("mn"), lab.registry.host, engine=lab.manager)
    yield app
    lab.ensure_up()
    cleanup(lab.manager, app.name, app.images)


def test_instances_spread_pull_with_credentials_and_move_when_a_node_dies(
    lab: SwarmLab, lab_app: TestApp, lain: Any
) -> None:
    registry = lab.auth_registry
    app = TestApp(lab_app.name, registry.host, engine=lab.manager)
    lab_app.images = app.images  # cleaned up with the fixture's app
    four = web_app(app.name).replace("num_instances: 2", "num_instances: 4")
    push_version(pushing_with(lab.manager, registry.auth_config), app, four, "spread")
    add_lab_cluster(lain, lab, registry)
    env = {"LAIN_REGISTRY_USERNAME": registry.username, "LAIN_REGISTRY_PASSWORD": registry.password}

    deployed = lain("deploy", "-a", app.name, "--timeout", DEPLOY_TIMEOUT, env=env)

    assert deployed.exit_code == ExitStatus.OK, deployed.stderr
    nodes = running_nodes(ps(lain, app.name, env))
    assert len(nodes) == 4 and set(nodes) == {lab.hostname(MANAGER), lab.hostname(WORKER)}
    # The worker pulled the release itself, from the registry that asks for credentials.
    pulled = lab.client(WORKER).images.list(name=f"{registry.host}/{app.name}")
    assert pulled, "the worker has no image of the app"

    lab.crash(WORKER)
    started = time.monotonic()
    # `lain ps` names the lost node, whose instances Swarm replaces on the manager.
    lost = f"node {lab.hostname(WORKER)} is down: what ran there runs elsewhere"
    wait_ps(lain, app.name, lambda text: lost in text, env)
    while running_nodes(ps(lain, app.name, env)) != [lab.hostname(MANAGER)] * 4:
        assert time.monotonic() - started < MOVE_TIMEOUT, ps(lain, app.name, env)
        time.sleep(1)
    assert time.monotonic() - started < MOVE_TIMEOUT


def wait_ps(
    lain: Any,
    app: str,
    until: Callable[[str], bool],
    env: dict[str, str] | None = None,
    timeout: float = MOVE_TIMEOUT,
) -> str:
    """``lain ps`` (text) until ``until`` holds for it; fails with the last one on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        shown = lain("ps", "-a", app, env=env)
        assert shown.exit_code == ExitStatus.OK, shown.stderr
        if until(shown.stdout):
            return str(shown.stdout)
        assert time.monotonic() < deadline, shown.stdout
        time.sleep(1)


def test_the_router_on_the_manager_reaches_instances_on_the_worker(
    lab: SwarmLab, lab_app: TestApp, docker_client: Any, lain: Any
) -> None:
    lab.load_image(docker_client, LOCAL_ROUTER_BASE)
    settings = lab.settings(domains=("lab.test",))
    router = lain_sdk.drain(router_up(Cluster(settings, engine=lab.manager), timeout=240))
    assert router.running, router
    four = web_app(lab_app.name).replace("num_instances: 2", "num_instances: 4")
    push_version(lab.manager, lab_app, four, "routed", echo=True)
    add_lab_cluster(lain, lab, lab.registry, "--domain", "lab.test")
    deployed = lain("deploy", "-a", lab_app.name, "--timeout", DEPLOY_TIMEOUT)
    assert deployed.exit_code == ExitStatus.OK, deployed.stderr
    (web,) = ps(lain, lab_app.name)["procs"]
    on_worker = {str(i["instance"]) for i in web["instances"] if i["node"] == lab.hostname(WORKER)}
    assert on_worker, web["instances"]

    host = f"{lab_app.name}.lab.test"
    first = wait_answer(host, "/cgi-bin/echo", address=lab.address(MANAGER), timeout=30)
    assert first.status == 200, first
    # nginx takes an instance out for a while after one failed connection (the overlay's
    # first packets to a new peer can be slow on a loaded machine): ask until one on the
    # worker answers, within the time that allows for it.
    answered: set[str] = set()
    deadline = time.monotonic() + WORKER_ANSWER_TIMEOUT
    while not answered & on_worker and time.monotonic() < deadline:
        answer = get(host, "/cgi-bin/echo", address=lab.address(MANAGER))
        assert answer.status == 200, answer
        answered.add(
            dict(line.partition("=")[::2] for line in answer.body.splitlines())["instance"]
        )
        time.sleep(0.1)
    assert answered & on_worker, (answered, on_worker)


def test_a_cluster_reached_over_ssh_deploys_shows_logs_and_execs_on_every_node(
    lab: SwarmLab, lab_app: TestApp, lain: Any, tmp_path: Path
) -> None:
    four = web_app(lab_app.name).replace("num_instances: 2", "num_instances: 4")
    push_version(lab.manager, lab_app, four, "over ssh")
    with (
        lab.ssh_engine(MANAGER, tmp_path) as (over_ssh, env),
        lab.ssh_engine(WORKER, tmp_path),
    ):
        added = lain(
            "cluster", "add", "lab-ssh", "--docker-host", over_ssh, "--registry",
            lab.registry.host, "--insecure-registry", "--use",
        )  # fmt: skip
        assert added.exit_code == ExitStatus.OK, added.stderr
        deployed = lain("deploy", "-a", lab_app.name, "--timeout", DEPLOY_TIMEOUT, env=env)
        assert deployed.exit_code == ExitStatus.OK, deployed.stderr
        (web,) = ps(lain, lab_app.name, env)["procs"]
        nodes = {i["node"] for i in web["instances"]}
        assert nodes == {lab.hostname(MANAGER), lab.hostname(WORKER)}, web["instances"]
        # Each instance answers, the ones on the worker through an ssh of their own.
        for instance in web["instances"]:
            ran = lain(
                "exec", "web", str(instance["instance"]), "-a", lab_app.name, "--",
                "cat", "/www/index.html", env=env,
            )  # fmt: skip
            assert (ran.exit_code, ran.stdout) == (0, "over ssh\n"), (instance, ran.stderr)
        logs = lain("logs", "-a", lab_app.name, "--tail", "5", env=env)
        assert logs.exit_code == ExitStatus.OK, logs.stderr
        assert "web 1 up" in logs.stdout and "web 4 up" in logs.stdout, logs.stdout
