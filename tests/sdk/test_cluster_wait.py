"""Waiting for a rollout: converged, failing instances, rollbacks, oneshots, timeouts, and the
details a failure carries."""

from __future__ import annotations

import re

import pytest
from fakes.cluster import REGISTRY, fake_cluster, run
from fakes.swarm import Behaviour

from lain_sdk.cluster.wait import Target, wait_for
from lain_sdk.events import ProcProgress

IMAGE = f"{REGISTRY}/shop:release-1"
SPEC = {
    "ContainerSpec": {"Image": IMAGE},
    "RestartPolicy": {"Condition": "any"},
}


@pytest.fixture
def cluster():
    return fake_cluster()


def service(cluster, name="shop__web", replicas=2, restart="any", image=IMAGE) -> Target:
    template = {**SPEC, "ContainerSpec": {"Image": image}, "RestartPolicy": {"Condition": restart}}
    since = cluster.clock()
    created = cluster.api.create_service(
        template,
        name=name,
        mode={"Replicated": {"Replicas": replicas}},
        update_config={"FailureAction": "rollback", "Order": "start-first"},
    )
    return Target(name.split("__")[1], created["ID"], "created", since)


def test_a_healthy_proc_converges_and_its_progress_is_told(cluster) -> None:
    target = service(cluster)
    failures, events = run(wait_for(cluster, "shop", [target], timeout=5))
    assert failures == []
    states = [(e.running, e.desired, e.state) for e in events if isinstance(e, ProcProgress)]
    assert states[-1] == (2, 2, "converged") and all(d == 2 for _, d, _ in states)
    assert len(states) == len(set(states))  # told only when it changes


def test_instances_that_keep_failing_fail_the_proc_with_their_error_and_logs(cluster) -> None:
    cluster.api.script(
        IMAGE,
        Behaviour(
            fails="task: non-zero exit (2)",
            logs=("cannot bind :80",),
            health_output="curl: refused",
        ),
    )
    target = service(cluster)
    failures, _ = run(wait_for(cluster, "shop", [target], timeout=5))
    (failure,) = failures
    assert failure.proc == "web"
    assert re.match(
        r"instances keep failing \(\d+ failed tasks\): task: non-zero exit \(2\)", failure.reason
    )
    assert failure.task_error == "task: non-zero exit (2) (healthcheck said: curl: refused)"
    assert failure.logs == ("cannot bind :80",)
    assert "last log lines:\n    cannot bind :80" in failure.describe()


def test_a_oneshot_converges_when_its_tasks_complete(cluster) -> None:
    cluster.api.script(IMAGE, Behaviour(completes=True))
    target = service(cluster, "shop__migrate", replicas=1, restart="none")
    failures, _ = run(wait_for(cluster, "shop", [target], timeout=5))
    assert failures == []


def test_a_proc_that_is_still_starting_at_the_timeout_fails_with_where_it_stood(cluster) -> None:
    cluster.api.script(IMAGE, Behaviour(starts_after=10**9))
    target = service(cluster)
    failures, _ = run(wait_for(cluster, "shop", [target], timeout=0.01))
    assert failures[0].reason == "not converged after 0.01s (0/2 instances running, starting)"


def test_a_removed_service_fails_at_once(cluster) -> None:
    target = service(cluster)
    cluster.api.remove_service(target.service_id)
    failures, _ = run(wait_for(cluster, "shop", [target], timeout=5))
    assert failures[0].reason == "its service was removed"


def test_an_update_swarm_rolls_back_is_a_failure_naming_the_task(cluster) -> None:
    target = service(cluster)
    run(wait_for(cluster, "shop", [target], timeout=5))
    bad = f"{REGISTRY}/shop:release-2"
    cluster.api.script(bad, Behaviour(fails="exec format error"))
    current = cluster.api.inspect_service(target.service_id)
    since = cluster.clock()
    spec = current["Spec"]
    cluster.api.update_service(
        target.service_id,
        current["Version"]["Index"],
        task_template={**spec["TaskTemplate"], "ContainerSpec": {"Image": bad}},
        name=spec["Name"],
        mode=spec["Mode"],
        update_config=spec["UpdateConfig"],
    )
    failures, _ = run(
        wait_for(cluster, "shop", [Target("web", target.service_id, "updated", since)], timeout=5)
    )
    (failure,) = failures
    assert failure.rolling_back
    assert failure.reason.startswith("the new version failed and Swarm rolled the service back")
    assert failure.task_error == "exec format error"
    # Waiting for the rollback itself (settle) ends when the old version runs again.
    settle = Target("web", target.service_id, "restored", since, settle=True)
    assert run(wait_for(cluster, "shop", [settle], timeout=5))[0] == []


def test_without_stop_on_failure_every_proc_is_judged(cluster) -> None:
    cluster.api.script(f"{REGISTRY}/bad", Behaviour(fails="nope"))
    good, bad = service(cluster), service(cluster, "shop__mail", image=f"{REGISTRY}/bad")
    failures, events = run(wait_for(cluster, "shop", [good, bad], timeout=5, stop_on_failure=False))
    assert [f.proc for f in failures] == ["mail"]
    assert any(
        isinstance(e, ProcProgress) and e.proc == "web" and e.state == "converged" for e in events
    )


def test_a_rolling_update_tells_old_instances_that_still_serve_from_new_ones(cluster) -> None:
    target = service(cluster)
    run(wait_for(cluster, "shop", [target], timeout=5))
    current = cluster.api.inspect_service(target.service_id)
    since = cluster.clock()
    spec = current["Spec"]
    cluster.api.update_service(
        target.service_id,
        current["Version"]["Index"],
        task_template={**spec["TaskTemplate"], "ContainerSpec": {"Image": f"{IMAGE}-2"}},
        name=spec["Name"],
        mode=spec["Mode"],
        update_config=spec["UpdateConfig"],
    )
    updated = Target("web", target.service_id, "updated", since)
    failures, events = run(wait_for(cluster, "shop", [updated], timeout=5))
    assert failures == []
    seen = [(e.running, e.old_running, e.state) for e in events if isinstance(e, ProcProgress)]
    # Start first, one slot at a time: the old instances serve until new ones replace them.
    assert (1, 1, "updating") in seen
    assert seen[-1] == (2, 0, "converged")
    assert events[-1].to_dict()["old_running"] == 0 and events[-1].to_dict()["running"] == 2
