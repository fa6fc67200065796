"""What an app runs on a cluster (``lain ps``) and what it prints (``lain logs``).

Status costs three engine calls however many procs the app has: the app's services (by label),
their tasks (one call with every service in the filter) and the nodes; a fourth lists the
services of its resource instances when it has some.
"""

from __future__ import annotations

import queue
import re
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from lain_sdk.cluster import desired as d
from lain_sdk.cluster import swarm
from lain_sdk.cluster.discovery import LABEL_USES_RESOURCES
from lain_sdk.cluster.engine_calls import engine_errors, parse_time
from lain_sdk.cluster.operations import current_release_number, engine_for
from lain_sdk.cluster.resources import instance_services
from lain_sdk.errors import NotFound

if TYPE_CHECKING:
    from lain_sdk.settings import ClusterSettings


# -- status ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InstanceStatus:
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
        error: the last error of this instance (its current task's, else its last failed one).
        error_age: seconds since that error (None without one): an old error of a task that
            has long been replaced reads differently from a crash a moment ago.
        address: where to reach it: ``host:port`` of a published port, else its overlay IP.
        ports: published host ports (``80/tcp -> 127.0.0.1:32768``).
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
        }


@dataclass(frozen=True)
class ProcStatus:
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
        }


@dataclass(frozen=True)
class AppStatus:
    """What an app runs on a cluster, proc by proc and instance by instance.

    Attributes:
        app: the app.
        cluster: the cluster's name.
        release: the release running now.
        procs: one :class:`ProcStatus` per deployed proc.
        resource_instances: the status of each of the app's resource instances
            (``resource.<res>.<app>``, see :mod:`lain_sdk.cluster.resources`).
    """

    app: str
    cluster: str
    release: int | None
    procs: tuple[ProcStatus, ...] = field(default_factory=tuple)
    resource_instances: tuple[AppStatus, ...] = field(default_factory=tuple)

    @property
    def healthy(self) -> bool:
        return bool(self.procs) and all(
            p.running >= p.desired and p.update_state not in ("updating", "rollback_started")
            for p in self.procs
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "cluster": self.cluster,
            "release": self.release,
            "healthy": self.healthy,
            "procs": [p.to_dict() for p in self.procs],
            "resource_instances": [i.to_dict() for i in self.resource_instances],
        }


def app_status(app: str, *, cluster: ClusterSettings, docker_client: Any = None) -> AppStatus:
    """Every proc of ``app`` with its instances, and the same for each of its resource
    instances, in three engine calls however many procs (four with resource instances).

    Raises:
        NotFound: the app has no services on the cluster.
        EngineError: the engine does not answer.
    """
    client = engine_for(cluster, docker_client)
    live = swarm.app_services(client, app)
    if not live:
        raise NotFound(f"{app} is not deployed on cluster {cluster.name}")
    # One more engine call, only for an app whose services say it has resource instances.
    uses = any(
        ((s.get("Spec") or {}).get("Labels") or {}).get(LABEL_USES_RESOURCES) for s in live.values()
    )
    instances = instance_services(client, app) if uses else {}
    services = [*live.values(), *(s for procs in instances.values() for s in procs.values())]
    ids = [str(s["ID"]) for s in services]
    with engine_errors(client, f"list the tasks of {app}"):
        tasks = client.api.tasks(filters={"service": ids})
        nodes = client.api.nodes()
    node_names = {
        n["ID"]: (n.get("Description") or {}).get("Hostname", n["ID"][:12]) for n in nodes
    }
    node_addrs = {n["ID"]: (n.get("Status") or {}).get("Addr", "") for n in nodes}
    by_service: dict[str, list[dict[str, Any]]] = {}
    for task in tasks:
        by_service.setdefault(task.get("ServiceID", ""), []).append(task)
    now = time.time()

    def status_of(name: str, services: Mapping[str, dict[str, Any]]) -> AppStatus:
        procs = _proc_statuses(name, services, by_service, node_names, node_addrs, now)
        return AppStatus(name, cluster.name, current_release_number(services), procs)

    return replace(
        status_of(app, live),
        resource_instances=tuple(status_of(name, procs) for name, procs in instances.items()),
    )


