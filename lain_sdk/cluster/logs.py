"""What an app prints: the logs of its procs, merged by time, each line knowing its instance;
and the requests the cluster's router served for it (its access log).
"""

from __future__ import annotations

import json
import queue
import re
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, NamedTuple

import lain_sdk.arguments as arguments
from lain_router.labels import ROUTER_SERVICE
from lain_sdk.cluster.router import find_router
from lain_sdk.cluster.session import Cluster, ClusterLike
from lain_sdk.cluster.swarm import app_services, deployed_procs, tasks_of
from lain_sdk.cluster.task_logs import task_lines
from lain_sdk.cluster.views import Task
from lain_sdk.errors import InvalidArgument, LainError, NotFound, RouterNotRunning

# Lines waiting to be read while following; the readers block when it is full.
FOLLOW_BUFFER = 10_000


@dataclass(frozen=True)
class LogLine:
    """One line of an app's logs."""

    time: str
    proc: str
    instance: int | None
    text: str

    @property
    def source(self) -> str:
        """``<proc>.<instance>``: where the line comes from."""
        return f"{self.proc}.{self.instance}" if self.instance is not None else self.proc

    def to_dict(self) -> dict[str, Any]:
        return {"time": self.time, "proc": self.proc, "instance": self.instance, "text": self.text}


