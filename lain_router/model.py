"""What the router serves, worked out from the swarm's services and tasks (pure).

The input is what the Engine API returns (service and task documents); the output is a
:class:`RouterModel`: HTTP routes (host and path prefix to an upstream), upstreams (the
instances of a proc, ready or still starting), stream ports, and the problems that kept a route
out.  Everything that reaches the nginx configuration is checked here against a strict
alphabet, so a label written by hand can never break the configuration of other apps.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from lain_router.labels import (
    LABEL_HTTPS_ONLY,
    LABEL_MOUNTPOINTS,
    LABEL_NETWORK,
    LABEL_PORT,
    LABEL_STREAMS,
    STREAM_PORTS,
    StreamPort,
)

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST = re.compile(rf"^(?:\*\.)?{_LABEL}(?:\.{_LABEL})*$")
# A path prefix: the characters of a URL path that mean nothing to nginx's parser.
_PATH = re.compile(r"^(?:/[A-Za-z0-9._~%!&()*+,=:@-]+)+$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_STREAM = re.compile(r"^(\d{1,5}):(\d{1,5})/(tcp|udp)$")
# Task states of an instance that runs but is not healthy yet: it only takes requests when the
# ready instances fail (it is a "backup" server), so the moment Swarm stops the last old
# instance of a start-first update, the new one already has its place.
_STARTING = frozenset({"starting"})


class Backend(NamedTuple):
    """One instance of a proc: where it listens on the router's network."""

    address: str
    port: int
    ready: bool
    task: str = ""

    @property
    def endpoint(self) -> str:
        return f"{self.address}:{self.port}"


class Upstream(NamedTuple):
    """The instances of one proc that serve one port."""

    name: str
    app: str
    proc: str
    backends: tuple[Backend, ...]

    @property
    def ready(self) -> tuple[Backend, ...]:
        return tuple(b for b in self.backends if b.ready)


class Route(NamedTuple):
    """Requests for ``host`` whose path starts with ``path`` go to ``upstream`` (the prefix is
    stripped unless it is ``/``)."""

    host: str
    path: str
    upstream: str
    app: str
    proc: str
    https_only: bool = False

    @property
    def mountpoint(self) -> str:
        return self.host if self.path == "/" else f"{self.host}{self.path}"


class Stream(NamedTuple):
    """A port the router listens on, forwarded to a proc's instances."""

    port: int
    protocol: str
    upstream: Upstream


class RouteProblem(NamedTuple):
    """Why part of an app is not routed."""

    app: str
    proc: str
    message: str


class RouterModel(NamedTuple):
    routes: tuple[Route, ...]
    upstreams: Mapping[str, Upstream]
    streams: tuple[Stream, ...]
    problems: tuple[RouteProblem, ...]
    networks: frozenset[str]

    @property
    def hosts(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.host for r in self.routes))


def parse_mountpoint(text: str) -> tuple[str, str]:
    """``(host, path)`` of a mountpoint ``host`` or ``host/path``; path ``/`` for a host alone.

    Raises:
        ValueError: not a host name, or a path with characters a router cannot take literally.
    """
    host, slash, path = text.strip().partition("/")
    host = host.lower().rstrip(".")
    if not _HOST.match(host) or len(host) > 253:
        raise ValueError(f"{text!r} is not a host name (letters, digits, '-', '.', '*.')")
    if not slash:
        return host, "/"
    path = "/" + path.rstrip("/")
    if path == "/":
        return host, "/"
    if not _PATH.match(path) or any(part in {".", ".."} for part in path.split("/")):
        raise ValueError(
            f"{text!r}: a path prefix takes letters, digits and ._~%!&()*+,=:@- between "
            "single slashes"
        )
    return host, path


def build_model(
    services: Iterable[Mapping[str, Any]], tasks: Iterable[Mapping[str, Any]]
) -> RouterModel:
    """The routes, upstreams and stream ports of ``services`` (Engine API service documents
    carrying the router's labels), with the instances among ``tasks`` that should run.

    When two services claim the same mountpoint (or stream port), the older one keeps it and
    the newer one gets a problem naming the holder.
    """
    by_service: dict[str, list[Mapping[str, Any]]] = {}
    for task in tasks:
        if task.get("DesiredState") == "running":
            by_service.setdefault(str(task.get("ServiceID", "")), []).append(task)
    routes: dict[tuple[str, str], Route] = {}
    streams: dict[tuple[int, str], Stream] = {}
    upstreams: dict[str, Upstream] = {}
    problems: list[RouteProblem] = []
    networks: set[str] = set()
    for service in sorted(services, key=lambda s: (str(s.get("CreatedAt", "")), s.get("ID"))):
        spec = service.get("Spec") or {}
        labels: Mapping[str, str] = spec.get("Labels") or {}
        name = str(spec.get("Name", ""))
        app, proc = labels.get("lain.app", name), labels.get("lain.proc", name)
        network = labels.get(LABEL_NETWORK, "")
        if not all(_NAME.match(n) for n in (name, network, app, proc)):
            problems.append(RouteProblem(app, proc, f"service {name!r}: bad router labels"))
            continue
        networks.add(network)
        service_tasks = by_service.get(str(service.get("ID", "")), [])
        instances = (service_tasks, network, app, proc)
        try:
            http = _http_routes(labels, name, app, proc)
        except ValueError as e:
            problems.append(RouteProblem(app, proc, str(e)))
            http = None
        if http is not None:
            port, claimed = http
            kept = [r for r in claimed if _claim(routes, (r.host, r.path), r, problems)]
            if kept:
                upstreams[name] = _upstream(name, port, *instances)
        for stream in _stream_ports(labels, app, proc, problems):
            key = (stream.src, stream.protocol)
            upstream = _upstream(f"{name}_{stream.protocol}{stream.src}", stream.dst, *instances)
            entry = Stream(stream.src, stream.protocol, upstream)
            if key in streams:
                holder = streams[key].upstream
                problems.append(
                    RouteProblem(
                        app, proc, f"port {stream.text()} is taken by {holder.app} ({holder.proc})"
                    )
                )
                continue
            streams[key] = entry
            upstreams[upstream.name] = upstream
    ordered = sorted(routes.values(), key=lambda r: (r.host, -len(r.path), r.path))
    return RouterModel(
        routes=tuple(ordered),
        upstreams=upstreams,
        streams=tuple(sorted(streams.values(), key=lambda s: (s.port, s.protocol))),
        problems=tuple(problems),
        networks=frozenset(networks),
    )


