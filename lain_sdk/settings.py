"""Clusters lain can deploy to, kept in the user's settings file.

The file is YAML::

    current: prod
    clusters:
      prod:
        docker_host: ssh://deploy@manager1.example.com
        registry: registry.example.com
        domains: [example.com]
        insecure_registry: false

Where the file is (first match wins):

1. ``$LAIN_CONFIG`` (a file path),
2. ``$XDG_CONFIG_HOME/lain/config.yaml``,
3. ``~/.config/lain/config.yaml``.

Which cluster a command acts on (first match wins):

1. the ``-c/--cluster`` option (passed in as ``name``),
2. ``$LAIN_CLUSTER``,
3. ``current`` in the file,
4. the built-in local default: the local engine as a one-node swarm, a registry on
   127.0.0.1:5000 and the domain lain.local (what ``lain cluster up`` sets up).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import lain_sdk.arguments as arguments
from lain_sdk.errors import ClusterNotFound, NotFound, SettingsError
from lain_sdk.files import replace_file

LOCAL_CLUSTER = "local"
LOCAL_REGISTRY = "127.0.0.1:5000"
LOCAL_DOMAIN = "lain.local"
LOCAL_DOMAINS = ("lain.localhost", LOCAL_DOMAIN)
# Made by the README's set-up from Debian's packages (nothing can be pulled on such machines).
LOCAL_ROUTER_BASE = "lain-local/router-base:latest"


class EnvVars:
    """Names of the environment variables lain reads."""

    CONFIG = "LAIN_CONFIG"
    CLUSTER = "LAIN_CLUSTER"
    XDG_CONFIG_HOME = "XDG_CONFIG_HOME"
    XDG_DATA_HOME = "XDG_DATA_HOME"
    XDG_CACHE_HOME = "XDG_CACHE_HOME"
    HOME = "HOME"


class RouterSettings(NamedTuple):
    """Where and how a cluster's router runs (see :mod:`lain_sdk.cluster.router`).

    Attributes:
        base_image: an image with nginx (and its stream module) and python3, or a Debian or
            Ubuntu image lain installs them into when it builds the router's image.
        http_port: the port the router answers HTTP on, on each of its nodes.
        https_port: the same for HTTPS.
        constraint: the Swarm placement constraint that picks the router's nodes (they must
            be managers: the router reads the swarm from its node's engine).
        engine_socket: where the engine's socket is on those nodes (the router mounts it):
            another path for a rootless engine, or for several engines on one machine.
    """

    base_image: str = "debian:bookworm-slim"
    http_port: int = 80
    https_port: int = 443
    constraint: str = "node.role==manager"
    engine_socket: str = "/var/run/docker.sock"

    def to_dict(self) -> dict[str, Any]:
        return dict(self._asdict())


class ClusterSettings(NamedTuple):
    """One cluster: where its engine and registry are, and which domains its apps get.

    Attributes:
        name: the name the user gave it (``local`` for the built-in default).
        docker_host: the engine of a swarm manager (``unix://``, ``ssh://user@host``,
            ``tcp://host:2376``); None means the local engine (``DOCKER_HOST`` or the socket).
        registry: ``host[:port]`` of the registry release images are pushed to and pulled from.
        domains: the cluster's domains, main one first (``LAIN_DOMAIN`` is the first).
        insecure_registry: the registry speaks plain HTTP.
        tls_cert_path: a directory with ``ca.pem``, ``cert.pem`` and ``key.pem`` for a
            ``tcp://`` engine that wants TLS client certificates.
        publish_ports: publish web procs on ephemeral host ports as well (for debugging: the
            router serves them by their mountpoints).
        router: where and how the router runs.
    """

    name: str
    docker_host: str | None = None
    registry: str = LOCAL_REGISTRY
    domains: tuple[str, ...] = (LOCAL_DOMAIN,)
    insecure_registry: bool = False
    tls_cert_path: str | None = None
    publish_ports: bool = False
    router: RouterSettings = RouterSettings()

    @property
    def domain(self) -> str:
        """The main domain (v2's ``LAIN_DOMAIN``)."""
        return self.domains[0] if self.domains else LOCAL_DOMAIN

    @property
    def engine(self) -> str:
        """The engine address, for messages."""
        return self.docker_host or "the local Docker engine"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "docker_host": self.docker_host,
            "registry": self.registry,
            "domains": list(self.domains),
            "insecure_registry": self.insecure_registry,
            "publish_ports": self.publish_ports,
            "router": self.router.to_dict(),
        }
        if self.tls_cert_path:
            data["tls_cert_path"] = self.tls_cert_path
        return data


LOCAL_DEFAULT = ClusterSettings(
    name=LOCAL_CLUSTER,
    docker_host=None,
    registry=LOCAL_REGISTRY,
    # *.localhost names reach this machine without editing /etc/hosts (curl and browsers
    # resolve them to loopback); lain v2's lain.local stays served for its lain.yaml files.
    domains=LOCAL_DOMAINS,
    insecure_registry=True,
    # The router serves web procs; ephemeral host ports stay available for debugging
    # (a `local` cluster added with --publish-ports).
    publish_ports=False,
    router=RouterSettings(base_image=LOCAL_ROUTER_BASE),
)


def default_settings_path(environ: Mapping[str, str] | None = None) -> Path:
    """Where the settings file is: ``$LAIN_CONFIG``, else the XDG config directory."""
    env = os.environ if environ is None else environ
    if env.get(EnvVars.CONFIG):
        return Path(env[EnvVars.CONFIG]).expanduser()
    if env.get(EnvVars.XDG_CONFIG_HOME):
        return Path(env[EnvVars.XDG_CONFIG_HOME]) / "lain" / "config.yaml"
    return _home(env) / ".config" / "lain" / "config.yaml"


def data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """lain's data directory: ``$XDG_DATA_HOME/lain`` (default ``~/.local/share/lain``)."""
    env = os.environ if environ is None else environ
    if env.get(EnvVars.XDG_DATA_HOME):
        return Path(env[EnvVars.XDG_DATA_HOME]) / "lain"
    return _home(env) / ".local" / "share" / "lain"


def cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """lain's cache directory: ``$XDG_CACHE_HOME/lain`` (default ``~/.cache/lain``); anything
    in it may be deleted at any time."""
    env = os.environ if environ is None else environ
    if env.get(EnvVars.XDG_CACHE_HOME):
        return Path(env[EnvVars.XDG_CACHE_HOME]) / "lain"
    return _home(env) / ".cache" / "lain"


def _home(env: Mapping[str, str]) -> Path:
    return Path(env[EnvVars.HOME]) if env.get(EnvVars.HOME) else Path.home()


class Settings:
    """The user's clusters and the one in use.

    Build it with :meth:`load`; change it with :meth:`add`, :meth:`remove`, :meth:`use`, then
    :meth:`save`.

    Attributes:
        path: the settings file.
        clusters: the configured clusters by name (the built-in ``local`` only when overridden).
        current: the cluster marked in use, if any.
        environ: the environment ``LAIN_CLUSTER`` is read from.
    """

    # A plain class rather than a dataclass: every command builds one, and making a dataclass
    # costs about a millisecond at import (see bench/deploy.py's `lain ps` fixed cost).
    def __init__(
        self,
        path: Path,
        clusters: dict[str, ClusterSettings] | None = None,
        current: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.path = path
        self.clusters = {} if clusters is None else clusters
        self.current = current
        self.environ: Mapping[str, str] = {} if environ is None else environ

    def __repr__(self) -> str:
        return f"Settings(path={self.path!r}, clusters={self.clusters!r}, current={self.current!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Settings):
            return NotImplemented
        return (self.path, self.clusters, self.current) == (
            other.path,
            other.clusters,
            other.current,
        )

    __hash__ = None  # type: ignore[assignment]  # mutable

    @classmethod
    def load(
        cls, path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
    ) -> Settings:
        """Read the settings file; a missing file means no clusters yet.

        Args:
            path: the file; default :func:`default_settings_path`.
            environ: the environment to read ``LAIN_*`` and XDG variables from (default
                ``os.environ``); tests pass their own.

        Raises:
            SettingsError: the file cannot be read or is not valid (the message names it).
            InvalidArgument: an argument of the wrong kind.
        """
        path = arguments.optional_path(path, "path")
        environ = arguments.environ(environ)
        env = dict(os.environ if environ is None else environ)
        file = Path(path) if path is not None else default_settings_path(env)
        try:
            raw = file.read_bytes()
        except FileNotFoundError:
            return cls(path=file, environ=env)
        except OSError as e:
            raise SettingsError(f"cannot read the lain settings file {file}: {e.strerror}") from e
        return cls(path=file, environ=env, **_parse(_decode(raw, file), file, env))

    def cluster(self, name: str | None = None) -> ClusterSettings:
        """The cluster to act on: ``name``, else ``$LAIN_CLUSTER``, else ``current``, else local.

        Raises:
            ClusterNotFound: the named cluster is not configured (the message lists those that
                are).
            InvalidArgument: ``name`` is not a string or None.
        """
        name = arguments.optional_text(name, "name")
        chosen = name or self.environ.get(EnvVars.CLUSTER) or self.current
        if not chosen:
            return self.clusters.get(LOCAL_CLUSTER, LOCAL_DEFAULT)
        if chosen in self.clusters:
            return self.clusters[chosen]
        if chosen == LOCAL_CLUSTER:
            return LOCAL_DEFAULT
        raise ClusterNotFound(chosen, str(self.path), self.names())

    def names(self) -> list[str]:
        """Every cluster name, the built-in ``local`` included."""
        return sorted({LOCAL_CLUSTER, *self.clusters})

    def all(self) -> list[ClusterSettings]:
        """Every cluster, the built-in local default included (unless overridden)."""
        return [self.clusters.get(n, LOCAL_DEFAULT) for n in self.names()]

    def selected_name(self, name: str | None = None) -> str:
        """The name :meth:`cluster` would pick."""
        return name or self.environ.get(EnvVars.CLUSTER) or self.current or LOCAL_CLUSTER

    def add(self, cluster: ClusterSettings) -> None:
        """Add or replace a cluster.

        Raises:
            SettingsError: the cluster's name or registry is not valid.
            InvalidArgument: ``cluster`` is not a :class:`ClusterSettings`.
        """
        cluster = arguments.instance(cluster, ClusterSettings, "cluster")
        if not cluster.name or not all(c.isalnum() or c in "-_." for c in cluster.name):
            raise SettingsError(
                f"invalid cluster name {cluster.name!r}: use letters, digits, '-', '_' and '.'"
            )
        if not cluster.registry:
            raise SettingsError(f"cluster {cluster.name!r} needs a registry (host[:port])")
        self.clusters[cluster.name] = cluster._replace(
            domains=tuple(cluster.domains) or (LOCAL_DOMAIN,)
        )

    def remove(self, name: str) -> None:
        """Forget a cluster; the one in use falls back to the local default.

        Raises:
            NotFound: there is no such cluster in the file.
        """
        if name not in self.clusters:
            if name == LOCAL_CLUSTER:
                raise NotFound(
                    "the built-in local cluster cannot be removed (it is not in the file)"
                )
            raise NotFound(f"no cluster named {name!r} in {self.path}")
        del self.clusters[name]
        if self.current == name:
            self.current = None

    def use(self, name: str) -> None:
        """Mark a cluster as the one in use.

        Raises:
            NotFound: there is no such cluster.
        """
        if name not in self.clusters and name != LOCAL_CLUSTER:
            self.cluster(name)  # raises NotFound with the list of clusters
        self.current = name

    def to_dict(self) -> dict[str, Any]:
        clusters = {}
        for name, c in sorted(self.clusters.items()):
            data = c.to_dict()
            del data["name"]
            clusters[name] = data
        return {"current": self.current, "clusters": clusters}

    def save(self) -> None:
        """Write the file atomically, readable by its owner only.

        Raises:
            SettingsError: the file cannot be written.
        """
        import yaml

        text = "# lain settings: edit with `lain cluster add|use|rm`\n" + yaml.safe_dump(
            self.to_dict(), sort_keys=False, default_flow_style=False
        )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Written beside the target and renamed, so a crash never leaves half a file, and a
            # failure leaves no temporary file.
            replace_file(self.path, text.encode("utf-8"), 0o600)
        except OSError as e:
            raise SettingsError(f"cannot write the lain settings file {self.path}: {e}") from e


_CLUSTER_KEYS = {
    "docker_host",
    "registry",
    "domains",
    "insecure_registry",
    "tls_cert_path",
    "publish_ports",
    "router",
}
_ROUTER_KEYS = {
    "base_image": str,
    "http_port": int,
    "https_port": int,
    "constraint": str,
    "engine_socket": str,
}


def _decode(raw: bytes, file: Path) -> str:
    """The settings file's text.

    Raises:
        SettingsError: it is not UTF-8; the message names the file and where.
    """
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        column = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        raise SettingsError(
            f"{file}:{line}:{column}: not UTF-8 text (byte 0x{raw[e.start]:02x}); save the lain "
            "settings file as UTF-8, or remove it"
        ) from None


def _load_yaml(text: str, file: Path, env: Mapping[str, str]) -> Any:
    """The settings file's data.  The data of a text seen before is kept as JSON in lain's
    cache (keyed by the text itself), because importing a YAML parser costs every command
    about 25 ms, more than the rest of reading the settings."""
    kept = cache_dir(env) / "settings" / f"{hashlib.sha256(text.encode()).hexdigest()}.json"
    try:
        return json.loads(kept.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark else str(file)
        problem = getattr(e, "problem", None) or "not valid YAML"
        raise SettingsError(f"{where}: {problem}; fix or remove the lain settings file") from e
    except RecursionError:
        raise SettingsError(
            f"{file}: nested too deeply to be lain settings; fix or remove the lain settings file"
        ) from None
    _keep(kept, data)
    return data


def _keep(path: Path, data: Any) -> None:
    """Remember ``data`` at ``path`` when JSON says the same (a cache: failures only cost
    time)."""
    try:
        text = json.dumps(data)
        if json.loads(text) != data:  # YAML that JSON cannot hold as it is (dates, int keys)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        replace_file(path, text.encode("utf-8"))  # leaves no .tmp when it fails
    except (OSError, TypeError, ValueError, RecursionError):
        pass


def _parse(text: str, file: Path, env: Mapping[str, str]) -> dict[str, Any]:
    data = _load_yaml(text, file, env)
    if data is None:
        return {}

    def bad(message: str) -> SettingsError:
        return SettingsError(f"{file}: {message}; fix or remove the lain settings file")

    if not isinstance(data, dict):
        raise bad(f"expected a mapping with `clusters` and `current`, not {_kind(data)}")
    unknown = set(data) - {"clusters", "current"}
    if unknown:
        raise bad(f"unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    current = data.get("current")
    if current is not None and not isinstance(current, str):
        raise bad(f"`current` must be a cluster name, not {_kind(current)}")
    raw = data.get("clusters") or {}
    if not isinstance(raw, dict):
        raise bad(f"`clusters` must be a mapping of name to settings, not {_kind(raw)}")
    clusters: dict[str, ClusterSettings] = {}
    for name, entry in raw.items():
        # A name YAML reads as a number (``7:``) is still a name; a date, a boolean or nothing
        # is a mistake.
        if isinstance(name, bool) or not isinstance(name, (str, int)):
            raise bad(f"clusters: a cluster name must be a string, not {_kind(name)}")
        clusters[str(name)] = _cluster(str(name), entry, bad)
    return {"clusters": clusters, "current": current}


def _cluster(name: str, entry: Any, bad: Callable[[str], SettingsError]) -> ClusterSettings:
    """One cluster of the settings file, every key of the type it must have.

    Raises:
        SettingsError: from ``bad``, naming ``clusters.NAME.KEY``.
    """
    if not isinstance(entry, dict):
        raise bad(f"clusters.{name} must be a mapping, not {_kind(entry)}")
    extra = set(entry) - _CLUSTER_KEYS
    if extra:
        raise bad(f"clusters.{name}: unknown key(s) {', '.join(sorted(map(str, extra)))}")
    registry = entry.get("registry")
    if not isinstance(registry, str) or not registry:
        given = "an empty string" if registry == "" else _kind(registry)
        raise bad(f"clusters.{name}.registry must be a registry host[:port], not {given}")
    for key, what in (("docker_host", "a URL"), ("tls_cert_path", "a directory path")):
        if entry.get(key) is not None and not isinstance(entry[key], str):
            raise bad(f"clusters.{name}.{key} must be {what}, not {_kind(entry[key])}")
    domains = entry.get("domains") or [LOCAL_DOMAIN]
    if isinstance(domains, str):
        domains = [domains]
    if not isinstance(domains, list) or not all(isinstance(d, str) for d in domains):
        raise bad(f"clusters.{name}.domains must be a list of domains")
    for key in ("insecure_registry", "publish_ports"):
        if key in entry and not isinstance(entry[key], bool):
            raise bad(f"clusters.{name}.{key} must be true or false, not {_kind(entry[key])}")
    return ClusterSettings(
        name=name,
        docker_host=entry.get("docker_host") or None,
        registry=registry,
        domains=tuple(domains),
        insecure_registry=bool(entry.get("insecure_registry", False)),
        tls_cert_path=entry.get("tls_cert_path") or None,
        publish_ports=bool(entry.get("publish_ports", False)),
        router=_router(name, entry.get("router"), bad),
    )


def _router(name: str, entry: Any, bad: Callable[[str], SettingsError]) -> RouterSettings:
    if entry is None:
        return RouterSettings()
    if not isinstance(entry, dict):
        raise bad(f"clusters.{name}.router must be a mapping, not {_kind(entry)}")
    extra = set(entry) - set(_ROUTER_KEYS)
    if extra:
        raise bad(
            f"clusters.{name}.router: unknown key(s) {', '.join(sorted(map(str, extra)))}; "
            f"it takes {', '.join(sorted(_ROUTER_KEYS))}"
        )
    for key, kind in _ROUTER_KEYS.items():
        value = entry.get(key)
        if value is None:
            continue
        if not isinstance(value, kind) or isinstance(value, bool):
            raise bad(f"clusters.{name}.router.{key} must be {kind.__name__}, not {_kind(value)}")
        if isinstance(value, int) and not 0 < value < 65536:
            raise bad(f"clusters.{name}.router.{key} must be a port (1-65535), not {value}")
    return RouterSettings(**{k: v for k, v in entry.items() if v is not None})


def _kind(value: Any) -> str:
    """What a value of the settings file is, in YAML's words (never the value: it is quoted in
    an error message)."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true or false"
    for kinds, word in (((int, float), "a number"), (str, "a string"), (list, "a list"),
                        (dict, "a mapping")):  # fmt: skip
        if isinstance(value, kinds):
            return word
    return f"a {type(value).__name__}"
