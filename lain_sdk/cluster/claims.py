"""Which mountpoints and stream ports the live services of other apps hold, and refusing a
deploy that would take one.

The router serves a mountpoint (a host and a path prefix) or a stream port (a number and a
protocol) for one service only: the one that held it first keeps it, and a newer claim is left
out of the router's configuration (see :func:`lain_router.model.build_model`).  So that no app
is deployed only to be left out, a deploy, its plan and a rollback compare what the app would
claim with what the live services of *other* apps hold, read from their router labels with the
router's own parser, and are refused with :class:`~lain_sdk.errors.RouteTaken` before anything
changes.  The app's own services hold nothing against it: it may deploy its mountpoints again,
or move one from one of its procs to another.

Two apps deployed at the same moment may both pass the check; the router then serves the
claim for the older service and names the other in ``lain router status``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from lain_router.labels import LABEL_NETWORK
from lain_router.model import build_model
from lain_sdk.appconfig.model import AppConfig
from lain_sdk.cluster import discovery, routing
from lain_sdk.cluster.names import LABEL_APP, LABEL_PROC, service_name
from lain_sdk.cluster.session import Cluster
from lain_sdk.errors import AppConfigError, Problem, RouteTaken, TakenRoute

MOUNTPOINT = "mountpoint"
STREAM_PORT = "stream port"


class Claim(NamedTuple):
    """Something the router serves for one service only.

    Attributes:
        kind: ``mountpoint`` or ``stream port``.
        what: the mountpoint as the router reads it (``shop.example.com/api``, the host
            lower-cased and the path without a trailing slash) or the port (``9531/tcp``).
        app: the app whose service claims it.
        proc: that service's proc.
    """

    kind: str
    what: str
    app: str
    proc: str

    @property
    def key(self) -> tuple[str, str]:
        return self.kind, self.what


def claims_of(services: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], Claim]:
    """What ``services`` (Engine API service documents) claim from the router, by
    :attr:`Claim.key`; of two services claiming the same, the one the router serves it for
    (the older).  Labels the router refuses claim nothing."""
    model = build_model(services, [])
    found: dict[tuple[str, str], Claim] = {}
    for route in model.routes:
        claim = Claim(MOUNTPOINT, route.mountpoint, route.app, route.proc)
        found[claim.key] = claim
    for stream in model.streams:
        what = f"{stream.port}/{stream.protocol}"
        claim = Claim(STREAM_PORT, what, stream.upstream.app, stream.upstream.proc)
        found[claim.key] = claim
    return found


def held_by_others(cluster: Cluster, app: str) -> dict[tuple[str, str], Claim]:
    """What the live services of every app but ``app`` hold (one engine call)."""
    with cluster.errors("list the services the router serves"):
        found = cluster.api.services(filters={"label": LABEL_NETWORK})
    others = [s for s in found if ((s.get("Spec") or {}).get("Labels") or {}).get(LABEL_APP) != app]
    return claims_of(others)


def _document(app: str, proc: str, labels: Mapping[str, str]) -> dict[str, Any]:
    """A service document as the engine would return it for ``proc`` with ``labels``."""
    name = service_name(app, proc)
    return {
        "ID": name,
        "Spec": {"Name": name, "Labels": {**labels, LABEL_APP: app, LABEL_PROC: proc}},
    }


def wanted_claims(app: str, labels: Mapping[str, Mapping[str, str]]) -> list[Claim]:
    """What ``app``'s procs would claim, given each proc's service labels (proc -> labels)."""
    claims: list[Claim] = []
    for proc, proc_labels in labels.items():
        claims += claims_of([_document(app, proc, proc_labels)]).values()
    return claims


def taken(wanted: Iterable[Claim], held: Mapping[tuple[str, str], Claim]) -> list[TakenRoute]:
    """The claims in ``wanted`` that a claim in ``held`` holds already."""
    found = []
    for claim in wanted:
        holder = held.get(claim.key)
        if holder is not None:
            found.append(TakenRoute(claim.proc, claim.kind, claim.what, holder.app, holder.proc))
    return found


def check_claims(cluster: Cluster, app: str, labels: Mapping[str, Mapping[str, str]]) -> None:
    """Refuse what ``app``'s procs would claim (proc -> its service's labels) when another
    app's live service holds it.  Nothing is asked of the engine when they claim nothing.

    Raises:
        RouteTaken: naming each claim that is held, and its holder.
    """
    wanted = wanted_claims(app, labels)
    if not wanted:
        return
    found = taken(wanted, held_by_others(cluster, app))
    if found:
        raise RouteTaken(app, cluster.name, found)


def config_labels(
    config: AppConfig, procs: Iterable[str] | None = None
) -> dict[str, dict[str, str]]:
    """The router's labels of the procs of ``config`` a deploy runs (``procs``: only these)."""
    wanted = set(procs) if procs is not None else None
    return {
        proc.name: routing.routing_labels(config, proc)
        for proc in config.procs
        if (wanted is None or proc.name in wanted)
        and discovery.is_deployed(proc)
        and routing.is_routed(proc)
    }


def check_app_claims(
    cluster: Cluster, config: AppConfig, procs: Iterable[str] | None = None
) -> None:
    """Check what deploying ``config`` (only ``procs``, when given) would claim from the
    router: every mountpoint and stream port one the router takes, none held by another app.

    Raises:
        AppConfigError: a mountpoint or stream port the router would refuse (one that a
            template of a resource rendered, which ``lain validate`` could not check).
        RouteTaken: one another app's live service holds.
    """
    labels = config_labels(config, procs)
    problems = []
    for proc, proc_labels in labels.items():
        model = build_model([_document(config.appname, proc, proc_labels)], [])
        problems += [
            Problem(0, 0, "", f"proc {proc}: {p.message}; the router would not serve it")
            for p in model.problems
        ]
    if problems:
        raise AppConfigError(problems)
    check_claims(cluster, config.appname, labels)
