"""Reading and changing Swarm objects: services, tasks, networks, volumes, nodes.

Everything goes through the docker SDK's low-level client with Engine API documents as plain
dicts (the specs :mod:`lain_sdk.cluster.spec` builds are sent as they are) and comes back as the
typed views of :mod:`lain_sdk.cluster.views`.  Reads are batched (one call lists an app's
services, one their tasks), so the cost of a look does not grow with the number of procs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from lain_sdk.cluster.engine_calls import is_conflict, is_not_found, is_refusal, unless_missing
from lain_sdk.cluster.names import LABEL_APP, LABEL_ONEOFF, LABEL_PROC, LABEL_RESOURCE_CLIENT
from lain_sdk.cluster.session import Cluster
from lain_sdk.cluster.views import Node, Service, Task
from lain_sdk.errors import NotFound

# -- reading -----------------------------------------------------------------------------------


def app_services(cluster: Cluster, app: str) -> dict[str, Service]:
    """The app's live services by proc name (one engine call); one-off tasks
    (:mod:`lain_sdk.cluster.oneoff`) and secret readers are none of its procs."""
    with cluster.errors(f"list the services of {app}"):
        found = cluster.api.services(filters={"label": f"{LABEL_APP}={app}"})
    services = {}
    for document in found:
        service = Service.from_engine(document)
        if service.app == app and service.proc and not service.label(LABEL_ONEOFF):
            services[service.proc] = service
    return services


def instance_services(cluster: Cluster, client_app: str) -> dict[str, dict[str, Service]]:
    """The live services of ``client_app``'s resource instances: instance -> proc -> service
    (one engine call)."""
    with cluster.errors(f"list the resource instances of {client_app}"):
        found = cluster.api.services(filters={"label": f"{LABEL_RESOURCE_CLIENT}={client_app}"})
    instances: dict[str, dict[str, Service]] = {}
    for document in found:
        service = Service.from_engine(document)
        if service.label(LABEL_RESOURCE_CLIENT) == client_app and service.app and service.proc:
            instances.setdefault(service.app, {})[service.proc] = service
    return dict(sorted(instances.items()))


def services_by_id(cluster: Cluster, ids: Iterable[str], doing: str) -> dict[str, Service]:
    """The services with these IDs that still exist, by ID (one engine call)."""
    with cluster.errors(doing):
        found = cluster.api.services(filters={"id": list(ids)})
    return {s.id: s for s in map(Service.from_engine, found)}


def inspect_service(cluster: Cluster, service_id: str) -> Service:
    with cluster.errors(f"inspect service {service_id}"):
        return Service.from_engine(cluster.api.inspect_service(service_id))


def tasks_of(
    cluster: Cluster, service_ids: Iterable[str], doing: str, *, up_to_date: bool = False
) -> list[Task]:
    """The tasks of these services (one engine call); with ``up_to_date``, only those that run
    their service's current spec (the engine's own test, which ``docker service update`` uses
    to follow a rollout)."""
    filters: dict[str, Any] = {"service": list(service_ids)}
    if up_to_date:
        filters["_up-to-date"] = "true"
    with cluster.errors(doing):
        return [Task.from_engine(t) for t in cluster.api.tasks(filters=filters)]


def labelled_tasks(cluster: Cluster, label: str, value: str, doing: str) -> list[Task]:
    """The tasks of every service labelled ``label=value`` (one engine call).

    The engine matches a task by its service's labels in one pass, where a filter of service
    IDs costs it a lookup per service (10 ms against 4 for an app of 20 procs).
    """
    with cluster.errors(doing):
        return [
            Task.from_engine(t) for t in cluster.api.tasks(filters={"label": f"{label}={value}"})
        ]


def nodes(cluster: Cluster) -> list[Node]:
    with cluster.errors("list the nodes of the swarm"):
        return [Node.from_engine(n) for n in cluster.api.nodes()]


def find_network(cluster: Cluster, name: str) -> Mapping[str, Any] | None:
    """The network called exactly ``name``, or None."""
    with cluster.errors(f"look up network {name}"):
        # The engine's name filter matches substrings; keep the exact match only.
        networks = cluster.api.networks(names=[name])
    return next((n for n in networks if n.get("Name") == name), None)


def deployed_procs(
    services: Mapping[str, Service], procs: Iterable[str] | None, app: str, cluster: str
) -> list[str]:
    """``procs`` (default: every deployed one), sorted, once each is known to be deployed.

    Raises:
        NotFound: a proc of ``procs`` is not among the app's live ``services``; the message
            names the procs that are.
    """
    wanted = sorted(procs) if procs else sorted(services)
    missing = [p for p in wanted if p not in services]
    if missing:
        deployed = ", ".join(sorted(services)) or "none"
        if len(missing) == 1:
            which = f"proc {missing[0]} of {app} is"
        else:
            which = f"procs {', '.join(missing)} of {app} are"
        raise NotFound(f"{which} not deployed on cluster {cluster} (deployed procs: {deployed})")
    return wanted


def app_volumes(cluster: Cluster, app: str, procs: Iterable[str] | None = None) -> list[str]:
    """The named volumes of ``app`` (of ``procs`` only, when given) on the engine's node."""
    wanted = set(procs) if procs is not None else None
    with cluster.errors(f"list the volumes of {app}"):
        found = cluster.api.volumes(filters={"label": f"{LABEL_APP}={app}"}).get("Volumes") or []
    names = []
    for volume in found:
        labels = volume.get("Labels") or {}
        if labels.get(LABEL_APP) == app and (wanted is None or labels.get(LABEL_PROC) in wanted):
            names.append(str(volume["Name"]))
    return sorted(names)


