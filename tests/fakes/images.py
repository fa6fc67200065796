"""A fake of the image side of the Docker engine, at the docker SDK's boundary.

:class:`FakeImagesAPI` answers the ``docker.APIClient`` methods that ``lain_sdk.images`` calls,
with docker-py 7's signatures, the Engine API's answer shapes and docker-py's own exception
classes, from an in-memory engine (:class:`ImageEngine`, at ``api.image_store``): images (id,
tags, labels, config, layers and their files, history, parent), containers, execs, the classic
builder (one step per Dockerfile instruction, a layer cache, multi-stage builds), and registries
to pull from and push to (:class:`FakeRegistry`, which also answers lain's own registry client
over ``requests``).  In the spirit of docker-py's ``tests/unit/fake_api.py``: scripted answers,
no daemon.

Commands are the only thing the fake cannot know the outcome of: a ``RUN`` line of a build, an
exec, a container's command.  By default each one succeeds silently and changes no file; a
test scripts the others (the newest matching rule wins)::

    engine = FakeImagesAPI().image_store
    engine.add_image("lain-local/busybox:latest", files={"/bin/sh": b"sh"}, config={"Cmd": ["sh"]})
    engine.on_command("make test", output="2 failed\\n", exit_code=2)  # the line fails, printing...
    engine.on_command("npm ci", writes={"node_modules/x.js": "..."})    # changes files (in workdir)
    engine.on_command("sleep 600", hang=True)                           # never ends
    engine.on_command("compile", takes=7200)                            # takes 2 h of engine.clock
    engine.on_command("lain-copy", handler=fn)                          # fn(CommandRun) decides
    engine.fail_call("commit", engine_error(500, "no space left"))      # the engine refuses a call
    engine.fail_call("build", ProtocolError("Connection broken"), after_chunks=3)  # drops a stream

    registry = FakeRegistry("registry.example.com", username="u", password="p")
    engine.add_registry(registry)
    registry.fail_layer_push(0, "blob upload unknown")    # pushing the bottom layer fails, once

Work that "takes" time moves ``engine.clock`` (a :class:`~fakes.base.FakeClock`): a RUN line's
``takes``, a registry's ``pull_seconds``/``push_seconds`` per layer, and a silent build (a
``hang``-ing RUN line waits out the request's read timeout, then fails the way docker-py does).
Point lain's deadlines at that clock and timeouts need no waiting.  An exec that hangs really
blocks (until its container is removed), since lain reads exec output on a thread with a real
timeout.

What happened is kept for assertions: ``engine.ran`` (every command run, with its environment),
``engine.builds`` (every build request), ``engine.calls`` (every API call).
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import io
import itertools
import json
import posixpath
import re
import shlex
import tarfile
import threading
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import docker.errors
import requests
import urllib3.exceptions
from docker.auth import resolve_repository_name
from docker.utils import parse_repository_tag
from docker.utils.build import match_tag
from fakes.base import FakeClock, engine_error, stamp
from requests.adapters import BaseAdapter

# The longest a hanging exec blocks when nobody removes its container (a safety net: a test
# that forgets to stop it fails instead of hanging).
HANG_LIMIT = 10.0
FIRST_CREATED = 1_700_000_000

_counter = itertools.count(1)


def _hex(kind: str) -> str:
    return hashlib.sha256(f"{kind}-{next(_counter)}".encode()).hexdigest()


def short(image_id: str) -> str:
    """The 12 hex digits docker shows for an id."""
    return image_id.split(":", 1)[-1][:12]


# -- files ---------------------------------------------------------------------------------------

Files = dict[str, bytes]
Changes = dict[str, "bytes | None"]  # path -> content, None for a removal (a whiteout)


def norm_path(path: str, workdir: str = "/") -> str:
    if not path.startswith("/"):
        path = workdir.rstrip("/") + "/" + path
    return "/" + posixpath.normpath(path).lstrip("/") if path.strip("/") else "/"


def _prefix(path: str) -> str:
    return "/" if path == "/" else path.rstrip("/") + "/"


def apply_changes(files: Files, changes: Mapping[str, bytes | None]) -> Files:
    out = dict(files)
    for path, content in changes.items():
        if content is None:
            for name in [n for n in out if n == path or n.startswith(_prefix(path))]:
                del out[name]
        else:
            out[path] = content
    return out


def copy_paths(files: Mapping[str, bytes], src: str, dest: str) -> Files | None:
    """What ``COPY src dest`` (or ``cp -r``) puts where: a file to ``dest`` (into it when it ends
    in "/"), a directory's contents into ``dest``; None when ``src`` does not exist."""
    if src in files:
        target = _prefix(dest) + posixpath.basename(src) if dest.endswith("/") else dest
        return {norm_path(target): files[src]}
    prefix = _prefix(src)
    under = {name: content for name, content in files.items() if name.startswith(prefix)}
    if not under:
        return None
    return {norm_path(_prefix(dest) + name[len(prefix) :]): data for name, data in under.items()}


