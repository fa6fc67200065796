"""Reading secret values back out of the cluster.

The Engine API never returns a secret's value.  :func:`read_values` reads values the way a proc
does: a one-off service mounts the secrets (in a tmpfs, as for any proc) and only sleeps; lain
runs ``cat`` in its container through the engine's exec API and reads the output from the
stream, so a value never passes through a container log or any file on a node.  The task is
placed on the node of the manager lain talks to (which it can always exec on), has no log
driver at all, and sleeps at most the read's timeout: a reader left behind by a killed command
holds nothing once it has stopped, and :func:`remove_stale_readers` removes it at the next
command that touches the app.  Its image is the proc's own image when deployed, else one of the
app's release images (:func:`reader_image`); any image with ``sleep`` and ``cat`` (busybox) can
be given instead.
"""

from __future__ import annotations

import secrets as token
import time
from collections.abc import Sequence

from lain_sdk.cluster.engine_calls import is_not_found, unless_missing
from lain_sdk.cluster.names import LABEL_APP, LABEL_SECRET_READER
from lain_sdk.cluster.releases import read_releases
from lain_sdk.cluster.secret_store import SecretVersion
from lain_sdk.cluster.session import Cluster
from lain_sdk.cluster.source import pinned_image, resolve_version
from lain_sdk.cluster.swarm import app_services, tasks_of
from lain_sdk.cluster.views import Service, Task
from lain_sdk.errors import ClusterError, LainError, LainTimeout, NotFound

READ_TIMEOUT = 60.0
# A reader's longest life past its timeout, before another command may remove it as stale.
STALE_MARGIN = 5.0
READER_PREFIX = "lain-secret-read-"


def reader_image(cluster: Cluster, app: str, proc: str) -> str:
    """An image the cluster's nodes can run, most likely with ``sh`` and ``base64``: the
    proc's deployed image, another proc's, one from the release history, else the newest
    release in the registry.

    Raises:
        NotFound: the app has no image anywhere.
    """
    live = app_services(cluster, app)
    ordered = [live[proc]] if proc in live else []
    ordered += [s for p, s in sorted(live.items()) if p != proc]
    for service in ordered:
        if service.image:
            return service.image
    for release in reversed(read_releases(cluster, app)):
        for name in [proc, *sorted(release.procs)]:
            if name in release.procs and release.procs[name].image:
                return release.procs[name].image
    try:
        registry = cluster.registry
        return pinned_image(registry, app, resolve_version(registry, app, None))
    except LainError as e:
        raise NotFound(
            f"{app} is not deployed and no release image of it was found to read secrets with "
            f"({e}); give an image that has sh and base64 (busybox has them)"
        ) from e


def read_values(
    cluster: Cluster,
    app: str,
    versions: Sequence[SecretVersion],
    *,
    image: str,
    timeout: float = READ_TIMEOUT,
) -> dict[str, bytes]:
    """Read stored versions through one one-off reader service; path -> value.

    The service is removed whatever happens (a reader left by a killed process is removed by
    the next read, deploy, status or undeploy of the app).

    Raises:
        ClusterError: the reader task failed, or could not read a file.
        LainTimeout: it did not start within ``timeout``.
    """
    cluster.login_engine()  # so the node can pull the reader image
    remove_stale_readers(cluster, app)
    targets = [f"lain-secret-{i}" for i in range(len(versions))]
    # The label says until when the reader may live (engine time): past it, it is stale.
    labels = {LABEL_APP: app, LABEL_SECRET_READER: str(int(cluster.clock() + timeout))}
    task_template = {
        "ContainerSpec": {
            "Image": image,
            # Command replaces the image's entrypoint; the files are under /run/secrets.
            "Command": ["sleep", str(max(1, int(timeout)))],
            "Secrets": [v.mount(target=t) for v, t in zip(versions, targets, strict=True)],
            "Labels": labels,
        },
        "RestartPolicy": {"Condition": "none"},
        "Placement": {"Constraints": [f"node.id=={manager_node(cluster)}"]},
        # Nothing it does is logged anywhere: values travel only in exec output.
        "LogDriver": {"Name": "none"},
    }
    what = f"read secret file(s) {', '.join(v.path for v in versions)} of {app}"
    name = f"{READER_PREFIX}{token.token_hex(6)}"
    with cluster.errors(what):
        created = cluster.api.create_service(
            task_template,
            name=name,
            labels=labels,
            mode={"Replicated": {"Replicas": 1}},
            endpoint_spec={"Mode": "dnsrr"},
        )
    service_id = str(created["ID"])
    try:
        task = _wait_reader(cluster, service_id, image, what, timeout)
        values = [_cat(cluster, task, f"/run/secrets/{t}", what) for t in targets]
    finally:
        with cluster.errors(f"remove the reader service {name}"):
            unless_missing(cluster.api.remove_service, service_id)
    return {v.path: value for v, value in zip(versions, values, strict=True)}


