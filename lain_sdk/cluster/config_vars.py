"""Config vars: environment variables set on the cluster (``lain env set``), not in lain.yaml.

An app's config vars are kept in sets: set N is the Swarm secret ``lain-env-<app>-vN``
(encrypted in the managers' Raft log, never returned by the Engine API), holding every var of
the app at once as JSON: those of the whole app and those of single procs.  Changing a var
stores set N+1 and rolls it out as a release of kind ``env``, like a deploy of the running
version; a deploy always applies the newest set.

What a proc's containers get, later entries winning: lain.yaml's ``env``, the app's config
vars, the proc's config vars, then the variables lain sets (``LAIN_*``, ``DEPLOYD_*``, whose
names config vars may not take).

Values reach the service spec's ``Env`` (containers need them there), never a label or a
release record: a spec carries the set version and the var names in its labels, its hash is
computed without the values, and a release records the spec without them.  A rollback puts
back the set its release ran (reading it again) and stores it as the newest set, so the next
``lain env set`` builds on what runs.

Reading a set costs nothing when a running service holds it (its ``Env`` has the values);
otherwise it is read through a one-off reader task, as secret files are
(:mod:`lain_sdk.cluster.secret_reader`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lain_sdk.cluster.engine_calls import is_conflict, unless_missing
from lain_sdk.cluster.identity import current_user
from lain_sdk.cluster.names import (
    LABEL_APP,
    LABEL_ENV_SCOPES,
    LABEL_ENV_VERSION,
    LABEL_SECRET_BY,
    LABEL_SPEC_HASH,
    env_set_name,
)
from lain_sdk.cluster.secret_reader import read_values, reader_image
from lain_sdk.cluster.secret_store import MAX_SECRET_BYTES, SecretVersion, check_proc_name
from lain_sdk.cluster.session import Cluster
from lain_sdk.cluster.spec import (
    config_var_names,
    config_version_of,
    env_of,
    image_of,
    spec_hash,
    with_config_vars,
)
from lain_sdk.cluster.views import Service
from lain_sdk.errors import ClusterError, InvalidArgument

_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Names lain gives its own variables: a config var may not shadow them.
RESERVED_PREFIXES = ("LAIN_", "DEPLOYD_")
# Names whose values `lain env ls` hides unless asked (as most platforms' dashboards do).
_SECRET_LOOKING = re.compile(
    r"SECRET|PASSWORD|PASSWD|PASSPHRASE|TOKEN|API_?KEY|PRIVATE|CREDENTIAL|AUTH|SALT|DSN|_KEY$",
    re.IGNORECASE,
)
_URL_WITH_PASSWORD = re.compile(r"^[a-z][a-z0-9+.-]*://[^/@\s]*:[^/@\s]*@", re.IGNORECASE)
_STORE_ATTEMPTS = 5
APP_SCOPE = ""  # the scope of vars of the whole app (a proc's name is the scope of its own)


def check_name(name: str) -> str:
    """A config var's name, checked.

    Raises:
        InvalidArgument: not a shell variable name, or one lain sets itself.
    """
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise InvalidArgument(
            f"{name!r} is not a variable name: use letters, digits and _, not starting with a "
            "digit (e.g. DATABASE_URL)"
        )
    if name.upper().startswith(RESERVED_PREFIXES):
        raise InvalidArgument(
            f"{name} is lain's: names starting with {' or '.join(RESERVED_PREFIXES)} are set "
            "by lain itself; pick another name"
        )
    return name


def check_value(name: str, value: str) -> str:
    """A config var's value, checked (any text but NUL, which no environment can hold).

    Raises:
        InvalidArgument: not a string, or it holds a NUL character.
    """
    if not isinstance(value, str) or "\0" in value:
        raise InvalidArgument(f"the value of {name} holds a NUL character; no environment can")
    return value


def looks_secret(name: str, value: str = "") -> bool:
    """True when a var's value is better hidden: a name like ``*_TOKEN`` or ``DB_PASSWORD``,
    or a URL with a password in it."""
    return bool(_SECRET_LOOKING.search(name) or _URL_WITH_PASSWORD.match(value))


@dataclass(frozen=True)
class ConfigVars:
    """One set of an app's config vars.

    Attributes:
        version: the set's number (0: the app has none stored).
        app_vars: name -> value, for every proc.
        proc_vars: proc -> name -> value, for that proc only (over ``app_vars``).
        created: when it was stored (ISO 8601, the manager's clock).
        by: ``user@host`` of whoever stored it.
    """

    version: int = 0
    app_vars: Mapping[str, str] = field(default_factory=dict)
    proc_vars: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    created: str = ""
    by: str = ""

    def for_proc(self, proc: str) -> dict[str, str]:
        """What ``proc``'s containers get: the app's vars, then the proc's own."""
        return {**self.app_vars, **self.proc_vars.get(proc, {})}

    def scopes(self) -> dict[str, list[str]]:
        """Scope (``""`` for the app, else a proc) -> the names set there: no values."""
        found = {APP_SCOPE: sorted(self.app_vars)} if self.app_vars else {}
        found.update({proc: sorted(v) for proc, v in sorted(self.proc_vars.items()) if v})
        return found

    def changed(
        self, values: Mapping[str, str], unset: Iterable[str], proc: str | None
    ) -> ConfigVars:
        """A copy with ``values`` set and ``unset`` taken out, in ``proc``'s scope (None: the
        app's); the version is left to :func:`store_set`."""
        scope = dict(self.proc_vars.get(proc, {}) if proc else self.app_vars)
        for name in unset:
            scope.pop(name, None)
        scope.update(values)
        if proc is None:
            return ConfigVars(0, scope, self.proc_vars)
        procs = {p: v for p, v in self.proc_vars.items() if p != proc}
        if scope:
            procs[proc] = scope
        return ConfigVars(0, self.app_vars, procs)

    def same_values(self, other: ConfigVars) -> bool:
        return dict(self.app_vars) == dict(other.app_vars) and {
            p: dict(v) for p, v in self.proc_vars.items() if v
        } == {p: dict(v) for p, v in other.proc_vars.items() if v}

    def to_json(self) -> bytes:
        """What the set's secret holds."""
        data = {
            "app": dict(self.app_vars),
            "procs": {p: dict(v) for p, v in self.proc_vars.items()},
        }
        return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, version: int, content: bytes, created: str = "", by: str = "") -> ConfigVars:
        try:
            data = json.loads(content)
            app_vars = {str(k): str(v) for k, v in data.get("app", {}).items()}
            proc_vars = {
                str(p): {str(k): str(v) for k, v in vs.items()}
                for p, vs in data.get("procs", {}).items()
            }
        except (ValueError, AttributeError) as e:
            raise ClusterError(f"set {version} of config vars is not what lain stores ({e})") from e
        return cls(version, app_vars, proc_vars, created, by)


