"""Deploying on a fake swarm: create, upgrade, nothing to change, failures put back, scale
wins, removed procs, limited deploys, missing secrets, timeouts, refusals."""

from __future__ import annotations

import pytest
from fakes.base import api_error
from fakes.cluster import CLIENT, REDIS, REGISTRY, WEB, mv, publish, release_source, run
from fakes.swarm import Behaviour

from lain_sdk.cluster.deploy import ENGINE_START_RACE, deploy_app, deploy_source, plan_deploy
from lain_sdk.cluster.history import list_releases
from lain_sdk.cluster.scale import scale_proc
from lain_sdk.cluster.spec import links_of
from lain_sdk.cluster.swarm import app_services
from lain_sdk.errors import (
    ClusterError,
    DeployFailed,
    InvalidArgument,
    NotFound,
    SecretsMissing,
    VersionNotFound,
)
from lain_sdk.events import Message, ProcChanged, ProcProgress
from lain_sdk.git import short_version

TIMEOUT = 5.0


@pytest.fixture
def swarm(cluster):
    return cluster.api


def deploy(cluster, text=WEB, n=1, **kw):
    kw.setdefault("timeout", TIMEOUT)
    return run(deploy_source(cluster, release_source(text, n), **kw))


def images(cluster, app="shop"):
    return {p: s.image for p, s in app_services(cluster, app).items()}


def running(swarm, service):
    found = swarm.service_named(service)
    return [
        t
        for t in swarm.tasks(filters={"service": found["ID"]})
        if t["Status"]["State"] == "running" and t["DesiredState"] == "running"
    ]


def test_a_first_deploy_creates_the_network_and_a_service_per_proc(cluster, swarm) -> None:
    result, events = deploy(cluster)
    assert result.release is not None
    assert (result.release.number, result.release.outcome, result.release.kind) == (
        1,
        "succeeded",
        "deploy",
    )
    created = [e.proc for e in events if isinstance(e, ProcChanged) and e.action == "created"]
    assert sorted(created) == ["mail", "web"]
    assert any(isinstance(e, ProcProgress) and e.state == "converged" for e in events)
    # The app's network, and the one the router reaches its web proc on.
    assert [n["Name"] for n in swarm.networks()] == ["lain_shop", "lain-router_shop"]
    assert len(running(swarm, "shop__web")) == 2 and len(running(swarm, "shop__mail")) == 1
    web = swarm.service_named("shop__web")["Spec"]
    assert web["TaskTemplate"]["ContainerSpec"]["Image"] == release_source(WEB).image
    assert web["Labels"]["lain.release"] == "1"
    assert [r.number for r in list_releases("shop", cluster=cluster)] == [1]


def test_the_same_deploy_again_changes_nothing(cluster, swarm) -> None:
    deploy(cluster)
    before = swarm.calls.count("update_service") + swarm.calls.count("create_service")
    result, events = deploy(cluster)
    assert result.release is None and not result.plan.changed
    assert swarm.calls.count("update_service") + swarm.calls.count("create_service") == before
    assert any(isinstance(e, Message) and "nothing to change" in e.text for e in events)
    assert [r.number for r in list_releases("shop", cluster=cluster)] == [1]


def test_an_upgrade_rolls_every_changed_proc(cluster) -> None:
    deploy(cluster)
    result, events = deploy(cluster, n=2)
    assert result.release.number == 2 and result.release.outcome == "succeeded"
    assert all(mv(2) in image for image in images(cluster).values())
    updated = [e.proc for e in events if isinstance(e, ProcChanged) and e.action == "updated"]
    assert sorted(updated) == ["mail", "web"]
    change = {c.proc: c for c in result.plan.procs}["web"]
    assert change.action == "update" and "image" in change.changes


def test_a_failed_upgrade_puts_every_proc_back_and_names_why(cluster, swarm) -> None:
    deploy(cluster)
    swarm.script(f"{REGISTRY}/shop:release-{mv(2)}", Behaviour(fails="task: non-zero exit (3)"))
    events: list = []
    with pytest.raises(DeployFailed) as failed:
        for event in deploy_source(cluster, release_source(WEB, 2), timeout=TIMEOUT):
            events.append(event)
    error = failed.value
    assert error.app == "shop" and error.release == 2 and error.serving == 1
    assert set(error.procs) <= {"web", "mail"} and error.procs
    assert "non-zero exit (3)" in str(error) and "Release 1" in str(error)
    # Both procs run release 1's image again, and release 2 is recorded as failed.
    assert all(mv(1) in image for image in images(cluster).values())
    history = list_releases("shop", cluster=cluster)
    assert [(r.number, r.outcome) for r in history] == [(1, "succeeded"), (2, "failed")]
    assert "non-zero exit (3)" in history[-1].reason or history[-1].reason


