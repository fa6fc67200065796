"""The Swarm backend: put services on the engine, wait until they run, and say why when they don't.

Everything goes through the docker SDK's low-level ``APIClient`` (``client.api``) with Engine
API documents as plain dicts: the specs :mod:`lain_sdk.cluster.desired` builds are sent as they
are.  Reads are batched (one call lists an app's services, one its tasks), so the cost of a poll
does not grow with the number of procs.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lain_sdk.cluster.desired import (
    LABEL_APP,
    LABEL_PROC,
    DesiredNetwork,
)
from lain_sdk.cluster.engine_calls import (
    engine_errors,
    is_conflict,
    is_not_found,
    parse_time,
    unless_missing,
)
from lain_sdk.events import Event, ProcProgress

POLL_SECONDS = 0.5
FAILED_STATES = ("failed", "rejected", "orphaned")
ROLLBACK_STATES = ("rollback_started", "rollback_paused", "rollback_completed")


# -- reading -----------------------------------------------------------------------------------


def app_services(client: Any, app: str) -> dict[str, dict[str, Any]]:
    """The app's live services by proc name (one engine call)."""
    with engine_errors(client, f"list the services of {app}"):
        services = client.api.services(filters={"label": f"{LABEL_APP}={app}"})
    found: dict[str, dict[str, Any]] = {}
    for service in services:
        labels = (service.get("Spec") or {}).get("Labels") or {}
        if labels.get(LABEL_APP) == app and labels.get(LABEL_PROC):
            found[labels[LABEL_PROC]] = service
    return found


def find_network(client: Any, name: str) -> dict[str, Any] | None:
    """The network called exactly ``name``, or None."""
    with engine_errors(client, f"look up network {name}"):
        # The engine's name filter matches substrings; keep the exact match only.
        networks = client.api.networks(names=[name])
    return next((n for n in networks if n.get("Name") == name), None)


# -- writing -----------------------------------------------------------------------------------


def ensure_network(client: Any, network: DesiredNetwork) -> bool:
    """Create the app's overlay network unless it exists; True when it was created."""
    if find_network(client, network.name) is not None:
        return False
    with engine_errors(client, f"create network {network.name}"):
        try:
            client.api.create_network(
                network.name,
                driver=network.driver,
                attachable=network.attachable,
                labels=dict(network.labels),
                scope="swarm",
                check_duplicate=True,
            )
        except Exception as e:
            if not is_conflict(e):  # created by someone else in between: fine
                raise
    return True


def _spec_args(spec: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "task_template": spec["TaskTemplate"],
        "name": spec["Name"],
        "labels": spec.get("Labels") or {},
        "mode": spec.get("Mode") or {"Replicated": {"Replicas": 1}},
        "update_config": spec.get("UpdateConfig"),
        "rollback_config": spec.get("RollbackConfig"),
        "endpoint_spec": spec.get("EndpointSpec") or {"Mode": "dnsrr"},
    }


def create_service(client: Any, spec: Mapping[str, Any]) -> str:
    """Create a service from a full spec; return its ID."""
    with engine_errors(client, f"create service {spec['Name']}"):
        return str(client.api.create_service(**_spec_args(spec))["ID"])


def update_service(client: Any, service: Mapping[str, Any], spec: Mapping[str, Any]) -> None:
    """Replace a live service's spec with ``spec`` (optimistic concurrency on its version).

    Raises:
        ClusterError: the engine refused, e.g. because someone else changed the service since
            it was read (run the command again).
    """
    with engine_errors(
        client, f"update service {spec['Name']}", "if it changed meanwhile, run the command again"
    ):
        client.api.update_service(service["ID"], service["Version"]["Index"], **_spec_args(spec))


def inspect_service(client: Any, service_id: str) -> dict[str, Any]:
    with engine_errors(client, f"inspect service {service_id}"):
        return dict(client.api.inspect_service(service_id))


def remove_service(client: Any, service_id: str, name: str = "") -> None:
    """Remove a service; one that is already gone is fine."""
    with engine_errors(client, f"remove service {name or service_id}"):
        unless_missing(client.api.remove_service, service_id)


