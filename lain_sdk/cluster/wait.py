"""Waiting until services run what they should, and saying why when they don't.

:func:`wait_for` looks at the services being rolled out (three engine calls a look, however many
procs) until each runs its desired instances, healthy and up to date, or fails.  A proc fails
when Swarm rolls it back, when its update pauses, when no rolling update watches it and every
instance has failed (Swarm would retry them forever), or at the timeout; the failure carries
the last failed task's error, what its healthcheck said and its last log lines.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterable
from dataclasses import dataclass

from lain_sdk.cluster.session import Cluster
from lain_sdk.cluster.swarm import services_by_id, tasks_of
from lain_sdk.cluster.task_logs import task_lines
from lain_sdk.cluster.views import Service, Task
from lain_sdk.errors import LainError, ProcFailure
from lain_sdk.events import Event, ProcProgress

FAILED_STATES = ("failed", "rejected", "orphaned")
ROLLBACK_STATES = ("rollback_started", "rollback_paused", "rollback_completed")


@dataclass(frozen=True)
class Target:
    """A service being rolled out, and how to judge it.

    Attributes:
        proc: the proc.
        service_id: its service.
        action: ``created``, ``updated``, ``restored`` or ``unchanged``.
        since: engine time just before the change; tasks and update statuses older than this
            belong to earlier changes.
        settle: a rollback (Swarm's or ours) is expected: ``rollback_completed`` counts as done.
    """

    proc: str
    service_id: str
    action: str
    since: float
    settle: bool = False


@dataclass(frozen=True)
class Assessment:
    """Where one proc's rollout stands after a look."""

    running: int
    desired: int
    state: str  # starting, updating, converged, rolling-back, failed; a job's: running, completed
    message: str
    done: bool = False
    failed: bool = False
    rolling_back: bool = False
    failed_task: Task | None = None
    old_running: int = 0  # instances of the previous spec still running while this one rolls


def assess_job(service: Service, current: list[Task]) -> Assessment:
    """Judge a oneshot's run (a Swarm job) from the tasks of its current spec: done when each
    completion it asks for completed, failed as soon as one of them failed."""
    desired = service.scale.instances
    completed = sum(1 for t in current if t.state == "complete")
    failed = sorted((t for t in current if t.state in FAILED_STATES), key=lambda t: t.since)
    if failed:
        last = failed[-1]
        return Assessment(
            completed, desired, "failed", last.describe_error(), failed=True, failed_task=last
        )
    if completed >= desired:
        return Assessment(completed, desired, "completed", "ran to completion", done=True)
    return Assessment(completed, desired, "running", f"{completed}/{desired} completed")


def assess(target: Target, service: Service, tasks: list[Task], up_to_date: set[str]) -> Assessment:
    """Judge a proc's rollout from its service, its tasks and which of them are up to date."""
    if service.job:
        return assess_job(service, [t for t in tasks if t.id in up_to_date])
    desired = service.scale.instances
    oneshot = service.oneshot
    status = service.update_status
    fresh = status is not None and status.started_at >= target.since
    update_state = status.state if status is not None and fresh else ""
    message = status.message if status is not None and fresh else ""

    current = [t for t in tasks if t.id in up_to_date]
    good_states = ("running", "complete") if oneshot else ("running",)
    running = sum(
        1 for t in current if t.state in good_states and (oneshot or t.desired_state == "running")
    )
    stale_running = [t for t in tasks if t.id not in up_to_date and t.desired_state == "running"]
    old_serving = sum(1 for t in stale_running if t.state == "running")
    # Failures since the change; after Swarm rolled back, the failed tasks no longer match the
    # service's spec, so look at every task for the error but count only current ones.  A
    # long-running proc whose task ends by itself failed too, even with exit code 0 (an
    # unhealthy container stopped by Swarm may well exit 0 on SIGTERM).
    ended = FAILED_STATES if oneshot else (*FAILED_STATES, "complete")
    failed_since = sorted(
        (t for t in tasks if t.state in ended and t.created_at >= target.since),
        key=lambda t: t.since,
    )
    failed_new = [t for t in failed_since if t.id in up_to_date]
    # Swarm names the task that made it roll back ("... early termination of task X"); that
    # task may even have exited 0 (stopped for being unhealthy), so take it in any state.
    named = [t for t in tasks if message and t.id in message]
    candidates = named or failed_since
    last_failed = candidates[-1] if candidates else None

    def result(state: str, text: str = message, **flags: bool) -> Assessment:
        return Assessment(
            running,
            desired,
            state,
            text,
            failed_task=last_failed,
            old_running=old_serving,
            **flags,
        )

    settled = target.settle and update_state == "rollback_completed"  # judged by the tasks
    if update_state in (*ROLLBACK_STATES, "paused") and not settled:
        if update_state == "rollback_started":
            return result("rolling-back", failed=not target.settle, rolling_back=True)
        return result("failed", failed=True, rolling_back=update_state.startswith("rollback"))
    if update_state == "updating":
        return result("updating")
    in_service = sum(1 for t in current if t.desired_state == "running")
    if running >= desired and not stale_running and (oneshot or in_service <= desired):
        return result("converged", done=True)
    # No rolling update watches these tasks (a new service, or only the replica count
    # changed), so Swarm would retry them forever: fail once every instance has failed and one
    # of them twice.
    if desired > 0 and len(failed_new) >= desired + 1:
        text = f"instances keep failing ({len(failed_new)} failed tasks)"
        if last_failed is not None:
            text += f": {last_failed.describe_error()}"
        return result("failed", text, failed=True)
    if last_failed is not None and not message:
        return result("starting", last_failed.describe_error())
    return result("starting")


def wait_for(
    cluster: Cluster,
    app: str,
    targets: Iterable[Target],
    *,
    timeout: float,
    stop_on_failure: bool = True,
) -> Generator[Event, None, list[ProcFailure]]:
    """Wait until every target runs its desired instances, healthy and up to date.

    Yields a :class:`~lain_sdk.events.ProcProgress` event whenever a proc's state changes.
    Each look costs three engine calls, however many procs there are.

    Args:
        cluster: the cluster.
        app: the app (for events and messages).
        targets: the services to wait for.
        timeout: seconds; procs not converged by then fail with a timeout reason.
        stop_on_failure: return as soon as one proc fails (the others are left as they are).

    Returns:
        The procs that failed (empty when all converged).
    """
    pending = {t.proc: t for t in targets}
    deadline = time.monotonic() + timeout
    shown: dict[str, tuple[int, int, str, str, int]] = {}
    failures: list[ProcFailure] = []
    last: dict[str, tuple[Service, Assessment]] = {}
    doing = f"watch the rollout of {app}"
    while pending:
        ids = [t.service_id for t in pending.values()]
        services = services_by_id(cluster, ids, doing)
        tasks = tasks_of(cluster, ids, doing)
        up_to_date = {t.id for t in tasks_of(cluster, ids, doing, up_to_date=True)}
        for proc, target in list(pending.items()):
            service = services.get(target.service_id)
            if service is None:
                failures.append(ProcFailure(proc, "its service was removed"))
                pending.pop(proc)
                continue
            own = [t for t in tasks if t.service_id == target.service_id]
            assessment = assess(target, service, own, up_to_date)
            last[proc] = (service, assessment)
            a = assessment
            key = (a.running, a.desired, a.state, a.message, a.old_running)
            if shown.get(proc) != key:
                shown[proc] = key
                yield ProcProgress(app, proc, *key)
            if assessment.done:
                pending.pop(proc)
            elif assessment.failed:
                pending.pop(proc)
                failures.append(failure_details(cluster, proc, service, assessment))
        if failures and stop_on_failure:
            return failures
        if not pending:
            break
        if time.monotonic() >= deadline:
            for proc in pending:
                failures.append(_timed_out(cluster, proc, last.get(proc), timeout))
            return failures
        time.sleep(min(cluster.poll_interval, max(deadline - time.monotonic(), 0.01)))
    return failures


def _timed_out(
    cluster: Cluster, proc: str, seen: tuple[Service, Assessment] | None, timeout: float
) -> ProcFailure:
    if seen is None:
        return ProcFailure(proc, f"not converged after {timeout:g}s (no answer)")
    service, a = seen
    reason = (
        f"not converged after {timeout:g}s ({a.running}/{a.desired} instances running, {a.state})"
    )
    if a.message:
        reason += f": {a.message}"
    return failure_details(cluster, proc, service, a, reason=reason)


def failure_details(
    cluster: Cluster,
    proc: str,
    service: Service,
    assessment: Assessment,
    reason: str | None = None,
) -> ProcFailure:
    """Collect why a proc failed: the update status, the last failed task's error, its
    healthcheck output (when its container is on this engine) and its last log lines."""
    task = assessment.failed_task
    if reason is None:
        if assessment.rolling_back:
            reason = "the new version failed and Swarm rolled the service back"
            if service.update_status is not None and service.update_status.message:
                reason += f" ({service.update_status.message})"
        else:
            reason = assessment.message or "its instances failed"
    error = task.describe_error() if task is not None else ""
    health = _health_output(cluster, task)
    if health:
        error = f"{error} (healthcheck said: {health})" if error else f"healthcheck said: {health}"
    return ProcFailure(
        proc=proc,
        reason=reason,
        task_error=error,
        logs=tuple(_last_lines(cluster, task)) if task is not None else (),
        rolling_back=assessment.rolling_back,
    )


def _health_output(cluster: Cluster, task: Task | None) -> str:
    if task is None or not task.container_id:
        return ""
    try:
        # Only works when the task ran on the engine we talk to; elsewhere we do without.
        with cluster.errors(f"inspect container {task.container_id[:12]}"):
            state = cluster.api.inspect_container(task.container_id).get("State") or {}
    except LainError:
        return ""
    log = (state.get("Health") or {}).get("Log") or []
    if not log:
        return ""
    return str(log[-1].get("Output") or "").strip().replace("\n", " ")[:300]


def _last_lines(cluster: Cluster, task: Task, lines: int = 5) -> list[str]:
    """The last lines the failed task printed (its own log: a whole service's may never end),
    given up after a few quiet seconds: they are a courtesy in an error message."""
    options = {"stdout": True, "stderr": True, "tail": lines, "timestamps": False}
    try:
        return list(task_lines(cluster, task.id, options, f"task {task.id[:12]}", idle=5.0))
    except LainError:
        return []
