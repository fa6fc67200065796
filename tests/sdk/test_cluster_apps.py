"""The apps on a cluster at a glance, in a constant number of engine calls."""

from __future__ import annotations

import pytest
from fakes.cluster import (
    CLIENT,
    REDIS,
    REGISTRY,
    WEB,
    fake_cluster,
    instance_source,
    mv,
    release_source,
    run,
)
from fakes.swarm import Behaviour

import lain_sdk
from lain_sdk.cluster.apps import AppSummary, ProcSummary, list_apps
from lain_sdk.cluster.deploy import deploy_source
from lain_sdk.cluster.names import LABEL_APP, LABEL_ONEOFF, LABEL_PROC, LABEL_SECRET_READER
from lain_sdk.cluster.status import app_status
from lain_sdk.cluster.undeploy import undeploy_app
from lain_sdk.errors import InvalidArgument

ROUTED = WEB.replace("  memory: 64m\n", "  memory: 64m\n  mountpoint: [api.example.org/v1]\n", 1)
BLOG = """\
appname: blog
build:
  base: busybox
worker:
  cmd: [sh, -c, "sleep 1000"]
"""


@pytest.fixture
def cluster():
    return fake_cluster()


def deploy(cluster, text: str, n: int = 1, **options) -> None:
    run(deploy_source(cluster, release_source(text, n), timeout=5, **options))


def by_name(cluster, **options) -> dict[str, AppSummary]:
    return {a.app: a for a in list_apps(cluster=cluster, **options)}


def test_each_app_with_its_release_procs_health_and_urls(cluster) -> None:
    deploy(cluster, ROUTED)
    deploy(cluster, BLOG, n=2)
    found = list_apps(cluster=cluster)
    assert [a.app for a in found] == ["blog", "shop"]
    blog, shop = found
    assert (shop.release, shop.version, shop.health) == (1, mv(1), "healthy")
    assert [(p.proc, p.proctype, p.running, p.desired) for p in shop.procs] == [
        ("mail", "worker", 1, 1),
        ("web", "web", 2, 2),
    ]
    assert shop.urls == ("http://api.example.org/v1", "http://shop.example.com/")
    assert (blog.version, blog.urls, blog.resource, blog.client) == (mv(2), (), "", "")
    data = shop.to_dict()
    assert data["health"] == "healthy" and data["deployed"] and data["client"] is None
    assert data["procs"][1] == {
        "proc": "web",
        "proctype": "web",
        "version": mv(1),
        "release": 1,
        "running": 2,
        "desired": 2,
        "oneshot": False,
        "completed": 0,
        "update_state": "",
        "urls": ["http://api.example.org/v1", "http://shop.example.com/"],
    }


def test_the_whole_cluster_costs_three_engine_calls_however_many_apps(cluster) -> None:
    for n, name in enumerate(["shop", "blog", "wiki", "mail"], start=1):
        deploy(cluster, WEB.replace("appname: shop", f"appname: {name}"), n=n)
    before = len(cluster.api.calls)
    assert len(list_apps(cluster=cluster)) == 4
    assert cluster.api.calls[before:] == ["services", "tasks", "nodes"]
    before = len(cluster.api.calls)
    list_apps(cluster=cluster, include_undeployed=True)
    assert cluster.api.calls[before:] == ["services", "tasks", "nodes", "configs"]


def test_health_is_what_ps_calls_healthy(cluster) -> None:
    deploy(cluster, WEB)
    cluster.api.script(REGISTRY, Behaviour(unhealthy=True, starts_after=5))
    (shop,) = list_apps(cluster=cluster)  # the running tasks fail their checks now
    assert shop.health == "not healthy"
    assert not app_status("shop", cluster=cluster).healthy


def test_a_rollout_under_way_is_updating(cluster) -> None:
    deploy(cluster, WEB)
    cluster.api.script(f"{REGISTRY}/shop:release-{mv(2)}", Behaviour(starts_after=10**9))
    deploy(cluster, WEB.replace("num_instances: 2", "num_instances: 3"), n=2, wait=False)
    (shop,) = list_apps(cluster=cluster)
    assert shop.health == "updating" and shop.release == 2
    web = {p.proc: p for p in shop.procs}["web"]
    assert (web.update_state, web.running, web.desired) == ("updating", 2, 3)


