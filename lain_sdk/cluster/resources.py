"""Resources: a private instance of a resource app for each app that uses it.

A resource app (``apptype: resource``) is a lain.yaml template (lain v2's Jinja2).  Deploying it
runs nothing: the deploy checks that the template loads and records its version (a release
without procs), the version that instances created from then on get.  An app's
``use_resources: {redis: {memory: 128m, services: [redis]}}`` makes the instance app
``resource.redis.<app>``: redis's lain.yaml rendered with the app's parameters
(:func:`lain_sdk.appconfig.render_resource_instance`), running redis's release image.  Its
services, network, lock and releases are named after ``resource.redis.<app>`` like any app's.

A deploy of the client deploys its instances first, then the client, whose services join the
instances' networks and so resolve the resource's service names (see
:mod:`lain_sdk.cluster.discovery`).  As in lain v2, a client's deploy does not upgrade an
instance that runs already: the instance keeps its resource version, with the client's
parameters applied again (so a changed parameter takes effect).  Without a recorded version,
a new instance gets the newest version in the registry.  ``lain deploy -a
resource.<res>.<client> [-v VERSION]`` moves one instance to a version of the resource (default:
the newest), with the parameters of the client's running lain.yaml; scale, ps, logs, releases,
rollback and undeploy take the instance's name like any app's.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from typing import TYPE_CHECKING, Any

from lain_sdk.cluster import desired as d
from lain_sdk.cluster import discovery, swarm
from lain_sdk.cluster import operations as ops
from lain_sdk.cluster import releases as r
from lain_sdk.cluster.discovery import parse_resource_instance, resource_instance_name
from lain_sdk.cluster.engine_calls import engine_errors
from lain_sdk.cluster.lock import acquire_lock
from lain_sdk.errors import ClusterError, NotFound
from lain_sdk.events import Event, Message

if TYPE_CHECKING:
    from lain_sdk.appconfig.model import AppConfig
    from lain_sdk.registry import RegistryClient
    from lain_sdk.settings import ClusterSettings


# -- versions and parameters -------------------------------------------------------------------


def resource_version(client: Any, registry: RegistryClient, resource: str) -> str:
    """The version a new instance of ``resource`` gets: the one its last deploy recorded, else
    the newest in the registry.

    Raises:
        NotFound: the resource has no version in the registry.
    """
    recorded = [x for x in r.read_releases(client, resource) if x.outcome == "succeeded"]
    if recorded:
        return recorded[-1].meta_version
    return ops.resolve_version(registry, resource, None)


def _running_version(live: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The resource version an instance runs now (its newest release's), or None."""
    newest: tuple[int, str] | None = None
    for service in live.values():
        labels = (service.get("Spec") or {}).get("Labels") or {}
        number = str(labels.get(d.LABEL_RELEASE, ""))
        version = str(labels.get(d.LABEL_VERSION, ""))
        if number.isdigit() and version and (newest is None or int(number) > newest[0]):
            newest = (int(number), version)
    return newest[1] if newest else None


def client_context(
    client: Any, resource: str, client_app: str, cluster: ClusterSettings
) -> Mapping[str, Any]:
    """The parameters ``client_app``'s running lain.yaml gives ``resource`` (its
    ``use_resources.<resource>`` without ``services``).

    Raises:
        NotFound: the client has no release on the cluster, or does not use the resource.
    """
    from lain_sdk.appconfig import parse_app_config

    name = resource_instance_name(resource, client_app)
    history = r.read_releases(client, client_app)
    running = ops.current_release_number(swarm.app_services(client, client_app))
    release = next((x for x in history if x.number == running), history[-1] if history else None)
    if release is None:
        raise NotFound(
            f"{name} runs with the parameters {client_app}'s lain.yaml gives it "
            f"(use_resources.{resource}), but {client_app} has no release on cluster "
            f"{cluster.name}; deploy {client_app}, which deploys {name} first"
        )
    config = parse_app_config(
        release.lain_yaml,
        path=f"{client_app} release {release.number}/lain.yaml",
        domains=list(cluster.domains),
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
    registry: RegistryClient,
    resource: str,
    client_app: str,
    context: Mapping[str, Any],
    version: str,
    cluster: ClusterSettings,
) -> ops.ReleaseSource:
    """Version ``version`` of ``resource`` rendered for ``client_app``: what
    ``resource.<resource>.<client_app>`` runs.

    Its image is the resource's release image; its lain.yaml, recorded in the instance's
    releases, is the rendered one.

    Raises:
        NotFound: the version or its images are not in the registry.
        ClusterError: ``resource`` is not a resource app.
        AppConfigError: the template does not render into a valid lain.yaml.
    """
    from lain_sdk.appconfig import render_resource_instance

    image = ops.pinned_image(registry, resource, version)
    text = ops.read_meta_lain_yaml(registry, resource, version)
    template = ops.load_release_config(text, resource, version, cluster)
    if template.apptype != "resource":
        raise ClusterError(
            f"{client_app} uses {resource} as a resource (use_resources), but {resource} "
            f"{version} is an ordinary app (no apptype: resource); use its services through "
            f"use_services instead, or push a version of {resource} with apptype: resource"
        )
    config = render_resource_instance(
        text, resource=resource, client=client_app, context=context, domains=cluster.domains
    )
    return ops.ReleaseSource(
        resource_instance_name(resource, client_app), version, image, config.source, config
    )


