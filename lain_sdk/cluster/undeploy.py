"""Taking an app (or some of its procs) off a cluster, and purging what it kept there."""

from __future__ import annotations

from collections.abc import Generator, Iterable
from dataclasses import dataclass
from typing import Any

import lain_sdk.arguments as arguments
from lain_sdk.cluster.config_vars import remove_sets
from lain_sdk.cluster.data_nodes import forget_data_nodes
from lain_sdk.cluster.links import prune_link_networks
from lain_sdk.cluster.lock import app_lock
from lain_sdk.cluster.names import network_name, router_network_name
from lain_sdk.cluster.oneoff import remove_stale_oneoffs
from lain_sdk.cluster.releases import remove_releases
from lain_sdk.cluster.secret_reader import remove_stale_readers
from lain_sdk.cluster.secret_store import remove_app_secrets
from lain_sdk.cluster.session import Cluster, ClusterLike
from lain_sdk.cluster.stream_ports import publish_streams
from lain_sdk.cluster.swarm import (
    app_services,
    app_volumes,
    deployed_procs,
    find_network,
    remove_network,
    remove_service,
    remove_when_free,
)
from lain_sdk.errors import NotFound
from lain_sdk.events import Event, Message, ProcChanged

UNDEPLOY_TIMEOUT = 60.0


@dataclass(frozen=True)
class UndeployResult:
    """What an undeploy removed (and, with a purge, what it left because it was in use)."""

    app: str
    removed_procs: tuple[str, ...]
    network_removed: bool
    releases_removed: int = 0
    volumes_removed: tuple[str, ...] = ()
    volumes_left: tuple[str, ...] = ()
    secrets_removed: int = 0  # secret versions removed by a purge
    secrets_left: tuple[str, ...] = ()  # versions a purge could not remove, and why

    def to_dict(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "removed_procs": list(self.removed_procs),
            "network_removed": self.network_removed,
            "releases_removed": self.releases_removed,
            "volumes_removed": list(self.volumes_removed),
            "volumes_left": list(self.volumes_left),
            "secrets_removed": self.secrets_removed,
            "secrets_left": list(self.secrets_left),
        }


def undeploy_app(
    app: str,
    *,
    cluster: ClusterLike,
    procs: Iterable[str] | None = None,
    purge: bool = False,
    timeout: float = UNDEPLOY_TIMEOUT,
) -> Generator[Event, None, UndeployResult]:
    """Remove an app's services (all, or ``procs``) and, with the whole app, its network.

    Release history, secrets and the labels of the nodes holding stateful procs' data stay (so
    a later deploy or rollback knows them, and runs such procs where their volumes are) unless
    ``purge``, which also removes the app's volumes on the engine's node, the data labels of
    that node (those of other nodes stay with the volumes there) and its secrets (of ``procs``
    only, when given).

    Raises:
        InvalidArgument: an argument of the wrong kind.
        NotFound: a named proc is not deployed, or nothing of the app is.
    """
    app = arguments.app_name(app)
    named = arguments.proc_names(procs)
    purge = arguments.flag(purge, "purge")
    timeout = arguments.seconds(timeout)
    session = Cluster.of(cluster)
    lock = app_lock(session, app, operation="undeploy", timeout=timeout, ttl=timeout + 120)
    with (yield from lock):
        live = app_services(session, app)
        wanted = deployed_procs(live, named, app, session.name)
        whole = not named or set(wanted) == set(live)
        network = network_name(app)
        network_there = find_network(session, network) is not None
        if not live and not network_there and not purge:
            raise NotFound(f"{app} is not deployed on cluster {session.name}")
        for proc in wanted:
            service = live[proc]
            remove_service(session, service.id, service.name)
            yield ProcChanged(app, proc, "removed", service.name or proc, "undeployed")
        if whole:
            for reader in remove_stale_readers(session, app, every=True):
                yield Message(f"removed secret reader {reader}")
            for oneoff in remove_stale_oneoffs(session, app, every=True):
                yield Message(f"removed one-off task {oneoff}")
        network_removed = False
        if whole and network_there:
            network_removed = remove_network(session, network, timeout)
            if network_removed:
                yield Message(f"removed network {network}")
            else:
                yield Message(f"network {network} is still in use; it was left in place")
        if whole:
            yield from prune_link_networks(session, app)
            yield from _remove_router_network(session, app, timeout)
        yield from publish_streams(session, app, live.values(), wait=True, timeout=timeout)
        result = UndeployResult(app, tuple(wanted), network_removed)
        if purge:
            result = yield from _purge(session, result, None if whole else wanted, timeout)
        return result


def _purge(
    cluster: Cluster, result: UndeployResult, procs: list[str] | None, timeout: float
) -> Generator[Event, None, UndeployResult]:
    """Remove the release history and config vars (of the whole app only), volumes and
    secrets."""
    app = result.app
    releases = 0
    if procs is None:
        releases = remove_releases(cluster, app)
        yield Message(f"removed {releases} release record(s)")
        config_sets = remove_sets(cluster, app)
        if config_sets:
            yield Message(f"removed {config_sets} set(s) of config vars")
    removed, left = [], []
    for volume in app_volumes(cluster, app, procs):
        if remove_when_free(cluster, "volume", volume, cluster.api.remove_volume, timeout):
            removed.append(volume)
        else:
            left.append(volume)
    if removed:
        yield Message(f"removed volume(s) {', '.join(removed)}")
    # A stateful proc's node label goes with its volumes, and stays where they stay.
    yield from forget_data_nodes(cluster, app, procs)
    secrets, secrets_left = remove_app_secrets(cluster, app, procs)
    if secrets:
        yield Message(f"removed {secrets} secret version(s)")
    for line in secrets_left:
        yield Message(f"warning: secret {line}; it was left in place")
    return UndeployResult(
        app,
        result.removed_procs,
        result.network_removed,
        releases,
        tuple(removed),
        tuple(left),
        secrets,
        tuple(secrets_left),
    )


def _remove_router_network(
    cluster: Cluster, app: str, timeout: float
) -> Generator[Event, None, None]:
    """The app's router network goes once the router left it (its watcher leaves a network
    within a second of the last routed service going away)."""
    network = router_network_name(app)
    if find_network(cluster, network) is None:
        return
    if remove_network(cluster, network, timeout):
        yield Message(f"removed network {network}")
    else:
        yield Message(f"network {network} is still in use; it was left in place")