def layer_tar(changes: Mapping[str, bytes | None]) -> bytes:
    """A layer as the blob a registry serves: a tar of its files, a removal as a whiteout,
    the same bytes for the same changes."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(changes):
            content = changes[path]
            folder, name = posixpath.split(path.lstrip("/"))
            whiteout = posixpath.join(folder, f".wh.{name}")
            entry = tarfile.TarInfo(path.lstrip("/") if content is not None else whiteout)
            entry.size = len(content or b"")
            tar.addfile(entry, io.BytesIO(content or b""))
    return buffer.getvalue()


def layer_digest(changes: Mapping[str, bytes | None]) -> str:
    return "sha256:" + hashlib.sha256(layer_tar(changes)).hexdigest()


def read_tar(data: bytes, root: str = "/") -> Files:
    """The regular files of a tar archive, as absolute paths under ``root``."""
    files: Files = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for member in tar.getmembers():
            if member.isfile():
                extracted = tar.extractfile(member)
                assert extracted is not None
                files[norm_path(member.name, root)] = extracted.read()
    return files


# -- Dockerfiles ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str
    rest: str
    text: str  # as written (what the builder prints after "Step N/M : ")


def parse_dockerfile(text: str) -> list[Instruction]:
    """One instruction per line (lain writes no continuations); comments and blanks skipped."""
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        keyword, _, rest = stripped.partition(" ")
        if keyword.upper() not in _KEYWORDS:
            raise ValueError(
                f"dockerfile parse error line {number}: unknown instruction: {keyword}"
            )
        out.append(Instruction(keyword.upper(), rest.strip(), stripped))
    if not out or out[0].keyword not in ("FROM", "ARG"):
        raise ValueError("Dockerfile must start with FROM")
    return out


_KEYWORDS = {"FROM", "ARG", "RUN", "COPY", "WORKDIR", "LABEL", "ENV", "CMD", "ENTRYPOINT", "USER"}


def _words(text: str) -> list[str]:
    """Split like the builder's shell lexer: double quotes, where a backslash escapes ``"``,
    ``$`` and itself (and is kept before anything else); ``\\$`` outside quotes too."""
    words: list[str] = []
    current: list[str] = []
    started = False
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == '"':
            started = True
            i += 1
            while i < len(text) and text[i] != '"':
                if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in '"$\\':
                    i += 1
                current.append(text[i])
                i += 1
        elif ch == "\\" and i + 1 < len(text):
            started = True
            current.append(text[i + 1])
            i += 1
        elif ch.isspace():
            if started:
                words.append("".join(current))
                current, started = [], False
        else:
            started = True
            current.append(ch)
        i += 1
    if started:
        words.append("".join(current))
    return words


def _pairs(text: str) -> dict[str, str]:
    """``LABEL``/``ENV`` arguments: ``k=v`` words (quoted as the builder allows)."""
    out = {}
    for word in _words(text):
        key, _, value = word.partition("=")
        out[key] = value
    return out


def _exec_form(rest: str) -> list[str]:
    if rest.startswith("["):
        return [str(x) for x in json.loads(rest)]
    return ["/bin/sh", "-c", rest]


def _copy_args(rest: str) -> tuple[str | None, list[str]]:
    source = None
    while rest.startswith("--"):
        flag, _, rest = rest.partition(" ")
        if flag.startswith("--from="):
            source = flag[len("--from=") :]
        rest = rest.strip()
    if rest.startswith("["):
        # The builder expands variables even in JSON form: "\$" is a literal "$", "\\" a "\".
        words = [re.sub(r"\\(.)", r"\1", w) for w in json.loads(rest)]
    else:
        words = _words(rest)
    return source, words


# -- the engine's objects ------------------------------------------------------------------------


def default_config() -> dict[str, Any]:
    return {
        "Hostname": "",
        "User": "",
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        "Cmd": None,
        "Entrypoint": None,
        "WorkingDir": "",
        "Labels": None,
        "OnBuild": None,
        "Volumes": None,
        "ExposedPorts": None,
    }


@dataclass
class FakeImage:
    id: str
    layers: list[str]
    config: dict[str, Any]
    history: list[dict[str, Any]]
    created: int
    parent: str = ""
    tags: list[str] = field(default_factory=list)
    digests: list[str] = field(default_factory=list)
    comment: str = ""
    cache_key: str | None = None

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.config.get("Labels") or {})

    def inspect(self, size: int) -> dict[str, Any]:
        return {
            "Id": self.id,
            "RepoTags": list(self.tags),
            "RepoDigests": list(self.digests),
            "Parent": self.parent,
            "Comment": self.comment,
            "Created": stamp(self.created),
            "DockerVersion": "",
            "Author": "",
            "Config": json.loads(json.dumps(self.config)),
            "Architecture": "amd64",
            "Os": "linux",
            "Size": size,
            "RootFS": {"Type": "layers", "Layers": list(self.layers)},
            "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"},
        }


@dataclass
class CommandRun:
    """One command the engine ran (a RUN step, an exec, a container's process).

    A scripted ``handler`` gets it before it "runs": ``files`` is what the command sees, and
    :meth:`print`, :meth:`write`, :meth:`remove` and ``exit_code`` are what it does.
    """

    argv: list[str]
    env: dict[str, str]
    workdir: str
    user: str
    where: str  # "build", "exec" or "container"
    image: str  # the id of the image it ran on
    files: Files
    exit_code: int = 0
    stdout: bytes = b""
    stderr: bytes = b""
    chunks: list[bytes] = field(default_factory=list)  # the output as the engine sends it
    changes: Changes = field(default_factory=dict)
    hang: bool = False
    takes: float = 0.0

    @property
    def line(self) -> str:
        """The shell line (what ``/bin/sh -c`` got), else the whole command."""
        if self.argv[:2] == ["/bin/sh", "-c"] and len(self.argv) > 2:
            return self.argv[2]
        return " ".join(self.argv)

    def print(self, text: str | bytes, *, stderr: bool = False) -> None:
        data = text.encode() if isinstance(text, str) else text
        self.chunks.append(data)
        if stderr:
            self.stderr += data
        else:
            self.stdout += data

    def path(self, name: str) -> str:
        return norm_path(name, self.workdir or "/")

    def write(self, name: str, content: str | bytes) -> None:
        path = self.path(name)
        data = content.encode() if isinstance(content, str) else content
        self.changes[path] = data
        self.files[path] = data

    def remove(self, name: str) -> None:
        path = self.path(name)
        self.changes[path] = None
        self.files = apply_changes(self.files, {path: None})


@dataclass
class Command:
    """A scripted command: what running a command containing ``match`` does."""

    match: str
    output: str | bytes | Sequence[str | bytes] = ""
    stderr: str | bytes = ""
    exit_code: int = 0
    writes: Mapping[str, str | bytes] = field(default_factory=dict)
    removes: Sequence[str] = ()
    hang: bool = False
    takes: float = 0.0
    handler: Callable[[CommandRun], None] | None = None
    times: int | None = None  # None: every time; else this many times, then the older rules

    def apply(self, run: CommandRun) -> None:
        chunks = [self.output] if isinstance(self.output, (str, bytes)) else list(self.output)
        for chunk in chunks:
            if chunk:
                run.print(chunk)
        if self.stderr:
            run.print(self.stderr, stderr=True)
        for name, content in self.writes.items():
            run.write(name, content)
        for name in self.removes:
            run.remove(name)
        run.exit_code, run.hang, run.takes = self.exit_code, self.hang, self.takes
        if self.handler is not None:
            self.handler(run)


@dataclass
class FakeContainer:
    id: str
    name: str
    image: str  # as the caller named it
    image_id: str
    config: dict[str, Any]
    created: int
    state: str = "created"  # created, running, exited
    exit_code: int = 0
    changes: Changes = field(default_factory=dict)
    dirs: set[str] = field(default_factory=set)
    stdout: bytes = b""
    stderr: bytes = b""
    removed: threading.Event = field(default_factory=threading.Event)

    def summary(self) -> dict[str, Any]:
        argv = (self.config.get("Entrypoint") or []) + (self.config.get("Cmd") or [])
        status = {"running": "Up 1 second", "created": "Created"}.get(
            self.state, f"Exited ({self.exit_code}) 1 second ago"
        )
        return {
            "Id": self.id,
            "Names": [f"/{self.name}"],
            "Image": self.image,
            "ImageID": self.image_id,
            "Command": " ".join(argv),
            "Created": self.created,
            "State": self.state,
            "Status": status,
            "Labels": dict(self.config.get("Labels") or {}),
            "Ports": [],
            "Mounts": [],
        }


@dataclass
class FakeExec:
    id: str
    container_id: str
    argv: list[str]
    env: list[str]
    workdir: str
    user: str
    running: bool = False
    exit_code: int | None = None
    run: CommandRun | None = None


@dataclass
class BuildRecord:
    """One ``POST /build``: what the engine was sent."""

    dockerfile: str
    context: Files
    tag: str | None
    buildargs: dict[str, str]
    nocache: bool
    rm: bool
    forcerm: bool
    pull: bool
    timeout: float | None


@dataclass
class Call:
    method: str
    details: dict[str, Any]
    timeout: float  # the client's timeout when the call was made


@dataclass
class _Failure:
    error: BaseException
    times: int
    after_chunks: int | None
    takes: float = 0.0
    skip: int = 0  # calls that go through before this failure applies


# -- registries ----------------------------------------------------------------------------------


@dataclass
class Manifest:
    digest: str
    body: bytes
    image_id: str
    layers: list[str]
    config: dict[str, Any]
    history: list[dict[str, Any]]


class FakeRegistry:
    """An in-memory registry: what engines push to and pull from, and what lain's registry
    client reads over HTTP (see :class:`RegistryTransport`).

    Args:
        host: ``host[:port]``, as image references name it.
        username, password: when given, pushes, pulls and HTTP requests need them.
    """

    def __init__(
        self, host: str, *, username: str | None = None, password: str | None = None
    ) -> None:
        self.host = host
        self.username = username
        self.password = password
        self.reachable = True
        self.pull_seconds = 0.0  # engine clock time each layer download takes
        self.push_seconds = 0.0  # and each layer upload
        self.repositories: dict[str, dict[str, Manifest]] = {}
        self.blobs: dict[str, set[str]] = {}  # repository -> layer digests it holds
        self.layer_files: dict[str, Changes] = {}
        self.requests: list[tuple[str, str]] = []  # (method, path) of each HTTP request
        self._push_failures: list[tuple[int | str, str, list[int]]] = []
        self._pull_failures: list[tuple[str, str, list[int]]] = []

    # -- scripting ---------------------------------------------------------------------------

    def fail_layer_push(
        self, layer: int | str = 0, message: str = "blob upload invalid", *, times: int = 1
    ) -> None:
        """Make pushing a layer fail ``times`` times: ``layer`` is its index in the image (0 is
        the bottom one) or its digest (or the 12 hex docker shows)."""
        self._push_failures.append((layer, message, [times]))

    def fail_pull(self, reference: str, message: str = "unexpected EOF", *, times: int = 1) -> None:
        """Make pulling ``repository:tag`` (without the host) fail mid-stream ``times`` times."""
        self._pull_failures.append((reference, message, [times]))

    # -- contents ----------------------------------------------------------------------------

    def add_image(
        self,
        reference: str,
        *,
        files: Mapping[str, str | bytes] | None = None,
        config: Mapping[str, Any] | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> str:
        """Store ``repository:tag`` (no host) as if another engine had pushed it; return the
        image id."""
        other = ImageEngine()
        other.add_registry(self)
        image_id = other.add_image(
            f"{self.host}/{reference}", files=files, config=config, labels=labels
        )
        repository, tag = parse_repository_tag(f"{self.host}/{reference}")
        auth = {"username": self.username or "", "password": self.password or ""}
        for chunk in other.push_steps(other.image(image_id), repository, tag or "latest", auth):
            assert "error" not in chunk, chunk
        return image_id

    def tags(self, repository: str) -> list[str]:
        return sorted(self.repositories.get(repository, {}))

    def manifest(self, repository: str, tag: str) -> Manifest | None:
        return self.repositories.get(repository, {}).get(tag)

    def auth_problem(self, auth_config: Mapping[str, str] | None) -> str | None:
        """Why the registry refuses a client with ``auth_config`` (None: it does not)."""
        if self.username is None:
            return None
        if not auth_config or not auth_config.get("username"):
            return "no basic auth credentials"
        if (auth_config.get("username"), auth_config.get("password")) != (
            self.username,
            self.password,
        ):
            return "unauthorized: authentication required"
        return None

    def put_manifest(self, repository: str, tag: str, image: FakeImage) -> Manifest:
        body = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {
                    "mediaType": "application/vnd.docker.container.image.v1+json",
                    "digest": image.id,
                },
                "layers": [{"digest": layer} for layer in image.layers],
            },
            indent=3,
        ).encode()
        manifest = Manifest(
            "sha256:" + hashlib.sha256(body).hexdigest(),
            body,
            image.id,
            list(image.layers),
            json.loads(json.dumps(image.config)),
            json.loads(json.dumps(image.history)),
        )
        self.repositories.setdefault(repository, {})[tag] = manifest
        return manifest

    def push_failure(self, index: int, layer: str) -> str | None:
        for wanted, message, left in self._push_failures:
            if left[0] > 0 and wanted in (index, layer, short(layer)):
                left[0] -= 1
                return message
        return None

    def pull_failure(self, reference: str) -> str | None:
        for wanted, message, left in self._pull_failures:
            if left[0] > 0 and wanted == reference:
                left[0] -= 1
                return message
        return None

    # -- HTTP (the registry API v2, for lain's RegistryClient) -------------------------------

    def handle(self, request: requests.PreparedRequest) -> requests.Response:
        url = urlsplit(request.url or "")
        method = request.method or "GET"
        self.requests.append((method, url.path))
        if not self.reachable:
            raise requests.exceptions.ConnectionError(
                f"HTTPSConnectionPool(host='{self.host}'): Max retries exceeded "
                "(Caused by NewConnectionError: Connection refused)"
            )
        if self.username is not None and not self._authorized(request.headers.get("Authorization")):
            return _response(
                401,
                {"errors": [{"code": "UNAUTHORIZED"}]},
                {"WWW-Authenticate": f'Basic realm="{self.host}"'},
            )
        if url.path == "/v2/":
            return _response(200, {})
        match = re.fullmatch(r"/v2/(?P<repo>.+)/manifests/(?P<ref>[^/]+)", url.path)
        if match:
            manifest = self._by_reference(match["repo"], match["ref"])
            if manifest is None:
                return _response(404, {"errors": [{"code": "MANIFEST_UNKNOWN"}]})
            headers = {
                "Docker-Content-Digest": manifest.digest,
                "Content-Type": "application/vnd.docker.distribution.manifest.v2+json",
            }
            return _response(200, None, headers, raw=b"" if method == "HEAD" else manifest.body)
        match = re.fullmatch(r"/v2/(?P<repo>.+)/blobs/(?P<digest>[^/]+)", url.path)
        if match:
            changes = self.layer_files.get(match["digest"])
            if changes is None or match["digest"] not in self.blobs.get(match["repo"], set()):
                return _response(404, {"errors": [{"code": "BLOB_UNKNOWN"}]})
            return _response(
                200, None, {"Content-Type": "application/octet-stream"}, raw=layer_tar(changes)
            )
        match = re.fullmatch(r"/v2/(?P<repo>.+)/tags/list", url.path)
        if match:
            if match["repo"] not in self.repositories:
                return _response(404, {"errors": [{"code": "NAME_UNKNOWN"}]})
            return _response(200, {"name": match["repo"], "tags": self.tags(match["repo"])})
        return _response(404, {"errors": [{"code": "UNSUPPORTED"}]})

    def _by_reference(self, repository: str, reference: str) -> Manifest | None:
        if reference.startswith("sha256:"):
            found = [
                m for m in self.repositories.get(repository, {}).values() if m.digest == reference
            ]
            return found[0] if found else None
        return self.manifest(repository, reference)

    def _authorized(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return (user, password) == (self.username, self.password)


def _response(
    status: int,
    body: Any,
    headers: Mapping[str, str] | None = None,
    *,
    raw: bytes | None = None,
) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.reason = {200: "OK", 401: "Unauthorized", 404: "Not Found"}.get(status, "")
    response._content = raw if raw is not None else json.dumps(body).encode()
    response.headers.update({"Content-Type": "application/json", **(headers or {})})
    return response


class RegistryTransport(BaseAdapter):
    """A ``requests`` transport answering for fake registries (by ``host[:port]``); any other
    host is unreachable, so nothing leaves the process."""

    def __init__(self, registries: Mapping[str, FakeRegistry]) -> None:
        super().__init__()
        self.registries = registries

    def send(  # type: ignore[override]  # the transport options do not matter here
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        host = urlsplit(request.url or "").netloc
        registry = self.registries.get(host)
        if registry is None:
            raise requests.exceptions.ConnectionError(
                f"HTTPSConnectionPool(host='{host}'): Max retries exceeded "
                "(Caused by NameResolutionError: Name or service not known)"
            )
        response = registry.handle(request)
        response.request = request
        response.url = request.url or ""
        return response

    def close(self) -> None:
        pass


# -- the engine ----------------------------------------------------------------------------------


class ImageEngine:
    """The state of the fake engine's image side, its scripting, and what it recorded."""

    def __init__(self) -> None:
        self.images: dict[str, FakeImage] = {}
        self.layers: dict[str, Changes] = {}
        self.containers: dict[str, FakeContainer] = {}
        self.execs: dict[str, FakeExec] = {}
        self.registries: dict[str, FakeRegistry] = {}
        self.commands: list[Command] = []
        self.failures: dict[str, list[_Failure]] = {}
        self.ran: list[CommandRun] = []
        self.builds: list[BuildRecord] = []
        self.calls: list[Call] = []
        self.clock = FakeClock()
        self.send_build_aux = True  # engines before API 1.30 named no image in the stream
        self._wall = FIRST_CREATED

    # -- scripting ---------------------------------------------------------------------------

    def add_image(
        self,
        reference: str | None = None,
        *,
        files: Mapping[str, str | bytes] | None = None,
        config: Mapping[str, Any] | None = None,
        labels: Mapping[str, str] | None = None,
        parent: str | None = None,
    ) -> str:
        """Put an image on the engine (one layer holding ``files``, on ``parent`` if given);
        return its id."""
        base = self.find_image(parent) if parent else None
        conf = {
            **(json.loads(json.dumps(base.config)) if base else default_config()),
            **(config or {}),
        }
        if labels is not None:
            conf["Labels"] = {**(conf.get("Labels") or {}), **labels}
        changes: Changes = {
            norm_path(name): content.encode() if isinstance(content, str) else content
            for name, content in (files or {"/etc/os-release": b"fake\n"}).items()
        }
        image = self.new_image(base, changes, conf, {"created_by": "/bin/sh -c #(nop) ADD files"})
        if reference:
            self.set_tag(image, reference)
        return image.id

    def on_command(self, match: str, **behaviour: Any) -> Command:
        """Script every command containing ``match`` (see :class:`Command` for ``behaviour``)."""
        command = Command(match, **behaviour)
        self.commands.append(command)
        return command

    def fail_call(
        self,
        method: str,
        error: BaseException,
        *,
        times: int = 1,
        after_chunks: int | None = None,
        takes: float = 0.0,
        skip: int = 0,
    ) -> None:
        """Make the next ``times`` calls of API ``method`` raise ``error``; with ``after_chunks``,
        a streaming call starts, sends that many chunks, then raises it (a dropped stream).
        ``takes``: engine clock time that passes before the error (a request that timed out);
        ``skip``: let that many calls through first."""
        self.failures.setdefault(method, []).append(
            _Failure(error, times, after_chunks, takes, skip)
        )

    def add_registry(self, registry: FakeRegistry) -> FakeRegistry:
        self.registries[registry.host] = registry
        return registry

    # -- reading -----------------------------------------------------------------------------

    def find_image(self, reference: str) -> FakeImage | None:
        """The image ``reference`` names (a tag, an id or its prefix, ``name@digest``)."""
        if reference in self.images:
            return self.images[reference]
        wanted = reference if reference.startswith("sha256:") else None
        if wanted is None and re.fullmatch(r"[0-9a-f]{12,64}", reference):
            wanted = "sha256:" + reference
        if wanted is not None:
            found = [image for key, image in self.images.items() if key.startswith(wanted)]
            return found[0] if len(found) == 1 else None
        if "@" in reference:
            return next((i for i in self.images.values() if reference in i.digests), None)
        name = normalize_reference(reference)
        return next((i for i in self.images.values() if name in i.tags), None)

    def image(self, reference: str) -> FakeImage:
        found = self.find_image(reference)
        assert found is not None, f"no image {reference} on the fake engine"
        return found

    def tags(self) -> list[str]:
        return sorted(tag for image in self.images.values() for tag in image.tags)

    def files(self, reference: str) -> Files:
        """The filesystem of an image: its layers applied in order."""
        files: Files = {}
        for layer in self.image(reference).layers:
            files = apply_changes(files, self.layers[layer])
        return files

    def layer_changes(self, reference: str) -> list[Changes]:
        """What each layer of an image holds, bottom first."""
        return [dict(self.layers[layer]) for layer in self.image(reference).layers]

    def children(self, image: FakeImage) -> list[FakeImage]:
        return [i for i in self.images.values() if i.parent == image.id]

    def users(self, image: FakeImage) -> list[FakeContainer]:
        return [c for c in self.containers.values() if c.image_id == image.id]

    def container(self, reference: str) -> FakeContainer | None:
        for container in self.containers.values():
            if reference in (container.id, container.name) or (
                len(reference) >= 12 and container.id.startswith(reference)
            ):
                return container
        return None

    # -- making images -----------------------------------------------------------------------

    def new_image(
        self,
        parent: FakeImage | None,
        changes: Changes | None,
        config: dict[str, Any],
        history: dict[str, Any],
        *,
        cache_key: str | None = None,
        layer: str | None = None,
        comment: str = "",
    ) -> FakeImage:
        """A new image on ``parent``: ``changes`` as a new layer (none when None)."""
        layers = list(parent.layers) if parent else []
        if changes is not None:
            layer = layer or layer_digest(changes)
            self.layers.setdefault(layer, dict(changes))
            layers.append(layer)
        self._wall += 1
        entry = {"created": self._wall, "created_by": "", "comment": "", **history}
        if changes is None:
            entry["empty_layer"] = True
        image = FakeImage(
            id="sha256:" + _hex("image"),
            layers=layers,
            config=config,
            history=[*(parent.history if parent else []), entry],
            created=self._wall,
            parent=parent.id if parent else "",
            comment=comment,
            cache_key=cache_key,
        )
        self.images[image.id] = image
        return image

    def set_tag(self, image: FakeImage, reference: str) -> None:
        name = normalize_reference(reference)
        for other in self.images.values():
            if name in other.tags:
                other.tags.remove(name)
        image.tags.append(name)

    def delete(self, image: FakeImage, prune: bool) -> list[dict[str, str]]:
        out = [{"Untagged": tag} for tag in image.tags]
        out += [{"Untagged": digest} for digest in image.digests]
        del self.images[image.id]
        out.append({"Deleted": image.id})
        parent = self.images.get(image.parent)
        while (
            prune
            and parent
            and not parent.tags
            and not self.children(parent)
            and not self.users(parent)
        ):
            del self.images[parent.id]
            out.append({"Deleted": parent.id})
            parent = self.images.get(parent.parent)
        return out

    # -- running commands --------------------------------------------------------------------

    def run_command(
        self,
        argv: list[str],
        *,
        env: Mapping[str, str],
        workdir: str,
        user: str,
        where: str,
        image: str,
        files: Files,
    ) -> CommandRun:
        run = CommandRun(list(argv), dict(env), workdir or "/", user, where, image, dict(files))
        joined = " ".join(argv)
        for command in reversed(self.commands):
            if command.match in joined and command.times != 0:
                if command.times is not None:
                    command.times -= 1
                command.apply(run)
                break
        self.ran.append(run)
        return run

    # -- API bookkeeping ---------------------------------------------------------------------

    def begin(self, method: str, client_timeout: float, **details: Any) -> _Failure | None:
        """Record a call; raise its scripted failure, or return it when it drops a stream."""
        self.calls.append(Call(method, details, client_timeout))
        queue = self.failures.get(method)
        if not queue:
            return None
        failure = queue[0]
        if failure.skip > 0:
            failure.skip -= 1
            return None
        failure.times -= 1
        if failure.times <= 0:
            queue.pop(0)
        if failure.after_chunks is None:
            self.clock.advance(failure.takes)
            raise failure.error
        return failure

    def calls_to(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    def stream(
        self,
        chunks: Iterable[Any],
        failure: _Failure | None,
        *,
        decode: bool = True,
        stream: bool = True,
    ) -> Any:
        def generate() -> Iterator[Any]:
            for count, chunk in enumerate(chunks):
                if failure is not None and count == failure.after_chunks:
                    break
                yield chunk if decode or isinstance(chunk, bytes) else json.dumps(chunk).encode()
            if failure is not None:
                self.clock.advance(failure.takes)
                raise failure.error

        if stream:
            return generate()
        return "".join(json.dumps(c) + "\r\n" for c in generate())

    # -- the classic builder -----------------------------------------------------------------

    def build_steps(self, record: BuildRecord) -> Iterator[dict[str, Any]]:
        try:
            instructions = parse_dockerfile(record.dockerfile)
        except ValueError as e:
            yield _error(str(e))
            return
        total = len(instructions)
        stages: dict[str, FakeImage] = {}
        current: FakeImage | None = None
        stage_name: str | None = None
        args: dict[str, str] = {}
        consumed: set[str] = set()
        for number, ins in enumerate(instructions, 1):
            if ins.keyword == "FROM" and current is not None:
                yield from self._end_stage(current, stage_name, stages)
            # The builder splits lines across chunks; lain must put them back together.
            yield {"stream": f"Step {number}/{total} : {ins.text}"}
            yield {"stream": "\n"}
            if ins.keyword == "FROM":
                words = ins.rest.split()
                source = words[0]
                stage_name = words[2] if len(words) > 2 and words[1].upper() == "AS" else None
                found = stages.get(source) or self.find_image(source)
                if found is None:
                    yield _error(
                        f"pull access denied for {source}, repository does not exist or may "
                        "require 'docker login': denied: requested access to the resource is denied"
                    )
                    return
                current, args = found, {}
                yield {"stream": f" ---> {short(current.id)}\n"}
                continue
            assert current is not None
            step = yield from self._step(ins, current, record, args, consumed, stages)
            if step is None:
                return
            current = step
        assert current is not None
        yield from self._end_stage(current, stage_name, stages)
        unused = sorted(set(record.buildargs) - consumed)
        if unused:
            yield {
                "stream": f"[Warning] One or more build-args [{' '.join(unused)}] were not "
                "consumed\n"
            }
        yield {"stream": f"Successfully built {short(current.id)}\n"}
        if record.tag:
            self.set_tag(current, record.tag)
            yield {"stream": f"Successfully tagged {normalize_reference(record.tag)}\n"}

    def _end_stage(
        self, image: FakeImage, name: str | None, stages: dict[str, FakeImage]
    ) -> Iterator[dict[str, Any]]:
        stages[str(len([k for k in stages if k.isdigit()]))] = image
        if name:
            stages[name] = image
        if self.send_build_aux:
            yield {"aux": {"ID": image.id}}

    def _step(
        self,
        ins: Instruction,
        current: FakeImage,
        record: BuildRecord,
        args: dict[str, str],
        consumed: set[str],
        stages: dict[str, FakeImage],
    ) -> Generator[dict[str, Any], None, FakeImage | None]:
        """One instruction after FROM; returns the image it made (None after an error)."""
        config = json.loads(json.dumps(current.config))
        workdir = config.get("WorkingDir") or "/"
        changes: Changes | None = None
        extra = ""
        argv: list[str] | None = None
        if ins.keyword == "ARG":
            name, sep, default = ins.rest.partition("=")
            if name in record.buildargs:
                args[name] = record.buildargs[name]
                consumed.add(name)
            elif sep:
                args[name] = default
            created_by = f"/bin/sh -c #(nop)  ARG {ins.rest}"
        elif ins.keyword == "WORKDIR":
            config["WorkingDir"] = norm_path(ins.rest, workdir)
            created_by = f"/bin/sh -c #(nop) WORKDIR {config['WorkingDir']}"
        elif ins.keyword in ("LABEL", "ENV"):
            pairs = _pairs(ins.rest)
            if ins.keyword == "LABEL":
                config["Labels"] = {**(config.get("Labels") or {}), **pairs}
            else:
                env = dict(e.partition("=")[::2] for e in config.get("Env") or [])
                config["Env"] = [f"{k}={v}" for k, v in {**env, **pairs}.items()]
            created_by = f"/bin/sh -c #(nop)  {ins.text}"
        elif ins.keyword in ("CMD", "ENTRYPOINT"):
            config["Cmd" if ins.keyword == "CMD" else "Entrypoint"] = _exec_form(ins.rest)
            created_by = f"/bin/sh -c #(nop)  {ins.text}"
        elif ins.keyword == "USER":
            config["User"] = ins.rest
            created_by = f"/bin/sh -c #(nop)  USER {ins.rest}"
        elif ins.keyword == "COPY":
            source, words = _copy_args(ins.rest)
            if source is None:
                files, where = record.context, "build context"
            else:
                origin = stages.get(source) or self.find_image(source)
                if origin is None:
                    yield _error(f"invalid from flag value {source}: pull access denied")
                    return None
                files, where = self.files(origin.id), f"image {short(origin.id)}"
            *sources, dest = words
            dest = norm_path(dest, workdir) + ("/" if dest.endswith("/") else "")
            changes = {}
            for src in sources:
                copied = copy_paths(files, norm_path(src), dest)
                if copied is None:
                    yield _error(f"COPY failed: stat {src}: file does not exist in the {where}")
                    return None
                changes.update(copied)
            extra = layer_digest(changes)
            created_by = f"/bin/sh -c #(nop) COPY {extra.split(':')[1][:16]} in {dest} "
        else:  # RUN
            argv = _exec_form(ins.rest)
            prefix = (
                f"|{len(args)} " + " ".join(f"{k}={v}" for k, v in sorted(args.items())) + " "
                if args
                else ""
            )
            created_by = prefix + " ".join(argv)
        key = json.dumps([created_by, extra])
        if not record.nocache:
            hit = next((i for i in self.children(current) if i.cache_key == key), None)
            if hit is not None:
                yield {"stream": " ---> Using cache\n"}
                yield {"stream": f" ---> {short(hit.id)}\n"}
                return hit
        if argv is not None:
            container_id = _hex("build-container")
            yield {"stream": f" ---> Running in {container_id[:12]}\n"}
            env = dict(e.partition("=")[::2] for e in config.get("Env") or [])
            run = self.run_command(
                argv,
                env={**env, **args},
                workdir=workdir,
                user=config.get("User") or "",
                where="build",
                image=current.id,
                files=self.files(current.id),
            )
            self.clock.advance(run.takes)
            if run.hang:
                if record.timeout is None:
                    raise AssertionError("this build would wait forever: no read timeout")
                self.clock.advance(record.timeout)
                raise urllib3.exceptions.ReadTimeoutError(None, None, "Read timed out.")  # type: ignore[arg-type]
            for chunk in run.chunks:
                yield {"stream": chunk.decode("utf-8", "replace")}
            if run.exit_code:
                if not record.forcerm:
                    self._leftover(container_id, current, argv, run.exit_code)
                message = (
                    f"The command '{' '.join(argv)}' returned a non-zero code: {run.exit_code}"
                )
                yield {"errorDetail": {"code": run.exit_code, "message": message}, "error": message}
                return None
            if record.rm or record.forcerm:
                yield {"stream": f"Removing intermediate container {container_id[:12]}\n"}
            else:
                self._leftover(container_id, current, argv, 0)
            changes = run.changes
        image = self.new_image(current, changes, config, {"created_by": created_by}, cache_key=key)
        yield {"stream": f" ---> {short(image.id)}\n"}
        return image

    def _leftover(self, container_id: str, image: FakeImage, argv: list[str], code: int) -> None:
        config = {**json.loads(json.dumps(image.config)), "Cmd": argv, "Entrypoint": None}
        self.containers[container_id] = FakeContainer(
            container_id,
            f"build_{container_id[:8]}",
            image.id,
            image.id,
            config,
            self._wall,
            state="exited",
            exit_code=code,
        )

    # -- registries --------------------------------------------------------------------------

    def registry_for(self, repository: str) -> tuple[str, str, FakeRegistry | None]:
        index, remote = resolve_repository_name(repository)
        registry = self.registries.get(index)
        if registry is not None and not registry.reachable:
            registry = None
        return index, remote, registry

    def pull_steps(
        self, registry: FakeRegistry, repository: str, remote: str, tag: str, manifest: Manifest
    ) -> Iterator[dict[str, Any]]:
        yield {"status": f"Pulling from {remote}", "id": tag}
        have = {layer for image in self.images.values() for layer in image.layers}
        missing = [layer for layer in manifest.layers if layer not in have]
        for layer in manifest.layers:
            if layer in have:
                yield {"status": "Already exists", "progressDetail": {}, "id": short(layer)}
            else:
                yield {"status": "Pulling fs layer", "progressDetail": {}, "id": short(layer)}
        failure = registry.pull_failure(f"{remote}:{tag}")
        if failure is not None:
            yield _error(failure)
            return
        for layer in missing:
            size = len(json.dumps(registry.layer_files.get(layer, {}), default=str))
            for current in (size // 2, size):
                self.clock.advance(registry.pull_seconds / 2)
                yield {
                    "status": "Downloading",
                    "progressDetail": {"current": current, "total": size},
                    "id": short(layer),
                }
            yield {"status": "Download complete", "progressDetail": {}, "id": short(layer)}
            self.layers.setdefault(layer, dict(registry.layer_files.get(layer, {})))
            yield {"status": "Pull complete", "progressDetail": {}, "id": short(layer)}
        yield {"status": f"Digest: {manifest.digest}"}
        reference = f"{repository}:{tag}"
        image = self.images.get(manifest.image_id)
        fresh = image is None or normalize_reference(reference) not in image.tags
        if image is None:
            self._wall += 1
            image = FakeImage(
                manifest.image_id,
                list(manifest.layers),
                json.loads(json.dumps(manifest.config)),
                json.loads(json.dumps(manifest.history)),
                self._wall,
            )
            self.images[image.id] = image
        self.set_tag(image, reference)
        digest = f"{repository}@{manifest.digest}"
        if digest not in image.digests:
            image.digests.append(digest)
        word = "Downloaded newer image" if fresh else "Image is up to date"
        yield {"status": f"Status: {word} for {reference}"}

    def push_steps(
        self,
        image: FakeImage,
        repository: str,
        tag: str,
        auth_config: Mapping[str, str] | None,
    ) -> Iterator[dict[str, Any]]:
        index, remote, registry = self.registry_for(repository)
        shown = repository if index != "docker.io" else f"docker.io/{remote}"
        yield {"status": f"The push refers to repository [{shown}]"}
        if registry is None:
            yield _error(
                f'Get "https://{index}/v2/": dial tcp {index}: connect: connection refused'
            )
            return
        layers = list(dict.fromkeys(image.layers))
        for layer in reversed(layers):
            yield {"status": "Preparing", "progressDetail": {}, "id": short(layer)}
        problem = registry.auth_problem(auth_config)
        if problem is not None:
            yield _error(problem)
            return
        held = registry.blobs.setdefault(remote, set())
        for index_, layer in enumerate(layers):
            failure = registry.push_failure(index_, layer)
            elsewhere = [r for r, blobs in registry.blobs.items() if r != remote and layer in blobs]
            if failure is None and layer in held:
                yield {"status": "Layer already exists", "progressDetail": {}, "id": short(layer)}
                continue
            if failure is None and elsewhere:
                held.add(layer)
                yield {
                    "status": f"Mounted from {elsewhere[0]}",
                    "progressDetail": {},
                    "id": short(layer),
                }
                continue
            size = max(1, len(json.dumps(self.layers.get(layer, {}), default=str)))
            for current in (size // 2, size):
                self.clock.advance(registry.push_seconds / 2)
                yield {
                    "status": "Pushing",
                    "progressDetail": {"current": current, "total": size},
                    "progress": "[=====>     ]",
                    "id": short(layer),
                }
                if failure is not None:
                    yield _error(failure)
                    return
            held.add(layer)
            registry.layer_files[layer] = dict(self.layers.get(layer, {}))
            yield {"status": "Pushed", "progressDetail": {}, "id": short(layer)}
        manifest = registry.put_manifest(remote, tag, image)
        digest = f"{repository}@{manifest.digest}"
        if digest not in image.digests:
            image.digests.append(digest)
        size = len(manifest.body)
        yield {"status": f"{tag}: digest: {manifest.digest} size: {size}"}
        yield {"progressDetail": {}, "aux": {"Tag": tag, "Digest": manifest.digest, "Size": size}}


def _error(message: str) -> dict[str, Any]:
    return {"errorDetail": {"message": message}, "error": message}


def normalize_reference(reference: str) -> str:
    """``name`` -> ``name:latest``; a ``name:tag`` stays as it is."""
    repository, tag = parse_repository_tag(reference)
    return f"{repository}:{tag or 'latest'}"


def _reference_matches(tag: str, pattern: str) -> bool:
    """The images listing's ``reference`` filter: the whole reference, or the repository when
    the pattern names no tag."""
    if fnmatch.fnmatchcase(tag, pattern):
        return True
    repository, _ = parse_repository_tag(tag)
    return parse_repository_tag(pattern)[1] is None and fnmatch.fnmatchcase(repository, pattern)


def _labels_match(labels: Mapping[str, str], wanted: Any) -> bool:
    for item in [wanted] if isinstance(wanted, str) else list(wanted):
        key, sep, value = item.partition("=")
        if key not in labels or (sep and labels[key] != value):
            return False
    return True


def _truthy(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        value = value[0] if value else ""
    return value is True or str(value).lower() in ("1", "true")


def _merge_commit_config(user: Mapping[str, Any] | None, container: Mapping[str, Any]) -> dict:
    """The config ``docker commit`` gives the new image: the caller's, with what it leaves
    empty filled from the container's (the engine's ``merge`` in daemon/commit.go)."""
    conf = json.loads(json.dumps(dict(user or container)))
    for key in ("User", "WorkingDir", "StopSignal"):
        if not conf.get(key):
            conf[key] = container.get(key)
    for key in ("ExposedPorts", "Volumes"):
        if not conf.get(key):
            conf[key] = container.get(key)
    if not conf.get("Env"):
        conf["Env"] = container.get("Env")
    else:
        keys = {e.partition("=")[0] for e in conf["Env"]}
        conf["Env"] += [e for e in container.get("Env") or [] if e.partition("=")[0] not in keys]
    if not conf.get("Entrypoint"):
        if not conf.get("Cmd"):
            conf["Cmd"] = container.get("Cmd")
        if conf.get("Entrypoint") is None:
            conf["Entrypoint"] = container.get("Entrypoint")
    if conf.get("Healthcheck") is None:
        conf["Healthcheck"] = container.get("Healthcheck")
    return conf


class FakeImagesAPI:
    """The ``docker.APIClient`` methods lain_sdk.images calls, answered by an in-memory engine.

    State, scripting and records live in ``self.image_store`` (an :class:`ImageEngine`); this
    class only adds docker-py's methods, so that it combines with other fakes of the API
    (``class FakeAPIClient(FakeSwarmAPI, FakeImagesAPI)``).  ``__init__`` is cooperative.
    """

    timeout = 60  # docker-py's default; lain raises it around long requests

    def __init__(self) -> None:
        super().__init__()
        self.image_store = ImageEngine()
        self.timeout = 60

    def _begin(self, method: str, **details: Any) -> _Failure | None:
        return self.image_store.begin(method, self.timeout, **details)

    def _image_or_404(self, reference: str) -> FakeImage:
        image = self.image_store.find_image(reference)
        if image is None:
            raise engine_error(404, f"No such image: {reference}")
        return image

    def _container_or_404(self, reference: str) -> FakeContainer:
        container = self.image_store.container(reference)
        if container is None:
            raise engine_error(404, f"No such container: {reference}")
        return container

    # -- images ------------------------------------------------------------------------------

    def inspect_image(self, image: str) -> dict[str, Any]:
        self._begin("inspect_image", image=image)
        found = self._image_or_404(image)
        size = sum(len(json.dumps(self.image_store.layers[x], default=str)) for x in found.layers)
        return found.inspect(size)

    def history(self, image: str) -> list[dict[str, Any]]:
        self._begin("history", image=image)
        found = self._image_or_404(image)
        entries = []
        for index, entry in enumerate(reversed(found.history)):
            entries.append(
                {
                    "Id": found.id if index == 0 else "<missing>",
                    "Created": entry.get("created", 0),
                    "CreatedBy": entry.get("created_by", ""),
                    "Tags": list(found.tags) if index == 0 and found.tags else None,
                    "Size": 0,
                    "Comment": entry.get("comment", ""),
                }
            )
        return entries

    def images(
        self,
        name: str | None = None,
        quiet: bool = False,
        all: bool = False,
        filters: Mapping[str, Any] | None = None,
    ) -> list[Any]:
        self._begin("images", name=name, all=all, filters=filters)
        store = self.image_store
        wanted = dict(filters or {})
        if name:
            wanted["reference"] = name
        listed = []
        for image in sorted(store.images.values(), key=lambda i: i.created, reverse=True):
            if not all and not image.tags and store.children(image):
                continue  # an intermediate image
            if "dangling" in wanted and _truthy(wanted["dangling"]) == bool(image.tags):
                continue
            if "label" in wanted and not _labels_match(image.labels, wanted["label"]):
                continue
            tags = list(image.tags)
            if "reference" in wanted:
                patterns = wanted["reference"]
                patterns = [patterns] if isinstance(patterns, str) else list(patterns)
                tags = [t for t in tags if any(_reference_matches(t, p) for p in patterns)]
                if not tags:
                    continue
            size = sum(len(json.dumps(store.layers[x], default=str)) for x in image.layers)
            listed.append(
                {
                    "Id": image.id,
                    "ParentId": image.parent,
                    "RepoTags": tags,
                    "RepoDigests": list(image.digests),
                    "Created": image.created,
                    "Size": size,
                    "SharedSize": -1,
                    "VirtualSize": size,
                    "Labels": image.labels or None,
                    "Containers": -1,
                }
            )
        return [i["Id"] for i in listed] if quiet else listed

    def tag(self, image: str, repository: str, tag: str | None = None, force: bool = False) -> bool:
        self._begin("tag", image=image, repository=repository, tag=tag)
        found = self._image_or_404(image)
        reference = f"{repository}:{tag or 'latest'}"
        if not match_tag(reference) or repository != repository.lower():
            raise engine_error(400, f"invalid reference format: {reference}")
        self.image_store.set_tag(found, reference)
        return True

    def remove_image(self, image: str, force: bool = False, noprune: bool = False) -> list[dict]:
        self._begin("remove_image", image=image, force=force)
        store = self.image_store
        found = self._image_or_404(image)
        by_tag = normalize_reference(image) in found.tags and not image.startswith("sha256:")
        users = store.users(found)
        if by_tag:
            name = normalize_reference(image)
            if len(found.tags) > 1 or store.children(found):
                found.tags.remove(name)
                return [{"Untagged": name}]
            if users and not force:
                raise engine_error(
                    409,
                    f'conflict: unable to remove repository reference "{image}" (must force) - '
                    f"container {users[0].id[:12]} is using its referenced image {short(found.id)}",
                )
        else:
            if len(found.tags) > 1 and not force:
                raise engine_error(
                    409,
                    f"conflict: unable to delete {short(found.id)} (must be forced) - image is "
                    "referenced in multiple repositories",
                )
            if store.children(found):
                raise engine_error(
                    409,
                    f"conflict: unable to delete {short(found.id)} (cannot be forced) - image "
                    "has dependent child images",
                )
            if users and not force:
                raise engine_error(
                    409,
                    f"conflict: unable to delete {short(found.id)} (must be forced) - image is "
                    f"being used by stopped container {users[0].id[:12]}",
                )
        return store.delete(found, prune=not noprune)

    def import_image_from_data(
        self,
        data: bytes,
        repository: str | None = None,
        tag: str | None = None,
        changes: Sequence[str] | None = None,
    ) -> str:
        self._begin("import_image_from_data", repository=repository, tag=tag, changes=changes)
        store = self.image_store
        try:
            files = read_tar(data)
        except tarfile.TarError:
            line = json.dumps(_error("archive/tar: invalid tar header"))
            return line + "\r\n"
        config = default_config()
        config["Env"] = None
        for instruction in changes or ():
            keyword, _, rest = instruction.partition(" ")
            if keyword.upper() == "LABEL":
                config["Labels"] = {**(config.get("Labels") or {}), **_pairs(rest)}
            else:
                raise engine_error(400, f"{keyword} is not a valid change command")
        image = store.new_image(
            None,
            dict(files),
            config,
            {"created_by": "", "comment": "Imported from -"},
            layer="sha256:" + hashlib.sha256(data).hexdigest(),
            comment="Imported from -",
        )
        if repository:
            store.set_tag(image, f"{repository}:{tag or 'latest'}")
        return json.dumps({"status": image.id}) + "\r\n"

    def pull(
        self,
        repository: str,
        tag: str | None = None,
        stream: bool = False,
        auth_config: Mapping[str, str] | None = None,
        decode: bool = False,
        platform: str | None = None,
        all_tags: bool = False,
    ) -> Any:
        failure = self._begin("pull", repository=repository, tag=tag, auth_config=auth_config)
        repository, image_tag = parse_repository_tag(repository)
        tag = tag or image_tag or "latest"
        store = self.image_store
        index, remote, registry = store.registry_for(repository)
        if registry is None:
            raise engine_error(
                500, f'Get "https://{index}/v2/": dial tcp {index}: connect: connection refused'
            )
        problem = registry.auth_problem(auth_config)
        if problem is not None:
            raise engine_error(
                500, f'Head "https://{index}/v2/{remote}/manifests/{tag}": {problem}'
            )
        manifest = registry.manifest(remote, tag)
        if manifest is None:
            if index == "docker.io":
                raise engine_error(
                    404,
                    f"pull access denied for {repository}, repository does not exist or may "
                    "require 'docker login': denied: requested access to the resource is denied",
                )
            raise engine_error(
                404,
                f"manifest for {repository}:{tag} not found: manifest unknown: manifest unknown",
            )
        steps = store.pull_steps(registry, repository, remote, tag, manifest)
        return store.stream(steps, failure, decode=decode, stream=stream)

    def push(
        self,
        repository: str,
        tag: str | None = None,
        stream: bool = False,
        auth_config: Mapping[str, str] | None = None,
        decode: bool = False,
    ) -> Any:
        failure = self._begin("push", repository=repository, tag=tag, auth_config=auth_config)
        if not tag:
            repository, tag = parse_repository_tag(repository)
        image = self.image_store.find_image(f"{repository}:{tag or 'latest'}")
        if image is None:
            raise engine_error(404, f"An image does not exist locally with the tag: {repository}")
        steps = self.image_store.push_steps(image, repository, tag or "latest", auth_config)
        return self.image_store.stream(steps, failure, decode=decode, stream=stream)

    def build(
        self,
        path: str | None = None,
        tag: str | None = None,
        quiet: bool = False,
        fileobj: Any = None,
        nocache: bool = False,
        rm: bool = False,
        timeout: float | None = None,
        custom_context: bool = False,
        encoding: str | None = None,
        pull: bool = False,
        forcerm: bool = False,
        dockerfile: str | None = None,
        container_limits: Mapping[str, Any] | None = None,
        decode: bool = False,
        buildargs: Mapping[str, str] | None = None,
        gzip: bool = False,
        shmsize: int | None = None,
        labels: Mapping[str, str] | None = None,
        cache_from: Sequence[str] | None = None,
        target: str | None = None,
        network_mode: str | None = None,
        squash: bool | None = None,
        extra_hosts: Any = None,
        platform: str | None = None,
        isolation: str | None = None,
        use_config_proxy: bool = True,
    ) -> Any:
        if path is None and fileobj is None:
            raise TypeError("Either path or fileobj needs to be provided.")
        if tag is not None and not match_tag(tag):
            raise docker.errors.DockerException(f"invalid tag '{tag}': invalid reference format")
        if path is not None:
            raise NotImplementedError("the fake engine builds from a fileobj only")
        data = fileobj.read()
        failure = self._begin("build", tag=tag, buildargs=dict(buildargs or {}), nocache=nocache)
        if custom_context:
            files = read_tar(data)
        else:
            files = {"/Dockerfile": data if isinstance(data, bytes) else data.encode()}
        name = norm_path(dockerfile or "Dockerfile")
        if name not in files:
            raise engine_error(500, f"Cannot locate specified Dockerfile: {dockerfile}")
        record = BuildRecord(
            files[name].decode(),
            files,
            tag,
            dict(buildargs or {}),
            nocache,
            rm,
            forcerm,
            pull,
            timeout,
        )
        self.image_store.builds.append(record)
        return self.image_store.stream(self.image_store.build_steps(record), failure, decode=decode)

    # -- containers --------------------------------------------------------------------------

    def create_container(
        self,
        image: str,
        command: str | list[str] | None = None,
        hostname: str | None = None,
        user: str | None = None,
        detach: bool = False,
        stdin_open: bool = False,
        tty: bool = False,
        ports: Any = None,
        environment: Mapping[str, str] | list[str] | None = None,
        volumes: Any = None,
        network_disabled: bool = False,
        name: str | None = None,
        entrypoint: str | list[str] | None = None,
        working_dir: str | None = None,
        domainname: str | None = None,
        host_config: Any = None,
        mac_address: str | None = None,
        labels: Mapping[str, str] | None = None,
        stop_signal: str | None = None,
        networking_config: Any = None,
        healthcheck: Any = None,
        stop_timeout: int | None = None,
        runtime: str | None = None,
        use_config_proxy: bool = True,
        platform: str | None = None,
    ) -> dict[str, Any]:
        self._begin(
            "create_container",
            image=image,
            command=command,
            entrypoint=entrypoint,
            environment=environment,
            labels=labels,
            working_dir=working_dir,
        )
        store = self.image_store
        found = self._image_or_404(image)
        if name and store.container(name) is not None:
            raise engine_error(409, f'Conflict. The container name "/{name}" is already in use')
        config = json.loads(json.dumps(found.config))
        if entrypoint is not None:
            config["Entrypoint"] = (
                shlex.split(entrypoint) if isinstance(entrypoint, str) else list(entrypoint)
            )
            config["Cmd"] = None  # a new entrypoint drops the image's command
        if command is not None:
            config["Cmd"] = shlex.split(command) if isinstance(command, str) else list(command)
        if working_dir:
            config["WorkingDir"] = working_dir
        if user:
            config["User"] = user
        if environment:
            items = (
                [f"{k}={v}" for k, v in environment.items()]
                if isinstance(environment, Mapping)
                else list(environment)
            )
            config["Env"] = [*(config.get("Env") or []), *items]
        if labels:
            config["Labels"] = {**(config.get("Labels") or {}), **labels}
        config["OpenStdin"] = stdin_open
        config["Image"] = image
        container_id = _hex("container")
        store._wall += 1
        container = FakeContainer(
            container_id, name or f"fake_{container_id[:8]}", image, found.id, config, store._wall
        )
        container.dirs.add(norm_path(config.get("WorkingDir") or "/"))
        store.containers[container_id] = container
        return {"Id": container_id, "Warnings": []}

    def put_archive(self, container: str, path: str, data: bytes) -> bool:
        self._begin("put_archive", container=container, path=path)
        found = self._container_or_404(container)
        target = norm_path(path)
        files = apply_changes(self.image_store.files(found.image_id), found.changes)
        if target not in found.dirs and not any(n.startswith(_prefix(target)) for n in files):
            raise engine_error(404, f"Could not find the file {path} in container {container}")
        found.changes.update(read_tar(data, target))
        return True

    def start(self, container: str, *args: Any, **kwargs: Any) -> None:
        self._begin("start", container=container)
        found = self._container_or_404(container)
        if found.state == "running":
            return
        found.state = "running"
        config = found.config
        argv = (config.get("Entrypoint") or []) + (config.get("Cmd") or [])
        if config.get("OpenStdin") and len(argv) == 1:
            return  # a shell reading its (open) stdin: it idles until removed
        store = self.image_store
        run = store.run_command(
            argv,
            env=dict(e.partition("=")[::2] for e in config.get("Env") or []),
            workdir=config.get("WorkingDir") or "/",
            user=config.get("User") or "",
            where="container",
            image=found.image_id,
            files=apply_changes(store.files(found.image_id), found.changes),
        )
        found.changes.update(run.changes)
        found.stdout, found.stderr = run.stdout, run.stderr
        if not run.hang:
            found.state, found.exit_code = "exited", run.exit_code

    def wait(
        self, container: str, timeout: float | None = None, condition: str | None = None
    ) -> dict[str, Any]:
        self._begin("wait", container=container, timeout=timeout)
        found = self._container_or_404(container)
        if found.state == "running":
            self.image_store.clock.advance(timeout or 0)
            raise requests.exceptions.ReadTimeout(
                f"UnixHTTPConnectionPool(host='localhost', port=None): Read timed out. "
                f"(read timeout={timeout})"
            )
        return {"StatusCode": found.exit_code, "Error": None}

    def logs(
        self,
        container: str,
        stdout: bool = True,
        stderr: bool = True,
        stream: bool = False,
        timestamps: bool = False,
        tail: str | int = "all",
        since: Any = None,
        follow: bool | None = None,
        until: Any = None,
    ) -> Any:
        self._begin("logs", container=container, stdout=stdout, stderr=stderr)
        found = self._container_or_404(container)
        data = (found.stdout if stdout else b"") + (found.stderr if stderr else b"")
        return iter([data]) if stream else data

    def remove_container(
        self, container: str, v: bool = False, link: bool = False, force: bool = False
    ) -> None:
        self._begin("remove_container", container=container, force=force)
        found = self._container_or_404(container)
        if found.state == "running" and not force:
            raise engine_error(
                409,
                f"You cannot remove a running container {found.id}. Stop the container before "
                "attempting removal or force remove",
            )
        del self.image_store.containers[found.id]
        found.removed.set()

    def containers(
        self,
        quiet: bool = False,
        all: bool = False,
        trunc: bool = False,
        latest: bool = False,
        since: str | None = None,
        before: str | None = None,
        limit: int = -1,
        size: bool = False,
        filters: Mapping[str, Any] | None = None,
    ) -> list[Any]:
        self._begin("containers", all=all, filters=filters)
        store = self.image_store
        wanted = dict(filters or {})
        listed = []
        for found in sorted(store.containers.values(), key=lambda c: c.created, reverse=True):
            if not all and found.state != "running":
                continue
            if "ancestor" in wanted:
                ancestor = store.find_image(str(wanted["ancestor"]))
                if ancestor is None or ancestor.id != found.image_id:
                    continue
            if "label" in wanted and not _labels_match(
                found.config.get("Labels") or {}, wanted["label"]
            ):
                continue
            listed.append(found.summary())
        return [{"Id": c["Id"]} for c in listed] if quiet else listed

    def commit(
        self,
        container: str,
        repository: str | None = None,
        tag: str | None = None,
        message: str | None = None,
        author: str | None = None,
        pause: bool = True,
        changes: Any = None,
        conf: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        self._begin("commit", container=container, conf=conf, message=message)
        store = self.image_store
        found = self._container_or_404(container)
        config = _merge_commit_config(conf, found.config)
        config.pop("OpenStdin", None)
        config.pop("Image", None)
        argv = (found.config.get("Entrypoint") or []) + (found.config.get("Cmd") or [])
        image = store.new_image(
            store.images[found.image_id],
            dict(found.changes),
            config,
            {"created_by": " ".join(argv), "comment": message or ""},
            comment=message or "",
        )
        if repository:
            store.set_tag(image, f"{repository}:{tag or 'latest'}")
        return {"Id": image.id}

    # -- execs -------------------------------------------------------------------------------

    def exec_create(
        self,
        container: str,
        cmd: str | list[str],
        stdout: bool = True,
        stderr: bool = True,
        stdin: bool = False,
        tty: bool = False,
        privileged: bool = False,
        user: str = "",
        environment: Mapping[str, str] | list[str] | None = None,
        workdir: str | None = None,
        detach_keys: str | None = None,
    ) -> dict[str, str]:
        self._begin(
            "exec_create",
            container=container,
            cmd=cmd,
            user=user,
            environment=environment,
            workdir=workdir,
        )
        found = self._container_or_404(container)
        if found.state != "running":
            raise engine_error(409, f"Container {found.id} is not running")
        env = (
            [f"{k}={v}" for k, v in environment.items()]
            if isinstance(environment, Mapping)
            else list(environment or [])
        )
        argv = shlex.split(cmd) if isinstance(cmd, str) else list(cmd)
        exec_id = _hex("exec")
        self.image_store.execs[exec_id] = FakeExec(
            exec_id, found.id, argv, env, workdir or found.config.get("WorkingDir") or "/", user
        )
        return {"Id": exec_id}

    def exec_start(
        self,
        exec_id: str,
        detach: bool = False,
        tty: bool = False,
        stream: bool = False,
        socket: bool = False,
        demux: bool = False,
    ) -> Any:
        failure = self._begin("exec_start", exec_id=exec_id, stream=stream)
        store = self.image_store
        found = store.execs.get(exec_id)
        if found is None:
            raise engine_error(404, f"No such exec instance: {exec_id}")
        container = store.containers[found.container_id]
        env = dict(e.partition("=")[::2] for e in container.config.get("Env") or [])
        env.update(dict(e.partition("=")[::2] for e in found.env))
        run = store.run_command(
            found.argv,
            env=env,
            workdir=found.workdir,
            user=found.user or container.config.get("User") or "",
            where="exec",
            image=container.image_id,
            files=apply_changes(store.files(container.image_id), container.changes),
        )
        container.changes.update(run.changes)
        found.run, found.running = run, True

        def output() -> Iterator[bytes]:
            try:
                yield from run.chunks
                if run.hang:
                    container.removed.wait(HANG_LIMIT)
                    found.exit_code = 137
                else:
                    found.exit_code = run.exit_code
            finally:
                found.running = False

        chunks = store.stream(output(), failure)
        if stream and demux:
            return ((chunk, None) for chunk in chunks)  # (stdout, stderr), as docker-py demuxes
        if stream:
            return chunks
        return b"".join(chunks)

    def exec_inspect(self, exec_id: str) -> dict[str, Any]:
        self._begin("exec_inspect", exec_id=exec_id)
        found = self.image_store.execs.get(exec_id)
        if found is None:
            raise engine_error(404, f"No such exec instance: {exec_id}")
        return {
            "ID": found.id,
            "Running": found.running,
            "ExitCode": found.exit_code,
            "ProcessConfig": {
                "tty": False,
                "entrypoint": found.argv[0],
                "arguments": found.argv[1:],
                "privileged": False,
                "user": found.user,
            },
            "OpenStdin": False,
            "OpenStderr": True,
            "OpenStdout": True,
            "ContainerID": found.container_id,
            "Pid": 4242,
        }


class FakeImageCollection:
    """``DockerClient.images``, for what lain calls on it: ``push`` goes through the client's
    ``api`` exactly as docker-py's ``ImageCollection.push`` does."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def push(self, repository: str, tag: str | None = None, **kwargs: Any) -> Any:
        return self.client.api.push(repository, tag=tag, **kwargs)
