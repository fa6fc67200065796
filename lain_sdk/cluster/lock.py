"""One operation at a time per app: a lock kept in the cluster, with a holder and a lease.

The lock of an app is the Swarm config ``lain-lock-<app>``.  Creating a config whose name is
taken fails atomically in the managers' Raft store, so exactly one of two concurrent operations
gets it.  What holds:

- **Identity.**  The config names its holder for people (user@host, pid, operation) and for
  lain: a random token of this holding, and the holder process's identity (digests of the
  machine id and boot id, its pid namespace and start time; :mod:`lain_sdk.cluster.identity`).
  A hostname proves nothing: CI containers and pods share them.
- **Lease.**  A lock is good for :data:`LEASE` seconds after its holder last renewed it, on the
  manager's clock (its timestamps and its ``SystemTime``), so clients with skewed clocks agree.
  The holder renews it :data:`RENEWALS_PER_LEASE` times per lease from a daemon thread of
  :class:`DeployLock`: Swarm configs are immutable but for their labels, so a renewal is a
  label update (``lain.lock.renewed``).  A thread, rather than renewals in the operations' wait
  loops, because an operation may block in one engine call, or its caller may be slow to take
  its events, for longer than a lease.
- **Takeover.**  A lock is taken over only when its lease has run out, or when its holder is
  certainly gone: it ran on this machine, boot and pid namespace, and its pid runs no longer or
  runs a process that started at another time.  The taker first marks the config (a label
  update at the config's version, which fails if the holder renewed meanwhile), then removes it.
- **Breaking.**  :func:`break_lock` marks the config as broken, by whom and when, and leaves it
  in place: the next operation takes it and reports who broke it, and the holder's next renewal
  (or its release) finds the mark.
- **Losing it.**  A holder that finds its lock broken, taken or removed stops renewing it, and
  its operation fails with :class:`~lain_sdk.errors.LockLost` when it leaves the lock's block
  (:meth:`DeployLock.check` raises it sooner, for code that can call it between steps); the
  lock cannot stop the operation's own code midway, which runs in the caller's generator.
  Releasing leaves a lock that is no longer ours alone.

Locks written by older lain versions (no lease, no token) stay readable: they are free ``ttl``
seconds after they were taken, and their holder is never concluded gone.  New locks still carry
``ttl`` (the operation's longest run) for those older versions, which do not renew.
"""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
import threading
import time
from collections.abc import Generator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any

from lain_sdk import arguments
from lain_sdk.cluster import identity
from lain_sdk.cluster.engine_calls import (
    engine_errors,
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
from lain_sdk.cluster.session import Cluster, ClusterLike
from lain_sdk.errors import ClusterError, LockHeld, LockLost
from lain_sdk.events import Event, LockWaiting, Message
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


def _iso(moment: float) -> str:
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
class _Seen:
    """One look at an app's lock config."""

    config: Mapping[str, Any]
    info: LockInfo | None
    state: str
    now: float  # the manager's clock when looked at

    def status(self, app: str) -> LockStatus:
        left = self.info.lease_left(self.now) if self.info and self.state == "held" else None
        return LockStatus(app, self.state, self.info, left)


def _assess(info: LockInfo | None, now: float) -> str:
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


def _look(api: EngineAPI, app: str) -> _Seen | None:
    """The lock config of ``app`` and its state; None when there is none."""
    try:
        config = api.inspect_config(lock_config_name(app))
    except Exception as e:
        if is_not_found(e):
            return None
        raise
    info = LockInfo.from_config(config)
    now = engine_time(api)
    return _Seen(config, info, _assess(info, now), now)


def _mark(api: EngineAPI, config: Mapping[str, Any], why: str, now: float) -> bool:
    """Mark a lock config as ended (broken, or taken over because ``why``), at the version it
    was looked at; False when it changed or went meanwhile (its holder renewed it, or someone
    else marked or removed it first)."""
    labels = dict((config.get("Spec") or {}).get("Labels") or {})
    labels.update({LABEL_ENDED: why, LABEL_ENDED_BY: current_user(), LABEL_ENDED_AT: _iso(now)})
    try:
        update_config_labels(api, config, labels)
    except Exception as e:
        if is_refusal(e):  # out of sequence, or removed: it is not what we looked at any more
            return False
        raise
    return True


def _take_over(api: EngineAPI, app: str, seen: _Seen) -> str | None:
    """Remove a lock that is free for the taking (not ``held``); a note saying whose it was
    ("" when there is nothing to say), or None when it changed meanwhile (left alone)."""
    info = seen.info
    if (info is None or not info.ended) and not _mark(api, seen.config, seen.state, seen.now):
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
        f"its lease ran out at {_short(_iso(expires))}"
        if seen.state == "expired" and expires is not None
        else "that process is gone"
    )
    return f"took over the lock of {app} from {info.describe()}: {why}"


def _try_create(api: EngineAPI, app: str, payload: Mapping[str, Any]) -> LockInfo | None:
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


def _payload(app: str, operation: str, ttl: float, lease: float) -> dict[str, Any]:
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


