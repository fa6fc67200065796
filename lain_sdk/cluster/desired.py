"""What should run on the cluster for one release of an app: a pure function of its inputs.

:func:`desired_state` turns an :class:`~lain_sdk.appconfig.model.AppConfig`, the release's image
and the cluster's settings into one overlay network, one Swarm service per proc and the named
volumes those services mount.  Services are Engine API ``ServiceSpec`` documents (plain dicts),
so the backend sends them as they are and the unit tests read them without an engine.

Nothing here talks to Docker; :func:`plan_changes` compares desired services with the live ones
(dicts as the engine lists them) to say what a deploy would change.

Mapping from lain.yaml (the table in the README repeats it):

- ``num_instances`` -> replicas; ``memory`` -> ``Resources.Limits.MemoryBytes``.
- ``cpu`` -> ``Resources.Limits.NanoCPUs``: lain reads ``cpu`` as a number of CPUs (like
  ``docker run --cpus``), 0 meaning no limit.  lain v2 read it as a level 1-8 of a node
  (level/8 of the node's CPUs); reading it as a CPU count gives a v2 app at least as much CPU
  as before on nodes of up to 8 CPUs, and limits never affect scheduling, so no app stops
  fitting.  ``lain scale --cpu`` takes decimals (0.5 = half a CPU).
- ``healthcheck``/``container_healthcheck`` -> the container healthcheck, ``setup_time`` as
  its start period and as the update delay; ``kill_timeout`` -> stop grace period.
- ``persistent_dirs`` (and ``/lain/logs``) -> named volumes ``lain_<app>_<proc>_<path>``;
  on a multi-node cluster a named volume lives on the node that runs the task.
- ``secret_files`` -> the newest version of each file's Swarm secret, mounted at its path with
  mode 0400 (:mod:`lain_sdk.cluster.secrets` finds them; this module only places them).
- Rolling updates start the new task first, one at a time, wait for it to be healthy and roll
  back by themselves when it fails.
- Networks: the app's own overlay network, where each proc answers to its name and service
  names answer as :mod:`lain_sdk.cluster.discovery` says, plus the networks of the apps in
  ``use_services`` and of the resource instances (``use_resources``); portals without a
  program of their own are not services at all.
- Every service uses endpoint mode ``dnsrr`` (no virtual IP, no ingress mesh): that works on
  every engine, IPVS or not.  On a cluster with ``publish_ports`` (the local default), web
  procs publish their port in host mode on an ephemeral port per task, so two instances on one
  node do not clash and start-first updates work.

Scale wins until lain.yaml changes: each service keeps, in labels, the instances, cpu and
memory of the lain.yaml it was deployed from.  A deploy keeps the live (scaled) value unless
the new lain.yaml changed that value compared to the lain.yaml of the previous deploy
(:func:`effective_scale`).  lain v2 kept the live values forever, so a lain.yaml edit did nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lain_sdk.cluster import discovery

if TYPE_CHECKING:
    from lain_sdk.appconfig.model import AppConfig, Proc
    from lain_sdk.settings import ClusterSettings

# Labels lain puts on every object it creates.
LABEL_APP = "lain.app"
LABEL_PROC = "lain.proc"
LABEL_PROCTYPE = "lain.proctype"
LABEL_RELEASE = "lain.release"
# Labels on services only.
LABEL_VERSION = "lain.version"  # meta version the service runs
LABEL_SPEC_HASH = "lain.spec-hash"  # hash of the desired spec: equal hash, nothing to change
LABEL_YAML_INSTANCES = "lain.yaml.instances"  # the lain.yaml values the service came from
LABEL_YAML_CPU = "lain.yaml.cpu"
LABEL_YAML_MEMORY = "lain.yaml.memory"
# Labels left out of the spec hash: they say where a spec came from, not what it runs.
_UNHASHED_LABELS = (LABEL_RELEASE, LABEL_SPEC_HASH)

MAX_NAME = 63  # Swarm service names are DNS labels
NANO = 1_000_000_000
# How long Swarm watches an updated task for failure before moving on (and before the update
# counts as completed): long enough to catch a crash right after the healthcheck passed.
UPDATE_MONITOR_SECONDS = 3


# -- names -------------------------------------------------------------------------------------


def app_slug(app: str) -> str:
    """The app name as used inside object names: dots become ``_``.

    App names never contain ``_`` (nor ``--``), so this cannot make two apps' names collide.
    """
    return app.replace(".", "_")


def fit_name(name: str, limit: int = MAX_NAME) -> str:
    """``name`` itself when short enough, else truncated with a short hash of the whole."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: limit - 9].rstrip('_-.')}-{digest}"


