"""App secrets: versioned Swarm secrets, mounted as files at the paths lain.yaml declares.

A secret file of an app is keyed by (app, proc, path); ``path`` is absolute inside the
container, a relative one being inside ``/lain/app`` as in ``secret_files``.  Each value ever
stored is one Swarm secret (encrypted in the managers' Raft log), called
``lain-secret-<app>-<proc>-<hash of path>-v<N>`` and labelled with the app, proc, path and
version, never with anything derived from the value.  Swarm secrets are immutable, so a new
value is a new version N+1 next to the old ones:

- a deploy mounts, for every path a proc declares in ``secret_files``, the newest version at
  that path (mode 0400, owned by root or by the proc's numeric ``user``).  The secret's ID is
  part of the service spec, so a new version changes the spec and the proc rolls like any
  other change, recorded as a release; that release's specs name the versions it mounted,
  which is how ``lain rollback`` puts the old values back;
- a declared path with no version fails the deploy before anything changes (unless the proc
  sets ``secret_files_bypass``: then the file is left out, with a warning);
- old versions stay until ``lain secret rm`` (so rollbacks can use them); version numbers are
  never given twice while the release history remembers them.

The Engine API never returns a secret's value.  :func:`read_secret` reads it the way a proc
does: a one-off service (restart policy none) mounts the secret and prints it
base64-encoded with ``sh`` and ``base64``, lain reads the task's log through the manager and
removes the service right away (which deletes the task's container and its log).  Its image
is the proc's own image when deployed, else one of the app's release images; any image with
``sh`` and ``base64`` (busybox) can be given instead.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets as token
import time
from collections.abc import Generator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lain_sdk.cluster.desired import LABEL_APP, LABEL_PROC, fit_name
from lain_sdk.cluster.engine_calls import engine_errors, is_conflict, is_not_found, unless_missing
from lain_sdk.errors import ClusterError, LainError, LainTimeout, NotFound
from lain_sdk.events import Event, Message

if TYPE_CHECKING:
    from lain_sdk.appconfig.model import AppConfig, Proc
    from lain_sdk.cluster.operations import DeployResult
    from lain_sdk.registry import RegistryClient
    from lain_sdk.settings import ClusterSettings

LABEL_SECRET_PATH = "lain.secret.path"
LABEL_SECRET_VERSION = "lain.secret.version"
LABEL_SECRET_BY = "lain.secret.by"  # user@host who added it
LABEL_SECRET_READER = "lain.secret.reader"  # on the one-off services that read values

APP_DIR = "/lain/app"
SECRET_MODE = 0o400
# Swarm's own limit on a secret's data.
MAX_SECRET_BYTES = 500 * 1024
READ_TIMEOUT = 60.0
MAX_NAME = 64  # Swarm object names
_PROC_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9]*(-[a-zA-Z0-9]+)*$")
_VERSION_SUFFIX = re.compile(r"-v(\d+)$")
_END = "--- lain-secret-end"
# Prints each file given as an argument, base64-encoded (logs are text: binary values would
# not survive them), between markers, so a cut-off log is noticed instead of read as a value.
_READER_SCRIPT = 'for f in "$@"; do echo "--- $f"; base64 "$f" || exit 3; done; echo "' + _END + '"'


# -- names and paths (pure) --------------------------------------------------------------------


def secret_path(path: str) -> str:
    """The absolute path a secret file is mounted at: relative paths are inside ``/lain/app``
    and ``..`` is resolved, as for ``secret_files`` in lain.yaml.

    Raises:
        ValueError: empty, a directory lain or the app needs (``/``, ``/lain``, ``/lain/app``),
            or a path ending in ``/``.
    """
    from lain_sdk.appconfig.checks import container_path

    text = path.strip()
    if not text:
        raise ValueError("a secret file needs a path")
    if text.endswith("/"):
        raise ValueError(f"{path!r} names a directory; a secret is one file (drop the /)")
    normalized = container_path(text)
    if normalized in ("/", "/lain", APP_DIR):
        raise ValueError(f"{path!r} is a directory lain needs; name a file inside it")
    return normalized


def check_proc_name(proc: str) -> str:
    """``proc`` when it is a valid proc name (as lain.yaml allows), else ValueError."""
    if not _PROC_RE.match(proc):
        raise ValueError(
            f"{proc!r} is not a proc name (letters and digits with single dashes, starting "
            "with a letter, like web or worker-1)"
        )
    return proc


def secret_name(app: str, proc: str, path: str, version: int) -> str:
    """The Swarm secret holding version ``version`` of ``path`` of ``proc``.

    The path enters as a hash (names are short and allow few characters); the version is
    always the ``-v<N>`` suffix, however long the app name.
    """
    digest = hashlib.sha256(path.encode()).hexdigest()[:10]
    suffix = f"-v{version}"
    return fit_name(f"lain-secret-{app}-{proc}-{digest}", MAX_NAME - len(suffix)) + suffix


def version_of(name: str) -> int | None:
    """The version in a secret name made by :func:`secret_name`."""
    match = _VERSION_SUFFIX.search(name)
    return int(match.group(1)) if match else None


def spec_secret_versions(spec: Mapping[str, Any]) -> dict[str, int]:
    """Path -> version of the lain secrets a service spec mounts."""
    container = (spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}
    found = {}
    for item in container.get("Secrets") or []:
        target = str((item.get("File") or {}).get("Name", ""))
        version = version_of(str(item.get("SecretName", "")))
        if target and version is not None and str(item.get("SecretName", "")).startswith(
            "lain-secret-"
        ):
            found[target] = version
    return found


def secret_owner(user: str) -> tuple[str, str]:
    """UID and GID for a proc's secret files: the proc's numeric ``user`` (``uid[:gid]``),
    else root.  A user name cannot be resolved without the image, so it gets root's files."""
    uid, _, gid = user.partition(":")
    if uid.isdigit():
        return uid, gid if gid.isdigit() else uid
    return "0", "0"


