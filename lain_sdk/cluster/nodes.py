"""The swarm's nodes: list them with the lain instances on each, add, label, drain, activate
and remove them, and the cluster's health at a glance.

A node is named by its hostname, its ID or a prefix of its ID (:func:`find_node`, which every
operation here uses).  Node labels under ``lain.data.`` record that a node holds the volumes
of a stateful proc (:func:`lain_sdk.cluster.names.data_label`): draining or removing such a
node, or changing those labels, would strand that data, so it is refused unless forced.
Swarm join tokens are secrets: they never appear in what this module returns or raises.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, NamedTuple

from lain_sdk.cluster.engine_calls import engine_errors
from lain_sdk.cluster.names import DATA_LABEL_PREFIX, LABEL_APP
from lain_sdk.cluster.router import RouterStatus, router_status
from lain_sdk.cluster.session import NODE_CONNECT_TIMEOUT, Cluster
from lain_sdk.cluster.swarm import nodes
from lain_sdk.cluster.views import Node, Service, Task
from lain_sdk.engine import EngineClient
from lain_sdk.errors import (
    ClusterError,
    InvalidArgument,
    LainError,
    LainTimeout,
    NodeNotFound,
    NodeRefused,
    NotFound,
    RegistryAuthError,
)
from lain_sdk.events import Event, Message

JOIN_TIMEOUT = 60.0
DRAIN_TIMEOUT = 300.0
DEMOTE_TIMEOUT = 30.0
SWARM_PORT = 2377
# Task states in which a container runs or is about to (the engine's, lower case).
_ACTIVE_STATES = ("assigned", "accepted", "preparing", "ready", "starting", "running")


# -- what is returned --------------------------------------------------------------------------


class NodeInstance(NamedTuple):
    """An instance of a lain app's proc running (or starting) on a node."""

    app: str
    proc: str
    slot: int
    task: str
    state: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self._asdict())


class NodeInfo(NamedTuple):
    """A node as ``lain node ls`` shows it.

    Attributes:
        manager_status: ``leader``, ``reachable`` or ``unreachable`` for a manager, "" for a
            worker.
        data: ``app/proc`` of each stateful proc whose volumes the node holds.
        instances: the lain instances running or starting there.
    """

    name: str
    id: str
    role: str
    availability: str
    state: str
    address: str
    labels: Mapping[str, str]
    manager_status: str
    engine_version: str
    data: tuple[str, ...] = ()
    instances: tuple[NodeInstance, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            **self._asdict(),
            "labels": dict(self.labels),
            "data": list(self.data),
            "instances": [i.to_dict() for i in self.instances],
        }


class DrainResult(NamedTuple):
    """What draining a node did.

    Attributes:
        moved: ``app/proc.slot`` of each stateless instance that now runs elsewhere.
        stopped: ``app/proc`` of each stateful proc whose instances there stopped and wait for
            the node to be active again (only when forced).
        seconds: how long the instances took to move.
    """

    node: NodeInfo
    moved: tuple[str, ...]
    stopped: tuple[str, ...]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "node": self.node.to_dict(),
            "moved": list(self.moved),
            "stopped": list(self.stopped),
            "seconds": round(self.seconds, 2),
        }


class RemovedNode(NamedTuple):
    """A node taken out of the swarm; ``demoted``: it was a manager, demoted first."""

    name: str
    id: str
    demoted: bool
    forced: bool

    def to_dict(self) -> dict[str, Any]:
        return dict(self._asdict())


class ManagerInfo(NamedTuple):
    name: str
    id: str
    address: str
    reachable: bool
    leader: bool

    def to_dict(self) -> dict[str, Any]:
        return dict(self._asdict())


class RegistryStatus(NamedTuple):
    """Whether the cluster's registry answers, and whether it asks for credentials (and lain
    has good ones: ``error`` says what went wrong otherwise)."""

    address: str
    reachable: bool
    auth_required: bool
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(self._asdict())


