"""Recording which node holds each stateful proc's data (the node label its service's
placement constraint asks for).

Before a deploy or a rollback creates or updates a stateful proc's service, exactly one node
must carry the proc's data label (:func:`~lain_sdk.cluster.names.data_label`), or Swarm finds
no node for its instances.  :func:`plan_data_nodes` finds that node, or picks one (see
:func:`~lain_sdk.cluster.placement.choose_data_node`) changing nothing, and fails when none
qualifies; :func:`record_data_nodes` labels the nodes it picked.  An undeploy that removes a
proc's volumes removes the label too (:func:`forget_data_nodes`); one that keeps them keeps it,
so the proc comes back to its data.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Mapping
from typing import Any

from lain_sdk.cluster.names import LABEL_APP, LABEL_PROC, data_label
from lain_sdk.cluster.placement import (
    DataNode,
    choose_data_node,
    constraints_of,
    data_held_by,
    data_label_of,
    node_condition,
)
from lain_sdk.cluster.session import Cluster
from lain_sdk.cluster.sizing import spec_scale
from lain_sdk.cluster.swarm import nodes
from lain_sdk.cluster.views import Node, Service, Task
from lain_sdk.errors import ClusterError, NoDataNode
from lain_sdk.events import Event, Message


class DataNodesAmbiguous(ClusterError):
    """More than one node carries a stateful proc's data label.  Nothing was changed."""

    def __init__(self, app: str, proc: str, label: str, hostnames: Iterable[str]) -> None:
        names = ", ".join(hostnames)
        super().__init__(
            f"nodes {names} all carry {label}, the label of the node holding the data of proc "
            f"{proc} of {app}; lain keeps its instances on one node: remove the label from the "
            f"nodes that do not hold its volumes (docker node update --label-rm {label} NODE), "
            "then deploy again; nothing was changed"
        )


def plan_data_nodes(
    cluster: Cluster,
    app: str,
    specs: Mapping[str, Mapping[str, Any]],
    live: Mapping[str, Service],
) -> tuple[DataNode, ...]:
    """The node holding the data of each stateful proc among ``specs`` (proc -> the spec about
    to run), found by its label or picked; changes nothing.  No engine call when no spec
    keeps its instances with their data.

    Raises:
        NoDataNode: no node qualifies for a proc that has none yet.
        DataNodesAmbiguous: several nodes carry one proc's label.
    """
    wanted = {
        p: (label, spec) for p, spec in sorted(specs.items()) if (label := data_label_of(spec))
    }
    if not wanted:
        return ()
    every = nodes(cluster)
    running = _running_lain_tasks(cluster)
    load: dict[str, int] = {}
    for task in running:
        load[task.node_id] = load.get(task.node_id, 0) + 1
    found = []
    for proc, ((key, value), spec) in wanted.items():
        service = live.get(proc)
        here = _count_by_node(
            t for t in running if service is not None and t.service_id == service.id
        )
        chosen = _data_node(app, proc, key, value, spec, every, here, load)
        if not chosen.recorded:  # what it will run counts as load for the next proc
            load[chosen.node_id] = load.get(chosen.node_id, 0) + spec_scale(spec).instances
        found.append(chosen)
    return tuple(found)


def _data_node(
    app: str,
    proc: str,
    key: str,
    value: str,
    spec: Mapping[str, Any],
    every: list[Node],
    here: Mapping[str, int],
    load: Mapping[str, int],
) -> DataNode:
    carriers = [n for n in every if n.labels.get(key) == value]
    if len(carriers) > 1:
        raise DataNodesAmbiguous(app, proc, key, sorted(n.hostname for n in carriers))
    if carriers:
        holder = carriers[0]
        condition = node_condition(holder)
        return DataNode(
            proc, holder.hostname, holder.id, key, value, True, "holds its data", condition
        )
    constraints = [c for c in constraints_of(spec) if not c.is_data]
    chosen = choose_data_node(every, constraints, here, load)
    if chosen is None:
        raise NoDataNode(app, proc, constraints)
    why = "runs it now" if here.get(chosen.id) else "fewest lain tasks"
    return DataNode(proc, chosen.hostname, chosen.id, key, value, False, why)