# -- values ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SecretVersion:
    """One stored version of a secret file (never its value).

    Attributes:
        app: the app.
        proc: the proc.
        path: where it is mounted (absolute).
        version: 1, 2, ...
        secret_id: the Swarm secret's ID.
        name: the Swarm secret's name.
        created: when it was added (ISO 8601, the manager's clock).
        by: ``user@host`` of whoever added it.
    """

    app: str
    proc: str
    path: str
    version: int
    secret_id: str
    name: str
    created: str = ""
    by: str = ""

    def mount(self, proc_user: str = "") -> dict[str, Any]:
        """The ``ContainerSpec.Secrets`` entry mounting this version at its path."""
        uid, gid = secret_owner(proc_user)
        return {
            "SecretID": self.secret_id,
            "SecretName": self.name,
            "File": {"Name": self.path, "UID": uid, "GID": gid, "Mode": SECRET_MODE},
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "created": self.created,
            "by": self.by,
            "secret": self.name,
        }


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
    """What ``add_secret`` did.

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


# -- reading the store -------------------------------------------------------------------------


def _from_engine(item: Mapping[str, Any]) -> SecretVersion | None:
    spec = item.get("Spec") or {}
    labels = spec.get("Labels") or {}
    try:
        return SecretVersion(
            app=labels[LABEL_APP],
            proc=labels[LABEL_PROC],
            path=labels[LABEL_SECRET_PATH],
            version=int(labels[LABEL_SECRET_VERSION]),
            secret_id=str(item["ID"]),
            name=str(spec["Name"]),
            created=str(item.get("CreatedAt", "")),
            by=labels.get(LABEL_SECRET_BY, ""),
        )
    except (KeyError, ValueError):
        return None  # not made by lain


def stored_secrets(client: Any, app: str) -> list[SecretVersion]:
    """Every stored version of every secret file of ``app`` (one engine call), sorted by
    proc, path and version."""
    with engine_errors(client, f"list the secrets of {app}"):
        found = client.api.secrets(filters={"label": [f"{LABEL_APP}={app}", LABEL_SECRET_PATH]})
    versions = [v for v in map(_from_engine, found) if v is not None and v.app == app]
    return sorted(versions, key=lambda v: (v.proc, v.path, v.version))


def _group(versions: Iterable[SecretVersion]) -> dict[tuple[str, str], list[SecretVersion]]:
    grouped: dict[tuple[str, str], list[SecretVersion]] = {}
    for v in versions:
        grouped.setdefault((v.proc, v.path), []).append(v)
    return grouped


def _newest_declared(
    app: str,
    proc: Proc,
    paths: Iterable[str],
    grouped: Mapping[tuple[str, str], list[SecretVersion]],
    cluster: str,
) -> tuple[list[SecretVersion], list[str], list[str]]:
    """The newest version of each of ``paths``, warnings for the ones left out under
    ``secret_files_bypass``, and the missing ones (that fail)."""
    chosen: list[SecretVersion] = []
    warnings: list[str] = []
    missing: list[str] = []
    for path in paths:
        versions = grouped.get((proc.name, path))
        if versions:
            chosen.append(versions[-1])
        elif proc.secret_files_bypass:
            warnings.append(
                f"proc {proc.name} of {app} declares secret file {path}, which is not stored "
                f"on cluster {cluster}; it runs without it (secret_files_bypass)"
            )
        else:
            missing.append(path)
    return chosen, warnings, missing


def resolve_secret_mounts(
    client: Any,
    config: AppConfig,
    *,
    procs: Iterable[str] | None = None,
    cluster: str,
) -> tuple[dict[str, list[dict[str, Any]]], list[str]]:
    """The secret mounts a deploy gives each proc: the newest version of every declared path.

    Args:
        client: a docker client for a swarm manager.
        config: the lain.yaml being deployed.
        procs: only these procs (default: all).
        cluster: the cluster's name, for messages.

    Returns:
        proc -> ``ContainerSpec.Secrets`` entries (procs without secret files are left out),
        and warnings for declared files left out under ``secret_files_bypass``.

    Raises:
        NotFound: a proc without ``secret_files_bypass`` declares a file that is not stored;
            the message names every such proc and path and the command that adds it.
    """
    wanted = set(procs) if procs is not None else None
    declaring = [
        p for p in config.procs if p.secret_files and (wanted is None or p.name in wanted)
    ]
    if not declaring:
        return {}, []
    grouped = _group(stored_secrets(client, config.appname))
    mounts: dict[str, list[dict[str, Any]]] = {}
    warnings: list[str] = []
    missing: list[tuple[Proc, str]] = []
    for proc in declaring:
        chosen, left_out, absent = _newest_declared(
            config.appname, proc, proc.secret_files, grouped, cluster
        )
        if chosen:
            mounts[proc.name] = [v.mount(proc.user) for v in chosen]
        warnings += left_out
        missing += [(proc, path) for path in absent]
    if missing:
        lines = [
            f"{config.appname}: {len(missing)} declared secret file(s) not stored on cluster "
            f"{cluster}; nothing was changed. Add each, then deploy again:"
        ]
        for proc, path in missing:
            lines.append(
                f"  proc {proc.name}, path {path}: "
                f"lain -c {cluster} secret add -a {config.appname} {proc.name} {path} -f FILE"
            )
        lines.append("(or set secret_files_bypass: true on the proc to deploy without them)")
        raise NotFound("\n".join(lines))
    return mounts, warnings


def check_spec_secrets(
    client: Any, app: str, specs: Mapping[str, Mapping[str, Any]], what: str
) -> None:
    """Check that every secret version the specs mount is still stored.

    Raises:
        NotFound: a version was removed since (``lain secret rm``); names proc, path and
            version.
    """
    stored = {v.secret_id for v in stored_secrets(client, app)}
    gone = []
    for proc, spec in sorted(specs.items()):
        container = (spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}
        for item in container.get("Secrets") or []:
            name = str(item.get("SecretName", ""))
            if name.startswith("lain-secret-") and item.get("SecretID") not in stored:
                path = (item.get("File") or {}).get("Name", "")
                gone.append(f"proc {proc}: {path} version {version_of(name)}")
    if gone:
        raise NotFound(
            f"{what} of {app} mounts secret versions that were removed since "
            f"({'; '.join(gone)}); pick another release, or deploy (which mounts the newest "
            "versions)"
        )


# -- the commands ------------------------------------------------------------------------------


def _engine(cluster: ClusterSettings, docker_client: Any) -> Any:
    from lain_sdk.cluster.operations import engine_for

    return engine_for(cluster, docker_client)


def _live_mounts(client: Any, app: str) -> dict[str, dict[str, int]]:
    from lain_sdk.cluster import swarm

    return {
        proc: spec_secret_versions(service.get("Spec") or {})
        for proc, service in swarm.app_services(client, app).items()
    }


def list_secrets(
    app: str, *, cluster: ClusterSettings, proc: str | None = None, docker_client: Any = None
) -> list[SecretInfo]:
    """The secret files of ``app`` (or of one proc): versions, dates, and the version in use.

    Values are never read.

    Raises:
        EngineError: the engine does not answer.
    """
    client = _engine(cluster, docker_client)
    grouped = _group(stored_secrets(client, app))
    live = _live_mounts(client, app)
    return [
        SecretInfo(app, p, path, tuple(versions), live.get(p, {}).get(path))
        for (p, path), versions in sorted(grouped.items())
        if proc is None or p == proc
    ]


def _used_versions(client: Any, app: str, proc: str, path: str) -> set[int]:
    """Versions of a path the app's release history mentions (so none is ever given twice)."""
    from lain_sdk.cluster.releases import read_releases

    used = set()
    for release in read_releases(client, app):
        rp = release.procs.get(proc)
        if rp is not None and path in rp.secrets:
            used.add(rp.secrets[path])
    return used