def _proc_statuses(
    app: str,
    live: Mapping[str, dict[str, Any]],
    by_service: Mapping[str, list[dict[str, Any]]],
    node_names: Mapping[str, str],
    node_addrs: Mapping[str, str],
    now: float,
) -> tuple[ProcStatus, ...]:
    procs = []
    for proc, service in sorted(live.items()):
        spec = service.get("Spec") or {}
        labels = spec.get("Labels") or {}
        container = (spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}
        has_check = bool(container.get("Healthcheck")) and (
            (container.get("Healthcheck") or {}).get("Test") not in (["NONE"], None)
        )
        scale = d.spec_scale(spec)
        instances = _instances(
            by_service.get(str(service["ID"]), []),
            node_names,
            node_addrs,
            has_check,
            now,
            d.network_name(app),
        )
        status = service.get("UpdateStatus") or {}
        release = labels.get(d.LABEL_RELEASE, "")
        procs.append(
            ProcStatus(
                proc=proc,
                proctype=labels.get(d.LABEL_PROCTYPE, ""),
                service=str(spec.get("Name", "")),
                version=labels.get(d.LABEL_VERSION, ""),
                release=int(release) if str(release).isdigit() else None,
                image=str(container.get("Image", "")),
                desired=scale.instances,
                running=sum(
                    1 for i in instances if i.state == "running" and i.desired_state == "running"
                ),
                cpu=scale.cpu,
                memory=scale.memory,
                update_state=str(status.get("State", "")),
                update_message=str(status.get("Message", "")),
                instances=tuple(instances),
            )
        )
    return tuple(procs)


def _instances(
    tasks: list[dict[str, Any]],
    node_names: Mapping[str, str],
    node_addrs: Mapping[str, str],
    has_check: bool,
    now: float,
    network: str,
) -> list[InstanceStatus]:
    slots: dict[int, list[dict[str, Any]]] = {}
    for task in tasks:
        slots.setdefault(int(task.get("Slot") or 0), []).append(task)
    result = []
    for slot, history in sorted(slots.items()):
        history.sort(key=lambda t: _when(t.get("CreatedAt")))
        active = [t for t in history if t.get("DesiredState") in ("running", "ready")]
        if not active:
            continue  # an instance scaled away: only its history is left
        # Newest first: during a start-first update the new task is the instance's future.
        for task in reversed(active):
            status = task.get("Status") or {}
            state = str(status.get("State", ""))
            failed = [t.get("Status") or {} for t in history if (t.get("Status") or {}).get("Err")]
            error_status = status if status.get("Err") else (failed[-1] if failed else {})
            error = str(error_status.get("Err") or "")
            error_at = str(error_status.get("Timestamp") or "")
            error_age = round(max(now - _when(error_at), 0.0), 1) if error and error_at else None
            if not has_check:
                health = "none"
            elif state == "running":
                health = "healthy"
            elif state == "starting":
                health = "starting"
            elif "unhealthy" in error:
                health = "unhealthy"
            else:
                health = "-"
            since = str(status.get("Timestamp", ""))
            uptime = max(now - _when(since), 0.0) if state == "running" and since else None
            node_id = str(task.get("NodeID", ""))
            host = node_addrs.get(node_id, "") or node_names.get(node_id, "")
            ports = []
            address = ""
            seen = set()
            for port in (status.get("PortStatus") or {}).get("Ports") or []:
                key = (port.get("PublishedPort"), port.get("TargetPort"), port.get("Protocol"))
                if key in seen or not port.get("PublishedPort"):
                    continue
                seen.add(key)
                ports.append(
                    f"{port['TargetPort']}/{port.get('Protocol', 'tcp')} -> "
                    f"{host}:{port['PublishedPort']}"
                )
                address = address or f"{host}:{port['PublishedPort']}"
            if not address:
                for attachment in task.get("NetworksAttachments") or []:
                    if ((attachment.get("Network") or {}).get("Spec") or {}).get("Name") == network:
                        addresses = attachment.get("Addresses") or []
                        address = addresses[0].split("/")[0] if addresses else ""
            result.append(
                InstanceStatus(
                    instance=slot,
                    task=str(task.get("ID", "")),
                    node=node_names.get(node_id, node_id[:12]),
                    state=state,
                    desired_state=str(task.get("DesiredState", "")),
                    health=health,
                    since=since,
                    uptime=round(uptime, 1) if uptime is not None else None,
                    error=error,
                    address=address,
                    ports=tuple(ports),
                    error_age=error_age,
                )
            )
    return result


def _when(value: Any) -> float:
    try:
        return parse_time(str(value))
    except (TypeError, ValueError):
        return 0.0


# -- logs --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogLine:
    """One line of an app's logs."""

    time: str
    proc: str
    instance: int | None
    text: str

    @property
    def source(self) -> str:
        """``<proc>.<instance>``, the prefix ``lain logs`` prints."""
        return f"{self.proc}.{self.instance}" if self.instance is not None else self.proc

    def to_dict(self) -> dict[str, Any]:
        return {"time": self.time, "proc": self.proc, "instance": self.instance, "text": self.text}


