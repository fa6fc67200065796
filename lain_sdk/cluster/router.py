"""The cluster's router: its image, its Swarm service, and what it says about itself.

The router is one global Swarm service, ``lain-router``, on the nodes its constraint picks
(managers by default: the watcher reads the swarm from its node's engine).  Its image is the
cluster's router base image (nginx and python3) with :mod:`lain_router` copied in; lain builds
it on the engine it talks to, tags it by the content of both, and pushes it to the cluster's
registry so that every router node can pull it.  The router listens on the host ports of its
nodes (host-mode publishing: this needs no ingress mesh) and reaches instances on each app's
router network, which its watcher joins.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import time
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import lain_router
from lain_router.labels import (
    LABEL_ROUTER,
    LABEL_STREAMS,
    ROUTER_SERVICE,
    STREAM_ROUTER_SERVICE,
    StreamPort,
)
from lain_router.model import build_model
from lain_sdk.cluster.cert_store import certificate_mounts
from lain_sdk.cluster.engine_calls import is_not_found, unless_missing
from lain_sdk.cluster.session import Cluster
from lain_sdk.cluster.swarm import create_service, nodes, tasks_of, update_service
from lain_sdk.cluster.views import Service, Task
from lain_sdk.errors import ClusterError, LainTimeout, NotFound
from lain_sdk.events import Event, Message
from lain_sdk.images.builder import Builder
from lain_sdk.images.dockerfiles import Dockerfile
from lain_sdk.images.push import push_images
from lain_sdk.settings import ClusterSettings

IMAGE_REPOSITORY = "lain/router"
LABEL_SPEC_HASH = "lain.router.spec-hash"
RUN_DIR = "/run/lain-router"
STATUS_PATH = f"{RUN_DIR}/status.json"
ROUTER_TIMEOUT = 180.0
POLL = 0.5
# Installs nginx and python3 only when the base image lacks them (a plain Debian or Ubuntu).
_INSTALL = (
    "command -v nginx >/dev/null && command -v python3 >/dev/null || (apt-get update && "
    "apt-get install -y --no-install-recommends nginx-light libnginx-mod-stream python3 && "
    "rm -rf /var/lib/apt/lists/*)"
)
_DOCKERFILE = """\
FROM {base}
RUN {install}
COPY lain_router /opt/lain/lain_router
ENV PYTHONPATH=/opt/lain PYTHONDONTWRITEBYTECODE=1
ENTRYPOINT ["python3", "-m", "lain_router"]
CMD []
"""


class RouterTask(NamedTuple):
    node: str
    state: str
    desired_state: str
    error: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self._asdict())


class RouterStatus(NamedTuple):
    """What ``lain router status`` shows.

    Attributes:
        running: the router service exists.
        image: the image it runs.
        constraint: the placement constraint that picks its nodes.
        tasks: one per node it runs (or tried to run) on.
        watcher: what the watcher next to the engine lain talks to says (generation, last
            reload, routes, problems, last error); empty when no router runs there.
        stream_tasks: the stream router's, one per node (none while no app has a stream
            port).
    """

    running: bool
    image: str = ""
    constraint: str = ""
    tasks: tuple[RouterTask, ...] = ()
    watcher: Mapping[str, Any] = {}
    stream_tasks: tuple[RouterTask, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "running": self.running,
            "image": self.image,
            "constraint": self.constraint,
            "tasks": [t.to_dict() for t in self.tasks],
            "watcher": dict(self.watcher),
            "stream_tasks": [t.to_dict() for t in self.stream_tasks],
        }


# -- the image ---------------------------------------------------------------------------------


def dockerfile(base: str) -> str:
    """The router image's Dockerfile on ``base``."""
    return _DOCKERFILE.format(base=base, install=_INSTALL)


def _sources() -> dict[str, bytes]:
    package = Path(lain_router.__file__).parent
    return {f"lain_router/{p.name}": p.read_bytes() for p in sorted(package.glob("*.py"))}


def image_context(base: str) -> tuple[bytes, str]:
    """The build context of the router's image on ``base``, and a tag naming its content."""
    files = {"lain.Dockerfile": dockerfile(base).encode(), **_sources()}
    digest = hashlib.sha256()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in sorted(files.items()):
            digest.update(name.encode() + b"\0" + data + b"\0")
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue(), digest.hexdigest()[:16]


