"""What should run on the cluster for one release of an app: a pure function of its inputs.

:func:`desired_state` turns an :class:`~lain_sdk.appconfig.model.AppConfig`, the release's image
and the cluster's settings into one overlay network, one Swarm service per proc (built by
:mod:`lain_sdk.cluster.spec`), the named volumes those services mount and the link networks
they join (see :mod:`lain_sdk.cluster.discovery`).  Nothing here talks to
Docker; :mod:`lain_sdk.cluster.plan` compares the result with what runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lain_sdk.appconfig.model import AppConfig
from lain_sdk.cluster import discovery, routing
from lain_sdk.cluster.names import (
    DISCOVERY_LABELS,
    LABEL_APP,
    LABEL_LINK_CLIENT,
    LABEL_LINK_PROVIDER,
    LABEL_RELEASE,
    LABEL_SPEC_HASH,
    USE_LABEL_PREFIX,
    link_network_name,
    network_name,
    router_network_name,
)
from lain_sdk.cluster.sizing import ProcScale
from lain_sdk.cluster.spec import (
    DesiredVolume,
    copy_spec,
    image_of,
    service_spec,
    with_links,
    yaml_scale,
)
from lain_sdk.settings import ClusterSettings


@dataclass(frozen=True)
class DesiredService:
    """One proc's service as it should be: its name and its Engine API ``ServiceSpec``."""

    proc: str
    proctype: str
    name: str
    spec: Mapping[str, Any]
    scale: ProcScale

    @property
    def spec_hash(self) -> str:
        return str(self.spec["Labels"][LABEL_SPEC_HASH])

    @property
    def image(self) -> str:
        return image_of(self.spec)


@dataclass(frozen=True)
class DesiredNetwork:
    """The app's own network: an attachable overlay network."""

    name: str
    labels: Mapping[str, str]


def app_network(app: str, release: int) -> DesiredNetwork:
    """The app's own overlay network, as release ``release`` labels it."""
    return DesiredNetwork(
        name=network_name(app), labels={LABEL_APP: app, LABEL_RELEASE: str(release)}
    )


def link_network(provider: str, client: str) -> DesiredNetwork:
    """The network that joins ``client`` to the services of ``provider`` it uses."""
    return DesiredNetwork(
        name=link_network_name(provider, client),
        labels={LABEL_LINK_PROVIDER: provider, LABEL_LINK_CLIENT: client},
    )


def link_networks(
    app: AppConfig, links: Mapping[str, Mapping[str, Iterable[str]]] | None
) -> tuple[DesiredNetwork, ...]:
    """The networks ``app``'s services join besides its own: the link network of every app
    it uses and of every client in ``links``, and the router's network of the app when the
    router serves one of its procs."""
    wanted = [link_network(used, app.appname) for used in discovery.used_services(app)]
    clients = {client for by_client in (links or {}).values() for client in by_client}
    wanted += [link_network(app.appname, client) for client in sorted(clients)]
    if any(routing.is_routed(p) for p in app.procs):
        wanted.append(
            DesiredNetwork(
                router_network_name(app.appname), routing.router_network_labels(app.appname)
            )
        )
    return tuple({n.name: n for n in wanted}.values())


@dataclass(frozen=True)
class DesiredState:
    """Everything one release of an app should have on the cluster."""

    app: str
    meta_version: str
    release: int
    network: DesiredNetwork
    services: tuple[DesiredService, ...]
    volumes: tuple[DesiredVolume, ...] = ()
    link_networks: tuple[DesiredNetwork, ...] = ()

    def service(self, proc: str) -> DesiredService:
        for s in self.services:
            if s.proc == proc:
                return s
        raise KeyError(proc)


