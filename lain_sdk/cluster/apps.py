"""The apps on a cluster at a glance: release, procs, health and URLs of each.

One look at the whole cluster costs three engine calls however many apps it runs: every
service carrying ``lain.app``, their tasks (found by the same label) and the nodes; one more,
the release records, when undeployed apps are asked for too.  Running instances are counted and
health decided as :func:`lain_sdk.cluster.status.app_status` does, so an app listed healthy is
one ``lain ps`` calls healthy.

Only the services of procs count: a helper service that carries an app's label (a secret
reader, a one-off task) is neither an app nor a proc.  Helpers say so by a label, and a proc's
service is the one named after its app and proc (:func:`~lain_sdk.cluster.names.service_name`),
which no helper is.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import lain_sdk.arguments as arguments
from lain_sdk.cluster.names import (
    LABEL_APP,
    LABEL_ONEOFF,
    LABEL_RELEASE,
    LABEL_SECRET_READER,
    network_name,
    parse_resource_instance,
    service_name,
)
from lain_sdk.cluster.session import Cluster, ClusterLike
from lain_sdk.cluster.status import instance_statuses, service_urls
from lain_sdk.cluster.swarm import nodes
from lain_sdk.cluster.views import Node, Service, Task, current_release
from lain_sdk.settings import RouterSettings

# What an app's health can be: ``updating`` while Swarm rolls out (or back) a change,
# ``undeployed`` for an app that has only its release history left.
HEALTHY, NOT_HEALTHY, UPDATING, UNDEPLOYED = "healthy", "not healthy", "updating", "undeployed"
# The update states of a rollout under way (``lain ps`` counts them as not healthy).
ROLLING = ("updating", "rollback_started")
# Labels that mark a helper service, which is never a proc.
HELPER_LABELS = (LABEL_SECRET_READER, LABEL_ONEOFF)


@dataclass(frozen=True)
class ProcSummary:
    """One proc of an app: how many of its instances run of how many wanted (a oneshot's:
    how many of its current runs completed), and where the router serves it.

    Attributes:
        proc: the proc's name.
        proctype: ``web``, ``worker``, ``oneshot`` ...
        version: the meta version it runs.
        release: the release that last changed it.
        running: instances running (on a node that is not down).
        desired: instances wanted.
        oneshot: it runs to completion (a Swarm job).
        completed: for a oneshot, its runs that completed.
        update_state: where Swarm is with its last update ("" when never updated).
        urls: where the router serves it (see :func:`~lain_sdk.cluster.status.service_urls`).
    """

    proc: str
    proctype: str
    version: str
    release: int | None
    running: int
    desired: int
    oneshot: bool = False
    completed: int = 0
    update_state: str = ""
    urls: tuple[str, ...] = ()

    @property
    def serving(self) -> bool:
        """It runs all its instances and no update is under way (a oneshot always is)."""
        return self.oneshot or (self.running >= self.desired and not self.rolling)

    @property
    def rolling(self) -> bool:
        return not self.oneshot and self.update_state in ROLLING

    def to_dict(self) -> dict[str, Any]:
        return {
            "proc": self.proc,
            "proctype": self.proctype,
            "version": self.version,
            "release": self.release,
            "running": self.running,
            "desired": self.desired,
            "oneshot": self.oneshot,
            "completed": self.completed,
            "update_state": self.update_state,
            "urls": list(self.urls),
        }


@dataclass(frozen=True)
class AppSummary:
    """One app on a cluster.

    Attributes:
        app: the app's name.
        release: the release running now (an undeployed app's: its last recorded one).
        version: the meta version of that release.
        procs: its procs, by name (none when undeployed).
        resource: for a resource instance (``resource.<res>.<client>``), its resource.
        client: for a resource instance, the app it serves.
    """

    app: str
    release: int | None
    version: str
    procs: tuple[ProcSummary, ...] = ()
    resource: str = ""
    client: str = ""

    @property
    def deployed(self) -> bool:
        return bool(self.procs)

    @property
    def health(self) -> str:
        """``healthy`` (every proc that keeps running runs all its instances), ``updating``
        (a rollout is under way), ``not healthy``, or ``undeployed``."""
        if not self.procs:
            return UNDEPLOYED
        if any(p.rolling for p in self.procs):
            return UPDATING
        return HEALTHY if all(p.serving for p in self.procs) else NOT_HEALTHY

    @property
    def urls(self) -> tuple[str, ...]:
        """Its procs' URLs, the ``web`` proc's first, then the others' by name."""
        ordered = sorted(self.procs, key=lambda p: (p.proc != "web", p.proc))
        return tuple(dict.fromkeys(url for p in ordered for url in p.urls))

    def to_dict(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "release": self.release,
            "version": self.version,
            "health": self.health,
            "deployed": self.deployed,
            "urls": list(self.urls),
            "procs": [p.to_dict() for p in self.procs],
            "resource": self.resource or None,
            "client": self.client or None,
        }


def list_apps(*, cluster: ClusterLike, include_undeployed: bool = False) -> list[AppSummary]:
    """Every app that has procs on ``cluster``: its release, version, procs and URLs, sorted by
    name with each resource instance right after the app it serves.  Three engine calls
    however many apps (four with ``include_undeployed``).

    Args:
        cluster: the cluster (a session, its settings, or its name).
        include_undeployed: also the apps with no procs left but a release history (their
            last release, health ``undeployed``).

    Raises:
        InvalidArgument: an argument of the wrong kind.
        EngineError: the engine does not answer.
    """
    include_undeployed = arguments.flag(include_undeployed, "include_undeployed")
    session = Cluster.of(cluster)
    by_app = _proc_services(session)
    tasks = _lain_tasks(session) if by_app else []
    by_service: dict[str, list[Task]] = {}
    for task in tasks:
        by_service.setdefault(task.service_id, []).append(task)
    where = {n.id: n for n in nodes(session)} if by_app else {}
    now = time.time()
    router = session.settings.router
    found = [
        _summary(app, services, by_service, where, now, router) for app, services in by_app.items()
    ]
    if include_undeployed:
        found += _undeployed(session, set(by_app))
    return sorted(found, key=_listing_order)


def _proc_services(session: Cluster) -> dict[str, dict[str, Service]]:
    """Every app's proc services: app -> proc -> service (one engine call)."""
    with session.errors("list the services of the cluster's apps"):
        found = session.api.services(filters={"label": LABEL_APP})
    by_app: dict[str, dict[str, Service]] = {}
    for service in map(Service.from_engine, found):
        if _is_proc(service):
            by_app.setdefault(service.app, {})[service.proc] = service
    return by_app


def _is_proc(service: Service) -> bool:
    if not service.app or not service.proc:
        return False
    if any(label in service.labels for label in HELPER_LABELS):
        return False
    return service.name == service_name(service.app, service.proc)


def _lain_tasks(session: Cluster) -> list[Task]:
    """The tasks of every service carrying ``lain.app`` (one engine call)."""
    with session.errors("list the tasks of the cluster's apps"):
        return [Task.from_engine(t) for t in session.api.tasks(filters={"label": LABEL_APP})]


def _summary(
    app: str,
    services: Mapping[str, Service],
    by_service: Mapping[str, list[Task]],
    where: Mapping[str, Node],
    now: float,
    router: RouterSettings,
) -> AppSummary:
    release = current_release(services.values())
    # The version of the newest release among the procs (procs a deploy left alone may run
    # an older one; each proc says its own).
    newest = max(services.values(), key=lambda s: (s.release or 0, s.proc))
    procs = tuple(
        _proc_summary(app, service, by_service.get(service.id, []), where, now, router)
        for _, service in sorted(services.items())
    )
    resource, client = parse_resource_instance(app) or ("", "")
    return AppSummary(app, release, newest.meta_version, procs, resource, client)


def _proc_summary(
    app: str,
    service: Service,
    tasks: list[Task],
    where: Mapping[str, Node],
    now: float,
    router: RouterSettings,
) -> ProcSummary:
    """One proc, its instances counted as ``lain ps`` counts them."""
    completed = 0
    if service.job:
        current = [t for t in tasks if t.job_iteration == service.job_iteration]
        running = sum(1 for t in current if t.state == "running")
        completed = sum(1 for t in current if t.state == "complete")
    else:
        instances = instance_statuses(tasks, where, service.has_healthcheck, now, network_name(app))
        running = sum(
            1
            for i in instances
            if i.state == "running" and i.desired_state == "running" and not i.lost
        )
    status = service.update_status if not service.job else None
    return ProcSummary(
        proc=service.proc,
        proctype=service.proctype,
        version=service.meta_version,
        release=service.release,
        running=running,
        desired=service.scale.instances,
        oneshot=service.job,
        completed=completed,
        update_state=status.state if status is not None else "",
        urls=service_urls(service.labels, router),
    )


def _undeployed(session: Cluster, deployed: set[str]) -> list[AppSummary]:
    """The apps with release records but no procs: each with its last release (one engine
    call)."""
    with session.errors("list the release records of the cluster's apps"):
        configs = session.api.configs(filters={"label": [LABEL_APP, LABEL_RELEASE]})
    last: dict[str, tuple[int, Mapping[str, Any]]] = {}
    for config in configs:
        labels = (config.get("Spec") or {}).get("Labels") or {}
        app, text = str(labels.get(LABEL_APP, "")), str(labels.get(LABEL_RELEASE, ""))
        if not app or app in deployed or not text.isdigit():
            continue
        if app not in last or int(text) > last[app][0]:
            last[app] = (int(text), config)
    found = []
    for app, (number, record) in last.items():
        resource, client = parse_resource_instance(app) or ("", "")
        found.append(AppSummary(app, number, _recorded_version(record), (), resource, client))
    return found


def _recorded_version(config: Mapping[str, Any]) -> str:
    """The meta version a release record names ("" when it cannot be read)."""
    try:
        data = json.loads(base64.b64decode((config.get("Spec") or {}).get("Data") or b""))
        return str(data.get("meta_version", "")) if isinstance(data, dict) else ""
    except ValueError:
        return ""


def _listing_order(summary: AppSummary) -> tuple[str, int, str]:
    """By name, each resource instance right after the client it serves."""
    return (summary.client or summary.app, 1 if summary.client else 0, summary.app)
