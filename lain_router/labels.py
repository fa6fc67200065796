"""The labels lain writes on a service the router serves, and how their values are written.

lain's deploy writes them; the router reads them from the swarm.  They are the whole contract
between the two, so both sides use these names.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import NamedTuple

# Where the router finds the proc's instances: the overlay network it joins for them.
LABEL_NETWORK = "lain.router.network"
# The proc's mountpoints (a JSON list: "host" or "host/path").
LABEL_MOUNTPOINTS = "lain.router.mountpoints"
# The port the proc listens on for HTTP.
LABEL_PORT = "lain.router.port"
# "true" when plain HTTP is answered with a redirect to HTTPS.
LABEL_HTTPS_ONLY = "lain.router.https-only"
# The proc's stream ports (a JSON list of "SRC:DST/PROTO").
LABEL_STREAMS = "lain.router.streams"
# On the router's own service and networks.
LABEL_ROUTER = "lain.router"

# The services lain's router runs as: HTTP(S), and the apps' stream ports (a service of its
# own, so that publishing a new stream port never restarts the HTTP router).
ROUTER_SERVICE = "lain-router"
STREAM_ROUTER_SERVICE = "lain-router-stream"
# Stream ports are taken from this range, as lain v2's stream router did.
STREAM_PORTS = range(9500, 10001)


class StreamPort(NamedTuple):
    """A port the router listens on (``src``) and the proc's port it forwards to (``dst``)."""

    src: int
    dst: int
    protocol: str = "tcp"

    def text(self) -> str:
        return f"{self.src}:{self.dst}/{self.protocol}"


def router_labels(
    *,
    network: str,
    mountpoints: Iterable[str] = (),
    port: int | None = None,
    https_only: bool = False,
    streams: Iterable[StreamPort] = (),
) -> dict[str, str]:
    """The labels of a service the router serves (HTTP when it has mountpoints and a port,
    streams when it has stream ports)."""
    labels = {LABEL_NETWORK: network}
    points = list(mountpoints)
    if points and port is not None:
        labels[LABEL_MOUNTPOINTS] = json.dumps(points)
        labels[LABEL_PORT] = str(port)
        if https_only:
            labels[LABEL_HTTPS_ONLY] = "true"
    ports = [s.text() for s in streams]
    if ports:
        labels[LABEL_STREAMS] = json.dumps(ports)
    return labels


def is_routed(labels: Mapping[str, str]) -> bool:
    return LABEL_NETWORK in labels
