"""The deploy lock's record in the cluster: what its Swarm config says, reading and marking it.

:mod:`lain_sdk.cluster.lock` takes, renews, releases and breaks locks with these; the rules
(identity, lease, takeover) are explained there.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from lain_sdk.cluster import identity
from lain_sdk.cluster.engine_calls import (
    engine_time,
    is_conflict,
    is_not_found,
    is_refusal,
    parse_time,
    unless_missing,
    update_config_labels,
)
from lain_sdk.cluster.identity import ProcessIdentity, current_user
from lain_sdk.cluster.names import LABEL_APP, LABEL_LOCK, lock_config_name
from lain_sdk.protocols import EngineAPI

# Seconds a lock stays good after its holder last renewed it: long enough to ride out a slow
# or briefly unreachable manager (six renewals are tried in that time), short enough that a
# holder that vanished blocks others for a minute and a half at most.
LEASE = 90.0
RENEWALS_PER_LEASE = 6
# Older lain versions, which do not renew, count a lock free this long after the operation's
# timeout (see ``app_lock``).
LOCK_MARGIN = 120.0
BREAK_TRIES = 5

LABEL_RENEWED = "lain.lock.renewed"  # the manager's time of the last renewal
LABEL_ENDED = "lain.lock.ended"  # broken, expired, holder-gone, unreadable: free for the next
LABEL_ENDED_BY = "lain.lock.ended-by"  # user@host who broke it or took it over
LABEL_ENDED_AT = "lain.lock.ended-at"


def iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, tz=timezone.utc).isoformat(timespec="milliseconds")


def _time_or_none(text: str) -> float | None:
    try:
        return parse_time(text) if text else None
    except ValueError:
        return None


def _short(text: str) -> str:
    """An engine timestamp to the second, for messages."""
    moment = _time_or_none(text)
    if moment is None:
        return text or "an unknown time"
    return datetime.fromtimestamp(moment, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class LockInfo:
    """An app's lock, as its Swarm config says.

    Attributes:
        app: the app.
        owner: user@host of the holder.
        host: the holder's hostname.
        pid: the holder's process id.
        operation: what the holder does (``deploy``, ``scale``, ...).
        since: when it was taken (ISO 8601, the manager's clock).
        ttl: seconds after ``since`` when lain versions without leases count it free.
        config_id: the Swarm config's id.
        lease: seconds it stays good after a renewal (0: a lock of a lain without leases).
        renewed: the manager's time of the last renewal (ISO 8601; "" when never renewed).
        updated: the manager's time of the config's last update (ISO 8601).
        token: the random token of this holding ("" for older locks).
        process: the holder process's identity (None for older locks).
        version: the config's version (label updates are made at it).
        ended: why it is free although it is there: ``broken``, or why a taker took it over
            (``expired``, ``holder-gone``, ``unreadable``); "" while it holds.
        ended_by: user@host who broke it or took it over.
        ended_at: when (ISO 8601, the manager's clock).
    """

    app: str
    owner: str
    host: str
    pid: int
    operation: str
    since: str
    ttl: float
    config_id: str = ""
    lease: float = 0.0
    renewed: str = ""
    updated: str = ""
    token: str = ""
    process: ProcessIdentity | None = None
    version: int = 0
    ended: str = ""
    ended_by: str = ""
    ended_at: str = ""

    def expires_at(self) -> float | None:
        """When it is free unless renewed before (the manager's clock); None when unknown."""
        if self.lease <= 0:  # an older lain's lock: a fixed time to live
            since = _time_or_none(self.since)
            return None if since is None else since + self.ttl
        moments = [_time_or_none(t) for t in (self.since, self.updated, self.renewed)]
        known = [m for m in moments if m is not None]
        return max(known) + self.lease if known else None

    def lease_left(self, now: float) -> float | None:
        """Seconds until it is free unless renewed, at ``now`` (the manager's clock)."""
        expires = self.expires_at()
        return None if expires is None else max(expires - now, 0.0)

    def describe(self, now: float | None = None) -> str:
        """Who holds it and since when (and, given the manager's time, the lease left)."""
        text = f"{self.owner} (pid {self.pid}, {self.operation}) since {_short(self.since)}"
        left = None if now is None else self.lease_left(now)
        if left is not None:
            text += f", lease {left:.0f}s left"
        return text

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the holder's machine identity is left out)."""
        return {
            "owner": self.owner,
            "host": self.host,
            "pid": self.pid,
            "operation": self.operation,
            "since": self.since,
            "lease": self.lease,
            "renewed": self.renewed,
            "ended": self.ended,
            "ended_by": self.ended_by,
            "ended_at": self.ended_at,
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> LockInfo | None:
        """The lock a Swarm config holds (None when it is not one this lain can read)."""
        spec = config.get("Spec") or {}
        labels = spec.get("Labels") or {}
        try:
            data = json.loads(base64.b64decode(spec.get("Data") or b""))
            process = None
            if data.get("token"):
                process = ProcessIdentity(
                    str(data.get("machine", "")),
                    str(data.get("boot", "")),
                    str(data.get("pid_namespace", "")),
                    int(data["pid"]),
                    str(data.get("start", "")),
                )
            return cls(
                app=data["app"],
                owner=data["owner"],
                host=data["host"],
                pid=int(data["pid"]),
                operation=data.get("operation", "deploy"),
                since=str(config.get("CreatedAt", "")),
                ttl=float(data["ttl"]),
                config_id=str(config.get("ID", "")),
                lease=float(data.get("lease", 0.0)),
                renewed=str(labels.get(LABEL_RENEWED, "")),
                updated=str(config.get("UpdatedAt", "")),
                token=str(data.get("token", "")),
                process=process,
                version=int((config.get("Version") or {}).get("Index", 0)),
                ended=str(labels.get(LABEL_ENDED, "")),
                ended_by=str(labels.get(LABEL_ENDED_BY, "")),
                ended_at=str(labels.get(LABEL_ENDED_AT, "")),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            return None


@dataclass(frozen=True)
class LockStatus:
    """The state of an app's lock.

    Attributes:
        app: the app.
        state: ``free`` (no lock), ``held`` (its holder renews it), ``expired`` (its lease ran
            out), ``holder-gone`` (its holder ran on this machine and is gone), ``broken``
            (someone broke it: ``lock.ended_by`` and ``lock.ended_at`` say who and when),
            ``ended`` (another operation is taking it over) or ``unreadable`` (written by a
            lain this one cannot read).  All but ``held`` let the next operation take it.
        lock: what the lock says (None when free or unreadable).
        lease_left: seconds until a held lock is free unless renewed (None when unknown).
        broken_now: True when :func:`break_lock` broke it in this call.
    """

    app: str
    state: str
    lock: LockInfo | None = None
    lease_left: float | None = None
    broken_now: bool = False

    @property
    def held(self) -> bool:
        """True while an operation holds the lock (others wait)."""
        return self.state == "held"

    def describe(self) -> str:
        """One line saying who holds the lock, or why it is free."""
        lock, app = self.lock, self.app
        if self.state == "free":
            return f"the lock of {app} is free"
        if lock is None:
            return f"the lock of {app} is unreadable; the next operation replaces it"
        holder = f"{lock.owner} (pid {lock.pid}, {lock.operation}) since {_short(lock.since)}"
        if self.state == "held":
            left = "" if self.lease_left is None else f", lease {self.lease_left:.0f}s left"
            return f"the lock of {app} is held by {holder}{left}"
        if self.state == "broken":
            return (
                f"the lock of {app}, held by {holder}, was broken by {lock.ended_by} at "
                f"{_short(lock.ended_at)}; the next operation takes it"
            )
        why = {
            "expired": "its lease ran out",
            "holder-gone": "that process is gone",
            "ended": f"{lock.ended_by} is taking it over",
        }.get(self.state, self.state)
        return f"the lock of {app} was held by {holder}; {why}, so the next operation takes it"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "app": self.app,
            "state": self.state,
            "held": self.held,
            "lease_left": self.lease_left,
            "broken_now": self.broken_now,
            "lock": self.lock.to_dict() if self.lock else None,
        }


@dataclass(frozen=True)
class Seen:
    """One look at an app's lock config."""

    config: Mapping[str, Any]
    info: LockInfo | None
    state: str
    now: float  # the manager's clock when looked at

    def status(self, app: str) -> LockStatus:
        left = self.info.lease_left(self.now) if self.info and self.state == "held" else None
        return LockStatus(app, self.state, self.info, left)


def assess(info: LockInfo | None, now: float) -> str:
    """The state of a lock (see :class:`LockStatus`) at ``now``, the manager's clock."""
    if info is None:
        return "unreadable"
    if info.ended:
        return "broken" if info.ended == "broken" else "ended"
    expires = info.expires_at()
    if expires is not None and now > expires:
        return "expired"
    if info.process is not None and identity.process_gone(info.process):
        return "holder-gone"
    return "held"


def look(api: EngineAPI, app: str) -> Seen | None:
    """The lock config of ``app`` and its state; None when there is none."""
    try:
        config = api.inspect_config(lock_config_name(app))
    except Exception as e:
        if is_not_found(e):
            return None
        raise
    info = LockInfo.from_config(config)
    now = engine_time(api)
    return Seen(config, info, assess(info, now), now)


def mark(api: EngineAPI, config: Mapping[str, Any], why: str, now: float) -> bool:
    """Mark a lock config as ended (broken, or taken over because ``why``), at the version it
    was looked at; False when it changed or went meanwhile (its holder renewed it, or someone
    else marked or removed it first)."""
    labels = dict((config.get("Spec") or {}).get("Labels") or {})
    labels.update({LABEL_ENDED: why, LABEL_ENDED_BY: current_user(), LABEL_ENDED_AT: iso(now)})
    try:
        update_config_labels(api, config, labels)
    except Exception as e:
        if is_refusal(e):  # out of sequence, or removed: it is not what we looked at any more
            return False
        raise
    return True


def take_over(api: EngineAPI, app: str, seen: Seen) -> str | None:
    """Remove a lock that is free for the taking (not ``held``); a note saying whose it was
    ("" when there is nothing to say), or None when it changed meanwhile (left alone)."""
    info = seen.info
    if (info is None or not info.ended) and not mark(api, seen.config, seen.state, seen.now):
        return None
    # By ID: a lock someone else created since then has a new ID and stays.
    unless_missing(api.remove_config, str(seen.config["ID"]))
    if info is None or seen.state == "ended":
        return ""
    if seen.state == "broken":
        return (
            f"the lock of {app}, held by {info.describe()}, was broken by {info.ended_by} at "
            f"{_short(info.ended_at)}"
        )
    expires = info.expires_at()
    why = (
        f"its lease ran out at {_short(iso(expires))}"
        if seen.state == "expired" and expires is not None
        else "that process is gone"
    )
    return f"took over the lock of {app} from {info.describe()}: {why}"


def try_create(api: EngineAPI, app: str, payload: Mapping[str, Any]) -> LockInfo | None:
    """Create the lock config; its holder's info, or None when it exists already."""
    try:
        created = api.create_config(
            lock_config_name(app),
            json.dumps(payload).encode(),
            labels={LABEL_APP: app, LABEL_LOCK: "1"},
        )
    except Exception as e:
        if not is_conflict(e):
            raise
        return None
    config = api.inspect_config(created["ID"])
    return LockInfo.from_config(config) or LockInfo(
        app=app,
        owner=payload["owner"],
        host=payload["host"],
        pid=payload["pid"],
        operation=payload["operation"],
        since="",
        ttl=payload["ttl"],
        config_id=created["ID"],
        lease=payload["lease"],
        token=payload["token"],
    )


def lock_payload(app: str, operation: str, ttl: float, lease: float) -> dict[str, Any]:
    me = identity.this_process()
    owner = current_user()
    return {
        "app": app,
        "owner": owner,
        "host": owner.rpartition("@")[2],
        "pid": me.pid,
        "operation": operation,
        "ttl": ttl,
        "lease": lease,
        "token": secrets.token_hex(8),
        "machine": me.machine,
        "boot": me.boot,
        "pid_namespace": me.pid_namespace,
        "start": me.start,
    }