class ClusterStatus(NamedTuple):
    """What ``lain cluster status`` shows.

    Attributes:
        nodes: how many nodes are in each state (``ready``, ``down`` ...).
        managers: each manager, with its reachability.
        quorum: a majority of the managers is reachable, so the swarm can change anything.
    """

    cluster: str
    nodes: Mapping[str, int]
    managers: tuple[ManagerInfo, ...]
    quorum: bool
    registry: RegistryStatus
    router: RouterStatus

    @property
    def healthy(self) -> bool:
        return self.quorum and self.registry.reachable and not self.registry.error

    def to_dict(self) -> dict[str, Any]:
        return {
            "cluster": self.cluster,
            "healthy": self.healthy,
            "nodes": dict(self.nodes),
            "managers": [m.to_dict() for m in self.managers],
            "quorum": self.quorum,
            "registry": self.registry.to_dict(),
            "router": self.router.to_dict(),
        }


# -- finding nodes -----------------------------------------------------------------------------


def find_node(cluster: Cluster, name: str, found: Iterable[Node] | None = None) -> Node:
    """The node whose hostname or ID is ``name``, else the one whose ID starts with it.

    Raises:
        NodeNotFound: no node goes by ``name``, or more than one does (the message lists the
            nodes).
    """
    if not isinstance(name, str) or not name.strip():
        raise InvalidArgument(f"a node is named by its hostname, ID or ID prefix, not {name!r}")
    every = list(found) if found is not None else nodes(cluster)
    matches = [n for n in every if name in (n.id, n.hostname)]
    if not matches:
        matches = [n for n in every if n.id.startswith(name)]
    if len(matches) == 1:
        return matches[0]
    listed = [(n.hostname, n.id) for n in every]
    raise NodeNotFound(name, listed, ambiguous=len(matches) > 1)


def data_held(node: Node) -> dict[str, str]:
    """The node's data labels: label key -> ``app/proc`` whose volumes it holds."""
    return {k: v for k, v in node.labels.items() if k.startswith(DATA_LABEL_PREFIX)}


def manager_status(node: Node) -> str:
    if node.role != "manager":
        return ""
    return "leader" if node.leader else (node.reachability or "unknown")


def describe(node: Node, instances: Iterable[NodeInstance] = ()) -> NodeInfo:
    return NodeInfo(
        name=node.hostname,
        id=node.id,
        role=node.role,
        availability=node.availability,
        state=node.state,
        address=node.address,
        labels=dict(node.labels),
        manager_status=manager_status(node),
        engine_version=node.engine_version,
        data=tuple(sorted(data_held(node).values())),
        instances=tuple(instances),
    )


# -- listing -----------------------------------------------------------------------------------


def list_nodes(cluster: Cluster) -> list[NodeInfo]:
    """Every node of the swarm (managers first, then by name), with the instances of lain apps
    that run or start on each (three engine calls, however many nodes and apps)."""
    services, tasks = _lain_tasks(cluster)
    by_node: dict[str, list[NodeInstance]] = {}
    for task in tasks:
        service = services.get(task.service_id)
        if service is None or task.desired_state != "running":
            continue
        if task.state not in _ACTIVE_STATES:
            continue
        by_node.setdefault(task.node_id, []).append(
            NodeInstance(service.app, service.proc, task.slot, task.id, task.state)
        )
    found = sorted(nodes(cluster), key=lambda n: (n.role != "manager", n.hostname, n.id))
    return [
        describe(n, sorted(by_node.get(n.id, []), key=lambda i: (i.app, i.proc, i.slot)))
        for n in found
    ]


def _lain_tasks(cluster: Cluster) -> tuple[dict[str, Service], list[Task]]:
    """The services of lain apps by ID, and their tasks (two engine calls)."""
    with cluster.errors("list the services of lain apps"):
        documents = cluster.api.services(filters={"label": LABEL_APP})
    services = {s.id: s for s in map(Service.from_engine, documents) if s.app}
    with cluster.errors("list the tasks of lain apps"):
        tasks = [Task.from_engine(t) for t in cluster.api.tasks(filters={"label": LABEL_APP})]
    return services, tasks


# -- changing a node ---------------------------------------------------------------------------


def _update(cluster: Cluster, node: Node, doing: str, **changes: Any) -> None:
    """Send the node's spec back with ``changes`` (at the version it was read at)."""
    spec = {**node.spec, **changes}
    with cluster.errors(
        f"{doing} node {node.hostname}", "if it changed meanwhile, run the command again"
    ):
        cluster.api.update_node(node.id, node.version, spec)


def _reread(cluster: Cluster, node: Node) -> Node:
    with cluster.errors(f"inspect node {node.hostname}"):
        return Node.from_engine(cluster.api.inspect_node(node.id))


