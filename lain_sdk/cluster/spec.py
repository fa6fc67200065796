"""One proc's Swarm service spec, built from its lain.yaml, and the questions lain asks of specs.

Specs are Engine API ``ServiceSpec`` documents (plain dicts), so the backend sends them as they
are and tests read them without an engine.  Mapping from lain.yaml:

- ``num_instances`` -> replicas; ``memory`` -> ``Resources.Limits.MemoryBytes``; ``cpu`` ->
  ``NanoCPUs`` (see :mod:`lain_sdk.cluster.sizing`).
- ``healthcheck``/``container_healthcheck`` -> the container healthcheck, ``setup_time`` as its
  start period and as the update delay; ``kill_timeout`` -> stop grace period.
- ``persistent_dirs`` (and ``/lain/logs``) -> named volumes ``lain_<app>_<proc>_<path>``; on a
  multi-node cluster a named volume lives on the node that runs the task.  A stateful proc (see
  :func:`~lain_sdk.cluster.placement.is_stateful`) gets a volume per instance and dir,
  ``..._<path>_<instance>``, and stays on the node holding them (a placement constraint).
- ``filters`` -> placement constraints (see :mod:`lain_sdk.cluster.placement`).
- ``secret_files`` -> the Swarm secrets a deploy found for them (see
  :mod:`lain_sdk.cluster.secret_store`), mounted at their paths.
- Rolling updates start the new task first, one at a time, wait for it to be healthy and roll
  back by themselves when it fails.
- Networks and the names a proc answers to come from :mod:`lain_sdk.cluster.discovery`.
- Every service uses endpoint mode ``dnsrr`` (no virtual IP, no ingress mesh): that works on
  every engine, IPVS or not.  On a cluster with ``publish_ports`` (the local default), web procs
  publish their port in host mode on an ephemeral port per task, so two instances on one node do
  not clash and start-first updates work.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from lain_sdk.appconfig.model import LOGS_DIR, AppConfig, Healthcheck, Proc
from lain_sdk.cluster import discovery
from lain_sdk.cluster.names import (
    LABEL_APP,
    LABEL_ENV_KEYS,
    LABEL_ENV_VERSION,
    LABEL_LINKS,
    LABEL_PROC,
    LABEL_PROCTYPE,
    LABEL_RELEASE,
    LABEL_SPEC_HASH,
    LABEL_VERSION,
    instance_volume_name,
    link_network_name,
    secret_version,
    service_name,
    volume_name,
)
from lain_sdk.cluster.placement import is_stateful, proc_constraints
from lain_sdk.cluster.sizing import NANO, ProcScale, is_job, service_mode
from lain_sdk.settings import ClusterSettings

# How long Swarm watches an updated task for failure before moving on (and before the update
# counts as completed): long enough to catch a crash right after the healthcheck passed.
UPDATE_MONITOR_SECONDS = 3
# Labels left out of the spec hash: they say where a spec came from, not what it runs.
_UNHASHED_LABELS = (LABEL_RELEASE, LABEL_SPEC_HASH, LABEL_LINKS)
SLOT_TEMPLATE = "{{.Task.Slot}}"  # a Swarm template: the instance number, 1..replicas


@dataclass(frozen=True)
class DesiredVolume:
    """A named volume a proc's service mounts."""

    name: str
    proc: str
    path: str
    labels: Mapping[str, str]


@dataclass(frozen=True)
class ProcSpec:
    """What :func:`service_spec` builds: the spec and the volumes it mounts."""

    spec: dict[str, Any]
    volumes: tuple[DesiredVolume, ...]


def yaml_scale(proc: Proc) -> ProcScale:
    """The instances, cpu and memory lain.yaml asks for."""
    return ProcScale(instances=proc.num_instances, cpu=float(proc.cpu), memory=proc.memory)


def seconds(value: float) -> int:
    """Seconds as the nanoseconds the Engine API takes."""
    return round(value * NANO)