def named_instance_source(
    client: Any,
    registry: RegistryClient,
    app: str,
    version: str | None,
    cluster: ClusterSettings,
) -> ops.ReleaseSource:
    """What ``lain deploy -a resource.<res>.<client> [-v VERSION]`` runs: ``version`` of the
    resource (default: the newest in the registry) with the client's running parameters.

    Raises:
        NotFound: see :func:`client_context` and :func:`instance_source`.
    """
    parsed = parse_resource_instance(app)
    if parsed is None:
        raise ValueError(f"{app} is not a resource instance name (resource.<res>.<client>)")
    resource, client_app = parsed
    context = client_context(client, resource, client_app, cluster)
    version = ops.resolve_version(registry, resource, version)
    return instance_source(registry, resource, client_app, context, version, cluster)


def instance_sources(
    client: Any,
    registry: RegistryClient,
    config: AppConfig,
    cluster: ClusterSettings,
) -> list[ops.ReleaseSource]:
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
        version = _running_version(swarm.app_services(client, name)) or resource_version(
            client, registry, resource
        )
        source = instance_source(
            registry, resource, config.appname, use.context, version, cluster
        )
        why = discovery.unprovided(
            config.appname,
            name,
            use.services,
            discovery.service_routes(source.config),
            key=f"use_resources.{resource}.services",
        )
        if why:
            problems.append(why)
        discovery.check_use_services(client, source.config, cluster)
        sources.append(source)
    if problems:
        raise NotFound("\n".join(problems))
    return sources


# -- deploying ---------------------------------------------------------------------------------


def deploy_instances(
    client: Any,
    sources: list[ops.ReleaseSource],
    *,
    cluster: ClusterSettings,
    timeout: float,
    wait: bool,
) -> Generator[Event, None, list[ops.DeployResult]]:
    """Deploy resource instances one after the other, each under its own lock.

    Raises:
        DeployFailed: an instance did not converge (the client is then not deployed).
    """
    results = []
    for source in sources:
        resource, client_app = parse_resource_instance(source.app) or ("", "")
        yield Message(
            f"resource instance {source.app}: {resource} {source.meta_version}, "
            f"deployed before {client_app}"
        )
        result = yield from ops.deploy_source(
            client, source, cluster=cluster, timeout=timeout, wait=wait
        )
        results.append(result)
    return results


def resource_plan(client: Any, source: ops.ReleaseSource) -> d.Plan:
    """The plan of a resource app: no network and no procs, only its recorded release."""
    current = _recorded(r.read_releases(client, source.app))
    return d.Plan(
        app=source.app,
        meta_version=source.meta_version,
        current_release=current.number if current else None,
        network=d.network_name(source.app),
        create_network=False,
        procs=(),
    )


def _recorded(history: list[r.Release]) -> r.Release | None:
    succeeded = [x for x in history if x.outcome == "succeeded"]
    return succeeded[-1] if succeeded else None


def record_resource(
    client: Any, source: ops.ReleaseSource, *, timeout: float
) -> Generator[Event, None, ops.DeployResult]:
    """Deploy a resource app: record the version its new instances get; nothing runs.

    The template was checked when it was loaded; recording the same version again changes
    nothing.
    """
    app, version = source.app, source.meta_version
    lock = yield from acquire_lock(
        client, app, operation="deploy", wait=timeout, ttl=timeout + ops.LOCK_MARGIN
    )
    try:
        plan = resource_plan(client, source)
        yield Message(
            f"{app} is a resource (apptype: resource): nothing runs for it; each app that uses "
            f"it gets an instance {resource_instance_name(app, '<app>')}, deployed with that app"
        )
        current = _recorded(r.read_releases(client, app))
        if current is not None and current.meta_version == version:
            yield Message(f"nothing to change: new instances of {app} already get {version}")
            return ops.DeployResult(app, version, plan, None, waited=True)
        release = r.create_release(
            client,
            app=app,
            kind="deploy",
            meta_version=version,
            lain_yaml=source.lain_yaml,
            procs={},
        )
        release = r.set_outcome(client, release, "succeeded")
        yield Message(
            f"release {release.number}: new instances of {app} get {version}; running instances "
            f"keep theirs until `lain deploy -a {resource_instance_name(app, '<app>')}`"
        )
        return ops.DeployResult(app, version, plan, release, waited=True)
    finally:
        lock.release()


# -- reading -----------------------------------------------------------------------------------


def instance_services(client: Any, client_app: str) -> dict[str, dict[str, dict[str, Any]]]:
    """The live services of ``client_app``'s resource instances: instance -> proc -> service
    (one engine call)."""
    with engine_errors(client, f"list the resource instances of {client_app}"):
        services = client.api.services(
            filters={"label": f"{discovery.LABEL_RESOURCE_CLIENT}={client_app}"}
        )
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for service in services:
        labels = (service.get("Spec") or {}).get("Labels") or {}
        app, proc = labels.get(d.LABEL_APP), labels.get(d.LABEL_PROC)
        if labels.get(discovery.LABEL_RESOURCE_CLIENT) == client_app and app and proc:
            found.setdefault(app, {})[proc] = service
    return dict(sorted(found.items()))
