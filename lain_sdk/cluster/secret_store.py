"""Secret files as versioned Swarm secrets: the store, and which versions a deploy mounts.

A secret file of an app is keyed by (app, proc, path); ``path`` is absolute inside the
container, a relative one being inside ``/lain/app`` as in ``secret_files``.  Each value ever
stored is one Swarm secret (encrypted in the managers' Raft log), named by
:func:`~lain_sdk.cluster.names.secret_name` and labelled with the app, proc, path and version,
never with anything derived from the value.  Swarm secrets are immutable, so a new value is a
new version N+1 next to the old ones:

- a deploy mounts, for every path a proc declares in ``secret_files``, the newest version at
  that path (mode 0400, owned by root or by the proc's numeric ``user``).  The secret's ID is
  part of the service spec, so a new version changes the spec and the proc rolls like any
  other change, recorded as a release; that release's specs name the versions it mounted,
  which is how a rollback puts the old values back;
- a declared path with no version fails the deploy before anything changes (unless the proc
  sets ``secret_files_bypass``: then the file is left out, with a warning);
- old versions stay until removed (so rollbacks can use them); version numbers are never given
  twice while the release history remembers them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lain_sdk.appconfig.checks import container_path
from lain_sdk.appconfig.model import AppConfig, Proc
from lain_sdk.cluster.engine_calls import is_conflict, is_not_found, is_refusal, unless_missing
from lain_sdk.cluster.identity import current_user
from lain_sdk.cluster.names import (
    LABEL_APP,
    LABEL_PROC,
    LABEL_SECRET_BY,
    LABEL_SECRET_PATH,
    LABEL_SECRET_VERSION,
    secret_name,
    secret_version,
)
from lain_sdk.cluster.releases import read_releases
from lain_sdk.cluster.session import Cluster
from lain_sdk.cluster.spec import secret_mounts_of
from lain_sdk.errors import ClusterError, InvalidArgument, NotFound, SecretsMissing

APP_DIR = "/lain/app"
SECRET_MODE = 0o400
# Swarm's own limit on a secret's data.
MAX_SECRET_BYTES = 500 * 1024
_PROC_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9]*(-[a-zA-Z0-9]+)*$")


# -- names and paths (pure) --------------------------------------------------------------------


def secret_path(path: str) -> str:
    """The absolute path a secret file is mounted at: relative paths are inside ``/lain/app``
    and ``..`` is resolved, as for ``secret_files`` in lain.yaml.

    Raises:
        InvalidArgument: empty, a directory lain or the app needs (``/``, ``/lain``,
            ``/lain/app``), or a path ending in ``/``.
    """
    if not isinstance(path, str):
        raise InvalidArgument(f"a secret file's path is a string, not {path!r}")
    text = path.strip()
    if not text:
        raise InvalidArgument("a secret file needs a path")
    if text.endswith("/"):
        raise InvalidArgument(f"{path!r} names a directory; a secret is one file (drop the /)")
    normalized = container_path(text)
    if normalized in ("/", "/lain", APP_DIR):
        raise InvalidArgument(f"{path!r} is a directory lain needs; name a file inside it")
    return normalized


def check_proc_name(proc: str) -> str:
    """``proc`` when it is a valid proc name (as lain.yaml allows).

    Raises:
        InvalidArgument: it is not.
    """
    if not isinstance(proc, str) or not _PROC_RE.match(proc):
        raise InvalidArgument(
            f"{proc!r} is not a proc name (letters and digits with single dashes, starting "
            "with a letter, like web or worker-1)"
        )
    return proc


def secret_owner(user: str) -> tuple[str, str]:
    """UID and GID for a proc's secret files: the proc's numeric ``user`` (``uid[:gid]``),
    else root.  A user name cannot be resolved without the image, so it gets root's files."""
    uid, _, gid = user.partition(":")
    if uid.isdigit():
        return uid, gid if gid.isdigit() else uid
    return "0", "0"


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

    @classmethod
    def from_engine(cls, document: Mapping[str, Any]) -> SecretVersion | None:
        """The version a Swarm secret holds (None for secrets lain did not make)."""
        spec = document.get("Spec") or {}
        labels = spec.get("Labels") or {}
        try:
            return cls(
                app=labels[LABEL_APP],
                proc=labels[LABEL_PROC],
                path=labels[LABEL_SECRET_PATH],
                version=int(labels[LABEL_SECRET_VERSION]),
                secret_id=str(document["ID"]),
                name=str(spec["Name"]),
                created=str(document.get("CreatedAt", "")),
                by=labels.get(LABEL_SECRET_BY, ""),
            )
        except (KeyError, ValueError):
            return None

    def mount(self, proc_user: str = "", target: str = "") -> dict[str, Any]:
        """The ``ContainerSpec.Secrets`` entry mounting this version at its path (or at
        ``target``, a name under /run/secrets)."""
        uid, gid = secret_owner(proc_user)
        return {
            "SecretID": self.secret_id,
            "SecretName": self.name,
            "File": {"Name": target or self.path, "UID": uid, "GID": gid, "Mode": SECRET_MODE},
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "created": self.created,
            "by": self.by,
            "secret": self.name,
        }


