"""lain_sdk.cluster.nodes: listing, adding, labelling, draining, activating and removing nodes,
and the cluster's status, on the fake swarm (a real multi-node swarm is for the integration
tests)."""

from __future__ import annotations

import pytest
from fakes.base import api_error
from fakes.cluster import WEB, release_source, run
from fakes.engine import FakeDockerClient
from fakes.swarm import Behaviour

from lain_sdk.cluster.deploy import deploy_source
from lain_sdk.cluster.names import data_label
from lain_sdk.cluster.nodes import (
    activate_node,
    add_node,
    cluster_status,
    drain_node,
    find_node,
    label_node,
    list_nodes,
    remove_node,
)
from lain_sdk.errors import (
    ClusterError,
    InvalidArgument,
    LainTimeout,
    NodeNotFound,
    NodeRefused,
    NotFound,
)
from lain_sdk.events import Message

WORKER = "node-worker-2"
DB_KEY, DB_VALUE = data_label("shop", "db")


@pytest.fixture
def swarm(cluster):
    """The fake manager's swarm with a worker, ``worker-2``, besides ``manager-1``."""
    cluster.api.add_node(WORKER, "worker-2", "10.0.0.2", role="worker")
    return cluster.api


@pytest.fixture
def shop_on_worker(cluster, swarm):
    """shop deployed, with web.1 and mail.1 on worker-2 and web.2 on manager-1."""
    run(deploy_source(cluster, release_source(WEB), timeout=5))
    swarm.place_tasks("shop__web", WORKER, slots=[1])
    swarm.place_tasks("shop__mail", WORKER)
    return cluster


def test_ls_shows_each_node_with_its_manager_status_and_the_lain_instances_there(
    shop_on_worker,
) -> None:
    found = {n.name: n for n in list_nodes(shop_on_worker)}
    assert list(found) == ["manager-1", "worker-2"]
    manager, worker = found["manager-1"], found["worker-2"]
    assert (manager.role, manager.manager_status, manager.state) == ("manager", "leader", "ready")
    assert (worker.role, worker.manager_status, worker.address) == ("worker", "", "10.0.0.2")
    assert worker.engine_version == "20.10.24"
    assert [(i.app, i.proc, i.slot) for i in worker.instances] == [
        ("shop", "mail", 1),
        ("shop", "web", 1),
    ]
    assert [(i.proc, i.slot) for i in manager.instances] == [("web", 2)]
    data = worker.to_dict()
    assert data["instances"][0]["state"] == "running" and data["labels"] == {}


def test_a_node_is_found_by_hostname_id_or_id_prefix(cluster, swarm) -> None:
    assert find_node(cluster, "worker-2").id == WORKER
    assert find_node(cluster, WORKER).hostname == "worker-2"
    assert find_node(cluster, "node-w").id == WORKER


def test_an_unknown_or_ambiguous_name_lists_the_nodes(cluster, swarm) -> None:
    with pytest.raises(NodeNotFound) as unknown:
        find_node(cluster, "worker-9")
    assert not unknown.value.ambiguous
    assert "no node of the swarm goes by 'worker-9'" in str(unknown.value)
    assert "manager-1 (node-manager" in str(unknown.value) and "worker-2 (node-worker-" in str(
        unknown.value
    )
    with pytest.raises(NodeNotFound) as ambiguous:
        label_node(cluster, "node-", {"a": "b"})
    assert ambiguous.value.ambiguous and "more than one node goes by 'node-'" in str(
        ambiguous.value
    )
    swarm.add_node("node-other-3", "worker-2", "10.0.0.3", role="worker")
    with pytest.raises(NodeNotFound, match="more than one node goes by 'worker-2'"):
        find_node(cluster, "worker-2")


def test_labels_are_set_and_removed_in_one_update(cluster, swarm) -> None:
    label_node(cluster, "worker-2", {"zone": "a", "disk": "ssd"})
    node = label_node(cluster, "worker-2", {"zone": "b"}, ["disk"])
    assert node.labels == {"zone": "b"}
    assert swarm.calls.count("update_node") == 2
    assert swarm.inspect_node(WORKER)["Version"]["Index"] == 3


