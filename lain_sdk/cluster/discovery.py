"""Who may find whom on the cluster: app networks, link networks, service names.

Isolation.  Every app has its own overlay network, where each of its procs answers to its proc
name.  An app reaches another app only through a *link network*, one per provider and client
(``lain_<provider>--<client>``): the client's services join it, and so do the provider's procs
behind the services the client names in ``use_services`` (or, for a resource instance, in
``use_resources.<res>.services``), answering there to those service names and nothing else.
So a client resolves and reaches the services it declares and no other proc of the provider,
two clients of one provider share no network, and a client's own proc names always lead to
its own procs.  A portal's ``allow_clients`` (globs over client app names, comma-separated;
default ``**``) decides which clients a provider links to: a client it leaves out fails its
deploy before anything changes, and a provider deployed with a narrower rule leaves the link
networks of the clients it no longer allows.

Discovery.  A service (the ``service_name`` of a portal, ``X`` for ``service.X``) answers to its
service name:

- A portal without a program of its own (no ``cmd`` and no ``image``) does not run: Swarm's
  DNS already does what lain v2's portal proxy did, so the proc named ``service_name`` answers
  to the service name itself.
- A portal with a program of its own (``cmd`` or ``image``) runs as its own Swarm service and
  answers to the service name; the proc that ``service_name`` names then no longer answers to
  that name (one name, one set of instances) and the portal finds it through its Swarm service
  name, given to the portal as ``LAIN_SERVICE_BACKEND``.

Every service uses endpoint mode ``dnsrr``, so a name resolves to the addresses of the running
instances themselves (there is no virtual IP).  lain v2 also answered to
``<service_name>.<client>.lain``: left out, the plain service name is what clients resolve.

Everything here is pure: the engine side is in :mod:`lain_sdk.cluster.links` and the checks
against the live providers in :mod:`lain_sdk.cluster.source`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from lain_sdk.appconfig.model import AppConfig, Proc
from lain_sdk.cluster.names import (
    LABEL_ALLOW_CLIENTS,
    LABEL_RESOURCE,
    LABEL_RESOURCE_CLIENT,
    LABEL_SERVICES,
    LABEL_USES_RESOURCES,
    link_network_name,
    parse_resource_instance,
    resource_instance_name,
    service_name,
    use_label,
)
from lain_sdk.cluster.routing import router_attachments, routing_labels
from lain_sdk.errors import ClientNotAllowed, ClusterError

DEFAULT_ALLOW_CLIENTS = "**"

# -- service names -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceRoute:
    """Which instances answer to one service name of an app.

    Attributes:
        name: the service name consumers resolve.
        portal: the portal proc that declares it.
        proc: the proc whose instances answer to the name (the portal itself when it runs a
            program of its own).
        backend: the proc ``service_name`` names, when the app has one.
    """

    name: str
    portal: str
    proc: str
    backend: str | None


def runs_program(proc: Proc) -> bool:
    """Whether a portal runs a program of its own (a ``cmd`` or an ``image``)."""
    return proc.cmd is not None or proc.image is not None


def is_deployed(proc: Proc) -> bool:
    """Whether a proc becomes a Swarm service: every proc but a portal without a program."""
    return proc.type != "portal" or runs_program(proc)


def service_routes(app: AppConfig) -> dict[str, ServiceRoute]:
    """The app's service names and the procs that answer to them, by service name.

    Raises:
        ClusterError: two portals declare one service name, or a portal without a program of
            its own names no proc of the app (nothing would answer); the message says how to
            fix the lain.yaml.
    """
    procs = {p.name: p for p in app.procs}
    routes: dict[str, ServiceRoute] = {}
    for portal in app.procs:
        if portal.type != "portal" or not portal.service_name:
            continue
        name = portal.service_name
        if name in routes:
            raise ClusterError(
                f"{app.appname}: portals {routes[name].portal} and {portal.name} both declare "
                f"service {name}; a service name must lead to one set of instances, so give "
                "one of them another service_name"
            )
        target = procs.get(name)
        backend = name if target is not None and target.type != "portal" else None
        if runs_program(portal):
            routes[name] = ServiceRoute(name, portal.name, portal.name, backend)
        elif backend is not None:
            routes[name] = ServiceRoute(name, portal.name, backend, backend)
        else:
            raise ClusterError(
                f"{app.appname}: portal {portal.name} declares service {name}, but the app has "
                f"no proc {name} to answer to it and the portal has no cmd of its own; name an "
                "existing proc in service_name, or give the portal a cmd"
            )
    return dict(sorted(routes.items()))


def aliases(app: AppConfig, proc: Proc) -> list[str]:
    """The names ``proc``'s instances answer to on the app's own network.

    Its proc name, unless a portal with a program answers to that name as a service, plus the
    service names it answers to.
    """
    routes = service_routes(app)
    names = []
    if not (proc.name in routes and routes[proc.name].proc != proc.name):
        names.append(proc.name)
    names += [r.name for r in routes.values() if r.proc == proc.name and r.name not in names]
    return names


def answered_services(app: AppConfig, proc: Proc) -> list[str]:
    """The service names ``proc``'s instances answer to (for consumers)."""
    return [r.name for r in service_routes(app).values() if r.proc == proc.name]


