"""Local helpers: run one proc of a built release in a container, exec into a running instance.

:func:`run_proc` is ``docker run`` of one proc with what a deploy would give it: the container
settings come from the same desired service spec a deploy sends to Swarm (image, entrypoint,
command, user, workdir, environment with the ``LAIN_*`` variables, healthcheck, limits), with
``LAIN_INSTANCE_NO=1``.  Its port is published on an ephemeral port of 127.0.0.1.  Secret files
are copied into the container before it starts, at their paths with mode 0400; unlike on the
cluster they live in the container's own filesystem, so they go when the container is removed.
``persistent_dirs`` get named volumes of their own (the deploy's names plus ``.run``, so a local
run never shares data with a deployed instance on the same engine); they outlive the container,
so what a proc keeps there is found again by the next ``lain run``.

:func:`exec_in_instance` runs a command in a running instance of a deployed proc, on the engine
of the node that runs it: the engine lain talks to when the instance is there, else the node's
engine reached the way the cluster's is (same ssh user or same TLS port and certificates).

Both can attach standard input and a terminal (``stdin``, ``tty``); the command's streams are
then an :class:`Attachment` that takes input and follows the size of the caller's terminal.
"""

from __future__ import annotations

import io
import socket
import tarfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from lain_sdk.cluster.desired import desired_state, fit_name
from lain_sdk.cluster.engine_calls import engine_errors, is_not_found, unless_missing
from lain_sdk.cluster.secrets import SECRET_MODE, secret_owner
from lain_sdk.errors import ClusterError, EngineError, NotFound

if TYPE_CHECKING:
    from lain_sdk.appconfig.model import AppConfig
    from lain_sdk.settings import ClusterSettings

LABEL_RUN = "lain.run"  # on containers `lain run` makes
SLOT_TEMPLATE = "{{.Task.Slot}}"
NODE_CONNECT_TIMEOUT = 15


# -- lain run ----------------------------------------------------------------------------------


@dataclass(kw_only=True)
class Attachment:
    """The streams of a command in a container: read :meth:`output` until it ends.

    Attached with stdin, it also takes input: :meth:`send` it, then :meth:`close_input` (the
    command sees end of file).  With ``tty`` the command has a terminal: its output comes as
    one stream and :meth:`resize` sets the terminal's size.
    """

    tty: bool = False
    _stream: Any = field(default=None, repr=False)  # demultiplexed (stdout, stderr) chunks
    _socket: Any = field(default=None, repr=False)  # the raw connection, when attached with stdin
    _resize: Any = field(default=None, repr=False)  # (rows, columns) -> None

    def output(self) -> Iterator[tuple[str, bytes]]:
        """The command's output as ``("stdout"|"stderr", bytes)`` until it ends."""
        if self._socket is not None:
            from docker.utils.socket import STDERR, frames_iter

            for stream, data in frames_iter(self._socket, self.tty):
                yield ("stderr" if stream == STDERR else "stdout"), data
            return
        for out, err in self._stream or ():
            if out:
                yield "stdout", out
            if err:
                yield "stderr", err

    def send(self, data: bytes) -> None:
        """Write ``data`` to the command's standard input."""
        _raw_socket(self._input_socket()).sendall(data)

    def close_input(self) -> None:
        """End the command's standard input; its output can still be read."""
        raw = _raw_socket(self._input_socket())
        try:
            if hasattr(raw, "shutdown_write"):  # a paramiko channel (ssh://)
                raw.shutdown_write()
            else:
                raw.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the command has ended already

    def resize(self, rows: int, columns: int) -> None:
        """Set the size of the command's terminal (attached with ``tty``)."""
        if self._resize is not None:
            self._resize(rows, columns)

    def close(self) -> None:
        """Close the connection to the engine (the command may still be running)."""
        for connection in (self._socket, self._stream):
            if connection is not None:
                connection.close()

    def _input_socket(self) -> Any:
        if self._socket is None:
            raise ValueError("attached without stdin")
        return self._socket


def _interactive(sock: Any) -> Any:
    """``sock`` without the client's timeout, which would otherwise end a session whose input
    waits longer than that for a command to read it (the docker SDK lifts the timeout for its
    output streams, not for the raw sockets it hands out)."""
    for layer in (sock, getattr(sock, "_sock", None)):
        if hasattr(layer, "settimeout"):
            layer.settimeout(None)
    return sock


