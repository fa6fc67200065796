"""What should run on the cluster for one release of an app: a pure function of its inputs.

:func:`desired_state` turns an :class:`~lain_sdk.appconfig.model.AppConfig`, the release's image
and the cluster's settings into one overlay network, one Swarm service per proc (built by
:mod:`lain_sdk.cluster.spec`) and the named volumes those services mount.  Nothing here talks to
Docker; :mod:`lain_sdk.cluster.plan` compares the result with what runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lain_sdk.appconfig.model import AppConfig
from lain_sdk.cluster import discovery
from lain_sdk.cluster.names import LABEL_APP, LABEL_RELEASE, LABEL_SPEC_HASH, network_name
from lain_sdk.cluster.sizing import ProcScale
from lain_sdk.cluster.spec import DesiredVolume, image_of, service_spec, yaml_scale
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


@dataclass(frozen=True)
class DesiredState:
    """Everything one release of an app should have on the cluster."""

    app: str
    meta_version: str
    release: int
    network: DesiredNetwork
    services: tuple[DesiredService, ...]
    volumes: tuple[DesiredVolume, ...] = ()

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
        )
        services.append(
            DesiredService(proc.name, proc.type, built.spec["Name"], built.spec, proc_scale)
        )
        volumes.extend(built.volumes)
    return DesiredState(
        app=app.appname,
        meta_version=meta_version,
        release=release,
        network=network,
        services=tuple(services),
        volumes=tuple(volumes),
    )
