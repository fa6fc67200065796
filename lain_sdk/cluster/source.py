"""What a deploy runs: a version, its release image pinned by digest, and its lain.yaml.

Everything here is found before a deploy changes anything, so a wrong version, a missing image,
a lain.yaml of another app, a provider that does not offer what the app uses, or a resource
template that does not render leaves the cluster as it was.

The lain.yaml deployed is the one built into the version (its meta image's one small layer,
read straight from the registry and checked against its digest), not whatever a working tree
holds.  A resource instance (``resource.<res>.<client>``) is no repository of its own: its
version and image are the resource's, and its lain.yaml is the resource's template rendered with
the parameters of the client (see :mod:`lain_sdk.cluster.resources`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lain_sdk.appconfig.loader import parse_app_config, render_resource_instance
from lain_sdk.appconfig.model import AppConfig
from lain_sdk.cluster import discovery
from lain_sdk.cluster.names import (
    LABEL_ALLOW_CLIENTS,
    parse_resource_instance,
    resource_instance_name,
)
from lain_sdk.cluster.releases import find_release, read_releases
from lain_sdk.cluster.session import Cluster
from lain_sdk.cluster.swarm import app_services
from lain_sdk.cluster.views import Service, current_release
from lain_sdk.errors import (
    ClientNotAllowed,
    ClusterError,
    InvalidArgument,
    NotFound,
)
from lain_sdk.git import META_VERSION_RE
from lain_sdk.protocols import Registry
from lain_sdk.versions import choose_registry_version, registry_pool


@dataclass(frozen=True)
class ReleaseSource:
    """What a deploy runs: a version, its release image and its lain.yaml, loaded.

    Attributes:
        app: the app deployed.
        meta_version: the version.
        image: the release image, pinned by digest.
        lain_yaml: the lain.yaml text recorded in the release.
        config: that lain.yaml, loaded for the cluster.
    """

    app: str
    meta_version: str
    image: str
    lain_yaml: str
    config: AppConfig


def resolve_version(registry: Registry, app: str, version: str | None) -> str:
    """The meta version to deploy: the one ``version`` names in the registry (a whole meta
    version, or a commit sha or its prefix: see :mod:`lain_sdk.versions`), else the newest.

    Raises:
        VersionNotFound: the version (or any version) is not in the registry.
        AmbiguousVersion: ``version`` matches several versions.
    """
    # A whole version is looked up alone, without listing every tag of the app.
    if version and META_VERSION_RE.fullmatch(version) and registry.version_exists(app, version):
        return version
    pool = registry_pool(registry, app)
    return choose_registry_version(pool, version).meta_version


def pinned_image(registry: Registry, app: str, meta_version: str) -> str:
    """``<registry>/<app>:release-<mv>@sha256:...``: the release image pinned to its digest."""
    tag = f"release-{meta_version}"
    digest = registry.manifest_digest(app, tag)
    if not digest:
        raise NotFound(f"{app}:{tag} is not in registry {registry.host}")
    return f"{registry.host}/{app}:{tag}@{digest}"


def read_meta_lain_yaml(registry: Registry, app: str, meta_version: str) -> str:
    """The lain.yaml inside ``<app>:meta-<mv>``, read from the registry (no engine pulls the
    meta image or makes a container to copy it out)."""
    tag = f"meta-{meta_version}"
    data = registry.read_image_file(app, tag, "lain.yaml")
    if data is None:
        raise NotFound(f"{registry.host}/{app}:{tag} holds no /lain.yaml")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ClusterError(f"the lain.yaml in {registry.host}/{app}:{tag} is not UTF-8 text") from e


def load_release_config(text: str, app: str, meta_version: str, cluster: Cluster) -> AppConfig:
    """Parse a version's lain.yaml for ``cluster`` and check it belongs to ``app``."""
    config = parse_app_config(
        text, path=f"{app}:meta-{meta_version}/lain.yaml", domains=list(cluster.settings.domains)
    )
    if config.appname != app:
        raise ClusterError(
            f"the meta image of {app} {meta_version} holds the lain.yaml of {config.appname!r}; "
            "push the right images for this app"
        )
    return config