_DURATION_RE = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(value: str, now: float | None = None) -> float:
    """A point in time: a duration back from now (``90s``, ``10m``, ``2h``, ``1d``), a Unix
    time, or an ISO 8601 time; returns Unix seconds.

    Raises:
        InvalidArgument: none of those.
    """
    text = str(value).strip()
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
        raise InvalidArgument(
            f"{value!r} is not a time: give a duration (10m, 2h), a Unix time or an ISO 8601 time"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.astimezone()  # a local time, as the user wrote it
    return parsed.astimezone(timezone.utc).timestamp()


def parse_log_line(raw: str, proc: str, slots: Mapping[str, int]) -> LogLine:
    """One line of a service's log (with timestamps and details) as a :class:`LogLine`;
    ``slots`` maps task IDs to instance numbers."""
    return _parse(raw, proc, slots).line


class _Read(NamedTuple):
    """A line as read from the engine: the task that printed it and its exact time."""

    task: str
    nanos: int
    line: LogLine


_STAMP_RE = re.compile(r"^(?P<head>[^.]+?)(?:\.(?P<frac>\d+))?(?P<zone>Z|[+-]\d\d:\d\d)$")


def _nanos(stamp: str) -> int:
    """An engine timestamp (RFC 3339, up to nine decimals) in whole nanoseconds, 0 when it is
    none: lines a nanosecond apart must still compare right, which floats cannot promise."""
    match = _STAMP_RE.match(stamp.strip())
    if match is None:
        return 0
    zone = "+00:00" if match["zone"] == "Z" else match["zone"]
    try:
        seconds = int(datetime.fromisoformat(match["head"] + zone).timestamp())
    except ValueError:
        return 0
    return seconds * 1_000_000_000 + int((match["frac"] or "").ljust(9, "0")[:9])


def _parse(raw: str, proc: str, slots: Mapping[str, int]) -> _Read:
    stamp, _, rest = raw.partition(" ")
    details, _, text = rest.partition(" ")
    if "com.docker.swarm" not in details:  # no details: the whole rest is the message
        text = rest
        details = ""
    attrs = dict(item.partition("=")[::2] for item in details.split(",") if "=" in item)
    task = attrs.get("com.docker.swarm.task.id", "")
    line = LogLine(time=stamp, proc=proc, instance=slots.get(task), text=text.rstrip("\n"))
    return _Read(task, _nanos(stamp), line)


def current_tasks(tasks: Iterable[Task]) -> set[str]:
    """The task of each instance now: of every slot Swarm wants running, the newest task that
    has a container (the one running, or while the instance restarts, the one that ran last).
    Tasks of earlier rollouts, and of instances scaled away, are left out."""
    slots: dict[tuple[str, int, str], list[Task]] = {}
    for task in tasks:
        # A global service's tasks all have slot 0: each node's task is an instance.
        key = (task.service_id, task.slot, task.node_id if not task.slot else "")
        slots.setdefault(key, []).append(task)
    found = set()
    for history in slots.values():
        if not any(t.desired_state in ("running", "ready") for t in history):
            continue
        started = [t for t in history if t.container_id]
        if started:
            found.add(max(started, key=lambda t: t.created_at).id)
    return found


def app_logs(
    app: str,
    *,
    cluster: ClusterLike,
    procs: Iterable[str] | None = None,
    follow: bool = False,
    tail: int | None = None,
    since: float | None = None,
) -> Iterator[LogLine]:
    """The logs of an app's procs, merged by time, each line knowing its proc and instance.

    The lines there are come sorted by timestamp: every line the engine keeps, tasks of
    earlier rollouts included; with ``tail``, the last N lines of each instance's current task
    (:func:`current_tasks`) only.  With ``follow``, new lines come after them as they arrive,
    until every proc's service is gone (or the caller stops iterating; the reader threads are
    daemons); a line is never given twice, and none written after the call is missed.

    Args:
        app: the app.
        cluster: the cluster (a session, its settings, or its name).
        procs: only these procs (default: all).
        follow: keep streaming new lines.
        tail: the last N lines of each instance (default: all lines).
        since: only lines after this Unix time (see :func:`parse_since`).

    Raises:
        InvalidArgument: an argument of the wrong kind.
        NotFound: the app, or a named proc, is not deployed.
    """
    app = arguments.app_name(app)
    named = arguments.proc_names(procs)
    if tail is not None:
        arguments.whole(tail, "tail")
    if since is not None and (isinstance(since, bool) or not isinstance(since, (int, float))):
        raise InvalidArgument(f"since must be a Unix time (see parse_since), not {since!r}")
    session = Cluster.of(cluster)
    live = app_services(session, app)
    if not live:
        raise NotFound(f"{app} is not deployed on cluster {session.name}")
    services = {p: live[p].id for p in deployed_procs(live, named, app, session.name)}
    if not follow:
        return iter([read.line for read in _collect(session, app, services, tail, since)])
    # Lines written from now on are new; the time is taken before the old lines are read, so
    # that none written in between is missed.  It is the manager's clock: engines stamp the
    # lines, and Swarm itself takes its nodes' clocks to agree.
    start = session.clock()
    return _old_then_new(session, app, services, tail, since, start)


def _options(tail: int | None, since: float | None) -> dict[str, Any]:
    return {
        "details": True,
        "stdout": True,
        "stderr": True,
        "timestamps": True,
        "tail": tail if tail is not None else "all",
        "since": since or 0,
        "is_tty": False,
    }


def _tasks(cluster: Cluster, app: str, services: Mapping[str, str]) -> list[Task]:
    return tasks_of(cluster, services.values(), f"list the tasks of {app}")


def _collect(
    cluster: Cluster,
    app: str,
    services: Mapping[str, str],
    tail: int | None,
    since: float | None,
) -> list[_Read]:
    """Every line there is, sorted by time; with ``tail``, the last ``tail`` of each current
    task.  Each task's log is read on its own (see
    :func:`~lain_sdk.cluster.task_logs.task_lines`)."""
    if tail == 0:
        return []
    tasks = _tasks(cluster, app, services)
    slots = {t.id: t.slot for t in tasks}
    procs = {service_id: proc for proc, service_id in services.items()}
    wanted = current_tasks(tasks) if tail is not None else {t.id for t in tasks if t.container_id}
    reads = []
    for task in sorted(tasks, key=lambda t: t.created_at, reverse=True):  # as the engine does
        if task.id in wanted:
            proc = procs[task.service_id]
            for raw in task_lines(cluster, task.id, _options(tail, since), f"{app} {proc}"):
                reads.append(_parse(raw, proc, slots)._replace(task=task.id))
    # Sorted, not as the engine sends them: the lines of one task come after another's.
    return sorted(reads, key=lambda r: r.nanos)


def _old_then_new(
    cluster: Cluster,
    app: str,
    services: Mapping[str, str],
    tail: int | None,
    since: float | None,
    start: float,
) -> Iterator[LogLine]:
    """The lines there are, in time order, then the new ones as they come."""
    old = _collect(cluster, app, services, tail, since)
    # What was read of each task, printed or not: a later line of it is new.
    seen: dict[str, int] = {}
    for read in old:
        seen[read.task] = max(seen.get(read.task, 0), read.nanos)
        yield read.line
    fresh = _options(None, max(start, since or 0.0))
    yield from _follow(cluster, app, services, fresh, seen)


def _follow(
    cluster: Cluster,
    app: str,
    services: Mapping[str, str],
    options: Mapping[str, Any],
    seen: Mapping[str, int],
) -> Iterator[LogLine]:
    """One reader thread per proc feeds a queue; lines come out as they arrive, but for those
    of a task no later than the last line already read of it (``seen``)."""
    feed: queue.Queue[tuple[str, str | None]] = queue.Queue(maxsize=FOLLOW_BUFFER)

    def read(proc: str, service_id: str) -> None:
        try:
            with cluster.errors(f"follow the logs of {app} {proc}"):
                for chunk in cluster.api.service_logs(service_id, follow=True, **options):
                    for raw in chunk.decode("utf-8", "replace").splitlines():
                        feed.put((proc, raw))
        except (LainError, OSError, ValueError):
            return  # the service went away or the engine closed the stream
        finally:
            feed.put((proc, None))

    slots = {t.id: t.slot for t in _tasks(cluster, app, services)}
    for proc, service_id in services.items():
        threading.Thread(target=read, args=(proc, service_id), daemon=True).start()
    open_streams = len(services)
    refreshed = time.monotonic()
    while open_streams:
        proc, raw = feed.get()
        if raw is None:
            open_streams -= 1
            continue
        got = _parse(raw, proc, slots)
        if got.task in seen and got.nanos <= seen[got.task]:
            continue  # read with the old lines already
        if got.line.instance is None and time.monotonic() - refreshed > 1.0:
            # A task started after we began (a restart, an update): learn its slot.
            slots = {t.id: t.slot for t in _tasks(cluster, app, services)}
            refreshed = time.monotonic()
            got = _parse(raw, proc, slots)
        yield got.line


# -- the router's access log -------------------------------------------------------------------

# A tail of the access log asks the engine for the last lines of each router task, this many at
# first (or four a request asked for), four times more each time they hold too few of the
# app's requests, up to the limit of each node: an app the router has not served for that long
# shows fewer than asked.
ACCESS_FIRST_SCAN = 2_000
ACCESS_SCAN_LIMIT = 100_000


@dataclass(frozen=True)
class AccessRecord:
    """One request the cluster's router answered for an app: a line of its access log (see
    ``LOG_FORMAT`` in :mod:`lain_router.render`).

    Attributes:
        time: when the router answered (ISO 8601, its clock, to the second).
        app: the app; proc: the proc whose mountpoint matched.
        host, method, uri: the request (``uri`` as the client sent it, query included).
        status: the status the client got; bytes: the body's size.
        duration: seconds from the request's first byte to the answer's last.
        upstream: the instances tried (``address:port``, several when one failed), empty when
            none was (a 503 with no instance ready, a redirect to HTTPS).
        upstream_status: what each of those answered.
        client: the address the request came from; agent: its User-Agent.
        fields: the whole record as the router wrote it (what :meth:`to_dict` gives).
    """

    time: str
    app: str
    proc: str
    host: str
    method: str
    uri: str
    status: int
    bytes: int
    duration: float
    upstream: str
    upstream_status: str
    client: str
    agent: str
    fields: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> AccessRecord:
        """A record of the router's log; missing or odd values read as empty or 0."""

        def text(key: str) -> str:
            value = record.get(key)
            return value if isinstance(value, str) else ""

        def number(key: str) -> float:
            value = record.get(key)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return 0.0
            return float(value)

        return cls(
            time=text("time"),
            app=text("app"),
            proc=text("proc"),
            host=text("host"),
            method=text("method"),
            uri=text("uri"),
            status=int(number("status")),
            bytes=int(number("bytes")),
            duration=number("duration"),
            upstream=text("upstream"),
            upstream_status=text("upstream_status"),
            client=text("client"),
            agent=text("agent"),
            fields=dict(record),
        )

    def to_dict(self) -> dict[str, Any]:
        return dict(self.fields)


def parse_access_line(text: str) -> AccessRecord | None:
    """A line of the router's standard output as an :class:`AccessRecord`; None for a line
    that is not one of its HTTP requests (a stream port's record has no app)."""
    try:
        record = json.loads(text)
    except ValueError:
        return None
    if not isinstance(record, dict) or not isinstance(record.get("app"), str):
        return None
    return AccessRecord.from_record(record)


class _AccessRead(NamedTuple):
    task: str
    nanos: int
    record: AccessRecord


class _AccessFilter(NamedTuple):
    """Which records are the app's: a cheap look at the text first (the router writes
    ``"app":"NAME"`` exactly so), then the parsed record."""

    app: str
    procs: frozenset[str]

    def read(self, raw: str) -> tuple[str, _AccessRead | None]:
        """The task that wrote ``raw``, and the record when it is one of the app's."""
        got = _parse(raw, ROUTER_SERVICE, {})
        if f'"app":"{self.app}"' not in got.line.text:
            return got.task, None
        record = parse_access_line(got.line.text)
        if record is None or record.app != self.app:
            return got.task, None
        if self.procs and record.proc not in self.procs:
            return got.task, None
        # Ordered by when the router answered ("msec"), not when the line reached the engine:
        # each nginx worker writes its log in batches, so lines of two workers interleave.
        answered = record.fields.get("msec")
        nanos = got.nanos
        if isinstance(answered, (int, float)) and not isinstance(answered, bool):
            nanos = int(answered * 1e9)
        return got.task, _AccessRead(got.task, nanos, record)


def access_logs(
    app: str,
    *,
    cluster: ClusterLike,
    procs: Iterable[str] | None = None,
    follow: bool = False,
    tail: int | None = None,
    since: float | None = None,
) -> Iterator[AccessRecord]:
    """The requests the cluster's router answered for ``app``, in time order: its access log
    (every router instance's, on whatever node, read through the engine's service logs).

    The app need not be deployed: the router's log keeps what it answered for it before.  With
    ``follow``, new requests come after those there are, until the router's service is gone (or
    the caller stops iterating); a request is never given twice.

    Args:
        app: the app.
        cluster: the cluster (a session, its settings, or its name).
        procs: only the requests these procs' mountpoints matched (default: all).
        follow: keep streaming new requests.
        tail: only the last N requests, searched for in at most the last
            :data:`ACCESS_SCAN_LIMIT` lines the router wrote on each node (``since`` without
            ``tail`` reads all there is since then).
        since: only requests after this Unix time (see :func:`parse_since`).

    Raises:
        InvalidArgument: an argument of the wrong kind.
        RouterNotRunning: no router runs on the cluster (a :class:`NotFound`).
        EngineError: the engine does not answer.
        LainTimeout: the engine left the log's stream open with nothing more to send for
            :data:`~lain_sdk.cluster.task_logs.LOG_IDLE_TIMEOUT` seconds (before following).
    """
    app = arguments.app_name(app)
    wanted = _AccessFilter(app, frozenset(arguments.proc_names(procs) or ()))
    if tail is not None:
        arguments.whole(tail, "tail")
    if since is not None and (isinstance(since, bool) or not isinstance(since, (int, float))):
        raise InvalidArgument(f"since must be a Unix time (see parse_since), not {since!r}")
    session = Cluster.of(cluster)
    service_id = _router_service(session)
    if not follow:
        reads = _collect_access(session, service_id, wanted, tail, since)
        return iter([r.record for r in reads])
    start = session.clock()  # before the old lines are read: none written between is missed
    return _access_then_new(session, service_id, wanted, tail, since, start)


def _router_service(cluster: Cluster) -> str:
    router = find_router(cluster)
    if router is None:
        raise RouterNotRunning(cluster.name, "there is no access log: the router keeps it")
    return router.id


def _task_access(
    cluster: Cluster,
    task_id: str,
    wanted: _AccessFilter,
    tail: int | None,
    since: float | None,
    limit: int,
) -> tuple[list[_AccessRead], int]:
    """The app's records in one router task's log, and how many lines were looked at.

    With ``tail`` or ``since``, the log is read from ever longer tails of it (at most
    ``limit`` lines), until they hold ``tail`` of the app's records or reach back past
    ``since`` or to the log's start; a whole log from its start, as the engine reads
    ``since`` alone, takes as long as the log is.
    """
    if tail is None and since is None:
        scan: int | None = None
    else:
        scan = min(max(ACCESS_FIRST_SCAN, 4 * (tail or 0)), limit)
    while True:
        lines = 0
        reads = []
        options = {**_options(None, since), "tail": "all" if scan is None else scan}
        for raw in task_lines(cluster, task_id, {**options, "stderr": False}, "the router"):
            lines += 1
            _, read = wanted.read(raw)
            if read is not None:
                reads.append(read._replace(task=task_id))
        if scan is None or lines < scan or scan >= limit:
            return reads, lines
        if tail is not None and len(reads) >= tail:
            return reads, lines
        scan = min(scan * 4, limit)


def _collect_access(
    cluster: Cluster,
    service_id: str,
    wanted: _AccessFilter,
    tail: int | None,
    since: float | None,
) -> list[_AccessRead]:
    """The app's records there are, in time order, from every router task that has a
    container (those of earlier rollouts the swarm keeps too); with ``tail``, the last
    ``tail``, looked for in the last :data:`ACCESS_SCAN_LIMIT` lines of each node.

    A node runs one router task at a time (its updates stop the old one first), so with
    ``tail`` each node's tasks are read newest first, until they gave that many records.
    """
    if tail == 0:
        return []
    by_node: dict[str, list[Task]] = {}
    for task in tasks_of(cluster, [service_id], "list the router's tasks"):
        if task.container_id:
            by_node.setdefault(task.node_id, []).append(task)
    reads: list[_AccessRead] = []
    for tasks in by_node.values():
        found = 0
        budget = ACCESS_SCAN_LIMIT if tail is not None else sys.maxsize
        for task in sorted(tasks, key=lambda t: t.created_at, reverse=True):
            got, looked = _task_access(cluster, task.id, wanted, tail, since, budget)
            reads += got
            found += len(got)
            budget -= looked
            if tail is not None and (found >= tail or budget <= 0):
                break
    reads.sort(key=lambda r: r.nanos)
    return reads[-tail:] if tail is not None else reads


def _access_then_new(
    cluster: Cluster,
    service_id: str,
    wanted: _AccessFilter,
    tail: int | None,
    since: float | None,
    start: float,
) -> Iterator[AccessRecord]:
    seen: dict[str, int] = {}
    for read in _collect_access(cluster, service_id, wanted, tail, since):
        seen[read.task] = max(seen.get(read.task, 0), read.nanos)
        yield read.record
    options = {**_options(None, max(start, since or 0.0)), "stderr": False}
    try:
        with cluster.errors("follow the router's access log"):
            for chunk in cluster.api.service_logs(service_id, follow=True, **options):
                for raw in chunk.decode("utf-8", "replace").splitlines():
                    _, new = wanted.read(raw)
                    if new is not None and new.nanos > seen.get(new.task, -1):
                        yield new.record
    except (LainError, OSError, ValueError):
        return  # the router's service went away or the engine closed the stream
