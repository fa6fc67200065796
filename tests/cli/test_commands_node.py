"""`lain node ls|add|label|drain|activate|rm` and `lain cluster status`, on the fake swarm."""

from __future__ import annotations

import json

import pytest
from fakes.cluster import WEB, release_source, run
from fakes.engine import FakeDockerClient
from fakes.swarm import Behaviour

from lain_cli.exit import ExitStatus
from lain_sdk.cluster.deploy import deploy_source
from lain_sdk.cluster.names import data_label
from lain_sdk.cluster.session import Cluster

WORKER = "node-worker-2"
DB_KEY, DB_VALUE = data_label("shop", "db")


@pytest.fixture
def swarm(cli_cluster):
    cli_cluster.api.add_node(WORKER, "worker-2", "10.0.0.2", role="worker")
    return cli_cluster.api


@pytest.fixture
def shop_on_worker(cli_cluster, swarm):
    run(deploy_source(cli_cluster, release_source(WEB), timeout=5))
    swarm.place_tasks("shop__web", WORKER, slots=[1])
    return cli_cluster


def test_ls_shows_a_table_and_the_instances_on_each_node(lain, shop_on_worker) -> None:
    result = lain("node", "ls")
    assert result.exit_code == ExitStatus.OK, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "NAME",
        "ID",
        "ROLE",
        "MANAGER",
        "AVAILABILITY",
        "STATE",
        "ADDRESS",
        "ENGINE",
        "LABELS",
    ]
    assert lines[1].split()[0] == "manager-1" and "leader" in lines[1].split()
    assert lines[2].split()[:3] == ["worker-2", WORKER[:12], "worker"]
    assert "manager-1: shop/mail.1, shop/web.2" in lines
    assert "worker-2: shop/web.1" in lines


def test_ls_json_is_one_object_per_node(lain, shop_on_worker) -> None:
    result = lain("node", "ls", "-o", "json")
    assert result.exit_code == ExitStatus.OK, result.stderr
    data = json.loads(result.stdout)["nodes"]
    worker = next(n for n in data if n["name"] == "worker-2")
    assert set(worker) == {
        "name",
        "id",
        "role",
        "availability",
        "state",
        "address",
        "labels",
        "manager_status",
        "engine_version",
        "data",
        "instances",
    }
    assert worker["instances"] == [
        {
            "app": "shop",
            "proc": "web",
            "slot": 1,
            "task": worker["instances"][0]["task"],
            "state": "running",
        }
    ]
    assert data[0]["manager_status"] == "leader"


def test_label_sets_and_removes(lain, swarm) -> None:
    result = lain("node", "label", "worker-2", "zone=a", "disk=ssd")
    assert result.exit_code == ExitStatus.OK, result.stderr
    assert result.stdout == "worker-2: labels disk=ssd, zone=a\n"
    result = lain("-o", "json", "node", "label", "worker-2", "--rm", "disk")
    assert json.loads(result.stdout)["labels"] == {"zone": "a"}


def test_label_without_anything_to_change_is_a_usage_error(lain, swarm) -> None:
    assert lain("node", "label", "worker-2").exit_code == ExitStatus.USAGE
    result = lain("node", "label", "worker-2", "novalue")
    assert result.exit_code == ExitStatus.USAGE and "is not KEY=VALUE" in result.stderr


def test_a_data_label_is_refused_with_a_hint(lain, swarm) -> None:
    result = lain("node", "label", "worker-2", f"{DB_KEY}={DB_VALUE}")
    assert result.exit_code == ExitStatus.CLUSTER_ERROR
    assert result.stderr.startswith("lain: error: labels under lain.data. record")
    assert "hint: if you are sure, run the same command with --force" in result.stderr
    forced = lain("node", "label", "worker-2", f"{DB_KEY}={DB_VALUE}", "--force")
    assert forced.exit_code == ExitStatus.OK, forced.stderr


