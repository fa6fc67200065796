"""Running one proc of a built release in a local container, as a deploy would run it.

:func:`run_proc` is ``docker run`` of one proc with what a deploy would give it: the container
settings come from the same desired service spec a deploy sends to Swarm (image, entrypoint,
command, user, workdir, environment with the ``LAIN_*`` variables, healthcheck, limits), with
``LAIN_INSTANCE_NO=1``.  Its port is published on an ephemeral port of 127.0.0.1.  Secret files
are mounted as a deploy mounts them, read-only at their paths with mode 0400, never in the
container's writable layer: each is written to a private directory in memory (a tmpfs:
``$XDG_RUNTIME_DIR``, else ``/dev/shm``), bind-mounted, and deleted from there as soon as the
container has started, so once it stops nothing holds the value (``docker cp`` finds nothing).
``persistent_dirs`` get named volumes of their own (the deploy's names plus ``.run``, so a local
run never shares data with a deployed instance on the same engine); they outlive the container,
so what a proc keeps there is found again by the next run.

The engine is the local one, where the release was built (:func:`lain_sdk.engine.connect`),
and must see this machine's files for secret files to be mounted.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lain_sdk.arguments as arguments
from lain_sdk.appconfig.model import AppConfig
from lain_sdk.cluster.attach import Attachment, without_timeout
from lain_sdk.cluster.desired import desired_state
from lain_sdk.cluster.engine_calls import engine_errors, is_not_found
from lain_sdk.cluster.names import LABEL_RUN, MAX_VOLUME_NAME, fit_name
from lain_sdk.cluster.secret_store import SECRET_MODE, secret_owner
from lain_sdk.cluster.session import Cluster, ClusterLike
from lain_sdk.cluster.spec import SLOT_TEMPLATE
from lain_sdk.engine import EngineClient, connect
from lain_sdk.errors import ContainerExists, ImageNotFound, InvalidArgument, NotFound
from lain_sdk.git import short_version
from lain_sdk.images.naming import image_tag, parse_tag
from lain_sdk.protocols import EngineAPI
from lain_sdk.settings import ClusterSettings

# A tmpfs on every Linux host: where secret files wait for their container when there is no
# XDG_RUNTIME_DIR.
SHARED_MEMORY = "/dev/shm"


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
        replaced: the state of the container of an earlier run it replaced (``exited``,
            ``created``, ...; ``running`` only when asked to replace one that ran), or "".
    """

    app: str
    proc: str
    container: str
    name: str
    image: str
    address: str = ""
    secret_files: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    replaced: str = ""
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
            "replaced": self.replaced or None,
        }


def container_name(app: str, proctype: str, proc: str) -> str:
    """The container of ``lain run``: ``<app>.<type>.<proc>``, as lain v2 named it."""
    return f"{app}.{proctype}.{proc}"


def local_release_image(
    engine: EngineClient, app: str, meta_version: str, registry: str = ""
) -> str:
    """The release image of ``meta_version`` on the local engine: ``<app>:release-<mv>`` as
    ``lain build`` tags it, else ``<registry>/<app>:release-<mv>`` when pulled or pushed.

    Raises:
        NotFound: neither is there; the message lists the release versions that are.
    """
    candidates = [image_tag(app, "release", meta_version)]
    if registry:
        candidates.append(image_tag(app, "release", meta_version, registry))
    api = engine.api
    with engine_errors(api, f"look up the release images of {app}"):
        for ref in candidates:
            try:
                api.inspect_image(ref)
                return ref
            except Exception as e:
                if not is_not_found(e):
                    raise
        found = api.images(name=app) + (api.images(name=f"{registry}/{app}") if registry else [])
    versions = sorted(
        {
            parsed.version
            for image in found
            for tag in image.get("RepoTags") or []
            if (parsed := parse_tag(tag)) is not None and parsed.phase == "release"
        },
        reverse=True,
    )
    shown = [short_version(v) for v in versions]
    raise ImageNotFound(app, f"{app}:release-{meta_version}", versions, shown=shown)