def service_labels(app: AppConfig, proc: Proc) -> dict[str, str]:
    """Labels that tell other deploys what a proc's service offers, to whom, what the app uses
    and whose instance it is."""
    labels = {}
    served = answered_services(app, proc)
    if served:
        labels[LABEL_SERVICES] = ",".join(served)
        rules = {
            r.name: {"portal": r.portal, "allow_clients": allow_rule(app.proc(r.portal))}
            for r in service_routes(app).values()
            if r.name in served
        }
        labels[LABEL_ALLOW_CLIENTS] = json.dumps(rules, sort_keys=True, separators=(",", ":"))
    for used, names in used_services(app).items():
        labels[use_label(used)] = ",".join(names)
    instance = parse_resource_instance(app.appname)
    if instance is not None:
        labels[LABEL_RESOURCE], labels[LABEL_RESOURCE_CLIENT] = instance
    if app.use_resources:
        labels[LABEL_USES_RESOURCES] = ",".join(sorted(app.use_resources))
    labels.update(routing_labels(app, proc))
    return labels


def portal_env(app: AppConfig, proc: Proc) -> dict[str, str]:
    """Variables a portal with a program needs: where the proc behind it answers."""
    for route in service_routes(app).values():
        if route.proc == proc.name and route.portal == proc.name and route.backend:
            return {"LAIN_SERVICE_BACKEND": service_name(app.appname, route.backend)}
    return {}


# -- networks ----------------------------------------------------------------------------------


def used_services(app: AppConfig) -> dict[str, list[str]]:
    """The apps ``app`` uses, each with the service names it uses of it: its providers
    (``use_services``), then its resource instances (``use_resources``)."""
    used = {p: list(names) for p, names in app.use_services.items() if p != app.appname}
    for resource, use in app.use_resources.items():
        used[resource_instance_name(resource, app.appname)] = list(use.services)
    return used


def network_attachments(app: AppConfig, proc: Proc, network: str) -> list[dict[str, Any]]:
    """The ``TaskTemplate.Networks`` of a proc's service: its app's network, where it answers
    to its names, and the link network of every app ``app`` uses, where it answers to none.

    Link networks are named, not referenced by ID, so that the spec (and its hash) stays the
    same when a provider is redeployed.
    """
    attachments: list[dict[str, Any]] = [{"Target": network, "Aliases": aliases(app, proc)}]
    attachments += [
        {"Target": link_network_name(other, app.appname)} for other in used_services(app)
    ]
    return attachments + router_attachments(app, proc)


# -- who a provider serves ---------------------------------------------------------------------


