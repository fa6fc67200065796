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

import contextlib
import threading
import time
from collections.abc import Generator
from dataclasses import replace
from typing import Any

from lain_sdk import arguments
from lain_sdk.cluster.engine_calls import (
    engine_errors,
    engine_time,
    is_not_found,
    is_refusal,
    unless_missing,
    update_config_labels,
)
from lain_sdk.cluster.lock_record import (
    BREAK_TRIES,
    LABEL_RENEWED,
    LEASE,
    LOCK_MARGIN,
    RENEWALS_PER_LEASE,
    LockInfo,
    LockStatus,
    Seen,
    iso,
    lock_payload,
    look,
    mark,
    take_over,
    try_create,
)
from lain_sdk.cluster.session import Cluster, ClusterLike
from lain_sdk.errors import ClusterError, LockHeld, LockLost
from lain_sdk.events import Event, LockWaiting, Message
from lain_sdk.protocols import EngineAPI


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
                labels[LABEL_RENEWED] = iso(engine_time(self.api))
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
            seen = look(self.api, app)  # by name: whose is it now?
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


def _held_error(app: str, seen: Seen, wait: float, cluster: str) -> LockHeld:
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
    payload = lock_payload(app, operation, ttl, lease)
    deadline = time.monotonic() + max(wait, 0.0)
    told: str | None = None
    notes: list[str] = []
    while True:
        with engine_errors(api, f"take the deploy lock of {app}"):
            mine = try_create(api, app, payload)
            if mine is not None:
                break
            seen = look(api, app)
            if seen is None:  # released between our two calls: try again at once
                continue
            if seen.state != "held":
                note = take_over(api, app, seen)
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
        seen = look(session.api, app)
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
            seen = look(session.api, app)
            if seen is None:
                return LockStatus(app, "free")
            if seen.info is not None and seen.info.ended:
                return seen.status(app)
            if mark(session.api, seen.config, "broken", seen.now):
                after = look(session.api, app)
                if after is None:  # taken and released by the next operation already
                    return LockStatus(app, "free", broken_now=True)
                return replace(after.status(app), broken_now=True)
    raise ClusterError(f"the deploy lock of {app} kept changing while it was being broken")