def _raw_socket(sock: Any) -> Any:
    # The docker SDK hands back a SocketIO over the unix or TCP socket (whose socket is its
    # private ``_sock``), the socket itself for TLS, or a paramiko channel for ssh://.
    return getattr(sock, "_sock", sock)


@dataclass(frozen=True)
class RunResult:
    """A container ``run_proc`` started.

    Attributes:
        app: the app.
        proc: the proc.
        container: the container's ID.
        name: the container's name.
        image: the image it runs.
        address: ``127.0.0.1:PORT`` of the proc's published port ("" when it has none).
        secret_files: the paths of the secret files put in it.
        volumes: the named volumes mounted at its persistent dirs, as ``name:path``.
    """

    app: str
    proc: str
    container: str
    name: str
    image: str
    address: str = ""
    secret_files: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    # With ``follow``: its streams, attached before the start so nothing is missed.
    attached: Attachment | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "proc": self.proc,
            "container": self.container,
            "name": self.name,
            "image": self.image,
            "address": self.address,
            "secret_files": list(self.secret_files),
            "volumes": list(self.volumes),
        }


def container_name(app: str, proctype: str, proc: str) -> str:
    """The container of ``lain run``: ``<app>.<type>.<proc>``, as lain v2 named it."""
    return f"{app}.{proctype}.{proc}"


def local_release_image(client: Any, app: str, meta_version: str, registry: str = "") -> str:
    """The release image of ``meta_version`` on the local engine: ``<app>:release-<mv>`` as
    ``lain build`` tags it, else ``<registry>/<app>:release-<mv>`` when pulled or pushed.

    Raises:
        NotFound: neither is there; the message lists the release versions that are.
    """
    from lain_sdk.images.naming import image_tag, parse_tag

    candidates = [image_tag(app, "release", meta_version)]
    if registry:
        candidates.append(image_tag(app, "release", meta_version, registry))
    with engine_errors(client, f"look up the release images of {app}"):
        for ref in candidates:
            try:
                client.api.inspect_image(ref)
                return ref
            except Exception as e:
                if not is_not_found(e):
                    raise
        found = client.api.images(name=app) + (
            client.api.images(name=f"{registry}/{app}") if registry else []
        )
    versions = sorted(
        {
            parsed.version
            for image in found
            for tag in image.get("RepoTags") or []
            if (parsed := parse_tag(tag)) is not None and parsed.phase == "release"
        },
        reverse=True,
    )
    listed = ", ".join(versions[:5]) or "none"
    raise NotFound(
        f"{app}:release-{meta_version} is not on this engine; build it with `lain build` "
        f"(release versions here: {listed})"
    )


