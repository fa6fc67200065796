"""Deploy, scale, restart, roll back, undeploy, and look at an app on a cluster.

Every function takes the cluster's :class:`~lain_sdk.settings.ClusterSettings` and, optionally,
a docker client and a registry client to use instead of connecting itself (tests and Python
callers inject their own).  Long operations are generators: they yield progress events and
return their result, so::

    import lain_sdk

    cluster = lain_sdk.Settings.load().cluster()
    result = lain_sdk.drain(lain_sdk.deploy_app("hello", cluster=cluster), on_event=print)
    print(result.release.number)

What a deploy does, in order: find the version in the registry (before touching the cluster),
read the lain.yaml carried by that version's meta image, check that the apps it uses
(``use_services``) provide what it needs and deploy its resource instances (``use_resources``,
see :mod:`lain_sdk.cluster.resources`), take the app's deploy lock, compare
the desired services with the live ones (by a hash of each spec), record a numbered release,
create and update what differs, wait until every changed proc runs its instances healthy and
up to date, then remove the procs lain.yaml no longer has.  When a proc fails, Swarm rolls
it back, lain puts the procs it already changed back as they were, marks the release failed and
raises :class:`~lain_sdk.errors.DeployFailed`: the previous release keeps serving.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from lain_sdk.cluster import desired as d
from lain_sdk.cluster import discovery, swarm
from lain_sdk.cluster import releases as r
from lain_sdk.cluster.engine_calls import engine_errors, engine_time
from lain_sdk.cluster.lock import acquire_lock
from lain_sdk.cluster.secrets import (
    check_spec_secrets,
    remove_app_secrets,
    resolve_secret_mounts,
)
from lain_sdk.errors import ClusterError, DeployFailed, LainError, NotFound
from lain_sdk.events import Event, Message, ProcChanged

if TYPE_CHECKING:
    from lain_sdk.appconfig.model import AppConfig
    from lain_sdk.registry import RegistryClient
    from lain_sdk.settings import ClusterSettings

DEFAULT_TIMEOUT = 300.0
# A lock outlives the operation that took it by this much before others may take it over.
LOCK_MARGIN = 120.0
UNDEPLOY_TIMEOUT = 60.0


# -- results -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeployResult:
    """What a deploy, scale or rollback did.

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
    plan: d.Plan
    release: r.Release | None
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
class RestartResult:
    """What a restart did: the procs whose instances were all replaced."""

    app: str
    restarted: tuple[str, ...]
    waited: bool

    def to_dict(self) -> dict[str, Any]:
        return {"app": self.app, "restarted": list(self.restarted), "waited": self.waited}


@dataclass(frozen=True)
class UndeployResult:
    app: str
    removed_procs: tuple[str, ...]
    network_removed: bool
    releases_removed: int = 0
    volumes_removed: tuple[str, ...] = ()
    volumes_left: tuple[str, ...] = ()
    secrets_removed: int = 0  # secret versions removed by a purge

    def to_dict(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "removed_procs": list(self.removed_procs),
            "network_removed": self.network_removed,
            "releases_removed": self.releases_removed,
            "volumes_removed": list(self.volumes_removed),
            "volumes_left": list(self.volumes_left),
            "secrets_removed": self.secrets_removed,
        }


# -- clients -----------------------------------------------------------------------------------


def engine_for(cluster: ClusterSettings, docker_client: Any) -> Any:
    """The injected docker client, else a new one for the cluster's engine."""
    return docker_client if docker_client is not None else cluster.connect()


def registry_client(cluster: ClusterSettings, registry: RegistryClient | None) -> RegistryClient:
    """``registry`` when given, else a client for the cluster's registry."""
    if registry is not None:
        return registry
    from lain_sdk.registry import RegistryClient

    return RegistryClient.from_env(
        cluster.registry, insecure=True if cluster.insecure_registry else None
    )


def login_engine(
    client: Any, cluster: ClusterSettings, registry: RegistryClient | None = None
) -> bool:
    """Give the engine the registry credentials lain has, so nodes can pull the images.

    With ``registry``, credentials are looked up only when that registry asks for them (one
    ``/v2/`` request tells), which spares the slow keyring lookup for open registries.

    Returns:
        True when the engine was given credentials; False when there were none to give.
    """
    from lain_sdk.credentials import CredentialStore

    if registry is not None:
        registry.ping()
        if not registry.auth_required:
            return False
    try:
        creds = registry.credentials if registry is not None else None
        creds = creds or CredentialStore().get(cluster.registry)
    except LainError:
        creds = None
    if creds is None:
        return False
    with engine_errors(client, f"log in to registry {cluster.registry}"):
        # Keeps the credentials in the client, which then sends them with service
        # creates and updates (X-Registry-Auth) for the nodes to pull with.
        client.login(
            registry=cluster.registry, username=creds.username, password=creds.password
        )
    return True


# -- versions and lain.yaml --------------------------------------------------------------------


