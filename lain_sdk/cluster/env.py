"""``lain env``: listing and changing an app's config vars, and rolling a change out.

How config vars are kept, merged and recorded is :mod:`lain_sdk.cluster.config_vars`; this
module is what a user asks of them.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import lain_sdk.arguments as arguments
from lain_sdk.cluster.config_vars import (
    APP_SCOPE,
    ConfigVars,
    check_name,
    check_proc_scope,
    check_value,
    looks_secret,
    newest_set,
    store_next,
)
from lain_sdk.cluster.deploy import DEFAULT_TIMEOUT, DeployResult, deploy_source
from lain_sdk.cluster.releases import find_release, read_releases
from lain_sdk.cluster.secret_store import check_proc_name
from lain_sdk.cluster.session import Cluster, ClusterLike
from lain_sdk.cluster.source import load_source
from lain_sdk.cluster.spec import config_version_of
from lain_sdk.cluster.swarm import app_services
from lain_sdk.cluster.views import Service, current_release
from lain_sdk.errors import NotFound
from lain_sdk.events import Event, Message

HIDDEN = "(hidden)"


@dataclass(frozen=True)
class EnvVar:
    """One config var: where it is set (``proc`` empty for the whole app) and its value."""

    name: str
    value: str
    proc: str = APP_SCOPE

    @property
    def hidden(self) -> bool:
        """Whether listings hide the value unless asked (a secret-looking name or value)."""
        return looks_secret(self.name, self.value)

    def to_dict(self, show: bool = False) -> dict[str, Any]:
        hide = self.hidden and not show
        return {
            "name": self.name,
            "value": None if hide else self.value,
            "hidden": hide,
            "proc": self.proc or None,
        }


@dataclass(frozen=True)
class EnvListing:
    """An app's config vars: the newest set, and whether its procs run with it.

    Attributes:
        app: the app.
        version: the set's number (0: none stored).
        variables: the vars, the app's first, then each proc's.
        applied: the procs that run with this set (empty when the app is not deployed).
        pending: the deployed procs that run an older set (a change not rolled out yet).
        by: ``user@host`` who stored the set.
    """

    app: str
    version: int
    variables: tuple[EnvVar, ...]
    applied: tuple[str, ...] = ()
    pending: tuple[str, ...] = ()
    by: str = ""

    def to_dict(self, show: bool = False) -> dict[str, Any]:
        return {
            "app": self.app,
            "version": self.version,
            "variables": [v.to_dict(show) for v in self.variables],
            "applied": list(self.applied),
            "pending": list(self.pending),
            "by": self.by,
        }


@dataclass(frozen=True)
class EnvChanged:
    """What ``lain env set`` / ``unset`` did.

    Attributes:
        app: the app.
        version: the set stored (0 when nothing changed).
        changed: the names set or taken out.
        proc: the proc whose own vars changed (empty: the whole app's).
        result: the rollout (None when nothing rolled out: see ``note``).
        note: why nothing rolled out, when it did not.
    """

    app: str
    version: int
    changed: tuple[str, ...]
    proc: str = APP_SCOPE
    result: DeployResult | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "version": self.version,
            "changed": list(self.changed),
            "proc": self.proc or None,
            "rollout": self.result.to_dict() if self.result else None,
            "note": self.note,
        }


def _listing(app: str, config: ConfigVars, live: Mapping[str, Service]) -> EnvListing:
    variables = [EnvVar(n, v) for n, v in sorted(config.app_vars.items())]
    for proc, values in sorted(config.proc_vars.items()):
        variables += [EnvVar(n, v, proc) for n, v in sorted(values.items())]
    applied = tuple(
        p for p, s in sorted(live.items()) if config_version_of(s.spec) >= config.version
    )
    pending = tuple(p for p in sorted(live) if p not in applied)
    return EnvListing(app, config.version, tuple(variables), applied, pending, config.by)


def list_env(app: str, *, cluster: ClusterLike, proc: str | None = None) -> EnvListing:
    """``app``'s config vars (of the whole app and of ``proc``, or of every proc), with their
    values: the caller decides what to show (see :attr:`EnvVar.hidden`).

    Reading costs no task when a running proc holds the newest set; otherwise a one-off
    reader task reads it (a few seconds).

    Raises:
        InvalidArgument: a bad app or proc name.
        ClusterError, LainTimeout: the set could not be read.
    """
    app = arguments.app_name(app)
    proc = check_proc_scope(proc)
    session = Cluster.of(cluster)
    live = app_services(session, app)
    config = newest_set(session, app, live)
    if proc is not None:
        config = ConfigVars(
            config.version,
            config.app_vars,
            {p: v for p, v in config.proc_vars.items() if p == proc},
            config.created,
            config.by,
        )
    return _listing(app, config, live)


def proc_env(app: str, proc: str, *, cluster: ClusterLike) -> dict[str, str]:
    """The config vars a deploy gives ``proc`` now (the app's newest set, merged for it): what
    a local run of the proc gets too.

    Raises:
        InvalidArgument: a bad app or proc name.
        ClusterError, EngineError, LainTimeout: the set could not be read.
    """
    app = arguments.app_name(app)
    proc = check_proc_name(proc)
    session = Cluster.of(cluster)
    return newest_set(session, app, app_services(session, app)).for_proc(proc)


def set_env(
    app: str,
    values: Mapping[str, str],
    *,
    cluster: ClusterLike,
    unset: Iterable[str] = (),
    proc: str | None = None,
    rollout: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    wait: bool = True,
) -> Generator[Event, None, EnvChanged]:
    """Set ``values`` and take out ``unset`` (of the whole app, or of ``proc`` alone), store
    the result as the app's newest set of config vars and, when the app runs, roll it out as a
    release of kind ``env``: a deploy of the running version (all procs for the app's vars,
    ``proc`` alone for its own), undone by ``lain rollback``.

    Nothing is stored when the values are those already set.

    Raises:
        InvalidArgument: a bad name (or one lain sets itself), a NUL in a value, or the set
            is over Swarm's 500 KiB.
        NotFound: ``unset`` names a var that is not set there, or the app runs and ``proc`` is
            none of its procs.
        ClusterError: another change was stored at the same time (nothing changed: run
            again).
        DeployFailed: the rollout failed; the previous release keeps serving, and the new
            set stays stored (the next deploy applies it).
    """
    app = arguments.app_name(app)
    proc = check_proc_scope(proc)
    values = {check_name(k): check_value(k, v) for k, v in values.items()}
    unset = [check_name(n) for n in unset]
    timeout = arguments.seconds(timeout)
    session = Cluster.of(cluster)
    live = app_services(session, app)
    if proc and live and proc not in live:  # most likely a typo: refuse before storing
        raise NotFound(
            f"{app} runs no proc {proc} (its procs: {', '.join(sorted(live))}); a proc that a "
            "later version adds gets its own vars once it is deployed"
        )
    current = newest_set(session, app, live)
    _check_unset(app, current, unset, proc)
    new = current.changed(values, unset, proc)
    changed = tuple(sorted({*values, *unset}))
    if new.same_values(current):
        return EnvChanged(app, 0, (), proc or APP_SCOPE, note="nothing to change: already set")
    stored = store_next(session, app, new, current.version)
    yield Message(f"stored the config vars of {app} as set {stored.version}")
    note = _why_not_rolled(app, proc, live, rollout)
    if note:
        return EnvChanged(app, stored.version, changed, proc or APP_SCOPE, note=note)
    session.login_engine()  # the nodes pull the release image with these
    running = find_release(read_releases(session, app), current_release(live.values()))
    meta_version = running.meta_version if running else next(iter(live.values())).meta_version
    source = load_source(session, app, meta_version or None)
    yield Message(f"rolling set {stored.version} out to {proc or 'every proc of ' + app}")
    result = yield from deploy_source(
        session, source, procs=[proc] if proc else None, timeout=timeout, wait=wait, kind="env"
    )
    return EnvChanged(app, stored.version, changed, proc or APP_SCOPE, result)


def _check_unset(app: str, current: ConfigVars, unset: list[str], proc: str | None) -> None:
    scope = current.proc_vars.get(proc, {}) if proc else current.app_vars
    missing = [n for n in unset if n not in scope]
    if missing:
        where = f"proc {proc} of {app}" if proc else app
        there = ", ".join(sorted(scope)) or "none"
        raise NotFound(f"{', '.join(missing)} is not set for {where} (set there: {there})")


def _why_not_rolled(app: str, proc: str | None, live: Mapping[str, Service], rollout: bool) -> str:
    if not live:
        return f"{app} is not deployed; its next deploy applies them"
    if proc and proc not in live:
        return f"{proc} of {app} is not deployed; the deploy that starts it applies them"
    if not rollout:
        return "not rolled out; the next deploy applies them"
    return ""