def load_source(cluster: Cluster, app: str, version: str | None) -> ReleaseSource:
    """The version of ``app`` to deploy (default: the newest), its image and its lain.yaml.

    Raises:
        VersionNotFound, NotFound: the version, or its images, are not in the registry.
        ClusterError: the meta image holds another app's lain.yaml.
    """
    if parse_resource_instance(app) is not None:
        return named_instance_source(cluster, app, version)
    registry = cluster.registry
    meta_version = resolve_version(registry, app, version)
    image = pinned_image(registry, app, meta_version)
    text = read_meta_lain_yaml(registry, app, meta_version)
    return ReleaseSource(
        app, meta_version, image, text, load_release_config(text, app, meta_version, cluster)
    )


# -- what an app uses --------------------------------------------------------------------------


def provided_services(services: Mapping[str, Service]) -> set[str]:
    """The service names an app's live services answer to (from their labels)."""
    return {name for service in services.values() for name in service.offered_services}


def check_use_services(cluster: Cluster, app: AppConfig) -> None:
    """Check that every app named in ``use_services`` runs, provides the services used and
    lets this app use them (``allow_clients``).

    Raises:
        NotFound: a provider is not deployed, or does not provide a service; one message names
            every such problem, the consumer and the providers.
        ClientNotAllowed: a provider's portal does not allow this app.
        ClusterError: a used service has the name of one of the consumer's own procs.
    """
    clashes = discovery.name_clashes(app)
    if clashes:
        raise ClusterError("\n".join(clashes))
    problems = []
    for provider, wanted in sorted(app.use_services.items()):
        live = app_services(cluster, provider)
        if not live:
            problems.append(
                f"{app.appname} uses services of {provider} (use_services), but {provider} is "
                f"not deployed on cluster {cluster.name}; deploy {provider} first, or remove it "
                f"from use_services in {app.appname}'s lain.yaml"
            )
            continue
        key = f"use_services.{provider}"
        why = discovery.unprovided(app.appname, provider, wanted, provided_services(live), key=key)
        if why:
            problems.append(why)
            continue
        refused = refusals(app.appname, provider, wanted, live)
        if refused:
            raise refused[0]
    if problems:
        raise NotFound("\n".join(problems))


def refusals(
    client: str, provider: str, wanted: Iterable[str], live: Mapping[str, Service]
) -> list[ClientNotAllowed]:
    """What the ``allow_clients`` rules of ``provider``'s live services refuse ``client``."""
    found = []
    for name in wanted:
        for service in live.values():
            if name in service.offered_services:
                refused = discovery.refusal(
                    client, provider, name, service.label(LABEL_ALLOW_CLIENTS)
                )
                if refused is not None:
                    found.append(refused)
                break
    return found


# -- resource instances ------------------------------------------------------------------------


def resource_version(cluster: Cluster, resource: str) -> str:
    """The version a new instance of ``resource`` gets: the one its last deploy recorded, else
    the newest in the registry.

    Raises:
        VersionNotFound: the resource has no version in the registry.
    """
    recorded = [x for x in read_releases(cluster, resource) if x.outcome == "succeeded"]
    if recorded:
        return recorded[-1].meta_version
    return resolve_version(cluster.registry, resource, None)


def running_version(services: Mapping[str, Service]) -> str | None:
    """The resource version an instance runs now (its newest release's), or None."""
    newest = max(
        (s for s in services.values() if s.release is not None and s.meta_version),
        key=lambda s: s.release or 0,
        default=None,
    )
    return newest.meta_version if newest is not None else None


