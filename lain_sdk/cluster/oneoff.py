"""Running a command once on the cluster, in a one-off task of a deployed proc's release.

The task is a service of its own made from the proc's live service spec, so it runs what the
proc runs now: the image (pinned by digest), environment, secret files, shared volumes, user,
workdir, limits and placement constraints, on the app's network and the link networks of the
apps it uses.  What would make it one of the proc's instances is left out: it answers to none
of the proc's service names, is on no router network and carries no router labels (the router
never sends it requests), publishes no ports, has no healthcheck, and its service has no
``lain.proc`` label, so ``ps``, deploys, plans and status do not count it.

- Its command: COMMAND replaces the proc's command (``Args``; the entrypoint stays), else it
  runs the proc's own.  ``LAIN_INSTANCE_NO`` is ``0``: it is no instance.
- Per-instance data (the persistent dirs of a stateful proc, one volume per instance) belongs
  to the instances: it is not mounted (the paths are listed in :attr:`OneOff.unmounted`), and
  the constraint keeping instances on their data's node is dropped.
- It is a Swarm job run once (``replicated-job``, restart policy ``none``).  lain reads its
  container through the engine of the node it runs on (reached as ``lain exec`` reaches one);
  when lain reaches no engine but the cluster's own (a local socket), the task is placed on
  that engine's node.  Without ``stdin`` its output is the container's log, followed from the
  start until it stops, so nothing it printed before lain looked is lost.  With ``stdin`` (and
  ``tty``) lain attaches to the container, which gets an open standard input (and a
  terminal): what it printed before is shown first, and a line printed in the moment of
  attaching may show twice.  The end of lain's input does not reach the command (Swarm gives
  a service's container no way to close its standard input).
- It leaves nothing behind: :meth:`OneOffSession.close` removes the service (which stops the
  command if it still runs).  Its service carries :data:`~lain_sdk.cluster.names.LABEL_ONEOFF`
  with until when it may take to start: one left by a killed lain is removed by the next
  one-off of the app once its task no longer runs, and by an undeploy in any case.
"""

from __future__ import annotations

import contextlib
import queue
import secrets as token
import socket
import threading
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import lain_sdk.arguments as arguments
from lain_sdk.cluster.attach import Attachment, raw_socket, without_timeout
from lain_sdk.cluster.engine_calls import engine_errors
from lain_sdk.cluster.names import (
    LABEL_APP,
    LABEL_ONEOFF,
    MAX_SERVICE_NAME,
    USE_LABEL_PREFIX,
    fit_name,
    link_network_name,
    network_name,
)
from lain_sdk.cluster.placement import parse_constraint
from lain_sdk.cluster.secret_reader import manager_node
from lain_sdk.cluster.session import Cluster, ClusterLike, node_engine_url
from lain_sdk.cluster.sizing import service_mode
from lain_sdk.cluster.spec import SLOT_TEMPLATE, copy_spec
from lain_sdk.cluster.swarm import app_services, deployed_procs, remove_service, tasks_of
from lain_sdk.cluster.views import Node, Service, Task
from lain_sdk.engine import EngineClient
from lain_sdk.errors import (
    ClusterError,
    EngineError,
    InvalidArgument,
    LainError,
    LainTimeout,
    NotFound,
)

START_TIMEOUT = 120.0
# How long the task may take to report its exit status once the command's output ended.
EXIT_TIMEOUT = 30.0
# A stream still open this long after its task ended is closed (an attachment made just after
# the container stopped replays its output, then never ends).
ENDED_GRACE = 2.0
# A one-off's longest wait to start past its deadline, before another command may remove it.
STALE_MARGIN = 5.0
ENDED_STATES = ("complete", "failed", "shutdown", "rejected", "orphaned", "remove")
_NON_ZERO_EXIT = "task: non-zero exit"
_INSTANCE_VARIABLES = ("LAIN_INSTANCE_NO", "DEPLOYD_POD_INSTANCE_NO")


