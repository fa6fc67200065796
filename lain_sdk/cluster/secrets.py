"""App secrets: store a new version (and roll it out), list, read and remove secret files.

How versions are kept and mounted is in :mod:`lain_sdk.cluster.secret_store`; how values are
read back, in :mod:`lain_sdk.cluster.secret_reader`.  Values never appear in output, labels, env,
release records or errors.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable
from dataclasses import dataclass, field
from typing import Any

import lain_sdk.arguments as arguments
from lain_sdk.appconfig.model import AppConfig, Proc
from lain_sdk.cluster.deploy import DEFAULT_TIMEOUT, DeployResult, deploy_source
from lain_sdk.cluster.releases import find_release, read_releases
from lain_sdk.cluster.secret_reader import READ_TIMEOUT, read_values, reader_image
from lain_sdk.cluster.secret_store import (
    SecretVersion,
    check_proc_name,
    group_versions,
    newest_declared,
    remove_versions,
    secret_path,
    store_secret,
    stored_secrets,
    versions_of,
)
from lain_sdk.cluster.session import Cluster, ClusterLike
from lain_sdk.cluster.source import load_release_config, load_source
from lain_sdk.cluster.spec import secret_versions
from lain_sdk.cluster.swarm import app_services
from lain_sdk.cluster.views import current_release
from lain_sdk.errors import ClusterError, InvalidArgument, LainError, NotFound, SecretsMissing
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
    """

    secret: SecretVersion
    rollout: DeployResult | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "app": self.secret.app,
            "proc": self.secret.proc,
            "path": self.secret.path,
            **self.secret.to_dict(),
            "rollout": self.rollout.to_dict() if self.rollout else None,
            "note": self.note,
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


def _declares(config: AppConfig, proc: str, path: str) -> bool:
    try:
        return path in config.proc(proc).secret_files
    except NotFound:
        return False


def add_secret(
    app: str,
    proc: str,
    path: str,
    content: bytes,
    *,
    cluster: ClusterLike,
    rollout: bool = True,
    config: AppConfig | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    wait: bool = True,
) -> Generator[Event, None, SecretAdded]:
    """Store a new version of a secret file and, when the proc runs with it, roll it out.

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
        config: the app's lain.yaml, to say when ``proc`` does not declare ``path`` and
            nothing of the app is deployed yet.
        timeout: seconds to wait for the deploy lock and for the rollout.
        wait: wait for the rollout.

    Raises:
        InvalidArgument: a bad proc name or path, or an empty or too large value.
        DeployFailed: the rollout failed; the previous version keeps serving (the new one
            stays stored).
    """
    app = arguments.app_name(app)
    rollout = arguments.flag(rollout, "rollout")
    timeout = arguments.seconds(timeout)
    session = Cluster.of(cluster)
    stored = store_secret(session, app, proc, path, content)
    yield Message(f"stored {stored.path} of {app} {proc} as version {stored.version}")
    live = app_services(session, app)
    if proc not in live:
        note = f"{proc} of {app} is not deployed; the next deploy mounts version {stored.version}"
        if config is not None and not _declares(config, proc, stored.path):
            note += f", if its lain.yaml declares {stored.path} in secret_files ({config.path} "
            note += "does not)"
        return SecretAdded(stored, None, note)
    current = find_release(read_releases(session, app), current_release(live.values()))
    meta_version = current.meta_version if current else live[proc].meta_version
    declared = stored.path in secret_versions(live[proc].spec)
    if current is not None and current.lain_yaml:
        try:
            running = load_release_config(current.lain_yaml, app, current.meta_version, session)
            declared = _declares(running, proc, stored.path)
        except LainError:
            pass  # a record this lain cannot read: what the service mounts tells
    if not declared:
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
