"""The engine's service logs as it really answers them, for tests of ``lain logs``.

The fake swarm answers ``service_logs`` simply (every line of a task at its creation time,
tail over the whole service); :class:`EngineLogs` replaces that on one session with what the
engine does: per task lines stamped to the nanosecond, ``tail`` per task (earlier rollouts'
tasks too), ``since``, tasks read side by side, and follow streams; and one task's log
(``GET /tasks/{id}/logs``) the same way.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

from fakes.base import api_error

from lain_sdk.cluster.views import Task


def rfc3339(nanos: int) -> str:
    """An engine timestamp with all nine decimals."""
    seconds, rest = divmod(nanos, 1_000_000_000)
    head = datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{head}.{rest:09d}Z"


class EngineLogs:
    """Service logs answered the way the engine does, replacing the fake's: each task keeps its
    own lines; ``tail`` applies to each task, those of earlier rollouts too; ``since`` is
    honoured; tasks are read side by side (here the newest first, so never in time order); a
    follow stream gives what matches and then what is written while it is open.

    ``on_read`` runs at every read that does not follow (to write a line just then), and
    ``while_following`` lists (task, text) written once a follow stream is open.
    """

    def __init__(self, cluster: Any) -> None:
        self.api = cluster.api
        self.lines: dict[str, list[tuple[int, str]]] = {}
        self.while_following: list[tuple[str, str]] = []
        self.on_read: Any = lambda: None
        self.follow_since: list[float] = []
        self.api.service_logs = self.service_logs
        # GET /tasks/{id}/logs, which the docker SDK has no call for: lain sends it itself.
        self.api._get = lambda url, params=None, stream=False: (url, dict(params or {}))
        self.api._get_result_tty = self._task_logs

    def write(self, task: str, text: str, at: float | None = None) -> None:
        nanos = time.time_ns() if at is None else int(at * 1e9)
        self.lines.setdefault(task, []).append((nanos, text))

    def tasks(self, service: str) -> list[Task]:
        found = [Task.from_engine(t) for t in self.api.tasks(filters={"service": [service]})]
        return sorted(found, key=lambda t: t.created_at, reverse=True)

    def _render(self, service: str, task: str, nanos: int, text: str) -> bytes:
        details = (
            f"com.docker.swarm.node.id=n1,com.docker.swarm.service.id={service},"
            f"com.docker.swarm.task.id={task}"
        )
        return f"{rfc3339(nanos)} {details} {text}\n".encode()

    def _task_logs(self, stream: bool, response: tuple[str, dict[str, Any]], tty: bool) -> Any:
        url, params = response
        _, kind, task, what = url.split("/")
        assert (kind, what, stream, tty) == ("tasks", "logs", True, False)
        services = self.api.swarm_services.values()
        found = [s.id for s in services if any(t.id == task for t in s.tasks)]
        if not found:
            raise api_error(404, f"task {task} not found")
        return self.service_logs(found[0], only=task, **params)

    def service_logs(
        self,
        service: str,
        *,
        follow: bool,
        since: float | str,
        tail: int | str,
        only: str | None = None,
        **options: Any,
    ) -> Iterator[bytes]:
        assert options["timestamps"] and options["details"]
        since_nanos = int(float(since) * 1e9)
        if not follow:
            self.on_read()
        else:
            self.follow_since.append(float(since))
        out = []
        for task in [t for t in self.tasks(service) if only in (None, t.id)]:
            lines = [(n, t) for n, t in self.lines.get(task.id, []) if n > since_nanos]
            if tail != "all":
                lines = lines[-int(tail) :] if int(tail) else []
            out += [self._render(service, task.id, n, t) for n, t in lines]
        if follow:
            mine = {t.id for t in self.tasks(service)}
            for task, text in [(k, v) for k, v in self.while_following if k in mine]:
                self.write(task, text)
                out.append(self._render(service, task, self.lines[task][-1][0], text))
        return iter(out)


def tasks_by_instance(cluster: Any) -> dict[str, tuple[str, str]]:
    """``<proc>.<slot>`` -> (the earlier task, the current task)."""
    found: dict[str, list[Task]] = {}
    for service in cluster.api.services():
        proc = service["Spec"]["Labels"]["lain.proc"]
        for doc in cluster.api.tasks(filters={"service": [service["ID"]]}):
            task = Task.from_engine(doc)
            found.setdefault(f"{proc}.{task.slot}", []).append(task)
    pairs = {}
    for name, tasks in found.items():
        old, new = sorted(tasks, key=lambda t: t.created_at)
        assert old.desired_state == "shutdown" and new.desired_state == "running"
        pairs[name] = (old.id, new.id)
    return pairs
