"""What an app prints: the logs of its procs, merged by time, each line knowing its instance."""

from __future__ import annotations

import queue
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import lain_sdk.arguments as arguments
from lain_sdk.cluster.session import Cluster, ClusterLike
from lain_sdk.cluster.swarm import app_services, deployed_procs, tasks_of
from lain_sdk.cluster.views import time_of
from lain_sdk.errors import InvalidArgument, LainError, NotFound

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
    cluster: ClusterLike,
    procs: Iterable[str] | None = None,
    follow: bool = False,
    tail: int | None = None,
    since: float | None = None,
) -> Iterator[LogLine]:
    """The logs of an app's procs, merged by time, each line knowing its proc and instance.

    Without ``follow`` the lines come sorted by timestamp; with it, they come as they arrive
    until every proc's service is gone (or the caller stops iterating; the reader threads are
    daemons).

    Args:
        app: the app.
        cluster: the cluster (a session, its settings, or its name).
        procs: only these procs (default: all).
        follow: keep streaming new lines.
        tail: the last N lines of each proc (default: all).
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

    def slots() -> dict[str, int]:
        tasks = tasks_of(session, services.values(), f"list the tasks of {app}")
        return {t.id: t.slot for t in tasks}

    options = {
        "details": True,
        "stdout": True,
        "stderr": True,
        "timestamps": True,
        "tail": tail if tail is not None else "all",
        "since": int(since) if since else 0,
        "is_tty": False,
    }
    if follow:
        return _follow(session, app, services, options, slots)
    return iter(_collect(session, app, services, options, slots(), tail))


def _collect(
    cluster: Cluster,
    app: str,
    services: Mapping[str, str],
    options: Mapping[str, Any],
    task_slots: Mapping[str, int],
    tail: int | None,
) -> list[LogLine]:
    lines = []
    for proc, service_id in services.items():
        with cluster.errors(f"read the logs of {app} {proc}"):
            for chunk in cluster.api.service_logs(service_id, follow=False, **options):
                for raw in chunk.decode("utf-8", "replace").splitlines():
                    lines.append(parse_log_line(raw, proc, task_slots))
    lines.sort(key=lambda line: time_of(line.time))
    if tail is None:
        return lines
    # The engine applies tail to each task (container); keep the last N of each proc.
    kept: dict[str, int] = {}
    last = []
    for line in reversed(lines):
        if kept.get(line.proc, 0) < tail:
            kept[line.proc] = kept.get(line.proc, 0) + 1
            last.append(line)
    return last[::-1]


def _follow(
    cluster: Cluster,
    app: str,
    services: Mapping[str, str],
    options: Mapping[str, Any],
    slots: Callable[[], dict[str, int]],
) -> Iterator[LogLine]:
    """One reader thread per proc feeds a queue; lines come out as they arrive."""
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

    task_slots = slots()
    for proc, service_id in services.items():
        threading.Thread(target=read, args=(proc, service_id), daemon=True).start()
    open_streams = len(services)
    refreshed = time.monotonic()
    while open_streams:
        proc, raw = feed.get()
        if raw is None:
            open_streams -= 1
            continue
        line = parse_log_line(raw, proc, task_slots)
        if line.instance is None and time.monotonic() - refreshed > 1.0:
            # A task started after we began (a restart, an update): learn its slot.
            task_slots = slots()
            refreshed = time.monotonic()
            line = parse_log_line(raw, proc, task_slots)
        yield line