def desired_state(
    app: AppConfig,
    *,
    meta_version: str,
    image: str,
    cluster: ClusterSettings,
    release: int,
    scale: Mapping[str, ProcScale] | None = None,
    procs: Iterable[str] | None = None,
    secret_mounts: Mapping[str, Iterable[Mapping[str, Any]]] | None = None,
    links: Mapping[str, Mapping[str, Iterable[str]]] | None = None,
    config_vars: Mapping[str, Mapping[str, str]] | None = None,
    config_version: int = 0,
) -> DesiredState:
    """The network, services and volumes one release of ``app`` should have.

    Args:
        app: the release's lain.yaml, loaded.
        meta_version: the release's meta version (``LAIN_APP_RELEASE_VERSION``).
        image: the release image, best pinned by digest
            (``<registry>/<app>:release-<mv>@sha256:...``) so a rollback runs the same bytes.
        cluster: the cluster's settings (domains, whether web procs publish host ports).
        release: the release number, put in the ``lain.release`` label.
        scale: instances/cpu/memory per proc name; procs not listed get lain.yaml's values
            (use :func:`~lain_sdk.cluster.sizing.effective_scale` for the scale-wins rule).
        procs: only these procs (default: all of them).
        secret_mounts: proc -> its ``ContainerSpec.Secrets`` entries, as
            :func:`lain_sdk.cluster.secret_store.resolve_secret_mounts` finds them (the secret
            IDs enter the spec, so a new secret version changes the spec and rolls the proc).
        links: proc -> client -> the service names the proc answers to on that client's link
            network (see :func:`lain_sdk.cluster.discovery.provider_links`).
        config_vars: proc -> the config vars of set ``config_version`` merged for it (see
            :mod:`lain_sdk.cluster.config_vars`); 0 for none.

    Raises:
        NotFound: ``procs`` names a proc the app does not have.
    """
    wanted = set(procs) if procs is not None else None
    for name in sorted(wanted or ()):
        app.proc(name)  # raises NotFound listing the procs there are
    network = app_network(app.appname, release)
    services = []
    volumes: list[DesiredVolume] = []
    for proc in app.procs:
        if wanted is not None and proc.name not in wanted:
            continue
        if not discovery.is_deployed(proc):
            continue  # a portal without a program: its proc answers to the service name
        proc_scale = (scale or {}).get(proc.name) or yaml_scale(proc)
        built = service_spec(
            app,
            proc,
            meta_version=meta_version,
            image=proc.image or image,
            cluster=cluster,
            release=release,
            scale=proc_scale,
            network=network.name,
            secret_mounts=(secret_mounts or {}).get(proc.name, ()),
            config_vars=(config_vars or {}).get(proc.name, {}),
            config_version=config_version,
        )
        spec = with_links(built.spec, (links or {}).get(proc.name, {}))
        services.append(DesiredService(proc.name, proc.type, spec["Name"], spec, proc_scale))
        volumes.extend(built.volumes)
    return DesiredState(
        app=app.appname,
        meta_version=meta_version,
        release=release,
        network=network,
        services=tuple(services),
        volumes=tuple(volumes),
        link_networks=link_networks(app, links),
    )


def rediscovered(
    spec: Mapping[str, Any], app: AppConfig, proc: str, links: Mapping[str, Iterable[str]]
) -> dict[str, Any]:
    """A recorded spec of ``proc`` with the networks and discovery labels ``app`` (the
    release's lain.yaml) and today's ``links`` give it, not those recorded: putting back a
    release made before a rule changed cannot put a proc on a network it should not be on.
    The spec hash is left to the caller (see :func:`~lain_sdk.cluster.spec.relabel_spec`).
    """
    found = app.proc(proc)
    new = copy_spec(spec)
    labels = {
        k: v
        for k, v in new["Labels"].items()
        if k not in DISCOVERY_LABELS and not k.startswith(USE_LABEL_PREFIX)
    }
    new["Labels"] = {**labels, **discovery.service_labels(app, found)}
    network = network_name(app.appname)
    new["TaskTemplate"]["Networks"] = discovery.network_attachments(app, found, network)
    return with_links(new, links)
