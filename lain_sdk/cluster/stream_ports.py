"""Having the router publish an app's stream ports after a deploy, rollback or undeploy.

The stream router (the service ``lain-router-stream``, next to the HTTP router) publishes
every stream port on the host ports of its nodes (host mode: no ingress mesh), so the ports
are part of its service spec, and changing them restarts its tasks, one node at a time, each
stopped before the new one starts; HTTP is served by the other service and never pauses.
After an operation that changed an app's services, :func:`publish_streams` compares the
app's stream ports before and after; when it has any, it brings the routers' specs up to date
(:func:`~lain_sdk.cluster.router.refresh_router`, which changes nothing when the stream router
publishes them already) and waits until the stream router runs again on every node.  The
operation itself is done by then: what goes wrong here is told as a warning, never raised.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterable

from lain_router.labels import STREAM_ROUTER_SERVICE
from lain_router.model import build_model
from lain_sdk.cluster.router import find_router, refresh_router, wait_updated
from lain_sdk.cluster.session import Cluster
from lain_sdk.cluster.swarm import app_services
from lain_sdk.cluster.views import Service
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
    if find_router(cluster) is None:
        if added:
            yield Message(
                f"no router runs on cluster {cluster.name}: stream port(s) {_ports(added)} are "
                "not served until one does"
            )
        return False
    changes: list[tuple[str, str]] = []
    error: LainError | None = None
    for attempt in range(ATTEMPTS):
        time.sleep(cluster.poll_interval * attempt)
        try:
            changes = refresh_router(cluster)
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
    done = dict(changes).get(STREAM_ROUTER_SERVICE)
    if done is None:
        return False
    said = []
    if added:
        said.append(f"publishes stream port(s) {_ports(added)}")
    if removed:
        said.append(f"no longer publishes {_ports(removed)}")
    what = " and ".join(said) or "publishes today's stream ports"
    if done == "removed":
        yield Message(f"the stream router {what}: no app has a stream port, it was removed")
        return True
    yield Message(f"the stream router {what}: its tasks restart, one node at a time")
    if wait:
        yield from wait_router_updated(cluster, timeout)
    return True


def wait_router_updated(cluster: Cluster, timeout: float) -> Generator[Event, None, bool]:
    """Wait up to ``timeout`` seconds until every task of the stream router runs its current
    spec.  True when it does; a warning and False when the time ran out, the update paused on
    a failure, or the service went away: the operation that asked is done regardless."""
    started = time.monotonic()
    try:
        count = yield from wait_updated(cluster, STREAM_ROUTER_SERVICE, started + timeout, timeout)
    except LainError as e:
        yield Message(f"warning: {e}")
        return False
    yield Message(
        f"the stream router runs again on {count} node(s) after {time.monotonic() - started:.1f}s"
    )
    return True
