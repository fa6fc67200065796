"""App secrets: store a new version (and roll it out), list, read and remove secret files.

How versions are kept and mounted is in :mod:`lain_sdk.cluster.secret_store`; how values are
read back, in :mod:`lain_sdk.cluster.secret_reader`.  Values never appear in output, labels, env,
release records or errors.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import lain_sdk.arguments as arguments
from lain_sdk.appconfig.model import AppConfig, Proc
from lain_sdk.cluster.deploy import DEFAULT_TIMEOUT, DeployResult, deploy_source
from lain_sdk.cluster.releases import Release, find_release, read_releases
from lain_sdk.cluster.secret_reader import READ_TIMEOUT, read_values, reader_image
from lain_sdk.cluster.secret_store import (
    SecretVersion,
    check_proc_name,
    check_secret_value,
    group_versions,
    newest_declared,
    remove_versions,
    secret_path,
    store_secret,
    stored_secrets,
    versions_of,
)
from lain_sdk.cluster.session import Cluster, ClusterLike
from lain_sdk.cluster.source import (
    load_release_config,
    load_source,
    read_meta_lain_yaml,
    resolve_version,
)
from lain_sdk.cluster.spec import secret_versions
from lain_sdk.cluster.swarm import app_services
from lain_sdk.cluster.views import Service, current_release
from lain_sdk.errors import (
    ClusterError,
    InvalidArgument,
    LainError,
    SecretNotDeclared,
    SecretsMissing,
    VersionNotFound,
)
from lain_sdk.events import Event, Message


@dataclass(frozen=True)
class SecretInfo:
    """A secret file of a proc: its versions, and which of them the proc's service mounts.

    Attributes:
        app: the app.
        proc: the proc.
        path: the file's absolute path in the container.
        versions: every stored version, oldest first.
        in_use: the version the proc's running service mounts (None: not mounted).
    """

    app: str
    proc: str
    path: str
    versions: tuple[SecretVersion, ...]
    in_use: int | None = None

    @property
    def newest(self) -> SecretVersion:
        return self.versions[-1]

    def to_dict(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "proc": self.proc,
            "path": self.path,
            "newest": self.newest.version,
            "in_use": self.in_use,
            "versions": [v.to_dict() for v in self.versions],
        }


@dataclass(frozen=True)
class SecretValue:
    """The value of one version of a secret file (``repr`` leaves the value out)."""

    app: str
    proc: str
    path: str
    version: int
    content: bytes = field(repr=False)


@dataclass(frozen=True)
class SecretAdded:
    """What :func:`add_secret` did.

    Attributes:
        secret: the version stored.
        rollout: the deploy that mounted it in the running proc (None: not rolled out; see
            ``note``).
        note: why it was not rolled out, when it was not.
        declared: False when it was stored although the lain.yaml checked does not declare it
            (or there was none to check): ``note`` says which.
    """

    secret: SecretVersion
    rollout: DeployResult | None = None
    note: str = ""
    declared: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "app": self.secret.app,
            "proc": self.secret.proc,
            "path": self.secret.path,
            **self.secret.to_dict(),
            "rollout": self.rollout.to_dict() if self.rollout else None,
            "note": self.note,
            "declared": self.declared,
        }


@dataclass(frozen=True)
class SecretRemoved:
    app: str
    proc: str
    path: str
    versions: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "proc": self.proc,
            "path": self.path,
            "removed_versions": list(self.versions),
        }


def list_secrets(app: str, *, cluster: ClusterLike, proc: str | None = None) -> list[SecretInfo]:
    """The secret files of ``app`` (or of one proc): versions, dates, and the version in use.

    Values are never read.

    Raises:
        InvalidArgument: an argument of the wrong kind.
        EngineError: the engine does not answer.
    """
    app = arguments.app_name(app)
    if proc is not None:
        check_proc_name(proc)
    session = Cluster.of(cluster)
    grouped = group_versions(stored_secrets(session, app))
    mounted = {p: secret_versions(s.spec) for p, s in app_services(session, app).items()}
    return [
        SecretInfo(app, p, path, tuple(versions), mounted.get(p, {}).get(path))
        for (p, path), versions in sorted(grouped.items())
        if proc is None or p == proc
    ]


@dataclass(frozen=True)
class _Reference:
    """The lain.yaml a new secret file is checked against (see :func:`add_secret`).

    ``config`` is None when there is none, and ``source`` then says why; ``running`` tells
    that it is the running release's."""

    config: AppConfig | None
    source: str
    running: bool = False


