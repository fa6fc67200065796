"""Deploying a version of an app, and planning what a deploy would change.

What a deploy does, in order: find the version in the registry and read the lain.yaml built into
it (before touching the cluster, see :mod:`lain_sdk.cluster.source`), check that the apps it uses
provide what it needs, deploy its resource instances, take the app's deploy lock, compare the
desired services with the live ones (by a hash of each spec), record a numbered release, create
and update what differs, wait until every changed proc runs healthy and up to date, then remove
the procs lain.yaml no longer has.  When a proc fails, everything is put back and
:class:`~lain_sdk.errors.DeployFailed` is raised (see :mod:`lain_sdk.cluster.rollout`): the
previous release keeps serving.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import lain_sdk.arguments as arguments
from lain_sdk.cluster.claims import check_app_claims
from lain_sdk.cluster.config_vars import newest_set
from lain_sdk.cluster.data_nodes import plan_data_nodes, record_data_nodes
from lain_sdk.cluster.desired import DesiredState, desired_state
from lain_sdk.cluster.links import join_providers, provider_links, prune_link_networks
from lain_sdk.cluster.lock import app_lock
from lain_sdk.cluster.plan import Plan, plan_changes
from lain_sdk.cluster.releases import (
    Release,
    ReleaseProc,
    create_release,
    find_release,
    next_number,
    read_releases,
    snapshot,
)
from lain_sdk.cluster.resources import record_resource, resource_plan
from lain_sdk.cluster.rollout import (
    Change,
    Rollout,
    rollout,
    settle_pending,
    settle_unchanged,
    settled_text,
)
from lain_sdk.cluster.secret_reader import remove_stale_readers
from lain_sdk.cluster.secret_store import resolve_secret_mounts
from lain_sdk.cluster.session import Cluster, ClusterLike
from lain_sdk.cluster.sizing import effective_scale
from lain_sdk.cluster.source import (
    ReleaseSource,
    check_use_services,
    instance_sources,
    load_source,
)
from lain_sdk.cluster.spec import replaced_volumes, yaml_scale
from lain_sdk.cluster.stream_ports import publish_streams
from lain_sdk.cluster.swarm import app_services, find_network
from lain_sdk.cluster.views import Service, current_release
from lain_sdk.cluster.wait import Target
from lain_sdk.errors import DeployFailed, SharedVolumesReplaced
from lain_sdk.events import Event, Message
from lain_sdk.git import short_version

DEFAULT_TIMEOUT = 300.0
# How the engine fails to start a task when it hits a Swarm networking bug (moby/moby#34163).
ENGINE_START_RACE = "starting container failed: Address already in use"


@dataclass(frozen=True)
class DeployResult:
    """What a deploy, scale, rollback or secret rollout did.

    Attributes:
        app: the app.
        meta_version: the version now running.
        plan: what was to change.
        release: the release recorded (None when nothing changed).
        waited: whether the rollout was waited for (False with ``wait=False``: the release
            stays ``pending``).
        resource_instances: what the deploy of a client did to its resource instances, which
            it deployed first.
    """

    app: str
    meta_version: str
    plan: Plan
    release: Release | None
    waited: bool
    resource_instances: tuple[DeployResult, ...] = ()

    @property
    def changed(self) -> bool:
        return self.release is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "meta_version": self.meta_version,
            "changed": self.changed,
            "release": self.release.to_dict() if self.release else None,
            "waited": self.waited,
            "plan": self.plan.to_dict(),
            "resource_instances": [i.to_dict() for i in self.resource_instances],
        }


@dataclass(frozen=True)
class Prepared:
    """A deploy worked out against what runs, before anything changes."""

    source: ReleaseSource
    live: dict[str, Service]
    history: list[Release]
    desired: DesiredState
    plan: Plan
    warnings: tuple[str, ...] = ()  # declared secret files left out (secret_files_bypass)


def prepare(
    cluster: Cluster,
    source: ReleaseSource,
    procs: list[str] | None,
    pending: Mapping[str, list[str]] | None = None,
) -> Prepared:
    """Work out what deploying ``source`` changes (the scale-wins rule, the newest secret
    versions and config vars, the clients it serves), changing nothing.

    ``pending`` names clients to serve that have no services yet (client -> the service names
    it uses): the client deploying a resource instance before itself.

    Raises:
        SecretsMissing: a declared secret file is not stored.
        NotFound: ``procs`` names a proc the app does not have.
        RouteTaken: another app holds a mountpoint or stream port of the app.
        NoDataNode: no node can hold a stateful proc's data.
    """
    config = source.config
    check_app_claims(cluster, config, procs)
    live = app_services(cluster, source.app)
    history = read_releases(cluster, source.app)
    scale = {
        proc.name: effective_scale(
            yaml_scale(proc), live[proc.name].scale, live[proc.name].yaml_scale
        )
        for proc in config.procs
        if proc.name in live
    }
    # Before anything changes: a declared secret file that is not stored fails here.
    secret_mounts, warnings = resolve_secret_mounts(cluster, config, procs=procs)
    links, refused = provider_links(cluster, config, pending)
    warnings = [*warnings, *(f"{line}: it is no longer served" for line in refused)]
    config_vars = newest_set(cluster, source.app, live, image=source.image)
    desired = desired_state(
        config,
        meta_version=source.meta_version,
        image=source.image,
        cluster=cluster.settings,
        release=next_number(history),
        scale=scale,
        procs=procs,
        secret_mounts=secret_mounts,
        links=links,
        config_vars={proc.name: config_vars.for_proc(proc.name) for proc in config.procs},
        config_version=config_vars.version,
    )
    plan = plan_changes(
        desired,
        {p: s.spec for p, s in live.items()},
        network_exists=find_network(cluster, desired.network.name) is not None,
        current_release=current_release(live.values()),
        remove_others=procs is None,
    )
    specs = {s.proc: s.spec for s in desired.services}
    plan = replace(
        plan,
        data_nodes=plan_data_nodes(cluster, source.app, specs, live),
        replaced_volumes=replaced_volumes({p: s.spec for p, s in live.items()}, specs),
    )
    return Prepared(source, live, history, desired, plan, tuple(warnings))


def plan_deploy(
    app: str,
    *,
    cluster: ClusterLike,
    version: str | None = None,
    procs: Iterable[str] | None = None,
) -> Plan:
    """What :func:`deploy_app` would change, changing nothing.

    Args:
        app: the app name.
        cluster: the cluster (a session, its settings, or its name).
        version: the meta version (default: the newest in the cluster's registry).
        procs: only these procs.

    Raises:
        InvalidArgument: an argument of the wrong kind.
        VersionNotFound: the version is not in the registry.
        RouteTaken: another app's live service holds a mountpoint or stream port of the app.
        EngineError: the engine does not answer.
    """
    app = arguments.app_name(app)
    version = arguments.optional_text(version, "version")
    wanted = arguments.proc_names(procs)
    session = Cluster.of(cluster)
    source = load_source(session, app, version)
    if source.config.apptype == "resource":
        return resource_plan(session, source)
    check_use_services(session, source.config)
    instances = [prepare(session, i, None).plan for i in instance_sources(session, source.config)]
    return replace(prepare(session, source, wanted).plan, resource_instances=tuple(instances))


def deploy_app(
    app: str,
    *,
    cluster: ClusterLike,
    version: str | None = None,
    procs: Iterable[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    wait: bool = True,
    accept_new_volumes: bool = False,
) -> Generator[Event, None, DeployResult]:
    """Deploy a version of an app and wait until it runs.

    ``app`` may be a resource instance, ``resource.<res>.<client>``: it then runs a version of
    the resource (default: the newest) with the parameters of the client's running lain.yaml.
    Deploying a resource itself (``apptype: resource``) runs nothing: it records the version
    new instances use.

    Args:
        app: the app name.
        cluster: the cluster (a session, its settings, or its name).
        version: the meta version (default: the newest in the cluster's registry).
        procs: deploy only these procs (the others are left as they are and none is removed).
        timeout: seconds to wait for the lock and then for the rollout.
        wait: wait for the rollout (False: return once the engine accepted the changes; the
            release stays ``pending``).
        accept_new_volumes: let a stateful proc move from the one volume its instances shared
            (an earlier lain's layout) to a volume per instance, once its data was copied.

    Returns:
        A :class:`DeployResult` (``release`` is None when nothing needed to change).

    Raises:
        InvalidArgument: an argument of the wrong kind.
        VersionNotFound: the version is not in the registry.
        NotFound: a proc does not exist; an app in ``use_services`` is not deployed or does not
            provide a service used (nothing was changed).
        SecretsMissing: a declared secret file is not stored (nothing was changed).
        RouteTaken: another app's live service holds a mountpoint or stream port of the app
            (nothing was changed).
        SharedVolumesReplaced: a stateful proc's data would stay behind in the volume its
            instances shared, and ``accept_new_volumes`` was not given (nothing was changed).
        LockHeld: another deploy of the app held the lock for the whole ``timeout``.
        DeployFailed: a proc did not converge; the previous release keeps serving.
        AppConfigError: a resource's template does not render for this client.
        EngineError, RegistryError, ClusterError: the engine or the registry failed.
    """
    app = arguments.app_name(app)
    version = arguments.optional_text(version, "version")
    wanted = arguments.proc_names(procs)
    timeout = arguments.seconds(timeout)
    wait = arguments.flag(wait, "wait")
    accept_new_volumes = arguments.flag(accept_new_volumes, "accept_new_volumes")
    session = Cluster.of(cluster)
    session.login_engine()  # nodes pull the release image with these
    source = load_source(session, app, version)
    yield Message(f"deploying {app} {short_version(source.meta_version)} to cluster {session.name}")
    if source.config.apptype == "resource":
        plan = resource_plan(session, source)
        release = yield from record_resource(session, source, timeout=timeout)
        return DeployResult(app, source.meta_version, plan, release, waited=True)
    # Everything the app depends on is checked before anything changes.
    check_use_services(session, source.config)
    check_app_claims(session, source.config, wanted)
    # Resource instances first, so that the client's services can join their networks.
    done = yield from _deploy_instances(session, source, timeout, wait)
    # The providers' procs join the client's link networks before the client's services do.
    yield from join_providers(session, source.config, timeout=timeout)
    result = yield from deploy_source(
        session,
        source,
        procs=wanted,
        timeout=timeout,
        wait=wait,
        accept_new_volumes=accept_new_volumes,
    )
    return replace(result, resource_instances=tuple(done))


def _deploy_instances(
    session: Cluster, source: ReleaseSource, timeout: float, wait: bool
) -> Generator[Event, None, list[DeployResult]]:
    """Deploy the client's resource instances, each serving the services the client uses."""
    done = []
    for instance in instance_sources(session, source.config):
        resource = instance.app.split(".")[1]
        yield Message(
            f"resource instance {instance.app}: {resource} {instance.meta_version}, "
            f"deployed before {source.app}"
        )
        pending = {source.app: list(source.config.use_resources[resource].services)}
        deployed = yield from deploy_source(
            session, instance, timeout=timeout, wait=wait, pending=pending
        )
        done.append(deployed)
    return done


def deploy_source(
    cluster: Cluster,
    source: ReleaseSource,
    *,
    procs: list[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    wait: bool = True,
    kind: str = "deploy",
    pending: Mapping[str, list[str]] | None = None,
    accept_new_volumes: bool = False,
) -> Generator[Event, None, DeployResult]:
    """Deploy a loaded version under the app's lock: the part of :func:`deploy_app` after the
    version, its lain.yaml and what it depends on were found.

    ``kind`` is what the release record calls the change (``secret`` when a new secret
    version rolls out); ``pending`` as for :func:`prepare`; ``accept_new_volumes`` as for
    :func:`deploy_app`.

    An update that failed only because the engine could not start its new containers with
    ``Address already in use`` (a Swarm bug that a second start does not hit: moby/moby#34163)
    is made once more, as a new release, after the failed one was put back."""
    attempt = _deploy_once(cluster, source, procs, timeout, wait, kind, pending, accept_new_volumes)
    try:
        return (yield from attempt)
    except DeployFailed as e:
        if not _engine_start_race(e):
            raise
    yield Message(
        f"warning: the engine could not start {source.app}'s new containers (Address already "
        "in use, a known Swarm bug); deploying once more"
    )
    again = _deploy_once(cluster, source, procs, timeout, wait, kind, pending, accept_new_volumes)
    return (yield from again)


def _engine_start_race(error: DeployFailed) -> bool:
    """The update failed only for the engine's ``Address already in use`` when it started the
    new containers: nothing about the version itself."""
    return (
        not error.first_deploy
        and bool(error.failures)
        and all(ENGINE_START_RACE in f.task_error for f in error.failures)
    )


def _deploy_once(
    cluster: Cluster,
    source: ReleaseSource,
    procs: list[str] | None,
    timeout: float,
    wait: bool,
    kind: str,
    pending: Mapping[str, list[str]] | None,
    accept_new_volumes: bool,
) -> Generator[Event, None, DeployResult]:
    """One try of :func:`deploy_source`."""
    app, meta_version = source.app, source.meta_version
    with (yield from app_lock(cluster, app, operation="deploy", timeout=timeout)):
        for reader in remove_stale_readers(cluster, app):
            yield Message(f"removed secret reader {reader}, left by a command that was stopped")
        prepared = prepare(cluster, source, procs, pending)
        plan, desired, live = prepared.plan, prepared.desired, prepared.live
        if plan.replaced_volumes and not accept_new_volumes:
            raise SharedVolumesReplaced(app, plan.replaced_volumes)
        for warning in prepared.warnings:
            yield Message(f"warning: {warning}")
        # Before any service changes: Swarm places a stateful proc only on a labelled node.
        yield from record_data_nodes(cluster, plan.data_nodes)
        history = settle_pending(cluster, app, prepared.history, live)
        current = find_release(history, plan.current_release)
        before = find_release(prepared.history, plan.current_release)
        if current is not None and before is not None and current.outcome != before.outcome:
            yield Message(settled_text(current))
        if not plan.changed:
            running = f" (release {plan.current_release})" if plan.current_release else ""
            yield Message(
                f"nothing to change: {app} already runs {short_version(meta_version)}{running}"
            )
            if wait and live:
                yield from settle_unchanged(cluster, app, live, current, timeout)
            return DeployResult(app, meta_version, plan, None, waited=wait)

        release, changes = _record_release(cluster, source, prepared, current, procs, kind)
        yield Message(f"release {release.number}: {len(changes)} proc(s) to change")
        # Procs left as they were are waited for too: an earlier deploy that was cut short
        # may have left them still starting.
        unchanged = tuple(
            Target(c.proc, live[c.proc].id, "unchanged", since=0.0, settle=True)
            for c in plan.procs
            if c.action == "unchanged"
        )
        final = yield from rollout(
            cluster,
            Rollout(
                app=app,
                release=release,
                changes=changes,
                removals=tuple(c.proc for c in plan.procs if c.action == "remove"),
                live=live,
                network=desired.network,
                link_networks=desired.link_networks,
                previous=current,
                also_wait=unchanged,
            ),
            timeout=timeout,
            wait=wait,
        )
        if procs is None:
            keep = [n.name for n in desired.link_networks]
            yield from prune_link_networks(cluster, app, keep)
        yield from publish_streams(cluster, app, live.values(), wait=wait, timeout=timeout)
        return DeployResult(app, meta_version, plan, final, waited=wait)


def _record_release(
    cluster: Cluster,
    source: ReleaseSource,
    prepared: Prepared,
    current: Release | None,
    procs: list[str] | None,
    kind: str,
) -> tuple[Release, tuple[Change, ...]]:
    """Record the release a deploy makes (what every proc runs after it) and the changes that
    make it."""
    desired, plan = prepared.desired, prepared.plan
    procs_after = snapshot(prepared.live, current)
    if procs is None:  # procs lain.yaml no longer has go
        wanted = {s.proc for s in desired.services}
        procs_after = {p: v for p, v in procs_after.items() if p in wanted}
    for service in desired.services:
        procs_after[service.proc] = ReleaseProc.from_spec(service.spec)
    changes = tuple(
        Change(c.proc, c.action, desired.service(c.proc).spec, c.summary())
        for c in plan.procs
        if c.action in ("create", "update")
    )
    release = create_release(
        cluster,
        app=source.app,
        kind=kind,
        meta_version=source.meta_version,
        lain_yaml=source.config.source or source.lain_yaml,
        procs=procs_after,
        number=desired.release,
    )
    return release, changes
