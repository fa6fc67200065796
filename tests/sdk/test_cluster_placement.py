"""Where instances run: filters as placement constraints, the node holding a stateful proc's
data (chosen, recorded, kept, forgotten) and why a waiting instance waits."""

from __future__ import annotations

import pytest
from fakes.cluster import SHOP_IMAGE, SHOP_MV, release_source, run

from lain_sdk.appconfig import parse_app_config
from lain_sdk.cluster.deploy import deploy_source, prepare
from lain_sdk.cluster.history import rollback_app
from lain_sdk.cluster.names import MAX_VOLUME_NAME, instance_volume_name
from lain_sdk.cluster.placement import (
    choose_data_node,
    data_held_by,
    filter_constraints,
    is_stateful,
    parse_constraint,
    waiting_reason,
)
from lain_sdk.cluster.spec import service_spec, yaml_scale
from lain_sdk.cluster.status import app_status
from lain_sdk.cluster.undeploy import undeploy_app
from lain_sdk.cluster.views import Node, Task
from lain_sdk.errors import AppConfigError, NoDataNode, SharedVolumesReplaced
from lain_sdk.events import Message
from lain_sdk.settings import LOCAL_DEFAULT

TIMEOUT = 5.0
DATA_KEY = "lain.data.shop__db"
HEAD = "appname: shop\nbuild:\n  base: busybox\n"
STATEFUL = (
    HEAD + "worker.db:\n  cmd: [sleep, '1000']\n  num_instances: 2\n  persistent_dirs: [/data]\n"
)


def proc_of(body: str, name: str = "db"):
    return parse_app_config(HEAD + body).proc(name)


def spec_of(text: str, proc: str = "db"):
    app = parse_app_config(text)
    found = app.proc(proc)
    return service_spec(
        app,
        found,
        meta_version=SHOP_MV,
        image=SHOP_IMAGE,
        cluster=LOCAL_DEFAULT,
        release=1,
        scale=yaml_scale(found),
        network="lain_shop",
    )


def node(node_id: str, hostname: str, *, state="ready", availability="active", **labels) -> Node:
    return Node(node_id, hostname, "10.0.0.1", "worker", availability, state, labels)


def pending(error: str = "no suitable node (scheduling constraints not satisfied on 2 nodes)"):
    return Task("t1", "s1", 1, "", "running", "pending", 0.0, 0.0, error=error)


# -- filters -----------------------------------------------------------------------------------


def test_filters_become_constraints_on_node_labels() -> None:
    filters = [
        "constraint:group==db",
        "constraint:disk!=hdd",
        "constraint:node==host-1",  # Swarm classic's node name
        "affinity:container==web",  # no Swarm counterpart: ignored
    ]
    assert filter_constraints(filters) == (
        "node.labels.group==db",
        "node.labels.disk!=hdd",
        "node.hostname==host-1",
    )


def test_the_default_group_filter_asks_nothing_of_nodes() -> None:
    proc = proc_of("worker.w:\n  cmd: [sleep, '1']\n", "w")
    assert proc.filters == ("constraint:group==default",)
    assert filter_constraints(proc.filters) == ()
    spec = spec_of(HEAD + "worker.w:\n  cmd: [sleep, '1']\n", "w").spec
    assert "Placement" not in spec["TaskTemplate"]  # specs of such procs are as before


def test_an_explicit_group_is_a_constraint() -> None:
    text = HEAD + "worker.w:\n  cmd: [sleep, '1']\n  filters: ['constraint:group==default']\n"
    # Written out, it is still v2's default: nothing to require.
    assert "Placement" not in spec_of(text, "w").spec["TaskTemplate"]
    text = HEAD + "worker.w:\n  cmd: [sleep, '1']\n  filters: ['constraint:group==db']\n"
    placement = spec_of(text, "w").spec["TaskTemplate"]["Placement"]
    assert placement == {"Constraints": ["node.labels.group==db"]}


def test_affinity_filters_are_warned_about() -> None:
    text = HEAD + "worker.w:\n  cmd: [sleep, '1']\n  filters: ['affinity:container!=web']\n"
    warnings = [str(w) for w in parse_app_config(text).warnings]
    assert len(warnings) == 1
    assert warnings[0].startswith("lain.yaml:6:13: worker.w.filters[0]: affinity filters have")
    assert "ignored" in warnings[0]


