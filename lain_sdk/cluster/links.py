"""Link networks on the cluster: who a provider serves, and joining a provider to a new client.

The pure rules are in :mod:`lain_sdk.cluster.discovery`.  A provider's deploy (and rollback)
asks :func:`served_clients` which clients use it, from the ``lain.use.<provider>`` labels of
their services, and puts its procs on the link networks of those ``allow_clients`` lets in.  A
client's deploy cannot wait for its providers' next deploy, so :func:`join_providers` adds the
client's link network to the procs of each provider it uses, under that provider's lock, and
waits until they run there: this replaces their tasks one by one (start first, like any
update), so a provider is restarted once when a new client first uses it.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Mapping
from typing import Any

from lain_sdk.appconfig.model import AppConfig
from lain_sdk.cluster import discovery
from lain_sdk.cluster.desired import link_network
from lain_sdk.cluster.engine_calls import is_not_found, is_refusal
from lain_sdk.cluster.lock import app_lock
from lain_sdk.cluster.names import LABEL_LINK_CLIENT, LABEL_LINK_PROVIDER, use_label
from lain_sdk.cluster.session import Cluster
from lain_sdk.cluster.spec import links_of, with_link
from lain_sdk.cluster.swarm import app_services, ensure_network, find_network, update_service
from lain_sdk.cluster.views import Service
from lain_sdk.cluster.wait import Target, wait_for
from lain_sdk.errors import ClusterError, DeployFailed
from lain_sdk.events import Event, Message, ProcChanged


def served_clients(cluster: Cluster, provider: str) -> dict[str, list[str]]:
    """Client app -> the service names of ``provider`` its live services say it uses (one
    engine call)."""
    key = use_label(provider)
    with cluster.errors(f"list the clients of {provider}"):
        found = cluster.api.services(filters={"label": key})
    clients: dict[str, set[str]] = {}
    for document in found:
        service = Service.from_engine(document)
        names = [n for n in service.label(key).split(",") if n]
        if service.app and service.app != provider and names:
            clients.setdefault(service.app, set()).update(names)
    return {client: sorted(names) for client, names in sorted(clients.items())}


def provider_links(
    cluster: Cluster, app: AppConfig, pending: Mapping[str, list[str]] | None = None
) -> tuple[discovery.Links, list[str]]:
    """The link networks each of ``app``'s procs joins as a provider: for the clients that
    run now and for ``pending`` ones (a client whose services are not created yet).

    Returns:
        The links, and one line per client that ``allow_clients`` now leaves out.
    """
    clients = {**served_clients(cluster, app.appname), **(pending or {})}
    links, refused = discovery.provider_links(app, clients)
    return links, [str(r) for r in refused]


def join_providers(
    cluster: Cluster, client: AppConfig, *, timeout: float
) -> Generator[Event, None, None]:
    """Put the procs behind the services ``client`` uses on its link network, provider by
    provider (``use_services``; resource instances are linked when they are deployed).

    Raises:
        LockHeld: a provider's deploy held its lock for the whole ``timeout``.
        DeployFailed: a provider's proc did not run on the new network; Swarm put it back.
    """
    for provider, names in sorted(client.use_services.items()):
        if provider != client.appname:
            yield from _join(cluster, provider, client.appname, list(names), timeout)


def _join(
    cluster: Cluster, provider: str, client: str, names: list[str], timeout: float
) -> Generator[Event, None, None]:
    network = link_network_id(cluster, provider, client)
    with (yield from app_lock(cluster, provider, operation=f"link {client}", timeout=timeout)):
        since = cluster.clock()
        targets = []
        for proc, service in sorted(app_services(cluster, provider).items()):
            wanted = sorted(set(service.offered_services) & set(names))
            if links_of(service.spec).get(client, []) == wanted:
                continue
            update_service(cluster, service, with_link(service.spec, client, wanted, network))
            detail = f"answers to {', '.join(wanted)} for {client}" if wanted else "unlinked"
            yield ProcChanged(provider, proc, "updated", service.name, detail)
            targets.append(Target(proc, service.id, "updated", since))
        if not targets:
            return
        yield Message(f"{provider}: waiting for its procs on the network of {client}")
        failures = yield from wait_for(cluster, provider, targets, timeout=timeout)
        if failures:
            raise DeployFailed(provider, failures, what=f"joining {client} to the services")


def link_network_id(cluster: Cluster, provider: str, client: str) -> str:
    """The ID of the link network of ``provider`` and ``client``, made when missing."""
    desired = link_network(provider, client)
    ensure_network(cluster, desired.name, desired.labels)
    found: Mapping[str, Any] | None = find_network(cluster, desired.name)
    if found is None:
        raise ClusterError(f"network {desired.name} vanished right after it was made")
    return str(found["Id"])


def prune_link_networks(
    cluster: Cluster, app: str, keep: Iterable[str] = ()
) -> Generator[Event, None, None]:
    """Remove the link networks ``app`` is on (as provider or client) but for ``keep``, where
    nobody else is any more; one still joined by the other app stays until that app leaves
    it (its next deploy or undeploy)."""
    kept = set(keep)
    for label in (LABEL_LINK_PROVIDER, LABEL_LINK_CLIENT):
        with cluster.errors(f"list the link networks of {app}"):
            found = cluster.api.networks(filters={"label": f"{label}={app}"})
        for network in found:
            name = str(network.get("Name", ""))
            if name in kept or (network.get("Labels") or {}).get(label) != app:
                continue
            with cluster.errors(f"remove network {name}"):
                try:
                    cluster.api.remove_network(network["Id"])
                except Exception as e:
                    if is_refusal(e) or is_not_found(e):
                        continue  # still joined by the other app, or gone already
                    raise
            yield Message(f"removed network {name}")