def resolve_version(registry: RegistryClient, app: str, version: str | None) -> str:
    """The meta version to deploy: ``version`` if the registry has it, else the newest.

    Raises:
        NotFound: the version (or any version) is not in the registry; the message names the
            app, the version and the registry, and lists the newest versions there are.
    """
    if version:
        if registry.version_exists(app, version):
            return version
        newest = registry.app_versions(app)[:5]
        listed = ", ".join(newest) if newest else "none"
        raise NotFound(
            f"version {version} of {app} is not in registry {registry.host} (a version needs "
            f"both release-{version} and meta-{version}); newest versions there: {listed}"
        )
    versions = registry.app_versions(app)
    if not versions:
        raise NotFound(
            f"no version of {app} is in registry {registry.host}; build and push one first "
            "(`lain build --push`)"
        )
    return versions[0]


def pinned_image(registry: RegistryClient, app: str, meta_version: str) -> str:
    """``<registry>/<app>:release-<mv>@sha256:...``: the release image pinned to its digest."""
    tag = f"release-{meta_version}"
    digest = registry.manifest_digest(app, tag)
    if not digest:
        raise NotFound(f"{app}:{tag} is not in registry {registry.host}")
    return f"{registry.host}/{app}:{tag}@{digest}"


def read_meta_lain_yaml(registry: RegistryClient, app: str, meta_version: str) -> str:
    """The lain.yaml inside ``<app>:meta-<mv>``, read from the registry.

    The config deployed is the one that was built into that version, not whatever the working
    tree holds now.  Its layer comes straight from the registry (a few kilobytes, checked
    against its digest): no engine pulls the meta image or makes a container to copy it out.
    """
    tag = f"meta-{meta_version}"
    data = registry.read_image_file(app, tag, "lain.yaml")
    if data is None:
        raise NotFound(f"{registry.host}/{app}:{tag} holds no /lain.yaml")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ClusterError(
            f"the lain.yaml in {registry.host}/{app}:{tag} is not UTF-8 text"
        ) from e


def load_release_config(
    text: str, app: str, meta_version: str, cluster: ClusterSettings
) -> AppConfig:
    """Parse a version's lain.yaml for ``cluster`` and check it belongs to ``app``."""
    from lain_sdk.appconfig import parse_app_config

    config = parse_app_config(
        text, path=f"{app}:meta-{meta_version}/lain.yaml", domains=list(cluster.domains)
    )
    if config.appname != app:
        raise ClusterError(
            f"the meta image of {app} {meta_version} holds the lain.yaml of {config.appname!r}; "
            "push the right images for this app"
        )
    return config


@dataclass(frozen=True)
class ReleaseSource:
    """What a deploy runs: a version, its release image and its lain.yaml, loaded.

    Attributes:
        app: the app deployed.
        meta_version: the version.
        image: the release image, pinned by digest.
        lain_yaml: the lain.yaml text recorded in the release.
        config: that lain.yaml, loaded for the cluster.
    """

    app: str
    meta_version: str
    image: str
    lain_yaml: str
    config: AppConfig


def load_source(
    client: Any,
    registry: RegistryClient,
    app: str,
    version: str | None,
    cluster: ClusterSettings,
) -> ReleaseSource:
    """The version of ``app`` to deploy (default: the newest), its image and its lain.yaml.

    A resource instance (``resource.<res>.<client>``) is no repository of its own: its version,
    image and lain.yaml come from its resource (see :mod:`lain_sdk.cluster.resources`).

    Raises:
        NotFound: the version, or its images, are not in the registry.
        ClusterError: the meta image holds another app's lain.yaml.
    """
    from lain_sdk.cluster import resources

    if resources.parse_resource_instance(app) is not None:
        return resources.named_instance_source(client, registry, app, version, cluster)
    meta_version = resolve_version(registry, app, version)
    image = pinned_image(registry, app, meta_version)
    text = read_meta_lain_yaml(registry, app, meta_version)
    config = load_release_config(text, app, meta_version, cluster)
    return ReleaseSource(app, meta_version, image, text, config)


# -- state helpers -----------------------------------------------------------------------------


def current_release_number(live: Mapping[str, Mapping[str, Any]]) -> int | None:
    """The release running now: the newest release label among the live services.

    A deploy labels the services it changes with its release, so the newest label is the last
    change that stuck (a failed deploy's services are rolled back, labels included).
    """
    numbers = []
    for service in live.values():
        label = ((service.get("Spec") or {}).get("Labels") or {}).get(d.LABEL_RELEASE, "")
        if str(label).isdigit():
            numbers.append(int(label))
    return max(numbers) if numbers else None


def _next_number(history: list[r.Release]) -> int:
    return history[-1].number + 1 if history else 1


def _by_number(history: list[r.Release], number: int | None) -> r.Release | None:
    return next((x for x in history if x.number == number), None)


def _snapshot(
    live: Mapping[str, Mapping[str, Any]], current: r.Release | None
) -> dict[str, r.ReleaseProc]:
    """What runs now, per proc: from the current release record, else from the live specs."""
    procs = {}
    for proc, service in live.items():
        if current is not None and proc in current.procs and current.procs[proc].spec:
            procs[proc] = current.procs[proc]
        else:
            procs[proc] = r.ReleaseProc.from_spec(service.get("Spec") or {})
    return procs


@dataclass
class _Change:
    proc: str
    action: str  # create, update
    spec: Mapping[str, Any]
    detail: str = ""