def service_spec(
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
    config_vars: Mapping[str, str] | None = None,
    config_version: int = 0,
) -> ProcSpec:
    """The Swarm service spec of one proc of one release (a oneshot is a Swarm job: it runs
    to completion once per change of its spec).

    ``config_vars`` (set ``config_version`` of the app's config vars, merged for this proc) go
    over lain.yaml's ``env``; the spec hash sees their names and set version, never values."""
    oneshot = proc.type == "oneshot"
    owner = {LABEL_APP: app.appname, LABEL_PROC: proc.name, LABEL_PROCTYPE: proc.type}
    volumes = _volumes(app, proc, owner)
    container = _container_spec(app, proc, meta_version, image, cluster, owner)
    if volumes:
        container["Mounts"] = [_mount(v) for v in volumes]
    secrets = sorted((dict(m) for m in secret_mounts), key=lambda m: m["File"]["Name"])
    if secrets:
        container["Secrets"] = secrets
    labels = {
        **owner,
        **discovery.service_labels(app, proc),
        LABEL_RELEASE: str(release),
        LABEL_VERSION: meta_version,
        **yaml_scale(proc).labels(),
    }
    spec: dict[str, Any] = {
        "Name": service_name(app.appname, proc.name),
        "Labels": labels,
        "TaskTemplate": {
            "ContainerSpec": container,
            "Resources": {"Limits": scale.limits()},
            "RestartPolicy": {"Condition": "none" if oneshot else "any"},
            "Networks": discovery.network_attachments(app, proc, network),
        },
        "Mode": service_mode(int(scale.instances), job=oneshot),
        "EndpointSpec": _endpoint(proc, cluster),
    }
    constraints = proc_constraints(app.appname, proc)
    if constraints:  # left out otherwise, so specs (and their hashes) stay as they were
        spec["TaskTemplate"]["Placement"] = {"Constraints": list(constraints)}
    if not oneshot:  # a job runs again when its spec changes: Swarm allows it no rollout
        spec["UpdateConfig"] = _rollout_config(proc.setup_time, failure_action="rollback")
        spec["RollbackConfig"] = _rollout_config(0, failure_action="pause")
    if config_version:
        spec = with_config_vars(spec, config_vars or {}, config_version)
    spec["Labels"][LABEL_SPEC_HASH] = spec_hash(spec)
    return ProcSpec(spec, volumes)


def _environment(
    app: AppConfig, proc: Proc, meta_version: str, cluster: ClusterSettings
) -> dict[str, str]:
    env = dict(proc.env)
    # The variables lain v2 injected (console and deployd); the platform's values win.
    env.update(
        {
            "LAIN_APPNAME": app.appname,
            "LAIN_PROCNAME": proc.name,
            "LAIN_APP_RELEASE_VERSION": meta_version,
            "LAIN_DOMAIN": cluster.domain,
            "LAIN_INSTANCE_NO": SLOT_TEMPLATE,
            "DEPLOYD_POD_INSTANCE_NO": SLOT_TEMPLATE,
            "DEPLOYD_POD_NAME": f"{app.appname}.{proc.type}.{proc.name}",
            "DEPLOYD_POD_NAMESPACE": app.appname,
        }
    )
    if proc.type == "portal" and proc.service_name:
        env["LAIN_SERVICE_NAME"] = proc.service_name
        env.update(discovery.portal_env(app, proc))
    return env


