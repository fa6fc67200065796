"""What an app runs on a cluster, proc by proc and instance by instance, and where users reach
it.

Status costs three engine calls however many procs the app has: the app's services, their
tasks and the nodes, services and tasks both found by the app's label; two more list the
services and tasks of its resource instances when it has some.  The app's URLs cost none: they
come from the router's labels on its services (see :mod:`lain_router.labels`) and the
cluster's router ports, so no lain.yaml is needed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import lain_sdk.arguments as arguments
from lain_router.labels import LABEL_HTTPS_ONLY, LABEL_MOUNTPOINTS, LABEL_PORT
from lain_router.model import parse_mountpoint
from lain_sdk.cluster.names import LABEL_APP, LABEL_RESOURCE_CLIENT, network_name
from lain_sdk.cluster.placement import Constraint, constraints_of, needed_label, waiting_reason
from lain_sdk.cluster.session import Cluster, ClusterLike
from lain_sdk.cluster.swarm import app_services, instance_services, labelled_tasks, nodes
from lain_sdk.cluster.views import Node, Service, Task, current_release
from lain_sdk.errors import NotFound
from lain_sdk.settings import RouterSettings

# Node states in which the managers no longer hear from a node (not "unknown": a manager
# that just restarted says that of every node for a moment).
LOST_STATES = ("down", "disconnected")
# Seconds an instance that came back from a failure keeps showing it: a crash loop's
# instances run a moment between failures.
RECENT_FAILURE = 60.0
# Seconds a task's end (its node's clock) may seem to follow the making of the task that
# restarts it (the manager's clock) when the clocks disagree.
CLOCK_MARGIN = 1.0
# A router on the default ports, for URLs worked out without a cluster's settings.
DEFAULT_ROUTER = RouterSettings()


class InstanceStatus(NamedTuple):
    """One instance (task slot) of a proc.

    Attributes:
        instance: the instance number (``LAIN_INSTANCE_NO``).
        task: the Swarm task ID.
        node: the node's host name.
        state: the task state (``running``, ``starting``, ``failed``, ``complete`` ...).
        desired_state: what Swarm wants it to be.
        health: ``healthy``, ``starting``, ``unhealthy`` or ``none`` (no healthcheck).
        since: when it reached its state (ISO 8601, the manager's clock).
        uptime: seconds in that state, when running.
        error: the error of this instance while it is current (see :func:`current_error`):
            its task's, or while it restarts after a failure, the failed task's; "" when it
            runs well, whatever earlier tasks of its slot ended with.
        error_age: seconds since that error (None without one).
        address: where to reach it: ``host:port`` of a published port, else its overlay IP.
        ports: published host ports, as the engine publishes them: on every interface of the
            node (``80/tcp -> 0.0.0.0:32768``).
        exit_code: how its program ended (a oneshot's run; None while it runs).
        waiting: why Swarm has not started it, in plain words (``waiting: its data is on node
            n2, which is down``); "" when it is not held back.
        needs_label: the node label (``disk=ssd``) no node has and it waits for; labelling a
            node with it lets it start.
        lost: its node is down: what it runs there is out of reach (Swarm replaces it
            elsewhere, or, for a proc kept with its data, once the node is back).
    """

    instance: int
    task: str
    node: str
    state: str
    desired_state: str
    health: str
    since: str
    uptime: float | None
    error: str
    address: str
    ports: tuple[str, ...] = ()
    error_age: float | None = None
    exit_code: int | None = None
    waiting: str = ""
    lost: bool = False
    needs_label: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "instance": self.instance,
            "task": self.task,
            "node": self.node,
            "state": self.state,
            "desired_state": self.desired_state,
            "health": self.health,
            "since": self.since,
            "uptime": self.uptime,
            "error": self.error,
            "error_age": self.error_age,
            "address": self.address,
            "ports": list(self.ports),
            "exit_code": self.exit_code,
            "waiting": self.waiting,
            "needs_label": self.needs_label,
            "lost": self.lost,
        }


class ProcStatus(NamedTuple):
    """One proc: what it runs and how many instances run (a oneshot's: how many of its runs
    completed, ``completed`` of ``desired``), and the URLs the router serves it at (see
    :func:`service_urls`)."""

    proc: str
    proctype: str
    service: str
    version: str
    release: int | None
    image: str
    desired: int
    running: int
    cpu: float
    memory: int
    update_state: str
    update_message: str
    instances: tuple[InstanceStatus, ...]
    oneshot: bool = False
    completed: int = 0
    urls: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "proc": self.proc,
            "proctype": self.proctype,
            "service": self.service,
            "version": self.version,
            "release": self.release,
            "image": self.image,
            "desired": self.desired,
            "running": self.running,
            "cpu": self.cpu,
            "memory": self.memory,
            "update_state": self.update_state,
            "update_message": self.update_message,
            "instances": [i.to_dict() for i in self.instances],
            "oneshot": self.oneshot,
            "completed": self.completed,
            "urls": list(self.urls),
        }


class AppStatus(NamedTuple):
    """What an app runs on a cluster, proc by proc and instance by instance.

    Attributes:
        app: the app.
        cluster: the cluster's name.
        release: the release running now.
        procs: one :class:`ProcStatus` per deployed proc.
        resource_instances: the status of each of the app's resource instances
            (``resource.<res>.<app>``, see :mod:`lain_sdk.cluster.resources`).
        urls: where users reach the app through the cluster's router (a property: its procs'
            URLs, the ``web`` proc's first).
        lost_nodes: the nodes that are down while the app last ran something there (Swarm
            replaces stateless instances elsewhere; stateful ones wait for the node).
    """

    app: str
    cluster: str
    release: int | None
    procs: tuple[ProcStatus, ...] = ()
    resource_instances: tuple[AppStatus, ...] = ()
    lost_nodes: tuple[str, ...] = ()

    @property
    def healthy(self) -> bool:
        """Every proc that keeps running runs all its instances, no update under way (a
        oneshot's last run, done or failed, does not make an app unhealthy)."""
        serving = [p for p in self.procs if not p.oneshot]
        return bool(self.procs) and all(
            p.running >= p.desired and p.update_state not in ("updating", "rollback_started")
            for p in serving
        )

    @property
    def urls(self) -> tuple[str, ...]:
        return _ordered_urls((p.proc, p.urls) for p in self.procs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "cluster": self.cluster,
            "release": self.release,
            "healthy": self.healthy,
            "urls": list(self.urls),
            "procs": [p.to_dict() for p in self.procs],
            "resource_instances": [i.to_dict() for i in self.resource_instances],
            "lost_nodes": list(self.lost_nodes),
        }


def app_status(app: str, *, cluster: ClusterLike) -> AppStatus:
    """Every proc of ``app`` with its instances, and the same for each of its resource
    instances, in three engine calls however many procs (five with resource instances).

    Raises:
        InvalidArgument: an argument of the wrong kind.
        NotFound: the app has no services on the cluster.
        EngineError: the engine does not answer.
    """
    app = arguments.app_name(app)
    session = Cluster.of(cluster)
    live = app_services(session, app)
    if not live:
        raise NotFound(f"{app} is not deployed on cluster {session.name}")
    # One more engine call, only for an app whose services say it has resource instances.
    instances = (
        instance_services(session, app) if any(s.uses_resources for s in live.values()) else {}
    )
    doing = f"list the tasks of {app}"
    tasks = labelled_tasks(session, LABEL_APP, app, doing)
    if instances:
        tasks += labelled_tasks(session, LABEL_RESOURCE_CLIENT, app, doing)
    by_service: dict[str, list[Task]] = {}
    for task in tasks:
        by_service.setdefault(task.service_id, []).append(task)
    where = {n.id: n for n in nodes(session)}
    now = time.time()
    router = session.settings.router

    def status_of(name: str, procs: Mapping[str, Service]) -> AppStatus:
        statuses = tuple(
            _proc_status(name, service, by_service.get(service.id, []), where, now, router)
            for _, service in sorted(procs.items())
        )
        return AppStatus(name, session.name, current_release(procs.values()), statuses)

    return status_of(app, live)._replace(
        resource_instances=tuple(status_of(name, procs) for name, procs in instances.items()),
        lost_nodes=lost_nodes(tasks, where),
    )


def lost_nodes(tasks: Iterable[Task], where: Mapping[str, Node]) -> tuple[str, ...]:
    """The nodes that are down and last reported a running task of these: a node that dies
    cannot say its tasks stopped, so they stay "running" there in Swarm's records."""
    lost = {
        where[t.node_id].hostname
        for t in tasks
        if t.state == "running" and t.node_id in where and where[t.node_id].state in LOST_STATES
    }
    return tuple(sorted(lost))


def app_urls(app: str, *, cluster: ClusterLike) -> tuple[str, ...]:
    """Where users reach ``app`` through the cluster's router: every URL of its procs, the
    ``web`` proc's first (see :func:`service_urls`); none when it is not deployed or serves
    no web proc.  One engine call.

    Whether the router runs is not asked (see :func:`lain_sdk.cluster.router.router_status`):
    these are the addresses it serves the app at when it does.

    Raises:
        InvalidArgument: an argument of the wrong kind.
        EngineError: the engine does not answer.
    """
    app = arguments.app_name(app)
    session = Cluster.of(cluster)
    router = session.settings.router
    live = app_services(session, app)
    return _ordered_urls((proc, service_urls(s.labels, router)) for proc, s in live.items())


def service_urls(
    labels: Mapping[str, str], router: RouterSettings = DEFAULT_ROUTER
) -> tuple[str, ...]:
    """The URLs the router serves a proc at, from its service's router labels (pure): one per
    mountpoint, in the order lain.yaml gave them, ``https://`` for a proc served only so, with
    ``:port`` when the router's port is not the scheme's own (80, 443).

    Left out: hosts ending in ``.lain`` (v2 gave every web proc one; they never had an address
    outside the cluster), wildcard hosts (no one address), and labels the router would refuse
    as well (it serves nothing of them).
    """
    raw = labels.get(LABEL_MOUNTPOINTS)
    if raw is None or not labels.get(LABEL_PORT, "").isdigit():
        return ()
    try:
        points = json.loads(raw)
        if not isinstance(points, list) or not all(isinstance(p, str) for p in points):
            return ()
        parsed = [parse_mountpoint(p) for p in points]
    except ValueError:
        return ()
    https = labels.get(LABEL_HTTPS_ONLY) == "true"
    scheme, port, default = (
        ("https", router.https_port, 443) if https else ("http", router.http_port, 80)
    )
    suffix = "" if port == default else f":{port}"
    found = [
        f"{scheme}://{host}{suffix}{path}"
        for host, path in parsed
        if not host.endswith(".lain") and not host.startswith("*.")
    ]
    return tuple(dict.fromkeys(found))


def _ordered_urls(procs: Iterable[tuple[str, tuple[str, ...]]]) -> tuple[str, ...]:
    """The URLs of (proc, its URLs): the ``web`` proc's first, then the others' by name."""
    ordered = sorted(procs, key=lambda p: (p[0] != "web", p[0]))
    return tuple(dict.fromkeys(url for _, urls in ordered for url in urls))


def _proc_status(
    app: str,
    service: Service,
    tasks: list[Task],
    where: Mapping[str, Node],
    now: float,
    router: RouterSettings,
) -> ProcStatus:
    scale = service.scale
    status = service.update_status if not service.job else None  # a job is never "updated"
    if service.job:
        instances = _job_runs(service, tasks, where, now)
        running = sum(1 for i in instances if i.state == "running")
    else:
        network = network_name(app)
        instances = instance_statuses(
            tasks,
            where,
            service.has_healthcheck,
            now,
            network,
            constraints=constraints_of(service.spec),
        )
        running = sum(
            1
            for i in instances
            if i.state == "running" and i.desired_state == "running" and not i.lost
        )
    return ProcStatus(
        proc=service.proc,
        proctype=service.proctype,
        service=service.name,
        version=service.meta_version,
        release=service.release,
        image=service.image,
        desired=scale.instances,
        running=running,
        cpu=scale.cpu,
        memory=scale.memory,
        update_state=status.state if status else "",
        update_message=status.message if status else "",
        instances=tuple(instances),
        oneshot=service.job,
        completed=sum(1 for i in instances if i.state == "complete") if service.job else 0,
        urls=service_urls(service.labels, router),
    )


def _job_runs(
    service: Service, tasks: list[Task], where: Mapping[str, Node], now: float
) -> list[InstanceStatus]:
    """A oneshot's (a Swarm job's) current run: its tasks, each with how it ended."""
    current = sorted(
        (t for t in tasks if t.job_iteration == service.job_iteration),
        key=lambda t: t.created_at,
    )
    runs = []
    for number, task in enumerate(current, start=1):
        node = where.get(task.node_id)
        runs.append(
            InstanceStatus(
                instance=number,
                task=task.id,
                node=node.hostname if node is not None else task.node_id[:12],
                state=task.state,
                desired_state=task.desired_state,
                health="none",
                since=task.since_text,
                uptime=round(max(now - task.since, 0.0), 1) if task.state == "running" else None,
                error=task.error,
                address="",
                exit_code=task.exit_code,
            )
        )
    return runs


def _health(has_check: bool, state: str, error: str) -> str:
    if not has_check:
        return "none"
    if state in ("running", "starting"):
        return "healthy" if state == "running" else "starting"
    return "unhealthy" if "unhealthy" in error else "-"


def _address(task: Task, host: str, network: str) -> tuple[str, tuple[str, ...]]:
    """Where to reach an instance (its node's address and published port, else its address on
    the app's network), and its published ports: Swarm publishes a host-mode port on every
    interface of the node, whatever address the node advertises, and says so."""
    ports = tuple(f"{p.target}/{p.protocol} -> 0.0.0.0:{p.published}" for p in task.ports)
    if task.ports:
        return f"{host}:{task.ports[0].published}", ports
    addresses = task.addresses.get(network) or ()
    return (addresses[0] if addresses else ""), ports


def current_error(
    task: Task, earlier: list[Task], now: float, has_check: bool = False
) -> Task | None:
    """The task whose error is an instance's own now, if any: ``task``'s; else, while it
    restarts after the task before it failed, that one's: until it runs, healthy (Swarm says
    running only once a healthcheck passed), or without a healthcheck until it has run for
    :data:`RECENT_FAILURE` seconds (a crash loop keeps showing its error).  ``earlier``: the
    slot's tasks made before ``task``, oldest first.

    An error of a task stopped on purpose (a rolling update or a move made its successor
    first, then stopped it: a kill after the grace period ends in exit 137) or of a failure
    long recovered from is history, not the instance's error.
    """
    if task.error:
        return task
    if not earlier:
        return None
    last = earlier[-1]
    if not last.error or last.since > task.created_at + CLOCK_MARGIN:
        return None  # it ended after its successor was made: it was replaced, not restarted
    if task.state == "running" and (has_check or now - last.since > RECENT_FAILURE):
        return None
    return last


def instance_statuses(
    tasks: Iterable[Task],
    where: Mapping[str, Node],
    has_check: bool,
    now: float,
    network: str,
    *,
    constraints: Iterable[Constraint] = (),
) -> list[InstanceStatus]:
    """The instances of one proc, from its tasks: per slot, the tasks Swarm wants running
    (newest first: during a start-first update the new task is the instance's future), with
    its error while it is current (:func:`current_error`), why one waits (from the service's
    placement ``constraints``) and whether its node is lost."""
    wanted = tuple(constraints)
    slots: dict[int, list[Task]] = {}
    for task in tasks:
        slots.setdefault(task.slot, []).append(task)
    result = []
    for slot, history in sorted(slots.items()):
        history.sort(key=lambda t: t.created_at)
        active = [t for t in history if t.desired_state in ("running", "ready")]
        for task in reversed(active):  # none: an instance scaled away, only history left
            earlier = [t for t in history if t.created_at < task.created_at and t not in active]
            errored = current_error(task, earlier, now, has_check)
            error = errored.error if errored is not None else ""
            error_at = errored.since if errored is not None else 0.0
            age = round(max(now - error_at, 0.0), 1) if error and error_at else None
            node = where.get(task.node_id)
            host = (node.address or node.hostname) if node is not None else ""
            address, ports = _address(task, host, network)
            running = task.state == "running" and task.since_text
            result.append(
                InstanceStatus(
                    instance=slot,
                    task=task.id,
                    node=node.hostname if node is not None else task.node_id[:12],
                    state=task.state,
                    desired_state=task.desired_state,
                    health=_health(has_check, task.state, error),
                    since=task.since_text,
                    uptime=round(max(now - task.since, 0.0), 1) if running else None,
                    error=error,
                    address=address,
                    ports=ports,
                    error_age=age,
                    waiting=waiting_reason(task, wanted, where.values()),
                    needs_label=needed_label(task, wanted, where.values()),
                    lost=node is not None and node.state in LOST_STATES,
                )
            )
    return result
