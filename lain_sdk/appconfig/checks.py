"""Semantic checks of lain.yaml: the rules a JSON Schema cannot say.

They run on what the schema accepted (a value under a path the schema already rejected is left
alone, so the two never report contradicting things) and report in the same form.  Most rules
are lain v2's parser rules, which v2 raised one at a time, or never checked at all.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Callable, Iterator
from typing import Any

from lain_router.model import parse_mountpoint
from lain_sdk.appconfig.keypath import KeyPath
from lain_sdk.appconfig.model import APP_DIR, LOGS_DIR
from lain_sdk.appconfig.render import template_error
from lain_sdk.appconfig.validation import Found, is_template, parse_section
from lain_sdk.images.buildargs import environment_source, is_secret_name

RESERVED_APPNAMES = ("service", "resource", "portal")
RESERVED_VOLUMES = ("/", "/lain", APP_DIR)
MIN_MEMORY = 6 * 1024 * 1024  # Docker refuses a smaller memory limit
STREAM_PORTS = (9500, 10000)  # v2's stream-router source port range
MEMORY_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
# Also "1.5g" and "512mb": `lain scale --memory` takes what people type; lain.yaml values are
# held to the schema's stricter pattern before they get here.
_MEMORY_RE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)\s*([bkmg]?)b?$", re.IGNORECASE)
_PORT_MAPPING_RE = re.compile(r"^([0-9]+)(?::([0-9]+))?(?:/(tcp|udp))?$")
# A v2 filter (Swarm classic's): kind, key, operator, value.
FILTER_RE = re.compile(r"^(affinity|constraint):(.+?)(==|!=)(.+)$")
# What Swarm's placement constraints take (swarmkit's constraint parser): a key of letters,
# digits and - _ . ; a value without operators or spaces.
CONSTRAINT_KEY_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
CONSTRAINT_VALUE_RE = re.compile(r"^[A-Za-z0-9:_.*()?+\[\]\\^$|/-]+$")

Position = Callable[[KeyPath], tuple[int, int]]


def parse_memory(value: float | str) -> int:
    """``"64m"`` -> 67108864: Docker's binary units, case-insensitive; a plain number is bytes."""
    if isinstance(value, (int, float)):
        return int(value)
    m = _MEMORY_RE.match(value.strip())
    if not m:
        raise ValueError(f"not a memory size: {value!r}")
    return int(float(m.group(1)) * MEMORY_UNITS[m.group(2).lower()])


def parse_port_mapping(text: str) -> tuple[int, int, str]:
    """``"9501:80/udp"`` -> ``(9501, 80, "udp")``; DST defaults to SRC, the protocol to tcp."""
    m = _PORT_MAPPING_RE.match(str(text).strip())
    if not m:
        raise ValueError(f"not a port mapping: {text!r}")
    src = int(m.group(1))
    return src, int(m.group(2) or src), m.group(3) or "tcp"