# -- deploy ------------------------------------------------------------------------------------


@dataclass
class _Prepared:
    meta_version: str
    config: AppConfig
    live: dict[str, dict[str, Any]]
    history: list[r.Release]
    desired: d.DesiredState
    plan: d.Plan
    warnings: tuple[str, ...] = ()  # declared secret files left out (secret_files_bypass)


def _prepare(
    client: Any,
    app: str,
    config: AppConfig,
    meta_version: str,
    image: str,
    cluster: ClusterSettings,
    procs: Iterable[str] | None,
) -> _Prepared:
    live = swarm.app_services(client, app)
    history = r.read_releases(client, app)
    number = _next_number(history)
    scale = {}
    for proc in config.procs:
        service = live.get(proc.name)
        if service is not None:
            running, deployed_from = d.live_scale(service.get("Spec") or {})
            scale[proc.name] = d.effective_scale(d.yaml_scale(proc), running, deployed_from)
    wanted = list(procs) if procs else None
    # Before anything changes: a declared secret file that is not stored fails here.
    secret_mounts, warnings = resolve_secret_mounts(
        client, config, procs=wanted, cluster=cluster.name
    )
    desired = d.desired_state(
        config,
        meta_version=meta_version,
        image=image,
        cluster=cluster,
        release=number,
        scale=scale,
        procs=wanted,
        secret_mounts=secret_mounts,
    )
    plan = d.plan_changes(
        desired,
        {p: s.get("Spec") or {} for p, s in live.items()},
        network_exists=swarm.find_network(client, desired.network.name) is not None,
        current_release=current_release_number(live),
        remove_others=wanted is None,
    )
    return _Prepared(meta_version, config, live, history, desired, plan, tuple(warnings))


def plan_deploy(
    app: str,
    *,
    cluster: ClusterSettings,
    version: str | None = None,
    procs: Iterable[str] | None = None,
    docker_client: Any = None,
    registry: RegistryClient | None = None,
) -> d.Plan:
    """What ``deploy_app`` would change, changing nothing.

    Args:
        app: the app name.
        cluster: the cluster.
        version: the meta version (default: the newest in the cluster's registry).
        procs: only these procs.
        docker_client: a docker client for the cluster's manager (default: connect).
        registry: a registry client (default: one for the cluster's registry).

    Raises:
        NotFound: the version is not in the registry.
        EngineError: the engine does not answer.
    """
    from lain_sdk.cluster import resources

    registry = registry_client(cluster, registry)
    client = engine_for(cluster, docker_client)
    source = load_source(client, registry, app, version, cluster)
    config, meta_version = source.config, source.meta_version
    if config.apptype == "resource":
        return resources.resource_plan(client, source)
    discovery.check_use_services(client, config, cluster)
    instances = [
        _prepare(client, i.app, i.config, i.meta_version, i.image, cluster, None).plan
        for i in resources.instance_sources(client, registry, config, cluster)
    ]
    plan = _prepare(client, app, config, meta_version, source.image, cluster, procs).plan
    return replace(plan, resource_instances=tuple(instances))