# -- reading the store -------------------------------------------------------------------------


def stored_secrets(cluster: Cluster, app: str) -> list[SecretVersion]:
    """Every stored version of every secret file of ``app`` (one engine call), sorted by
    proc, path and version."""
    with cluster.errors(f"list the secrets of {app}"):
        found = cluster.api.secrets(filters={"label": [f"{LABEL_APP}={app}", LABEL_SECRET_PATH]})
    versions = [v for v in map(SecretVersion.from_engine, found) if v is not None and v.app == app]
    return sorted(versions, key=lambda v: (v.proc, v.path, v.version))


def group_versions(versions: Iterable[SecretVersion]) -> dict[tuple[str, str], list[SecretVersion]]:
    """Versions by ``(proc, path)``, oldest first."""
    grouped: dict[tuple[str, str], list[SecretVersion]] = {}
    for v in versions:
        grouped.setdefault((v.proc, v.path), []).append(v)
    return grouped


def versions_of(
    cluster: Cluster, app: str, proc: str, path: str, version: int | None = None
) -> list[SecretVersion]:
    """The stored versions of a secret file (only ``version``, when given), oldest first.

    Raises:
        NotFound: no such file or version; the message lists what there is.
    """
    path = secret_path(path)
    versions = [v for v in stored_secrets(cluster, app) if (v.proc, v.path) == (proc, path)]
    if not versions:
        raise NotFound(f"{app} has no secret file {path} for proc {proc}")
    if version is None:
        return versions
    chosen = [v for v in versions if v.version == version]
    if not chosen:
        listed = ", ".join(str(v.version) for v in versions)
        raise NotFound(f"{app} {proc} has no version {version} of {path} (versions: {listed})")
    return chosen


@dataclass(frozen=True)
class DeclaredSecrets:
    """The newest version of each secret file a proc declares, and what is not stored."""

    chosen: tuple[SecretVersion, ...]
    warnings: tuple[str, ...]  # files left out under secret_files_bypass
    missing: tuple[str, ...]  # paths that fail the deploy


def newest_declared(
    app: str,
    proc: Proc,
    paths: Iterable[str],
    grouped: Mapping[tuple[str, str], list[SecretVersion]],
    cluster: str,
) -> DeclaredSecrets:
    """The newest stored version of each of ``paths`` of ``proc``."""
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
    return DeclaredSecrets(tuple(chosen), tuple(warnings), tuple(missing))


def resolve_secret_mounts(
    cluster: Cluster, config: AppConfig, *, procs: Iterable[str] | None = None
) -> tuple[dict[str, list[dict[str, Any]]], list[str]]:
    """The secret mounts a deploy gives each proc: the newest version of every declared path.

    Returns:
        proc -> ``ContainerSpec.Secrets`` entries (procs without secret files are left out),
        and warnings for declared files left out under ``secret_files_bypass``.

    Raises:
        SecretsMissing: a proc without ``secret_files_bypass`` declares a file that is not
            stored; the error names every such proc and path.
    """
    wanted = set(procs) if procs is not None else None
    declaring = [p for p in config.procs if p.secret_files and (wanted is None or p.name in wanted)]
    if not declaring:
        return {}, []
    grouped = group_versions(stored_secrets(cluster, config.appname))
    mounts: dict[str, list[dict[str, Any]]] = {}
    warnings: list[str] = []
    missing: list[tuple[str, str]] = []
    for proc in declaring:
        found = newest_declared(config.appname, proc, proc.secret_files, grouped, cluster.name)
        if found.chosen:
            mounts[proc.name] = [v.mount(proc.user) for v in found.chosen]
        warnings += found.warnings
        missing += [(proc.name, path) for path in found.missing]
    if missing:
        raise SecretsMissing(config.appname, cluster.name, missing)
    return mounts, warnings