def test_an_update_the_engine_could_not_start_is_made_once_more(cluster, swarm) -> None:
    deploy(cluster)
    image = f"{REGISTRY}/shop:release-{mv(2)}"
    swarm.script(image, Behaviour(fails=ENGINE_START_RACE))
    operation = deploy_source(cluster, release_source(WEB, 2), timeout=TIMEOUT)
    texts = []
    while True:
        try:
            event = next(operation)
        except StopIteration as done:
            result = done.value
            break
        if isinstance(event, Message):
            texts.append(event.text)
            if "deploying once more" in event.text:
                swarm.script(image, Behaviour())  # the engine's second start works
    assert any("a known Swarm bug" in t for t in texts)
    assert result.release.number == 3 and result.release.outcome == "succeeded"
    history = list_releases("shop", cluster=cluster)
    assert [(r.number, r.outcome) for r in history] == [
        (1, "succeeded"),
        (2, "failed"),
        (3, "succeeded"),
    ]


def test_an_update_that_fails_the_same_way_twice_fails(cluster, swarm) -> None:
    deploy(cluster)
    swarm.script(f"{REGISTRY}/shop:release-{mv(2)}", Behaviour(fails=ENGINE_START_RACE))
    with pytest.raises(DeployFailed, match="Address already in use"):
        run(deploy_source(cluster, release_source(WEB, 2), timeout=TIMEOUT))
    history = list_releases("shop", cluster=cluster)
    assert [r.outcome for r in history] == ["succeeded", "failed", "failed"]


def test_a_failed_first_deploy_leaves_what_runs_to_look_at(cluster) -> None:
    cluster.api.script(REGISTRY, Behaviour(fails="exec: not found"))
    with pytest.raises(DeployFailed) as failed:
        deploy(cluster)
    assert failed.value.first_deploy and failed.value.serving is None
    assert "first deploy" in str(failed.value)
    assert set(app_services(cluster, "shop")) == {"web", "mail"}  # nothing removed
    assert list_releases("shop", cluster=cluster)[-1].outcome == "failed"


def test_a_proc_lain_yaml_no_longer_has_is_removed_once_the_rest_runs(cluster) -> None:
    deploy(cluster)
    without_mail = WEB.split("worker.mail:")[0]
    result, events = deploy(cluster, text=without_mail, n=2)
    assert set(app_services(cluster, "shop")) == {"web"}
    removed = [e for e in events if isinstance(e, ProcChanged) and e.action == "removed"]
    assert [e.proc for e in removed] == ["mail"]
    assert set(result.release.procs) == {"web"}


def test_a_deploy_of_some_procs_leaves_the_others_alone(cluster) -> None:
    deploy(cluster)
    result, _ = deploy(cluster, n=2, procs=["web"])
    found = images(cluster)
    assert mv(2) in found["web"] and mv(1) in found["mail"]
    assert set(result.release.procs) == {"web", "mail"}  # the release records the whole app


def test_scaled_values_stay_until_lain_yaml_changes_them(cluster) -> None:
    deploy(cluster)
    run(scale_proc("shop", "web", cluster=cluster, instances=3, timeout=TIMEOUT))
    deploy(cluster, n=2)  # the same lain.yaml: the scaled value stays
    assert app_services(cluster, "shop")["web"].scale.instances == 3
    deploy(cluster, text=WEB.replace("num_instances: 2", "num_instances: 4"), n=3)
    assert app_services(cluster, "shop")["web"].scale.instances == 4  # lain.yaml changed it


def test_a_missing_secret_file_fails_before_anything_changes(cluster, swarm) -> None:
    text = WEB.replace("  memory: 64m\n", "  memory: 64m\n  secret_files: [config.json]\n", 1)
    with pytest.raises(SecretsMissing) as missing:
        deploy(cluster, text=text)
    assert missing.value.missing == (("web", "/lain/app/config.json"),)
    assert missing.value.cluster == "fake"
    assert "create_service" not in swarm.calls and not list_releases("shop", cluster=cluster)


def test_without_waiting_the_release_stays_pending(cluster) -> None:
    result, _ = deploy(cluster, wait=False)
    assert not result.waited and result.release.outcome == "pending"
    # The next deploy of the same version waits for that rollout and settles the release.
    again, events = deploy(cluster)
    assert again.release is None
    assert list_releases("shop", cluster=cluster)[-1].outcome == "succeeded"
    assert any(isinstance(e, Message) and "is now running" in e.text for e in events)


def test_a_rollout_that_does_not_converge_in_time_fails(cluster, swarm) -> None:
    swarm.script(REGISTRY, Behaviour(starts_after=10**9))
    with pytest.raises(DeployFailed) as failed:
        deploy(cluster, timeout=0.05)
    assert "not converged after 0.05s" in str(failed.value)