def store_secret(client: Any, app: str, proc: str, path: str, content: bytes) -> SecretVersion:
    """Store ``content`` as the next version of ``path`` of ``proc`` (no rollout).

    Raises:
        ValueError: a bad proc name or path, an empty value, or one over 500 KiB.
        ClusterError: the engine refused.
    """
    from lain_sdk.cluster.releases import current_user

    check_proc_name(proc)
    path = secret_path(path)
    if not content:
        raise ValueError(f"the value of secret file {path} is empty; Swarm stores no empty secret")
    if len(content) > MAX_SECRET_BYTES:
        raise ValueError(
            f"the value of secret file {path} has {len(content)} bytes; Swarm stores at most "
            f"{MAX_SECRET_BYTES} (500 KiB) per secret"
        )
    existing = [v.version for v in stored_secrets(client, app) if (v.proc, v.path) == (proc, path)]
    number = max([0, *existing, *_used_versions(client, app, proc, path)]) + 1
    by = current_user()
    for _ in range(100):
        name = secret_name(app, proc, path, number)
        labels = {
            LABEL_APP: app,
            LABEL_PROC: proc,
            LABEL_SECRET_PATH: path,
            LABEL_SECRET_VERSION: str(number),
            LABEL_SECRET_BY: by,
        }
        with engine_errors(client, f"store version {number} of secret {path} of {app} {proc}"):
            try:
                created = client.api.create_secret(name, content, labels=labels)
            except Exception as e:
                # Names are unique: someone else stored this version first; take the next.
                if not is_conflict(e):
                    raise
                number += 1
                continue
            info = client.api.inspect_secret(created["ID"])
        return SecretVersion(
            app, proc, path, number, str(created["ID"]), name, str(info.get("CreatedAt", "")), by
        )
    raise ClusterError(f"could not find a free version number for secret {path} of {app} {proc}")


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
    cluster: ClusterSettings,
    rollout: bool = True,
    config: AppConfig | None = None,
    timeout: float = 300.0,
    wait: bool = True,
    docker_client: Any = None,
    registry: RegistryClient | None = None,
) -> Generator[Event, None, SecretAdded]:
    """Store a new version of a secret file and, when the proc runs with it, roll it out.

    The rollout is a deploy of the running version limited to ``proc`` (recorded as a
    release of kind ``secret``), so ``lain rollback`` can put the previous value back.  It
    happens when the proc is deployed and the lain.yaml it runs declares ``path``;
    otherwise the next deploy mounts the new version.

    Args:
        app: the app.
        proc: the proc.
        path: absolute, or relative to /lain/app.
        content: the value.
        cluster: the cluster.
        rollout: roll the new version out to the running proc (False: only store it; the
            next ``lain deploy`` mounts it).
        config: the app's lain.yaml, to warn when ``proc`` does not declare ``path`` and
            nothing of the app is deployed yet.
        timeout: seconds to wait for the deploy lock and for the rollout.
        wait: wait for the rollout.
        docker_client: a docker client for the cluster's manager (default: connect).
        registry: a registry client (default: one for the cluster's registry).

    Raises:
        ValueError: a bad proc name or path, or an empty or too large value.
        DeployFailed: the rollout failed; the previous version keeps serving (the new one
            stays stored: add a corrected one, or remove it with ``lain secret rm
            --version``).
    """
    from lain_sdk.cluster import swarm
    from lain_sdk.cluster.desired import LABEL_VERSION
    from lain_sdk.cluster.operations import (
        current_release_number,
        deploy_source,
        load_release_config,
        load_source,
        login_engine,
        registry_client,
    )
    from lain_sdk.cluster.releases import read_releases

    client = _engine(cluster, docker_client)
    stored = store_secret(client, app, proc, path, content)
    yield Message(f"stored {stored.path} of {app} {proc} as version {stored.version}")
    live = swarm.app_services(client, app)
    if proc not in live:
        note = f"{proc} of {app} is not deployed; the next deploy mounts version {stored.version}"
        if config is not None and not _declares(config, proc, stored.path):
            note += f", if its lain.yaml declares {stored.path} in secret_files ({config.path} "
            note += "does not)"
        return SecretAdded(stored, None, note)
    number = current_release_number(live)
    current = next((r for r in read_releases(client, app) if r.number == number), None)
    labels = (live[proc].get("Spec") or {}).get("Labels") or {}
    meta_version = current.meta_version if current else str(labels.get(LABEL_VERSION, ""))
    declared = stored.path in spec_secret_versions(live[proc].get("Spec") or {})
    if current is not None and current.lain_yaml:
        try:
            running = load_release_config(current.lain_yaml, app, current.meta_version, cluster)
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
            stored, None, f"not rolled out; the next `lain deploy` mounts version {stored.version}"
        )
    yield Message(f"rolling version {stored.version} of {stored.path} out to {proc}")
    # The running version again, for this proc only: its spec differs by the secret alone.
    registry = registry_client(cluster, registry)
    login_engine(client, cluster, registry)  # nodes pull the release image with these
    source = load_source(client, registry, app, meta_version or None, cluster)
    result = yield from deploy_source(
        client,
        source,
        cluster=cluster,
        procs=[proc],
        timeout=timeout,
        wait=wait,
        kind="secret",
    )
    return SecretAdded(stored, result, "")