def service_name(app: str, proc: str) -> str:
    """The Swarm service of a proc: ``<app>__<proc>`` (dots in the app name as ``_``)."""
    return fit_name(f"{app_slug(app)}__{proc}")


def network_name(app: str) -> str:
    """The app's overlay network: ``lain_<app>``."""
    return fit_name(f"lain_{app_slug(app)}")


def path_slug(path: str) -> str:
    """A volume path as a name part: ``/lain/logs`` -> ``lain-logs``."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", path).strip("-")
    return slug or "root"


def volume_name(app: str, proc: str, path: str) -> str:
    """The named volume for one persistent dir of a proc: ``lain_<app>_<proc>_<path>``."""
    return fit_name(f"lain_{app_slug(app)}_{proc}_{path_slug(path)}", 255)


def release_config_name(app: str, number: int) -> str:
    """The Swarm config holding release ``number`` of ``app``."""
    return fit_name(f"lain-release-{app}-{number}", 64)


def lock_config_name(app: str) -> str:
    """The Swarm config that is the deploy lock of ``app``."""
    return fit_name(f"lain-lock-{app}", 64)


# -- values ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcScale:
    """Instances and resource limits of one proc.

    Attributes:
        instances: replicas.
        cpu: CPUs (0 = no limit); decimals allowed.
        memory: bytes.
    """

    instances: int
    cpu: float
    memory: int

    def to_dict(self) -> dict[str, Any]:
        return {"instances": self.instances, "cpu": self.cpu, "memory": self.memory}


@dataclass(frozen=True)
class DesiredService:
    """One proc's service as it should be: its name and its Engine API ``ServiceSpec``."""

    proc: str
    proctype: str
    name: str
    spec: Mapping[str, Any]
    scale: ProcScale

    @property
    def spec_hash(self) -> str:
        return str(self.spec["Labels"][LABEL_SPEC_HASH])

    @property
    def image(self) -> str:
        return str(self.spec["TaskTemplate"]["ContainerSpec"]["Image"])


@dataclass(frozen=True)
class DesiredNetwork:
    name: str
    labels: Mapping[str, str]
    driver: str = "overlay"
    attachable: bool = True


@dataclass(frozen=True)
class DesiredVolume:
    name: str
    proc: str
    path: str
    labels: Mapping[str, str]


@dataclass(frozen=True)
class DesiredState:
    """Everything one release of an app should have on the cluster."""

    app: str
    meta_version: str
    release: int
    network: DesiredNetwork
    services: tuple[DesiredService, ...]
    volumes: tuple[DesiredVolume, ...] = ()

    def service(self, proc: str) -> DesiredService:
        for s in self.services:
            if s.proc == proc:
                return s
        raise KeyError(proc)


# -- scale -------------------------------------------------------------------------------------


def yaml_scale(proc: Proc) -> ProcScale:
    """The instances, cpu and memory lain.yaml asks for."""
    return ProcScale(instances=proc.num_instances, cpu=float(proc.cpu), memory=proc.memory)


def live_scale(service_spec: Mapping[str, Any]) -> tuple[ProcScale, ProcScale | None]:
    """What a live service runs, and the lain.yaml values it was deployed from (None if unknown).

    Args:
        service_spec: the service's ``Spec`` as the engine returns it.
    """
    replicated = (service_spec.get("Mode") or {}).get("Replicated") or {}
    limits = ((service_spec.get("TaskTemplate") or {}).get("Resources") or {}).get("Limits") or {}
    live = ProcScale(
        instances=int(replicated.get("Replicas", 0) or 0),
        cpu=(limits.get("NanoCPUs") or 0) / NANO,
        memory=int(limits.get("MemoryBytes") or 0),
    )
    labels = service_spec.get("Labels") or {}
    try:
        deployed_from = ProcScale(
            instances=int(labels[LABEL_YAML_INSTANCES]),
            cpu=float(labels[LABEL_YAML_CPU]),
            memory=int(labels[LABEL_YAML_MEMORY]),
        )
    except (KeyError, ValueError):
        deployed_from = None
    return live, deployed_from