def _container_settings(
    config: AppConfig, proc: str, meta_version: str, image: str, cluster: ClusterSettings
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ContainerSpec and resource limits a deploy gives ``proc`` (instance 1)."""
    found = config.proc(proc)  # NotFound names the procs there are
    state = desired_state(
        config,
        meta_version=meta_version,
        image=image,
        cluster=cluster,
        release=0,
        procs=[proc],
    )
    try:
        service = state.service(proc)
    except KeyError:
        raise NotFound(
            f"proc {proc} of {config.appname} is a {found.type} without a program of its own; "
            "it runs nothing to start"
        ) from None
    task = service.spec["TaskTemplate"]
    container = dict(task["ContainerSpec"])
    container["Env"] = [e.replace(SLOT_TEMPLATE, "1") for e in container.get("Env") or []]
    return container, dict((task.get("Resources") or {}).get("Limits") or {})


def _secret_tar(files: Mapping[str, bytes], user: str) -> bytes:
    """A tar of the secret files at their absolute paths, mode 0400.

    Only the files: directory entries would overwrite the owner and mode of directories the
    image has (such as /lain/app); missing parents are made by the engine.
    """
    uid, gid = secret_owner(user)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path, content in sorted(files.items()):
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size = len(content)
            info.mode = SECRET_MODE
            info.uid, info.gid = int(uid), int(gid)
            info.mtime = int(time.time())
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def run_proc(
    config: AppConfig,
    proc: str,
    *,
    meta_version: str,
    image: str,
    cluster: ClusterSettings,
    secret_files: Mapping[str, bytes] | None = None,
    command: Sequence[str] | None = None,
    name: str | None = None,
    replace_existing: bool = False,
    follow: bool = False,
    stdin: bool = False,
    tty: bool = False,
    docker_client: Any = None,
) -> RunResult:
    """Create and start a container running ``proc`` as a deploy would run instance 1 of it.

    Args:
        config: the app's lain.yaml, loaded.
        proc: the proc.
        meta_version: the version (``LAIN_APP_RELEASE_VERSION``).
        image: the release image on the local engine (see :func:`local_release_image`).
        cluster: the cluster whose settings give ``LAIN_DOMAIN``.
        secret_files: absolute path -> value, put in the container before it starts.
        command: run this instead of the proc's command (the entrypoint stays).
        name: the container's name (default: :func:`container_name`).
        replace_existing: remove a container of that name first (default: refuse).
        follow: attach to its output before starting it (read ``result.attached``, then
            call :func:`finish_run`).
        stdin: with ``follow``, attach its standard input too (``result.attached.send``).
        tty: give it a terminal (its stdout and stderr then come as one stream).
        docker_client: a client of the local engine (default: connect).

    Raises:
        NotFound: no such proc.
        ClusterError: a container of that name exists, or the engine refused.
    """
    from lain_sdk.engine import connect

    client = docker_client if docker_client is not None else connect()
    found = config.proc(proc)
    container, limits = _container_settings(config, proc, meta_version, image, cluster)
    name = name or container_name(config.appname, found.type, proc)
    with engine_errors(client, f"look up container {name}"):
        exists = unless_missing(client.api.inspect_container, name)
    if exists:
        if not replace_existing:
            raise ClusterError(
                f"a container called {name} exists already (an earlier `lain run`?); remove "
                f"it with `docker rm -f {name}`, or pass --replace"
            )
        with engine_errors(client, f"remove container {name}"):
            client.api.remove_container(name, force=True, v=True)

    ports = [(found.port.port, found.port.protocol)] if found.port else []
    mounts = _run_volumes(container.get("Mounts") or [])
    api = client.api
    with engine_errors(client, f"create container {name} from {image}"):
        host_config = api.create_host_config(
            port_bindings={f"{p}/{proto}": ("127.0.0.1", None) for p, proto in ports},
            mem_limit=limits.get("MemoryBytes"),
            nano_cpus=limits.get("NanoCPUs"),
            mounts=mounts or None,
        )
        labels = {**(container.get("Labels") or {}), LABEL_RUN: "1"}
        created = api.create_container(
            image,
            command=list(command) if command else container.get("Args"),
            entrypoint=container.get("Command"),
            environment=container.get("Env"),
            user=container.get("User") or None,
            working_dir=container.get("Dir") or None,
            labels=labels,
            ports=ports or None,
            healthcheck=container.get("Healthcheck"),
            host_config=host_config,
            name=name,
            # Not "detached" when stdin is attached: that sets StdinOnce, so the end of our
            # input is the end of the container's (as with docker run -i).
            detach=not (follow and stdin),
            stdin_open=follow and stdin,
            tty=tty,
        )
    container_id = str(created["Id"])
    files = dict(secret_files or {})
    attached = None
    try:
        with engine_errors(client, f"start container {name}"):
            if files:
                api.put_archive(container_id, "/", _secret_tar(files, found.user))
            if follow:
                # Attached after the start, a quick command may have ended already: the
                # stream of a stopped container never ends.
                attached = _attach_before_start(api, container_id, stdin=stdin, tty=tty)
            api.start(container_id)
            info = api.inspect_container(container_id)
    except Exception:
        _remove_quietly(client, container_id)
        raise
    address = ""
    for port, proto in ports:
        bound = ((info.get("NetworkSettings") or {}).get("Ports") or {}).get(f"{port}/{proto}")
        if bound:
            address = f"127.0.0.1:{bound[0]['HostPort']}"
            break
    return RunResult(
        config.appname,
        proc,
        container_id,
        name,
        image,
        address,
        tuple(sorted(files)),
        tuple(f"{m['Source']}:{m['Target']}" for m in mounts),
        attached,
    )


def _run_volumes(service_mounts: Sequence[Mapping[str, Any]]) -> list[Any]:
    """The deploy's volume mounts, renamed for a local run and labelled as its own."""
    from docker.types import Mount

    mounts = []
    for mount in service_mounts:
        labels = dict((mount.get("VolumeOptions") or {}).get("Labels") or {})
        mounts.append(
            Mount(
                target=mount["Target"],
                source=fit_name(f"{mount['Source']}.run", 255),
                type="volume",
                labels={**labels, LABEL_RUN: "1"},
            )
        )
    return mounts


def _attach_before_start(api: Any, container_id: str, *, stdin: bool, tty: bool) -> Attachment:
    def resize(rows: int, columns: int) -> None:
        with engine_errors(api, f"resize the terminal of {container_id[:12]}"):
            api.resize(container_id, height=rows, width=columns)

    if not (stdin or tty):
        stream = api.attach(container_id, stream=True, logs=True, demux=True)
        return Attachment(_stream=stream)
    params = {"stdin": int(stdin), "stdout": 1, "stderr": 1, "stream": 1, "logs": 1}
    sock = _interactive(api.attach_socket(container_id, params))
    return Attachment(tty=tty, _socket=sock, _resize=resize)


def _remove_quietly(client: Any, container_id: str) -> None:
    try:
        client.api.remove_container(container_id, force=True, v=True)
    except Exception:  # noqa: BLE001 - cleaning up after the error being reported
        pass


def finish_run(client: Any, container_id: str, remove: bool, timeout: float = 30.0) -> int:
    """Wait for a container whose output has ended, then (``remove``) remove it; its exit
    status."""
    with engine_errors(client, f"wait for container {container_id[:12]}"):
        code = int(client.api.wait(container_id, timeout=timeout).get("StatusCode", 1))
        if remove:
            client.api.remove_container(container_id, force=True, v=True)
    return code


def stop_run(client: Any, container_id: str, remove: bool) -> None:
    """Stop (and remove) a container ``lain run`` started, e.g. on Ctrl-C."""
    with engine_errors(client, f"stop container {container_id[:12]}"):
        if remove:
            client.api.remove_container(container_id, force=True, v=True)
        else:
            client.api.stop(container_id, timeout=10)


# -- lain exec ---------------------------------------------------------------------------------


def node_engine_url(docker_host: str | None, node_address: str) -> str | None:
    """The engine of another node, reached the way the cluster's manager is: the same ssh user
    and port, or the same TCP port (and TLS certificates); None for a local socket.

    Example:
        >>> node_engine_url("ssh://deploy@manager1", "10.0.0.7")
        'ssh://deploy@10.0.0.7'
    """
    if not docker_host or not node_address:
        return None
    parts = urlsplit(docker_host)
    if parts.scheme not in ("ssh", "tcp"):
        return None
    user = f"{parts.username}@" if parts.username else ""
    port = f":{parts.port}" if parts.port else ""
    host = f"[{node_address}]" if ":" in node_address else node_address
    return urlunsplit((parts.scheme, f"{user}{host}{port}", parts.path, "", ""))


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


def pick_instance(
    app: str, proc: str, tasks: Sequence[Mapping[str, Any]], instance: int | None
) -> Instance:
    """The running task of instance ``instance`` (default: the lowest running one).

    Raises:
        NotFound: no such instance runs; the message lists the running ones.
    """
    running: dict[int, Mapping[str, Any]] = {}
    for task in tasks:
        status = task.get("Status") or {}
        if task.get("DesiredState") != "running" or status.get("State") != "running":
            continue
        if not (status.get("ContainerStatus") or {}).get("ContainerID"):
            continue
        slot = int(task.get("Slot") or 0)
        # During a rolling update two tasks share a slot: the newest is the instance's future.
        if slot not in running or str(task.get("CreatedAt", "")) > str(
            running[slot].get("CreatedAt", "")
        ):
            running[slot] = task
    if not running:
        raise NotFound(f"no instance of {app} {proc} is running; see `lain ps -a {app}`")
    slot = instance if instance is not None else min(running)
    if slot not in running:
        listed = ", ".join(str(s) for s in sorted(running))
        raise NotFound(f"instance {slot} of {app} {proc} is not running (running: {listed})")
    task = running[slot]
    status = task.get("Status") or {}
    return Instance(
        app=app,
        proc=proc,
        instance=slot,
        task=str(task.get("ID", "")),
        container=str((status.get("ContainerStatus") or {}).get("ContainerID")),
        node_id=str(task.get("NodeID", "")),
    )


@dataclass(kw_only=True)
class ExecSession(Attachment):
    """A command started in an instance: read :meth:`output`, then :meth:`exit_code`."""

    instance: Instance
    exec_id: str
    engine: Any = field(repr=False)

    def exit_code(self, timeout: float = 5.0) -> int:
        """The command's exit status, once its output has ended.

        The engine records the status a moment after the output ends, so this waits up to
        ``timeout`` seconds for it; 1 when none was recorded by then.
        """
        deadline = time.monotonic() + timeout
        while True:
            with engine_errors(self.engine, f"read the exit status of {self.exec_id[:12]}"):
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
    cluster: ClusterSettings,
    instance: int | None = None,
    stdin: bool = False,
    tty: bool = False,
    docker_client: Any = None,
) -> ExecSession:
    """Start ``command`` in a running instance of a deployed proc.

    Args:
        app: the app.
        proc: the proc.
        command: the command and its arguments (no shell: give ``sh -c '...'`` for one).
        cluster: the cluster.
        instance: the instance number (default: the lowest running one).
        stdin: keep the command's standard input open, for :meth:`ExecSession.send`.
        tty: give the command a terminal (its stdout and stderr then come as one stream).
        docker_client: a docker client for the cluster's manager (default: connect).

    Raises:
        NotFound: the proc is not deployed, or the instance is not running.
        ClusterError: the instance runs on a node whose engine lain cannot reach (the message
            names the node, and the container to exec into there).
    """
    from lain_sdk.cluster import swarm
    from lain_sdk.cluster.operations import deployed_procs, engine_for

    if not command:
        raise ValueError("give the command to run")
    client = engine_for(cluster, docker_client)
    live = swarm.app_services(client, app)
    deployed_procs(live, [proc], app, cluster)
    with engine_errors(client, f"list the instances of {app} {proc}"):
        tasks = client.api.tasks(filters={"service": str(live[proc]["ID"])})
        here = str(((client.api.info() or {}).get("Swarm") or {}).get("NodeID", ""))
    chosen = pick_instance(app, proc, tasks, instance)
    engine = client
    if chosen.node_id != here:
        engine, chosen = _node_engine(client, cluster, chosen)
    with engine_errors(engine, f"exec in {app} {proc}.{chosen.instance}"):
        exec_id = engine.api.exec_create(
            chosen.container, list(command), stdout=True, stderr=True, stdin=stdin, tty=tty
        )["Id"]
        if stdin or tty:
            streams: dict[str, Any] = {
                "_socket": _interactive(engine.api.exec_start(exec_id, socket=True, tty=tty))
            }
        else:
            streams = {"_stream": engine.api.exec_start(exec_id, stream=True, demux=True)}

    def resize(rows: int, columns: int) -> None:
        with engine_errors(engine, f"resize the terminal of {exec_id[:12]}"):
            engine.api.exec_resize(exec_id, height=rows, width=columns)

    return ExecSession(
        instance=chosen, exec_id=str(exec_id), engine=engine, tty=tty, _resize=resize, **streams
    )


