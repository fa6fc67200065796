"""Putting a recorded release in place: change services, wait, and undo everything on failure.

A rollout applies the changes of one release (create and update services), waits until every
changed proc runs its instances healthy and up to date, then removes the procs the release no
longer has, and marks the release ``succeeded``.  When a proc fails, Swarm rolls that proc back
by itself; :func:`rollout` puts every other changed proc back as it was (and removes procs the
release created), marks the release ``failed`` and raises
:class:`~lain_sdk.errors.DeployFailed`: what ran before keeps serving.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lain_sdk.cluster.desired import DesiredNetwork
from lain_sdk.cluster.releases import Release, find_release, set_outcome
from lain_sdk.cluster.session import Cluster
from lain_sdk.cluster.sizing import is_job
from lain_sdk.cluster.swarm import (
    create_service,
    ensure_network,
    inspect_service,
    remove_service,
    tasks_of,
    update_service,
)
from lain_sdk.cluster.views import Service, current_release
from lain_sdk.cluster.wait import Target, assess, wait_for
from lain_sdk.errors import DeployFailed, LainError, ProcFailure
from lain_sdk.events import Event, Message, ProcChanged

# Putting procs back after a failure gets at least this long, whatever the caller's timeout.
RESTORE_TIMEOUT = 30.0


@dataclass(frozen=True)
class Change:
    """One service to create or update in a rollout."""

    proc: str
    action: str  # create, update
    spec: Mapping[str, Any]
    detail: str = ""


@dataclass(frozen=True)
class Rollout:
    """A release to put in place and what it changes.

    Attributes:
        app: the app.
        release: the release recorded for it (outcome ``pending``).
        changes: services to create or update.
        removals: procs whose services go once the others run.
        live: the app's services before the rollout, by proc.
        network: the app's network, made first when missing (None: leave networks alone).
        link_networks: the link networks its services join, made first when missing.
        previous: the release running before (named in the error when this one fails).
        also_wait: procs not changed but waited for too (an earlier rollout that was cut short
            may have left them starting).
    """

    app: str
    release: Release
    changes: tuple[Change, ...]
    removals: tuple[str, ...]
    live: Mapping[str, Service]
    network: DesiredNetwork | None = None
    link_networks: tuple[DesiredNetwork, ...] = ()
    previous: Release | None = None
    also_wait: tuple[Target, ...] = ()


def rollout(
    cluster: Cluster, plan: Rollout, *, timeout: float, wait: bool = True
) -> Generator[Event, None, Release]:
    """Apply a rollout, wait for it (unless not ``wait``), and settle its release's outcome.

    Returns:
        The release, marked ``succeeded`` (left ``pending`` when not waited for).

    Raises:
        DeployFailed: a proc did not converge; everything was put back as before.
        LainError: the engine refused a change (what was applied is put back first).
    """
    first = not plan.live
    since = cluster.clock()
    targets: list[Target] = []
    try:
        networks = [plan.network] if plan.network is not None else []
        for network in [*networks, *plan.link_networks]:
            if ensure_network(cluster, network.name, network.labels):
                yield Message(f"created network {network.name}")
        for change in plan.changes:
            targets.append((yield from _apply(cluster, plan, change, since)))
    except LainError as e:
        # Undo what was applied so far, then report the original problem.
        if targets:
            yield from restore(cluster, plan.app, targets, [], plan.live, first, timeout)
        set_outcome(cluster, plan.release, "failed", str(e))
        raise

    if not wait:
        yield from remove_procs(cluster, plan.app, plan.removals, plan.live)
        return plan.release
    failures = yield from wait_for(cluster, plan.app, [*targets, *plan.also_wait], timeout=timeout)
    if failures:
        for failure in failures:
            yield Message(f"{failure.proc} failed: {failure.reason}")
        yield from restore(cluster, plan.app, targets, failures, plan.live, first, timeout)
        reasons = "; ".join(f"{f.proc}: {f.reason}" for f in failures)
        set_outcome(cluster, plan.release, "failed", reasons)
        raise deploy_failed(plan.app, plan.release, failures, plan.previous, first=first)
    yield from remove_procs(cluster, plan.app, plan.removals, plan.live)
    return set_outcome(cluster, plan.release, "succeeded")


def _apply(
    cluster: Cluster, plan: Rollout, change: Change, since: float
) -> Generator[Event, None, Target]:
    name = str(change.spec["Name"])
    if change.action == "create":
        service_id = create_service(cluster, change.spec)
        yield ProcChanged(plan.app, change.proc, "created", name, change.detail)
        return Target(change.proc, service_id, "created", since)
    service = plan.live[change.proc]
    if is_job(service.spec) != is_job(change.spec):
        # Swarm cannot change a service's mode (a oneshot made by an older lain, or a proc
        # that became one): the old service goes and the new one is made.
        remove_service(cluster, service.id, service.name)
        service_id = create_service(cluster, change.spec)
        yield ProcChanged(plan.app, change.proc, "replaced", name, change.detail)
        return Target(change.proc, service_id, "replaced", since)
    update_service(cluster, service, change.spec)
    yield ProcChanged(plan.app, change.proc, "updated", name, change.detail)
    return Target(change.proc, service.id, "updated", since)


def deploy_failed(
    app: str,
    release: Release | None,
    failures: list[ProcFailure],
    previous: Release | None,
    *,
    first: bool,
    what: str = "",
) -> DeployFailed:
    """The error of a failed rollout of ``release`` (``what`` names it when there is none)."""
    if release is not None:
        what = f"release {release.number} ({release.kind} of {release.meta_version})"
    return DeployFailed(
        app,
        failures,
        release=release.number if release else None,
        what=what,
        serving=previous.number if previous is not None else None,
        serving_version=previous.meta_version if previous is not None else "",
        first_deploy=first,
    )


def remove_procs(
    cluster: Cluster, app: str, procs: Iterable[str], live: Mapping[str, Service]
) -> Generator[Event, None, None]:
    """Remove the services of ``procs`` (procs a release no longer has)."""
    for proc in procs:
        service = live[proc]
        remove_service(cluster, service.id, service.name)
        yield ProcChanged(app, proc, "removed", service.name or proc, "not in lain.yaml any more")


def restore(
    cluster: Cluster,
    app: str,
    targets: list[Target],
    failures: list[ProcFailure],
    live: Mapping[str, Service],
    first: bool,
    timeout: float,
) -> Generator[Event, None, None]:
    """Put every changed proc back as it was, so the previous release serves whole.

    Swarm has already rolled back the procs whose update failed; the others that were updated
    get their previous spec back, and procs this rollout created are removed (except on a
    first deploy, where there is nothing to go back to and what runs is left to look at).
    """
    failed = {f.proc: f for f in failures}
    since = cluster.clock()
    settle: list[Target] = []
    for target in targets:
        failure = failed.get(target.proc)
        if target.action == "created":
            if not first:
                remove_service(cluster, target.service_id)
                yield ProcChanged(
                    app, target.proc, "removed", target.service_id, "new in the failed release"
                )
            continue
        if failure is not None and failure.rolling_back:
            # Swarm is rolling it back already: let it finish.
            settle.append(Target(target.proc, target.service_id, "restored", target.since, True))
            continue
        before = live.get(target.proc)
        if before is None:
            continue
        if target.action == "replaced":
            remove_service(cluster, target.service_id)
            create_service(cluster, before.spec)
            yield ProcChanged(app, target.proc, "restored", before.name, "made again as before")
            continue
        if before.job:
            # Putting a job's spec back would run it again: it stays as it ran.
            yield Message(f"{target.proc} is a oneshot: it is not run again to put it back")
            continue
        update_service(cluster, inspect_service(cluster, target.service_id), before.spec)
        yield ProcChanged(app, target.proc, "restored", before.name, "put back as before")
        settle.append(Target(target.proc, target.service_id, "restored", since, settle=True))
    if settle:
        leftovers = yield from wait_for(
            cluster, app, settle, timeout=max(timeout, RESTORE_TIMEOUT), stop_on_failure=False
        )
        for leftover in leftovers:
            yield Message(f"putting {leftover.proc} back did not finish: {leftover.reason}")


def settle_unchanged(
    cluster: Cluster,
    app: str,
    live: Mapping[str, Service],
    running: Release | None,
    timeout: float,
) -> Generator[Event, None, None]:
    """Nothing to change, but an earlier run may have been cut short: wait for its rollout
    and settle the outcome of the release ``running``.

    Raises:
        DeployFailed: the procs did not converge.
    """
    targets = [Target(p, s.id, "unchanged", since=0.0, settle=True) for p, s in live.items()]
    failures = yield from wait_for(cluster, app, targets, timeout=timeout)
    if running is not None and running.outcome == "pending":
        if failures:
            set_outcome(cluster, running, "failed", failures[0].describe())
        else:
            yield Message(settled_text(set_outcome(cluster, running, "succeeded")))
    if failures:
        raise deploy_failed(app, running, failures, None, first=False)


def settle_pending(
    cluster: Cluster, app: str, history: list[Release], live: Mapping[str, Service]
) -> list[Release]:
    """``history`` with the release running now settled, when an operation that did not wait
    (``wait=False``) or was cut short left it ``pending``: one look at its procs says whether
    they converged (``succeeded``) or failed, or Swarm rolled them back (``failed``); a rollout
    still under way stays ``pending``.  Costs two engine calls, only when there is such a
    release."""
    running = find_release(history, current_release(live.values()))
    if running is None or running.outcome != "pending" or not live:
        return history
    ids = [s.id for s in live.values()]
    doing = f"look at the rollout of {app}"
    tasks = tasks_of(cluster, ids, doing)
    fresh = {t.id for t in tasks_of(cluster, ids, doing, up_to_date=True)}
    looks = {
        proc: assess(
            Target(proc, service.id, "unchanged", since=0.0),
            service,
            [t for t in tasks if t.service_id == service.id],
            fresh,
        )
        for proc, service in sorted(live.items())
    }
    failed = [
        f"{proc}: {look.message or look.state}" for proc, look in looks.items() if look.failed
    ]
    if failed:
        settled = set_outcome(cluster, running, "failed", "; ".join(failed))
    elif all(look.done for look in looks.values()):
        settled = set_outcome(cluster, running, "succeeded")
    else:
        return history
    return [settled if r.number == settled.number else r for r in history]


def settled_text(release: Release) -> str:
    """What to say of a release that an earlier operation left pending, once settled."""
    if release.outcome == "succeeded":
        return f"release {release.number} is now running"
    return f"release {release.number} {release.outcome}: {release.reason}"
