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
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from lain_sdk.cluster.desired import LABEL_APP, lock_config_name
from lain_sdk.cluster.engine_calls import (
    engine_errors,
    engine_time,
    is_conflict,
    is_not_found,
    parse_time,
    unless_missing,
)
from lain_sdk.cluster.releases import current_user
from lain_sdk.errors import LockHeld
from lain_sdk.events import Event, LockWaiting

LABEL_LOCK = "lain.lock"
POLL_SECONDS = 1.0


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


class DeployLock:
    """A held lock; :meth:`release` gives it back (safe to call twice)."""

    def __init__(self, client: Any, info: LockInfo) -> None:
        self.client = client
        self.info = info
        self._held = True

    def release(self) -> None:
        """Delete the lock config, if it is still ours."""
        if not self._held:
            return
        self._held = False
        with engine_errors(self.client, f"release the deploy lock of {self.info.app}"):
            # gone when taken over after expiry: nothing of ours is left then
            unless_missing(self.client.api.remove_config, self.info.config_id)

    def __enter__(self) -> DeployLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read(config: dict[str, Any]) -> LockInfo | None:
    spec = config.get("Spec") or {}
    try:
        data = json.loads(base64.b64decode(spec.get("Data") or b""))
        return LockInfo(
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


def _is_stale(client: Any, holder: LockInfo) -> bool:
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
    return engine_time(client) > created + holder.ttl


def acquire_lock(
    client: Any,
    app: str,
    *,
    operation: str = "deploy",
    wait: float = 60.0,
    ttl: float = 900.0,
) -> Generator[Event, None, DeployLock]:
    """Take the deploy lock of ``app``, waiting up to ``wait`` seconds for the holder.

    Yields a :class:`~lain_sdk.events.LockWaiting` event when it has to wait.  A lock past its
    expiry (or whose holder process is gone, on this host) is taken over.

    Args:
        client: a docker client for a swarm manager.
        app: the app.
        operation: what the lock is for (``deploy``, ``scale``, ...), shown to whoever waits.
        wait: seconds to wait for another holder.
        ttl: seconds after which the lock counts as abandoned; give it the operation's timeout
            plus a margin.

    Returns:
        The held lock; release it in a ``finally``.

    Raises:
        LockHeld: someone else still held it after ``wait`` seconds (the message names them).
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
        with engine_errors(client, f"take the deploy lock of {app}"):
            try:
                created = client.api.create_config(
                    name,
                    json.dumps(payload).encode(),
                    labels={LABEL_APP: app, LABEL_LOCK: "1"},
                )
                config = client.api.inspect_config(created["ID"])
                info = _read(config) or LockInfo(
                    app=app,
                    owner=payload["owner"],
                    host=payload["host"],
                    pid=os.getpid(),
                    operation=operation,
                    since="",
                    ttl=ttl,
                    config_id=created["ID"],
                )
                return DeployLock(client, info)
            except Exception as e:
                if not is_conflict(e):
                    raise
            try:
                holder = _read(client.api.inspect_config(name))
            except Exception as e:
                if is_not_found(e):  # released between our two calls: try again at once
                    continue
                raise
            if holder is None or _is_stale(client, holder):
                # Remove by ID: if someone else took it over first, theirs has a new ID and
                # stays; our removal then finds nothing.
                target = holder.config_id if holder else name
                unless_missing(client.api.remove_config, target)
                continue
        if time.monotonic() >= deadline:
            raise LockHeld(
                f"another {holder.operation} of {app} is in progress: the lock is held by "
                f"{holder.describe()}; waited {wait:g}s. Try again when it is done (an "
                f"abandoned lock expires {holder.ttl:g}s after it was taken)"
            )
        if told != holder.config_id:
            told = holder.config_id
            yield LockWaiting(
                app=app, holder=holder.describe(), since=holder.since, wait_seconds=wait
            )
        time.sleep(min(POLL_SECONDS, max(deadline - time.monotonic(), 0.05)))