def manager_node(cluster: Cluster) -> str:
    """The node ID of the manager lain talks to: the one node whose containers it can exec
    in, whatever the cluster's other nodes allow."""
    with cluster.errors("ask the manager for its node ID"):
        node = str((cluster.api.info().get("Swarm") or {}).get("NodeID") or "")
    if not node:
        raise ClusterError("the engine is not a node of a swarm, so it cannot read secrets")
    return node


def remove_stale_readers(cluster: Cluster, app: str, *, every: bool = False) -> list[str]:
    """Remove ``app``'s reader services that outlived their time (``every``: all of them);
    the names of those removed."""
    with cluster.errors(f"list the secret readers of {app}"):
        found = cluster.api.services(filters={"label": f"{LABEL_APP}={app}"})
    now = cluster.clock()
    removed = []
    for document in found:
        reader = Service.from_engine(document)
        until = reader.label(LABEL_SECRET_READER)
        if not until or reader.app != app:
            continue
        if every or not until.isdigit() or float(until) + STALE_MARGIN < now:
            with cluster.errors(f"remove the reader service {reader.name}"):
                unless_missing(cluster.api.remove_service, reader.id)
            removed.append(reader.name)
    return removed


def _wait_reader(cluster: Cluster, service_id: str, image: str, what: str, timeout: float) -> Task:
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        for task in tasks_of(cluster, [service_id], what):
            last = task.state
            if task.state == "running" and task.container_id:
                return task
            if task.state in ("complete", "failed", "rejected", "shutdown", "orphaned"):
                detail = task.error or task.message or task.state
                raise ClusterError(
                    f"could not {what}: the reader task ({image}) {task.state}: {detail}; can "
                    "this node pull and start it, and does it have sleep and cat (busybox "
                    "has them)? give another image"
                )
        if time.monotonic() >= deadline:
            raise LainTimeout(
                f"could not {what}: the reader task ({image}) did not start within "
                f"{timeout:g}s (last state: {last or 'not scheduled'}); can this node pull it, "
                "and is it available (not drained)?"
            )
        time.sleep(min(cluster.poll_interval, 0.2))


def _cat(cluster: Cluster, task: Task, path: str, what: str) -> bytes:
    """The content of ``path`` in the reader's container, read through exec."""
    api = cluster.api
    with cluster.errors(what):
        try:
            created = api.exec_create(task.container_id, ["cat", path], stdout=True, stderr=True)
        except Exception as e:
            if is_not_found(e):
                raise ClusterError(f"could not {what}: the reader container is gone") from None
            raise
        exec_id = str(created["Id"])
        out, err = api.exec_start(exec_id, demux=True)
        code = api.exec_inspect(exec_id).get("ExitCode")
    if code != 0:
        # cat's own complaint names the path only, never a value.
        reason = (err or b"").decode("utf-8", "replace").strip()[:200] or f"exit code {code}"
        raise ClusterError(f"could not {what}: cat {path} in the reader failed: {reason}")
    return bytes(out or b"")