def _node_engine(client: Any, cluster: ClusterSettings, chosen: Instance) -> tuple[Any, Instance]:
    from lain_sdk.engine import connect

    with engine_errors(client, f"inspect node {chosen.node_id}"):
        node = client.api.inspect_node(chosen.node_id)
    hostname = str((node.get("Description") or {}).get("Hostname", chosen.node_id[:12]))
    address = str((node.get("Status") or {}).get("Addr", ""))
    chosen = replace(chosen, node=hostname, node_address=address)
    where = f"instance {chosen.instance} of {chosen.app} {chosen.proc} runs on node {hostname}"
    where += f" ({address})" if address else ""
    fallback = f"run `docker exec {chosen.container[:12]} ...` on that node"
    url = node_engine_url(cluster.docker_host, address)
    if url is None:
        raise ClusterError(
            f"{where}, and lain reaches only the engine of cluster {cluster.name}; {fallback}"
        )
    try:
        if cluster.tls_cert_path and url.startswith("tcp://"):
            environ = {
                "DOCKER_HOST": url,
                "DOCKER_TLS_VERIFY": "1",
                "DOCKER_CERT_PATH": cluster.tls_cert_path,
            }
            engine = connect(None, timeout=NODE_CONNECT_TIMEOUT, environ=environ)
        else:
            engine = connect(url, timeout=NODE_CONNECT_TIMEOUT)
    except EngineError as e:
        raise ClusterError(
            f"{where}, whose engine at {url} did not answer ({e}); {fallback}"
        ) from e
    return engine, chosen