@dataclass(frozen=True)
class OneOff:
    """A one-off task that has started.

    Attributes:
        app: the app.
        proc: the proc whose release it runs.
        service: its service's name.
        service_id: its service's ID.
        task: its task's ID.
        container: its container's ID.
        node: the host name of the node it runs on.
        image: the image it runs (the proc's, pinned by digest).
        meta_version: the version the proc runs.
        unmounted: the proc's per-instance data dirs, which it does not mount.
    """

    app: str
    proc: str
    service: str
    service_id: str
    task: str
    container: str
    node: str
    image: str
    meta_version: str
    unmounted: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "proc": self.proc,
            "service": self.service,
            "task": self.task,
            "node": self.node,
            "image": self.image,
            "meta_version": self.meta_version,
            "unmounted": list(self.unmounted),
        }


@dataclass(kw_only=True)
class OneOffSession(Attachment):
    """The streams of a one-off task: read :meth:`output`, then :meth:`exit_code`; always
    :meth:`close`, which removes the task's service."""

    oneoff: OneOff
    cluster: Cluster = field(repr=False)
    engine: EngineClient = field(repr=False)  # the engine of the task's node
    owns_engine: bool = False
    # what the command printed before lain attached to it (with stdin)
    earlier: tuple[tuple[str, bytes], ...] = ()
    cut: bool = False  # the stream was closed after its task ended

    def output(self) -> Iterator[tuple[str, bytes]]:
        """The command's output until it ends (see :class:`Attachment`)."""
        yield from self.earlier
        ended = threading.Event()
        threading.Thread(target=self._close_when_task_ends, args=(ended,), daemon=True).start()
        try:
            yield from super().output()
        except OSError:
            if not self.cut:
                raise
        finally:
            ended.set()

    def close_input(self) -> None:
        """Nothing: the engine would end the attachment's output, not the command's input."""

    def exit_code(self, timeout: float = EXIT_TIMEOUT) -> int:
        """The command's exit status, once its output has ended.

        Raises:
            ClusterError: the task ended without running the command to its end (its error).
            LainTimeout: the task still ran ``timeout`` seconds after its output ended.
        """
        what = f"read the exit status of {self.oneoff.service}"
        deadline = time.monotonic() + timeout
        while True:
            task = _current_task(self.cluster, self.oneoff.service_id, what)
            if task is not None and task.state in ENDED_STATES:
                return _exit_status(task, self.oneoff.service)
            if time.monotonic() >= deadline:
                raise LainTimeout(
                    f"the output of {self.oneoff.service} ended, but its command still ran "
                    f"{timeout:g} s later; it is stopped with its service"
                )
            time.sleep(min(self.cluster.poll_interval, 0.2))

    def close(self) -> None:
        """Close the streams and remove the task's service (stopping the command if it still
        runs)."""
        try:
            super().close()
        finally:
            try:
                remove_service(self.cluster, self.oneoff.service_id, self.oneoff.service)
            finally:
                if self.owns_engine:
                    self.engine.close()

    def _close_when_task_ends(self, ended: threading.Event) -> None:
        what = f"look at {self.oneoff.service}"
        pause = max(self.cluster.poll_interval, 0.1)
        while not ended.wait(pause):
            try:
                task = _current_task(self.cluster, self.oneoff.service_id, what)
            except LainError:
                continue  # a passing engine fault: look again
            if task is None or task.state in ENDED_STATES:
                if not ended.wait(ENDED_GRACE):
                    self.cut = True
                    _shut(self.connection)
                    if self.stream is not None:
                        self.stream.close()
                return