def _versions_of(
    client: Any, app: str, proc: str, path: str, version: int | None = None
) -> list[SecretVersion]:
    """The stored versions of a secret file (only ``version``, when given), oldest first.

    Raises:
        NotFound: no such file or version; the message lists what there is.
    """
    path = secret_path(path)
    versions = [v for v in stored_secrets(client, app) if (v.proc, v.path) == (proc, path)]
    if not versions:
        raise NotFound(
            f"{app} has no secret file {path} for proc {proc}; see `lain secret ls -a {app}`"
        )
    if version is None:
        return versions
    chosen = [v for v in versions if v.version == version]
    if not chosen:
        listed = ", ".join(str(v.version) for v in versions)
        raise NotFound(f"{app} {proc} has no version {version} of {path} (versions: {listed})")
    return chosen


def remove_secret(
    app: str,
    proc: str,
    path: str,
    *,
    cluster: ClusterSettings,
    version: int | None = None,
    docker_client: Any = None,
) -> SecretRemoved:
    """Remove every version of a secret file (or one version).

    A version a service mounts cannot go (Swarm refuses it, and the proc would lose the
    file): the call then removes nothing and says which service uses it.  Releases that
    mounted a removed version can no longer be rolled back to.

    Raises:
        NotFound: no such secret file or version.
        ClusterError: a service mounts one of the versions.
    """
    client = _engine(cluster, docker_client)
    versions = _versions_of(client, app, proc, path, version)
    ids = {v.secret_id: v for v in versions}
    with engine_errors(client, f"list the services that mount secrets of {app}"):
        services = client.api.services()
    for service in services:
        spec = service.get("Spec") or {}
        container = (spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}
        for item in container.get("Secrets") or []:
            if item.get("SecretID") in ids:
                used = ids[item["SecretID"]]
                raise ClusterError(
                    f"version {used.version} of {used.path} of {app} {proc} is mounted by "
                    f"service {spec.get('Name')}; nothing was removed. Remove the path from "
                    f"secret_files and deploy, or undeploy the proc, first"
                    + ("" if version is not None else " (or remove older versions with --version)")
                )
    removed = []
    for v in versions:
        with engine_errors(client, f"remove version {v.version} of secret {v.path} of {app}"):
            unless_missing(client.api.remove_secret, v.secret_id)
        removed.append(v.version)
    return SecretRemoved(app, proc, versions[0].path, tuple(removed))