def check_spec_secrets(
    cluster: Cluster, app: str, specs: Mapping[str, Mapping[str, Any]], what: str
) -> None:
    """Check that every secret version the specs mount is still stored.

    Raises:
        NotFound: a version was removed since; names proc, path and version.
    """
    stored = {v.secret_id for v in stored_secrets(cluster, app)}
    gone = [
        f"proc {proc}: {(item.get('File') or {}).get('Name', '')} version "
        f"{secret_version(str(item.get('SecretName', '')))}"
        for proc, spec in sorted(specs.items())
        for item in secret_mounts_of(spec)
        if item.get("SecretID") not in stored
    ]
    if gone:
        raise NotFound(
            f"{what} of {app} mounts secret versions that were removed since "
            f"({'; '.join(gone)}); pick another release, or deploy (which mounts the newest "
            "versions)"
        )


# -- changing the store ------------------------------------------------------------------------


def _used_versions(cluster: Cluster, app: str, proc: str, path: str) -> set[int]:
    """Versions of a path the app's release history mentions (so none is ever given twice)."""
    used = set()
    for release in read_releases(cluster, app):
        recorded = release.procs.get(proc)
        if recorded is not None and path in recorded.secrets:
            used.add(recorded.secrets[path])
    return used


def check_secret_value(path: str, content: bytes) -> bytes:
    """``content`` when Swarm can store it as a secret.

    Raises:
        InvalidArgument: not bytes, empty, or over 500 KiB.
    """
    if not isinstance(content, bytes):
        raise InvalidArgument(
            f"the value of secret file {path} must be bytes, not {type(content).__name__}"
        )
    if not content:
        raise InvalidArgument(
            f"the value of secret file {path} is empty; Swarm stores no empty secret"
        )
    if len(content) > MAX_SECRET_BYTES:
        raise InvalidArgument(
            f"the value of secret file {path} has more than {MAX_SECRET_BYTES} bytes; Swarm "
            "stores at most 500 KiB per secret"
        )
    return content


def store_secret(cluster: Cluster, app: str, proc: str, path: str, content: bytes) -> SecretVersion:
    """Store ``content`` as the next version of ``path`` of ``proc`` (no rollout).

    Raises:
        InvalidArgument: a bad proc name or path, an empty value, or one over 500 KiB.
        ClusterError: the engine refused.
    """
    check_proc_name(proc)
    path = secret_path(path)
    check_secret_value(path, content)
    existing = [v.version for v in stored_secrets(cluster, app) if (v.proc, v.path) == (proc, path)]
    number = max([0, *existing, *_used_versions(cluster, app, proc, path)]) + 1
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
        with cluster.errors(f"store version {number} of secret {path} of {app} {proc}"):
            try:
                created = cluster.api.create_secret(name, content, labels=labels)
            except Exception as e:
                # Names are unique: someone else stored this version first; take the next.
                if not is_conflict(e):
                    raise
                number += 1
                continue
            info = cluster.api.inspect_secret(created["ID"])
        return SecretVersion(
            app, proc, path, number, str(created["ID"]), name, str(info.get("CreatedAt", "")), by
        )
    raise ClusterError(f"could not find a free version number for secret {path} of {app} {proc}")


def remove_versions(cluster: Cluster, app: str, versions: Iterable[SecretVersion]) -> list[int]:
    """Remove stored versions (already gone is fine); the version numbers removed."""
    removed = []
    for v in versions:
        with cluster.errors(f"remove version {v.version} of secret {v.path} of {app}"):
            unless_missing(cluster.api.remove_secret, v.secret_id)
        removed.append(v.version)
    return removed


def remove_app_secrets(
    cluster: Cluster, app: str, procs: Iterable[str] | None = None
) -> tuple[int, list[str]]:
    """Remove every stored secret of ``app`` (or of ``procs``).

    Returns:
        How many versions were removed, and one line per version left because a service
        still mounts it (saying which, as the engine does).
    """
    wanted = set(procs) if procs is not None else None
    removed = 0
    left = []
    for v in stored_secrets(cluster, app):
        if wanted is not None and v.proc not in wanted:
            continue
        with cluster.errors(f"remove secret {v.name}"):
            try:
                cluster.api.remove_secret(v.secret_id)
                removed += 1
            except Exception as e:
                if is_not_found(e):
                    continue
                if not _in_use(e):
                    raise
                why = str(getattr(e, "explanation", "") or "in use").split("desc = ")[-1]
                left.append(f"{v.proc} {v.path} version {v.version} ({v.name}): {why}")
    return removed, left


def _in_use(error: BaseException) -> bool:
    return is_refusal(error) and "in use" in str(getattr(error, "explanation", "") or error)