def _http_routes(
    labels: Mapping[str, str], upstream: str, app: str, proc: str
) -> tuple[int, list[Route]] | None:
    raw = labels.get(LABEL_MOUNTPOINTS)
    if raw is None:
        return None
    port = _port(labels.get(LABEL_PORT, ""))
    points = json.loads(raw) if raw.startswith("[") else None
    if not isinstance(points, list) or not all(isinstance(p, str) for p in points):
        raise ValueError(f"{LABEL_MOUNTPOINTS} is not a JSON list of strings")
    https_only = labels.get(LABEL_HTTPS_ONLY) == "true"
    routes = []
    for point in points:
        host, path = parse_mountpoint(point)
        routes.append(Route(host, path, upstream, app, proc, https_only))
    return port, routes


def _claim(
    routes: dict[tuple[str, str], Route],
    key: tuple[str, str],
    route: Route,
    problems: list[RouteProblem],
) -> bool:
    holder = routes.get(key)
    if holder is None:
        routes[key] = route
        return True
    if holder.upstream != route.upstream:
        problems.append(
            RouteProblem(
                route.app,
                route.proc,
                f"{route.mountpoint} is served by {holder.app} ({holder.proc})",
            )
        )
    return False


def _stream_ports(
    labels: Mapping[str, str], app: str, proc: str, problems: list[RouteProblem]
) -> list[StreamPort]:
    raw = labels.get(LABEL_STREAMS)
    if raw is None:
        return []
    try:
        entries = json.loads(raw)
        if not isinstance(entries, list):
            raise ValueError
    except ValueError:
        problems.append(RouteProblem(app, proc, f"{LABEL_STREAMS} is not a JSON list"))
        return []
    found = []
    for entry in entries:
        match = _STREAM.match(entry) if isinstance(entry, str) else None
        if not match or int(match[1]) not in STREAM_PORTS or not 0 < int(match[2]) < 65536:
            problems.append(
                RouteProblem(
                    app,
                    proc,
                    f"stream port {entry!r}: want SRC:DST/tcp|udp with SRC in "
                    f"{STREAM_PORTS.start}-{STREAM_PORTS.stop - 1}",
                )
            )
            continue
        found.append(StreamPort(int(match[1]), int(match[2]), match[3]))
    return found


def _upstream(
    name: str,
    port: int,
    tasks: Iterable[Mapping[str, Any]],
    network: str,
    app: str,
    proc: str,
) -> Upstream:
    return Upstream(name, app, proc, tuple(_backends(tasks, network, port)))


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"{LABEL_PORT} {text!r} is not a port number")
    return int(text)


def _backends(tasks: Iterable[Mapping[str, Any]], network: str, port: int) -> Iterable[Backend]:
    for task in sorted(tasks, key=lambda t: (t.get("Slot") or 0, str(t.get("ID")))):
        state = (task.get("Status") or {}).get("State")
        if state != "running" and state not in _STARTING:
            continue
        address = _address_on(task, network)
        if address:
            yield Backend(address, port, state == "running", str(task.get("ID", "")))


def _address_on(task: Mapping[str, Any], network: str) -> str | None:
    for attachment in task.get("NetworksAttachments") or ():
        if ((attachment.get("Network") or {}).get("Spec") or {}).get("Name") != network:
            continue
        for cidr in attachment.get("Addresses") or ():
            address = str(cidr).split("/", 1)[0]
            if re.fullmatch(r"[0-9.]+|[0-9a-fA-F:]+", address):
                return address
    return None


def without_apps(model: RouterModel, apps: Iterable[str]) -> RouterModel:
    """``model`` with nothing of ``apps``: what the router serves when their part of the
    configuration is refused."""
    left = set(apps)
    return model._replace(
        routes=tuple(r for r in model.routes if r.app not in left),
        upstreams={k: u for k, u in model.upstreams.items() if u.app not in left},
        streams=tuple(s for s in model.streams if s.upstream.app not in left),
    )


def apps_of(model: RouterModel) -> dict[str, tuple[object, ...]]:
    """Each app's share of ``model``, comparable between two models: which apps changed."""
    shares: dict[str, list[object]] = {}
    for route in model.routes:
        shares.setdefault(route.app, []).append(route)
    for upstream in model.upstreams.values():
        shares.setdefault(upstream.app, []).append(upstream)
    return {app: tuple(share) for app, share in shares.items()}