def test_an_engine_refusal_mid_rollout_puts_back_what_changed(cluster, swarm) -> None:
    deploy(cluster)
    swarm.fail_next["update_service"] = api_error(500, "rpc error: the raft is on fire")
    with pytest.raises(ClusterError) as refused:
        deploy(cluster, n=2)
    assert "the raft is on fire" in str(refused.value)
    assert all(mv(1) in image for image in images(cluster).values())
    assert list_releases("shop", cluster=cluster)[-1].outcome == "failed"


# -- deploy_app: from the registry, with what the app uses -------------------------------------


def test_deploy_app_runs_the_newest_pushed_version_and_logs_the_engine_in(
    cluster, registry
) -> None:
    publish(registry, WEB, 1)
    publish(registry, WEB, 2)
    result, events = run(deploy_app("shop", cluster=cluster, timeout=TIMEOUT))
    assert result.meta_version == mv(2) and result.release.outcome == "succeeded"
    assert (
        isinstance(events[0], Message)
        and events[0].text == f"deploying shop {short_version(mv(2))} to cluster fake"
    )
    assert cluster.api.logged_in == []  # an open registry: no credentials to hand over
    web = cluster.api.service_named("shop__web")["Spec"]["TaskTemplate"]["ContainerSpec"]
    assert (
        web["Image"]
        == f"{REGISTRY}/shop:release-{mv(2)}@"
        + registry.manifest("shop", f"release-{mv(2)}").digest
    )


def test_deploy_app_of_a_version_that_is_not_pushed(cluster, registry) -> None:
    publish(registry, WEB, 1)
    with pytest.raises(VersionNotFound) as missing:
        run(deploy_app("shop", cluster=cluster, version="1-abc"))
    assert missing.value.version == "1-abc" and missing.value.newest == (mv(1),)
    assert cluster.api.swarm_services == {}


def test_plan_deploy_says_what_would_change_and_changes_nothing(cluster, registry) -> None:
    publish(registry, WEB, 1)
    plan = plan_deploy("shop", cluster=cluster)
    assert plan.changed and plan.create_network and plan.current_release is None
    assert {c.proc: c.action for c in plan.procs} == {"web": "create", "mail": "create"}
    assert cluster.api.swarm_services == {} and cluster.api.swarm_configs == {}
    run(deploy_app("shop", cluster=cluster, timeout=TIMEOUT))
    publish(registry, WEB.replace("memory: 64m", "memory: 128m"), 2)
    plan = plan_deploy("shop", cluster=cluster, procs=["web"])
    (web,) = plan.procs
    assert web.action == "update" and web.changes["memory"] == {"from": 64 << 20, "to": 128 << 20}
    assert plan.to_dict()["current_release"] == 1


def test_a_client_deploys_its_resource_instance_first(cluster, registry) -> None:
    publish(registry, REDIS, 1)
    publish(registry, CLIENT, 1)
    plan = plan_deploy("shop", cluster=cluster)
    assert [p.app for p in plan.resource_instances] == ["resource.redis.shop"]
    result, events = run(deploy_app("shop", cluster=cluster, timeout=TIMEOUT))
    (instance,) = result.resource_instances
    assert instance.app == "resource.redis.shop" and instance.release.outcome == "succeeded"
    assert app_services(cluster, "resource.redis.shop")["redis"].scale.memory == 64 << 20
    first_client_event = next(
        i for i, e in enumerate(events) if isinstance(e, ProcChanged) and e.app == "shop"
    )
    assert all(
        e.app == "resource.redis.shop"
        for e in events[:first_client_event]
        if isinstance(e, ProcChanged)
    )
    # The client joins the instance's link network, where the instance's redis answers to
    # its service name (and nothing else of the instance is).
    networks = cluster.api.service_named("shop__web")["Spec"]["TaskTemplate"]["Networks"]
    assert [n["Target"] for n in networks] == [
        "lain_shop",
        "lain_resource_redis_shop--shop",
        "lain-router_shop",
    ]
    redis = cluster.api.service_named("resource_redis_shop__redis")["Spec"]
    assert redis["TaskTemplate"]["Networks"] == [
        {"Target": "lain_resource_redis_shop", "Aliases": ["redis"]},
        {"Target": "lain_resource_redis_shop--shop", "Aliases": ["redis"]},
    ]
    assert links_of(redis) == {"shop": ["redis"]}
    # Deployed again, nothing changes: the instance finds its client by its labels now.
    again, _ = run(deploy_app("shop", cluster=cluster, timeout=TIMEOUT))
    assert again.release is None and again.resource_instances[0].release is None


def test_deploying_a_resource_app_records_the_version_new_instances_get(cluster, registry) -> None:
    publish(registry, REDIS, 1)
    result, _events = run(deploy_app("redis", cluster=cluster, timeout=TIMEOUT))
    assert result.release.meta_version == mv(1) and result.release.procs == {}
    assert cluster.api.swarm_services == {}
    again, _ = run(deploy_app("redis", cluster=cluster, timeout=TIMEOUT))
    assert again.release is None and again.plan.current_release == 1
    assert plan_deploy("redis", cluster=cluster).procs == ()