def router_image(cluster: Cluster, timeout: float) -> Generator[Event, None, str]:
    """Build the router's image (unless the engine has it) and push it to the registry."""
    base = cluster.settings.router.base_image
    context, tag = image_context(base)
    reference = f"{cluster.settings.registry}/{IMAGE_REPOSITORY}:{tag}"
    builder = Builder(cluster.engine, timeout=timeout)
    if builder.image_id(reference) is None:
        yield Message(f"building the router's image on {base}")
        yield from builder.build("router", Dockerfile(dockerfile(base)), context, tag=reference)
    yield from push_images(
        cluster.engine,
        [("router", reference, reference)],
        registry=cluster.settings.registry,
        credentials=lambda: cluster.credentials.get(cluster.settings.registry),
        timeout=timeout,
    )
    return reference


# -- the service -------------------------------------------------------------------------------


def router_spec(
    settings: ClusterSettings,
    image: str,
    *,
    certificates: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The HTTP router's service spec: global on the router nodes, publishing its HTTP and
    HTTPS ports on each, with the certificates mounted (``certificates``:
    ``ContainerSpec.Secrets`` entries, see
    :func:`~lain_sdk.cluster.cert_store.certificate_mounts`)."""
    router = settings.router
    spec = _router_service(
        settings,
        ROUTER_SERVICE,
        image,
        "http",
        [(router.http_port, "tcp"), (router.https_port, "tcp")],
    )
    if certificates:
        spec["TaskTemplate"]["ContainerSpec"]["Secrets"] = list(certificates)
    return spec


def stream_router_spec(
    settings: ClusterSettings, image: str, streams: Iterable[StreamPort]
) -> dict[str, Any]:
    """The stream router's service spec: the same image on the same nodes, publishing the
    apps' stream ports.  A service of its own, so that a change of stream ports (which
    restarts it: published ports are part of a service's spec) never interrupts HTTP."""
    published = sorted({(s.src, s.protocol) for s in streams})
    return _router_service(settings, STREAM_ROUTER_SERVICE, image, "stream", published)


def _router_service(
    settings: ClusterSettings,
    name: str,
    image: str,
    serves: str,
    published: Sequence[tuple[int, str]],
) -> dict[str, Any]:
    router = settings.router
    env = {
        "LAIN_ROUTER_SERVES": serves,
        "LAIN_ROUTER_HTTP_PORT": router.http_port,
        "LAIN_ROUTER_HTTPS_PORT": router.https_port,
        "LAIN_ROUTER_RUN_DIR": RUN_DIR,
        "LAIN_ROUTER_NODE": "{{.Node.Hostname}}",
    }
    return {
        "Name": name,
        "Labels": {LABEL_ROUTER: serves},
        "TaskTemplate": {
            "ContainerSpec": {
                "Image": image,
                "Env": [f"{k}={v}" for k, v in env.items()],
                "Labels": {LABEL_ROUTER: serves},
                "Mounts": [
                    {
                        "Type": "bind",
                        "Source": router.engine_socket,
                        "Target": "/var/run/docker.sock",
                    }
                ],
                "StopGracePeriod": 15 * 10**9,
            },
            "Placement": {"Constraints": [router.constraint]},
            "RestartPolicy": {"Condition": "any", "Delay": 10**9},
        },
        "Mode": {"Global": {}},
        # Host ports cannot be held twice on a node: the old task stops before the new starts.
        "UpdateConfig": {"Parallelism": 1, "Order": "stop-first", "FailureAction": "pause"},
        "EndpointSpec": {
            "Mode": "dnsrr",
            "Ports": [
                {"Protocol": protocol, "TargetPort": p, "PublishedPort": p, "PublishMode": "host"}
                for p, protocol in published
            ],
        },
    }


def wanted_streams(cluster: Cluster) -> list[StreamPort]:
    """The stream ports the apps on the cluster declare (the stream router publishes them)."""
    with cluster.errors("list the services the router serves"):
        found = cluster.api.services(filters={"label": LABEL_STREAMS})
    model = build_model(found, [])
    return [StreamPort(s.port, s.port, s.protocol) for s in model.streams]


def _hashed(spec: dict[str, Any]) -> dict[str, Any]:
    spec_hash = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]
    spec["Labels"][LABEL_SPEC_HASH] = spec_hash
    return spec