def effective_scale(
    wanted: ProcScale, live: ProcScale | None, deployed_from: ProcScale | None
) -> ProcScale:
    """The scale a deploy gives a proc: the live value unless lain.yaml changed that value.

    Args:
        wanted: what the new lain.yaml asks for.
        live: what the running service has (None: the proc is new).
        deployed_from: the lain.yaml values of the previous deploy (None: unknown, so lain.yaml
            wins).
    """
    if live is None or deployed_from is None:
        return wanted

    def pick(new: Any, before: Any, running: Any) -> Any:
        return running if new == before else new

    return ProcScale(
        instances=pick(wanted.instances, deployed_from.instances, live.instances),
        cpu=pick(wanted.cpu, deployed_from.cpu, live.cpu),
        memory=pick(wanted.memory, deployed_from.memory, live.memory),
    )


# -- the desired state -------------------------------------------------------------------------


def desired_state(
    app: AppConfig,
    *,
    meta_version: str,
    image: str,
    cluster: ClusterSettings,
    release: int,
    scale: Mapping[str, ProcScale] | None = None,
    procs: Iterable[str] | None = None,
    secret_mounts: Mapping[str, Iterable[Mapping[str, Any]]] | None = None,
) -> DesiredState:
    """The network, services and volumes one release of ``app`` should have.

    Args:
        app: the release's lain.yaml, loaded.
        meta_version: the release's meta version (``LAIN_APP_RELEASE_VERSION``).
        image: the release image, best pinned by digest
            (``<registry>/<app>:release-<mv>@sha256:...``) so a rollback runs the same bytes.
        cluster: the cluster's settings (domains, whether web procs publish host ports).
        release: the release number, put in the ``lain.release`` label.
        scale: instances/cpu/memory per proc name; procs not listed get lain.yaml's values
            (use :func:`effective_scale` for the scale-wins rule).
        procs: only these procs (default: all of them).
        secret_mounts: proc -> its ``ContainerSpec.Secrets`` entries, as
            :func:`lain_sdk.cluster.secrets.resolve_secret_mounts` finds them (the secret IDs
            enter the spec, so a new secret version changes the spec and rolls the proc).

    Raises:
        NotFound: ``procs`` names a proc the app does not have.
    """
    wanted = set(procs) if procs is not None else None
    if wanted:
        for name in sorted(wanted):
            app.proc(name)  # raises NotFound listing the procs there are
    network = DesiredNetwork(
        name=network_name(app.appname),
        labels={LABEL_APP: app.appname, LABEL_RELEASE: str(release)},
    )
    services = []
    volumes = []
    for proc in app.procs:
        if wanted is not None and proc.name not in wanted:
            continue
        if not discovery.is_deployed(proc):
            continue  # a portal without a program: its proc answers to the service name
        proc_scale = (scale or {}).get(proc.name) or yaml_scale(proc)
        spec, proc_volumes = _service_spec(
            app,
            proc,
            meta_version=meta_version,
            image=proc.image or image,
            cluster=cluster,
            release=release,
            scale=proc_scale,
            network=network.name,
            secret_mounts=(secret_mounts or {}).get(proc.name, ()),
        )
        services.append(
            DesiredService(
                proc=proc.name,
                proctype=proc.type,
                name=spec["Name"],
                spec=spec,
                scale=proc_scale,
            )
        )
        volumes.extend(proc_volumes)
    return DesiredState(
        app=app.appname,
        meta_version=meta_version,
        release=release,
        network=network,
        services=tuple(services),
        volumes=tuple(volumes),
    )


def _seconds(value: float) -> int:
    return round(value * NANO)