def test_an_instance_keeps_its_version_until_it_is_deployed_itself(cluster, registry) -> None:
    publish(registry, REDIS, 1)
    publish(registry, CLIENT, 1)
    run(deploy_app("shop", cluster=cluster, timeout=TIMEOUT))
    publish(registry, REDIS, 2)
    run(
        deploy_app("shop", cluster=cluster, timeout=TIMEOUT)
    )  # the client again: the instance stays
    assert mv(1) in app_services(cluster, "resource.redis.shop")["redis"].image
    run(deploy_app("resource.redis.shop", cluster=cluster, timeout=TIMEOUT))  # the instance itself
    assert mv(2) in app_services(cluster, "resource.redis.shop")["redis"].image


def test_an_instance_of_a_client_that_never_ran(cluster, registry) -> None:
    publish(registry, REDIS, 1)
    with pytest.raises(NotFound, match="shop has no release on cluster fake; deploy shop"):
        run(deploy_app("resource.redis.shop", cluster=cluster, timeout=TIMEOUT))


@pytest.mark.parametrize(
    ("kw", "says"),
    [
        ({"cluster": 3}, "cluster must be a Cluster"),
        ({"procs": "web"}, "procs must be a list of proc names"),
        ({"version": 7}, "version must be a string"),
        ({"timeout": -1}, "timeout must be a positive number"),
        ({"wait": "no"}, "wait must be True or False"),
    ],
)
def test_deploy_app_refuses_wrong_arguments_clearly(cluster, kw, says) -> None:
    kw.setdefault("cluster", cluster)
    with pytest.raises(InvalidArgument, match=says):
        run(deploy_app("shop", **kw))
    with pytest.raises(InvalidArgument, match="app must be an app name"):
        run(deploy_app("my_app", cluster=cluster))


MIGRATE = WEB + "oneshot.migrate:\n  cmd: [echo, migrated]\n  memory: 16m\n"


def job_tasks(swarm, service):
    found = swarm.service_named(service)
    return swarm.tasks(filters={"service": found["ID"]})


def test_a_oneshot_is_a_job_that_runs_once_per_change(cluster, swarm) -> None:
    deploy(cluster, MIGRATE)
    spec = swarm.service_named("shop__migrate")["Spec"]
    assert spec["Mode"] == {"ReplicatedJob": {"MaxConcurrent": 1, "TotalCompletions": 1}}
    assert "UpdateConfig" not in spec  # Swarm gives jobs no rollout
    assert [t["Status"]["State"] for t in job_tasks(swarm, "shop__migrate")] == ["complete"]
    # Deployed again unchanged, it does not run again; a new version runs it once more.
    again, _ = deploy(cluster, MIGRATE)
    assert again.release is None and len(job_tasks(swarm, "shop__migrate")) == 1
    upgraded, _ = deploy(cluster, MIGRATE, n=2)
    assert upgraded.release.outcome == "succeeded"
    assert [t["Status"]["State"] for t in job_tasks(swarm, "shop__migrate")] == ["complete"] * 2


def test_a_oneshot_made_by_an_older_lain_becomes_a_job(cluster, swarm) -> None:
    deploy(cluster, MIGRATE)
    old = swarm.service_named("shop__migrate")
    spec = dict(old["Spec"], Mode={"Replicated": {"Replicas": 1}})
    swarm.remove_service(old["ID"])
    swarm.create_service(
        spec["TaskTemplate"],
        name=spec["Name"],
        labels={**spec["Labels"], "lain.spec-hash": "old"},
        mode=spec["Mode"],
    )
    result, events = deploy(cluster, MIGRATE)
    assert [(e.proc, e.action) for e in events if isinstance(e, ProcChanged)] == [
        ("migrate", "replaced")
    ]
    assert "ReplicatedJob" in swarm.service_named("shop__migrate")["Spec"]["Mode"]
    assert result.release.outcome == "succeeded"


def test_a_failed_oneshot_fails_the_deploy_and_is_not_run_again_to_undo_it(cluster, swarm) -> None:
    deploy(cluster, MIGRATE)
    swarm.script(
        f"{REGISTRY}/shop:release-{mv(2)}", Behaviour(fails="migration failed", exit_code=3)
    )
    with pytest.raises(DeployFailed) as failed:
        deploy(cluster, MIGRATE, n=2)
    assert failed.value.procs == ("migrate",)
    # web was put back; the oneshot's failed run stays as it ran (no third run).
    assert mv(1) in images(cluster)["web"]
    assert len(job_tasks(swarm, "shop__migrate")) == 2