def test_removing_a_label_the_node_does_not_have_changes_nothing(cluster, swarm) -> None:
    with pytest.raises(NotFound, match="node worker-2 has no label disk"):
        label_node(cluster, "worker-2", remove=["disk"])
    assert "update_node" not in swarm.calls
    with pytest.raises(InvalidArgument):
        label_node(cluster, "worker-2")
    with pytest.raises(InvalidArgument):
        label_node(cluster, "worker-2", {"a=b": "c"})


def test_data_labels_are_refused_unless_forced(cluster, swarm) -> None:
    with pytest.raises(NodeRefused) as refused:
        label_node(cluster, "worker-2", {DB_KEY: DB_VALUE})
    assert refused.value.forcible and refused.value.action == "label"
    assert "lain.data." in str(refused.value) and "nothing was changed" in str(refused.value)
    assert "update_node" not in swarm.calls
    node = label_node(cluster, "worker-2", {DB_KEY: DB_VALUE}, force=True)
    assert node.data == ("shop/db",)
    with pytest.raises(NodeRefused):
        label_node(cluster, "worker-2", remove=[DB_KEY])


def test_a_node_changed_meanwhile_is_a_cluster_error_saying_to_run_again(cluster, swarm) -> None:
    swarm.fail_next["update_node"] = api_error(
        500, "rpc error: code = Unknown desc = update out of sequence"
    )
    with pytest.raises(ClusterError, match="update out of sequence; if it changed meanwhile"):
        label_node(cluster, "worker-2", {"zone": "a"})


def test_drain_waits_until_the_stateless_instances_run_elsewhere(shop_on_worker, swarm) -> None:
    swarm.script(
        "registry.example.com/shop", Behaviour(starts_after=4)
    )  # replacements start slowly
    result, events = run(drain_node(shop_on_worker, "worker-2", timeout=5))
    assert result.node.availability == "drain"
    assert result.moved == ("shop/mail.1", "shop/web.1") and result.stopped == ()
    texts = [e.text for e in events if isinstance(e, Message)]
    assert texts[0] == "draining worker-2"
    assert any("shop/web runs 1/2 elsewhere" in t for t in texts[1:])
    on_worker = [t for t in swarm.tasks() if t["NodeID"] == WORKER]
    assert all(t["Status"]["State"] == "shutdown" for t in on_worker)
    running = [t for t in swarm.tasks() if t["Status"]["State"] == "running"]
    assert len(running) == 3 and {t["NodeID"] for t in running} == {"node-manager-1"}


def test_drain_times_out_naming_what_has_not_moved(shop_on_worker, swarm) -> None:
    swarm.script("registry.example.com/shop", Behaviour(starts_after=10**9))
    with pytest.raises(LainTimeout) as timed_out:
        run(drain_node(shop_on_worker, "worker-2", timeout=0.2))
    message = str(timed_out.value)
    assert "node worker-2 is drained, but these have not moved yet" in message
    assert "shop/mail runs 0/1 elsewhere" in message and "shop/web runs 1/2 elsewhere" in message
    assert swarm.inspect_node(WORKER)["Spec"]["Availability"] == "drain"


def test_drain_of_a_node_holding_data_is_refused_unless_forced(shop_on_worker, swarm) -> None:
    swarm._find_node(WORKER)["Spec"]["Labels"] = {DB_KEY: DB_VALUE}
    with pytest.raises(NodeRefused) as refused:
        run(drain_node(shop_on_worker, "worker-2"))
    assert "holds the volumes of shop/db" in str(refused.value)
    assert refused.value.forcible and "update_node" not in swarm.calls
    swarm._find_node(WORKER)["Spec"]["Labels"] = {data_label("shop", "mail")[0]: "shop/mail"}
    result, _ = run(drain_node(shop_on_worker, "worker-2", force=True, timeout=5))
    assert result.stopped == ("shop/mail",) and result.moved == ("shop/web.1",)


