"""One deploy at a time per app: a lock kept in the cluster, with an owner and an expiry.

The lock of an app is the Swarm config ``lain-lock-<app>``.  Creating a config whose name is
taken fails atomically in the managers' Raft store, so exactly one of two concurrent deploys
gets it.  The config says who holds it (user@host, pid), what for, and for how long: a holder
that died without releasing it (``kill -9``, a lost laptop) blocks others only until then, and
sooner when it is visibly dead (same host, its process gone).

The expiry is measured on the manager's clock (the config's creation time there plus the TTL),
so clients with skewed clocks agree on it.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import time
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import Any

from lain_sdk.cluster.engine_calls import (
    engine_errors,
    engine_time,
    is_conflict,
    is_not_found,
    parse_time,
    unless_missing,
)
from lain_sdk.cluster.identity import current_user
from lain_sdk.cluster.names import LABEL_APP, LABEL_LOCK, lock_config_name
from lain_sdk.cluster.session import Cluster
from lain_sdk.errors import LockHeld
from lain_sdk.events import Event, LockWaiting
from lain_sdk.protocols import EngineAPI

# A lock outlives the operation that took it by this much before others may take it over.
LOCK_MARGIN = 120.0


@dataclass(frozen=True)
class LockInfo:
    """Who holds an app's lock."""

    app: str
    owner: str  # user@host
    host: str
    pid: int
    operation: str
    since: str  # ISO 8601 on the manager's clock
    ttl: float  # seconds
    config_id: str = ""

    def describe(self) -> str:
        return f"{self.owner} (pid {self.pid}, {self.operation}) since {self.since}"

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> LockInfo | None:
        """The lock a Swarm config holds (None when it is not one this lain can read)."""
        spec = config.get("Spec") or {}
        try:
            data = json.loads(base64.b64decode(spec.get("Data") or b""))
            return cls(
                app=data["app"],
                owner=data["owner"],
                host=data["host"],
                pid=int(data["pid"]),
                operation=data.get("operation", "deploy"),
                since=str(config.get("CreatedAt", "")),
                ttl=float(data["ttl"]),
                config_id=str(config.get("ID", "")),
            )
        except (ValueError, KeyError, TypeError):
            return None


class DeployLock:
    """A held lock, to be used as a context manager: leaving the block releases it.

    ``with (yield from acquire_lock(...)):`` holds the lock for the block.
    """

    def __init__(self, api: EngineAPI, info: LockInfo) -> None:
        self.api = api
        self.info = info
        self._held = True

    def release(self) -> None:
        """Delete the lock config, if it is still ours (safe to call twice)."""
        if not self._held:
            return
        self._held = False
        with engine_errors(self.api, f"release the deploy lock of {self.info.app}"):
            # gone when taken over after expiry: nothing of ours is left then
            unless_missing(self.api.remove_config, self.info.config_id)

    def __enter__(self) -> DeployLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _is_stale(api: EngineAPI, holder: LockInfo) -> bool:
    """Past its expiry, or held by a process of this host that no longer exists."""
    if holder.host == socket.gethostname() and holder.pid > 0 and holder.pid != os.getpid():
        try:
            os.kill(holder.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass  # alive, but someone else's
    try:
        created = parse_time(holder.since)
    except ValueError:
        return False
    return engine_time(api) > created + holder.ttl


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
        pid=os.getpid(),
        operation=payload["operation"],
        since="",
        ttl=payload["ttl"],
        config_id=created["ID"],
    )


def acquire_lock(
    api: EngineAPI,
    app: str,
    *,
    operation: str = "deploy",
    wait: float = 60.0,
    ttl: float = 900.0,
    poll: float = 1.0,
) -> Generator[Event, None, DeployLock]:
    """Take the deploy lock of ``app``, waiting up to ``wait`` seconds for the holder.

    Yields a :class:`~lain_sdk.events.LockWaiting` event when it has to wait.  A lock past its
    expiry (or whose holder process is gone, on this host) is taken over.

    Args:
        api: the low-level client of a swarm manager.
        app: the app.
        operation: what the lock is for (``deploy``, ``scale``, ...), shown to whoever waits.
        wait: seconds to wait for another holder.
        ttl: seconds after which the lock counts as abandoned; give it the operation's timeout
            plus a margin.
        poll: seconds between two looks at the lock while waiting.

    Returns:
        The held lock: a context manager that releases it.

    Raises:
        LockHeld: someone else still held it after ``wait`` seconds (the error names them).
    """
    name = lock_config_name(app)
    payload: dict[str, Any] = {
        "app": app,
        "owner": current_user(),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "operation": operation,
        "ttl": ttl,
    }
    deadline = time.monotonic() + max(wait, 0.0)
    told: str | None = None
    while True:
        with engine_errors(api, f"take the deploy lock of {app}"):
            mine = _try_create(api, app, payload)
            if mine is not None:
                return DeployLock(api, mine)
            try:
                holder = LockInfo.from_config(api.inspect_config(name))
            except Exception as e:
                if is_not_found(e):  # released between our two calls: try again at once
                    continue
                raise
            if holder is None or _is_stale(api, holder):
                # Remove by ID: if someone else took it over first, theirs has a new ID and
                # stays; our removal then finds nothing.
                unless_missing(api.remove_config, holder.config_id if holder else name)
                continue
        if time.monotonic() >= deadline:
            raise LockHeld(
                app,
                holder.describe(),
                holder.operation,
                wait,
                f"an abandoned lock expires {holder.ttl:g}s after it was taken",
            )
        if told != holder.config_id:
            told = holder.config_id
            yield LockWaiting(
                app=app, holder=holder.describe(), since=holder.since, wait_seconds=wait
            )
        time.sleep(min(poll, max(deadline - time.monotonic(), 0.01)))


def app_lock(
    cluster: Cluster, app: str, *, operation: str, timeout: float, ttl: float | None = None
) -> Generator[Event, None, DeployLock]:
    """Take the deploy lock of ``app`` on ``cluster``, waiting up to ``timeout`` seconds; use
    the result as a context manager: ``with (yield from app_lock(cluster, app, ...)):``.

    Args:
        ttl: how long until an abandoned lock may be taken over (default: twice the timeout,
            for the wait and the rollout, plus a margin).

    Raises:
        LockHeld: another operation held it all along.
    """
    return acquire_lock(
        cluster.api,
        app,
        operation=operation,
        wait=timeout,
        ttl=ttl if ttl is not None else 2 * timeout + LOCK_MARGIN,
        poll=min(1.0, cluster.poll_interval * 2),
    )