@dataclass(frozen=True)
class StoredSet:
    """A stored set of config vars, as the engine lists it (names, never values)."""

    app: str
    version: int
    secret_id: str
    name: str
    scopes: Mapping[str, list[str]]
    created: str = ""
    by: str = ""

    @classmethod
    def from_engine(cls, document: Mapping[str, Any]) -> StoredSet | None:
        """The set a Swarm secret holds (None for other secrets)."""
        spec = document.get("Spec") or {}
        labels = spec.get("Labels") or {}
        version = str(labels.get(LABEL_ENV_VERSION, ""))
        if not version.isdigit() or LABEL_APP not in labels:
            return None
        try:
            scopes = json.loads(labels.get(LABEL_ENV_SCOPES) or "{}")
        except ValueError:
            scopes = {}
        return cls(
            app=str(labels[LABEL_APP]),
            version=int(version),
            secret_id=str(document.get("ID", "")),
            name=str(spec.get("Name", "")),
            scopes=scopes if isinstance(scopes, dict) else {},
            created=str(document.get("CreatedAt", "")),
            by=str(labels.get(LABEL_SECRET_BY, "")),
        )

    def reading(self) -> SecretVersion:
        """The set as the secret reader mounts it."""
        return SecretVersion(
            self.app, "", f"config vars set {self.version}", self.version, self.secret_id, self.name
        )


