"""What an app runs, instance by instance, in a constant number of engine calls."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
from fakes.cluster import (
    CLIENT,
    REDIS,
    REGISTRY,
    WEB,
    fake_cluster,
    instance_source,
    release_source,
    run,
)
from fakes.swarm import Behaviour

from lain_router.labels import router_labels
from lain_sdk.cluster.deploy import deploy_source
from lain_sdk.cluster.status import (
    InstanceStatus,
    app_status,
    app_urls,
    instance_statuses,
    service_urls,
)
from lain_sdk.cluster.views import Node, Task
from lain_sdk.errors import InvalidArgument, NotFound
from lain_sdk.settings import RouterSettings


@pytest.fixture
def cluster():
    return fake_cluster()


def test_status_lists_every_instance_with_its_health_and_address(cluster) -> None:
    run(deploy_source(cluster, release_source(WEB), timeout=5))
    status = app_status("shop", cluster=cluster)
    assert status.healthy and status.release == 1 and status.cluster == "fake"
    web = {p.proc: p for p in status.procs}["web"]
    assert (web.proctype, web.desired, web.running, web.release) == ("web", 2, 2, 1)
    assert [i.instance for i in web.instances] == [1, 2]
    first = web.instances[0]
    assert first.state == "running" and first.health == "none" and first.node == "manager-1"
    # Reached at its node's address; published, as Swarm does, on every interface.
    assert first.address == "10.0.0.1:30001" and first.ports == ("80/tcp -> 0.0.0.0:30001",)
    mail = {p.proc: p for p in status.procs}["mail"]
    assert mail.instances[0].address.startswith("10.1.")  # no published port: its overlay IP
    assert status.to_dict()["procs"][0]["instances"][0]["instance"] == 1


def test_status_costs_the_same_engine_calls_however_many_procs(cluster) -> None:
    many = WEB + "".join(f"worker.w{i}:\n  cmd: [sleep, '1']\n" for i in range(12))
    run(deploy_source(cluster, release_source(many), timeout=5))
    before = len(cluster.api.calls)
    app_status("shop", cluster=cluster)
    assert cluster.api.calls[before:] == ["services", "tasks", "nodes"]


def test_a_failing_instance_shows_its_last_error_and_age(cluster) -> None:
    run(deploy_source(cluster, release_source(WEB), timeout=5))
    cluster.api.script(REGISTRY, Behaviour(unhealthy=True, starts_after=5))
    status = app_status("shop", cluster=cluster)  # the running tasks fail their checks now
    assert not status.healthy
    errors = [i.error for p in status.procs for i in p.instances if i.error]
    assert errors and "unhealthy container" in errors[0]
    ages = [i.error_age for p in status.procs for i in p.instances if i.error]
    assert all(age is not None and age >= 0 for age in ages)


def test_a_client_shows_its_resource_instances(cluster) -> None:
    run(deploy_source(cluster, instance_source(REDIS, "redis", "shop"), timeout=5))
    run(deploy_source(cluster, release_source(CLIENT), timeout=5))
    before = len(cluster.api.calls)
    status = app_status("shop", cluster=cluster)
    assert cluster.api.calls[before:] == ["services", "services", "tasks", "tasks", "nodes"]
    (instance,) = status.resource_instances
    assert instance.app == "resource.redis.shop" and [p.proc for p in instance.procs] == ["redis"]


def test_status_of_what_is_not_there(cluster) -> None:
    with pytest.raises(NotFound, match="shop is not deployed on cluster fake"):
        app_status("shop", cluster=cluster)
    with pytest.raises(InvalidArgument, match="app must be an app name"):
        app_status("no_such app", cluster=cluster)


NOW = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc).timestamp()
NODES = {"n1": Node(id="n1", hostname="node-1", address="")}


def stamp(seconds_ago: float) -> str:
    when = datetime.fromtimestamp(NOW - seconds_ago, tz=timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"  # the engine prints nanoseconds


def task(
    task_id: str,
    slot: int,
    state: str,
    desired: str,
    seconds_ago: float,
    err: str = "",
    made_ago: float | None = None,
) -> Task:
    """A task that reached ``state`` ``seconds_ago``, made a second before (or ``made_ago``)."""
    status: dict[str, Any] = {"State": state, "Timestamp": stamp(seconds_ago)}
    if err:
        status["Err"] = err
    return Task.from_engine(
        {
            "ID": task_id,
            "Slot": slot,
            "DesiredState": desired,
            "CreatedAt": stamp(seconds_ago + 1 if made_ago is None else made_ago),
            "NodeID": "n1",
            "Status": status,
        }
    )


def instances(tasks: list[Task], has_check: bool = True) -> dict[int, InstanceStatus]:
    found = instance_statuses(tasks, NODES, has_check, NOW, "lain_shop")
    return {i.instance: i for i in found}


def test_a_failure_long_recovered_from_is_not_pinned_on_a_healthy_instance() -> None:
    found = instances(
        [
            task("old", 1, "failed", "shutdown", 2700, err="task: non-zero exit (255)"),
            task("now", 1, "running", "running", 2690),
            task("clean", 2, "running", "running", 30),
        ]
    )
    assert (found[1].task, found[1].state, found[1].health) == ("now", "running", "healthy")
    assert (found[1].error, found[1].error_age) == ("", None)
    assert (found[2].error, found[2].error_age) == ("", None)


def test_an_instance_killed_when_a_rolling_update_replaced_it_leaves_no_error() -> None:
    # The new task was made first; the old one was killed after its grace period (137).
    found = instances(
        [
            task("old", 1, "failed", "shutdown", 20, err="task: non-zero exit (137)", made_ago=900),
            task("new", 1, "running", "running", 25, made_ago=31),
        ]
    )
    assert (found[1].task, found[1].error, found[1].error_age) == ("new", "", None)


def test_an_instance_that_restarts_after_a_failure_shows_it() -> None:
    crash = "task: non-zero exit (1)"
    restarting = instances(
        [
            task("crashed", 1, "failed", "shutdown", 600, err=crash),
            task("again", 1, "starting", "running", 5, made_ago=599),
        ]
    )
    assert restarting[1].error == crash and restarting[1].error_age == 600
    # Without a healthcheck, back up a moment after crashing (a crash loop runs between its
    # failures): shown too.
    back_up = [
        task("crashed", 1, "failed", "shutdown", 20, err=crash),
        task("again", 1, "running", "running", 10, made_ago=19),
    ]
    back = instances(back_up, has_check=False)
    assert back[1].state == "running" and back[1].error == crash and back[1].error_age == 20
    # With one, running means its check passed: healthy, and the failure is history.
    assert instances(back_up)[1].error == ""


def test_the_current_tasks_own_error_wins_over_older_ones() -> None:
    found = instances(
        [
            task("first", 1, "failed", "shutdown", 600, err="task: non-zero exit (1)"),
            task("again", 1, "starting", "running", 5, err="container is unhealthy"),
        ]
    )
    assert found[1].error == "container is unhealthy"
    age = found[1].error_age
    assert age is not None and 4 <= age <= 6
    assert found[1].to_dict()["error_age"] == found[1].error_age


def test_a_oneshot_shows_its_completed_run_and_does_not_count_against_health(cluster) -> None:
    text = WEB + "oneshot.migrate:\n  cmd: [echo, migrated]\n  memory: 16m\n"
    run(deploy_source(cluster, release_source(text), timeout=5))
    status = app_status("shop", cluster=cluster)
    migrate = {p.proc: p for p in status.procs}["migrate"]
    assert migrate.oneshot and (migrate.completed, migrate.desired, migrate.running) == (1, 1, 0)
    (only,) = migrate.instances
    assert (only.instance, only.state, only.exit_code) == (1, "complete", 0)
    assert status.healthy
    assert status.to_dict()["procs"][1]["completed"] == 1


# -- URLs: from the router's labels on the live services and the cluster's router ports ---------

ROUTED = (
    WEB
    + """\