def remove_app_secrets(client: Any, app: str, procs: Iterable[str] | None = None) -> int:
    """Remove every stored secret of ``app`` (or of ``procs``); return how many versions.

    Versions still mounted by a service (of another deploy in progress) are left.
    """
    wanted = set(procs) if procs is not None else None
    removed = 0
    for v in stored_secrets(client, app):
        if wanted is not None and v.proc not in wanted:
            continue
        with engine_errors(client, f"remove secret {v.name}"):
            try:
                client.api.remove_secret(v.secret_id)
                removed += 1
            except Exception as e:
                if not (is_not_found(e) or _in_use(e)):
                    raise
    return removed


def _in_use(error: BaseException) -> bool:
    return "in use" in str(getattr(error, "explanation", "") or error)


# -- reading values ----------------------------------------------------------------------------


def _reader_image(
    client: Any,
    app: str,
    proc: str,
    cluster: ClusterSettings,
    registry: RegistryClient | None,
) -> str:
    """An image the cluster's nodes can run, most likely with ``sh`` and ``base64``: the
    proc's deployed image, another proc's, one from the release history, else the newest
    release in the registry."""
    from lain_sdk.cluster import swarm
    from lain_sdk.cluster.releases import read_releases

    def image_of(spec: Mapping[str, Any]) -> str:
        return str(((spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}).get("Image", ""))

    live = swarm.app_services(client, app)
    ordered = [live[proc]] if proc in live else []
    ordered += [s for p, s in sorted(live.items()) if p != proc]
    for service in ordered:
        image = image_of(service.get("Spec") or {})
        if image:
            return image
    for release in reversed(read_releases(client, app)):
        for name in [proc, *sorted(release.procs)]:
            if name in release.procs and release.procs[name].image:
                return release.procs[name].image
    from lain_sdk.cluster.operations import pinned_image, registry_client, resolve_version

    try:
        client_registry = registry_client(cluster, registry)
        return pinned_image(client_registry, app, resolve_version(client_registry, app, None))
    except LainError as e:
        raise NotFound(
            f"{app} is not deployed and no release image of it was found to read secrets with "
            f"({e}); give an image with sh and base64 (e.g. busybox) with --image"
        ) from e


