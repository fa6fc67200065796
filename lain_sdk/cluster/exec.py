"""Running a command in a running instance of a deployed proc.

The command runs on the engine of the node that runs the instance: the engine lain talks to when
the instance is there, else the node's engine reached the way the cluster's is (same ssh user or
same TLS port and certificates, see :meth:`~lain_sdk.cluster.session.Cluster.node_engine`).  It
can attach standard input and a terminal; its streams are an
:class:`~lain_sdk.cluster.attach.Attachment`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import lain_sdk.arguments as arguments
from lain_sdk.cluster.attach import Attachment, without_timeout
from lain_sdk.cluster.engine_calls import engine_errors
from lain_sdk.cluster.session import Cluster, ClusterLike
from lain_sdk.cluster.swarm import app_services, deployed_procs, tasks_of
from lain_sdk.cluster.views import Node, Task
from lain_sdk.engine import EngineClient
from lain_sdk.errors import ClusterError, EngineError, InvalidArgument, NotFound


@dataclass(frozen=True)
class Instance:
    """A running instance of a proc: its task, container and node."""

    app: str
    proc: str
    instance: int
    task: str
    container: str
    node_id: str
    node: str = ""
    node_address: str = ""


def pick_instance(app: str, proc: str, tasks: Sequence[Task], instance: int | None) -> Instance:
    """The running task of instance ``instance`` (default: the lowest running one).

    Raises:
        NotFound: no such instance runs; the message lists the running ones.
    """
    running: dict[int, Task] = {}
    for task in tasks:
        if task.desired_state != "running" or task.state != "running" or not task.container_id:
            continue
        # During a rolling update two tasks share a slot: the newest is the instance's future.
        if task.slot not in running or task.created_at > running[task.slot].created_at:
            running[task.slot] = task
    if not running:
        raise NotFound(f"no instance of {app} {proc} is running")
    slot = instance if instance is not None else min(running)
    if slot not in running:
        listed = ", ".join(str(s) for s in sorted(running))
        raise NotFound(f"instance {slot} of {app} {proc} is not running (running: {listed})")
    task = running[slot]
    return Instance(app, proc, slot, task.id, task.container_id, task.node_id)


@dataclass(kw_only=True)
class ExecSession(Attachment):
    """A command started in an instance: read :meth:`output`, then :meth:`exit_code`."""

    instance: Instance
    exec_id: str
    engine: EngineClient = field(repr=False)

    def exit_code(self, timeout: float = 5.0) -> int:
        """The command's exit status, once its output has ended.

        The engine records the status a moment after the output ends, so this waits up to
        ``timeout`` seconds for it; 1 when none was recorded by then.
        """
        deadline = time.monotonic() + timeout
        while True:
            with engine_errors(self.engine.api, f"read the exit status of {self.exec_id[:12]}"):
                info = self.engine.api.exec_inspect(self.exec_id)
            if not info.get("Running") or time.monotonic() > deadline:
                code = info.get("ExitCode")
                return int(code) if code is not None else 1
            time.sleep(0.05)


def exec_in_instance(
    app: str,
    proc: str,
    command: Sequence[str],
    *,
    cluster: ClusterLike,
    instance: int | None = None,
    stdin: bool = False,
    tty: bool = False,
) -> ExecSession:
    """Start ``command`` in a running instance of a deployed proc.

    Args:
        app: the app.
        proc: the proc.
        command: the command and its arguments (no shell: give ``sh -c '...'`` for one).
        cluster: the cluster (a session, its settings, or its name).
        instance: the instance number (default: the lowest running one).
        stdin: keep the command's standard input open, for :meth:`ExecSession.send`.
        tty: give the command a terminal (its stdout and stderr then come as one stream).

    Raises:
        InvalidArgument: no command, or an argument of the wrong kind.
        NotFound: the proc is not deployed, or the instance is not running.
        ClusterError: the instance runs on a node whose engine lain cannot reach (the message
            names the node, and the container to exec into there).
    """
    app, proc = arguments.app_name(app), arguments.proc_name(proc)
    if isinstance(command, str) or not command or not all(isinstance(c, str) for c in command):
        raise InvalidArgument(f"command must be a non-empty list of strings, not {command!r}")
    if instance is not None:
        arguments.whole(instance, "instance", minimum=1)
    session = Cluster.of(cluster)
    live = app_services(session, app)
    deployed_procs(live, [proc], app, session.name)
    tasks = tasks_of(session, [live[proc].id], f"list the instances of {app} {proc}")
    with session.errors("read which node the engine is"):
        here = str(((session.api.info() or {}).get("Swarm") or {}).get("NodeID", ""))
    chosen = pick_instance(app, proc, tasks, instance)
    engine = session.engine
    if chosen.node_id != here:
        engine, chosen = _node_engine(session, chosen)
    return _start(engine, chosen, list(command), stdin=stdin, tty=tty)


def _start(
    engine: EngineClient, chosen: Instance, command: list[str], *, stdin: bool, tty: bool
) -> ExecSession:
    api = engine.api
    with engine_errors(api, f"exec in {chosen.app} {chosen.proc}.{chosen.instance}"):
        exec_id = str(
            api.exec_create(
                chosen.container, command, stdout=True, stderr=True, stdin=stdin, tty=tty
            )["Id"]
        )
        if stdin or tty:
            streams: dict[str, Any] = {
                "connection": without_timeout(api.exec_start(exec_id, socket=True, tty=tty))
            }
        else:
            streams = {"stream": api.exec_start(exec_id, stream=True, demux=True)}

    def resize(rows: int, columns: int) -> None:
        with engine_errors(api, f"resize the terminal of {exec_id[:12]}"):
            api.exec_resize(exec_id, height=rows, width=columns)

    return ExecSession(
        instance=chosen, exec_id=exec_id, engine=engine, tty=tty, resizer=resize, **streams
    )


def _node_engine(cluster: Cluster, chosen: Instance) -> tuple[EngineClient, Instance]:
    with cluster.errors(f"inspect node {chosen.node_id}"):
        node = Node.from_engine(cluster.api.inspect_node(chosen.node_id))
    chosen = replace(chosen, node=node.hostname, node_address=node.address)
    where = f"instance {chosen.instance} of {chosen.app} {chosen.proc} runs on node {node.hostname}"
    where += f" ({node.address})" if node.address else ""
    fallback = f"exec into container {chosen.container[:12]} on that node"
    try:
        engine = cluster.node_engine(node.address)
    except EngineError as e:
        raise ClusterError(f"{where}, whose engine did not answer ({e}); {fallback}") from e
    if engine is None:
        raise ClusterError(
            f"{where}, and lain reaches only the engine of cluster {cluster.name}; {fallback}"
        )
    return engine, chosen