def run_oneoff(
    app: str,
    proc: str,
    command: Sequence[str] | None = None,
    *,
    cluster: ClusterLike,
    stdin: bool = False,
    tty: bool = False,
    timeout: float = START_TIMEOUT,
) -> OneOffSession:
    """Start ``command`` (default: the proc's own) once on the cluster, in a one-off task of
    the proc's current release, and attach to it (see the module's description).

    Args:
        app: the app.
        proc: a deployed proc of it.
        command: replaces the proc's command (no shell: give ``sh -c '...'`` for one).
        cluster: the cluster (a session, its settings, or its name).
        stdin: give the command an open standard input, for :meth:`OneOffSession.send`.
        tty: give the command a terminal (its stdout and stderr then come as one stream).
        timeout: seconds the task may take to start (pulling its image included); the
            command itself may run as long as it takes.

    Raises:
        InvalidArgument: an argument of the wrong kind.
        NotFound: the app is not deployed, or the proc is not (the message names those that
            are).
        LainTimeout: the task did not start within ``timeout`` (it is removed).
        ClusterError: the engine refused, the task could not start, or the engine of its node
            did not answer (it is removed).
    """
    app, proc = arguments.app_name(app), arguments.proc_name(proc)
    argv = _command(command)
    stdin, tty = arguments.flag(stdin, "stdin"), arguments.flag(tty, "tty")
    timeout = arguments.seconds(timeout)
    session = Cluster.of(cluster)
    live = app_services(session, app)
    if not live:
        raise NotFound(f"{app} is not deployed on cluster {session.name}: deploy it first")
    deployed_procs(live, [proc], app, session.name)
    service = live[proc]
    session.login_engine()  # so the node can pull the image
    remove_stale_oneoffs(session, app)
    here = manager_node(session)
    spec, unmounted = _prepare(session, service, argv, here, stdin=stdin, tty=tty, timeout=timeout)
    name, what = spec["Name"], f"start a one-off of {app} {proc}"
    with session.errors(what):
        service_id = str(session.api.create_service(**_create_args(spec))["ID"])
    try:
        task = _wait_started(session, service_id, what, timeout)
        engine, owned, node = _task_engine(session, task, here, what)
        try:
            streams = _attach(engine, task.container_id, stdin=stdin, tty=tty)
        except BaseException:
            if owned:
                engine.close()
            raise
    except BaseException:
        with contextlib.suppress(LainError):  # the error being raised says more
            remove_service(session, service_id, name)
        raise
    started = OneOff(
        app, proc, name, service_id, task.id, task.container_id, node, service.image,
        service.meta_version, unmounted,
    )  # fmt: skip
    return OneOffSession(
        oneoff=started, cluster=session, engine=engine, owns_engine=owned, tty=tty, **streams
    )