def read_secret(
    app: str,
    proc: str,
    path: str,
    *,
    cluster: ClusterSettings,
    version: int | None = None,
    image: str | None = None,
    timeout: float = READ_TIMEOUT,
    docker_client: Any = None,
    registry: RegistryClient | None = None,
) -> SecretValue:
    """Read the value of a secret file (the newest version, or ``version``).

    Args:
        app: the app.
        proc: the proc.
        path: absolute, or relative to /lain/app.
        cluster: the cluster.
        version: which version (default: the newest).
        image: the image of the one-off reader task (needs ``sh`` and ``base64``; default:
            the proc's deployed image, else another of the app's release images).
        timeout: seconds for the reader task to run.
        docker_client: a docker client for the cluster's manager (default: connect).
        registry: a registry client, to find a release image when nothing is deployed.

    Raises:
        NotFound: no such secret file or version.
        ClusterError: the reader task failed (e.g. its image has no ``sh``/``base64``).
        LainTimeout: it did not finish within ``timeout``.
    """
    client = _engine(cluster, docker_client)
    chosen = _versions_of(client, app, proc, path, version)[-1]
    values = read_values(
        client,
        app,
        [chosen],
        image=image or _reader_image(client, app, proc, cluster, registry),
        timeout=timeout,
        cluster=cluster,
    )
    return SecretValue(app, proc, chosen.path, chosen.version, values[chosen.path])