def _specs(cluster: Cluster, image: str) -> dict[str, dict[str, Any] | None]:
    """Both routers' specs with today's certificates and stream ports, labelled with their
    hashes (the stream router's None when no app has a stream port)."""
    streams = wanted_streams(cluster)
    return {
        ROUTER_SERVICE: _hashed(
            router_spec(cluster.settings, image, certificates=certificate_mounts(cluster))
        ),
        STREAM_ROUTER_SERVICE: (
            _hashed(stream_router_spec(cluster.settings, image, streams)) if streams else None
        ),
    }


def _changed(live: Service, spec: Mapping[str, Any]) -> bool:
    return bool(
        (live.spec.get("Labels") or {}).get(LABEL_SPEC_HASH) != spec["Labels"][LABEL_SPEC_HASH]
    )


def _apply(cluster: Cluster, image: str) -> Iterator[tuple[str, str]]:
    """Bring both routers to their specs; ``(service, what was done)`` for each change."""
    for name, spec in _specs(cluster, image).items():
        live = find_router(cluster, name)
        if spec is None:
            if live is not None:
                with cluster.errors(f"remove {name}"):
                    unless_missing(cluster.api.remove_service, live.id)
                yield name, "removed"
        elif live is None:
            create_service(cluster, spec)
            yield name, "created"
        elif _changed(live, spec):
            update_service(cluster, live, spec)
            yield name, "updated"


def refresh_router(cluster: Cluster) -> list[tuple[str, str]]:
    """Give the running router today's certificates, and the stream router today's stream
    ports (their image stays); what changed, as ``(service, created|updated|removed)`` (a
    changed service's tasks restart, one node at a time).  No router: nothing to do."""
    live = find_router(cluster)
    if live is None:
        return []
    image = str(live.spec["TaskTemplate"]["ContainerSpec"]["Image"]).split("@", 1)[0]
    return list(_apply(cluster, image))


def find_router(cluster: Cluster, name: str = ROUTER_SERVICE) -> Service | None:
    """The router's service (or the stream router's), None when it does not run."""
    with cluster.errors(f"look up the service {name}"):
        found = cluster.api.services(filters={"name": name})
    exact = [s for s in found if (s.get("Spec") or {}).get("Name") == name]
    return Service.from_engine(exact[0]) if exact else None


def router_up(
    cluster: Cluster, *, timeout: float = ROUTER_TIMEOUT
) -> Generator[Event, None, RouterStatus]:
    """Start the router (and the stream router when an app has stream ports), or bring them
    to this lain's image and the cluster's settings; wait until they run on every node they
    should.

    Raises:
        BuildError, RegistryError: its image could not be built or pushed.
        LainTimeout: it did not run everywhere within ``timeout`` (the message names what the
            engine said of its tasks).
    """
    deadline = time.monotonic() + timeout
    image = yield from router_image(cluster, timeout)
    changes = list(_apply(cluster, image))
    where = cluster.settings.router.constraint
    for name, done in changes:
        yield Message(f"{done} the service {name} (on the nodes where {where})")
    if not changes:
        yield Message("the router is up to date")
    for name in (ROUTER_SERVICE, STREAM_ROUTER_SERVICE):
        if find_router(cluster, name) is not None:
            yield from wait_updated(cluster, name, deadline, timeout)
    return router_status(cluster)


