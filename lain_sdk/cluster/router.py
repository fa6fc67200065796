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
from collections.abc import Generator, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import lain_router
from lain_router.labels import LABEL_ROUTER, LABEL_STREAMS, ROUTER_SERVICE, StreamPort
from lain_router.model import build_model
from lain_sdk.cluster.cert_store import certificate_mounts
from lain_sdk.cluster.engine_calls import is_not_found
from lain_sdk.cluster.session import Cluster
from lain_sdk.cluster.swarm import create_service, nodes, tasks_of, update_service
from lain_sdk.cluster.views import Service, Task
from lain_sdk.errors import ClusterError, LainTimeout
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
    """

    running: bool
    image: str = ""
    constraint: str = ""
    tasks: tuple[RouterTask, ...] = ()
    watcher: Mapping[str, Any] = {}

    def to_dict(self) -> dict[str, Any]:
        return {
            "running": self.running,
            "image": self.image,
            "constraint": self.constraint,
            "tasks": [t.to_dict() for t in self.tasks],
            "watcher": dict(self.watcher),
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
    streams: Iterable[StreamPort] = (),
) -> dict[str, Any]:
    """The router's service spec: global on the router nodes, publishing its HTTP and HTTPS
    ports and the stream ports of the apps on each of them, with the certificates mounted
    (``certificates``: ``ContainerSpec.Secrets`` entries, see
    :func:`~lain_sdk.cluster.cert_store.certificate_mounts`)."""
    router = settings.router
    published = [(p, "tcp") for p in (router.http_port, router.https_port)]
    published += sorted({(s.src, s.protocol) for s in streams})
    ports = [
        {"Protocol": protocol, "TargetPort": p, "PublishedPort": p, "PublishMode": "host"}
        for p, protocol in published
    ]
    env = {
        "LAIN_ROUTER_HTTP_PORT": router.http_port,
        "LAIN_ROUTER_HTTPS_PORT": router.https_port,
        "LAIN_ROUTER_RUN_DIR": RUN_DIR,
        "LAIN_ROUTER_NODE": "{{.Node.Hostname}}",
    }
    return {
        "Name": ROUTER_SERVICE,
        "Labels": {LABEL_ROUTER: "true"},
        "TaskTemplate": {
            "ContainerSpec": {
                "Image": image,
                "Env": [f"{k}={v}" for k, v in env.items()],
                "Labels": {LABEL_ROUTER: "true"},
                "Mounts": [
                    {
                        "Type": "bind",
                        "Source": "/var/run/docker.sock",
                        "Target": "/var/run/docker.sock",
                    }
                ],
                "StopGracePeriod": 15 * 10**9,
                **({"Secrets": list(certificates)} if certificates else {}),
            },
            "Placement": {"Constraints": [router.constraint]},
            "RestartPolicy": {"Condition": "any", "Delay": 10**9},
        },
        "Mode": {"Global": {}},
        # Host ports cannot be held twice on a node: the old task stops before the new starts.
        "UpdateConfig": {"Parallelism": 1, "Order": "stop-first", "FailureAction": "pause"},
        "EndpointSpec": {"Mode": "dnsrr", "Ports": ports},
    }


def wanted_streams(cluster: Cluster) -> list[StreamPort]:
    """The stream ports the apps on the cluster declare (the router publishes them)."""
    with cluster.errors("list the services the router serves"):
        found = cluster.api.services(filters={"label": LABEL_STREAMS})
    model = build_model(found, [])
    return [StreamPort(s.port, s.port, s.protocol) for s in model.streams]


def _spec(cluster: Cluster, image: str) -> dict[str, Any]:
    """The router's spec with today's certificates and stream ports, labelled with its hash."""
    spec = router_spec(
        cluster.settings,
        image,
        certificates=certificate_mounts(cluster),
        streams=wanted_streams(cluster),
    )
    spec_hash = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]
    spec["Labels"][LABEL_SPEC_HASH] = spec_hash
    return spec


def _changed(live: Service, spec: Mapping[str, Any]) -> bool:
    return bool(
        (live.spec.get("Labels") or {}).get(LABEL_SPEC_HASH) != spec["Labels"][LABEL_SPEC_HASH]
    )


def refresh_router(cluster: Cluster) -> bool:
    """Give the running router today's certificates and stream ports (its image stays);
    True when that changed its spec (its tasks then restart, one node at a time).  No router:
    nothing to do (False)."""
    live = _find(cluster)
    if live is None:
        return False
    image = str(live.spec["TaskTemplate"]["ContainerSpec"]["Image"]).split("@", 1)[0]
    spec = _spec(cluster, image)
    if not _changed(live, spec):
        return False
    update_service(cluster, live, spec)
    return True


def _find(cluster: Cluster) -> Service | None:
    with cluster.errors("look up the router's service"):
        found = cluster.api.services(filters={"name": ROUTER_SERVICE})
    exact = [s for s in found if (s.get("Spec") or {}).get("Name") == ROUTER_SERVICE]
    return Service.from_engine(exact[0]) if exact else None


def router_up(
    cluster: Cluster, *, timeout: float = ROUTER_TIMEOUT
) -> Generator[Event, None, RouterStatus]:
    """Start the router, or bring it to this lain's image and the cluster's settings; wait
    until it runs on every node it should.

    Raises:
        BuildError, RegistryError: its image could not be built or pushed.
        LainTimeout: it did not run everywhere within ``timeout`` (the message names what the
            engine said of its tasks).
    """
    deadline = time.monotonic() + timeout
    image = yield from router_image(cluster, timeout)
    spec = _spec(cluster, image)
    live = _find(cluster)
    if live is None:
        create_service(cluster, spec)
        yield Message(
            f"started the router ({ROUTER_SERVICE}) on the nodes where "
            f"{cluster.settings.router.constraint}"
        )
    elif _changed(live, spec):
        update_service(cluster, live, spec)
        yield Message("updated the router to this lain's image and settings")
    else:
        yield Message("the router is up to date")
    return (yield from wait_router(cluster, deadline, timeout))


def wait_router(
    cluster: Cluster, deadline: float, timeout: float
) -> Generator[Event, None, RouterStatus]:
    """Wait until the router runs on every node it should (``deadline`` on the monotonic
    clock; ``timeout`` is what the error says it was).

    Raises:
        LainTimeout: it did not, naming each node's task state and error.
    """
    while True:
        status = router_status(cluster, watcher=False)
        current = [t for t in status.tasks if t.desired_state == "running"]
        if current and all(t.state == "running" for t in current):
            return router_status(cluster)
        if time.monotonic() >= deadline:
            said = "; ".join(f"{t.node}: {t.state} {t.error}".strip() for t in current)
            raise LainTimeout(
                f"the router did not run everywhere within {timeout:.0f} s ({said or 'no task'})"
            )
        yield from ()
        time.sleep(POLL)


def router_down(cluster: Cluster) -> bool:
    """Remove the router's service; False when there was none."""
    live = _find(cluster)
    if live is None:
        return False
    with cluster.errors("remove the router's service"):
        cluster.api.remove_service(live.id)
    return True


def router_status(cluster: Cluster, *, watcher: bool = True) -> RouterStatus:
    """The router's service, its task on each node, and what the watcher on the engine lain
    talks to says."""
    live = _find(cluster)
    if live is None:
        return RouterStatus(running=False)
    names = {n.id: n.hostname for n in nodes(cluster)}
    tasks = sorted(
        tasks_of(cluster, [live.id], "list the router's tasks"),
        key=lambda t: (t.desired_state != "running", -t.created_at),
    )
    shown: dict[str, RouterTask] = {}
    for task in tasks:
        node = names.get(task.node_id, task.node_id or "(not placed)")
        shown.setdefault(node, RouterTask(node, task.state, task.desired_state, task.error))
    container = live.spec.get("TaskTemplate", {}).get("ContainerSpec", {})
    constraints = live.spec.get("TaskTemplate", {}).get("Placement", {}).get("Constraints", [])
    return RouterStatus(
        running=True,
        image=str(container.get("Image", "")).split("@", 1)[0],
        constraint=",".join(constraints),
        tasks=tuple(shown.values()),
        watcher=_watcher_status(cluster, tasks) if watcher else {},
    )


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