def read_proc_secrets(
    app: str,
    proc: Proc,
    *,
    cluster: ClusterSettings,
    skip: Iterable[str] = (),
    image: str | None = None,
    timeout: float = READ_TIMEOUT,
    docker_client: Any = None,
    registry: RegistryClient | None = None,
) -> tuple[dict[str, bytes], list[str]]:
    """The newest value of every secret file ``proc`` declares, read in one reader task.

    Args:
        skip: paths not to read (given some other way).

    Returns:
        path -> value, and warnings for files left out under ``secret_files_bypass``.

    Raises:
        NotFound: a declared file is not stored and the proc has no ``secret_files_bypass``.
    """
    skipped = set(skip)
    wanted = [p for p in proc.secret_files if p not in skipped]
    if not wanted:
        return {}, []
    client = _engine(cluster, docker_client)
    grouped = _group(stored_secrets(client, app))
    chosen, warnings, missing = _newest_declared(app, proc, wanted, grouped, cluster.name)
    if missing:
        raise NotFound(
            f"{app} {proc.name} declares secret file(s) {', '.join(missing)}, not stored on "
            f"cluster {cluster.name}; add them (`lain secret add {proc.name} PATH -f FILE`) or "
            "give local files with --secret-file PATH=FILE"
        )
    if not chosen:
        return {}, warnings
    values = read_values(
        client,
        app,
        chosen,
        image=image or _reader_image(client, app, proc.name, cluster, registry),
        timeout=timeout,
        cluster=cluster,
    )
    return values, warnings