def remove_when_free(client: Any, kind: str, name: str, remove: Any, timeout: float) -> bool:
    """Remove a network or volume, retrying while containers that used it are still stopping.

    Returns False when it was still in use at the timeout (it is then left in place).
    """
    from docker.errors import APIError

    deadline = time.monotonic() + timeout
    while True:
        with engine_errors(client, f"remove {kind} {name}"):
            try:
                remove(name)
                return True
            except APIError as e:
                if is_not_found(e):
                    return True
                if time.monotonic() >= deadline:
                    return False
        time.sleep(0.5)


def remove_network(client: Any, name: str, timeout: float) -> bool:
    """Remove the app's network and wait until this engine no longer lists it.

    The managers forget a swarm network at once, but a node keeps its copy until the last
    container on it has stopped, and the name cannot be used again until then; waiting here
    lets a deploy right after an undeploy create it afresh.  False when it was still there at
    the timeout.
    """
    deadline = time.monotonic() + timeout
    if not remove_when_free(client, "network", name, client.api.remove_network, timeout):
        return False
    while find_network(client, name) is not None:
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.5)
    return True


# -- waiting -----------------------------------------------------------------------------------


@dataclass
class Target:
    """A service being rolled out, and how to judge it.

    Attributes:
        proc: the proc.
        service_id: its service.
        action: ``created``, ``updated`` or ``restored``.
        since: engine time just before the change; tasks and update statuses older than this
            belong to earlier changes.
        settle: a rollback (Swarm's or ours) is expected: ``rollback_completed`` counts as done.
    """

    proc: str
    service_id: str
    action: str
    since: float
    settle: bool = False


@dataclass
class ProcFailure:
    """Why one proc did not converge."""

    proc: str
    service_id: str
    reason: str
    task_error: str = ""
    logs: list[str] = field(default_factory=list)
    rolling_back: bool = False

    def describe(self) -> str:
        text = f"proc {self.proc}: {self.reason}"
        if self.task_error and self.task_error not in self.reason:
            text += f"\n  last task error: {self.task_error}"
        if self.logs:
            text += "\n  last log lines:\n" + "\n".join(f"    {line}" for line in self.logs)
        return text


@dataclass
class _Assessment:
    running: int
    desired: int
    state: str
    message: str
    done: bool = False
    failed: bool = False
    rolling_back: bool = False
    failed_task: Mapping[str, Any] | None = None


def _time_of(value: Any) -> float:
    try:
        return parse_time(str(value))
    except (TypeError, ValueError):
        return 0.0


