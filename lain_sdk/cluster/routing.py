"""What the router serves of an app: its routed procs, their labels and network, its URLs
(pure).

A web proc with a port and mountpoints is served by host and path; a proc with ``ports`` is
served on those stream ports.  Both join the app's router network (see
:func:`~lain_sdk.cluster.names.router_network_name`) and carry the labels
:mod:`lain_router.labels` defines, which is all the router reads.
"""

from __future__ import annotations

from typing import Any

from lain_router.labels import LABEL_ROUTER, StreamPort, router_labels
from lain_router.model import parse_mountpoint
from lain_sdk.appconfig.model import AppConfig, Proc
from lain_sdk.cluster.names import LABEL_APP, router_network_name


def serves_http(proc: Proc) -> bool:
    return proc.type == "web" and proc.port is not None and bool(proc.mountpoints)


def is_routed(proc: Proc) -> bool:
    """Whether the router serves ``proc`` (by host and path, or on stream ports)."""
    return serves_http(proc) or bool(proc.ports)


def routing_labels(app: AppConfig, proc: Proc) -> dict[str, str]:
    """The router's labels of ``proc``'s service (none for a proc it does not serve)."""
    if not is_routed(proc):
        return {}
    return router_labels(
        network=router_network_name(app.appname),
        mountpoints=proc.mountpoints if serves_http(proc) else (),
        port=proc.port.port if proc.port is not None else None,
        https_only=proc.https_only,
        streams=[StreamPort(p.src, p.dest, p.protocol) for p in proc.ports],
    )


def router_attachments(app: AppConfig, proc: Proc) -> list[dict[str, Any]]:
    """The router's network among ``proc``'s networks, with no alias: the router reaches
    instances by address, and nothing else on that network may learn the proc's names."""
    return [{"Target": router_network_name(app.appname)}] if is_routed(proc) else []


def router_network_labels(app: str) -> dict[str, str]:
    return {LABEL_APP: app, LABEL_ROUTER: "true"}


def urls(app: AppConfig, *, http_port: int = 80, https_port: int = 443) -> list[str]:
    """The addresses of ``app``'s web procs, one per mountpoint, in lain.yaml order
    (``https://`` for a proc served only so).  The ``<app>.lain`` names v2 gave every web proc
    are left out: they never had an address outside the cluster."""
    found = []
    for proc in app.procs:
        if not serves_http(proc):
            continue
        scheme, port = ("https", https_port) if proc.https_only else ("http", http_port)
        suffix = "" if port == {"http": 80, "https": 443}[scheme] else f":{port}"
        for point in proc.mountpoints:
            host, path = parse_mountpoint(point)
            if not host.endswith(".lain"):
                found.append(f"{scheme}://{host}{suffix}{path if path != '/' else '/'}")
    return list(dict.fromkeys(found))
