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
a new instance gets the newest version in the registry.  A deploy of
``resource.<res>.<client>`` itself moves that one instance to a version of the resource (default:
the newest), with the parameters of the client's running lain.yaml; scale, status, logs,
releases, rollback and undeploy take the instance's name like any app's.

Finding and checking the instances' sources is in :mod:`lain_sdk.cluster.source`; deploying
them, in :mod:`lain_sdk.cluster.deploy`.  This module records the versions of resource apps.
"""

from __future__ import annotations

from collections.abc import Generator

from lain_sdk.cluster.lock import app_lock
from lain_sdk.cluster.names import network_name, resource_instance_name
from lain_sdk.cluster.plan import Plan
from lain_sdk.cluster.releases import Release, create_release, read_releases, set_outcome
from lain_sdk.cluster.session import Cluster
from lain_sdk.cluster.source import ReleaseSource
from lain_sdk.events import Event, Message


def recorded_release(cluster: Cluster, resource: str) -> Release | None:
    """The newest succeeded release of a resource app: the version new instances get."""
    succeeded = [x for x in read_releases(cluster, resource) if x.outcome == "succeeded"]
    return succeeded[-1] if succeeded else None


def resource_plan(cluster: Cluster, source: ReleaseSource) -> Plan:
    """The plan of a resource app: no network and no procs, only its recorded release."""
    current = recorded_release(cluster, source.app)
    return Plan(
        app=source.app,
        meta_version=source.meta_version,
        current_release=current.number if current else None,
        network=network_name(source.app),
        create_network=False,
        procs=(),
    )


def record_resource(
    cluster: Cluster, source: ReleaseSource, *, timeout: float
) -> Generator[Event, None, Release | None]:
    """Deploy a resource app: record the version its new instances get; nothing runs.

    The template was checked when it was loaded; recording the same version again changes
    nothing (None is returned then).
    """
    app, version = source.app, source.meta_version
    with (yield from app_lock(cluster, app, operation="deploy", timeout=timeout)):
        instance = resource_instance_name(app, "<app>")
        yield Message(
            f"{app} is a resource (apptype: resource): nothing runs for it; each app that uses "
            f"it gets an instance {instance}, deployed with that app"
        )
        current = recorded_release(cluster, app)
        if current is not None and current.meta_version == version:
            yield Message(f"nothing to change: new instances of {app} already get {version}")
            return None
        release = create_release(
            cluster,
            app=app,
            kind="deploy",
            meta_version=version,
            lain_yaml=source.lain_yaml,
            procs={},
        )
        release = set_outcome(cluster, release, "succeeded")
        yield Message(
            f"release {release.number}: new instances of {app} get {version}; running instances "
            f"keep theirs until {instance} is deployed"
        )
        return release