def _assess(
    target: Target,
    service: Mapping[str, Any],
    tasks: list[Mapping[str, Any]],
    up_to_date: set[str],
) -> _Assessment:
    spec = service.get("Spec") or {}
    desired = int(((spec.get("Mode") or {}).get("Replicated") or {}).get("Replicas", 0) or 0)
    oneshot = ((spec.get("TaskTemplate") or {}).get("RestartPolicy") or {}).get(
        "Condition"
    ) == "none"
    status = service.get("UpdateStatus") or {}
    fresh = bool(status) and _time_of(status.get("StartedAt")) >= target.since
    update_state = str(status.get("State", "")) if fresh else ""
    message = str(status.get("Message", "")) if fresh else ""

    current = [t for t in tasks if t["ID"] in up_to_date]
    good_states = ("running", "complete") if oneshot else ("running",)
    running = sum(
        1
        for t in current
        if (t.get("Status") or {}).get("State") in good_states
        and (oneshot or t.get("DesiredState") == "running")
    )
    stale_running = [
        t for t in tasks if t["ID"] not in up_to_date and t.get("DesiredState") == "running"
    ]
    # Failures since the change; after Swarm rolled back, the failed tasks no longer match
    # the service's spec, so look at every task for the error but count only current ones.
    # A long-running proc whose task ends by itself failed too, even with exit code 0 (an
    # unhealthy container stopped by Swarm may well exit 0 on SIGTERM).
    ended = FAILED_STATES if oneshot else (*FAILED_STATES, "complete")
    failed_since = sorted(
        (
            t
            for t in tasks
            if (t.get("Status") or {}).get("State") in ended
            and _time_of(t.get("CreatedAt")) >= target.since
        ),
        key=lambda t: _time_of((t.get("Status") or {}).get("Timestamp")),
    )
    failed_new = [t for t in failed_since if t["ID"] in up_to_date]
    # Swarm names the task that made it roll back ("... early termination of task X"); that
    # task may even have exited 0 (stopped for being unhealthy), so take it in any state.
    named = [t for t in tasks if message and t["ID"] in message]
    candidates = named or failed_since
    last_failed = candidates[-1] if candidates else None

    def result(state: str, **kw: Any) -> _Assessment:
        return _Assessment(running, desired, state, message, failed_task=last_failed, **kw)

    if update_state in ROLLBACK_STATES or update_state == "paused":
        if target.settle and update_state == "rollback_completed":
            pass  # judged by the task counts below
        elif update_state == "rollback_started":
            return result("rolling-back", failed=not target.settle, rolling_back=True)
        else:
            return result("failed", failed=True, rolling_back=update_state.startswith("rollback"))
    if update_state == "updating":
        return result("updating")
    if (
        running >= desired
        and not stale_running
        and (oneshot or sum(1 for t in current if t.get("DesiredState") == "running") <= desired)
    ):
        return result("converged", done=True)
    # No rolling update watches these tasks (a new service, or only the replica count
    # changed), so Swarm would retry them forever: fail once every instance has failed and
    # one of them twice.
    if len(failed_new) >= desired + 1 and desired > 0:
        err = _task_error(last_failed)
        message = f"instances keep failing ({len(failed_new)} failed tasks)"
        if err:
            message += f": {err}"
        return result("failed", failed=True)
    state = "starting"
    if last_failed is not None and not message:
        message = _task_error(last_failed)
    return result(state)


def _task_error(task: Mapping[str, Any] | None) -> str:
    if not task:
        return ""
    status = task.get("Status") or {}
    if status.get("Err"):
        return str(status["Err"])
    exit_code = (status.get("ContainerStatus") or {}).get("ExitCode")
    code = f", exit code {exit_code}" if exit_code is not None else ""
    state = status.get("State", "")
    return f"task {task.get('ID', '')[:12]} {state}{code}: {status.get('Message', '')}"


def wait_for(
    client: Any,
    app: str,
    targets: Iterable[Target],
    *,
    timeout: float,
    stop_on_failure: bool = True,
) -> Generator[Event, None, list[ProcFailure]]:
    """Wait until every target runs its desired instances, healthy and up to date.

    Yields a :class:`~lain_sdk.events.ProcProgress` event whenever a proc's state changes.
    Each poll costs three engine calls, however many procs there are.

    Args:
        client: a docker client for a swarm manager.
        app: the app (for events and messages).
        targets: the services to wait for.
        timeout: seconds; procs not converged by then fail with a timeout reason.
        stop_on_failure: return as soon as one proc fails (the others are left as they are).

    Returns:
        The procs that failed (empty when all converged).
    """
    pending = {t.proc: t for t in targets}
    deadline = time.monotonic() + timeout
    shown: dict[str, tuple[int, int, str, str]] = {}
    failures: list[ProcFailure] = []
    last: dict[str, _Assessment] = {}
    while pending:
        ids = [t.service_id for t in pending.values()]
        with engine_errors(client, f"watch the rollout of {app}"):
            services = {s["ID"]: s for s in client.api.services(filters={"id": ids})}
            tasks = client.api.tasks(filters={"service": ids})
            # The engine's own test for "task runs the service's current spec" (what
            # `docker service update` uses to follow a rollout).
            up_to_date = {
                t["ID"] for t in client.api.tasks(filters={"service": ids, "_up-to-date": "true"})
            }
        by_service: dict[str, list[Mapping[str, Any]]] = {}
        for task in tasks:
            by_service.setdefault(task.get("ServiceID", ""), []).append(task)
        for proc, target in list(pending.items()):
            service = services.get(target.service_id)
            if service is None:
                failures.append(ProcFailure(proc, target.service_id, "its service was removed"))
                pending.pop(proc)
                continue
            assessment = _assess(target, service, by_service.get(target.service_id, []), up_to_date)
            last[proc] = assessment
            key = (assessment.running, assessment.desired, assessment.state, assessment.message)
            if shown.get(proc) != key:
                shown[proc] = key
                yield ProcProgress(
                    app=app,
                    proc=proc,
                    running=assessment.running,
                    desired=assessment.desired,
                    state=assessment.state,
                    message=assessment.message,
                )
            if assessment.done:
                pending.pop(proc)
            elif assessment.failed:
                pending.pop(proc)
                failures.append(failure_details(client, target, service, assessment))
        if failures and stop_on_failure:
            return failures
        if not pending:
            break
        if time.monotonic() >= deadline:
            for proc, target in pending.items():
                a = last.get(proc)
                progress = f"{a.running}/{a.desired} instances running" if a else "no answer"
                state = f", {a.state}" if a else ""
                reason = f"not converged after {timeout:g}s ({progress}{state})"
                if a and a.message:
                    reason += f": {a.message}"
                failure = failure_details(
                    client, target, services.get(target.service_id) or {}, a, reason=reason
                )
                failures.append(failure)
            return failures
        time.sleep(min(POLL_SECONDS, max(deadline - time.monotonic(), 0.05)))
    return failures


