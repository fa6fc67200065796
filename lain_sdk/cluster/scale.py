"""Changing running procs without a new version: scale one, restart some.

A scale is recorded as a release (the instances, CPU and memory it set are part of what a
rollback restores) and wins over lain.yaml until lain.yaml itself changes the value (see
:mod:`lain_sdk.cluster.sizing`).  A restart replaces every instance the way a rolling update
does and changes nothing a release holds, so it records none.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable
from dataclasses import dataclass
from typing import Any

import lain_sdk.arguments as arguments
from lain_sdk.cluster.deploy import DEFAULT_TIMEOUT, DeployResult
from lain_sdk.cluster.lock import app_lock
from lain_sdk.cluster.names import network_name
from lain_sdk.cluster.plan import Plan, ProcChange
from lain_sdk.cluster.releases import (
    Release,
    ReleaseProc,
    create_release,
    find_release,
    next_number,
    read_releases,
    snapshot,
)
from lain_sdk.cluster.rollout import Change, Rollout, deploy_failed, rollout, settle_pending
from lain_sdk.cluster.session import Cluster, ClusterLike
from lain_sdk.cluster.sizing import ProcScale, check_cpu, check_instances, parse_memory
from lain_sdk.cluster.spec import force_restart, rescale_spec
from lain_sdk.cluster.swarm import app_services, deployed_procs, update_service
from lain_sdk.cluster.views import current_release
from lain_sdk.cluster.wait import Target, wait_for
from lain_sdk.errors import InvalidArgument, NotFound
from lain_sdk.events import Event, Message, ProcChanged


@dataclass(frozen=True)
class RestartResult:
    """What a restart did: the procs whose instances were all replaced."""

    app: str
    restarted: tuple[str, ...]
    waited: bool

    def to_dict(self) -> dict[str, Any]:
        return {"app": self.app, "restarted": list(self.restarted), "waited": self.waited}


def _new_scale(
    old: ProcScale, instances: int | None, cpu: float | None, memory: int | None
) -> ProcScale:
    return ProcScale(
        instances=old.instances if instances is None else instances,
        cpu=old.cpu if cpu is None else float(cpu),
        memory=old.memory if memory is None else memory,
    )


def _check_scale(
    instances: int | None, cpu: float | None, memory: int | str | None
) -> tuple[int | None, float | None, int | None]:
    """The values of a scale, checked against lain's bounds; memory in bytes (None: unchanged).

    Called before the lock is taken and before any release is recorded: a value out of bounds
    never reaches the engine and leaves no trace in the app's history.

    Raises:
        InvalidArgument: no value, or one that is not a count, a CPU number or a size within
            :data:`~lain_sdk.cluster.sizing.MAX_INSTANCES`, ``MIN_CPU``..``MAX_CPU`` and
            6m..1 TiB.
    """
    if instances is None and cpu is None and memory is None:
        raise InvalidArgument("give at least one of instances, cpu and memory")
    return (
        None if instances is None else check_instances(instances),
        None if cpu is None else check_cpu(cpu),
        None if memory is None else parse_memory(memory),
    )


def _scale_plan(
    app: str,
    proc: str,
    meta_version: str,
    current: Release | None,
    service: str,
    old: ProcScale,
    new: ProcScale,
) -> Plan:
    change = (
        ProcChange(proc, "update", service, _scale_changes(old, new))
        if new != old
        else ProcChange(proc, "unchanged", service)
    )
    return Plan(
        app=app,
        meta_version=meta_version,
        current_release=current.number if current else None,
        network=network_name(app),
        create_network=False,
        procs=(change,),
    )


def _scale_changes(old: ProcScale, new: ProcScale) -> dict[str, Any]:
    return {
        key: {"from": getattr(old, key), "to": getattr(new, key)}
        for key in ("instances", "cpu", "memory")
        if getattr(old, key) != getattr(new, key)
    }


def scale_proc(
    app: str,
    proc: str,
    *,
    cluster: ClusterLike,
    instances: int | None = None,
    cpu: float | None = None,
    memory: int | str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    wait: bool = True,
) -> Generator[Event, None, DeployResult]:
    """Change the instances, CPU or memory of one proc in one service update, and wait.

    Args:
        app: the app.
        proc: the proc.
        cluster: the cluster (a session, its settings, or its name).
        instances: replicas, 0 to 1000 (:data:`~lain_sdk.cluster.sizing.MAX_INSTANCES`).
        cpu: CPUs, 0.01 to 1024, decimals allowed.
        memory: bytes, or a size like ``128m``, 6m to 1 TiB.
        timeout: seconds to wait for the lock and for the rollout.
        wait: wait for the rollout.

    Raises:
        InvalidArgument: an invalid value, or no value at all.
        NotFound: the proc is not deployed.
        DeployFailed: the proc did not converge; it was put back.
    """
    app, proc = arguments.app_name(app), arguments.proc_name(proc)
    instances, cpu, memory_bytes = _check_scale(instances, cpu, memory)
    timeout = arguments.seconds(timeout)
    session = Cluster.of(cluster)
    with (yield from app_lock(session, app, operation="scale", timeout=timeout)):
        live = app_services(session, app)
        deployed_procs(live, [proc], app, session.name)
        history = settle_pending(session, app, read_releases(session, app), live)
        current = find_release(history, current_release(live.values()))
        procs_after = snapshot(live, current)
        old = procs_after[proc].scale
        new = _new_scale(old, instances, cpu, memory_bytes)
        meta_version = current.meta_version if current else live[proc].meta_version
        spec = rescale_spec(procs_after[proc].spec, new, release=next_number(history))
        plan = _scale_plan(app, proc, meta_version, current, str(spec["Name"]), old, new)
        change = plan.procs[0]
        if new == old:
            yield Message(f"nothing to change: {proc} already has {new.describe()}")
            return DeployResult(app, meta_version, plan, None, waited=wait)
        procs_after[proc] = ReleaseProc.from_spec(spec)
        release = create_release(
            session,
            app=app,
            kind="scale",
            meta_version=meta_version,
            lain_yaml=current.lain_yaml if current else "",
            procs=procs_after,
            number=next_number(history),
        )
        final = yield from rollout(
            session,
            Rollout(
                app=app,
                release=release,
                changes=(Change(proc, "update", spec, change.summary()),),
                removals=(),
                live=live,
                previous=current,
            ),
            timeout=timeout,
            wait=wait,
        )
        return DeployResult(app, meta_version, plan, final, waited=wait)


def restart_app(
    app: str,
    procs: Iterable[str] | None = None,
    *,
    cluster: ClusterLike,
    timeout: float = DEFAULT_TIMEOUT,
    wait: bool = True,
) -> Generator[Event, None, RestartResult]:
    """Replace every instance of the app's procs (all, or ``procs``) with a fresh one.

    The instances are replaced the way a deploy rolls them (one at a time, the new one started
    and healthy before the old one stops), so the proc keeps serving.  A oneshot named in
    ``procs`` runs once more, to completion; without ``procs`` oneshots are left alone.
    Nothing a release holds changes, so no release is recorded.

    Raises:
        InvalidArgument: an argument of the wrong kind.
        NotFound: a named proc is not deployed, or nothing of the app is.
        DeployFailed: fresh instances did not come up healthy (Swarm put the old ones back).
    """
    app = arguments.app_name(app)
    named = arguments.proc_names(procs)
    timeout = arguments.seconds(timeout)
    session = Cluster.of(cluster)
    with (yield from app_lock(session, app, operation="restart", timeout=timeout)):
        live = app_services(session, app)
        wanted = deployed_procs(live, named, app, session.name)
        if not wanted:
            raise NotFound(f"{app} is not deployed on cluster {session.name}")
        if named is None:  # a oneshot runs again only when it is named
            for proc in [p for p in wanted if live[p].oneshot]:
                yield Message(f"{proc} is a oneshot: it runs again only when named")
            wanted = [p for p in wanted if not live[p].oneshot]
        since = session.clock()
        targets = []
        for proc in wanted:
            service = live[proc]
            update_service(session, service, force_restart(service.spec))
            yield ProcChanged(app, proc, "updated", service.name, "restart")
            targets.append(Target(proc, service.id, "updated", since))
        if wait:
            failures = yield from wait_for(session, app, targets, timeout=timeout)
            if failures:
                raise deploy_failed(app, None, failures, None, first=False, what="the restart")
        return RestartResult(app, tuple(wanted), waited=wait)
