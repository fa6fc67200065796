"""What a deploy would change: desired services compared with the live ones (pure).

A plan names, per proc, whether its service is created, updated, removed or left alone, and for
an update which fields change (image, instances, cpu, memory, command, healthcheck, ports,
volumes, secrets, and the names of env variables: never their values, which may be secret).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lain_sdk.cluster.desired import DesiredState
from lain_sdk.cluster.placement import DataNode
from lain_sdk.cluster.sizing import format_number, spec_scale
from lain_sdk.cluster.spec import (
    ReplacedVolume,
    container_of,
    env_of,
    image_of,
    links_of,
    same_spec,
    secret_versions,
)
from lain_sdk.units import format_bytes

SCALE_FIELDS = ("instances", "cpu", "memory")


@dataclass(frozen=True)
class ProcChange:
    """What a deploy does to one proc.

    Attributes:
        proc: the proc name.
        action: ``create``, ``update``, ``remove`` or ``unchanged``.
        service: the Swarm service name.
        changes: field -> ``{"from": old, "to": new}`` for image, instances, cpu, memory,
            command, healthcheck, ports, volumes, secrets, clients (the apps whose link
            networks a provider's proc joins); ``env`` -> ``{"added": [...],
            "removed": [...], "changed": [...]}`` (names only: values may be secret);
            ``settings`` when something else in the spec changed.
    """

    proc: str
    action: str
    service: str
    changes: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "proc": self.proc,
            "action": self.action,
            "service": self.service,
            "changes": dict(self.changes),
        }

    def summary(self) -> str:
        """The changes in a few words (``image, instances 1 -> 2``)."""
        parts = []
        for key, value in self.changes.items():
            if key == "env":
                names = [
                    *value.get("added", []),
                    *value.get("changed", []),
                    *value.get("removed", []),
                ]
                parts.append(f"env {', '.join(names)}")
            elif isinstance(value, dict) and "from" in value:
                parts.append(_describe_field(key, value["from"], value["to"]))
            elif self.action != "create":  # a new proc: everything is new, name the rest
                parts.append(key)
        return ", ".join(parts)


def _describe_field(key: str, old: Any, new: Any) -> str:
    if key in SCALE_FIELDS:
        if old is None:
            return f"{key} {_show(key, new)}"
        return f"{key} {_show(key, old)} -> {_show(key, new)}"
    if key == "image":
        name, _, digest = str(new).partition("@")
        return f"image {name}@{digest[:19]}" if digest else f"image {name}"
    return key


def _show(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if key == "memory":
        return format_bytes(int(value))
    if key == "cpu":
        return "unlimited" if not value else format_number(float(value))
    return str(value)


@dataclass(frozen=True)
class Plan:
    """What a deploy would change.

    Attributes:
        app: the app.
        meta_version: the version the deploy would run.
        current_release: the release running now (None: nothing deployed).
        network: the app's network; ``create_network`` is True when it does not exist yet.
        procs: one :class:`ProcChange` per proc (unchanged ones included).
        resource_instances: the plans of the client's resource instances, which a deploy
            changes first.
        data_nodes: where each stateful proc's data is kept (or will be: a node the deploy
            labels for it).
        replaced_volumes: shared volumes of stateful procs (an earlier lain's layout) that the
            deploy would replace by a volume per instance; it refuses unless told to accept.
    """

    app: str
    meta_version: str
    current_release: int | None
    network: str
    create_network: bool
    procs: tuple[ProcChange, ...]
    resource_instances: tuple[Plan, ...] = ()
    data_nodes: tuple[DataNode, ...] = ()
    replaced_volumes: tuple[ReplacedVolume, ...] = ()

    @property
    def changed(self) -> bool:
        return (
            self.create_network
            or any(p.action != "unchanged" for p in self.procs)
            or any(i.changed for i in self.resource_instances)
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "meta_version": self.meta_version,
            "current_release": self.current_release,
            "changed": self.changed,
            "network": {"name": self.network, "create": self.create_network},
            "procs": [p.to_dict() for p in self.procs],
            "resource_instances": [i.to_dict() for i in self.resource_instances],
            "data_nodes": [d.to_dict() for d in self.data_nodes],
            "replaced_volumes": [v.to_dict() for v in self.replaced_volumes],
        }


def proc_change(proc: str, spec: Mapping[str, Any], live: Mapping[str, Any] | None) -> ProcChange:
    """What putting ``spec`` in place of the ``live`` spec (None: no service yet) does."""
    name = str(spec["Name"])
    if live is None:
        return ProcChange(proc, "create", name, describe_changes(spec, None))
    if same_spec(live, spec):
        return ProcChange(proc, "unchanged", name)
    return ProcChange(proc, "update", name, describe_changes(spec, live))


def plan_changes(
    desired: DesiredState,
    live: Mapping[str, Mapping[str, Any]],
    *,
    network_exists: bool,
    current_release: int | None = None,
    remove_others: bool = True,
) -> Plan:
    """Compare desired services with live ones.

    Args:
        desired: the desired state.
        live: proc name -> the live service's spec (as the engine returns it).
        network_exists: whether the app's network is there already.
        current_release: the release running now, for the plan's header.
        remove_others: live procs missing from ``desired`` are to be removed (False when the
            deploy is limited to some procs).
    """
    changes = [proc_change(s.proc, s.spec, live.get(s.proc)) for s in desired.services]
    if remove_others:
        wanted = {s.proc for s in desired.services}
        for proc, spec in sorted(live.items()):
            if proc not in wanted:
                changes.append(ProcChange(proc, "remove", str(spec.get("Name", proc))))
    return Plan(
        app=desired.app,
        meta_version=desired.meta_version,
        current_release=current_release,
        network=desired.network.name,
        create_network=not network_exists,
        procs=tuple(changes),
    )


def _fields(spec: Mapping[str, Any]) -> dict[str, Any]:
    container = container_of(spec)
    scale = spec_scale(spec)
    ports = (spec.get("EndpointSpec") or {}).get("Ports") or []
    return {
        "image": image_of(spec) or None,
        "instances": scale.instances,
        "cpu": scale.cpu,
        "memory": scale.memory,
        "command": [*(container.get("Command") or []), *(container.get("Args") or [])] or None,
        "healthcheck": (container.get("Healthcheck") or {}).get("Test"),
        "ports": sorted(f"{p.get('TargetPort')}/{p.get('Protocol', 'tcp')}" for p in ports),
        "volumes": sorted(m.get("Target", "") for m in container.get("Mounts") or []),
        "secrets": secret_versions(spec),
        "clients": sorted(links_of(spec)),
    }


def describe_changes(spec: Mapping[str, Any], current: Mapping[str, Any] | None) -> dict[str, Any]:
    """What differs between a live spec (None: there is none) and a desired one, in the terms
    of :class:`ProcChange.changes`."""
    new = _fields(spec)
    if current is None:
        return {k: {"from": None, "to": v} for k, v in new.items() if v not in (None, [], {})}
    old = _fields(current)
    changes: dict[str, Any] = {k: {"from": old[k], "to": v} for k, v in new.items() if old[k] != v}
    new_env, old_env = env_of(spec), env_of(current)
    env = {
        "added": sorted(set(new_env) - set(old_env)),
        "removed": sorted(set(old_env) - set(new_env)),
        "changed": sorted(k for k in set(new_env) & set(old_env) if new_env[k] != old_env[k]),
    }
    if any(env.values()):
        changes["env"] = {k: v for k, v in env.items() if v}
    if not changes:
        changes["settings"] = "changed"
    return changes