def failure_details(
    client: Any,
    target: Target,
    service: Mapping[str, Any],
    assessment: _Assessment | None,
    reason: str | None = None,
) -> ProcFailure:
    """Collect why a proc failed: the update status, the last failed task's error, its
    healthcheck output (when its container is on this engine) and its last log lines."""
    status = service.get("UpdateStatus") or {}
    task = assessment.failed_task if assessment else None
    if reason is None:
        if assessment and assessment.rolling_back:
            reason = "the new version failed and Swarm rolled the service back"
            if status.get("Message"):
                reason += f" ({status['Message']})"
        elif assessment and assessment.message:
            reason = assessment.message
        else:
            reason = "its instances failed"
    error = _task_error(task)
    health = _health_output(client, task)
    if health:
        error = f"{error} (healthcheck said: {health})" if error else f"healthcheck said: {health}"
    return ProcFailure(
        proc=target.proc,
        service_id=target.service_id,
        reason=reason,
        task_error=error,
        logs=_task_logs(client, target.service_id, task) if task else [],
        rolling_back=bool(assessment and assessment.rolling_back),
    )


def _quiet_errors() -> tuple[type[BaseException], ...]:
    import requests
    from docker.errors import DockerException

    return (DockerException, requests.RequestException, OSError, ValueError)


def _health_output(client: Any, task: Mapping[str, Any] | None) -> str:
    container_id = (((task or {}).get("Status") or {}).get("ContainerStatus") or {}).get(
        "ContainerID"
    )
    if not container_id:
        return ""
    try:
        # Only works when the task ran on the engine we talk to; elsewhere we do without.
        state = client.api.inspect_container(container_id).get("State") or {}
    except _quiet_errors():
        return ""
    log = (state.get("Health") or {}).get("Log") or []
    if not log:
        return ""
    output = str(log[-1].get("Output") or "").strip().replace("\n", " ")
    return output[:300]


def _task_logs(client: Any, service_id: str, task: Mapping[str, Any], lines: int = 5) -> list[str]:
    try:
        stream = client.api.service_logs(
            service_id, details=True, stdout=True, stderr=True, tail=200, is_tty=False
        )
        wanted = f"com.docker.swarm.task.id={task['ID']}"
        found = []
        for chunk in stream:
            for raw in chunk.decode("utf-8", "replace").splitlines():
                details, _, text = raw.partition(" ")
                if wanted in details:
                    found.append(text)
        return found[-lines:]
    except _quiet_errors():
        return []  # logs are a courtesy in an error message; their absence is not an error