def deploy_app(
    app: str,
    *,
    cluster: ClusterSettings,
    version: str | None = None,
    procs: Iterable[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    wait: bool = True,
    docker_client: Any = None,
    registry: RegistryClient | None = None,
) -> Generator[Event, None, DeployResult]:
    """Deploy a version of an app and wait until it runs.

    ``app`` may be a resource instance, ``resource.<res>.<client>``: it then runs a version of
    the resource (default: the newest) with the parameters of the client's running lain.yaml.
    Deploying a resource itself (``apptype: resource``) runs nothing: it records the version
    new instances use.

    Args:
        app: the app name.
        cluster: the cluster.
        version: the meta version (default: the newest in the cluster's registry).
        procs: deploy only these procs (the others are left as they are and none is removed).
        timeout: seconds to wait for the lock and then for the rollout.
        wait: wait for the rollout (False: return once the engine accepted the changes; the
            release stays ``pending``).
        docker_client: a docker client for the cluster's manager (default: connect).
        registry: a registry client (default: one for the cluster's registry).

    Returns:
        A :class:`DeployResult` (``release`` is None when nothing needed to change).

    Raises:
        NotFound: the version, or a proc, does not exist; an app in ``use_services`` is not
            deployed or does not provide a service used (nothing was changed).
        LockHeld: another deploy of the app held the lock for the whole ``timeout``.
        DeployFailed: a proc did not converge; the previous release keeps serving.
        AppConfigError: a resource's template does not render for this client.
        EngineError, RegistryError, ClusterError: the engine or the registry failed.
    """
    from lain_sdk.cluster import resources

    registry = registry_client(cluster, registry)
    client = engine_for(cluster, docker_client)
    login_engine(client, cluster, registry)  # nodes pull the release image with these
    source = load_source(client, registry, app, version, cluster)
    yield Message(f"deploying {app} {source.meta_version} to cluster {cluster.name}")
    if source.config.apptype == "resource":
        return (yield from resources.record_resource(client, source, timeout=timeout))
    # Everything the app depends on is checked before anything changes.
    discovery.check_use_services(client, source.config, cluster)
    instances = resources.instance_sources(client, registry, source.config, cluster)
    # Resource instances first, so that the client's services can join their networks.
    instance_results = yield from resources.deploy_instances(
        client, instances, cluster=cluster, timeout=timeout, wait=wait
    )
    result = yield from deploy_source(
        client, source, cluster=cluster, procs=procs, timeout=timeout, wait=wait
    )
    return replace(result, resource_instances=tuple(instance_results))


def deploy_source(
    client: Any,
    source: ReleaseSource,
    *,
    cluster: ClusterSettings,
    procs: Iterable[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    wait: bool = True,
    kind: str = "deploy",
) -> Generator[Event, None, DeployResult]:
    """Deploy a loaded version under the app's lock: the part of :func:`deploy_app` after the
    version, its lain.yaml and what it depends on were found (see :func:`deploy_app`).

    ``kind`` is what the release record calls the change (``secret`` when a new secret
    version rolls out)."""
    app, config, meta_version = source.app, source.config, source.meta_version
    image, text = source.image, source.lain_yaml
    lock = yield from acquire_lock(
        client, app, operation="deploy", wait=timeout, ttl=2 * timeout + LOCK_MARGIN
    )
    try:
        prepared = _prepare(client, app, config, meta_version, image, cluster, procs)
        plan, desired, live = prepared.plan, prepared.desired, prepared.live
        for warning in prepared.warnings:
            yield Message(f"warning: {warning}")
        current = _by_number(prepared.history, plan.current_release)
        if not plan.changed:
            yield Message(
                f"nothing to change: {app} already runs {meta_version}"
                + (f" (release {plan.current_release})" if plan.current_release else "")
            )
            if wait and live:
                yield from _settle_unchanged(client, app, live, prepared.history, timeout)
            return DeployResult(app, meta_version, plan, None, waited=wait)

        snapshot = _snapshot(live, current)
        if procs is None:
            snapshot = {
                p: v for p, v in snapshot.items() if p in {s.proc for s in desired.services}
            }
        changes = []
        for change in plan.procs:
            if change.action in ("create", "update"):
                spec = desired.service(change.proc).spec
                changes.append(_Change(change.proc, change.action, spec, change.summary()))
        for service in desired.services:
            snapshot[service.proc] = r.ReleaseProc.from_spec(service.spec)
        removals = [c.proc for c in plan.procs if c.action == "remove"]
        release = r.create_release(
            client,
            app=app,
            kind=kind,
            meta_version=meta_version,
            lain_yaml=config.source or text,
            procs=snapshot,
            number=desired.release,
        )
        yield Message(f"release {release.number}: {len(changes)} proc(s) to change")
        # Procs left as they were are waited for too: an earlier deploy that was cut short
        # may have left them still starting.
        unchanged = [
            swarm.Target(c.proc, str(live[c.proc]["ID"]), "unchanged", since=0.0, settle=True)
            for c in plan.procs
            if c.action == "unchanged"
        ]
        final = yield from _rollout(
            client,
            app=app,
            changes=changes,
            removals=removals,
            live=live,
            network=desired.network,
            release=release,
            previous=current,
            timeout=timeout,
            wait=wait,
            also_wait=unchanged,
        )
        return DeployResult(app, meta_version, plan, final, waited=wait)
    finally:
        lock.release()


def _settle_unchanged(
    client: Any,
    app: str,
    live: Mapping[str, Mapping[str, Any]],
    history: list[r.Release],
    timeout: float,
) -> Generator[Event, None, None]:
    """Nothing to change, but an earlier run may have been cut short: wait for its rollout and
    settle the outcome of its release."""
    targets = [
        swarm.Target(proc, str(s["ID"]), "unchanged", since=0.0, settle=True)
        for proc, s in live.items()
    ]
    failures = yield from swarm.wait_for(client, app, targets, timeout=timeout)
    number = current_release_number(live)
    release = _by_number(history, number)
    if release is not None and release.outcome == "pending":
        if failures:
            r.set_outcome(client, release, "failed", failures[0].describe())
        else:
            r.set_outcome(client, release, "succeeded")
            yield Message(f"release {release.number} is now running")
    if failures:
        raise _failed(app, release, failures, None, first=False)


def _failed(
    app: str,
    release: r.Release | None,
    failures: list[swarm.ProcFailure],
    previous: r.Release | None,
    *,
    first: bool,
) -> DeployFailed:
    what = (
        f"release {release.number} ({release.kind} of {release.meta_version})" if release else app
    )
    lines = [f"{what} of {app} failed:"]
    lines += [f.describe() for f in failures]
    if first:
        lines.append(
            "This was the first deploy of the app: nothing was removed; "
            "see `lain ps` and `lain logs` for what runs."
        )
    elif previous is not None:
        lines.append(f"Release {previous.number} ({previous.meta_version}) keeps serving.")
    else:
        lines.append("The procs were put back as they were before this deploy.")
    error = DeployFailed("\n".join(lines))
    error.release = release  # type: ignore[attr-defined]
    error.failures = failures  # type: ignore[attr-defined]
    error.procs = [f.proc for f in failures]  # type: ignore[attr-defined]
    return error


def _rollout(
    client: Any,
    *,
    app: str,
    changes: list[_Change],
    removals: list[str],
    live: Mapping[str, Mapping[str, Any]],
    network: d.DesiredNetwork | None,
    release: r.Release,
    previous: r.Release | None,
    timeout: float,
    wait: bool,
    also_wait: Iterable[swarm.Target] = (),
) -> Generator[Event, None, r.Release]:
    """Apply changes for a recorded release, wait, and settle its outcome (see module doc)."""
    first = not live
    since = engine_time(client)
    targets: list[swarm.Target] = []
    try:
        if network is not None and swarm.ensure_network(client, network):
            yield Message(f"created network {network.name}")
        for change in changes:
            if change.action == "create":
                service_id = swarm.create_service(client, change.spec)
                yield ProcChanged(app, change.proc, "created", change.spec["Name"], change.detail)
                targets.append(swarm.Target(change.proc, service_id, "created", since))
            else:
                service = live[change.proc]
                swarm.update_service(client, service, change.spec)
                yield ProcChanged(app, change.proc, "updated", change.spec["Name"], change.detail)
                targets.append(swarm.Target(change.proc, str(service["ID"]), "updated", since))
    except LainError as e:
        # Undo what was applied so far, then report the original problem.
        if targets:
            yield from _restore(client, app, targets, [], live, first, timeout)
        r.set_outcome(client, release, "failed", str(e))
        raise

    if not wait:
        yield from _remove_procs(client, app, removals, live)
        return release

    failures = yield from swarm.wait_for(client, app, [*targets, *also_wait], timeout=timeout)
    if failures:
        for failure in failures:
            yield Message(f"{failure.proc} failed: {failure.reason}")
        yield from _restore(client, app, targets, failures, live, first, timeout)
        error = _failed(app, release, failures, previous, first=first)
        r.set_outcome(
            client, release, "failed", "; ".join(f"{f.proc}: {f.reason}" for f in failures)
        )
        raise error
    yield from _remove_procs(client, app, removals, live)
    return r.set_outcome(client, release, "succeeded")


def _remove_procs(
    client: Any, app: str, procs: list[str], live: Mapping[str, Mapping[str, Any]]
) -> Generator[Event, None, None]:
    for proc in procs:
        service = live[proc]
        name = str((service.get("Spec") or {}).get("Name", proc))
        swarm.remove_service(client, str(service["ID"]), name)
        yield ProcChanged(app, proc, "removed", name, "not in lain.yaml any more")


def _restore(
    client: Any,
    app: str,
    targets: list[swarm.Target],
    failures: list[swarm.ProcFailure],
    live: Mapping[str, Mapping[str, Any]],
    first: bool,
    timeout: float,
) -> Generator[Event, None, None]:
    """Put every changed proc back as it was, so the previous release serves whole.

    Swarm has already rolled back the procs whose update failed; the others that were updated
    get their previous spec back, and procs this deploy created are removed (except on a
    first deploy, where there is nothing to go back to and what runs is left to look at).
    """
    failed = {f.proc: f for f in failures}
    since = engine_time(client)
    settle: list[swarm.Target] = []
    for target in targets:
        failure = failed.get(target.proc)
        if target.action == "created":
            if not first:
                swarm.remove_service(client, target.service_id)
                yield ProcChanged(
                    app, target.proc, "removed", target.service_id, "new in the failed release"
                )
            continue
        if failure is not None and failure.rolling_back:
            # Swarm is rolling it back already: let it finish.
            settle.append(
                swarm.Target(target.proc, target.service_id, "restored", target.since, settle=True)
            )
            continue
        previous = (live.get(target.proc) or {}).get("Spec")
        if not previous:
            continue
        service = swarm.inspect_service(client, target.service_id)
        swarm.update_service(client, service, previous)
        yield ProcChanged(
            app, target.proc, "restored", str(previous.get("Name", "")), "put back as before"
        )
        settle.append(swarm.Target(target.proc, target.service_id, "restored", since, settle=True))
    if settle:
        leftovers = yield from swarm.wait_for(
            client, app, settle, timeout=max(timeout, 30.0), stop_on_failure=False
        )
        for leftover in leftovers:
            yield Message(f"putting {leftover.proc} back did not finish: {leftover.reason}")


# -- scale -------------------------------------------------------------------------------------

def parse_memory(value: str | int) -> int:
    """Memory in Docker's units (``64m``, ``1g``, ``512k``, bytes) as bytes, at least 6m.

    Raises:
        ValueError: not a size, or below 6 MiB (Docker's minimum).
    """
    from lain_sdk.appconfig.checks import MIN_MEMORY
    from lain_sdk.appconfig.checks import parse_memory as parse_size

    try:
        size = parse_size(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a memory size (e.g. 64m, 1g)") from None
    if size < MIN_MEMORY:
        raise ValueError(f"memory must be at least 6m (Docker's minimum), not {value}")
    return size


def scale_proc(
    app: str,
    proc: str,
    *,
    cluster: ClusterSettings,
    instances: int | None = None,
    cpu: float | None = None,
    memory: int | str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    wait: bool = True,
    docker_client: Any = None,
) -> Generator[Event, None, DeployResult]:
    """Change the instances, CPU or memory of one proc in one service update, and wait.

    The new values win over lain.yaml until lain.yaml itself changes them (see
    :func:`lain_sdk.cluster.desired.effective_scale`).

    Args:
        app: the app.
        proc: the proc.
        cluster: the cluster.
        instances: replicas (>= 0).
        cpu: CPUs (> 0, decimals allowed).
        memory: bytes, or a size like ``128m`` (>= 6m).
        timeout: seconds to wait for the lock and for the rollout.
        wait: wait for the rollout.
        docker_client: a docker client for the cluster's manager (default: connect).

    Raises:
        ValueError: an invalid value, or no value at all.
        NotFound: the proc is not deployed.
        DeployFailed: the proc did not converge; it was put back.
    """
    if instances is None and cpu is None and memory is None:
        raise ValueError("give at least one of instances, cpu and memory")
    if instances is not None and (not isinstance(instances, int) or instances < 0):
        raise ValueError(f"instances must be a whole number >= 0, not {instances!r}")
    if cpu is not None and not cpu > 0:
        raise ValueError(f"cpu must be > 0, not {cpu!r}")
    memory_bytes = parse_memory(memory) if memory is not None else None

    client = engine_for(cluster, docker_client)
    lock = yield from acquire_lock(
        client, app, operation="scale", wait=timeout, ttl=2 * timeout + LOCK_MARGIN
    )
    try:
        live = swarm.app_services(client, app)
        deployed_procs(live, [proc], app, cluster)
        history = r.read_releases(client, app)
        current = _by_number(history, current_release_number(live))
        snapshot = _snapshot(live, current)
        base = snapshot[proc]
        old = base.scale
        new = d.ProcScale(
            instances=old.instances if instances is None else instances,
            cpu=old.cpu if cpu is None else float(cpu),
            memory=old.memory if memory_bytes is None else memory_bytes,
        )
        meta_version = current.meta_version if current else _label(live[proc], d.LABEL_VERSION)
        number = _next_number(history)
        spec = d.rescale_spec(base.spec, new, release=number)
        plan = d.Plan(
            app=app,
            meta_version=meta_version,
            current_release=current.number if current else None,
            network=d.network_name(app),
            create_network=False,
            procs=(
                d.ProcChange(proc, "update", str(spec["Name"]), _scale_changes(old, new))
                if new != old
                else d.ProcChange(proc, "unchanged", str(spec["Name"])),
            ),
        )
        if new == old:
            yield Message(f"nothing to change: {proc} already has {_describe_scale(new)}")
            return DeployResult(app, meta_version, plan, None, waited=wait)
        snapshot[proc] = r.ReleaseProc.from_spec(spec)
        release = r.create_release(
            client,
            app=app,
            kind="scale",
            meta_version=meta_version,
            lain_yaml=current.lain_yaml if current else "",
            procs=snapshot,
            number=number,
        )
        change = _Change(proc, "update", spec, plan.procs[0].summary())
        final = yield from _rollout(
            client,
            app=app,
            changes=[change],
            removals=[],
            live=live,
            network=None,
            release=release,
            previous=current,
            timeout=timeout,
            wait=wait,
        )
        return DeployResult(app, meta_version, plan, final, waited=wait)
    finally:
        lock.release()


def deployed_procs(
    live: Mapping[str, Any], procs: Iterable[str] | None, app: str, cluster: ClusterSettings
) -> list[str]:
    """``procs`` (default: every deployed one), sorted, once each is known to be deployed.

    Raises:
        NotFound: a proc of ``procs`` is not among the ``live`` services; the message names
            the procs that are.
    """
    wanted = sorted(procs) if procs else sorted(live)
    missing = [p for p in wanted if p not in live]
    if missing:
        deployed = ", ".join(sorted(live)) or "none"
        if len(missing) == 1:
            which = f"proc {missing[0]} of {app} is"
        else:
            which = f"procs {', '.join(missing)} of {app} are"
        raise NotFound(
            f"{which} not deployed on cluster {cluster.name} (deployed procs: {deployed})"
        )
    return wanted


def _service_name(service: Mapping[str, Any], default: str) -> str:
    return str((service.get("Spec") or {}).get("Name") or default)


def _label(service: Mapping[str, Any], key: str) -> str:
    return str(((service.get("Spec") or {}).get("Labels") or {}).get(key, ""))


def _scale_changes(old: d.ProcScale, new: d.ProcScale) -> dict[str, Any]:
    changes = {}
    for key in ("instances", "cpu", "memory"):
        if getattr(old, key) != getattr(new, key):
            changes[key] = {"from": getattr(old, key), "to": getattr(new, key)}
    return changes


def _describe_scale(scale: d.ProcScale) -> str:
    cpu = "no cpu limit" if not scale.cpu else f"cpu {scale.cpu:g}"
    return f"{scale.instances} instance(s), {cpu}, memory {d.format_bytes(scale.memory)}"


# -- restart -----------------------------------------------------------------------------------


def restart_app(
    app: str,
    procs: Iterable[str] | None = None,
    *,
    cluster: ClusterSettings,
    timeout: float = DEFAULT_TIMEOUT,
    wait: bool = True,
    docker_client: Any = None,
) -> Generator[Event, None, RestartResult]:
    """Replace every instance of the app's procs (all, or ``procs``) with a fresh one.

    The instances are replaced the way a deploy rolls them (one at a time, the new one started
    and healthy before the old one stops), so the proc keeps serving.  Nothing a release holds
    changes, so no release is recorded.

    Raises:
        NotFound: a named proc is not deployed, or nothing of the app is.
        DeployFailed: fresh instances did not come up healthy (Swarm put the old ones back).
    """
    client = engine_for(cluster, docker_client)
    lock = yield from acquire_lock(
        client, app, operation="restart", wait=timeout, ttl=2 * timeout + LOCK_MARGIN
    )
    try:
        live = swarm.app_services(client, app)
        wanted = deployed_procs(live, procs, app, cluster)
        if not wanted:
            raise NotFound(f"{app} is not deployed on cluster {cluster.name}")
        since = engine_time(client)
        targets = []
        for proc in wanted:
            service = live[proc]
            # A new ForceUpdate value makes Swarm replace every task, even of an unchanged spec.
            spec = dict(service["Spec"])
            template = dict(spec["TaskTemplate"])
            template["ForceUpdate"] = int(template.get("ForceUpdate") or 0) + 1
            spec["TaskTemplate"] = template
            swarm.update_service(client, service, spec)
            yield ProcChanged(app, proc, "updated", str(spec["Name"]), "restart")
            targets.append(swarm.Target(proc, str(service["ID"]), "updated", since))
        if wait:
            failures = yield from swarm.wait_for(client, app, targets, timeout=timeout)
            if failures:
                reasons = "; ".join(f"{f.proc}: {f.reason}" for f in failures)
                raise DeployFailed(
                    f"the restart of {app} failed ({reasons}); Swarm keeps or puts back the "
                    "instances that were running"
                )
        return RestartResult(app, tuple(wanted), waited=wait)
    finally:
        lock.release()


# -- rollback ----------------------------------------------------------------------------------


def rollback_app(
    app: str,
    number: int | None = None,
    *,
    cluster: ClusterSettings,
    timeout: float = DEFAULT_TIMEOUT,
    wait: bool = True,
    docker_client: Any = None,
) -> Generator[Event, None, DeployResult]:
    """Put back everything release ``number`` ran (images, instances, resources) at once.

    Args:
        app: the app.
        number: the release to go back to (default: the newest succeeded release before the
            one running now).
        cluster: the cluster.
        timeout: seconds to wait for the lock and for the rollout.
        wait: wait for the rollout.
        docker_client: a docker client for the cluster's manager (default: connect).

    Returns:
        A :class:`DeployResult`; its release is the new ``rollback`` release.

    Raises:
        NotFound: no such release, or nothing earlier to go back to.
        ClusterError: release ``number`` failed (it never ran whole).
        DeployFailed: the rollback did not converge.
    """
    client = engine_for(cluster, docker_client)
    lock = yield from acquire_lock(
        client, app, operation="rollback", wait=timeout, ttl=2 * timeout + LOCK_MARGIN
    )
    try:
        live = swarm.app_services(client, app)
        history = r.read_releases(client, app)
        running = current_release_number(live)
        if number is None:
            candidates = [
                x
                for x in history
                if x.outcome == "succeeded" and (running is None or x.number < running)
            ]
            if not candidates:
                raise NotFound(
                    f"{app} has no succeeded release before release {running} to roll back to; "
                    "see `lain releases`"
                )
            target = candidates[-1]
        else:
            found = _by_number(history, number)
            if found is None:
                listed = ", ".join(str(x.number) for x in history[-10:]) or "none yet"
                raise NotFound(
                    f"{app} has no release {number} (releases: {listed}); see `lain releases`"
                )
            target = found
            if target.outcome == "failed":
                raise ClusterError(
                    f"release {number} of {app} failed, so it never ran whole; pick a succeeded "
                    "release from `lain releases`"
                )
        if not target.procs or not all(p.spec for p in target.procs.values()):
            raise ClusterError(f"release {target.number} of {app} has no service specs to restore")

        new_number = _next_number(history)
        specs = {p: d.relabel_spec(rp.spec, release=new_number) for p, rp in target.procs.items()}
        changes = []
        plan_changes = []
        for proc, spec in sorted(specs.items()):
            service = live.get(proc)
            if service is None:
                changes.append(_Change(proc, "create", spec, f"as in release {target.number}"))
                plan_changes.append(d.ProcChange(proc, "create", spec["Name"]))
            elif d.same_spec(service.get("Spec") or {}, spec):
                plan_changes.append(d.ProcChange(proc, "unchanged", spec["Name"]))
            else:
                ch = d.ProcChange(
                    proc,
                    "update",
                    spec["Name"],
                    d.describe_changes(spec, service.get("Spec") or {}),
                )
                changes.append(_Change(proc, "update", spec, ch.summary()))
                plan_changes.append(ch)
        removals = sorted(p for p in live if p not in specs)
        plan_changes += [d.ProcChange(p, "remove", _service_name(live[p], p)) for p in removals]
        network = d.DesiredNetwork(
            name=d.network_name(app), labels={d.LABEL_APP: app, d.LABEL_RELEASE: str(new_number)}
        )
        network_missing = swarm.find_network(client, network.name) is None
        plan = d.Plan(
            app=app,
            meta_version=target.meta_version,
            current_release=running,
            network=network.name,
            create_network=network_missing,
            procs=tuple(plan_changes),
        )
        if not plan.changed:
            yield Message(f"nothing to change: {app} already runs what release {target.number} ran")
            return DeployResult(app, target.meta_version, plan, None, waited=wait)
        check_spec_secrets(client, app, specs, f"release {target.number}")
        release = r.create_release(
            client,
            app=app,
            kind="rollback",
            meta_version=target.meta_version,
            lain_yaml=target.lain_yaml,
            procs={p: r.ReleaseProc.from_spec(s) for p, s in specs.items()},
            rollback_of=target.number,
            number=new_number,
        )
        yield Message(
            f"release {release.number}: rolling {app} back to release {target.number} "
            f"({target.meta_version})"
        )
        final = yield from _rollout(
            client,
            app=app,
            changes=changes,
            removals=removals,
            live=live,
            network=network,
            release=release,
            previous=_by_number(history, running),
            timeout=timeout,
            wait=wait,
        )
        return DeployResult(app, target.meta_version, plan, final, waited=wait)
    finally:
        lock.release()


# -- releases ----------------------------------------------------------------------------------


def list_releases(
    app: str, *, cluster: ClusterSettings, docker_client: Any = None
) -> list[r.Release]:
    """Every release of ``app`` recorded in the cluster, oldest first.

    Raises:
        EngineError: the engine does not answer.
    """
    return r.read_releases(engine_for(cluster, docker_client), app)


# -- undeploy ----------------------------------------------------------------------------------


def undeploy_app(
    app: str,
    *,
    cluster: ClusterSettings,
    procs: Iterable[str] | None = None,
    purge: bool = False,
    timeout: float = UNDEPLOY_TIMEOUT,
    docker_client: Any = None,
) -> Generator[Event, None, UndeployResult]:
    """Remove an app's services (all, or ``procs``) and, with the whole app, its network.

    Release history and secrets stay (so a later deploy or rollback knows them) unless
    ``purge``, which also removes the app's volumes on the engine's node and its secrets (of
    ``procs`` only, when given).

    Raises:
        NotFound: a named proc is not deployed, or nothing of the app is.
    """
    client = engine_for(cluster, docker_client)
    lock = yield from acquire_lock(
        client, app, operation="undeploy", wait=timeout, ttl=timeout + LOCK_MARGIN
    )
    try:
        live = swarm.app_services(client, app)
        wanted = deployed_procs(live, procs, app, cluster)
        whole = not procs or set(wanted) == set(live)
        network = d.network_name(app)
        network_there = swarm.find_network(client, network) is not None
        if not live and not network_there and not purge:
            raise NotFound(f"{app} is not deployed on cluster {cluster.name}")
        yield from _remove_procs_named(client, app, wanted, live)
        network_removed = False
        if whole and network_there:
            network_removed = swarm.remove_network(client, network, timeout)
            if network_removed:
                yield Message(f"removed network {network}")
            else:
                yield Message(f"network {network} is still in use; it was left in place")
        releases_removed = secrets_removed = 0
        removed_volumes: list[str] = []
        left_volumes: list[str] = []
        if purge:
            if whole:
                releases_removed = r.remove_releases(client, app)
                yield Message(f"removed {releases_removed} release record(s)")
            for volume in _app_volumes(client, app, None if whole else wanted):
                if swarm.remove_when_free(
                    client, "volume", volume, client.api.remove_volume, timeout
                ):
                    removed_volumes.append(volume)
                else:
                    left_volumes.append(volume)
            if removed_volumes:
                yield Message(f"removed volume(s) {', '.join(removed_volumes)}")
            secrets_removed = remove_app_secrets(client, app, None if whole else wanted)
            if secrets_removed:
                yield Message(f"removed {secrets_removed} secret version(s)")
        return UndeployResult(
            app,
            tuple(wanted),
            network_removed,
            releases_removed,
            tuple(removed_volumes),
            tuple(left_volumes),
            secrets_removed,
        )
    finally:
        lock.release()


def _remove_procs_named(
    client: Any, app: str, procs: list[str], live: Mapping[str, Mapping[str, Any]]
) -> Generator[Event, None, None]:
    for proc in procs:
        service = live[proc]
        name = _service_name(service, proc)
        swarm.remove_service(client, str(service["ID"]), name)
        yield ProcChanged(app, proc, "removed", name, "undeployed")


def _app_volumes(client: Any, app: str, procs: list[str] | None) -> list[str]:
    with engine_errors(client, f"list the volumes of {app}"):
        found = client.api.volumes(filters={"label": f"{d.LABEL_APP}={app}"}).get("Volumes") or []
    names = []
    for volume in found:
        labels = volume.get("Labels") or {}
        if labels.get(d.LABEL_APP) == app and (procs is None or labels.get(d.LABEL_PROC) in procs):
            names.append(str(volume["Name"]))
    return sorted(names)