def test_activate_puts_a_drained_node_back(cluster, swarm) -> None:
    swarm.set_node(WORKER, availability="drain")
    assert activate_node(cluster, "worker-2").availability == "active"
    calls = swarm.calls.count("update_node")
    assert activate_node(cluster, "worker-2").availability == "active"
    assert swarm.calls.count("update_node") == calls  # already active: nothing sent


def test_rm_refuses_a_node_that_is_up(cluster, swarm) -> None:
    with pytest.raises(NodeRefused) as refused:
        remove_node(cluster, "worker-2")
    assert "is up (state ready): drain it and stop its engine" in str(refused.value)
    assert "docker swarm leave" in str(refused.value)
    assert any(n["ID"] == WORKER for n in swarm.swarm_nodes)


def test_rm_of_a_down_worker_and_of_an_up_one_with_force(cluster, swarm) -> None:
    swarm.set_node(WORKER, state="down")
    removed = remove_node(cluster, "worker-2")
    assert (removed.name, removed.demoted, removed.forced) == ("worker-2", False, False)
    swarm.add_node("node-worker-3", "worker-3", "10.0.0.3", role="worker")
    assert remove_node(cluster, "worker-3", force=True).forced
    assert [n["ID"] for n in swarm.swarm_nodes] == ["node-manager-1"]


def test_rm_refuses_a_node_holding_data(cluster, swarm) -> None:
    swarm.add_node("node-db", "db-1", "10.0.0.5", role="worker", labels={DB_KEY: DB_VALUE})
    swarm.set_node("node-db", state="down")
    with pytest.raises(NodeRefused, match="holds the volumes of shop/db"):
        remove_node(cluster, "db-1")
    assert remove_node(cluster, "db-1", force=True).forced


def test_rm_of_a_manager_demotes_it_first(cluster, swarm) -> None:
    for n in (2, 3):
        swarm.add_node(f"node-m{n}", f"manager-{n}", f"10.0.1.{n}")
    swarm.set_node("node-m3", state="down", reachability="unreachable")
    removed = remove_node(cluster, "manager-3")
    assert removed.demoted and [n["ID"] for n in swarm.swarm_nodes][-1] == "node-m2"


def test_rm_of_a_manager_that_would_lose_quorum_is_refused_with_why(cluster, swarm) -> None:
    for n in (2, 3):
        swarm.add_node(f"node-m{n}", f"manager-{n}", f"10.0.1.{n}")
    swarm.set_node("node-m3", reachability="unreachable")
    swarm.set_node("node-m2", state="down")
    with pytest.raises(NodeRefused) as refused:
        remove_node(cluster, "manager-2")
    message = str(refused.value)
    assert "would leave 1 of 2 managers reachable" in message
    assert "majority (quorum, 2 of 2)" in message and refused.value.forcible
    assert "update_node" not in swarm.calls


def test_the_last_manager_is_never_removed(cluster, swarm) -> None:
    with pytest.raises(NodeRefused) as refused:
        remove_node(cluster, "manager-1", force=True)
    assert "last manager" in str(refused.value) and not refused.value.forcible


@pytest.fixture
def new_engine(swarm) -> FakeDockerClient:
    """An engine outside any swarm that can reach the fake manager's."""
    engine = FakeDockerClient()
    engine.api.swarm_state = "inactive"
    engine.api.swarm_to_join = swarm
    engine.api.hostname = "worker-5"
    return engine


def test_add_joins_the_engine_and_waits_until_it_is_ready(cluster, new_engine, swarm) -> None:
    node, events = run(
        add_node(cluster, "ssh://root@10.0.0.5", advertise_addr="10.0.0.5", engine=new_engine)
    )
    assert (node.name, node.role, node.state, node.address) == (
        "worker-5",
        "worker",
        "ready",
        "10.0.0.5",
    )
    texts = [e.text for e in events if isinstance(e, Message)]
    assert texts[0] == "joining ssh://root@10.0.0.5 as a worker via 10.0.0.1:2377"
    assert "waiting for the managers to see ssh://root@10.0.0.5 ready" in texts
    assert not any("SWMTKN" in t for t in texts) and not new_engine.closed