web.api:
  cmd: httpd -f -p 8080
  port: 8080
  mountpoint: [/api, api.example.org, "*.wild.example.org"]
web.admin:
  cmd: httpd -f -p 80
  https_only: true
  mountpoint: [admin.example.org/console]
"""
)


def test_status_shows_the_urls_the_router_serves_each_web_proc_at(cluster) -> None:
    run(deploy_source(cluster, release_source(ROUTED), timeout=5))
    status = app_status("shop", cluster=cluster)
    procs = {p.proc: p for p in status.procs}
    assert procs["web"].urls == ("http://shop.example.com/",)  # shop.lain left out
    # A host of its own, a path on the app's domain; a wildcard host has no one address.
    assert procs["api"].urls == ("http://api.example.org/", "http://shop.example.com/api")
    assert procs["admin"].urls == ("https://admin.example.org/console",)
    assert procs["mail"].urls == ()
    # The web proc's first, then the others' by name.
    assert status.urls == (
        "http://shop.example.com/",
        "https://admin.example.org/console",
        "http://api.example.org/",
        "http://shop.example.com/api",
    )
    data = status.to_dict()
    assert data["urls"] == list(status.urls)
    assert {p["proc"]: p["urls"] for p in data["procs"]}["admin"] == [
        "https://admin.example.org/console"
    ]
    # The same URLs in one engine call, no lain.yaml needed.
    before = len(cluster.api.calls)
    assert app_urls("shop", cluster=cluster) == status.urls
    assert cluster.api.calls[before:] == ["services"]


def test_urls_name_the_router_port_when_it_is_not_the_schemes_own(cluster) -> None:
    run(deploy_source(cluster, release_source(ROUTED), timeout=5))
    settings = cluster.settings._replace(router=RouterSettings(http_port=8000, https_port=8443))
    moved = fake_cluster(engine=cluster.engine, settings=settings)
    assert app_status("shop", cluster=moved).urls[:2] == (
        "http://shop.example.com:8000/",
        "https://admin.example.org:8443/console",
    )


def test_an_app_with_no_web_proc_or_not_deployed_has_no_urls(cluster) -> None:
    assert app_urls("shop", cluster=cluster) == ()
    run(deploy_source(cluster, release_source(WEB), timeout=5, procs=["mail"]))
    assert app_status("shop", cluster=cluster).urls == ()
    with pytest.raises(InvalidArgument, match="app must be an app name"):
        app_urls("no such app", cluster=cluster)


@pytest.mark.parametrize(
    ("labels", "urls"),
    [
        (
            router_labels(network="n", mountpoints=["a.example.com"], port=80),
            ["http://a.example.com/"],
        ),
        # Only the router's labels count: a stream-only proc, or no labels at all, has none.
        (router_labels(network="n", mountpoints=["a.example.com"]), []),
        ({}, []),
        # Upper case and a trailing dot read as the router reads them; a path keeps its case.
        (
            router_labels(network="n", mountpoints=["A.Example.COM./Docs/"], port=80),
            ["http://a.example.com/Docs"],
        ),
        (
            router_labels(network="n", mountpoints=["x.lain", "b.example.com"], port=80),
            ["http://b.example.com/"],
        ),
        # Labels the router refuses serve nothing: no URL either.
        ({"lain.router.mountpoints": "not json", "lain.router.port": "80"}, []),
        ({"lain.router.mountpoints": '["a b"]', "lain.router.port": "80"}, []),
        ({"lain.router.mountpoints": '["a.example.com", 3]', "lain.router.port": "80"}, []),
        ({"lain.router.mountpoints": '["a.example.com"]', "lain.router.port": "http"}, []),
        (
            router_labels(
                network="n",
                mountpoints=["a.example.com", "a.example.com"],
                port=80,
                https_only=True,
            ),
            ["https://a.example.com/"],
        ),
    ],
)
def test_service_urls_read_the_router_labels(labels: dict[str, str], urls: list[str]) -> None:
    assert list(service_urls(labels)) == urls