def _container_spec(
    app: AppConfig,
    proc: Proc,
    meta_version: str,
    image: str,
    cluster: ClusterSettings,
    owner: Mapping[str, str],
) -> dict[str, Any]:
    env = _environment(app, proc, meta_version, cluster)
    container: dict[str, Any] = {
        "Image": image,
        "Env": [f"{k}={v}" for k, v in sorted(env.items())],
        "Labels": {**dict(proc.labels), **owner},
        "StopGracePeriod": seconds(proc.kill_timeout),
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
        container["Healthcheck"] = _healthcheck(proc.healthcheck, proc.setup_time)
    return container


def _healthcheck(check: Healthcheck, setup_time: float) -> dict[str, Any]:
    if check.cmd is None:
        return {"Test": ["NONE"]}
    return {
        "Test": list(check.cmd),
        "Interval": seconds(check.interval),
        "Timeout": seconds(check.timeout),
        "Retries": check.retries,
        "StartPeriod": seconds(setup_time),
    }


def _volumes(app: AppConfig, proc: Proc, owner: Mapping[str, str]) -> tuple[DesiredVolume, ...]:
    return tuple(
        DesiredVolume(
            name=_volume_source(app.appname, proc, volume.path),
            proc=proc.name,
            path=volume.path,
            labels={**owner, "lain.path": volume.path},
        )
        for volume in proc.volumes
    )


def _volume_source(app: str, proc: Proc, path: str) -> str:
    """A stateful proc's instances each get their own volume (Swarm fills in the instance
    number); /lain/logs stays one volume per node, as before."""
    if is_stateful(proc) and path != LOGS_DIR:
        return instance_volume_name(app, proc.name, path, SLOT_TEMPLATE)
    return volume_name(app, proc.name, path)


def _mount(volume: DesiredVolume) -> dict[str, Any]:
    return {
        "Type": "volume",
        "Source": volume.name,
        "Target": volume.path,
        "VolumeOptions": {"Labels": dict(volume.labels)},
    }


def _rollout_config(delay: float, *, failure_action: str) -> dict[str, Any]:
    return {
        "Parallelism": 1,
        "Delay": seconds(delay),
        "FailureAction": failure_action,
        "Monitor": seconds(UPDATE_MONITOR_SECONDS),
        "MaxFailureRatio": 0,
        "Order": "start-first",
    }


def _endpoint(proc: Proc, cluster: ClusterSettings) -> dict[str, Any]:
    endpoint: dict[str, Any] = {"Mode": "dnsrr"}
    if cluster.publish_ports and proc.type == "web" and proc.port is not None:
        # No PublishedPort: each task gets an ephemeral host port (shown by the app's status).
        endpoint["Ports"] = [
            {"Protocol": proc.port.protocol, "TargetPort": proc.port.port, "PublishMode": "host"}
        ]
    return endpoint


# -- questions about specs ---------------------------------------------------------------------


def spec_hash(spec: Mapping[str, Any]) -> str:
    """A short hash of a service spec, leaving out the labels that only say where it came from
    and the link networks of its clients (those are compared on their own: see
    :func:`links_of`).

    Two specs with the same hash run the same thing, so a deploy leaves such a service alone.
    Config vars enter by their names and set version (labels), never by value: the hash is a
    label, and a new value is a new set version anyway.
    """
    spec = without_config_vars(spec)
    labels = {k: v for k, v in (spec.get("Labels") or {}).items() if k not in _UNHASHED_LABELS}
    linked = set(link_networks(spec))
    template = dict(spec.get("TaskTemplate") or {})
    if "Networks" in template:
        template["Networks"] = [n for n in template["Networks"] if n.get("Target") not in linked]
    canonical = json.dumps(
        {**spec, "Labels": labels, "TaskTemplate": template}, sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def links_of(spec: Mapping[str, Any]) -> dict[str, list[str]]:
    """Client -> the service names a provider's service answers to on that client's link
    network, as its ``lain.links`` label records them."""
    raw = (spec.get("Labels") or {}).get(LABEL_LINKS)
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(c): sorted(str(n) for n in names) for c, names in data.items() if names}


def link_networks(spec: Mapping[str, Any]) -> list[str]:
    """The names of the link networks a provider's service joins for its clients."""
    provider = str((spec.get("Labels") or {}).get(LABEL_APP, ""))
    return [link_network_name(provider, client) for client in links_of(spec)]


def with_links(spec: Mapping[str, Any], links: Mapping[str, Iterable[str]]) -> dict[str, Any]:
    """A copy of a desired (or recorded) spec on the link networks of ``links`` (client -> the
    names to answer to there) instead of those it named; the spec hash stays as it was."""
    new = copy_spec(spec)
    old = set(link_networks(spec))
    wanted = {client: sorted(set(names)) for client, names in sorted(links.items()) if names}
    template = new["TaskTemplate"]
    networks = [n for n in template.get("Networks") or [] if n.get("Target") not in old]
    provider = str(new["Labels"][LABEL_APP])
    networks += [
        {"Target": link_network_name(provider, client), "Aliases": names}
        for client, names in wanted.items()
    ]
    template["Networks"] = networks
    _set_links_label(new, wanted)
    return new


def with_link(
    live: Mapping[str, Any], client: str, names: Iterable[str], network_id: str
) -> dict[str, Any]:
    """A copy of a live spec (whose networks the engine names by ID) answering to ``names`` on
    ``client``'s link network (network ``network_id``), or leaving it when ``names`` is
    empty; its other links stay."""
    new = copy_spec(live)
    network = link_network_name(str(new["Labels"][LABEL_APP]), client)
    template = new["TaskTemplate"]
    networks = [
        n for n in template.get("Networks") or [] if n.get("Target") not in (network, network_id)
    ]
    wanted = sorted(set(names))
    if wanted:
        networks.append({"Target": network, "Aliases": wanted})
    template["Networks"] = networks
    links = {c: n for c, n in links_of(live).items() if c != client}
    if wanted:
        links[client] = wanted
    _set_links_label(new, dict(sorted(links.items())))
    return new


def _set_links_label(spec: dict[str, Any], links: Mapping[str, list[str]]) -> None:
    if links:
        spec["Labels"][LABEL_LINKS] = json.dumps(links, sort_keys=True, separators=(",", ":"))
    else:
        spec["Labels"].pop(LABEL_LINKS, None)


def config_var_names(spec: Mapping[str, Any]) -> tuple[str, ...]:
    """The names of the config vars a spec's environment holds (from its labels)."""
    names = str((spec.get("Labels") or {}).get(LABEL_ENV_KEYS) or "")
    return tuple(n for n in names.split(",") if n)


def config_version_of(spec: Mapping[str, Any]) -> int:
    """The set of config vars a spec's environment holds (0: none)."""
    version = str((spec.get("Labels") or {}).get(LABEL_ENV_VERSION) or "0")
    return int(version) if version.isdigit() else 0


def without_config_vars(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a spec whose environment leaves out the config vars (names kept in labels):
    what a release record keeps, so that no value is ever stored in one."""
    new = copy_spec(spec)
    names = set(config_var_names(spec))
    container = new.get("TaskTemplate", {}).get("ContainerSpec")
    if names and container and container.get("Env"):
        container["Env"] = [e for e in container["Env"] if e.partition("=")[0] not in names]
    return new


def with_config_vars(
    spec: Mapping[str, Any], values: Mapping[str, str], version: int
) -> dict[str, Any]:
    """A copy of a spec holding set ``version`` of config vars, ``values`` (merged for its
    proc), in place of those it held; they win over lain.yaml's ``env``.  Version 0 takes
    them all out.  The spec hash is left to the caller."""
    new = without_config_vars(spec)
    labels = new.setdefault("Labels", {})
    labels.pop(LABEL_ENV_KEYS, None)
    labels.pop(LABEL_ENV_VERSION, None)
    container = new.setdefault("TaskTemplate", {}).setdefault("ContainerSpec", {})
    if version:
        labels[LABEL_ENV_VERSION] = str(version)
        labels[LABEL_ENV_KEYS] = ",".join(sorted(values))
        env = {**env_of(new), **values}
        container["Env"] = [f"{k}={v}" for k, v in sorted(env.items())]
    return new


def copy_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of a spec (specs are JSON documents)."""
    copied: dict[str, Any] = json.loads(json.dumps(spec))
    return copied


def relabel_spec(spec: Mapping[str, Any], *, release: int) -> dict[str, Any]:
    """A copy of a spec carrying release ``release`` and a fresh spec hash."""
    new = copy_spec(spec)
    new["Labels"][LABEL_RELEASE] = str(release)
    new["Labels"][LABEL_SPEC_HASH] = spec_hash(new)
    return new


def rescale_spec(spec: Mapping[str, Any], scale: ProcScale, *, release: int) -> dict[str, Any]:
    """A copy of a spec with other instances and limits.

    The ``lain.yaml.*`` labels keep the lain.yaml values, so the next deploy can tell a scaled
    value from a lain.yaml change.
    """
    new = copy_spec(spec)
    new["Mode"] = service_mode(int(scale.instances), job=is_job(spec))
    new["TaskTemplate"].setdefault("Resources", {})["Limits"] = scale.limits()
    return relabel_spec(new, release=release)


def force_restart(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a spec that makes Swarm replace every task, even when nothing else changed."""
    new = copy_spec(spec)
    template = new["TaskTemplate"]
    template["ForceUpdate"] = int(template.get("ForceUpdate") or 0) + 1
    return new


def container_of(spec: Mapping[str, Any]) -> Mapping[str, Any]:
    """The ``TaskTemplate.ContainerSpec`` of a spec."""
    container: Mapping[str, Any] = (spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}
    return container


def image_of(spec: Mapping[str, Any]) -> str:
    return str(container_of(spec).get("Image", ""))


def env_of(spec: Mapping[str, Any]) -> dict[str, str]:
    """The environment a spec gives its containers."""
    pairs = (item.partition("=") for item in container_of(spec).get("Env") or [])
    return {k: v for k, _, v in pairs}


def secret_mounts_of(spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The spec's ``ContainerSpec.Secrets`` entries that mount lain's secret files."""
    return [
        item
        for item in container_of(spec).get("Secrets") or []
        if secret_version(str(item.get("SecretName", ""))) is not None
    ]


def secret_versions(spec: Mapping[str, Any]) -> dict[str, int]:
    """Path -> version of the secret files a spec mounts."""
    found = {}
    for item in secret_mounts_of(spec):
        target = str((item.get("File") or {}).get("Name", ""))
        version = secret_version(str(item.get("SecretName", "")))
        if target and version is not None:
            found[target] = version
    return found


def same_spec(live: Mapping[str, Any], spec: Mapping[str, Any]) -> bool:
    """The live spec came from this desired spec (same hash label), still runs its image and
    serves the same clients.

    The image is compared too because a hand-made ``docker service update --image`` keeps
    lain's labels; the next deploy then puts the release's image back.
    """
    wanted = (spec.get("Labels") or {}).get(LABEL_SPEC_HASH)
    return (
        (live.get("Labels") or {}).get(LABEL_SPEC_HASH) == wanted
        and image_of(live) == image_of(spec)
        and links_of(live) == links_of(spec)
    )


class ReplacedVolume(NamedTuple):
    """A persistent dir whose live service mounts one volume for all its instances (as lain
    did before instances got a volume each) and whose new spec mounts one per instance: the
    data stays in the shared volume, which the new instances do not see."""

    proc: str
    path: str
    shared: str
    per_instance: str

    def to_dict(self) -> dict[str, str]:
        return dict(self._asdict())


def replaced_volumes(
    live: Mapping[str, Mapping[str, Any]], desired: Mapping[str, Mapping[str, Any]]
) -> tuple[ReplacedVolume, ...]:
    """The shared volumes ``desired`` (proc -> spec) would stop mounting for per-instance
    ones, against the ``live`` specs (proc -> spec)."""
    found = []
    for proc, spec in sorted(desired.items()):
        if proc not in live:
            continue
        mounted = {
            m.get("Target"): str(m.get("Source") or "")
            for m in container_of(live[proc]).get("Mounts") or []
            if m.get("Type") == "volume"
        }
        for mount in container_of(spec).get("Mounts") or []:
            new, old = str(mount.get("Source") or ""), mounted.get(mount.get("Target"))
            if SLOT_TEMPLATE in new and old and SLOT_TEMPLATE not in old:
                found.append(ReplacedVolume(proc, str(mount["Target"]), old, new))
    return tuple(found)
