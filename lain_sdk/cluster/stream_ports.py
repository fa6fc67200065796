"""Having the router publish an app's stream ports after a deploy, rollback or undeploy.

The router publishes every stream port on the host ports of its nodes (host mode: no ingress
mesh), so the ports are part of the router's own service spec, and changing them restarts the
router's tasks, one node at a time, each stopped before the new one starts.  After an operation
that changed an app's services, :func:`publish_streams` compares the app's stream ports before
and after; when it has any, it brings the router's spec up to date
(:func:`~lain_sdk.cluster.router.refresh_router`, which changes nothing when the router
publishes them already) and waits until the router runs again on every node.  The operation
itself is done by then: what goes wrong here is told as a warning, never raised.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterable

from lain_router.labels import ROUTER_SERVICE
from lain_router.model import build_model
from lain_sdk.cluster.router import refresh_router
from lain_sdk.cluster.session import Cluster
from lain_sdk.cluster.swarm import app_services, tasks_of
from lain_sdk.cluster.views import Service, Task
from lain_sdk.errors import ClusterError, LainError
from lain_sdk.events import Event, Message

# Two operations that refresh the router at once: the later one is refused by the engine
# (the router's spec changed since it was read) and tries again with the new one.
ATTEMPTS = 3


def app_streams(services: Iterable[Service]) -> frozenset[str]:
    """The stream ports ``services`` declare in their router labels (``9531/tcp``)."""
    model = build_model([{"ID": s.id, "Spec": s.spec} for s in services], [])
    return frozenset(f"{s.port}/{s.protocol}" for s in model.streams)


def _ports(ports: Iterable[str]) -> str:
    return ", ".join(sorted(ports, key=lambda p: (int(p.split("/")[0]), p)))


def _router(cluster: Cluster) -> Service | None:
    with cluster.errors("look up the router's service"):
        found = cluster.api.services(filters={"name": ROUTER_SERVICE})
    exact = [s for s in found if (s.get("Spec") or {}).get("Name") == ROUTER_SERVICE]
    return Service.from_engine(exact[0]) if exact else None


def publish_streams(
    cluster: Cluster, app: str, before: Iterable[Service], *, wait: bool, timeout: float
) -> Generator[Event, None, bool]:
    """Have the router publish what ``app``'s stream ports are now (``before``: its services
    before the change), and with ``wait``, wait up to ``timeout`` seconds until it runs again
    on every node.  True when the router's spec changed.

    Nothing is done when the app had and has no stream ports, or when no router runs (a router
    started later publishes them).
    """
    old = app_streams(before)
    new = app_streams(app_services(cluster, app).values())
    if not old and not new:
        return False
    added, removed = new - old, old - new
    router = _router(cluster)
    if router is None:
        if added:
            yield Message(
                f"no router runs on cluster {cluster.name}: stream port(s) {_ports(added)} are "
                "not served until one does"
            )
        return False
    changed: bool = False
    error: LainError | None = None
    for attempt in range(ATTEMPTS):
        time.sleep(cluster.poll_interval * attempt)
        try:
            changed = refresh_router(cluster)
            error = None
            break
        except ClusterError as e:  # most likely: its spec changed since it was read
            error = e
        except LainError as e:
            error = e
            break
    if error is not None:
        yield Message(
            f"warning: the router could not be given {app}'s stream ports ({error}); bring the "
            "router up to date to publish them"
        )
        return False
    if not changed:
        return False
    said = []
    if added:
        said.append(f"publishes stream port(s) {_ports(added)}")
    if removed:
        said.append(f"no longer publishes {_ports(removed)}")
    what = " and ".join(said) or "publishes today's stream ports"
    yield Message(f"the router {what}: its tasks restart, one node at a time")
    if wait:
        yield from wait_router_updated(cluster, timeout)
    return True


def _describe(tasks: Iterable[Task]) -> str:
    return "; ".join(
        f"task {t.id[:12]} {t.state}" + (f": {t.error}" if t.error else "") for t in tasks
    )


def wait_router_updated(cluster: Cluster, timeout: float) -> Generator[Event, None, bool]:
    """Wait up to ``timeout`` seconds until every task of the router runs its service's
    current spec (the engine's own up-to-date test).  True when it does; a warning and False
    when the time ran out, the update paused on a failure, or the router went away."""
    started = time.monotonic()
    deadline = started + timeout
    while True:
        router = _router(cluster)
        if router is None:
            yield Message("warning: the router's service went away while it restarted")
            return False
        tasks = tasks_of(cluster, [router.id], "list the router's tasks")
        fresh = {
            t.id for t in tasks_of(cluster, [router.id], "list the router's tasks", up_to_date=True)
        }
        current = [t for t in tasks if t.desired_state in ("running", "ready")]
        if current and all(t.state == "running" and t.id in fresh for t in current):
            yield Message(
                f"the router runs again on {len(current)} node(s) after "
                f"{time.monotonic() - started:.1f}s"
            )
            return True
        state = router.update_status.state if router.update_status else ""
        if state == "paused" or state.startswith("rollback"):
            yield Message(
                f"warning: the router's update is {state.replace('_', ' ')} "
                f"({_describe(current) or 'no task'}); see the router's status"
            )
            return False
        if time.monotonic() >= deadline:
            yield Message(
                f"warning: the router did not run again everywhere within {timeout:.0f}s "
                f"({_describe(current) or 'no task'}); see the router's status"
            )
            return False
        yield from ()
        time.sleep(cluster.poll_interval)
