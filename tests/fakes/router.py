"""The cluster's router on the fake swarm, as far as its access log goes: a ``lain-router``
service whose tasks write the JSON lines nginx writes (see ``LOG_FORMAT`` in
lain_router/render.py), read through :class:`fakes.logs.EngineLogs`."""

from __future__ import annotations

import json
from typing import Any

from fakes.cluster import REGISTRY

from lain_router.labels import LABEL_ROUTER, ROUTER_SERVICE
from lain_sdk.cluster.views import Task


def start_router(cluster: Any, instances: int = 1) -> list[str]:
    """A router service with ``instances`` tasks running (one per node, as its global service
    has); returns their task IDs."""
    api = cluster.api
    created = api.create_service(
        {"ContainerSpec": {"Image": f"{REGISTRY}/lain/router:0123456789abcdef"}},
        name=ROUTER_SERVICE,
        labels={LABEL_ROUTER: "true"},
        mode={"Replicated": {"Replicas": instances}},
    )
    api.services()  # one look starts the tasks, the next runs them
    api.services()
    service = api.swarm_services[created["ID"]]
    for n, task in enumerate(service.tasks[1:], start=2):  # each on a node of its own
        api.add_node(f"node-router-{n}", f"router-{n}", f"10.0.0.{n}")
        task.doc["NodeID"] = f"node-router-{n}"
    tasks = [Task.from_engine(t) for t in api.tasks(filters={"service": [created["ID"]]})]
    return [t.id for t in sorted(tasks, key=lambda t: t.slot)]


def access_line(
    app: str,
    uri: str = "/",
    *,
    proc: str = "web",
    host: str | None = None,
    status: int = 200,
    method: str = "GET",
    duration: float = 0.002,
    upstream: str = "10.0.1.5:80",
) -> str:
    """One line of the router's access log, as nginx writes it."""
    record = {
        "time": "2026-01-01T12:00:00+00:00",
        "app": app,
        "proc": proc if app else "",
        "host": host or f"{app or 'nobody'}.example.com",
        "method": method,
        "uri": uri,
        "status": status,
        "bytes": 12,
        "duration": duration,
        "upstream": upstream,
        "upstream_status": str(status) if upstream else "",
        "client": "10.0.0.9",
        "agent": "curl/8.5.0",
    }
    return json.dumps(record, separators=(",", ":"))