def label_node(
    cluster: Cluster,
    node: str,
    labels: Mapping[str, str] | None = None,
    remove: Iterable[str] = (),
    *,
    force: bool = False,
) -> NodeInfo:
    """Set ``labels`` on a node and ``remove`` others (one update).

    Raises:
        InvalidArgument: a label key is empty or holds ``=``; nothing to set or remove.
        NodeRefused: a key is under ``lain.data.`` (lain keeps those: they say which node
            holds a stateful proc's volumes), unless ``force``.
        NotFound: the node, or a label to remove, is not there.
    """
    wanted = dict(labels or {})
    dropped = list(dict.fromkeys(remove))
    _check_label_keys([*wanted, *dropped])
    found = find_node(cluster, node)
    kept = [k for k in [*wanted, *dropped] if k.startswith(DATA_LABEL_PREFIX)]
    if kept and not force:
        raise NodeRefused(
            found.hostname,
            "label",
            f"labels under {DATA_LABEL_PREFIX} record which node holds a stateful proc's "
            f"volumes; lain sets them, and changing them ({', '.join(kept)}) would start "
            "those instances elsewhere without their data, or keep them waiting here; "
            "nothing was changed",
            forcible=True,
            cluster=cluster.name,
        )
    missing = [k for k in dropped if k not in found.labels]
    if missing:
        have = ", ".join(sorted(found.labels)) or "none"
        raise NotFound(
            f"node {found.hostname} has no label {', '.join(missing)} (its labels: {have}); "
            "nothing was changed"
        )
    updated = {k: v for k, v in found.labels.items() if k not in dropped}
    updated.update(wanted)
    _update(cluster, found, "label", Labels=updated)
    return describe(_reread(cluster, found))


def _check_label_keys(keys: list[str]) -> None:
    if not keys:
        raise InvalidArgument("give a label to set (KEY=VALUE) or to remove")
    for key in keys:
        if not isinstance(key, str) or not key.strip() or "=" in key:
            raise InvalidArgument(f"{key!r} is not a label key")


def activate_node(cluster: Cluster, node: str) -> NodeInfo:
    """Let Swarm schedule tasks on a node again (availability ``active``)."""
    found = find_node(cluster, node)
    if found.availability != "active":
        _update(cluster, found, "activate", Availability="active")
        found = _reread(cluster, found)
    return describe(found)


def drain_node(
    cluster: Cluster, node: str, *, force: bool = False, timeout: float = DRAIN_TIMEOUT
) -> Generator[Event, None, DrainResult]:
    """Move every instance off a node (availability ``drain``) and wait until each stateless
    one runs elsewhere.

    A node holding stateful procs' volumes is refused unless ``force``: their instances then
    stop, and wait for the node to be active again (they are not started elsewhere without
    their data).

    Raises:
        NodeRefused: the node holds data, and not ``force``.
        LainTimeout: instances still ran there, or had no replacement running elsewhere, at
            the timeout (the message names them; the node stays drained).
    """
    deadline = time.monotonic() + timeout
    found = find_node(cluster, node)
    held = data_held(found)
    if held and not force:
        raise NodeRefused(
            found.hostname,
            "drain",
            f"node {found.hostname} holds the volumes of {_listing(held.values())}; draining "
            "it stops those instances until it is active again (they will not start "
            "elsewhere without their data); nothing was changed",
            forcible=True,
            cluster=cluster.name,
        )
    started = time.monotonic()
    on_node = _on_node(cluster, found, held)  # before the drain, which stops them at once
    if found.availability != "drain":
        _update(cluster, found, "drain", Availability="drain")
    yield Message(f"draining {found.hostname}")
    yield from _wait_drained(cluster, found, held, on_node, deadline)
    node_now = describe(_reread(cluster, found))
    return DrainResult(
        node_now,
        tuple(sorted(on_node.moved)),
        tuple(sorted(on_node.stopped)),
        time.monotonic() - started,
    )


def _listing(values: Iterable[str]) -> str:
    return ", ".join(sorted(values))


def _stateful(service: Service, held: Mapping[str, str]) -> bool:
    """A proc whose instances stay with their data: pinned by a data label, or named by one of
    the node's data labels."""
    placement = service.spec.get("TaskTemplate", {}).get("Placement", {}) or {}
    pinned = any(
        str(c).replace(" ", "").startswith(f"node.labels.{DATA_LABEL_PREFIX}")
        for c in placement.get("Constraints") or ()
    )
    return pinned or f"{DATA_LABEL_PREFIX}{service.name}" in held