def wait_updated(
    cluster: Cluster, name: str, deadline: float, timeout: float
) -> Generator[Event, None, int]:
    """Wait until every task of the router service ``name`` runs its service's current spec
    (the engine's own up-to-date test: a task of the spec before does not count); how many
    run.  ``deadline`` is on the monotonic clock, ``timeout`` what the error says it was.

    Raises:
        NotFound: the service went away meanwhile.
        ClusterError: its update paused or rolled back on a failure.
        LainTimeout: not everywhere in time, naming each task's node, state and error.
    """
    doing = f"list the tasks of {name}"
    while True:
        live = find_router(cluster, name)
        if live is None:
            raise NotFound(f"the service {name} went away while lain waited for it")
        tasks = tasks_of(cluster, [live.id], doing)
        fresh = {t.id for t in tasks_of(cluster, [live.id], doing, up_to_date=True)}
        current = [t for t in tasks if t.desired_state == "running"]
        if current and all(t.id in fresh and t.state == "running" for t in current):
            return len(current)
        said = (
            "; ".join(
                f"{t.node_id or 'not placed'}: {t.state}"
                + ("" if t.id in fresh else " (previous spec)")
                + (f" {t.error}" if t.error else "")
                for t in current
            )
            or "no task"
        )
        state = live.update_status.state if live.update_status else ""
        if state == "paused" or state.startswith("rollback"):
            raise ClusterError(
                f"the update of {name} is {state.replace('_', ' ')} ({said}); see the "
                "router's status"
            )
        if time.monotonic() >= deadline:
            raise LainTimeout(f"{name} did not run everywhere within {timeout:.0f} s ({said})")
        yield from ()
        time.sleep(min(cluster.poll_interval, POLL) or POLL)


def router_down(cluster: Cluster) -> bool:
    """Remove the router's services; False when there was none."""
    removed = False
    for name in (ROUTER_SERVICE, STREAM_ROUTER_SERVICE):
        live = find_router(cluster, name)
        if live is not None:
            with cluster.errors(f"remove the service {name}"):
                removed = unless_missing(cluster.api.remove_service, live.id) or removed
    return removed


def router_status(cluster: Cluster, *, watcher: bool = True) -> RouterStatus:
    """The router's service, its task on each node (and the stream router's), and what the
    watcher on the engine lain talks to says."""
    live = find_router(cluster)
    if live is None:
        return RouterStatus(running=False)
    names = {n.id: n.hostname for n in nodes(cluster)}
    tasks, shown = _tasks(cluster, live, names)
    stream = find_router(cluster, STREAM_ROUTER_SERVICE)
    stream_shown = _tasks(cluster, stream, names)[1] if stream is not None else ()
    container = live.spec.get("TaskTemplate", {}).get("ContainerSpec", {})
    constraints = live.spec.get("TaskTemplate", {}).get("Placement", {}).get("Constraints", [])
    return RouterStatus(
        running=True,
        image=str(container.get("Image", "")).split("@", 1)[0],
        constraint=",".join(constraints),
        tasks=shown,
        watcher=_watcher_status(cluster, tasks) if watcher else {},
        stream_tasks=stream_shown,
    )


def _tasks(
    cluster: Cluster, service: Service, names: Mapping[str, str]
) -> tuple[list[Task], tuple[RouterTask, ...]]:
    """A router service's tasks, newest first, and the newest one on each node."""
    tasks = sorted(
        tasks_of(cluster, [service.id], f"list the tasks of {service.name}"),
        key=lambda t: (t.desired_state != "running", -t.created_at),
    )
    shown: dict[str, RouterTask] = {}
    for task in tasks:
        node = names.get(task.node_id, task.node_id or "(not placed)")
        shown.setdefault(node, RouterTask(node, task.state, task.desired_state, task.error))
    return tasks, tuple(shown.values())


def _watcher_status(cluster: Cluster, tasks: list[Task]) -> Mapping[str, Any]:
    """The watcher's status file, read from a router container on the engine lain talks to
    (none there: empty)."""
    api = cluster.api
    for task in tasks:
        if task.state != "running" or not task.container_id:
            continue
        with cluster.errors("read the router's status"):
            try:
                created = api.exec_create(task.container_id, ["cat", STATUS_PATH])
            except Exception as e:
                if is_not_found(e):
                    continue  # on another node: this engine does not know the container
                raise
            exec_id = str(created["Id"])
            output = api.exec_start(exec_id)
            if api.exec_inspect(exec_id).get("ExitCode") != 0:
                continue  # no status yet: the watcher has not applied a configuration
        try:
            return dict(json.loads(output))
        except ValueError as e:
            raise ClusterError(f"the router's status file is not JSON: {e}") from e
    return {}
