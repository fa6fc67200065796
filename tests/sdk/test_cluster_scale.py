"""Scaling a proc and restarting procs on a fake swarm."""

from __future__ import annotations

import pytest
from fakes.cluster import REGISTRY, WEB, fake_cluster, mv, release_source, run
from fakes.swarm import Behaviour

from lain_sdk.cluster.deploy import deploy_source
from lain_sdk.cluster.history import list_releases
from lain_sdk.cluster.scale import restart_app, scale_proc
from lain_sdk.cluster.sizing import MAX_CPU, MAX_INSTANCES
from lain_sdk.cluster.swarm import app_services
from lain_sdk.errors import DeployFailed, InvalidArgument, NotFound
from lain_sdk.events import Message, ProcChanged

TIMEOUT = 5.0


@pytest.fixture
def cluster():
    session = fake_cluster()
    run(deploy_source(session, release_source(WEB), timeout=TIMEOUT))
    return session


def scale(cluster, proc="web", **kw):
    kw.setdefault("timeout", TIMEOUT)
    return run(scale_proc("shop", proc, cluster=cluster, **kw))


def test_scale_changes_instances_cpu_and_memory_in_one_release(cluster) -> None:
    result, events = scale(cluster, instances=3, cpu=0.5, memory="128m")
    web = app_services(cluster, "shop")["web"]
    assert (web.scale.instances, web.scale.cpu, web.scale.memory) == (3, 0.5, 128 << 20)
    assert web.yaml_scale is not None and web.yaml_scale.instances == 2  # lain.yaml's, kept
    assert result.release.kind == "scale" and result.release.outcome == "succeeded"
    change = result.plan.procs[0]
    assert change.changes["instances"] == {"from": 2, "to": 3}
    assert "instances 2 -> 3" in change.summary() and "memory 64m -> 128m" in change.summary()
    assert result.release.procs["web"].instances == 3
    assert result.release.procs["mail"].instances == 1  # the release holds the whole app
    assert any(isinstance(e, ProcChanged) and e.action == "updated" for e in events)


def test_scaling_to_what_runs_changes_nothing(cluster) -> None:
    result, events = scale(cluster, instances=2)
    assert result.release is None
    assert any(isinstance(e, Message) and "already has 2 instance(s)" in e.text for e in events)
    assert [r.kind for r in list_releases("shop", cluster=cluster)] == ["deploy"]


@pytest.mark.parametrize(
    ("kw", "says"),
    [
        ({}, "give at least one of"),
        ({"instances": -1}, "instances must be a whole number >= 0"),
        ({"instances": True}, "instances must be a whole number"),
        ({"cpu": 0}, "cpu must be a number of CPUs from 0.01 to 1024, not 0"),
        ({"memory": "lots"}, "is not a memory size"),
        ({"memory": "1m"}, "at least 6m"),
        ({"instances": 1, "timeout": 0}, "timeout must be a positive number"),
    ],
)
def test_bad_values_are_refused_before_anything_happens(cluster, kw, says) -> None:
    with pytest.raises(InvalidArgument, match=says):
        scale(cluster, **kw)


# Values the engine would accept (or choke on): each is refused before anything is sent.
@pytest.mark.parametrize(
    ("kw", "says"),
    [
        ({"instances": 1001}, "instances must be a whole number from 0 to 1000, not 1001"),
        ({"instances": 100_000_000_000}, "from 0 to 1000, not 100000000000"),
        ({"instances": 10**23}, "from 0 to 1000, not 100000000000000000000000"),
        ({"cpu": float("inf")}, "cpu must be a number of CPUs from 0.01 to 1024, not inf"),
        ({"cpu": float("nan")}, "cpu must be a number of CPUs from 0.01 to 1024, not nan"),
        ({"cpu": 1e30}, "from 0.01 to 1024, not 1e"),
        ({"cpu": 10**400}, "from 0.01 to 1024, not 1000"),
        ({"cpu": 0.001}, "from 0.01 to 1024, not 0.001"),
        ({"memory": "999999999999999999999g"}, r"memory must be at most 1024g \(1 TiB"),
        ({"memory": "1025g"}, r"at most 1024g \(1 TiB, lain's maximum\), not '1025g'"),
        ({"memory": (1 << 40) + 1}, "at most 1024g"),
        ({"memory": "9" * 5000 + "g"}, "is not a memory size"),
    ],
)
def test_values_out_of_bounds_never_reach_the_engine(cluster, kw, says) -> None:
    sent = list(cluster.api.calls)
    with pytest.raises(InvalidArgument, match=says):
        scale(cluster, **kw)
    assert cluster.api.calls == sent  # not even the lock was asked for
    assert [r.kind for r in list_releases("shop", cluster=cluster)] == ["deploy"]
    assert app_services(cluster, "shop")["web"].scale.instances == 2