def _reference(session: Cluster, app: str, deployed: bool, current: Release | None) -> _Reference:
    """The running release's lain.yaml, else the newest version's in the registry: what the
    app runs, or what its first deploy will run by default.

    Raises:
        RegistryError, NotFound, AppConfigError: the newest version's lain.yaml cannot be read.
    """
    if current is not None and current.lain_yaml:
        try:
            config = load_release_config(current.lain_yaml, app, current.meta_version, session)
            return _Reference(
                config, f"release {current.number}, version {current.meta_version}", True
            )
        except LainError:
            pass  # a record this lain cannot read: the newest version is the next best guide
    registry = session.registry
    try:
        newest = resolve_version(registry, app, None)
    except VersionNotFound:
        running = "its running release has no lain.yaml lain can read" if deployed else None
        where = running or f"{app} is not deployed on cluster {session.name}"
        return _Reference(None, f"{where} and registry {registry.host} has no version of it")
    text = read_meta_lain_yaml(registry, app, newest)
    config = load_release_config(text, app, newest, session)
    return _Reference(config, f"version {newest}, the newest in registry {registry.host}")


def _undeclared(
    cluster: Cluster, app: str, proc: str, path: str, ref: _Reference
) -> SecretNotDeclared | None:
    """Why ``ref`` does not let ``proc`` have the secret file ``path``; None when it does."""
    on = cluster.name
    if ref.config is None:
        return SecretNotDeclared(app, proc, path, cluster=on, source="", reason=ref.source)
    procs = [p.name for p in ref.config.procs]
    if proc not in procs:
        return SecretNotDeclared(app, proc, path, cluster=on, source=ref.source, procs=procs)
    declared = ref.config.proc(proc).secret_files
    if path in declared:
        return None
    return SecretNotDeclared(
        app, proc, path, cluster=on, source=ref.source, procs=procs, declared=declared
    )


def _check_declared(
    session: Cluster,
    app: str,
    proc: str,
    path: str,
    live: Mapping[str, Service],
    current: Release | None,
    allow_undeclared: bool,
) -> tuple[_Reference, SecretNotDeclared | None]:
    """The lain.yaml to check a new secret file against, and why it does not declare the file
    (None when it does).

    Raises:
        SecretNotDeclared: it does not, and undeclared files are not allowed.
        RegistryError, NotFound, AppConfigError: the newest version's lain.yaml cannot be read
            (only when undeclared files are not allowed: else that is said as the reason).
    """
    try:
        ref = _reference(session, app, bool(live), current)
    except LainError as e:
        if not allow_undeclared:
            raise
        ref = _Reference(None, f"the lain.yaml of {app}'s newest version could not be read ({e})")
    refused = _undeclared(session, app, proc, path, ref)
    if refused is not None and not allow_undeclared:
        raise refused
    return ref, refused


