"""A command in a running instance: which instance, on which node's engine, and its exit status."""

from __future__ import annotations

from typing import Any

import pytest
from fakes.cluster import WEB, release_source, run
from fakes.images import FakeContainer

from lain_sdk.cluster.deploy import deploy_source
from lain_sdk.cluster.exec import exec_in_instance, pick_instance
from lain_sdk.cluster.views import Task
from lain_sdk.errors import ClusterError, InvalidArgument, NotFound


def task(
    slot: int, state: str = "running", created: str = "2024-01-01T00:00:00Z", **kw: Any
) -> Task:
    return Task.from_engine(
        {
            "ID": f"task-{slot}-{created}",
            "Slot": slot,
            "NodeID": kw.get("node", "node-a"),
            "CreatedAt": created,
            "DesiredState": kw.get("desired", "running"),
            "Status": {
                "State": state,
                "ContainerStatus": {"ContainerID": f"c{slot}-{created[8:10]}"},
            },
        }
    )


def test_pick_instance() -> None:
    tasks = [
        task(2),
        task(1, created="2024-01-01T00:00:00Z"),
        task(1, created="2024-01-02T00:00:00Z"),  # the newer task of instance 1 (an update)
        task(3, state="starting"),
        task(4, desired="shutdown"),
    ]
    chosen = pick_instance("shop", "web", tasks, None)
    assert (chosen.instance, chosen.task) == (1, "task-1-2024-01-02T00:00:00Z")
    assert pick_instance("shop", "web", tasks, 2).container == "c2-01"
    with pytest.raises(NotFound, match=r"instance 3 of shop web is not running \(running: 1, 2\)"):
        pick_instance("shop", "web", tasks, 3)
    with pytest.raises(NotFound, match="no instance of shop web is running"):
        pick_instance("shop", "web", [task(1, state="failed")], None)


# -- a command in an instance on the fake engine -------------------------------------------------


@pytest.fixture
def deployed(cluster, fake_docker, base_image):
    """shop deployed, each of web's task containers a container of the engine (busybox)."""
    run(deploy_source(cluster, release_source(WEB), timeout=5))
    store = fake_docker.engine
    image = store.find_image(base_image)
    for t in fake_docker.api.tasks(filters={"service": "shop__web"}):
        container_id = t["Status"]["ContainerStatus"]["ContainerID"]
        store.containers[container_id] = FakeContainer(
            container_id,
            f"shop__web.{t['Slot']}",
            base_image,
            image.id,
            {"Env": [f"LAIN_INSTANCE_NO={t['Slot']}"]},
            0,
            state="running",
        )
    return cluster


def test_a_command_runs_in_the_chosen_instance_and_exits_with_its_status(
    deployed, fake_docker
) -> None:
    fake_docker.engine.on_command("cat /etc/motd", output="hello from the instance\n", exit_code=3)
    session = exec_in_instance("shop", "web", ["cat", "/etc/motd"], cluster=deployed, instance=2)
    assert session.instance.instance == 2 and session.instance.proc == "web"
    assert list(session.output()) == [("stdout", b"hello from the instance\n")]
    assert session.exit_code() == 3
    session.close()
    (ran,) = [r for r in fake_docker.engine.ran if r.argv == ["cat", "/etc/motd"]]
    assert ran.env["LAIN_INSTANCE_NO"] == "2"


def test_exec_refuses_what_it_cannot_run(deployed) -> None:
    with pytest.raises(InvalidArgument, match="command must be a non-empty list of strings"):
        exec_in_instance("shop", "web", "ls -l", cluster=deployed)
    with pytest.raises(InvalidArgument, match="instance must be a whole number >= 1"):
        exec_in_instance("shop", "web", ["ls"], cluster=deployed, instance=0)
    with pytest.raises(NotFound, match=r"instance 5 of shop web is not running \(running: 1, 2\)"):
        exec_in_instance("shop", "web", ["ls"], cluster=deployed, instance=5)


def test_an_instance_on_a_node_lain_cannot_reach_is_named(deployed, fake_docker) -> None:
    api = fake_docker.api
    api.add_node("node-worker-2", "worker-2", "10.0.0.2")
    for service in api.swarm_services.values():
        for t in service.tasks:
            t.doc["NodeID"] = "node-worker-2"
    with pytest.raises(
        ClusterError,
        match=r"runs on node worker-2 \(10\.0\.0\.2\), and lain reaches only the engine of",
    ):
        exec_in_instance("shop", "web", ["ls"], cluster=deployed)