@pytest.mark.parametrize(
    ("written", "said"),
    [
        ("constraint:dísk==ssd", "'dísk' cannot be a node label in a placement constraint"),
        ("constraint:disk==s<d", "'s<d' cannot be a value in a placement constraint"),
    ],
)
def test_constraints_swarm_would_refuse_are_problems(written: str, said: str) -> None:
    text = HEAD + f"worker.w:\n  cmd: [sleep, '1']\n  filters: ['{written}']\n"
    with pytest.raises(AppConfigError) as e:
        parse_app_config(text)
    [problem] = [str(p) for p in e.value.problems]
    assert problem.startswith("lain.yaml:6:13: worker.w.filters[0]: ")
    assert said in problem


# -- stateful procs: volumes and the constraint ------------------------------------------------


def test_which_procs_are_stateful() -> None:
    assert is_stateful(proc_of("worker.db:\n  cmd: [x]\n  persistent_dirs: [/data]\n"))
    assert is_stateful(proc_of("worker.db:\n  cmd: [x]\n  stateful: true\n"))
    assert not is_stateful(proc_of("worker.db:\n  cmd: [x]\n  persistent_dirs: [/lain/logs]\n"))
    assert not is_stateful(proc_of("worker.db:\n  cmd: [x]\n"))


def test_a_stateful_proc_has_a_volume_per_instance_and_stays_with_them() -> None:
    built = spec_of(STATEFUL)
    mounts = {
        m["Target"]: m["Source"] for m in built.spec["TaskTemplate"]["ContainerSpec"]["Mounts"]
    }
    assert mounts == {
        "/data": "lain_shop_db_data_{{.Task.Slot}}",
        "/lain/logs": "lain_shop_db_lain-logs",  # as before: one per node
    }
    assert built.spec["TaskTemplate"]["Placement"] == {
        "Constraints": [f"node.labels.{DATA_KEY}==shop/db"]
    }


def test_filters_come_before_the_data_constraint() -> None:
    text = STATEFUL + "  filters: ['constraint:disk==ssd']\n"
    assert spec_of(text).spec["TaskTemplate"]["Placement"]["Constraints"] == [
        "node.labels.disk==ssd",
        f"node.labels.{DATA_KEY}==shop/db",
    ]


def test_a_long_instance_volume_name_keeps_its_slot_and_fits() -> None:
    name = instance_volume_name("a" * 200, "db", "/" + "d" * 100, "{{.Task.Slot}}")
    assert len(name) <= MAX_VOLUME_NAME and name.endswith("_{{.Task.Slot}}")
    assert instance_volume_name("shop", "db", "/data", "3") == "lain_shop_db_data_3"


# -- choosing the node -------------------------------------------------------------------------

NODES = [node("n1", "alpha"), node("n2", "beta"), node("n3", "gamma", disk="ssd")]


def test_the_node_running_the_proc_now_keeps_its_data() -> None:
    chosen = choose_data_node(NODES, [], running={"n2": 1}, load={"n1": 0, "n2": 9})
    assert chosen is not None and chosen.hostname == "beta"


def test_else_the_least_loaded_node_then_the_first_by_name() -> None:
    chosen = choose_data_node(NODES, [], running={}, load={"n1": 3, "n2": 1, "n3": 1})
    assert chosen is not None and chosen.hostname == "beta"
    chosen = choose_data_node(NODES, [], running={}, load={})
    assert chosen is not None and chosen.hostname == "alpha"


def test_only_ready_active_nodes_meeting_the_filters_qualify() -> None:
    ssd = [parse_constraint("node.labels.disk==ssd")]
    chosen = choose_data_node(NODES, ssd, running={"n1": 2}, load={})
    assert chosen is not None and chosen.hostname == "gamma"
    unusable = [node("n1", "alpha", state="down"), node("n2", "beta", availability="drain")]
    assert choose_data_node(unusable, [], running={}, load={}) is None
    assert choose_data_node(NODES[:2], ssd, running={}, load={}) is None