def _prepare(
    session: Cluster,
    service: Service,
    command: list[str] | None,
    here: str,
    *,
    stdin: bool,
    tty: bool,
    timeout: float,
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The one-off's spec (see :func:`oneoff_spec`): named after the proc's service, labelled
    with until when it may take to start, and placed on the node of the engine lain talks to
    when that is the only engine it reaches (a local socket)."""
    pin = here if node_engine_url(session.settings.docker_host, "node") is None else ""
    suffix = f"-oneoff-{token.token_hex(3)}"
    name = fit_name(service.name, MAX_SERVICE_NAME - len(suffix)) + suffix
    labels = {LABEL_APP: service.app, LABEL_ONEOFF: str(int(session.clock() + timeout))}
    networks = _kept_networks(session, service.app, service)
    return oneoff_spec(
        service, name, labels, command, networks=networks, stdin=stdin, tty=tty, node=pin
    )


def oneoff_spec(
    service: Service,
    name: str,
    labels: Mapping[str, str],
    command: Sequence[str] | None,
    *,
    networks: Collection[str],
    stdin: bool = False,
    tty: bool = False,
    node: str = "",
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The spec of a one-off task of ``service`` (a proc's live service), and the data dirs
    it leaves out (pure).

    ``networks``: the IDs or names of the networks it stays on (the others are left);
    ``node``: a node ID to place it on ("" for where the proc's constraints allow).
    """
    template = copy_spec(service.spec.get("TaskTemplate") or {})
    container = template.setdefault("ContainerSpec", {})
    if command:
        container["Args"] = list(command)
    container["Env"] = [_not_an_instance(item) for item in container.get("Env") or []]
    container["Healthcheck"] = {"Test": ["NONE"]}  # the image's too: nothing waits for health
    container["Labels"] = {**(container.get("Labels") or {}), **labels}
    container["OpenStdin"], container["TTY"] = stdin, tty
    kept, unmounted = [], []
    for mount in container.get("Mounts") or []:
        if SLOT_TEMPLATE in str(mount.get("Source") or ""):
            unmounted.append(str(mount.get("Target", "")))
        else:
            kept.append(mount)
    container["Mounts"] = kept
    template["Networks"] = [
        {"Target": n["Target"]}
        for n in template.get("Networks") or []
        if n.get("Target") in networks
    ]
    placement = template.setdefault("Placement", {})
    constraints = [c for c in placement.get("Constraints") or [] if not _is_data(c)]
    placement["Constraints"] = constraints + ([f"node.id=={node}"] if node else [])
    template["RestartPolicy"] = {"Condition": "none"}
    template.pop("ForceUpdate", None)
    spec = {
        "Name": name,
        "Labels": dict(labels),
        "TaskTemplate": template,
        "Mode": service_mode(1, job=True),
        "EndpointSpec": {"Mode": "dnsrr"},
    }
    return spec, tuple(sorted(unmounted))


def remove_stale_oneoffs(cluster: Cluster, app: str, *, every: bool = False) -> list[str]:
    """Remove ``app``'s one-off services left behind: those whose task does not run and whose
    time to start is over (``every``: all of them, running or not); the names of those
    removed.  Two engine calls when there are one-offs, one otherwise."""
    with cluster.errors(f"list the one-off tasks of {app}"):
        found = cluster.api.services(filters={"label": [f"{LABEL_APP}={app}", LABEL_ONEOFF]})
    oneoffs = [s for s in map(Service.from_engine, found) if s.app == app and s.label(LABEL_ONEOFF)]
    if not oneoffs:
        return []
    running: set[str] = set()
    if not every:
        tasks = tasks_of(cluster, [s.id for s in oneoffs], f"list the one-off tasks of {app}")
        running = {t.service_id for t in tasks if t.state not in ENDED_STATES}
    now = cluster.clock()
    removed = []
    for oneoff in oneoffs:
        until = oneoff.label(LABEL_ONEOFF)
        over = not until.isdigit() or float(until) + STALE_MARGIN < now
        if every or (over and oneoff.id not in running):
            remove_service(cluster, oneoff.id, oneoff.name)
            removed.append(oneoff.name)
    return removed


# -- helpers ------------------------------------------------------------------------------------


def _command(command: Sequence[str] | None) -> list[str] | None:
    if command is None:
        return None
    if isinstance(command, str) or not all(isinstance(c, str) for c in command):
        raise InvalidArgument(f"command must be a list of strings, not {command!r}")
    return list(command) or None


def _not_an_instance(item: str) -> str:
    """``LAIN_INSTANCE_NO`` (and v2's name for it) as ``0``: a one-off is no instance."""
    key, _, value = item.partition("=")
    return f"{key}=0" if key in _INSTANCE_VARIABLES and SLOT_TEMPLATE in value else item


def _is_data(constraint: str) -> bool:
    parsed = parse_constraint(str(constraint))
    return parsed is not None and parsed.is_data


def _kept_networks(cluster: Cluster, app: str, service: Service) -> set[str]:
    """The IDs and names of the networks a one-off of ``service`` joins: the app's, and the
    link networks to the apps it uses (not the router's, nor those where it serves others)."""
    providers = [
        k[len(USE_LABEL_PREFIX) :] for k in service.labels if k.startswith(USE_LABEL_PREFIX)
    ]
    wanted = {network_name(app), *(link_network_name(p, app) for p in providers)}
    with cluster.errors(f"look up the networks of {app}"):
        found = cluster.api.networks(names=sorted(wanted))
    kept: set[str] = set()
    for network in found:
        if network.get("Name") in wanted:
            kept.update({str(network.get("Id", "")), str(network["Name"])})
    return kept


def _create_args(spec: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "task_template": spec["TaskTemplate"],
        "name": spec["Name"],
        "labels": spec["Labels"],
        "mode": spec["Mode"],
        "endpoint_spec": spec["EndpointSpec"],
    }


def _current_task(cluster: Cluster, service_id: str, what: str) -> Task | None:
    tasks = tasks_of(cluster, [service_id], what)
    return max(tasks, key=lambda t: t.created_at) if tasks else None


def _wait_started(cluster: Cluster, service_id: str, what: str, timeout: float) -> Task:
    """The task once its container runs (or has already run to its end)."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = _current_task(cluster, service_id, what) or last
        if last is not None and last.container_id and last.state in ("running", "complete"):
            return last
        if last is not None and last.state in ENDED_STATES:
            if last.exit_code is not None and last.error.startswith(_NON_ZERO_EXIT):
                return last
            raise ClusterError(f"could not {what}: its task {last.state}: {last.describe_error()}")
        if time.monotonic() >= deadline:
            state = f"{last.state}: {last.error or last.message}" if last else "not scheduled"
            raise LainTimeout(
                f"could not {what}: its task did not start within {timeout:g} s (last state: "
                f"{state}); can a node run it and pull its image? give a slow pull a longer "
                "timeout"
            )
        time.sleep(min(cluster.poll_interval, 0.2))


def _exit_status(task: Task, service: str) -> int:
    if task.state == "complete":
        return task.exit_code or 0
    if task.exit_code is not None and task.error.startswith(_NON_ZERO_EXIT):
        return task.exit_code
    raise ClusterError(f"{service} did not run its command to the end: {task.describe_error()}")


def _task_engine(
    cluster: Cluster, task: Task, here: str, what: str
) -> tuple[EngineClient, bool, str]:
    """The engine of the task's node (whether it was opened for this), and the node's name."""
    with cluster.errors(f"inspect node {task.node_id}"):
        node = Node.from_engine(cluster.api.inspect_node(task.node_id))
    if task.node_id == here:
        return cluster.engine, False, node.hostname
    where = f"its task runs on node {node.hostname} ({node.address})"
    try:
        engine = cluster.node_engine(node.address)
    except EngineError as e:
        raise ClusterError(f"could not {what}: {where}, whose engine did not answer ({e})") from e
    if engine is None:
        raise ClusterError(f"could not {what}: {where}, whose engine lain cannot reach")
    return engine, True, node.hostname


def _attach(engine: EngineClient, container: str, *, stdin: bool, tty: bool) -> dict[str, Any]:
    """The streams of the task's container: its log followed from the start, or with
    ``stdin`` an attachment (which the engine gives only what is printed from then on) and
    what it printed before."""
    api = engine.api
    if not stdin:
        return {"stream": FollowedLogs(api, container)}

    def resize(rows: int, columns: int) -> None:
        with engine_errors(api, f"resize the terminal of {container[:12]}"):
            api.resize(container, height=rows, width=columns)

    params = {"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
    with engine_errors(api, f"attach to container {container[:12]}"):
        sock = without_timeout(api.attach_socket(container, params))
        try:
            earlier = [("stdout", api.logs(container, stdout=True, stderr=False))]
            earlier.append(("stderr", api.logs(container, stdout=False, stderr=True)))
        except BaseException:
            sock.close()
            raise
    return {"connection": sock, "resizer": resize, "earlier": tuple(e for e in earlier if e[1])}


class FollowedLogs:
    """A container's stdout and stderr from its start until it stops, as the (stdout, stderr)
    chunks of an :class:`~lain_sdk.cluster.attach.OutputStream`: two followed log streams
    (the docker SDK tells them apart only that way), read by threads."""

    def __init__(self, api: Any, container: str) -> None:
        self._api, self._doing = api, f"read the output of container {container[:12]}"
        self._feed: queue.Queue[tuple[int, bytes | BaseException | None]] = queue.Queue()
        self._streams = []
        with engine_errors(api, self._doing):
            for out in (True, False):
                self._streams.append(
                    api.logs(container, stdout=out, stderr=not out, stream=True, follow=True)
                )
        for index, stream in enumerate(self._streams):
            threading.Thread(target=self._pump, args=(index, stream), daemon=True).start()

    def _pump(self, index: int, stream: Any) -> None:
        try:
            for chunk in stream:
                self._feed.put((index, chunk))
        except Exception as e:  # handed to the reader, which raises it
            self._feed.put((index, e))
        self._feed.put((index, None))

    def __iter__(self) -> Iterator[tuple[bytes | None, bytes | None]]:
        running = len(self._streams)
        while running:
            index, item = self._feed.get()
            if item is None:
                running -= 1
            elif isinstance(item, BaseException):
                with engine_errors(self._api, self._doing):
                    raise item
            else:
                yield (item, None) if index == 0 else (None, item)

    def close(self) -> None:
        for stream in self._streams:
            with contextlib.suppress(Exception):  # closed already, or its engine is gone
                stream.close()


def _shut(connection: Any) -> None:
    """End a stream another thread reads (closing alone would not wake that thread)."""
    if connection is not None:
        with contextlib.suppress(OSError):  # already closed
            raw_socket(connection).shutdown(socket.SHUT_RDWR)
