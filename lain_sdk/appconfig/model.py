"""The app model: what a lain.yaml means, as frozen, typed values.

Built only by ``lain_sdk.appconfig.load_app_config`` (which validates first), so every value
here is already checked and normalised: paths are absolute, memory is in bytes, defaults are
filled in the way lain v2's parser filled them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from types import MappingProxyType
from typing import Any

import lain_sdk.arguments as arguments
from lain_sdk.errors import NotFound, Problem

APP_DIR = "/lain/app"
LOGS_DIR = "/lain/logs"
DEFAULT_DOMAIN = "lain.local"
DEFAULT_WEB_PORT = 80
DEFAULT_MEMORY = 32 * 1024 * 1024  # v2's "32m"
PROC_TYPES = ("web", "worker", "oneshot", "portal")


def _frozen_map(value: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    return MappingProxyType(dict(value or {}))


@dataclass(frozen=True)
class PrepareConfig:
    """``build.prepare``: slow dependency steps whose image is cached between builds."""

    script: tuple[str, ...] = ()
    keep: tuple[str, ...] = ()
    version: str | None = None  # None: derived from what prepare depends on
    build_arg: tuple[str, ...] = ()  # "KEY=VALUE", for the prepare build only


@dataclass(frozen=True)
class BuildConfig:
    base: str
    script: tuple[str, ...] = ()
    prepare: PrepareConfig | None = None
    build_arg: tuple[str, ...] = ()  # "KEY=VALUE"; a value "$VAR" is read from the environment
    volumes: tuple[str, ...] = ()


@dataclass(frozen=True)
class CopySpec:
    src: str  # absolute, or starting with "$" (expanded inside the container)
    dest: str


@dataclass(frozen=True)
class ReleaseConfig:
    script: tuple[str, ...] = ()
    dest_base: str | None = None  # None: the build image is re-tagged as the release
    copy: tuple[CopySpec, ...] = ()


@dataclass(frozen=True)
class TestConfig:
    __test__ = False  # not a pytest test class

    script: tuple[str, ...] = ()


@dataclass(frozen=True)
class Port:
    port: int
    protocol: str = "tcp"


@dataclass(frozen=True)
class StreamPort:
    """A ``ports`` entry: a stream-router mapping SRC[:DST][/proto]."""

    src: int
    dest: int
    protocol: str = "tcp"


@dataclass(frozen=True)
class Backup:
    mode: str  # "full" or "increment"
    schedule: str
    expire: str = ""
    pre_run: str = ""
    post_run: str = ""


@dataclass(frozen=True)
class Volume:
    path: str  # absolute
    backups: tuple[Backup, ...] = ()


@dataclass(frozen=True)
class Healthcheck:
    """A container healthcheck.

    ``cmd`` is None when the check is disabled (``container_healthcheck: {cmd: none}``).
    Intervals are seconds.  ``http_path`` is set when the check came from ``healthcheck: /path``.
    """

    cmd: tuple[str, ...] | None
    interval: float = 10.0
    timeout: float = 5.0
    retries: int = 3
    http_path: str | None = None


@dataclass(frozen=True)
class Proc:
    """One proc: a kind of process of the app, run as N identical instances."""

    name: str
    type: str  # web, worker, oneshot, portal
    section: str  # the lain.yaml key it came from (service.X gives two procs from one section)
    image: str | None = None  # None: the app's release image
    cmd: tuple[str, ...] | None = None  # None: the image's CMD
    entrypoint: tuple[str, ...] | None = None
    user: str = ""
    workdir: str = ""
    port: Port | None = None
    ports: tuple[StreamPort, ...] = ()
    env: Mapping[str, str] = field(default_factory=_frozen_map)
    memory: int = DEFAULT_MEMORY  # bytes
    cpu: int = 0
    num_instances: int = 1
    mountpoints: tuple[str, ...] = ()
    https_only: bool = False
    healthcheck: Healthcheck | None = None
    secret_files: tuple[str, ...] = ()  # absolute paths
    secret_files_bypass: bool = False
    volumes: tuple[Volume, ...] = ()  # persistent_dirs, /lain/logs always included
    cloud_volumes: Mapping[str, tuple[str, ...]] = field(default_factory=_frozen_map)
    logs: tuple[str, ...] = ()
    setup_time: int = 0
    kill_timeout: int = 10
    stateful: bool = False
    labels: Mapping[str, str] = field(default_factory=_frozen_map)
    filters: tuple[str, ...] = ()
    dns_search: tuple[str, ...] = ()
    service_name: str | None = None  # portals only
    allow_clients: str | None = None  # portals only

    def to_dict(self) -> dict[str, Any]:
        """The proc as plain JSON-ready data; ``port`` is the number, ``protocol`` beside it."""
        data: dict[str, Any] = {}
        for key, value in _plain(self).items():
            if key == "port":
                data["port"] = self.port.port if self.port else None
                data["protocol"] = self.port.protocol if self.port else None
            else:
                data[key] = value
        return data


@dataclass(frozen=True)
class ResourceUse:
    """A ``use_resources`` entry: which services of the resource, and the template parameters."""

    services: tuple[str, ...]
    context: Mapping[str, Any] = field(default_factory=_frozen_map)


@dataclass(frozen=True)
class AppConfig:
    """A whole lain.yaml."""

    appname: str
    build: BuildConfig
    apptype: str = "app"  # "app" or "resource"
    giturl: str | None = None
    release: ReleaseConfig = field(default_factory=ReleaseConfig)
    test: TestConfig = field(default_factory=TestConfig)
    procs: tuple[Proc, ...] = ()
    use_services: Mapping[str, tuple[str, ...]] = field(default_factory=_frozen_map)
    use_resources: Mapping[str, ResourceUse] = field(default_factory=_frozen_map)
    notify: Mapping[str, Any] = field(default_factory=_frozen_map)
    domains: tuple[str, ...] = (DEFAULT_DOMAIN,)
    source: str = ""  # the lain.yaml text it was loaded from (the meta image carries it)
    path: str = "lain.yaml"
    # What is valid but unwise (a secret written out in it), sorted by position; not part of
    # what the file means, so not in to_dict().
    warnings: tuple[Problem, ...] = ()

    def proc(self, name: str) -> Proc:
        """Return the proc called ``name``.

        Raises:
            NotFound: there is no such proc; the message lists the procs there are.
            InvalidArgument: ``name`` is not a string.
        """
        name = arguments.string(name, "name")
        for proc in self.procs:
            if proc.name == name:
                return proc
        known = ", ".join(p.name for p in self.procs) or "none"
        raise NotFound(f"{self.appname} has no proc {name!r} (procs: {known})")

    @property
    def app_domain(self) -> str:
        """v2's app domain: the appname's dot-separated parts reversed."""
        return ".".join(reversed(self.appname.split(".")))

    def to_dict(self) -> dict[str, Any]:
        """The normalised model as plain JSON-ready data (what ``lain validate -o json`` prints)."""
        data: dict[str, Any] = _plain(self)
        data.pop("source", None)
        data.pop("warnings", None)
        data["procs"] = [proc.to_dict() for proc in self.procs]
        return data


def _plain(value: Any) -> Any:
    """Turn dataclasses, mapping proxies and tuples into dicts and lists, for JSON."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