def test_the_data_a_node_holds() -> None:
    held = node("n1", "alpha", **{"lain.data.shop__db": "shop/db", "lain.data.x__y": "x.z/y"})
    assert data_held_by(held) == [("shop", "db"), ("x.z", "y")]
    assert data_held_by(node("n2", "beta", disk="ssd")) == []


# -- why an instance waits ---------------------------------------------------------------------


def test_waiting_for_the_node_holding_the_data() -> None:
    data = parse_constraint(f"node.labels.{DATA_KEY}==shop/db")
    nodes = [node("n1", "alpha", state="down", **{DATA_KEY: "shop/db"}), node("n2", "beta")]
    assert waiting_reason(pending(), [data], nodes) == (
        "waiting: its data is on node alpha, which is down"
    )
    nodes[0] = node("n1", "alpha", availability="drain", **{DATA_KEY: "shop/db"})
    assert waiting_reason(pending(), [data], nodes) == (
        "waiting: its data is on node alpha, which is drained"
    )


def test_waiting_for_a_label_no_node_has() -> None:
    ssd = parse_constraint("node.labels.disk==ssd")
    assert waiting_reason(pending(), [ssd], NODES[:2]) == ("waiting: no node has disk=ssd")
    hdd = parse_constraint("node.labels.disk!=hdd")
    assert waiting_reason(pending(), [hdd], [node("n1", "alpha", disk="hdd")]) == (
        "waiting: every ready node has disk=hdd"
    )


def test_no_reason_for_a_task_swarm_is_not_holding_back() -> None:
    ssd = parse_constraint("node.labels.disk==ssd")
    assert waiting_reason(pending(error=""), [ssd], NODES) == ""
    running = pending()._replace(state="running")
    assert waiting_reason(running, [ssd], NODES) == ""
    # Another reason of Swarm's is passed on as it is.
    out = pending(error="no suitable node (insufficient resources on 1 node)")
    assert waiting_reason(out, [], NODES) == (
        "waiting: no suitable node (insufficient resources on 1 node)"
    )


# -- on a (fake) swarm: choosing, recording, keeping, forgetting -------------------------------


@pytest.fixture
def swarm(cluster):
    swarm = cluster.api
    swarm.add_node("node-worker-2", "worker-2", "10.0.0.2")
    swarm.add_node("node-worker-3", "worker-3", "10.0.0.3")
    return swarm


def deploy(cluster, text=STATEFUL, n=1, **kw):
    kw.setdefault("timeout", TIMEOUT)
    return run(deploy_source(cluster, release_source(text, n), **kw))


def node_doc(swarm, node_id):
    return next(n for n in swarm.swarm_nodes if n["ID"] == node_id)


def holders(swarm):
    return {
        n["Description"]["Hostname"] for n in swarm.swarm_nodes if DATA_KEY in n["Spec"]["Labels"]
    }


def task_nodes(swarm, service="shop__db"):
    found = swarm.service_named(service)
    return {
        t["NodeID"]
        for t in swarm.tasks(filters={"service": found["ID"]})
        if t["DesiredState"] == "running"
    }


def move_tasks(swarm, service, node_id):
    """The tasks of ``service`` run on ``node_id`` (as an earlier lain may have left them)."""
    for task in swarm._service(service).tasks:
        if task.doc["DesiredState"] == "running":
            task.doc["NodeID"] = node_id


def busy(cluster, swarm, node_id, instances=3):
    """``node_id`` runs ``instances`` tasks of another app."""
    text = "appname: other\nbuild:\n  base: busybox\nworker.w:\n  cmd: [sleep, '1']\n"
    deploy(cluster, text + f"  num_instances: {instances}\n")
    move_tasks(swarm, "other__w", node_id)


def test_a_deploy_records_the_least_loaded_node_and_runs_there(cluster, swarm) -> None:
    busy(cluster, swarm, "node-manager-1")
    busy_too = "appname: more\nbuild:\n  base: busybox\nworker.w:\n  cmd: [sleep, '1']\n"
    deploy(cluster, busy_too)
    move_tasks(swarm, "more__w", "node-worker-2")
    result, events = deploy(cluster)
    assert [d.node for d in result.plan.data_nodes] == ["worker-3"]
    assert holders(swarm) == {"worker-3"}
    assert node_doc(swarm, "node-worker-3")["Spec"]["Labels"][DATA_KEY] == "shop/db"
    assert task_nodes(swarm) == {"node-worker-3"}  # both instances, with their volumes
    said = [e.text for e in events if isinstance(e, Message)]
    assert any("db: its data is kept on node worker-3 (fewest lain tasks" in t for t in said)


