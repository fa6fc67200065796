"""Numbered releases, kept in the cluster itself so that every teammate sees the same history.

Release N of an app is the Swarm config ``lain-release-<app>-<N>``.  Its data (immutable, JSON)
is a snapshot of the whole app after that deploy, scale or rollback: the meta version, the
lain.yaml text, and per proc the image (pinned by digest), instances, cpu, memory, the versions
of its secret files (never their values) and the full service spec, so ``lain rollback N`` can
put back exactly what ran.  Whether it worked (``pending``, ``succeeded``, ``failed``) is a
label, because config data cannot change and labels can.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from lain_sdk.cluster.engine_calls import is_conflict, is_not_found, update_config_labels
from lain_sdk.cluster.identity import current_user, now_iso
from lain_sdk.cluster.names import (
    LABEL_APP,
    LABEL_KIND,
    LABEL_OUTCOME,
    LABEL_REASON,
    LABEL_RELEASE,
    release_config_name,
)
from lain_sdk.cluster.session import Cluster
from lain_sdk.cluster.sizing import ProcScale, spec_scale
from lain_sdk.cluster.spec import image_of, secret_versions, without_config_vars
from lain_sdk.cluster.views import Service
from lain_sdk.errors import ClusterError, InvalidArgument

OUTCOMES = ("pending", "succeeded", "failed")
KINDS = ("deploy", "scale", "rollback", "secret", "env")
MAX_REASON = 500  # keep labels small; the full reason is in the error the user saw


@dataclass(frozen=True)
class ReleaseProc:
    """One proc in a release: what it ran and how much of it."""

    image: str
    instances: int
    cpu: float
    memory: int
    spec: Mapping[str, Any] = field(default_factory=dict, repr=False)
    # path -> version of the secret files it mounted (read from the spec; never values)
    secrets: Mapping[str, int] = field(default_factory=dict)

    @property
    def scale(self) -> ProcScale:
        return ProcScale(self.instances, self.cpu, self.memory)

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> ReleaseProc:
        """What a release records of a spec: all of it but the config vars' values."""
        spec = without_config_vars(spec)
        scale = spec_scale(spec)
        return cls(
            image=image_of(spec),
            instances=scale.instances,
            cpu=scale.cpu,
            memory=scale.memory,
            spec=spec,
            secrets=secret_versions(spec),
        )

    def to_dict(self, with_spec: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "image": self.image,
            "instances": self.instances,
            "cpu": self.cpu,
            "memory": self.memory,
            "secrets": dict(sorted(self.secrets.items())),
        }
        if with_spec:
            data["spec"] = self.spec
        return data


@dataclass(frozen=True)
class Release:
    """A numbered snapshot of an app on the cluster.

    Attributes:
        app: the app.
        number: 1, 2, ...
        kind: ``deploy``, ``scale``, ``rollback``, ``secret`` (a new secret version rolled
            out) or ``env`` (a new set of config vars rolled out).
        outcome: ``pending`` (in progress, not waited for, or interrupted), ``succeeded`` or
            ``failed``.
        meta_version: the version it runs.
        lain_yaml: the lain.yaml text of that version.
        procs: proc name -> :class:`ReleaseProc`.
        user: ``user@host`` of whoever made it.
        time: when it was made (ISO 8601, UTC).
        rollback_of: for a rollback, the release it restored.
        reason: for a failed release, why (shortened).
    """

    app: str
    number: int
    kind: str
    outcome: str
    meta_version: str
    lain_yaml: str
    procs: Mapping[str, ReleaseProc]
    user: str
    time: str
    rollback_of: int | None = None
    reason: str = ""
    config_id: str = field(default="", repr=False)
    config_version: int = field(default=0, repr=False)

    def to_dict(self, with_specs: bool = False) -> dict[str, Any]:
        return {
            "app": self.app,
            "number": self.number,
            "kind": self.kind,
            "outcome": self.outcome,
            "meta_version": self.meta_version,
            "procs": {n: p.to_dict(with_specs) for n, p in sorted(self.procs.items())},
            "user": self.user,
            "time": self.time,
            "rollback_of": self.rollback_of,
            "reason": self.reason,
        }


def _from_config(config: Mapping[str, Any]) -> Release | None:
    spec = config.get("Spec") or {}
    labels = spec.get("Labels") or {}
    try:
        data = json.loads(base64.b64decode(spec.get("Data") or b""))
        procs = {
            name: ReleaseProc(
                image=p["image"],
                instances=int(p["instances"]),
                cpu=float(p["cpu"]),
                memory=int(p["memory"]),
                spec=p.get("spec") or {},
                secrets={str(k): int(v) for k, v in (p.get("secrets") or {}).items()},
            )
            for name, p in (data.get("procs") or {}).items()
        }
        return Release(
            app=data["app"],
            number=int(data["number"]),
            kind=data.get("kind", "deploy"),
            outcome=labels.get(LABEL_OUTCOME, "pending"),
            meta_version=data.get("meta_version", ""),
            lain_yaml=data.get("lain_yaml", ""),
            procs=procs,
            user=data.get("user", ""),
            time=data.get("time", ""),
            rollback_of=data.get("rollback_of"),
            reason=labels.get(LABEL_REASON, ""),
            config_id=str(config.get("ID", "")),
            config_version=int((config.get("Version") or {}).get("Index", 0)),
        )
    except (ValueError, KeyError, TypeError):
        return None  # not a record this lain can read (hand-made, or a future format)