def client_context(cluster: Cluster, resource: str, client_app: str) -> Mapping[str, Any]:
    """The parameters ``client_app``'s running lain.yaml gives ``resource`` (its
    ``use_resources.<resource>`` without ``services``).

    Raises:
        NotFound: the client has no release on the cluster, or does not use the resource.
    """
    name = resource_instance_name(resource, client_app)
    history = read_releases(cluster, client_app)
    running = current_release(app_services(cluster, client_app).values())
    release = find_release(history, running) or (history[-1] if history else None)
    if release is None:
        raise NotFound(
            f"{name} runs with the parameters {client_app}'s lain.yaml gives it "
            f"(use_resources.{resource}), but {client_app} has no release on cluster "
            f"{cluster.name}; deploy {client_app}, which deploys {name} first"
        )
    config = parse_app_config(
        release.lain_yaml,
        path=f"{client_app} release {release.number}/lain.yaml",
        domains=list(cluster.settings.domains),
    )
    use = config.use_resources.get(resource)
    if use is None:
        raise NotFound(
            f"{client_app}'s lain.yaml of release {release.number} does not use resource "
            f"{resource} (use_resources), so {name} has no parameters; add it to "
            f"{client_app}'s use_resources and deploy {client_app}"
        )
    return use.context


def instance_source(
    cluster: Cluster,
    resource: str,
    client_app: str,
    context: Mapping[str, Any],
    version: str,
) -> ReleaseSource:
    """Version ``version`` of ``resource`` rendered for ``client_app``: what
    ``resource.<resource>.<client_app>`` runs (the resource's release image, and the rendered
    lain.yaml, recorded in the instance's releases).

    Raises:
        NotFound: the version or its images are not in the registry.
        ClusterError: ``resource`` is not a resource app.
        AppConfigError: the template does not render into a valid lain.yaml.
    """
    registry = cluster.registry
    image = pinned_image(registry, resource, version)
    text = read_meta_lain_yaml(registry, resource, version)
    template = load_release_config(text, resource, version, cluster)
    if template.apptype != "resource":
        raise ClusterError(
            f"{client_app} uses {resource} as a resource (use_resources), but {resource} "
            f"{version} is an ordinary app (no apptype: resource); use its services through "
            f"use_services instead, or push a version of {resource} with apptype: resource"
        )
    config = render_resource_instance(
        text,
        resource=resource,
        client=client_app,
        context=context,
        domains=cluster.settings.domains,
    )
    name = resource_instance_name(resource, client_app)
    return ReleaseSource(name, version, image, config.source, config)


def named_instance_source(cluster: Cluster, app: str, version: str | None) -> ReleaseSource:
    """What a deploy of ``resource.<res>.<client>`` runs: ``version`` of the resource (default:
    the newest in the registry) with the client's running parameters.

    Raises:
        NotFound: see :func:`client_context` and :func:`instance_source`.
    """
    parsed = parse_resource_instance(app)
    if parsed is None:
        raise InvalidArgument(f"{app} is not a resource instance name (resource.<res>.<client>)")
    resource, client_app = parsed
    context = client_context(cluster, resource, client_app)
    version = resolve_version(cluster.registry, resource, version)
    return instance_source(cluster, resource, client_app, context, version)


def instance_sources(cluster: Cluster, config: AppConfig) -> list[ReleaseSource]:
    """The resource instances a deploy of ``config``'s app runs first, checked, changing
    nothing.

    An instance that runs already keeps its resource version; a new one gets
    :func:`resource_version`.  Each is rendered with the parameters of ``config``.

    Raises:
        NotFound: a resource or a version of it is missing, an instance would not provide a
            service the client names in ``use_resources.<res>.services``, or an app an
            instance uses is not deployed.
        AppConfigError: a template does not render for this client.
    """
    sources = []
    problems = []
    for resource, use in sorted(config.use_resources.items()):
        name = resource_instance_name(resource, config.appname)
        version = running_version(app_services(cluster, name)) or resource_version(
            cluster, resource
        )
        source = instance_source(cluster, resource, config.appname, use.context, version)
        why = discovery.unprovided(
            config.appname,
            name,
            use.services,
            discovery.service_routes(source.config),
            key=f"use_resources.{resource}.services",
        )
        if why:
            problems.append(why)
        check_use_services(cluster, source.config)
        sources.append(source)
    if problems:
        raise NotFound("\n".join(problems))
    return sources