class _OnNode(NamedTuple):
    """The lain instances found on a node being drained."""

    moving: dict[str, Service]  # the stateless services with instances there, by ID
    moved: set[str]  # app/proc.slot of those instances
    stopped: set[str]  # app/proc of the stateful ones


def _on_node(cluster: Cluster, node: Node, held: Mapping[str, str]) -> _OnNode:
    found = _OnNode({}, set(), set())
    _note_instances(node, held, *_lain_tasks(cluster), found)
    return found


def _note_instances(
    node: Node,
    held: Mapping[str, str],
    services: Mapping[str, Service],
    tasks: list[Task],
    found: _OnNode,
) -> None:
    """Add the live lain instances on ``node`` to ``found``."""
    for task in tasks:
        service = services.get(task.service_id)
        live = task.desired_state == "running" or task.state in _ACTIVE_STATES
        # A oneshot's run ends by itself: nothing to wait for, nowhere to move it.
        if service is None or service.oneshot or task.node_id != node.id or not live:
            continue
        if _stateful(service, held):
            found.stopped.add(f"{service.app}/{service.proc}")
        else:
            found.moving[service.id] = service
            found.moved.add(f"{service.app}/{service.proc}.{task.slot}")


def _wait_drained(
    cluster: Cluster, node: Node, held: Mapping[str, str], found: _OnNode, deadline: float
) -> Generator[Event, None, None]:
    """Look until no stateless lain instance runs on ``node`` and each proc that had one there
    runs its instances elsewhere; say what is left whenever it changes."""
    said = ""
    while True:
        services, tasks = _lain_tasks(cluster)
        _note_instances(node, held, services, tasks, found)
        left = _left(node, found.moving, tasks)
        if not left:
            return
        text = f"waiting for {node.hostname}: " + "; ".join(left)
        if text != said:
            said = text
            yield Message(text)
        if time.monotonic() >= deadline:
            raise LainTimeout(
                f"node {node.hostname} is drained, but these have not moved yet: "
                f"{'; '.join(left)}; it stays drained (activate it to take it back)"
            )
        time.sleep(cluster.poll_interval)


def _left(node: Node, moving: Mapping[str, Service], tasks: list[Task]) -> list[str]:
    """What still keeps a drain waiting: instances running on the node, and procs running
    fewer instances elsewhere than they should."""
    left = []
    for service in sorted(moving.values(), key=lambda s: (s.app, s.proc)):
        mine = [t for t in tasks if t.service_id == service.id]
        there = [t for t in mine if t.node_id == node.id and t.state in _ACTIVE_STATES]
        elsewhere = [
            t
            for t in mine
            if t.node_id != node.id and t.state == "running" and t.desired_state == "running"
        ]
        name = f"{service.app}/{service.proc}"
        if there:
            slots = ", ".join(f"{name}.{t.slot} ({t.state})" for t in there)
            left.append(f"{slots} still on the node")
        wanted = service.scale.instances
        if len(elsewhere) < wanted:
            left.append(f"{name} runs {len(elsewhere)}/{wanted} elsewhere")
    return left


def remove_node(
    cluster: Cluster, node: str, *, force: bool = False, timeout: float = DEMOTE_TIMEOUT
) -> RemovedNode:
    """Take a node out of the swarm; a manager is demoted first.

    Refused unless ``force``: a node that is up (drain it and stop its engine, or have it
    leave the swarm there), one holding stateful procs' volumes, and a manager whose demotion
    would leave fewer than a majority of the managers reachable.

    Raises:
        NodeRefused: one of the above, and not ``force``; or it is the last manager.
        LainTimeout: a manager's demotion did not take within ``timeout``.
    """
    found = find_node(cluster, node)
    every = nodes(cluster)
    _check_removable(cluster, found, every, force)
    demoted = found.role == "manager"
    if demoted:
        _update(cluster, found, "demote", Role="worker")
        _wait_demoted(cluster, found, time.monotonic() + timeout)
    with cluster.errors(f"remove node {found.hostname}"):
        cluster.api.remove_node(found.id, force=force)
    return RemovedNode(found.hostname, found.id, demoted, force)