_DURATION_RE = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(value: str, now: float | None = None) -> float:
    """``--since``: a duration back from now (``90s``, ``10m``, ``2h``, ``1d``), a Unix time, or
    an ISO 8601 time; returns Unix seconds.

    Raises:
        ValueError: none of those.
    """
    text = value.strip()
    now = time.time() if now is None else now
    match = _DURATION_RE.match(text)
    if match:
        return now - float(match.group(1)) * _DURATION_UNITS[match.group(2)]
    try:
        return float(text)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"--since {value!r}: give a duration (10m, 2h), a Unix time or an ISO 8601 time"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.astimezone()  # a local time, as the user wrote it
    return parsed.astimezone(timezone.utc).timestamp()


def _parse_log(raw: str, proc: str, slots: Mapping[str, int]) -> LogLine:
    stamp, _, rest = raw.partition(" ")
    details, _, text = rest.partition(" ")
    if "com.docker.swarm" not in details:  # no details: the whole rest is the message
        text = rest
        details = ""
    attrs = dict(item.partition("=")[::2] for item in details.split(",") if "=" in item)
    instance = slots.get(attrs.get("com.docker.swarm.task.id", ""))
    return LogLine(time=stamp, proc=proc, instance=instance, text=text.rstrip("\n"))


def app_logs(
    app: str,
    *,
    cluster: ClusterSettings,
    procs: Iterable[str] | None = None,
    follow: bool = False,
    tail: int | None = None,
    since: float | None = None,
    docker_client: Any = None,
) -> Iterator[LogLine]:
    """The logs of an app's procs, merged by time, each line knowing its proc and instance.

    Without ``follow`` the lines come sorted by timestamp; with it, they come as they arrive
    until every proc's service is gone (or the caller stops iterating; the reader threads are
    daemons).

    Args:
        app: the app.
        cluster: the cluster.
        procs: only these procs (default: all).
        follow: keep streaming new lines.
        tail: the last N lines of each proc (default: all).
        since: only lines after this Unix time (see :func:`parse_since`).
        docker_client: a docker client for the cluster's manager (default: connect).

    Raises:
        NotFound: the app, or a named proc, is not deployed.
    """
    client = engine_for(cluster, docker_client)
    live = swarm.app_services(client, app)
    if not live:
        raise NotFound(f"{app} is not deployed on cluster {cluster.name}")
    wanted = sorted(procs) if procs else sorted(live)
    missing = [p for p in wanted if p not in live]
    if missing:
        raise NotFound(
            f"proc(s) {', '.join(missing)} of {app} are not deployed (deployed procs: "
            f"{', '.join(sorted(live))})"
        )
    services = {p: str(live[p]["ID"]) for p in wanted}

    def slots() -> dict[str, int]:
        with engine_errors(client, f"list the tasks of {app}"):
            tasks = client.api.tasks(filters={"service": list(services.values())})
        return {str(t["ID"]): int(t.get("Slot") or 0) for t in tasks}

    task_slots = slots()
    options = {
        "details": True,
        "stdout": True,
        "stderr": True,
        "timestamps": True,
        "tail": tail if tail is not None else "all",
        "since": int(since) if since else 0,
        "is_tty": False,
    }
    if not follow:
        lines = []
        for proc, service_id in services.items():
            with engine_errors(client, f"read the logs of {app} {proc}"):
                for chunk in client.api.service_logs(service_id, follow=False, **options):
                    for raw in chunk.decode("utf-8", "replace").splitlines():
                        lines.append(_parse_log(raw, proc, task_slots))
        lines.sort(key=lambda line: _when(line.time))
        if tail is not None:
            # The engine applies tail to each task (container); keep the last N of each proc.
            kept: dict[str, int] = {}
            last = []
            for line in reversed(lines):
                if kept.get(line.proc, 0) < tail:
                    kept[line.proc] = kept.get(line.proc, 0) + 1
                    last.append(line)
            lines = last[::-1]
        yield from lines
        return

    # Follow: one reader thread per proc feeds a queue; lines come out as they arrive.
    import requests
    from docker.errors import DockerException

    feed: queue.Queue[tuple[str, str | None]] = queue.Queue(maxsize=10_000)

    def read(proc: str, service_id: str) -> None:
        try:
            for chunk in client.api.service_logs(service_id, follow=True, **options):
                for raw in chunk.decode("utf-8", "replace").splitlines():
                    feed.put((proc, raw))
        except (DockerException, requests.RequestException, OSError):
            return  # the service went away or the engine closed the stream
        finally:
            feed.put((proc, None))

    for proc, service_id in services.items():
        threading.Thread(target=read, args=(proc, service_id), daemon=True).start()
    open_streams = len(services)
    refreshed = time.monotonic()
    while open_streams:
        proc, raw = feed.get()
        if raw is None:
            open_streams -= 1
            continue
        line = _parse_log(raw, proc, task_slots)
        if line.instance is None and time.monotonic() - refreshed > 1.0:
            # A task started after we began (a restart, an update): learn its slot.
            task_slots = slots()
            refreshed = time.monotonic()
            line = _parse_log(raw, proc, task_slots)
        yield line