def add_secret(
    app: str,
    proc: str,
    path: str,
    content: bytes,
    *,
    cluster: ClusterLike,
    rollout: bool = True,
    allow_undeclared: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    wait: bool = True,
) -> Generator[Event, None, SecretAdded]:
    """Store a new version of a secret file that the app's lain.yaml declares, and, when the
    proc runs with it, roll it out.

    The lain.yaml checked is the running release's; when the app is not deployed, the newest
    version's in the cluster's registry (the one a deploy takes by default).  A proc that
    lain.yaml does not have, or a path the proc does not list in ``secret_files``, is refused
    and nothing is stored, unless ``allow_undeclared``: the file is then stored ahead of the
    lain.yaml that will declare it, and the result says it is not declared.

    The rollout is a deploy of the running version limited to ``proc`` (recorded as a
    release of kind ``secret``), so a rollback can put the previous value back.  It happens
    when the proc is deployed and the lain.yaml it runs declares ``path``; otherwise the next
    deploy mounts the new version.

    Args:
        app: the app.
        proc: the proc.
        path: absolute, or relative to /lain/app.
        content: the value.
        cluster: the cluster (a session, its settings, or its name).
        rollout: roll the new version out to the running proc (False: only store it).
        allow_undeclared: store the file even when no lain.yaml declares it (or there is no
            lain.yaml to check).
        timeout: seconds to wait for the deploy lock and for the rollout.
        wait: wait for the rollout.

    Raises:
        InvalidArgument: a bad proc name or path, or an empty or too large value.
        SecretNotDeclared: the lain.yaml checked does not declare the file, or there is none
            (nothing was stored).
        RegistryError, NotFound, AppConfigError: the app is not deployed and the newest
            version's lain.yaml cannot be read (nothing was stored).
        DeployFailed: the rollout failed; the previous version keeps serving (the new one
            stays stored).
    """
    app = arguments.app_name(app)
    path = secret_path(path)
    check_secret_value(path, content)
    check_proc_name(proc)
    rollout = arguments.flag(rollout, "rollout")
    allow_undeclared = arguments.flag(allow_undeclared, "allow_undeclared")
    timeout = arguments.seconds(timeout)
    session = Cluster.of(cluster)
    live = app_services(session, app)
    current = (
        find_release(read_releases(session, app), current_release(live.values())) if live else None
    )
    ref, refused = _check_declared(session, app, proc, path, live, current, allow_undeclared)
    stored = store_secret(session, app, proc, path, content)
    yield Message(f"stored {stored.path} of {app} {proc} as version {stored.version}")
    if refused is not None:
        note = (
            f"{refused.problem}; stored anyway: only a deploy whose lain.yaml declares it mounts it"
        )
        return SecretAdded(stored, None, note, declared=False)
    if proc not in live:
        note = f"{proc} of {app} is not deployed; the next deploy mounts version {stored.version}"
        return SecretAdded(stored, None, note)
    # What the running proc mounts tells when its release's lain.yaml could not be read.
    if not ref.running and stored.path not in secret_versions(live[proc].spec):
        return SecretAdded(
            stored,
            None,
            f"proc {proc} of {app} as deployed does not declare {stored.path} in secret_files; "
            "nothing mounts it until a deploy whose lain.yaml does",
        )
    if not rollout:
        return SecretAdded(
            stored, None, f"not rolled out; the next deploy mounts version {stored.version}"
        )
    yield Message(f"rolling version {stored.version} of {stored.path} out to {proc}")
    # The running version again, for this proc only: its spec differs by the secret alone.
    session.login_engine()  # nodes pull the release image with these
    meta_version = current.meta_version if current else live[proc].meta_version
    source = load_source(session, app, meta_version or None)
    result = yield from deploy_source(
        session, source, procs=[proc], timeout=timeout, wait=wait, kind="secret"
    )
    return SecretAdded(stored, result, "")


