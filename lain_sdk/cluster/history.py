"""An app's release history, and going back to a release of it.

A rollback restores everything a release ran at once (images, instances and limits, secret
versions, the procs it had) and is recorded as a new release, so the history only grows.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from dataclasses import replace
from typing import Any

import lain_sdk.arguments as arguments
from lain_sdk.appconfig.loader import parse_app_config, parse_instance_config
from lain_sdk.appconfig.model import AppConfig
from lain_sdk.cluster.claims import check_claims
from lain_sdk.cluster.config_vars import read_restored_sets, store_next
from lain_sdk.cluster.data_nodes import plan_data_nodes, record_data_nodes
from lain_sdk.cluster.deploy import DEFAULT_TIMEOUT, DeployResult
from lain_sdk.cluster.desired import app_network, rediscovered
from lain_sdk.cluster.links import provider_links
from lain_sdk.cluster.lock import app_lock
from lain_sdk.cluster.names import parse_resource_instance
from lain_sdk.cluster.plan import Plan, ProcChange, proc_change
from lain_sdk.cluster.releases import (
    Release,
    ReleaseProc,
    create_release,
    find_release,
    next_number,
    read_releases,
)
from lain_sdk.cluster.rollout import Change, Rollout, rollout, settle_pending
from lain_sdk.cluster.secret_store import check_spec_secrets
from lain_sdk.cluster.session import Cluster, ClusterLike
from lain_sdk.cluster.spec import relabel_spec
from lain_sdk.cluster.stream_ports import publish_streams
from lain_sdk.cluster.swarm import app_services, find_network
from lain_sdk.cluster.views import Service, current_release
from lain_sdk.errors import ClusterError, NotFound
from lain_sdk.events import Event, Message


def list_releases(app: str, *, cluster: ClusterLike) -> list[Release]:
    """Every release of ``app`` recorded in the cluster, oldest first (the one running now
    settled first, when an operation that did not wait left it pending).

    Raises:
        InvalidArgument: an argument of the wrong kind.
        EngineError: the engine does not answer.
    """
    app = arguments.app_name(app)
    session = Cluster.of(cluster)
    history = read_releases(session, app)
    return settle_pending(session, app, history, app_services(session, app))


def _target(app: str, history: list[Release], number: int | None, running: int | None) -> Release:
    """The release to go back to: ``number``, else the newest succeeded one before ``running``."""
    if number is None:
        candidates = [
            x
            for x in history
            if x.outcome == "succeeded" and (running is None or x.number < running)
        ]
        if not candidates:
            raise NotFound(
                f"{app} has no succeeded release before release {running} to roll back to"
            )
        found: Release | None = candidates[-1]
    else:
        found = find_release(history, number)
    if found is None:
        listed = ", ".join(str(x.number) for x in history[-10:]) or "none yet"
        raise NotFound(f"{app} has no release {number} (releases: {listed})")
    if found.outcome == "failed":
        raise ClusterError(
            f"release {number} of {app} failed, so it never ran whole; pick a succeeded release"
        )
    if not found.procs or not all(p.spec for p in found.procs.values()):
        raise ClusterError(f"release {found.number} of {app} has no service specs to restore")
    return found


def _skipped(
    history: list[Release], target: Release, running: int | None, *, chosen: bool
) -> list[str]:
    """Why a rollback that picked ``target`` by itself passed over the releases between it and
    the one running now."""
    if not chosen:
        return []
    lines = [f"going back to release {target.number}, the newest succeeded before {running}"]
    for release in history:
        if target.number < release.number and (running is None or release.number < running):
            why = f": {release.reason}" if release.reason else ""
            lines.append(f"skipped release {release.number} ({release.outcome}{why})")
    return lines


def _release_config(cluster: Cluster, app: str, release: Release) -> AppConfig:
    """The lain.yaml a release ran, loaded."""
    domains = list(cluster.settings.domains)
    if parse_resource_instance(app) is not None:
        return parse_instance_config(release.lain_yaml, instance=app, domains=domains)
    path = f"{app} release {release.number}/lain.yaml"
    return parse_app_config(release.lain_yaml, path=path, domains=domains)


def _restored_specs(
    cluster: Cluster, app: str, target: Release, number: int
) -> dict[str, dict[str, Any]]:
    """The specs release ``target`` ran, as release ``number``: its images, scale and secrets,
    with the networks its lain.yaml and today's clients give (not those recorded then)."""
    config = _release_config(cluster, app, target)
    links, _refused = provider_links(cluster, config)
    return {
        proc: relabel_spec(
            rediscovered(recorded.spec, config, proc, links.get(proc, {})), release=number
        )
        for proc, recorded in target.procs.items()
    }