def test_add_as_a_manager_uses_the_manager_token(cluster, new_engine) -> None:
    node, _ = run(add_node(cluster, "unix:///run/other.sock", manager=True, engine=new_engine))
    assert node.role == "manager" and node.manager_status == "reachable"


def test_an_engine_in_a_swarm_already_is_refused_saying_which(cluster, new_engine, swarm) -> None:
    new_engine.api.swarm_state = "active"
    new_engine.api.node_id = "node-elsewhere"
    with pytest.raises(NodeRefused) as refused:
        run(add_node(cluster, "ssh://n5", engine=new_engine))
    assert str(refused.value) == (
        "the engine at ssh://n5 is in another swarm (managers: 10.0.0.1:2377); to move it "
        "here, run `docker swarm leave` on it first"
    )
    assert not refused.value.forcible and "join_swarm" not in new_engine.api.calls
    new_engine.api.node_id = WORKER
    with pytest.raises(NodeRefused, match="this cluster's swarm already, as node worker-2"):
        run(add_node(cluster, "ssh://n5", engine=new_engine))


def test_a_refused_join_never_shows_the_token(cluster, new_engine, swarm) -> None:
    swarm.join_tokens["Worker"] = "SWMTKN-1-rotated"  # the engine refuses: it echoes the token
    new_engine.api.swarm_to_join = FakeSwarmAPIWithOldToken(swarm)
    with pytest.raises(ClusterError) as refused:
        run(add_node(cluster, "ssh://n5", engine=new_engine))
    assert "could not join the swarm" in str(refused.value)
    assert "SWMTKN" not in str(refused.value) and "<join token>" in str(refused.value)
    assert refused.value.__cause__ is None and refused.value.__suppress_context__


class FakeSwarmAPIWithOldToken:
    """A swarm whose managers still expect the token from before a rotation."""

    def __init__(self, swarm) -> None:
        self.swarm_nodes = swarm.swarm_nodes
        self.join_tokens = {"Worker": "SWMTKN-1-old", "Manager": "SWMTKN-1-old-m"}
        self.ready_after: dict[str, int] = {}


def test_add_times_out_when_the_node_never_gets_ready(cluster, new_engine, swarm) -> None:
    swarm.ready_after = _NeverReady()
    with pytest.raises(LainTimeout, match=r"its node is not ready \(unknown\) in time"):
        run(add_node(cluster, "ssh://n5", engine=new_engine, timeout=0.1))


class _NeverReady(dict):
    def __setitem__(self, key, value) -> None:
        super().__setitem__(key, 10**9)


def test_status_counts_nodes_and_says_whether_the_managers_have_quorum(cluster, swarm) -> None:
    for n in (2, 3):
        swarm.add_node(f"node-m{n}", f"manager-{n}", f"10.0.1.{n}")
    swarm.set_node(WORKER, state="down")
    status = cluster_status(cluster)
    assert status.nodes == {"down": 1, "ready": 3} and status.quorum
    assert [(m.name, m.leader, m.reachable) for m in status.managers] == [
        ("manager-1", True, True),
        ("manager-2", False, True),
        ("manager-3", False, True),
    ]
    assert status.registry.reachable and not status.registry.auth_required
    assert not status.router.running and status.healthy
    swarm.set_node("node-m2", reachability="unreachable")
    swarm.set_node("node-m3", reachability="unreachable")
    lost = cluster_status(cluster)
    assert not lost.quorum and not lost.healthy
    assert lost.to_dict()["managers"][1] == {
        "name": "manager-2",
        "id": "node-m2",
        "address": "10.0.1.2:2377",
        "reachable": False,
        "leader": False,
    }


def test_status_says_when_the_registry_does_not_answer(fake_docker, registries) -> None:
    from fakes.cluster import fake_cluster

    status = cluster_status(fake_cluster(engine=fake_docker))  # no registry answers
    assert not status.registry.reachable and status.registry.error
    assert not status.healthy