class DeployLock:
    """A held lock, renewed from a daemon thread until released; use it as a context manager:
    leaving the block releases it, and raises :class:`~lain_sdk.errors.LockLost` when the
    lock was lost meanwhile (and nothing else was raised).

    ``with (yield from acquire_lock(...)):`` holds the lock for the block.
    """

    def __init__(self, api: EngineAPI, info: LockInfo, *, renew_every: float = 0.0) -> None:
        self.api = api
        self.info = info
        self.renew_every = renew_every or (info.lease or LEASE) / RENEWALS_PER_LEASE
        self.renewals = 0
        self.trouble: BaseException | None = None  # why the last renewal failed, if it did
        self._held = True
        self._lost: LockLost | None = None
        # renew() and release() take turns: a release never races with a renewal in flight.
        self._mutex = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def lost(self) -> LockLost | None:
        """Why the lock is no longer ours (None while it is, as far as the last look knew)."""
        return self._lost

    def check(self) -> None:
        """Raise :class:`~lain_sdk.errors.LockLost` if a renewal found the lock lost."""
        if self._lost is not None:
            raise self._lost

    def start_renewing(self) -> None:
        """Start the thread that renews the lease (once)."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._keep_renewing, name=f"lain-lock-{self.info.app}", daemon=True
            )
            self._thread.start()

    def _keep_renewing(self) -> None:
        while not self._stop.wait(self.renew_every):
            try:
                self.renew()
            except LockLost:
                return  # kept in self.lost: the operation fails when it leaves the block
            except Exception as e:  # one miss is fine: the lease leaves time for more tries
                self.trouble = e

    def renew(self) -> None:
        """Renew the lease now (the thread does it every ``renew_every`` seconds).

        Raises:
            LockLost: the lock was broken, taken over or removed.
            ClusterError, EngineError: the engine refused or did not answer (try again).
        """
        with self._mutex:
            if not self._held:
                return
            self.check()
            with engine_errors(self.api, f"renew the deploy lock of {self.info.app}"):
                config = self._ours_now()
                labels = dict(config["Spec"].get("Labels") or {})
                labels[LABEL_RENEWED] = _iso(engine_time(self.api))
                try:
                    update_config_labels(self.api, config, labels)
                except Exception as e:
                    if is_refusal(e):  # changed since we looked: broken or removed meanwhile?
                        self._ours_now()
                    raise
                self.renewals += 1

    def release(self) -> None:
        """Remove the lock config if it is still ours (safe to call twice).  A lock that was
        broken or taken over is left alone: its mark tells the next holder who broke it."""
        self._stop.set()
        with self._mutex:
            if not self._held:
                return
            self._held = False
            with engine_errors(self.api, f"release the deploy lock of {self.info.app}"):
                try:
                    self._ours_now()
                except LockLost:
                    return  # kept in self.lost
                unless_missing(self.api.remove_config, self.info.config_id)

    def _ours_now(self) -> dict[str, Any]:
        """Our lock config as it is now.

        Raises:
            LockLost: it was broken, taken over or removed (kept in ``lost``).
        """
        app, operation = self.info.app, self.info.operation
        try:
            config: dict[str, Any] = self.api.inspect_config(self.info.config_id)
        except Exception as e:
            if not is_not_found(e):
                raise
            seen = _look(self.api, app)  # by name: whose is it now?
            other = seen.info if seen is not None else None
            if other is not None and other.token != self.info.token:
                self._lost = LockLost(app, operation, "taken", other.owner, other.since)
            else:
                self._lost = LockLost(app, operation, "gone")
            raise self._lost from None
        info = LockInfo.from_config(config)
        if info is not None and info.ended:
            how = "broken" if info.ended == "broken" else "taken"
            self._lost = LockLost(app, operation, how, info.ended_by, info.ended_at)
            raise self._lost
        return config

    def __enter__(self) -> DeployLock:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if exc_type is not None:
            # The operation's own error says more than a failed release; the lease runs out.
            with contextlib.suppress(Exception):
                self.release()
            return
        self.release()
        self.check()


def _held_error(app: str, seen: _Seen, wait: float, cluster: str) -> LockHeld:
    info = seen.info
    if info is None:  # unreadable, and it changed while we looked: say so plainly
        return LockHeld(app, "an unreadable lock", "operation", wait, "try again", cluster=cluster)
    if info.lease > 0:
        free = f"a lock is free {info.lease:g}s after its holder last renewed it"
    else:
        free = f"a lock of an older lain is free {info.ttl:g}s after it was taken"
    return LockHeld(
        app,
        info.describe(seen.now),
        info.operation,
        wait,
        free,
        owner=info.owner,
        pid=info.pid,
        since=info.since,
        lease_left=info.lease_left(seen.now),
        cluster=cluster,
    )


def acquire_lock(
    api: EngineAPI,
    app: str,
    *,
    operation: str = "deploy",
    wait: float = 60.0,
    ttl: float = 900.0,
    poll: float = 1.0,
    lease: float = LEASE,
    renew_every: float | None = None,
    cluster_name: str = "",
) -> Generator[Event, None, DeployLock]:
    """Take the deploy lock of ``app``, waiting up to ``wait`` seconds for the holder.

    Yields a :class:`~lain_sdk.events.LockWaiting` event when it has to wait, and a
    :class:`~lain_sdk.events.Message` when it took over a lock whose lease ran out, whose
    holder is gone, or that someone broke (saying whose it was, and who broke it).

    Args:
        api: the low-level client of a swarm manager.
        app: the app.
        operation: what the lock is for (``deploy``, ``scale``, ...), shown to whoever waits.
        wait: seconds to wait for another holder.
        ttl: seconds after which lain versions without leases count the lock free; give it
            the operation's timeout plus a margin.
        poll: seconds between two looks at the lock while waiting.
        lease: seconds the lock stays good after each renewal.
        renew_every: seconds between two renewals (default: ``lease / 6``).
        cluster_name: the cluster's name, for errors.

    Returns:
        The held lock: a context manager that releases it.

    Raises:
        LockHeld: someone else still held it after ``wait`` seconds (the error names them).
    """
    payload = _payload(app, operation, ttl, lease)
    deadline = time.monotonic() + max(wait, 0.0)
    told: str | None = None
    notes: list[str] = []
    while True:
        with engine_errors(api, f"take the deploy lock of {app}"):
            mine = _try_create(api, app, payload)
            if mine is not None:
                break
            seen = _look(api, app)
            if seen is None:  # released between our two calls: try again at once
                continue
            if seen.state != "held":
                note = _take_over(api, app, seen)
                if note is not None:
                    notes += [note] if note else []
                    continue
        if time.monotonic() >= deadline:
            raise _held_error(app, seen, wait, cluster_name)
        if told != seen.config["ID"] and seen.info is not None:
            told = str(seen.config["ID"])
            holder = seen.info.describe(seen.now)
            yield LockWaiting(app=app, holder=holder, since=seen.info.since, wait_seconds=wait)
        time.sleep(min(poll, max(deadline - time.monotonic(), 0.01)))
    lock = DeployLock(api, mine, renew_every=renew_every or lease / RENEWALS_PER_LEASE)
    lock.start_renewing()
    try:
        for note in notes:
            yield Message(note)
    except BaseException:  # closed before it got the lock: do not leave it renewed forever
        lock.release()
        raise
    return lock


def app_lock(
    cluster: Cluster, app: str, *, operation: str, timeout: float, ttl: float | None = None
) -> Generator[Event, None, DeployLock]:
    """Take the deploy lock of ``app`` on ``cluster``, waiting up to ``timeout`` seconds; use
    the result as a context manager: ``with (yield from app_lock(cluster, app, ...)):``.

    Args:
        ttl: how long lain versions without leases wait before they count the lock free
            (default: twice the timeout, for the wait and the rollout, plus a margin).

    Raises:
        LockHeld: another operation held it all along.
        LockLost: (when the block ends) the lock was broken or taken over meanwhile.
    """
    return acquire_lock(
        cluster.api,
        app,
        operation=operation,
        wait=timeout,
        ttl=ttl if ttl is not None else 2 * timeout + LOCK_MARGIN,
        poll=min(1.0, cluster.poll_interval * 2),
        cluster_name=cluster.name,
    )


def lock_status(app: str, *, cluster: ClusterLike) -> LockStatus:
    """Who holds the deploy lock of ``app``, or why it is free.

    Raises:
        InvalidArgument: an argument of the wrong kind.
        EngineError: the engine did not answer.
    """
    app = arguments.app_name(app)
    session = Cluster.of(cluster)
    with session.errors(f"read the deploy lock of {app}"):
        seen = _look(session.api, app)
    return seen.status(app) if seen is not None else LockStatus(app, "free")


def break_lock(app: str, *, cluster: ClusterLike) -> LockStatus:
    """Break the deploy lock of ``app``: mark it broken, by this user and now, so that the next
    operation takes it (and reports who broke it) and its holder's operation fails when it
    next renews or releases it.  A lock that is free already is left as it is.

    Returns:
        The lock's state afterwards (``broken``, naming whose it was and who broke it), or as
        it was when there was nothing to break.

    Raises:
        InvalidArgument: an argument of the wrong kind.
        ClusterError: the lock kept changing while it was being broken.
        EngineError: the engine did not answer.
    """
    app = arguments.app_name(app)
    session = Cluster.of(cluster)
    with session.errors(f"break the deploy lock of {app}"):
        for _ in range(BREAK_TRIES):
            seen = _look(session.api, app)
            if seen is None:
                return LockStatus(app, "free")
            if seen.info is not None and seen.info.ended:
                return seen.status(app)
            if _mark(session.api, seen.config, "broken", seen.now):
                after = _look(session.api, app)
                if after is None:  # taken and released by the next operation already
                    return LockStatus(app, "free", broken_now=True)
                return replace(after.status(app), broken_now=True)
    raise ClusterError(f"the deploy lock of {app} kept changing while it was being broken")