def read_values(
    client: Any,
    app: str,
    versions: list[SecretVersion],
    *,
    image: str,
    timeout: float = READ_TIMEOUT,
    cluster: ClusterSettings | None = None,
) -> dict[str, bytes]:
    """Read stored versions through one one-off reader service; path -> value.

    The service is removed whatever happens (its container and log go with it).

    Raises:
        ClusterError: the reader task failed, or printed something lain cannot read.
        LainTimeout: it did not finish within ``timeout``.
    """
    from lain_sdk.cluster.operations import login_engine

    if cluster is not None:
        login_engine(client, cluster)  # so a node can pull the reader image
    targets = [f"lain-secret-{i}" for i in range(len(versions))]
    mounts = [
        {
            "SecretID": v.secret_id,
            "SecretName": v.name,
            "File": {"Name": target, "UID": "0", "GID": "0", "Mode": SECRET_MODE},
        }
        for v, target in zip(versions, targets)
    ]
    name = f"lain-secret-read-{token.token_hex(6)}"
    task_template = {
        "ContainerSpec": {
            "Image": image,
            # Command replaces the image's entrypoint; the files are under /run/secrets.
            "Command": ["sh", "-c", _READER_SCRIPT, "sh", *(f"/run/secrets/{t}" for t in targets)],
            "Secrets": mounts,
            "Labels": {LABEL_APP: app, LABEL_SECRET_READER: "1"},
        },
        "RestartPolicy": {"Condition": "none"},
        # Readable whatever the daemon's default driver is (some drivers cannot be read back).
        "LogDriver": {"Name": "json-file"},
    }
    paths = ", ".join(v.path for v in versions)
    what = f"read secret file(s) {paths} of {app}"
    with engine_errors(client, what):
        created = client.api.create_service(
            task_template,
            name=name,
            labels={LABEL_APP: app, LABEL_SECRET_READER: "1"},
            mode={"Replicated": {"Replicas": 1}},
            endpoint_spec={"Mode": "dnsrr"},
        )
    service_id = str(created["ID"])
    try:
        _wait_reader(client, service_id, image, what, timeout)
        decoded = _reader_output(client, service_id, len(versions), what, timeout)
    finally:
        with engine_errors(client, f"remove the reader service {name}"):
            unless_missing(client.api.remove_service, service_id)
    return {v.path: value for v, value in zip(versions, decoded)}


def _wait_reader(client: Any, service_id: str, image: str, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        with engine_errors(client, what):
            tasks = client.api.tasks(filters={"service": service_id})
        for task in tasks:
            status = task.get("Status") or {}
            state = status.get("State", "")
            last = state
            if state == "complete":
                return
            if state in ("failed", "rejected", "shutdown", "orphaned"):
                detail = status.get("Err") or status.get("Message") or state
                code = (status.get("ContainerStatus") or {}).get("ExitCode")
                if state == "failed" and code:
                    # It ran: the image lacks what the script needs (or the file is unreadable).
                    detail = f"exit code {code}, {detail}"
                    hint = "its image needs sh and base64: give one (e.g. busybox) with --image"
                else:
                    hint = "can the nodes pull and start it? give another with --image"
                raise ClusterError(
                    f"could not {what}: the reader task ({image}) {state}: {detail}; {hint}"
                )
        if time.monotonic() >= deadline:
            raise LainTimeout(
                f"could not {what}: the reader task ({image}) did not finish within "
                f"{timeout:g}s (last state: {last or 'not scheduled'}); can the nodes pull it?"
            )
        time.sleep(0.2)


def _reader_output(
    client: Any, service_id: str, count: int, what: str, timeout: float
) -> list[bytes]:
    # A log may reach the manager a moment after the task ended: read until the end marker.
    deadline = time.monotonic() + min(timeout, 10.0)
    while True:
        with engine_errors(client, what):
            chunks = client.api.service_logs(
                service_id, stdout=True, stderr=False, follow=False, is_tty=False
            )
            text = b"".join(chunks).decode("ascii", "replace")
        try:
            return parse_reader_log(text, count)
        except ValueError as e:
            if time.monotonic() >= deadline:
                raise ClusterError(f"could not {what}: {e}") from None
        time.sleep(0.3)


def parse_reader_log(text: str, count: int) -> list[bytes]:
    """The values in a reader task's log, in the order its files were given.

    Raises:
        ValueError: the log is cut off or malformed (the message never quotes it).
    """
    lines = [line.strip() for line in text.splitlines()]
    if _END not in lines:
        raise ValueError("the reader task's log ended early")
    values: list[list[str]] = []
    for line in lines[: lines.index(_END)]:
        if line.startswith("--- "):
            values.append([])
        elif values and line:
            values[-1].append(line)
    if len(values) != count:
        raise ValueError(f"the reader task printed {len(values)} values instead of {count}")
    try:
        return [base64.b64decode("".join(parts), validate=True) for parts in values]
    except ValueError:
        raise ValueError("the reader task printed something that is not base64") from None
