"""Validated lain.yaml data to the frozen model, filling in lain v2's defaults.

Only called on data the schema and the semantic checks accepted, so it reads values without
checking them again.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from lain_sdk.appconfig.checks import (
    container_path,
    parse_memory,
    parse_port_mapping,
    port_mappings,
    proc_sections,
)
from lain_sdk.appconfig.model import (
    DEFAULT_DOMAIN,
    DEFAULT_MEMORY,
    DEFAULT_WEB_PORT,
    LOGS_DIR,
    AppConfig,
    Backup,
    BuildConfig,
    CopySpec,
    Healthcheck,
    Port,
    PrepareConfig,
    Proc,
    ReleaseConfig,
    ResourceUse,
    StreamPort,
    TestConfig,
    Volume,
    _frozen_map,
)

DEFAULT_FILTER = "constraint:group==default"


def build_app_config(
    data: Mapping[str, Any],
    *,
    source: str,
    path: str,
    domains: Sequence[str] | None = None,
    appname: str | None = None,
) -> AppConfig:
    """The model of a valid lain.yaml.

    Args:
        data: the validated document.
        source: the text it was read from.
        path: the file it came from.
        domains: the cluster's domains (default ``lain.local``), for web mountpoints.
        appname: overrides ``data["appname"]`` (a resource instance is named
            ``resource.<resource>.<client>``).
    """
    name = appname or data["appname"]
    app_domain = ".".join(reversed(name.split(".")))
    domains = tuple(domains) if domains else (DEFAULT_DOMAIN,)
    procs = tuple(
        _proc(proc_name, kind, section, body, app_domain, domains)
        for proc_name, kind, section, _, body in proc_sections(dict(data))
    )
    return AppConfig(
        appname=name,
        build=_build(data["build"]),
        apptype=data.get("apptype") or "app",
        giturl=data.get("giturl"),
        release=_release(data.get("release") or {}),
        test=TestConfig(script=_strs(data.get("test", {}) or {}, "script")),
        procs=procs,
        use_services=_frozen_map(
            {k: tuple(v or ()) for k, v in (data.get("use_services") or {}).items()}
        ),
        use_resources=_frozen_map(
            {
                k: ResourceUse(
                    services=tuple(v.get("services") or ()),
                    context=_frozen_map({p: x for p, x in v.items() if p != "services"}),
                )
                for k, v in (data.get("use_resources") or {}).items()
            }
        ),
        notify=_frozen_map(data.get("notify") or {}),
        domains=domains,
        source=source,
        path=path,
    )


def _strs(mapping: Mapping[str, Any], key: str) -> tuple[str, ...]:
    return tuple(mapping.get(key) or ())


def _build(build: Mapping[str, Any]) -> BuildConfig:
    prepare = build.get("prepare")
    prepare_config = None
    if isinstance(prepare, list):  # v2's old form: just the script lines
        prepare_config = PrepareConfig(script=tuple(prepare))
    elif isinstance(prepare, dict):
        version = prepare.get("version")
        prepare_config = PrepareConfig(
            script=_strs(prepare, "script"),
            keep=_strs(prepare, "keep"),
            version=None if version is None else str(version).strip(),
            build_arg=_strs(prepare, "build_arg"),
        )
    return BuildConfig(
        base=build["base"],
        script=_strs(build, "script"),
        prepare=prepare_config,
        build_arg=_strs(build, "build_arg"),
        volumes=_strs(build, "volumes"),
    )


def _copy_path(path: str) -> str:
    # "$GOPATH/bin/x" is expanded inside the build container, so it is kept as written.
    return path if path.startswith("$") else container_path(path, keep_slash=True)


def _release(release: Mapping[str, Any]) -> ReleaseConfig:
    copies = []
    for item in release.get("copy") or ():
        src, dest = (
            (item, item)
            if isinstance(item, str)
            else (item["src"], item.get("dest") or item["src"])
        )
        copies.append(CopySpec(src=_copy_path(src), dest=_copy_path(dest)))
    return ReleaseConfig(
        script=_strs(release, "script"),
        dest_base=release.get("dest_base") or None,
        copy=tuple(copies),
    )


def _command(value: Any) -> tuple[str, ...] | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        # POSIX shell quoting, a deliberate fix: v2 split on whitespace, so quoted arguments broke.
        return tuple(shlex.split(value))
    return tuple(str(v) for v in value)


def _port(value: Any, kind: str) -> Port | None:
    if value is None:
        return Port(DEFAULT_WEB_PORT) if kind == "web" else None
    if isinstance(value, (int, float)):  # YAML 80.0 passes as an integer, like in JSON Schema
        return Port(int(value))
    if isinstance(value, str):
        number, _, protocol = value.partition(":")
        return Port(int(number), protocol or "tcp")
    number, types = next(iter(value.items()))
    protocol = "tcp"
    for entry in types or ():
        protocol = entry.split(":", 1)[1]
        break
    return Port(int(number), protocol)


def _volumes(value: Any) -> tuple[Volume, ...]:
    volumes: list[Volume] = []
    for item in value or ():
        if isinstance(item, str):
            volumes.append(Volume(container_path(item)))
            continue
        for directory, policy in item.items():
            backups = []
            for mode in ("backup_full", "backup_increment"):
                spec = (policy or {}).get(mode)
                if spec:
                    backups.append(
                        Backup(
                            mode=mode[len("backup_") :],
                            schedule=spec["schedule"],
                            expire=spec.get("expire", ""),
                            pre_run=spec.get("pre_run", ""),
                            post_run=spec.get("post_run", ""),
                        )
                    )
            volumes.append(Volume(container_path(directory), tuple(backups)))
    if not any(v.path == LOGS_DIR for v in volumes):
        volumes.append(Volume(LOGS_DIR))  # v2 always mounts /lain/logs for stdout/stderr
    return tuple(volumes)


def _mountpoints(
    name: str, given: Sequence[str] | None, app_domain: str, domains: tuple[str, ...]
) -> tuple[str, ...]:
    defaults = [f"{app_domain}.{d}" for d in domains] + [f"{app_domain}.lain"]
    entries = list(given or ())
    if name == "web":
        entries += [d for d in defaults if d not in entries]
    result = [e for e in entries if not e.startswith("/")]
    for entry in entries:
        if entry.startswith("/") and len(entry) > 1:
            result += [f"{d}{entry}" for d in defaults]
    return tuple(dict.fromkeys(result))


def _healthcheck(body: Mapping[str, Any], kind: str, port: Port | None) -> Healthcheck | None:
    container = body.get("container_healthcheck")
    if container:
        options = container.get("options") or {}
        cmd = container["cmd"]
        if isinstance(cmd, str):
            command = None if cmd.strip().lower() == "none" else ("CMD-SHELL", cmd)
        else:
            command = ("CMD", *cmd)
        return Healthcheck(
            cmd=command,
            interval=float(options.get("interval", 10)),
            timeout=float(options.get("timeout", 5)),
            retries=int(options.get("retries", 3)),
        )
    path = body.get("healthcheck")
    if path and kind == "web":
        number = port.port if port else DEFAULT_WEB_PORT
        # busybox images have wget but no curl; wget exits non-zero on an HTTP error status.
        probe = f"wget -q -O /dev/null http://127.0.0.1:{number}{path} || exit 1"
        return Healthcheck(cmd=("CMD-SHELL", probe), http_path=path)
    return None


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _proc(
    name: str,
    kind: str,
    section: str,
    body: Mapping[str, Any],
    app_domain: str,
    domains: tuple[str, ...],
) -> Proc:
    port = _port(body.get("port"), kind)
    env = {}
    for line in body.get("env") or ():
        key, _, value = line.partition("=")
        env[key] = value
    labels = {}
    for label in _as_list(body.get("labels")):
        key, _, value = label.partition(":")  # the first colon: values may hold URLs
        labels[key] = value
    filters = _as_list(body.get("filters"))
    if not any(f.startswith(("constraint:group==", "constraint:group!=")) for f in filters):
        filters.append(DEFAULT_FILTER)
    dns_search = list(body.get("dns_search") or ())
    if f"{app_domain}.lain" not in dns_search:
        dns_search.append(f"{app_domain}.lain")
    cloud = body.get("cloud_volumes")
    memory = body.get("memory")
    portal = kind == "portal"
    return Proc(
        name=name,
        type=kind,
        section=section,
        image=body.get("image"),
        cmd=_command(body.get("cmd")),
        entrypoint=_command(body.get("entrypoint")),
        user=body.get("user") or "",
        workdir=body.get("workdir") or body.get("working_dir") or "",
        port=port,
        ports=tuple(
            StreamPort(*parse_port_mapping(text)) for _, text in port_mappings(body.get("ports"))
        ),
        env=_frozen_map(env),
        memory=DEFAULT_MEMORY if memory is None else parse_memory(memory),
        cpu=int(body.get("cpu", 0)),
        num_instances=int(body.get("num_instances", 1)),
        mountpoints=_mountpoints(name, body.get("mountpoint"), app_domain, domains)
        if kind == "web"
        else (),
        https_only=bool(body.get("https_only", False)),
        healthcheck=_healthcheck(body, kind, port),
        secret_files=tuple(
            dict.fromkeys(container_path(p) for p in body.get("secret_files") or ())
        ),
        secret_files_bypass=bool(body.get("secret_files_bypass", False)),
        # v2 reads persistent_dirs first (the checks refuse a file that has both).
        volumes=_volumes(body.get("persistent_dirs") or body.get("volumes")),
        cloud_volumes=_frozen_map(
            {
                cloud.get("type") or "multi": tuple(
                    container_path(d) for d in cloud.get("dirs") or ()
                )
            }
            if cloud
            else {}
        ),
        logs=tuple(dict.fromkeys(body.get("logs") or ())),
        setup_time=int(body.get("setup_time", 0)),
        kill_timeout=int(body.get("kill_timeout", 10)),
        stateful=bool(body.get("stateful", False)),
        labels=_frozen_map(labels),
        filters=tuple(filters),
        dns_search=tuple(dns_search),
        service_name=(body.get("service_name") or section.split(".", 1)[1]) if portal else None,
        allow_clients=(body.get("allow_clients") or "**") if portal else None,
    )