def test_the_bounds_themselves_are_accepted(cluster) -> None:
    result, _ = scale(cluster, instances=MAX_INSTANCES, cpu=MAX_CPU, memory="1024g", wait=False)
    web = app_services(cluster, "shop")["web"]
    assert (web.scale.instances, web.scale.cpu, web.scale.memory) == (1000, 1024.0, 1 << 40)
    assert result.release.procs["web"].instances == 1000


def test_a_proc_that_is_not_deployed_is_named(cluster) -> None:
    with pytest.raises(NotFound, match="proc cron of shop is not deployed on cluster fake"):
        scale(cluster, proc="cron", instances=1)


def test_a_scale_whose_instances_fail_is_put_back(cluster) -> None:
    # New instances of the running image fail from now on: a scale-up cannot converge.
    cluster.api.script(REGISTRY, Behaviour(fails="no space left on device"))
    with pytest.raises(DeployFailed) as failed:
        scale(cluster, instances=3)
    assert failed.value.procs == ("web",) and failed.value.release == 2
    assert app_services(cluster, "shop")["web"].scale.instances == 2
    assert list_releases("shop", cluster=cluster)[-1].outcome == "failed"


def test_restart_replaces_every_instance_and_records_no_release(cluster) -> None:
    swarm = cluster.api
    before = {t["ID"] for t in swarm.tasks() if t["DesiredState"] == "running"}
    result, events = run(restart_app("shop", cluster=cluster, timeout=TIMEOUT))
    assert result.restarted == ("mail", "web") and result.waited
    after = {t["ID"] for t in swarm.tasks() if t["DesiredState"] == "running"}
    assert len(after) == 3 and not before & after
    assert [r.number for r in list_releases("shop", cluster=cluster)] == [1]
    assert [e.detail for e in events if isinstance(e, ProcChanged)] == ["restart", "restart"]


def test_restart_of_some_procs(cluster) -> None:
    result, _ = run(restart_app("shop", ["web"], cluster=cluster, timeout=TIMEOUT))
    assert result.restarted == ("web",)
    with pytest.raises(NotFound, match="proc cron of shop is not deployed"):
        run(restart_app("shop", ["cron"], cluster=cluster, timeout=TIMEOUT))
    with pytest.raises(InvalidArgument, match="procs must be a list of proc names"):
        run(restart_app("shop", "web", cluster=cluster))


def test_restart_of_an_app_that_is_not_deployed(cluster) -> None:
    with pytest.raises(NotFound, match="other is not deployed on cluster fake"):
        run(restart_app("other", cluster=cluster, timeout=TIMEOUT))


def test_a_restart_whose_fresh_instances_fail_says_so(cluster) -> None:
    cluster.api.script(f"{REGISTRY}/shop:release-{mv(1)}", Behaviour(fails="oom killed"))
    with pytest.raises(DeployFailed) as failed:
        run(restart_app("shop", ["web"], cluster=cluster, timeout=TIMEOUT))
    assert str(failed.value).startswith("the restart of shop failed:")
    assert "oom killed" in str(failed.value)


def test_restart_runs_a_named_oneshot_once_more_and_leaves_it_alone_otherwise() -> None:
    cluster = fake_cluster()
    text = WEB + "oneshot.migrate:\n  cmd: [echo, migrated]\n  memory: 16m\n"
    run(deploy_source(cluster, release_source(text), timeout=TIMEOUT))
    swarm = cluster.api
    migrate = swarm.service_named("shop__migrate")["ID"]

    def runs() -> list[str]:
        return [t["Status"]["State"] for t in swarm.tasks(filters={"service": migrate})]

    result, events = run(restart_app("shop", cluster=cluster, timeout=TIMEOUT))
    assert "migrate" not in result.restarted and runs() == ["complete"]
    assert any("migrate is a oneshot" in getattr(e, "text", "") for e in events)
    result, _ = run(restart_app("shop", ["migrate"], cluster=cluster, timeout=TIMEOUT))
    assert result.restarted == ("migrate",) and runs() == ["complete", "complete"]