def remove_secret(
    app: str,
    proc: str,
    path: str,
    *,
    cluster: ClusterLike,
    version: int | None = None,
) -> SecretRemoved:
    """Remove every version of a secret file (or one version).

    A version a service mounts cannot go (Swarm refuses it, and the proc would lose the
    file): the call then removes nothing and says which service uses it.  Releases that
    mounted a removed version can no longer be rolled back to.

    Raises:
        InvalidArgument: a bad proc name, path or version.
        NotFound: no such secret file or version.
        ClusterError: a service mounts one of the versions.
    """
    app = arguments.app_name(app)
    check_proc_name(proc)
    if version is not None:
        arguments.whole(version, "version", minimum=1)
    session = Cluster.of(cluster)
    versions = versions_of(session, app, proc, path, version)
    ids = {v.secret_id: v for v in versions}
    with session.errors(f"list the services that mount secrets of {app}"):
        services = session.api.services()
    for service in services:
        spec = service.get("Spec") or {}
        container = (spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}
        for item in container.get("Secrets") or []:
            if item.get("SecretID") in ids:
                used = ids[item["SecretID"]]
                raise ClusterError(
                    f"version {used.version} of {used.path} of {app} {proc} is mounted by "
                    f"service {spec.get('Name')}; nothing was removed. Remove the path from "
                    "secret_files and deploy, or undeploy the proc, first"
                    + ("" if version is not None else " (or remove older versions one by one)")
                )
    removed = remove_versions(session, app, versions)
    return SecretRemoved(app, proc, versions[0].path, tuple(removed))


def read_secret(
    app: str,
    proc: str,
    path: str,
    *,
    cluster: ClusterLike,
    version: int | None = None,
    image: str | None = None,
    timeout: float = READ_TIMEOUT,
) -> SecretValue:
    """Read the value of a secret file (the newest version, or ``version``).

    Args:
        app: the app.
        proc: the proc.
        path: absolute, or relative to /lain/app.
        cluster: the cluster (a session, its settings, or its name).
        version: which version (default: the newest).
        image: the image of the one-off reader task (needs ``sleep`` and ``cat``; default:
            the proc's deployed image, else another of the app's release images).
        timeout: seconds for the reader task to run.

    Raises:
        InvalidArgument: a bad proc name, path or version.
        NotFound: no such secret file or version.
        ClusterError: the reader task failed (e.g. its image has no ``sleep``/``cat``).
        LainTimeout: it did not finish within ``timeout``.
    """
    app = arguments.app_name(app)
    check_proc_name(proc)
    if version is not None:
        arguments.whole(version, "version", minimum=1)
    image = arguments.optional_text(image, "image")
    timeout = arguments.seconds(timeout)
    session = Cluster.of(cluster)
    chosen = versions_of(session, app, proc, path, version)[-1]
    values = read_values(
        session,
        app,
        [chosen],
        image=image or reader_image(session, app, proc),
        timeout=timeout,
    )
    return SecretValue(app, proc, chosen.path, chosen.version, values[chosen.path])


def read_proc_secrets(
    app: str,
    proc: Proc,
    *,
    cluster: ClusterLike,
    skip: Iterable[str] = (),
    image: str | None = None,
    timeout: float = READ_TIMEOUT,
) -> tuple[dict[str, bytes], list[str]]:
    """The newest value of every secret file ``proc`` declares, read in one reader task.

    Args:
        skip: paths not to read (given some other way).

    Returns:
        path -> value, and warnings for files left out under ``secret_files_bypass``.

    Raises:
        InvalidArgument: an argument of the wrong kind.
        SecretsMissing: a declared file is not stored and the proc has no
            ``secret_files_bypass``.
    """
    app = arguments.app_name(app)
    if not isinstance(proc, Proc):
        raise InvalidArgument(f"proc must be a Proc of the app's lain.yaml, not {proc!r}")
    skipped = {secret_path(p) for p in skip}
    wanted = [p for p in proc.secret_files if p not in skipped]
    if not wanted:
        return {}, []
    session = Cluster.of(cluster)
    grouped = group_versions(stored_secrets(session, app))
    found = newest_declared(app, proc, wanted, grouped, session.name)
    if found.missing:
        raise SecretsMissing(app, session.name, [(proc.name, p) for p in found.missing])
    if not found.chosen:
        return {}, list(found.warnings)
    values = read_values(
        session,
        app,
        found.chosen,
        image=image or reader_image(session, app, proc.name),
        timeout=timeout,
    )
    return values, list(found.warnings)