def stored_sets(cluster: Cluster, app: str) -> list[StoredSet]:
    """``app``'s stored sets of config vars, oldest first."""
    with cluster.errors(f"list the config vars of {app}"):
        found = cluster.api.secrets(filters={"label": [f"{LABEL_APP}={app}", LABEL_ENV_VERSION]})
    sets = [s for s in map(StoredSet.from_engine, found) if s is not None and s.app == app]
    return sorted(sets, key=lambda s: s.version)


def store_set(cluster: Cluster, app: str, config: ConfigVars) -> ConfigVars:
    """Store ``config`` as the next set of ``app``; the stored set (with its version).

    Two clients storing at once cannot both take a number: the secret's name holds it, and the
    engine refuses the second name, which then moves on.

    Raises:
        InvalidArgument: the set is larger than Swarm keeps in a secret.
    """
    content = config.to_json()
    if len(content) > MAX_SECRET_BYTES:
        raise InvalidArgument(
            f"the config vars of {app} would take {len(content)} bytes; Swarm keeps at most "
            f"{MAX_SECRET_BYTES} (large values belong in secret files)"
        )
    by = current_user()
    version = max((s.version for s in stored_sets(cluster, app)), default=0) + 1
    for _ in range(_STORE_ATTEMPTS):
        labels = {
            LABEL_APP: app,
            LABEL_ENV_VERSION: str(version),
            LABEL_ENV_SCOPES: json.dumps(config.scopes(), sort_keys=True, separators=(",", ":")),
            LABEL_SECRET_BY: by,
        }
        with cluster.errors(f"store the config vars of {app}"):
            try:
                cluster.api.create_secret(env_set_name(app, version), content, labels=labels)
            except Exception as e:
                if not is_conflict(e):
                    raise
                version += 1  # another client took this number first
                continue
        return ConfigVars(version, config.app_vars, config.proc_vars, by=by)
    raise ClusterError(f"could not store the config vars of {app}: other clients kept storing")


def store_next(cluster: Cluster, app: str, new: ConfigVars, read: int) -> ConfigVars:
    """Store ``new``, built on set ``read``; refuse when another set came in between, which
    ``new`` would silently undo (the one stored here is removed again).

    Raises:
        ClusterError: another set was stored meanwhile; nothing was changed.
    """
    stored = store_set(cluster, app, new)
    if stored.version != read + 1:
        for other in stored_sets(cluster, app):
            if other.version == stored.version:
                with cluster.errors(f"remove set {other.version} of the config vars of {app}"):
                    unless_missing(cluster.api.remove_secret, other.secret_id)
        raise ClusterError(
            f"someone else changed the config vars of {app} at the same time; nothing was "
            "changed: run the command again"
        )
    return stored


def _from_live(stored: StoredSet, live: Mapping[str, Service]) -> ConfigVars | None:
    """Set ``stored``'s values, taken from running services that hold it (None when they do
    not hold every one of its vars)."""
    holding = {p: s for p, s in live.items() if config_version_of(s.spec) == stored.version}
    app_vars: dict[str, str] = {}
    for name in stored.scopes.get(APP_SCOPE, []):
        # Any proc that holds the var and does not set its own value of it.
        for proc, service in holding.items():
            if name in config_var_names(service.spec) and name not in stored.scopes.get(proc, []):
                app_vars[name] = env_of(service.spec).get(name, "")
                break
        else:
            return None
    proc_vars: dict[str, dict[str, str]] = {}
    for proc, names in stored.scopes.items():
        if proc == APP_SCOPE:
            continue
        if proc not in holding:
            return None
        env = env_of(holding[proc].spec)
        proc_vars[proc] = {name: env.get(name, "") for name in names}
    return ConfigVars(stored.version, app_vars, proc_vars, stored.created, stored.by)