# -- writing -----------------------------------------------------------------------------------


def ensure_network(cluster: Cluster, name: str, labels: Mapping[str, str]) -> bool:
    """Create an app's attachable overlay network unless it exists; True when it was created."""
    if find_network(cluster, name) is not None:
        return False
    with cluster.errors(f"create network {name}"):
        try:
            cluster.api.create_network(
                name,
                driver="overlay",
                attachable=True,
                labels=dict(labels),
                scope="swarm",
                check_duplicate=True,
            )
        except Exception as e:
            if not is_conflict(e):  # made meanwhile by a concurrent deploy of the app: fine
                raise
    return True


def create_service(cluster: Cluster, spec: Mapping[str, Any]) -> str:
    """Create a service from a desired spec; return its ID."""
    with cluster.errors(f"create service {spec['Name']}"):
        return str(cluster.api.create_service(**_spec_args(spec))["ID"])


def update_service(cluster: Cluster, service: Service, spec: Mapping[str, Any]) -> None:
    """Replace a live service's spec with ``spec`` (optimistic concurrency on its version).

    Raises:
        ClusterError: the engine refused, e.g. because someone else changed the service since
            it was read (run the command again).
    """
    with cluster.errors(
        f"update service {spec['Name']}", "if it changed meanwhile, run the command again"
    ):
        cluster.api.update_service(service.id, service.version, **_spec_args(spec))


def remove_service(cluster: Cluster, service_id: str, name: str = "") -> None:
    """Remove a service; one that is already gone is fine."""
    with cluster.errors(f"remove service {name or service_id}"):
        unless_missing(cluster.api.remove_service, service_id)


def _spec_args(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A spec as keyword arguments of the docker SDK's create_service/update_service."""
    return {
        "task_template": spec["TaskTemplate"],
        "name": spec["Name"],
        "labels": spec.get("Labels") or {},
        "mode": spec.get("Mode") or {"Replicated": {"Replicas": 1}},
        "update_config": spec.get("UpdateConfig"),
        "rollback_config": spec.get("RollbackConfig"),
        "endpoint_spec": spec.get("EndpointSpec") or {"Mode": "dnsrr"},
    }


def remove_when_free(
    cluster: Cluster, kind: str, name: str, remove: Callable[[str], object], timeout: float
) -> bool:
    """Remove a network or volume, retrying while containers that used it are still stopping.

    Returns False when it was still in use at the timeout (it is then left in place).
    """
    deadline = time.monotonic() + timeout
    while True:
        with cluster.errors(f"remove {kind} {name}"):
            try:
                remove(name)
                return True
            except Exception as e:
                if is_not_found(e):
                    return True
                if not is_refusal(e):
                    raise
                if time.monotonic() >= deadline:
                    return False
        time.sleep(cluster.poll_interval)


def remove_network(cluster: Cluster, name: str, timeout: float) -> bool:
    """Remove the app's network and wait until this engine no longer lists it.

    The managers forget a swarm network at once, but a node keeps its copy until the last
    container on it has stopped, and the name cannot be used again until then; waiting here
    lets a deploy right after an undeploy create it afresh.  False when it was still there at
    the timeout.
    """
    deadline = time.monotonic() + timeout
    if not remove_when_free(cluster, "network", name, cluster.api.remove_network, timeout):
        return False
    while find_network(cluster, name) is not None:
        if time.monotonic() >= deadline:
            return False
        time.sleep(cluster.poll_interval)
    return True