def allow_rule(portal: Proc) -> str:
    return portal.allow_clients or DEFAULT_ALLOW_CLIENTS


def allows(rule: str, client: str) -> bool:
    """Whether ``rule`` (globs over app names, comma-separated; ``**`` for any) lets ``client``
    in."""
    patterns = [p.strip() for p in rule.split(",") if p.strip()] or [DEFAULT_ALLOW_CLIENTS]
    return any(fnmatchcase(client, p.replace("**", "*")) for p in patterns)


# proc -> client -> the service names the proc answers to on that client's link network
Links = dict[str, dict[str, list[str]]]


def provider_links(
    app: AppConfig, clients: Mapping[str, Iterable[str]]
) -> tuple[Links, list[ClientNotAllowed]]:
    """Which of ``app``'s procs join which client's link network, answering to which names.

    Args:
        app: the provider's lain.yaml.
        clients: client app -> the service names of ``app`` it uses.

    Returns:
        The links, and the clients that ``allow_clients`` leaves out (one refusal per service).
    """
    routes = service_routes(app)
    links: Links = {}
    refused = []
    for client, names in sorted(clients.items()):
        for name in sorted(set(names)):
            route = routes.get(name)
            if route is None:
                continue  # no longer offered: the client's own deploy says so
            rule = allow_rule(app.proc(route.portal))
            if not allows(rule, client):
                refused.append(ClientNotAllowed(client, app.appname, name, route.portal, rule))
                continue
            links.setdefault(route.proc, {}).setdefault(client, []).append(name)
    return links, refused


def refusal(client: str, provider: str, service: str, label: str | None) -> ClientNotAllowed | None:
    """The refusal a live provider's ``lain.allow-clients`` label gives ``client`` for
    ``service``, or None when it is allowed (or the label says nothing of the service)."""
    try:
        rules = json.loads(label) if label else {}
        entry = rules.get(service) if isinstance(rules, dict) else None
    except ValueError:
        entry = None
    if not isinstance(entry, dict):
        return None
    rule = str(entry.get("allow_clients") or DEFAULT_ALLOW_CLIENTS)
    if allows(rule, client):
        return None
    return ClientNotAllowed(client, provider, service, str(entry.get("portal") or service), rule)


# -- checks ------------------------------------------------------------------------------------


def unprovided(
    consumer: str, provider: str, wanted: Iterable[str], provided: Iterable[str], *, key: str
) -> str | None:
    """Why ``provider`` does not offer all that ``consumer`` uses, or None when it does.

    Args:
        consumer: the app that uses the services.
        provider: the app (or resource instance) meant to provide them.
        wanted: the service names the consumer uses.
        provided: the service names the provider answers to.
        key: the consumer's lain.yaml key that names them (for the message).
    """
    offered = set(provided)
    missing = [name for name in wanted if name not in offered]
    if not missing:
        return None
    listed = ", ".join(sorted(offered)) or "none"
    return (
        f"{consumer} uses service(s) {', '.join(missing)} of {provider} ({key}), but "
        f"{provider} does not provide them (it provides: {listed}); fix {key} in {consumer}'s "
        f"lain.yaml, or give {provider} a portal with that service_name (or a service.NAME "
        "section)"
    )


def name_clashes(app: AppConfig) -> list[str]:
    """Services ``app`` uses that are also names of its own procs.

    Inside a consumer such a name would resolve on two networks at once, and which one wins is
    up to the engine; each clash is reported with how to fix it.
    """
    own = {name for proc in app.procs if is_deployed(proc) for name in aliases(app, proc)}
    used = [(name, f"use_services.{p}") for p, names in app.use_services.items() for name in names]
    used += [
        (name, f"use_resources.{r}.services")
        for r, use in app.use_resources.items()
        for name in use.services
    ]
    return [
        f"{app.appname} uses service {name} ({key}), but a proc of {app.appname} answers to "
        f"{name} too, so the name would be ambiguous inside {app.appname}; rename that proc"
        for name, key in used
        if name in own
    ]