def test_unknown_and_ambiguous_nodes_exit_not_found(lain, swarm) -> None:
    result = lain("node", "activate", "nope")
    assert result.exit_code == ExitStatus.NOT_FOUND
    assert result.stderr == (
        "lain: error: no node of the swarm goes by 'nope' (nodes: manager-1 "
        f"({'node-manager-1'[:12]}), worker-2 ({WORKER[:12]}))\n"
    )
    result = lain("node", "rm", "node-")
    assert result.exit_code == ExitStatus.NOT_FOUND
    assert "more than one node goes by 'node-'" in result.stderr


def test_drain_waits_and_reports_what_moved(lain, shop_on_worker, swarm) -> None:
    swarm.script("registry.example.com/shop", Behaviour(starts_after=4))
    result = lain("node", "drain", "worker-2")
    assert result.exit_code == ExitStatus.OK, result.stderr
    assert result.stdout.splitlines()[:2] == ["worker-2 is drained", "moved: shop/web.1 (0s)"]
    assert "draining worker-2" in result.stderr
    assert "waiting for worker-2: shop/web runs 1/2 elsewhere" in result.stderr
    activated = lain("node", "activate", "worker-2")
    assert activated.stdout == "worker-2 is active\n"


def test_drain_json_is_events_on_stderr_and_the_result_on_stdout(lain, shop_on_worker) -> None:
    result = lain("-o", "json", "node", "drain", "worker-2")
    assert result.exit_code == ExitStatus.OK, result.stderr
    events = [json.loads(line) for line in result.stderr.splitlines()]
    assert events[0] == {"event": "message", "text": "draining worker-2"}
    last = json.loads(result.stdout)
    assert last["moved"] == ["shop/web.1"] and "event" not in last
    assert last["node"]["availability"] == "drain" and last["stopped"] == []


def test_drain_timing_out_exits_timeout_naming_what_is_left(lain, shop_on_worker, swarm) -> None:
    swarm.script("registry.example.com/shop", Behaviour(starts_after=10**9))
    result = lain("node", "drain", "worker-2", "--timeout", "1")
    assert result.exit_code == ExitStatus.TIMEOUT
    assert "node worker-2 is drained, but these have not moved yet" in result.stderr
    assert "shop/web runs 1/2 elsewhere" in result.stderr


def test_drain_of_a_node_holding_data_is_refused_with_the_force_command(lain, swarm) -> None:
    swarm._find_node(WORKER)["Spec"]["Labels"] = {DB_KEY: DB_VALUE}
    result = lain("node", "drain", "worker-2")
    assert result.exit_code == ExitStatus.CLUSTER_ERROR
    assert "node worker-2 holds the volumes of shop/db" in result.stderr
    assert "hint: if you are sure: `lain -c fake node drain worker-2 --force`" in result.stderr
    assert swarm.inspect_node(WORKER)["Spec"]["Availability"] == "active"


def test_rm_refuses_an_up_node_then_removes_it_once_down(lain, swarm) -> None:
    result = lain("node", "rm", "worker-2")
    assert result.exit_code == ExitStatus.CLUSTER_ERROR
    assert "is up (state ready): drain it and stop its engine" in result.stderr
    swarm.set_node(WORKER, state="down")
    result = lain("-o", "json", "node", "rm", "worker-2")
    assert result.exit_code == ExitStatus.OK, result.stderr
    assert json.loads(result.stdout) == {
        "name": "worker-2",
        "id": WORKER,
        "demoted": False,
        "forced": False,
    }


def test_rm_of_a_manager_needed_for_quorum_explains_quorum(lain, swarm) -> None:
    for n in (2, 3):
        swarm.add_node(f"node-m{n}", f"manager-{n}", f"10.0.1.{n}")
    swarm.set_node("node-m3", reachability="unreachable")
    swarm.set_node("node-m2", state="down")
    result = lain("node", "rm", "manager-2")
    assert result.exit_code == ExitStatus.CLUSTER_ERROR
    assert "managers agree on every change of the swarm by majority (quorum" in result.stderr
    forced = lain("node", "rm", "manager-2", "--force")
    assert forced.stdout == "removed node manager-2 (demoted from manager first)\n"