def _check_removable(cluster: Cluster, node: Node, every: list[Node], force: bool) -> None:
    def refuse(message: str, forcible: bool = True) -> NodeRefused:
        return NodeRefused(
            node.hostname,
            "rm",
            f"{message}; nothing was changed",
            forcible=forcible,
            cluster=cluster.name,
        )

    managers = [n for n in every if n.role == "manager"]
    if node.role == "manager" and len(managers) == 1:
        raise refuse(f"node {node.hostname} is the swarm's last manager", forcible=False)
    if force:
        return
    if node.state == "ready":
        raise refuse(
            f"node {node.hostname} is up (state ready): drain it and stop its engine, or "
            "leave the swarm there (docker swarm leave), then remove it"
        )
    held = data_held(node)
    if held:
        raise refuse(
            f"node {node.hostname} holds the volumes of {_listing(held.values())}; their "
            "instances cannot start anywhere else without that data"
        )
    if node.role == "manager" and not _quorum_after(managers, node):
        raise refuse(_quorum_message(node, managers))


def _reachable(manager: Node) -> bool:
    return manager.leader or manager.reachability == "reachable"


def _quorum_after(managers: list[Node], leaving: Node) -> bool:
    """Whether a majority of the managers stays reachable once ``leaving`` is not one."""
    rest = [m for m in managers if m.id != leaving.id]
    return sum(map(_reachable, rest)) >= len(rest) // 2 + 1


def _quorum_message(node: Node, managers: list[Node]) -> str:
    rest = [m for m in managers if m.id != node.id]
    up = sum(map(_reachable, rest))
    return (
        f"removing manager {node.hostname} would leave {up} of {len(rest)} managers "
        f"reachable: the managers agree on every change of the swarm by majority (quorum, "
        f"{len(rest) // 2 + 1} of {len(rest)}), and without one the swarm can neither "
        "schedule nor change anything; bring the unreachable managers back (or promote "
        "another node) first"
    )


def _wait_demoted(cluster: Cluster, node: Node, deadline: float) -> None:
    while _reread(cluster, node).role == "manager":
        if time.monotonic() >= deadline:
            raise LainTimeout(f"node {node.hostname} was not demoted to a worker in time")
        time.sleep(cluster.poll_interval)


# -- adding a node -----------------------------------------------------------------------------


def add_node(
    cluster: Cluster,
    docker_host: str,
    *,
    manager: bool = False,
    advertise_addr: str | None = None,
    listen_addr: str = f"0.0.0.0:{SWARM_PORT}",
    timeout: float = JOIN_TIMEOUT,
    engine: EngineClient | None = None,
) -> Generator[Event, None, NodeInfo]:
    """Have the engine at ``docker_host`` (``ssh://``, ``tcp://``, ``unix://``) join the swarm,
    as a worker or a manager, and wait until the managers see it ready.

    ``engine`` is a client of that engine already made (default: connect to ``docker_host``
    the way the cluster's manager is reached, TLS certificates included).

    Raises:
        EngineError: the new engine did not answer.
        NodeRefused: it is in a swarm already (this one or another).
        ClusterError: the swarm refused the join (the message never holds the join token).
        LainTimeout: the node was not ready within ``timeout``.
    """
    deadline = time.monotonic() + timeout
    new = (
        engine if engine is not None else cluster.connect_engine(docker_host, NODE_CONNECT_TIMEOUT)
    )
    try:
        joined_id = yield from _join(
            cluster, new, docker_host, manager, advertise_addr, listen_addr
        )
        found = yield from _wait_ready(cluster, joined_id, docker_host, deadline)
    finally:
        if engine is None:
            new.close()
    return describe(found)


def _join(
    cluster: Cluster,
    new: EngineClient,
    docker_host: str,
    manager: bool,
    advertise_addr: str | None,
    listen_addr: str,
) -> Generator[Event, None, str]:
    with engine_errors(new.api, "say whether it is in a swarm"):
        state = new.api.info().get("Swarm") or {}
    _refuse_member(cluster, docker_host, state)
    role = "Manager" if manager else "Worker"
    with cluster.errors("read the swarm's join token"):
        token = str(cluster.api.inspect_swarm()["JoinTokens"][role])
    addresses = _manager_addresses(cluster)
    yield Message(f"joining {docker_host} as a {role.lower()} via {', '.join(addresses)}")
    with _token_hidden(token, f"the engine at {docker_host} could not join the swarm"):
        new.api.join_swarm(addresses, token, listen_addr=listen_addr, advertise_addr=advertise_addr)
    with engine_errors(new.api, "say its node ID"):
        return str((new.api.info().get("Swarm") or {}).get("NodeID", ""))