def test_the_plan_says_where_the_data_will_be_and_changes_nothing(cluster, swarm) -> None:
    prepared = prepare(cluster, release_source(STATEFUL), None)
    [where] = prepared.plan.data_nodes
    assert (where.node, where.recorded) == ("manager-1", False)
    assert prepared.plan.to_dict()["data_nodes"][0]["label"] == f"{DATA_KEY}=shop/db"
    assert "to be labelled" in where.text()
    assert "update_node" not in swarm.calls


def test_an_upgrade_keeps_the_data_on_the_node_running_the_proc(cluster, swarm) -> None:
    deploy(cluster)
    move_tasks(swarm, "shop__db", "node-worker-2")
    busy(cluster, swarm, "node-worker-2", instances=5)  # the busiest node, yet it has the data
    for n in swarm.swarm_nodes:  # as an earlier lain left it: no label anywhere
        n["Spec"]["Labels"].pop(DATA_KEY, None)
    result, _ = deploy(cluster, STATEFUL.replace("[sleep, '1000']", "[sleep, '2000']"), n=2)
    [where] = result.plan.data_nodes
    assert (where.node, where.why) == ("worker-2", "runs it now")
    assert holders(swarm) == {"worker-2"}


def test_a_recorded_node_is_kept(cluster, swarm) -> None:
    deploy(cluster)
    before = holders(swarm)
    updates = swarm.calls.count("update_node")
    result, _ = deploy(cluster, STATEFUL.replace("[sleep, '1000']", "[sleep, '2000']"), n=2)
    assert holders(swarm) == before and swarm.calls.count("update_node") == updates
    assert result.plan.data_nodes[0].why == "holds its data"


def test_no_qualifying_node_fails_before_anything_changes(cluster, swarm) -> None:
    text = STATEFUL + "  filters: ['constraint:disk==ssd']\n"
    with pytest.raises(NoDataNode) as e:
        deploy(cluster, text)
    message = str(e.value)
    assert "proc db of shop" in message and "node.labels.disk==ssd" in message
    assert "label a node to meet them" in message and "nothing was changed" in message
    assert not {"create_service", "update_node"} & set(swarm.calls)
    assert not [c for c in swarm.configs() if c["Spec"]["Name"].startswith("lain-release-")]


def test_a_rollback_records_the_node_too(cluster, swarm) -> None:
    deploy(cluster)
    deploy(cluster, STATEFUL.replace("[sleep, '1000']", "[sleep, '2000']"), n=2)
    for n in swarm.swarm_nodes:
        n["Spec"]["Labels"].pop(DATA_KEY, None)
    result, _ = run(rollback_app("shop", 1, cluster=cluster, timeout=TIMEOUT))
    assert result.release is not None and result.release.outcome == "succeeded"
    assert holders(swarm) == {"manager-1"}
    assert [d.node for d in result.plan.data_nodes] == ["manager-1"]


def test_an_undeploy_keeps_the_label_and_a_purge_removes_it(cluster, swarm) -> None:
    deploy(cluster)
    run(undeploy_app("shop", cluster=cluster, timeout=TIMEOUT))
    assert holders(swarm) == {"manager-1"}  # the volumes stay: so does the record
    deploy(cluster, n=2)
    run(undeploy_app("shop", cluster=cluster, purge=True, timeout=TIMEOUT))
    assert holders(swarm) == set()


def test_a_purge_keeps_the_label_of_a_node_it_cannot_reach(cluster, swarm) -> None:
    deploy(cluster)
    labels = node_doc(swarm, "node-manager-1")["Spec"]["Labels"]
    node_doc(swarm, "node-worker-2")["Spec"]["Labels"][DATA_KEY] = labels.pop(DATA_KEY)
    _, events = run(undeploy_app("shop", cluster=cluster, purge=True, timeout=TIMEOUT))
    assert holders(swarm) == {"worker-2"}
    said = [e.text for e in events if isinstance(e, Message)]
    assert any("its volumes on node worker-2 are out of its reach" in t for t in said)


