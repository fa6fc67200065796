"""Reading secret values back out of the cluster.

The Engine API never returns a secret's value.  :func:`read_values` reads values the way a proc
does: a one-off service (restart policy none) mounts the secrets and prints them
base64-encoded with ``sh`` and ``base64``; lain reads the task's log through the manager and
removes the service right away (which deletes the task's container and its log).  Its image is
the proc's own image when deployed, else one of the app's release images (:func:`reader_image`);
any image with ``sh`` and ``base64`` (busybox) can be given instead.
"""

from __future__ import annotations

import base64
import secrets as token
import time
from collections.abc import Sequence

from lain_sdk.cluster.engine_calls import unless_missing
from lain_sdk.cluster.names import LABEL_APP, LABEL_SECRET_READER
from lain_sdk.cluster.releases import read_releases
from lain_sdk.cluster.secret_store import SecretVersion
from lain_sdk.cluster.session import Cluster
from lain_sdk.cluster.source import pinned_image, resolve_version
from lain_sdk.cluster.swarm import app_services, tasks_of
from lain_sdk.errors import ClusterError, LainError, LainTimeout, NotFound

READ_TIMEOUT = 60.0
# How long the task's log may take to reach the manager after the task ended.
LOG_TIMEOUT = 10.0
_END = "--- lain-secret-end"
# Prints each file given as an argument, base64-encoded (logs are text: binary values would
# not survive them), between markers, so a cut-off log is noticed instead of read as a value.
_READER_SCRIPT = 'for f in "$@"; do echo "--- $f"; base64 "$f" || exit 3; done; echo "' + _END + '"'


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

    The service is removed whatever happens (its container and log go with it).

    Raises:
        ClusterError: the reader task failed, or printed something lain cannot read.
        LainTimeout: it did not finish within ``timeout``.
    """
    cluster.login_engine()  # so a node can pull the reader image
    targets = [f"lain-secret-{i}" for i in range(len(versions))]
    labels = {LABEL_APP: app, LABEL_SECRET_READER: "1"}
    task_template = {
        "ContainerSpec": {
            "Image": image,
            # Command replaces the image's entrypoint; the files are under /run/secrets.
            "Command": ["sh", "-c", _READER_SCRIPT, "sh", *(f"/run/secrets/{t}" for t in targets)],
            "Secrets": [v.mount(target=t) for v, t in zip(versions, targets, strict=True)],
            "Labels": labels,
        },
        "RestartPolicy": {"Condition": "none"},
        # Readable whatever the daemon's default driver is (some drivers cannot be read back).
        "LogDriver": {"Name": "json-file"},
    }
    what = f"read secret file(s) {', '.join(v.path for v in versions)} of {app}"
    name = f"lain-secret-read-{token.token_hex(6)}"
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
        _wait_reader(cluster, service_id, image, what, timeout)
        decoded = _reader_output(cluster, service_id, len(versions), what, timeout)
    finally:
        with cluster.errors(f"remove the reader service {name}"):
            unless_missing(cluster.api.remove_service, service_id)
    return {v.path: value for v, value in zip(versions, decoded, strict=True)}


def _wait_reader(cluster: Cluster, service_id: str, image: str, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        for task in tasks_of(cluster, [service_id], what):
            last = task.state
            if task.state == "complete":
                return
            if task.state in ("failed", "rejected", "shutdown", "orphaned"):
                detail = task.error or task.message or task.state
                if task.state == "failed" and task.exit_code:
                    # It ran: the image lacks what the script needs (or the file is unreadable).
                    detail = f"exit code {task.exit_code}, {detail}"
                    hint = "its image needs sh and base64: give one that has them (busybox)"
                else:
                    hint = "can the nodes pull and start it? give another image"
                raise ClusterError(
                    f"could not {what}: the reader task ({image}) {task.state}: {detail}; {hint}"
                )
        if time.monotonic() >= deadline:
            raise LainTimeout(
                f"could not {what}: the reader task ({image}) did not finish within "
                f"{timeout:g}s (last state: {last or 'not scheduled'}); can the nodes pull it?"
            )
        time.sleep(min(cluster.poll_interval, 0.2))


def _reader_output(
    cluster: Cluster, service_id: str, count: int, what: str, timeout: float
) -> list[bytes]:
    # A log may reach the manager a moment after the task ended: read until the end marker.
    deadline = time.monotonic() + min(timeout, LOG_TIMEOUT)
    while True:
        with cluster.errors(what):
            chunks = cluster.api.service_logs(
                service_id, stdout=True, stderr=False, follow=False, is_tty=False
            )
            text = b"".join(chunks).decode("ascii", "replace")
        try:
            return parse_reader_log(text, count)
        except ValueError as e:
            if time.monotonic() >= deadline:
                raise ClusterError(f"could not {what}: {e}") from None
        time.sleep(min(cluster.poll_interval, 0.3))


def parse_reader_log(text: str, count: int) -> list[bytes]:
    """The values in a reader task's log, in the order its files were given.

    Raises:
        ValueError: the log is cut off or malformed (the message never quotes it).
    """
    lines = [line.strip() for line in text.splitlines()]
    if _END not in lines:
        raise ValueError("the reader task's log ended early")
    values: list[list[str]] = []
    for line in lines[: lines.index(_END)]:
        if line.startswith("--- "):
            values.append([])
        elif values and line:
            values[-1].append(line)
    if len(values) != count:
        raise ValueError(f"the reader task printed {len(values)} values instead of {count}")
    try:
        return [base64.b64decode("".join(parts), validate=True) for parts in values]
    except ValueError:
        raise ValueError("the reader task printed something that is not base64") from None