def _refuse_member(cluster: Cluster, docker_host: str, state: Mapping[str, Any]) -> None:
    """Refuse an engine that is in a swarm already, saying which."""
    if state.get("LocalNodeState", "inactive") == "inactive":
        return
    node_id = str(state.get("NodeID") or "")
    ours = {n.id: n.hostname for n in nodes(cluster)}
    if node_id in ours:
        where = f"this cluster's swarm already, as node {ours[node_id]} ({node_id[:12]})"
    else:
        managers = [str(m.get("Addr", "")) for m in state.get("RemoteManagers") or ()]
        where = "another swarm" + (f" (managers: {', '.join(managers)})" if managers else "")
    raise NodeRefused(
        docker_host,
        "add",
        f"the engine at {docker_host} is in {where}; to move it here, run `docker swarm "
        "leave` on it first",
        forcible=False,
        cluster=cluster.name,
    )


def _manager_addresses(cluster: Cluster) -> list[str]:
    """Where the managers listen for joining nodes: what the engine lain talks to knows of
    them, else what the node list says."""
    with cluster.errors("read the swarm's managers"):
        remote = (cluster.api.info().get("Swarm") or {}).get("RemoteManagers") or ()
    found = [str(m["Addr"]) for m in remote if m.get("Addr")]
    if not found:
        found = [n.manager_address for n in nodes(cluster) if n.manager_address]
    if not found:
        raise ClusterError(f"cluster {cluster.name}'s swarm lists no manager address to join")
    return sorted(found)


@contextmanager
def _token_hidden(token: str, doing: str) -> Iterator[None]:
    """Engine errors of a join, with the token blanked out of their message; the original
    exception is not chained, so not even a traceback shows it."""
    try:
        yield
    except Exception as e:
        detail = str(getattr(e, "explanation", None) or e).replace(token, "<join token>")
        if isinstance(e, LainError):
            detail = e.message.replace(token, "<join token>")
        raise ClusterError(f"{doing}: {detail}") from None


def _wait_ready(
    cluster: Cluster, node_id: str, docker_host: str, deadline: float
) -> Generator[Event, None, Node]:
    said = False
    while True:
        found = next((n for n in nodes(cluster) if n.id == node_id), None)
        if found is not None and found.state == "ready":
            return found
        if not said:
            said = True
            yield Message(f"waiting for the managers to see {docker_host} ready")
        if time.monotonic() >= deadline:
            state = found.state if found is not None else "not listed"
            raise LainTimeout(
                f"the engine at {docker_host} joined the swarm, but its node is not ready "
                f"({state}) in time; see whether the managers list it and how it is"
            )
        time.sleep(cluster.poll_interval)


# -- the cluster at a glance -------------------------------------------------------------------


def cluster_status(cluster: Cluster) -> ClusterStatus:
    """The nodes (how many in each state), the managers and whether they have quorum, the
    registry (reachable? credentials asked for?) and the router."""
    every = nodes(cluster)
    counts: dict[str, int] = {}
    for n in every:
        counts[n.state or "unknown"] = counts.get(n.state or "unknown", 0) + 1
    managers = [n for n in every if n.role == "manager"]
    reachable = sum(map(_reachable, managers))
    return ClusterStatus(
        cluster=cluster.name,
        nodes=dict(sorted(counts.items())),
        managers=tuple(
            ManagerInfo(m.hostname, m.id, m.manager_address or m.address, _reachable(m), m.leader)
            for m in sorted(managers, key=lambda m: (not m.leader, m.hostname))
        ),
        quorum=bool(managers) and reachable >= len(managers) // 2 + 1,
        registry=registry_status(cluster),
        router=router_status(cluster, watcher=False),
    )


def registry_status(cluster: Cluster) -> RegistryStatus:
    """One ``/v2/`` request to the cluster's registry, with lain's credentials if it asks."""
    address = cluster.settings.registry
    client = cluster.registry
    try:
        client.ping()
    except RegistryAuthError as e:
        return RegistryStatus(address, True, True, e.message)
    except LainError as e:
        return RegistryStatus(address, False, client.auth_required, e.message)
    return RegistryStatus(address, True, client.auth_required)