def _container_settings(
    config: AppConfig,
    proc: str,
    meta_version: str,
    image: str,
    cluster: ClusterSettings,
    config_vars: Mapping[str, str],
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
        config_vars={proc: config_vars},
        config_version=1 if config_vars else 0,
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


def secret_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where a run's secret files are written before they are mounted: memory, never disk."""
    env = os.environ if environ is None else environ
    runtime = env.get("XDG_RUNTIME_DIR", "")
    return Path(runtime) if runtime and os.path.isdir(runtime) else Path(SHARED_MEMORY)


@contextlib.contextmanager
def _secrets_in_memory(files: Mapping[str, bytes], user: str) -> Iterator[list[Any]]:
    """The bind mounts of the secret files, which exist outside the container only for the
    block (the container's creation and start): they are deleted when it ends, however."""
    if not files:
        yield []
        return
    holder = Path(tempfile.mkdtemp(prefix="lain-run-", dir=secret_dir()))
    try:
        yield _secret_mounts(files, user, holder)
    finally:
        shutil.rmtree(holder, ignore_errors=True)


def _secret_mounts(files: Mapping[str, bytes], user: str, where: Path) -> list[Any]:
    """Write the secret files into ``where`` (0400, owned by the proc's user where this process
    may give them away) and return their read-only bind mounts."""
    from docker.types import Mount

    uid, gid = secret_owner(user)
    mounts = []
    for index, (path, content) in enumerate(sorted(files.items())):
        source = where / f"secret-{index}"
        descriptor = os.open(source, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SECRET_MODE)
        with os.fdopen(descriptor, "wb") as f:
            f.write(content)
        with contextlib.suppress(PermissionError):  # not root: the files stay ours
            os.chown(source, int(uid), int(gid))
        mounts.append(Mount(target=path, source=str(source), type="bind", read_only=True))
    return mounts


def run_proc(
    config: AppConfig,
    proc: str,
    *,
    meta_version: str,
    image: str,
    cluster: ClusterLike,
    secret_files: Mapping[str, bytes] | None = None,
    config_vars: Mapping[str, str] | None = None,
    command: Sequence[str] | None = None,
    name: str | None = None,
    replace_existing: bool = False,
    follow: bool = False,
    stdin: bool = False,
    tty: bool = False,
    engine: EngineClient | None = None,
) -> RunResult:
    """Create and start a container running ``proc`` as a deploy would run instance 1 of it.

    Args:
        config: the app's lain.yaml, loaded.
        proc: the proc.
        meta_version: the version (``LAIN_APP_RELEASE_VERSION``).
        image: the release image on the local engine (see :func:`local_release_image`).
        cluster: the cluster whose settings give ``LAIN_DOMAIN`` (a session, its settings, or
            its name).
        secret_files: absolute path -> value, mounted read-only (mode 0400, owned by the
            proc's numeric user) from memory, never written into the container.
        config_vars: the app's config vars merged for ``proc`` (see
            :func:`lain_sdk.cluster.env.proc_env`), over lain.yaml's ``env`` as in a deploy.
        command: run this instead of the proc's command (the entrypoint stays).
        name: the container's name (default: :func:`container_name`).
        replace_existing: remove a running container of that name first (default: refuse).
            One that is not running (an earlier run that ended or was stopped) is always
            replaced: it holds nothing a new run would not have again (its volumes stay).
        follow: attach to its output before starting it (read ``result.attached``, then
            call :func:`finish_run`).
        stdin: with ``follow``, attach its standard input too (``result.attached.send``).
        tty: give it a terminal (its stdout and stderr then come as one stream).
        engine: a client of the local engine (default: connect).

    Raises:
        NotFound: no such proc.
        InvalidArgument: an argument of the wrong kind.
        ContainerExists: a container of that name is running (and ``replace_existing`` is
            False).
        ClusterError: the engine refused.
    """
    if not isinstance(config, AppConfig):
        raise InvalidArgument(f"config must be an AppConfig (load_app_config), not {config!r}")
    arguments.proc_name(proc)
    if command is not None and (
        isinstance(command, str) or not all(isinstance(c, str) for c in command)
    ):
        raise InvalidArgument(f"command must be a list of strings, not {command!r}")
    settings = Cluster.of(cluster).settings
    api = (engine if engine is not None else connect()).api
    found = config.proc(proc)
    container, limits = _container_settings(
        config, proc, meta_version, image, settings, config_vars or {}
    )
    name = name or container_name(config.appname, found.type, proc)
    replaced = _clear_name(api, name, replace_existing)
    ports = [(found.port.port, found.port.protocol)] if found.port else []
    mounts = _run_volumes(container.get("Mounts") or [])
    files = dict(secret_files or {})
    with _secrets_in_memory(files, found.user) as secret_mounts:
        container_id = _create(
            api,
            image,
            name,
            container,
            limits,
            ports,
            [*mounts, *secret_mounts],
            command=command,
            stdin=follow and stdin,
            tty=tty,
        )
        info, attached = _start(api, container_id, name, follow=follow, stdin=stdin, tty=tty)
    return RunResult(
        config.appname,
        proc,
        container_id,
        name,
        image,
        _address(info, ports),
        tuple(sorted(files)),
        tuple(f"{m['Source']}:{m['Target']}" for m in mounts),
        replaced,
        attached,
    )


def _create(
    api: EngineAPI,
    image: str,
    name: str,
    container: Mapping[str, Any],
    limits: Mapping[str, Any],
    ports: Sequence[tuple[int, str]],
    mounts: Sequence[Any],
    *,
    command: Sequence[str] | None,
    stdin: bool,
    tty: bool,
) -> str:
    """Create the run's container from the deploy's ContainerSpec; its ID."""
    with engine_errors(api, f"create container {name} from {image}"):
        host_config = api.create_host_config(
            port_bindings={f"{p}/{proto}": ("127.0.0.1", None) for p, proto in ports},
            mem_limit=limits.get("MemoryBytes"),
            nano_cpus=limits.get("NanoCPUs"),
            mounts=list(mounts) or None,
        )
        created = api.create_container(
            image,
            command=list(command) if command else container.get("Args"),
            entrypoint=container.get("Command"),
            environment=container.get("Env"),
            user=container.get("User") or None,
            working_dir=container.get("Dir") or None,
            labels={**(container.get("Labels") or {}), LABEL_RUN: "1"},
            ports=list(ports) or None,
            healthcheck=container.get("Healthcheck"),
            host_config=host_config,
            name=name,
            # Not "detached" when stdin is attached: that sets StdinOnce, so the end of our
            # input is the end of the container's (as with docker run -i).
            detach=not stdin,
            stdin_open=stdin,
            tty=tty,
        )
    return str(created["Id"])


# States in which a container still runs its program: replacing it stops work in progress.
_LIVE_STATES = frozenset({"running", "paused", "restarting"})


def _clear_name(api: EngineAPI, name: str, replace_existing: bool) -> str:
    """Remove the container that has the run's name, unless it runs and ``replace_existing``
    is False; the state it was in ("" when there was none)."""
    with engine_errors(api, f"look up container {name}"):
        try:
            found = api.inspect_container(name)
        except Exception as e:
            if not is_not_found(e):
                raise
            return ""
    state = str((found.get("State") or {}).get("Status") or "unknown")
    if state in _LIVE_STATES and not replace_existing:
        raise ContainerExists(name, state)
    with engine_errors(api, f"remove container {name}"):
        api.remove_container(name, force=True, v=True)
    return state


def _start(
    api: EngineAPI,
    container_id: str,
    name: str,
    *,
    follow: bool,
    stdin: bool,
    tty: bool,
) -> tuple[Mapping[str, Any], Attachment | None]:
    """Attach (with ``follow``) and start; the container as the engine then describes it, and
    the attachment.  A container that did not start is removed."""
    attached = None
    try:
        with engine_errors(api, f"start container {name}"):
            if follow:
                # Attached after the start, a quick command may have ended already: the
                # stream of a stopped container never ends.
                attached = _attach_before_start(api, container_id, stdin=stdin, tty=tty)
            api.start(container_id)
            return api.inspect_container(container_id), attached
    except Exception:
        _remove_quietly(api, container_id)
        raise


def _address(info: Mapping[str, Any], ports: Sequence[tuple[int, str]]) -> str:
    """``127.0.0.1:PORT`` of the proc's published port ("" without one)."""
    published = (info.get("NetworkSettings") or {}).get("Ports") or {}
    for port, proto in ports:
        bound = published.get(f"{port}/{proto}")
        if bound:
            return f"127.0.0.1:{bound[0]['HostPort']}"
    return ""


def _run_volumes(service_mounts: Sequence[Mapping[str, Any]]) -> list[Any]:
    """The deploy's volume mounts, renamed for a local run and labelled as its own."""
    from docker.types import Mount

    mounts = []
    for mount in service_mounts:
        labels = dict((mount.get("VolumeOptions") or {}).get("Labels") or {})
        mounts.append(
            Mount(
                target=mount["Target"],
                source=fit_name(f"{_run_source(mount['Source'])}.run", MAX_VOLUME_NAME),
                type="volume",
                labels={**labels, LABEL_RUN: "1"},
            )
        )
    return mounts


def _run_source(source: str) -> str:
    """A deploy's volume name without the instance number a stateful proc's carries: a local
    run keeps the one volume per dir it had before instances got their own."""
    return source.replace(f"_{SLOT_TEMPLATE}", "")


def _attach_before_start(
    api: EngineAPI, container_id: str, *, stdin: bool, tty: bool
) -> Attachment:
    def resize(rows: int, columns: int) -> None:
        with engine_errors(api, f"resize the terminal of {container_id[:12]}"):
            api.resize(container_id, height=rows, width=columns)

    if not (stdin or tty):
        stream = api.attach(container_id, stream=True, logs=True, demux=True)
        return Attachment(stream=stream)
    params = {"stdin": int(stdin), "stdout": 1, "stderr": 1, "stream": 1, "logs": 1}
    sock = without_timeout(api.attach_socket(container_id, params))
    return Attachment(tty=tty, connection=sock, resizer=resize)


def _remove_quietly(api: EngineAPI, container_id: str) -> None:
    # cleaning up after the error being reported: a failure here must not hide it
    with contextlib.suppress(Exception):
        api.remove_container(container_id, force=True, v=True)


def finish_run(engine: EngineClient, container_id: str, remove: bool, timeout: float = 30.0) -> int:
    """Wait for a container whose output has ended, then (``remove``) remove it; its exit
    status."""
    api = engine.api
    with engine_errors(api, f"wait for container {container_id[:12]}"):
        code = int(api.wait(container_id, timeout=timeout).get("StatusCode", 1))
        if remove:
            api.remove_container(container_id, force=True, v=True)
    return code


def stop_run(engine: EngineClient, container_id: str, remove: bool) -> None:
    """Stop (and remove) a container ``lain run`` started, e.g. on Ctrl-C."""
    api = engine.api
    with engine_errors(api, f"stop container {container_id[:12]}"):
        if remove:
            api.remove_container(container_id, force=True, v=True)
        else:
            api.stop(container_id, timeout=10)