def read_set(
    cluster: Cluster,
    app: str,
    stored: StoredSet,
    live: Mapping[str, Service],
    image: str = "",
) -> ConfigVars:
    """The values of a stored set: from a running service that holds it, else read through a
    one-off reader task running ``image`` (default: one of the app's images).

    Raises:
        ClusterError, LainTimeout: the reader could not read it.
        NotFound: it must be read and the app has no image to read it with.
    """
    found = _from_live(stored, live)
    if found is not None:
        return found
    reading = stored.reading()
    values = read_values(cluster, app, [reading], image=image or reader_image(cluster, app, ""))
    return ConfigVars.from_json(stored.version, values[reading.path], stored.created, stored.by)


def newest_set(
    cluster: Cluster, app: str, live: Mapping[str, Service], image: str = ""
) -> ConfigVars:
    """The config vars a deploy of ``app`` applies now: its newest set (version 0 if none)."""
    sets = stored_sets(cluster, app)
    return read_set(cluster, app, sets[-1], live, image) if sets else ConfigVars()


def set_of_version(
    cluster: Cluster, app: str, version: int, live: Mapping[str, Service], image: str = ""
) -> ConfigVars:
    """Set ``version`` of ``app``'s config vars (version 0: none).

    Raises:
        ClusterError: the set was removed.
    """
    if version == 0:
        return ConfigVars()
    for stored in stored_sets(cluster, app):
        if stored.version == version:
            return read_set(cluster, app, stored, live, image)
    raise ClusterError(
        f"set {version} of the config vars of {app} is gone (removed by hand?); set the vars again"
    )


def check_proc_scope(proc: str | None) -> str | None:
    """A ``--proc`` scope, checked (None: the whole app)."""
    return check_proc_name(proc) if proc is not None else None


def remove_sets(cluster: Cluster, app: str) -> int:
    """Remove every stored set of ``app`` (an undeploy with purge); how many were removed."""
    removed = 0
    for stored in stored_sets(cluster, app):
        with cluster.errors(f"remove set {stored.version} of the config vars of {app}"):
            unless_missing(cluster.api.remove_secret, stored.secret_id)
        removed += 1
    return removed


@dataclass(frozen=True)
class RestoredSets:
    """The config vars a rollback puts back, read before anything changes.

    Attributes:
        sets: set version -> its values, for each set the release's procs ran.
        ran: the set of the release: the newest its procs ran (a secret rollout renews one
            proc only).
        newest: the app's newest stored set now.
    """

    sets: Mapping[int, ConfigVars]
    ran: int
    newest: int

    @property
    def to_store(self) -> ConfigVars | None:
        """The set to store anew before the rollout (None: it is the newest already), so that
        a later deploy or ``lain env set`` starts from what the rollback restored."""
        return None if self.ran == self.newest else self.sets[self.ran]

    def specs(
        self, specs: Mapping[str, Mapping[str, Any]], version: int
    ) -> dict[str, dict[str, Any]]:
        """Recorded specs (proc -> spec, no values) with their values put back, set ``ran``
        standing as set ``version`` (where it is stored once stored anew), hashes renewed."""
        restored = {}
        for proc, spec in specs.items():
            ran = config_version_of(spec)
            values = self.sets[ran].for_proc(proc)
            new = with_config_vars(spec, values, version if ran == self.ran else ran)
            new["Labels"][LABEL_SPEC_HASH] = spec_hash(new)
            restored[proc] = new
        return restored


def read_restored_sets(
    cluster: Cluster,
    app: str,
    specs: Mapping[str, Mapping[str, Any]],
    live: Mapping[str, Service],
) -> RestoredSets:
    """The sets recorded specs (proc -> spec) ran, read (nothing is stored).

    Raises:
        ClusterError: a set the release ran was removed.
    """
    image = next((image_of(s) for s in specs.values() if image_of(s)), "")
    versions = {config_version_of(s) for s in specs.values()} or {0}
    sets = {v: set_of_version(cluster, app, v, live, image) for v in versions}
    stored = stored_sets(cluster, app)
    return RestoredSets(sets, max(versions), stored[-1].version if stored else 0)