@pytest.fixture
def new_engine(swarm, monkeypatch) -> FakeDockerClient:
    """The engine --docker-host names: outside any swarm, able to reach the fake one."""
    engine = FakeDockerClient()
    engine.api.swarm_state = "inactive"
    engine.api.swarm_to_join = swarm
    engine.api.hostname = "worker-5"
    monkeypatch.setattr(Cluster, "connect_engine", lambda cluster, url, timeout: engine)
    return engine


def test_add_joins_and_never_prints_the_token(lain, new_engine, swarm) -> None:
    result = lain(
        "node", "add", "--docker-host", "ssh://root@10.0.0.5", "--advertise-addr", "10.0.0.5"
    )
    assert result.exit_code == ExitStatus.OK, result.stderr
    assert result.stdout.startswith("added worker worker-5 (")
    assert "joining ssh://root@10.0.0.5 as a worker via 10.0.0.1:2377" in result.stderr
    assert "SWMTKN" not in result.stdout + result.stderr and new_engine.closed
    again = lain("-o", "json", "node", "add", "--docker-host", "ssh://root@10.0.0.5")
    assert again.exit_code == ExitStatus.CLUSTER_ERROR
    assert "this cluster's swarm already, as node worker-5" in again.stderr
    assert "SWMTKN" not in again.stdout + again.stderr


def test_a_join_the_swarm_refuses_shows_no_token_even_with_traceback(
    lain, new_engine, swarm
) -> None:
    swarm.join_tokens["Manager"] = "SWMTKN-1-rotated-manager"  # the new node expects another
    new_engine.api.swarm_to_join = type(
        "OldSwarm",
        (),
        {
            "swarm_nodes": swarm.swarm_nodes,
            "join_tokens": {"Worker": "x", "Manager": "SWMTKN-1-old"},
            "ready_after": {},
        },
    )()
    result = lain("--traceback", "node", "add", "--docker-host", "ssh://n5", "--manager")
    assert result.exit_code == ExitStatus.CLUSTER_ERROR
    assert "could not join the swarm: rpc error: invalid join token <join token>" in result.stderr
    assert "SWMTKN" not in result.stdout + result.stderr


def test_cluster_status_text_and_json(lain, swarm, registry) -> None:
    result = lain("cluster", "status")
    assert result.exit_code == ExitStatus.OK, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:4] == [
        "cluster:  fake (healthy)",
        "nodes:    2 ready",
        "managers: 1 of 1 reachable, quorum",
        "          manager-1 10.0.0.1:2377 leader",
    ]
    assert lines[4] == "registry: registry.example.com reachable"
    assert lines[5] == "router:   not running (start it with `lain router up`)"
    data = json.loads(lain("cluster", "status", "-o", "json").stdout)
    assert set(data) == {"cluster", "healthy", "nodes", "managers", "quorum", "registry", "router"}
    assert data["nodes"] == {"ready": 2} and data["quorum"] is True
    assert data["registry"] == {
        "address": "registry.example.com",
        "reachable": True,
        "auth_required": False,
        "error": "",
    }
    assert data["router"]["running"] is False


def test_cluster_status_without_quorum_exits_cluster_error(lain, swarm, registry) -> None:
    for n in (2, 3):
        swarm.add_node(f"node-m{n}", f"manager-{n}", f"10.0.1.{n}")
        swarm.set_node(f"node-m{n}", reachability="unreachable", state="down")
    result = lain("cluster", "status")
    assert result.exit_code == ExitStatus.CLUSTER_ERROR
    assert "managers: 1 of 3 reachable, NO QUORUM" in result.stdout
    assert "manager-2 10.0.1.2:2377 UNREACHABLE" in result.stdout