def _restore_plan(
    app: str,
    target: Release,
    specs: Mapping[str, Mapping[str, Any]],
    live: Mapping[str, Service],
    running: int | None,
    network_missing: bool,
) -> tuple[Plan, list[Change], list[str]]:
    """What putting back ``specs`` changes: the plan, the services to change, the procs to go."""
    changes = []
    proc_changes = []
    for proc, spec in sorted(specs.items()):
        service = live.get(proc)
        change = proc_change(proc, spec, service.spec if service is not None else None)
        proc_changes.append(change)
        if change.action == "create":
            changes.append(Change(proc, "create", spec, f"as in release {target.number}"))
        elif change.action == "update":
            changes.append(Change(proc, "update", spec, change.summary()))
    removals = sorted(p for p in live if p not in specs)
    proc_changes += [ProcChange(p, "remove", live[p].name or p) for p in removals]
    plan = Plan(
        app=app,
        meta_version=target.meta_version,
        current_release=running,
        network=app_network(app, 0).name,
        create_network=network_missing,
        procs=tuple(proc_changes),
    )
    return plan, changes, removals


def rollback_app(
    app: str,
    number: int | None = None,
    *,
    cluster: ClusterLike,
    timeout: float = DEFAULT_TIMEOUT,
    wait: bool = True,
) -> Generator[Event, None, DeployResult]:
    """Put back everything release ``number`` ran (images, instances, resources) at once.

    Args:
        app: the app.
        number: the release to go back to (default: the newest succeeded release before the
            one running now).
        cluster: the cluster (a session, its settings, or its name).
        timeout: seconds to wait for the lock and for the rollout.
        wait: wait for the rollout.

    Returns:
        A :class:`~lain_sdk.cluster.deploy.DeployResult`; its release is the new ``rollback``
        release.

    Raises:
        InvalidArgument: an argument of the wrong kind.
        NotFound: no such release, nothing earlier to go back to, or a secret version it
            mounted was removed since.
        ClusterError: release ``number`` failed (it never ran whole).
        RouteTaken: another app's live service holds a mountpoint or stream port that release
            ``number`` had (nothing was changed).
        NoDataNode: no node can hold the data of a stateful proc of release ``number``
            (nothing was changed).
        DeployFailed: the rollback did not converge.
    """
    app = arguments.app_name(app)
    if number is not None:
        arguments.whole(number, "number", minimum=1)
    timeout = arguments.seconds(timeout)
    session = Cluster.of(cluster)
    session.login_engine()  # a node the release's instances land on may have to pull them
    with (yield from app_lock(session, app, operation="rollback", timeout=timeout)):
        return (yield from _roll_back(session, app, number, timeout=timeout, wait=wait))


def _roll_back(
    session: Cluster, app: str, number: int | None, *, timeout: float, wait: bool
) -> Generator[Event, None, DeployResult]:
    """:func:`rollback_app` once it holds the app's lock."""
    live = app_services(session, app)
    history = settle_pending(session, app, read_releases(session, app), live)
    running = current_release(live.values())
    target = _target(app, history, number, running)
    for line in _skipped(history, target, running, chosen=number is None):
        yield Message(line)
    new_number = next_number(history)
    recorded = _restored_specs(session, app, target, new_number)
    env_sets = read_restored_sets(session, app, recorded, live)
    # Where the set it ran stands once stored anew (below, once nothing refuses).
    predicted = env_sets.ran if env_sets.to_store is None else env_sets.newest + 1
    specs = env_sets.specs(recorded, predicted)
    network = app_network(app, new_number)
    plan, changes, removals = _restore_plan(
        app, target, specs, live, running, find_network(session, network.name) is None
    )
    if not plan.changed:
        yield Message(f"nothing to change: {app} already runs what release {target.number} ran")
        return DeployResult(app, target.meta_version, plan, None, waited=wait)
    check_claims(session, app, {p: s.get("Labels") or {} for p, s in specs.items()})
    check_spec_secrets(session, app, specs, f"release {target.number}")
    plan = replace(plan, data_nodes=plan_data_nodes(session, app, specs, live))
    if env_sets.to_store is not None:  # the specs name it as set `predicted`
        store_next(session, app, env_sets.to_store, env_sets.newest)
    yield from record_data_nodes(session, plan.data_nodes)
    release = create_release(
        session,
        app=app,
        kind="rollback",
        meta_version=target.meta_version,
        lain_yaml=target.lain_yaml,
        procs={p: ReleaseProc.from_spec(s) for p, s in specs.items()},
        rollback_of=target.number,
        number=new_number,
    )
    yield Message(
        f"release {release.number}: rolling {app} back to release {target.number} "
        f"({target.meta_version})"
    )
    final = yield from rollout(
        session,
        Rollout(
            app=app,
            release=release,
            changes=tuple(changes),
            removals=tuple(removals),
            live=live,
            network=network,
            previous=find_release(history, running),
        ),
        timeout=timeout,
        wait=wait,
    )
    yield from publish_streams(session, app, live.values(), wait=wait, timeout=timeout)
    return DeployResult(app, target.meta_version, plan, final, waited=wait)