def port_mappings(value: Any) -> list[tuple[KeyPath, str]]:
    """The mappings of a ``ports`` value (one string, a list, or a mapping keyed by mapping)."""
    if isinstance(value, str):
        return [((), value)]
    if isinstance(value, list):
        return [((i,), v) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return [((k,), k) for k in value]
    return []


def container_path(path: str, *, keep_slash: bool = False) -> str:
    """A path inside the container: relative ones are inside /lain/app, ``..`` is resolved.

    ``keep_slash`` keeps a trailing ``/`` (it decides where ``cp`` puts a copied file).
    """
    joined = posixpath.normpath(posixpath.join(APP_DIR, path.strip()))
    if joined.startswith("//"):  # normpath keeps a leading "//" (POSIX allows it a meaning)
        joined = "/" + joined.lstrip("/")
    if keep_slash and path.endswith("/") and joined != "/":
        joined += "/"
    return joined


def volume_entries(value: Any) -> Iterator[tuple[KeyPath, str]]:
    """(path suffix, directory) of each ``persistent_dirs`` entry."""
    if not isinstance(value, list):
        return
    for i, item in enumerate(value):
        if isinstance(item, str):
            yield (i,), item
        elif isinstance(item, dict):
            for key in item:
                yield (i, key), key


def proc_sections(data: dict[str, Any]) -> Iterator[tuple[str, str, str, KeyPath, dict[str, Any]]]:
    """Every proc a lain.yaml defines, in file order: (name, type, section, path, body).

    ``type`` is "" when the section's ``type:`` is not a known type.  ``service.X`` gives proc
    ``X`` and its portal ``portal-X`` (whose body is the ``portal:`` sub-map).
    """
    for key, body in data.items():
        section = parse_section(key) if isinstance(key, str) else None
        if section is None or not isinstance(body, dict):
            continue
        prefix, name = section
        if prefix in ("web", "worker", "oneshot"):
            # v2 ignores a body `type:` here: the section name gives the type.
            yield name, prefix, key, (key,), body
        elif prefix == "portal":
            yield name, "portal", key, (key,), body
        else:
            kind = body.get("type", "worker")
            kind = kind if kind in ("web", "worker", "oneshot") else ""
            yield name, kind, key, (key,), body
            if prefix == "service" and isinstance(body.get("portal"), dict):
                yield f"portal-{name}", "portal", key, (key, "portal"), body["portal"]


class _Checker:
    def __init__(
        self, data: dict[str, Any], bad: set[KeyPath], position: Position, templates: bool
    ):
        self.data = data
        self.bad = bad
        self.position = position
        self.templates = templates
        self.found: list[Found] = []

    def ok(self, path: KeyPath) -> bool:
        """The schema accepted everything at ``path`` and above it."""
        return not any(path[: len(b)] == b for b in self.bad)

    def usable(self, path: KeyPath, value: Any) -> bool:
        return self.ok(path) and not (self.templates and is_template(value))

    def add(self, path: KeyPath, message: str, at: str = "value") -> None:
        self.found.append(Found(path, message, at))

    def line_of(self, path: KeyPath) -> str:
        line, _ = self.position(path)
        return f"line {line}"

    # -- the checks ------------------------------------------------------------------------

    def run(self) -> list[Found]:
        self.appname()
        self.procs()
        self.dependencies()
        self.build()
        if self.templates:
            self.template_syntax()
        return self.found

    def appname(self) -> None:
        name = self.data.get("appname")
        if name in RESERVED_APPNAMES and self.ok(("appname",)):
            self.add(
                ("appname",),
                f"{name!r} is reserved (service, resource and portal name lain's own objects); "
                "choose another appname",
            )
        if (
            self.data.get("apptype") == "resource"
            and self.data.get("use_resources")
            and self.ok(("use_resources",))
        ):
            self.add(
                ("use_resources",),
                "a resource cannot use other resources (it may use services); move them to the "
                "apps that use this resource",
                at="key",
            )

    def procs(self) -> None:
        names: dict[str, tuple[str, KeyPath]] = {}
        stream_ports: dict[int, KeyPath] = {}
        for name, kind, section, path, body in proc_sections(self.data):
            if not self.ok(path):
                continue
            if name in names:
                first_section, first_path = names[name]
                made = ""
                if section.startswith("service."):
                    made = f"{section} makes procs {section[8:]} and portal-{section[8:]}; "
                self.add(
                    (section,),
                    f"{made}proc name {name!r} is already taken by section {first_section!r} "
                    f"({self.line_of(first_path)}); proc names must be unique, so rename one of "
                    "them",
                    at="key",
                )
            else:
                names[name] = (section, (section,))
            self.proc(name, kind, path, body, stream_ports)

    def proc(
        self,
        name: str,
        kind: str,
        path: KeyPath,
        body: dict[str, Any],
        stream_ports: dict[int, KeyPath],
    ) -> None:
        mountpoint = body.get("mountpoint")
        if kind == "web" and name != "web" and not mountpoint and self.ok((*path, "mountpoint")):
            self.add(
                path,
                f"web proc {name!r} needs its own mountpoint: only the proc named web gets the "
                f"default domains; add mountpoint: [/{name}] (a path on the app's domains) or a "
                "domain of its own",
                at="key",
            )
        if kind and kind != "web":
            for key in ("mountpoint", "healthcheck"):
                if key in body and self.ok((*path, key)):
                    fix = "use container_healthcheck" if key == "healthcheck" else "remove it"
                    self.add(
                        (*path, key),
                        f"{key} only works on web procs ({name} is a {kind}); {fix}, or make "
                        "the proc a web proc",
                        at="key",
                    )
        if kind == "web":
            self.mountpoints((*path, "mountpoint"), mountpoint)
        for key in ("cmd", "entrypoint"):
            self.command((*path, key), body.get(key))
        self.memory((*path, "memory"), body.get("memory"))
        self.port((*path, "port"), body.get("port"))
        self.ports((*path, "ports"), body.get("ports"), stream_ports)
        self.logs((*path, "logs"), body.get("logs"))
        if "persistent_dirs" in body and "volumes" in body and self.ok((*path, "volumes")):
            self.add(
                (*path, "volumes"),
                "persistent_dirs and volumes are the same setting (lain v2 read only "
                "persistent_dirs); keep one of them",
                at="key",
            )
        for key in ("persistent_dirs", "volumes"):
            self.volumes((*path, key), body.get(key))
        self.secret_files((*path, "secret_files"), body.get("secret_files"))
        self.filters((*path, "filters"), body.get("filters"))

    def command(self, path: KeyPath, value: Any) -> None:
        if isinstance(value, str) and self.usable(path, value):
            try:
                shlex.split(value)
            except ValueError as e:
                self.add(
                    path, f"cannot split this command line ({str(e).lower()}); check its quotes"
                )

    def memory(self, path: KeyPath, value: Any) -> None:
        if (
            not isinstance(value, (int, float, str))
            or isinstance(value, bool)
            or not self.usable(path, value)
        ):
            return
        try:
            size = parse_memory(value)
        except ValueError:
            return
        if size < MIN_MEMORY:
            plain = isinstance(value, int) or str(value).strip().isdigit()
            hint = f"; a number without a unit is bytes, did you mean {value}m?" if plain else ""
            self.add(path, f"must be at least 6m (Docker refuses less), got {value}{hint}")

    def port(self, path: KeyPath, value: Any) -> None:
        if not self.usable(path, value):
            return
        number: Any = None
        if isinstance(value, str):
            number = value.split(":", 1)[0]
        elif isinstance(value, dict) and len(value) == 1:
            number = next(iter(value))
        if isinstance(number, str) and number.isdigit() and not 1 <= int(number) <= 65535:
            self.add(path, f"must be between 1 and 65535, got {int(number)}")

    def mountpoints(self, path: KeyPath, value: Any) -> None:
        """Each mountpoint is a host name, a host and a path, or a path on the app's
        domains, in characters the router takes literally."""
        if not isinstance(value, list) or not self.usable(path, value):
            return
        for index, entry in enumerate(value):
            if not isinstance(entry, str) or is_template(entry):
                continue
            try:
                parse_mountpoint(f"host{entry}" if entry.startswith("/") else entry)
            except ValueError as e:
                said = f"{entry!r} is not a path" if entry.startswith("/") else str(e)
                self.add(
                    (*path, index),
                    f"{said}: write a mountpoint as example.com, example.com/path or /path "
                    "(letters, digits and ._~%!&()*+,=:@- between single slashes)",
                )

    def ports(self, path: KeyPath, value: Any, seen: dict[int, KeyPath]) -> None:
        if value is None or not self.usable(path, value):
            return
        low, high = STREAM_PORTS
        for suffix, text in port_mappings(value):
            where = (*path, *suffix)
            at = "key" if isinstance(value, dict) else "value"
            if not self.usable(where, text):
                continue
            try:
                src, dest, _ = parse_port_mapping(text)
            except ValueError:
                continue
            if not low <= src <= high:
                self.add(where, f"the source port must be between {low} and {high}, got {src}", at)
            elif src in seen:
                self.add(
                    where,
                    f"source port {src} is already used ({self.line_of(seen[src])}); each source "
                    "port maps to one proc",
                    at,
                )
            else:
                seen[src] = where
            if not 1 <= dest <= 65535:
                self.add(where, f"the destination port must be between 1 and 65535, got {dest}", at)

    def logs(self, path: KeyPath, value: Any) -> None:
        if not isinstance(value, list):
            return
        for i, log in enumerate(value):
            if isinstance(log, str) and log.startswith("/") and self.usable((*path, i), log):
                inside = log.startswith(LOGS_DIR + "/") and len(log) > len(LOGS_DIR) + 1
                relative = (
                    log[len(LOGS_DIR) + 1 :] if inside else posixpath.basename(log.rstrip("/"))
                )
                example = f", like {relative!r}" if relative else ""
                self.add((*path, i), f"must be a path relative to /lain/logs{example}")

    def volumes(self, path: KeyPath, value: Any) -> None:
        for suffix, directory in volume_entries(value):
            where = (*path, *suffix)
            if not self.usable(where, directory) or not isinstance(directory, str):
                continue
            if container_path(directory) in RESERVED_VOLUMES:
                self.add(
                    where,
                    f"cannot keep {directory!r} across restarts: /, /lain and /lain/app hold the "
                    "system and the app itself; name a directory inside them, like /lain/app/data",
                    at="key" if len(suffix) > 1 else "value",
                )

    def filters(self, path: KeyPath, value: Any) -> None:
        """A constraint filter becomes a Swarm placement constraint on a node label, so its
        key and value must be what Swarm accepts there."""
        for where, text in filter_entries(path, value):
            match = FILTER_RE.match(text.strip())
            if match is None or match.group(1) != "constraint" or not self.usable(where, text):
                continue
            _, key, _, wanted = match.groups()
            if not CONSTRAINT_KEY_RE.match(key):
                self.add(
                    where,
                    f"{key!r} cannot be a node label in a placement constraint: use letters, "
                    "digits, '-', '_' and '.'",
                )
            elif not CONSTRAINT_VALUE_RE.match(wanted):
                self.add(
                    where,
                    f"{wanted!r} cannot be a value in a placement constraint: use letters, "
                    "digits and - _ . : /",
                )

    def secret_files(self, path: KeyPath, value: Any) -> None:
        if not isinstance(value, list):
            return
        seen: dict[str, int] = {}
        for i, item in enumerate(value):
            if not isinstance(item, str) or not self.usable((*path, i), item):
                continue
            resolved = container_path(item)
            if item.rstrip().endswith("/") or resolved in RESERVED_VOLUMES:
                self.add(
                    (*path, i),
                    f"secret_files lists files, and {item!r} is a directory; name the file",
                )
            elif resolved in seen:
                self.add(
                    (*path, i), f"{resolved} is already listed (item {seen[resolved]}); remove one"
                )
            else:
                seen[resolved] = i

    def dependencies(self) -> None:
        services = self.data.get("use_services")
        resources = self.data.get("use_resources")
        if not isinstance(services, dict) or not isinstance(resources, dict):
            return
        used: dict[str, str] = {}
        for app, names in services.items():
            if isinstance(names, list) and self.ok(("use_services", app)):
                for n in names:
                    if isinstance(n, str):
                        used.setdefault(n, app)
        for res, spec in resources.items():
            names = spec.get("services") if isinstance(spec, dict) else None
            if not isinstance(names, list) or not self.ok(("use_resources", res, "services")):
                continue
            for i, n in enumerate(names):
                if (
                    isinstance(n, str)
                    and n in used
                    and self.ok(("use_resources", res, "services", i))
                ):
                    self.add(
                        ("use_resources", res, "services", i),
                        f"{n!r} is also a service of use_services.{used[n]}; the services and "
                        "resources an app uses need different names (lain v2 rule)",
                    )

    def build(self) -> None:
        build = self.data.get("build")
        release = self.data.get("release")
        if not isinstance(build, dict) or not isinstance(release, dict):
            return
        if build.get("volumes") and release.get("script") and self.ok(("release", "script")):
            self.add(
                ("release", "script"),
                "release.script is not supported when build.volumes is set (that build is "
                "committed from a container); remove one of them",
                at="key",
            )

    def template_syntax(self) -> None:
        for path, value in _strings(self.data, ()):
            if is_template(value) and self.ok(path):
                error = template_error(value)
                if error:
                    self.add(path, f"invalid template: {error}")


def _strings(value: Any, path: KeyPath) -> Iterator[tuple[KeyPath, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, (*path, i))


def semantic_problems(
    data: dict[str, Any], bad: set[KeyPath], position: Position, *, templates: bool = False
) -> list[Found]:
    """The rules beyond the schema, checked on what the schema accepted.

    Args:
        data: the document.
        bad: paths the schema rejected; nothing at or under them is checked again.
        position: ``path -> (line, column)``, to name where a clashing first entry is.
        templates: a resource template: Jinja expressions stand for values not known yet.
    """
    return _Checker(data, bad, position, templates).run()


# -- warnings: a valid file that still gives a secret away ----------------------------------------

_WRITTEN_OUT = "{name} looks like a secret, and its value is written in lain.yaml, which "
_SECRET_ENV = (
    _WRITTEN_OUT + "the repository, the images and the service's settings hold; keep it in a "
    "file listed in secret_files instead"
)
_SECRET_BUILD_ARG = (
    _WRITTEN_OUT + "the repository and the images hold; read it from the build's environment "
    "instead: {name}=${name}"
)


def secret_warnings(data: dict[str, Any]) -> list[Found]:
    """Values written in lain.yaml under names that look secret (see
    :func:`lain_sdk.images.buildargs.is_secret_name`), in build args and in ``env``.

    Not problems: the file works, but whoever reads the repository or pulls an image reads the
    value.  Checked on a file the schema accepted.
    """
    found: list[Found] = []
    for path, entries in _build_arg_lists(data):
        for where, name in _written_secrets(path, entries, build_args=True):
            found.append(Found(where, _SECRET_BUILD_ARG.format(name=name)))
    for _, _, _, path, body in proc_sections(data):
        for where, name in _written_secrets((*path, "env"), body.get("env"), build_args=False):
            found.append(Found(where, _SECRET_ENV.format(name=name)))
    return found


def filter_entries(path: KeyPath, value: Any) -> Iterator[tuple[KeyPath, str]]:
    """(path, text) of each filter of a ``filters`` value (a string or a list)."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, str):
                yield (*path, i), item


def filter_warnings(data: dict[str, Any]) -> list[Found]:
    """``affinity:`` filters: Swarm classic placed a container next to (or away from) others;
    Swarm mode has nothing like it, so lain ignores them."""
    found = []
    for _, _, _, path, body in proc_sections(data):
        for where, text in filter_entries((*path, "filters"), body.get("filters")):
            if text.strip().startswith("affinity:"):
                found.append(
                    Found(
                        where,
                        "affinity filters have no counterpart in Docker Swarm and are ignored; "
                        "to keep procs together or apart, label nodes and use "
                        "constraint:KEY==VALUE",
                    )
                )
    return found


def _build_arg_lists(data: dict[str, Any]) -> Iterator[tuple[KeyPath, Any]]:
    build = data.get("build")
    if not isinstance(build, dict):
        return
    yield ("build", "build_arg"), build.get("build_arg")
    prepare = build.get("prepare")
    if isinstance(prepare, dict):
        yield ("build", "prepare", "build_arg"), prepare.get("build_arg")


def _written_secrets(
    path: KeyPath, entries: Any, *, build_args: bool
) -> Iterator[tuple[KeyPath, str]]:
    """``(path, name)`` of each ``NAME=VALUE`` entry whose value is written out under a
    secret-looking name.  Nothing to hide: an empty value, a template (a resource's parameter),
    and in build args a ``$VAR`` (read from the environment when building)."""
    if not isinstance(entries, list):
        return
    for i, entry in enumerate(entries):
        if not isinstance(entry, str) or is_template(entry):
            continue
        name, _, value = entry.partition("=")
        if not value.strip() or (build_args and environment_source(value) is not None):
            continue
        if is_secret_name(name.strip()):
            yield (*path, i), name.strip()