# -- lain ps: lost nodes and waiting instances -------------------------------------------------


def test_ps_shows_instances_on_a_lost_node_then_why_they_wait(cluster, swarm) -> None:
    deploy(cluster)
    node_doc(swarm, "node-manager-1")["Status"]["State"] = "down"
    status = app_status("shop", cluster=cluster)
    assert status.lost_nodes == ("manager-1",)
    assert status.to_dict()["lost_nodes"] == ["manager-1"]
    [proc] = status.procs
    assert [i.lost for i in proc.instances] == [True, True]
    assert proc.running == 0
    for _ in range(swarm.lost_after + 1):  # Swarm gives up on the node's tasks
        swarm.tasks()
    [proc] = app_status("shop", cluster=cluster).procs
    assert [i.state for i in proc.instances] == ["pending", "pending"]
    assert {i.waiting for i in proc.instances} == {
        "waiting: its data is on node manager-1, which is down"
    }
    assert proc.instances[0].to_dict()["waiting"] == proc.instances[0].waiting
    # Back up: the instances start again where their data is.
    node_doc(swarm, "node-manager-1")["Status"]["State"] = "ready"
    for _ in range(3):
        swarm.tasks()
    status = app_status("shop", cluster=cluster)
    [proc] = status.procs
    assert proc.running == 2 and task_nodes(swarm) == {"node-manager-1"}
    assert status.lost_nodes == ()


def test_ps_names_the_label_no_node_has(cluster, swarm) -> None:
    text = HEAD + "worker.w:\n  cmd: [sleep, '1']\n  filters: ['constraint:disk==ssd']\n"
    deploy(cluster, text, wait=False)
    [proc] = app_status("shop", cluster=cluster).procs
    [instance] = proc.instances
    assert instance.state == "pending" and not instance.lost
    assert instance.waiting == "waiting: no node has disk=ssd"
    assert instance.needs_label == "disk=ssd" and instance.to_dict()["needs_label"] == "disk=ssd"


# -- from one shared volume to a volume per instance ----------------------------------------


def as_an_earlier_lain_deployed_it(swarm) -> str:
    """Make the live db service mount one volume for all instances, as lain did before
    instances got a volume each; the shared volume's name."""
    service = swarm._service("shop__db")
    (mount,) = [
        m for m in service.spec["TaskTemplate"]["ContainerSpec"]["Mounts"] if m["Target"] == "/data"
    ]
    mount["Source"] = mount["Source"].removesuffix("_{{.Task.Slot}}")
    return str(mount["Source"])


def test_a_deploy_that_would_leave_the_data_in_a_shared_volume_is_refused(cluster, swarm) -> None:
    deploy(cluster)
    shared = as_an_earlier_lain_deployed_it(swarm)
    before = swarm.service_named("shop__db")["Version"]

    with pytest.raises(SharedVolumesReplaced) as refused:
        deploy(cluster, n=2)

    message = str(refused.value)
    assert f"db keeps /data in {shared}, which this version replaces by {shared}_<n>" in message
    assert f"docker volume create {shared}_1" in message and "accepting the new volumes" in message
    assert message.endswith("nothing was changed")
    assert swarm.service_named("shop__db")["Version"] == before
    plan = prepare(cluster, release_source(STATEFUL, 2), None).plan
    assert [v.shared for v in plan.replaced_volumes] == [shared]
    assert plan.to_dict()["replaced_volumes"][0]["per_instance"] == f"{shared}_{{{{.Task.Slot}}}}"


def test_a_deploy_told_the_data_was_copied_moves_to_a_volume_per_instance(cluster, swarm) -> None:
    deploy(cluster)
    shared = as_an_earlier_lain_deployed_it(swarm)

    result, _ = deploy(cluster, n=2, accept_new_volumes=True)

    assert result.release.outcome == "succeeded"
    mounts = swarm.service_named("shop__db")["Spec"]["TaskTemplate"]["ContainerSpec"]["Mounts"]
    (data,) = [m["Source"] for m in mounts if m["Target"] == "/data"]
    assert data == f"{shared}_{{{{.Task.Slot}}}}"
    # From then on the layout is the new one: nothing to accept any more.
    assert deploy(cluster, n=3)[0].release.outcome == "succeeded"