def _service_spec(
    app: AppConfig,
    proc: Proc,
    *,
    meta_version: str,
    image: str,
    cluster: ClusterSettings,
    release: int,
    scale: ProcScale,
    network: str,
    secret_mounts: Iterable[Mapping[str, Any]] = (),
) -> tuple[dict[str, Any], list[DesiredVolume]]:
    name = service_name(app.appname, proc.name)
    owner = {LABEL_APP: app.appname, LABEL_PROC: proc.name, LABEL_PROCTYPE: proc.type}

    env = dict(proc.env)
    # The variables lain v2 injected (console and deployd); the platform's values win.
    # {{.Task.Slot}} is a Swarm service template: the instance number, 1..replicas.
    env.update(
        {
            "LAIN_APPNAME": app.appname,
            "LAIN_PROCNAME": proc.name,
            "LAIN_APP_RELEASE_VERSION": meta_version,
            "LAIN_DOMAIN": cluster.domain,
            "LAIN_INSTANCE_NO": "{{.Task.Slot}}",
            "DEPLOYD_POD_INSTANCE_NO": "{{.Task.Slot}}",
            "DEPLOYD_POD_NAME": f"{app.appname}.{proc.type}.{proc.name}",
            "DEPLOYD_POD_NAMESPACE": app.appname,
        }
    )
    if proc.type == "portal" and proc.service_name:
        env["LAIN_SERVICE_NAME"] = proc.service_name
        env.update(discovery.portal_env(app, proc))

    container: dict[str, Any] = {
        "Image": image,
        "Env": [f"{k}={v}" for k, v in sorted(env.items())],
        "Labels": {**dict(proc.labels), **owner},
        "StopGracePeriod": _seconds(proc.kill_timeout),
    }
    # Swarm's Command is the entrypoint and Args the command, as in `docker service create`.
    if proc.entrypoint is not None:
        container["Command"] = list(proc.entrypoint)
    if proc.cmd is not None:
        container["Args"] = list(proc.cmd)
    if proc.user:
        container["User"] = proc.user
    if proc.workdir:
        container["Dir"] = proc.workdir
    if proc.healthcheck is not None:
        check = proc.healthcheck
        if check.cmd is None:
            container["Healthcheck"] = {"Test": ["NONE"]}
        else:
            container["Healthcheck"] = {
                "Test": list(check.cmd),
                "Interval": _seconds(check.interval),
                "Timeout": _seconds(check.timeout),
                "Retries": check.retries,
                "StartPeriod": _seconds(proc.setup_time),
            }

    volumes = []
    mounts = []
    for volume in proc.volumes:
        vname = volume_name(app.appname, proc.name, volume.path)
        labels = {**owner, "lain.path": volume.path}
        volumes.append(DesiredVolume(name=vname, proc=proc.name, path=volume.path, labels=labels))
        mounts.append(
            {
                "Type": "volume",
                "Source": vname,
                "Target": volume.path,
                "VolumeOptions": {"Labels": labels},
            }
        )
    if mounts:
        container["Mounts"] = mounts
    secrets = sorted((dict(m) for m in secret_mounts), key=lambda m: m["File"]["Name"])
    if secrets:
        container["Secrets"] = secrets

    limits: dict[str, int] = {"MemoryBytes": int(scale.memory)}
    if scale.cpu > 0:
        limits["NanoCPUs"] = round(scale.cpu * NANO)

    oneshot = proc.type == "oneshot"
    task_template: dict[str, Any] = {
        "ContainerSpec": container,
        "Resources": {"Limits": limits},
        "RestartPolicy": {"Condition": "none" if oneshot else "any"},
        "Networks": discovery.network_attachments(app, proc, network),
    }

    endpoint: dict[str, Any] = {"Mode": "dnsrr"}
    if cluster.publish_ports and proc.type == "web" and proc.port is not None:
        # No PublishedPort: each task gets an ephemeral host port (shown by `lain ps`).
        endpoint["Ports"] = [
            {"Protocol": proc.port.protocol, "TargetPort": proc.port.port, "PublishMode": "host"}
        ]

    wanted = yaml_scale(proc)
    labels = {
        **owner,
        **discovery.service_labels(app, proc),
        LABEL_RELEASE: str(release),
        LABEL_VERSION: meta_version,
        LABEL_YAML_INSTANCES: str(wanted.instances),
        LABEL_YAML_CPU: _number(wanted.cpu),
        LABEL_YAML_MEMORY: str(wanted.memory),
    }
    spec: dict[str, Any] = {
        "Name": name,
        "Labels": labels,
        "TaskTemplate": task_template,
        "Mode": {"Replicated": {"Replicas": int(scale.instances)}},
        "UpdateConfig": {
            "Parallelism": 1,
            "Delay": _seconds(proc.setup_time),
            "FailureAction": "rollback",
            "Monitor": _seconds(UPDATE_MONITOR_SECONDS),
            "MaxFailureRatio": 0,
            "Order": "start-first",
        },
        "RollbackConfig": {
            "Parallelism": 1,
            "Delay": 0,
            "FailureAction": "pause",
            "Monitor": _seconds(UPDATE_MONITOR_SECONDS),
            "MaxFailureRatio": 0,
            "Order": "start-first",
        },
        "EndpointSpec": endpoint,
    }
    labels[LABEL_SPEC_HASH] = spec_hash(spec)
    return spec, volumes


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def spec_hash(spec: Mapping[str, Any]) -> str:
    """A short hash of a service spec, leaving out the labels that only say where it came from.

    Two specs with the same hash run the same thing, so a deploy leaves such a service alone.
    """
    labels = {k: v for k, v in (spec.get("Labels") or {}).items() if k not in _UNHASHED_LABELS}
    canonical = json.dumps({**spec, "Labels": labels}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def rescale_spec(spec: Mapping[str, Any], scale: ProcScale, *, release: int) -> dict[str, Any]:
    """A copy of a desired service spec with other instances and limits (for ``lain scale``).

    The ``lain.yaml.*`` labels keep the lain.yaml values, so the next deploy can tell a scaled
    value from a lain.yaml change.
    """
    new = json.loads(json.dumps(spec))
    new["Mode"] = {"Replicated": {"Replicas": int(scale.instances)}}
    limits: dict[str, int] = {"MemoryBytes": int(scale.memory)}
    if scale.cpu > 0:
        limits["NanoCPUs"] = round(scale.cpu * NANO)
    new["TaskTemplate"].setdefault("Resources", {})["Limits"] = limits
    return relabel_spec(new, release=release)


def relabel_spec(spec: Mapping[str, Any], *, release: int) -> dict[str, Any]:
    """A copy of a spec carrying release ``release`` and a fresh spec hash."""
    new: dict[str, Any] = json.loads(json.dumps(spec))
    new["Labels"][LABEL_RELEASE] = str(release)
    new["Labels"][LABEL_SPEC_HASH] = spec_hash(new)
    return new


def spec_scale(spec: Mapping[str, Any]) -> ProcScale:
    """Instances and limits of a spec."""
    return live_scale(spec)[0]


# -- plans -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcChange:
    """What a deploy does to one proc.

    Attributes:
        proc: the proc name.
        action: ``create``, ``update``, ``remove`` or ``unchanged``.
        service: the Swarm service name.
        changes: field -> ``{"from": old, "to": new}`` for image, instances, cpu, memory,
            command, healthcheck, ports, volumes; ``env`` -> ``{"added": [...], "removed":
            [...], "changed": [...]}`` (names only: values may be secret); ``settings`` when
            something else in the spec changed.
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
                keys = [
                    *value.get("added", []),
                    *value.get("changed", []),
                    *value.get("removed", []),
                ]
                parts.append(f"env {', '.join(keys)}")
            elif isinstance(value, dict) and "from" in value:
                if key in ("instances", "cpu", "memory"):
                    if value["from"] is None:
                        parts.append(f"{key} {_show(key, value['to'])}")
                    else:
                        parts.append(
                            f"{key} {_show(key, value['from'])} -> {_show(key, value['to'])}"
                        )
                elif key == "image":
                    parts.append(f"image {_short_image(value['to'])}")
                else:
                    parts.append(key)
            elif self.action != "create":  # a new proc: everything is new, name the rest
                parts.append(key)
        return ", ".join(parts)


def _show(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if key == "memory":
        return format_bytes(int(value))
    if key == "cpu":
        return "unlimited" if not value else _number(float(value))
    return str(value)


def _short_image(image: str) -> str:
    name, _, digest = image.partition("@")
    return f"{name}@{digest[:19]}" if digest else name


def format_bytes(value: int) -> str:
    """Memory the way lain.yaml writes it: 32m, 1g, 1536k."""
    for unit, size in (("g", 1 << 30), ("m", 1 << 20), ("k", 1 << 10)):
        if value and value % size == 0:
            return f"{value // size}{unit}"
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
    """

    app: str
    meta_version: str
    current_release: int | None
    network: str
    create_network: bool
    procs: tuple[ProcChange, ...]
    resource_instances: tuple[Plan, ...] = ()

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
        }


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
        live: proc name -> the live service's ``Spec`` (as the engine returns it).
        network_exists: whether the app's network is there already.
        current_release: the release running now, for the plan's header.
        remove_others: live procs missing from ``desired`` are to be removed (False when the
            deploy is limited to some procs).
    """
    changes = []
    for service in desired.services:
        current = live.get(service.proc)
        if current is None:
            changes.append(
                ProcChange(
                    service.proc, "create", service.name, describe_changes(service.spec, None)
                )
            )
        elif same_spec(current, service.spec):
            changes.append(ProcChange(service.proc, "unchanged", service.name))
        else:
            changes.append(
                ProcChange(
                    service.proc, "update", service.name, describe_changes(service.spec, current)
                )
            )
    if remove_others:
        wanted = {s.proc for s in desired.services}
        for proc, current in sorted(live.items()):
            if proc not in wanted:
                changes.append(ProcChange(proc, "remove", str(current.get("Name", proc))))
    return Plan(
        app=desired.app,
        meta_version=desired.meta_version,
        current_release=current_release,
        network=desired.network.name,
        create_network=not network_exists,
        procs=tuple(changes),
    )


def same_spec(live: Mapping[str, Any], spec: Mapping[str, Any]) -> bool:
    """The live spec came from this desired spec (same hash label) and still runs its image.

    The image is compared too because a hand-made ``docker service update --image`` keeps
    lain's labels; the next deploy then puts the release's image back.
    """

    def image(s: Mapping[str, Any]) -> Any:
        return ((s.get("TaskTemplate") or {}).get("ContainerSpec") or {}).get("Image")

    wanted = (spec.get("Labels") or {}).get(LABEL_SPEC_HASH)
    return (live.get("Labels") or {}).get(LABEL_SPEC_HASH) == wanted and image(live) == image(spec)


def _fields(spec: Mapping[str, Any]) -> dict[str, Any]:
    task = spec.get("TaskTemplate") or {}
    container = task.get("ContainerSpec") or {}
    scale = spec_scale(spec)
    ports = (spec.get("EndpointSpec") or {}).get("Ports") or []
    return {
        "image": container.get("Image"),
        "instances": scale.instances,
        "cpu": scale.cpu,
        "memory": scale.memory,
        "command": [*(container.get("Command") or []), *(container.get("Args") or [])] or None,
        "healthcheck": (container.get("Healthcheck") or {}).get("Test"),
        "ports": sorted(f"{p.get('TargetPort')}/{p.get('Protocol', 'tcp')}" for p in ports),
        "volumes": sorted(m.get("Target", "") for m in container.get("Mounts") or []),
        "secrets": _secret_versions(spec),
    }


def _secret_versions(spec: Mapping[str, Any]) -> dict[str, int]:
    from lain_sdk.cluster.secrets import spec_secret_versions  # it imports this module

    return spec_secret_versions(spec)


def _env(spec: Mapping[str, Any]) -> dict[str, str]:
    container = (spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}
    pairs = (item.partition("=") for item in container.get("Env") or [])
    return {k: v for k, _, v in pairs}


def describe_changes(spec: Mapping[str, Any], current: Mapping[str, Any] | None) -> dict[str, Any]:
    """What differs between a live spec (None: there is none) and a desired one, in the terms
    of :class:`ProcChange.changes`."""
    new = _fields(spec)
    if current is None:
        return {k: {"from": None, "to": v} for k, v in new.items() if v not in (None, [], {})}
    old = _fields(current)
    changes: dict[str, Any] = {k: {"from": old[k], "to": v} for k, v in new.items() if old[k] != v}
    new_env, old_env = _env(spec), _env(current)
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