def test_a_oneshot_counts_its_completed_runs_not_against_health(cluster) -> None:
    deploy(cluster, WEB + "oneshot.migrate:\n  cmd: [echo, migrated]\n  memory: 16m\n")
    (shop,) = list_apps(cluster=cluster)
    migrate = {p.proc: p for p in shop.procs}["migrate"]
    assert migrate.oneshot and (migrate.completed, migrate.running, migrate.desired) == (1, 0, 1)
    assert shop.health == "healthy"


def test_a_resource_instance_follows_the_app_it_serves(cluster) -> None:
    deploy(cluster, BLOG)
    run(deploy_source(cluster, instance_source(REDIS, "redis", "shop"), timeout=5))
    run(deploy_source(cluster, release_source(CLIENT), timeout=5))
    found = list_apps(cluster=cluster)
    assert [a.app for a in found] == ["blog", "shop", "resource.redis.shop"]
    instance = found[2]
    assert (instance.resource, instance.client) == ("redis", "shop")
    assert [p.proc for p in instance.procs] == ["redis"] and instance.health == "healthy"
    assert instance.to_dict()["client"] == "shop"


def test_helper_services_are_neither_apps_nor_procs(cluster) -> None:
    deploy(cluster, WEB)
    reader = {LABEL_APP: "shop", LABEL_SECRET_READER: "1"}
    cluster.api.create_service(
        {"ContainerSpec": {"Image": "busybox"}}, name="lain-secret-read-1", labels=reader
    )
    # One-off tasks: known by their label, and by a name that is no proc's.
    oneoff = {LABEL_APP: "shop", LABEL_PROC: "web", LABEL_ONEOFF: "1"}
    cluster.api.create_service(
        {"ContainerSpec": {"Image": "busybox"}}, name="shop__web-oneoff-1", labels=oneoff
    )
    cluster.api.create_service(
        {"ContainerSpec": {"Image": "busybox"}},
        name="shop__migrate",
        labels={**oneoff, LABEL_PROC: "migrate"},
    )
    cluster.api.create_service(
        {"ContainerSpec": {"Image": "busybox"}},
        name="shop__web-run-1",
        labels={LABEL_APP: "shop", LABEL_PROC: "web"},
    )
    # A helper of an app that has no procs makes no app.
    cluster.api.create_service(
        {"ContainerSpec": {"Image": "busybox"}},
        name="lain-secret-read-2",
        labels={LABEL_APP: "blog", LABEL_SECRET_READER: "1"},
    )
    (shop,) = list_apps(cluster=cluster)
    assert [p.proc for p in shop.procs] == ["mail", "web"]
    assert {p.proc: p for p in shop.procs}["web"].running == 2


def test_an_undeployed_app_is_listed_only_when_asked_for(cluster) -> None:
    deploy(cluster, WEB)
    deploy(cluster, BLOG)
    deploy(cluster, BLOG.replace("sleep 1000", "sleep 2000"), n=2)
    run(undeploy_app("blog", cluster=cluster, timeout=5))
    assert [a.app for a in list_apps(cluster=cluster)] == ["shop"]
    found = by_name(cluster, include_undeployed=True)
    assert sorted(found) == ["blog", "shop"]
    blog = found["blog"]
    assert (blog.release, blog.version, blog.health, blog.procs) == (2, mv(2), "undeployed", ())
    assert not blog.to_dict()["deployed"] and found["shop"].health == "healthy"


def test_an_empty_cluster_has_no_apps_and_arguments_are_checked(cluster) -> None:
    before = len(cluster.api.calls)
    assert list_apps(cluster=cluster) == []
    assert cluster.api.calls[before:] == ["services"]  # nothing else to look at
    with pytest.raises(InvalidArgument, match="include_undeployed"):
        list_apps(cluster=cluster, include_undeployed="yes")  # type: ignore[arg-type]


def test_the_summaries_are_public() -> None:
    assert lain_sdk.list_apps is list_apps
    assert lain_sdk.AppSummary is AppSummary and lain_sdk.ProcSummary is ProcSummary
