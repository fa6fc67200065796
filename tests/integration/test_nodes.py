"""Nodes and data on the two-engine swarm (see lab.py): a stateful proc stays with its volume on
the worker, waits while that node is down or drained and reads its data when it is back;
`lain node drain|activate|rm|add|label|ls` against real engines."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from apps import unique_app_name
from lab import MANAGER, WORKER, SwarmLab
from swarm_apps import TestApp, cleanup, push_version, web_app
from test_multinode import DEPLOY_TIMEOUT, add_lab_cluster, ps, running_nodes, wait_ps

from lain_cli.exit import ExitStatus
from lain_sdk.cluster.names import data_label

PLACE_LABEL = "lab-store"
BACK_TIMEOUT = 90  # a node back: its waiting instance runs there again by then

STORE = """\
worker.store:
  cmd:
    - sh
    - -c
    - trap "exit 0" TERM;
      if [ -f /data/note ]; then echo "read $(cat /data/note)";
      else echo "$TOKEN" > /data/note; echo "wrote $TOKEN"; fi;
      while true; do sleep 1; done
  memory: 16m
  env:
    - TOKEN={token}
  persistent_dirs:
    - /data
  filters:
    - constraint:{label}==yes
"""


@pytest.fixture
def stored(lab: SwarmLab, lain: Any) -> Iterator[tuple[TestApp, str]]:
    """An app deployed on the lab: web x4 (stateless) and ``store``, which keeps a note in its
    volume, placed on the worker by a node label; everything removed after, on both nodes."""
    lab.ensure_up()
    app = TestApp(unique_app_name("nd"), lab.registry.host, engine=lab.manager)
    token = secrets.token_hex(8)
    text = web_app(app.name).replace("num_instances: 2", "num_instances: 4")
    text += STORE.format(token=token, label=PLACE_LABEL)
    try:
        push_version(lab.manager, app, text, "nodes")
        add_lab_cluster(lain, lab, lab.registry)
        labelled = lain("node", "label", lab.hostname(WORKER), f"{PLACE_LABEL}=yes")
        assert labelled.exit_code == ExitStatus.OK, labelled.stderr
        deployed = lain("deploy", "-a", app.name, "--timeout", DEPLOY_TIMEOUT)
        assert deployed.exit_code == ExitStatus.OK, deployed.stderr
        yield app, token
    finally:
        lab.ensure_up()
        lain("node", "activate", lab.hostname(WORKER))
        cleanup(lab.manager, app.name, app.images)
        lab.remove_volumes(WORKER, app.name)
        forget_labels(lab, app.name)


def forget_labels(lab: SwarmLab, app: str) -> None:
    """Take the test's placement label and ``app``'s data labels off every node."""
    key, _ = data_label(app, "store")
    for node in lab.manager.api.nodes():
        spec = node["Spec"]
        labels = spec.get("Labels") or {}
        kept = {k: v for k, v in labels.items() if k not in (key, PLACE_LABEL)}
        if kept != labels:
            lab.manager.api.update_node(
                node["ID"], node["Version"]["Index"], {**spec, "Labels": kept}
            )


def store_note(lab: SwarmLab, app: str) -> str:
    """What the store instance on the worker reads from its volume."""
    (container,) = lab.client(WORKER).containers.list(
        filters={"label": f"com.docker.swarm.service.name={app}__store"}
    )
    return str(container.exec_run(["cat", "/data/note"]).output.decode().strip())


def test_a_stateful_proc_waits_for_its_node_and_finds_its_data_when_it_is_back(
    lab: SwarmLab, stored: tuple[TestApp, str], lain: Any
) -> None:
    app, token = stored
    assert running_nodes(ps(lain, app.name), "store") == [lab.hostname(WORKER)]
    assert store_note(lab, app.name) == token
    volumes = [
        v.name for v in lab.client(WORKER).volumes.list(filters={"label": f"lain.app={app.name}"})
    ]
    assert any(v.endswith("_data_1") for v in volumes), volumes  # a volume per instance
    key, value = data_label(app.name, "store")
    worker = [
        n
        for n in json.loads(lain("-o", "json", "node", "ls").stdout)["nodes"]
        if n["name"] == lab.hostname(WORKER)
    ]
    assert worker[0]["labels"][key] == value

    lab.crash(WORKER)
    waiting = f"store.1: waiting: its data is on node {lab.hostname(WORKER)}, which is down"
    shown = wait_ps(lain, app.name, lambda text: waiting in text, timeout=BACK_TIMEOUT)
    assert running_nodes(ps(lain, app.name), "store") == [], shown  # never started elsewhere

    lab.start(WORKER)
    started = time.monotonic()
    while running_nodes(ps(lain, app.name), "store") != [lab.hostname(WORKER)]:
        assert time.monotonic() - started < BACK_TIMEOUT, ps(lain, app.name)
        time.sleep(1)
    assert store_note(lab, app.name) == token
    logs = lain("logs", "-a", app.name, "store", "--tail", "20")
    assert f"read {token}" in logs.stdout, logs.stdout + logs.stderr


def test_drain_refuses_a_node_with_data_moves_stateless_instances_and_activate_brings_it_back(
    lab: SwarmLab, stored: tuple[TestApp, str], lain: Any
) -> None:
    app, _ = stored
    worker = lab.hostname(WORKER)

    refused = lain("node", "drain", worker)
    assert refused.exit_code == ExitStatus.CLUSTER_ERROR, refused.stdout
    assert f"{app.name}/store" in refused.stderr and "--force" in refused.stderr
    assert lain("-o", "json", "node", "ls").exit_code == ExitStatus.OK
    assert running_nodes(ps(lain, app.name), "store") == [worker]  # nothing changed

    drained = lain("node", "drain", worker, "--force", "--timeout", "90")
    assert drained.exit_code == ExitStatus.OK, drained.stderr
    assert running_nodes(ps(lain, app.name)) == [lab.hostname(MANAGER)] * 4
    wait_ps(lain, app.name, lambda text: f"its data is on node {worker}, which is drained" in text)

    up = lain("node", "rm", worker)
    assert up.exit_code == ExitStatus.CLUSTER_ERROR and "is up" in up.stderr, up.stderr

    activated = lain("node", "activate", worker)
    assert activated.exit_code == ExitStatus.OK, activated.stderr
    started = time.monotonic()
    while running_nodes(ps(lain, app.name), "store") != [worker]:
        assert time.monotonic() - started < BACK_TIMEOUT, ps(lain, app.name)
        time.sleep(1)


def test_node_add_joins_a_fresh_engine_over_ssh_and_rm_removes_it_once_it_left(
    lab: SwarmLab, lain: Any, tmp_path: Path
) -> None:
    lab.ensure_up()
    add_lab_cluster(lain, lab, lab.registry)
    spare = lab.spare("c")
    try:
        with lab.ssh_engine("c", tmp_path) as (over_ssh, env):
            added = lain(
                "node",
                "add",
                "--docker-host",
                over_ssh,
                "--advertise-addr",
                lab.address("c"),
                "--timeout",
                "60",
                env=env,
            )
            assert added.exit_code == ExitStatus.OK, added.stderr
            token = lab.manager.api.inspect_swarm()["JoinTokens"]["Worker"]
            assert token not in added.stdout + added.stderr
            listed = {
                n["name"]: n for n in json.loads(lain("-o", "json", "node", "ls").stdout)["nodes"]
            }
            assert listed[lab.hostname("c")]["state"] == "ready"
            assert listed[lab.hostname("c")]["role"] == "worker"

        again = lain("node", "add", "--docker-host", spare)
        assert again.exit_code == ExitStatus.CLUSTER_ERROR and "swarm" in again.stderr

        lab.client("c").swarm.leave(force=True)
        lab.wait_state("c", "down")
        removed = lain("node", "rm", lab.hostname("c"))
        assert removed.exit_code == ExitStatus.OK, removed.stderr
        names = [n["name"] for n in json.loads(lain("-o", "json", "node", "ls").stdout)["nodes"]]
        assert lab.hostname("c") not in names
    finally:
        lab.leave("c")


def test_cluster_status_shows_nodes_managers_quorum_registry(lab: SwarmLab, lain: Any) -> None:
    lab.ensure_up()
    add_lab_cluster(lain, lab, lab.registry)
    shown = lain("-o", "json", "cluster", "status")
    status = json.loads(shown.stdout)
    assert status["quorum"] is True, status
    assert status["nodes"]["ready"] >= 2, status
    (manager,) = status["managers"]
    assert (manager["name"], manager["leader"], manager["reachable"]) == (
        lab.hostname(MANAGER),
        True,
        True,
    )
    assert status["registry"]["reachable"] is True, status