def _running_lain_tasks(cluster: Cluster) -> list[Task]:
    """The running tasks of every lain service (one engine call)."""
    with cluster.errors("list the tasks lain runs"):
        found = cluster.api.tasks(filters={"label": LABEL_APP, "desired-state": "running"})
    tasks = (Task.from_engine(t) for t in found)
    return [t for t in tasks if t.state == "running" and t.desired_state == "running"]


def _count_by_node(tasks: Iterable[Task]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for task in tasks:
        counts[task.node_id] = counts.get(task.node_id, 0) + 1
    return counts


def record_data_nodes(
    cluster: Cluster, data_nodes: Iterable[DataNode]
) -> Generator[Event, None, None]:
    """Label the nodes picked to hold data; say where data that is held stays."""
    for node in data_nodes:
        if not node.recorded:
            set_node_label(cluster, node.node_id, node.label, node.value)
            yield Message(
                f"{node.proc}: its data is kept on node {node.node} ({node.why}; node label "
                f"{node.label}={node.value})"
            )
        elif node.condition:
            yield Message(
                f"warning: {node.proc}: its data is on node {node.node}, which is "
                f"{node.condition}: its instances wait until the node is back"
            )


def set_node_label(cluster: Cluster, node_id: str, key: str, value: str | None) -> None:
    """Set (or with None, remove) one label of a node, leaving the rest of its spec."""
    with cluster.errors(f"label node {node_id}", "if it changed meanwhile, run the command again"):
        document = cluster.api.inspect_node(node_id)
        spec = dict(document.get("Spec") or {})
        labels = dict(spec.get("Labels") or {})
        if value is None:
            labels.pop(key, None)
        else:
            labels[key] = value
        spec["Labels"] = labels
        version = int((document.get("Version") or {}).get("Index", 0) or 0)
        cluster.api.update_node(node_id, version, spec)


def forget_data_nodes(
    cluster: Cluster, app: str, procs: Iterable[str] | None
) -> Generator[Event, None, None]:
    """After a purge removed the app's volumes on the engine's node: drop the data labels of
    ``procs`` (default: every proc of the app) on that node, unless a volume of the proc is
    still there; labels on other nodes stay, as their volumes do (a purge reaches only the
    engine's node)."""
    wanted = set(procs) if procs is not None else None
    held = [(n, p) for n in nodes(cluster) for a, p in data_held_by(n) if a == app]
    if not any(wanted is None or p in wanted for _, p in held):
        return
    local_node = _engine_node(cluster)
    kept = _procs_with_volumes(cluster, app)
    for node in {n.id: n for n, _ in held}.values():
        for owner, proc in data_held_by(node):
            if owner != app or (wanted is not None and proc not in wanted):
                continue
            key, _ = data_label(app, proc)
            if node.id == local_node and proc not in kept:
                set_node_label(cluster, node.id, key, None)
                yield Message(
                    f"{proc}: node {node.hostname} no longer holds its data (label removed)"
                )
            else:
                where = "are still in use" if node.id == local_node else "are out of its reach"
                yield Message(
                    f"{proc}: its volumes on node {node.hostname} {where} and stay, and so "
                    f"does the node label {key}"
                )


def _engine_node(cluster: Cluster) -> str:
    """The ID of the node whose engine lain talks to."""
    with cluster.errors("ask the engine which node it is"):
        swarm = cluster.api.info().get("Swarm") or {}
    return str(swarm.get("NodeID") or "")


def _procs_with_volumes(cluster: Cluster, app: str) -> set[str]:
    """The procs of ``app`` that have volumes on the engine's node (one engine call)."""
    with cluster.errors(f"list the volumes of {app}"):
        found = cluster.api.volumes(filters={"label": f"{LABEL_APP}={app}"}).get("Volumes") or []
    return {
        str((v.get("Labels") or {}).get(LABEL_PROC, ""))
        for v in found
        if (v.get("Labels") or {}).get(LABEL_APP) == app
    }