def read_releases(cluster: Cluster, app: str) -> list[Release]:
    """Every release of ``app``, oldest first (one engine call)."""
    with cluster.errors(f"list the releases of {app}"):
        configs = cluster.api.configs(filters={"label": [f"{LABEL_APP}={app}", LABEL_RELEASE]})
    releases = [r for r in map(_from_config, configs) if r is not None and r.app == app]
    return sorted(releases, key=lambda r: r.number)


def next_number(history: list[Release]) -> int:
    """The number the next release of an app with ``history`` gets."""
    return history[-1].number + 1 if history else 1


def find_release(history: Iterable[Release], number: int | None) -> Release | None:
    """Release ``number`` in ``history`` (None when it is not there)."""
    return next((x for x in history if x.number == number), None)


def snapshot(services: Mapping[str, Service], current: Release | None) -> dict[str, ReleaseProc]:
    """What runs now, per proc: from the current release record, else from the live specs."""
    procs = {}
    for proc, service in services.items():
        recorded = current.procs.get(proc) if current is not None else None
        procs[proc] = (
            recorded
            if recorded is not None and recorded.spec
            else ReleaseProc.from_spec(service.spec)
        )
    return procs


def create_release(
    cluster: Cluster,
    *,
    app: str,
    kind: str,
    meta_version: str,
    lain_yaml: str,
    procs: Mapping[str, ReleaseProc],
    rollback_of: int | None = None,
    number: int | None = None,
) -> Release:
    """Record a new release (outcome ``pending``) with the next free number.

    Args:
        number: the number to use, as already put in the specs' labels (default: one more
            than the newest, moving on when another client takes it first).

    Raises:
        ClusterError: the engine refused to store the record, or ``number`` is taken.
    """
    strict = number is not None
    number = number if number is not None else next_number(read_releases(cluster, app))
    user, when = current_user(), now_iso()
    for _ in range(100):
        data = {
            "app": app,
            "number": number,
            "kind": kind,
            "meta_version": meta_version,
            "lain_yaml": lain_yaml,
            "procs": {n: p.to_dict(with_spec=True) for n, p in sorted(procs.items())},
            "user": user,
            "time": when,
            "rollback_of": rollback_of,
        }
        labels = {LABEL_APP: app, LABEL_RELEASE: str(number), LABEL_KIND: kind}
        labels[LABEL_OUTCOME] = "pending"
        with cluster.errors(f"record release {number} of {app}"):
            try:
                created = cluster.api.create_config(
                    release_config_name(app, number),
                    json.dumps(data, sort_keys=True).encode(),
                    labels=labels,
                )
            except Exception as e:
                # Config names are unique, so a taken number means someone else recorded it.
                if not is_conflict(e):
                    raise
                if strict:
                    raise ClusterError(
                        f"release {number} of {app} was recorded by someone else meanwhile; "
                        "run the command again"
                    ) from e
                number += 1
                continue
        return Release(
            app=app,
            number=number,
            kind=kind,
            outcome="pending",
            meta_version=meta_version,
            lain_yaml=lain_yaml,
            procs=dict(procs),
            user=user,
            time=when,
            rollback_of=rollback_of,
            config_id=str(created.get("ID", "")),
        )
    raise ClusterError(f"could not find a free release number for {app}")


def set_outcome(cluster: Cluster, release: Release, outcome: str, reason: str = "") -> Release:
    """Mark a release ``succeeded`` or ``failed`` (a label update; the record itself is fixed).

    Raises:
        InvalidArgument: not an outcome.
        ClusterError: the engine refused the update.
    """
    if outcome not in OUTCOMES:
        raise InvalidArgument(f"outcome must be one of {', '.join(OUTCOMES)}, not {outcome!r}")
    reason = reason[:MAX_REASON]
    config_id = release.config_id or release_config_name(release.app, release.number)
    with cluster.errors(f"mark release {release.number} of {release.app} {outcome}"):
        config = cluster.api.inspect_config(config_id)
        labels = dict(config["Spec"].get("Labels") or {})
        labels[LABEL_OUTCOME] = outcome
        if reason:
            labels[LABEL_REASON] = reason
        else:
            labels.pop(LABEL_REASON, None)
        update_config_labels(cluster.api, config, labels)
    return replace(release, outcome=outcome, reason=reason)


def remove_releases(cluster: Cluster, app: str) -> int:
    """Delete every release record of ``app``; return how many there were."""
    removed = 0
    for release in read_releases(cluster, app):
        with cluster.errors(f"remove release {release.number} of {app}"):
            try:
                cluster.api.remove_config(release.config_id)
                removed += 1
            except Exception as e:
                if not is_not_found(e):
                    raise
    return removed
