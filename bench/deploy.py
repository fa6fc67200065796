"""lain deploy, scale and ps next to the docker CLI doing the same on Swarm, in one run.

    .venv/bin/python bench/deploy.py [--runs N] [--ps-runs N] [--procs N]
                                     [--part roll|scale|ps ...] [--calls] [--profile]

Everything runs on the local engine (a swarm manager) against a registry of the benchmark's
own (Debian's docker-registry on a free loopback port), through a cluster defined in a
settings file of its own (``LAIN_CONFIG``).  Two versions of a tiny app (busybox httpd with a
healthcheck) are built and pushed; a hand-made service runs the same images.

  roll   rolling a new version of a 3-instance proc, start-first, one at a time, healthcheck
         every second, monitor 3 s, no delay:
           lain deploy -v NEW  vs  docker service update --image NEW_IMAGE      (target <= 1.20x)
         on an equivalent service made with `docker service create` (its settings are
         compared with lain's service first); each alternates between the two versions.
  scale  1 to 10 instances:
           lain scale web -n 10  vs  docker service scale SERVICE=10             (target <= 1.20x)
  ps     an app of N tiny worker procs (default 20), one instance each:
           engine calls of `lain ps` (in process, and of the whole command through a counting
           proxy) next to those of `docker service ls`, and the wall time of both.

Both tools wait until converged (the docker CLI does by default, --detach=false).  Medians
of N runs, every sample printed, the order of the tools rotating each round: the machine may
be shared.  For each run the time is split with the engine's own timestamps into "lead"
(command start until Swarm starts the change), "swarm" (Swarm doing it) and "tail" (Swarm
done until the command returns).  lain runs as users run it (its console script) with
``-o json``, so the time of each progress line splits lain's lead further.
--calls also sends one more deploy and scale of each tool through the counting proxy;
--profile shows where a no-change `lain deploy` and a `lain ps` spend their time.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import (
    LAIN,
    LAIN_SHOWN,
    RUN_LABEL,
    BenchError,
    Scratch,
    median,
    profile_cli,
    registry,
    rotated,
    run,
    samples_text,
)

TARGET = 1.20
ROLL_INSTANCES = 3
SCALE_TO = 10
MONITOR_S = 3  # lain's UpdateConfig.Monitor; the hand-made service gets the same
TIMEOUT_S = 300
CHECK = "wget -q -O /dev/null http://127.0.0.1:80/index.html"
# httpd as PID 1 ignores SIGTERM: the trap makes stopping the old tasks quick for both tools.
WEB_SHELL = "trap 'exit 0' TERM; httpd -f -p 80 -h /www & wait"
WORKER_SHELL = "trap 'exit 0' TERM; sleep 86400 & wait"


# -- images ---------------------------------------------------------------------------------------


def _tar(files: dict[str, str]) -> io.BytesIO:
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        for name, text in files.items():
            raw = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(raw)
            info.mtime = 1700000000
            tar.addfile(info, io.BytesIO(raw))
    data.seek(0)
    return data


def build_push(scratch: Scratch, ref: str, files: dict[str, str]) -> None:
    """Build an image from in-memory files and push it (``ref`` is ``registry/repo:tag``)."""
    scratch.client.images.build(fileobj=_tar(files), custom_context=True, tag=ref, rm=True,
                                forcerm=True)
    repo, tag = ref.rsplit(":", 1)
    for line in scratch.client.api.push(repo, tag=tag, stream=True, decode=True):
        if isinstance(line, dict) and line.get("error"):
            raise BenchError(f"push {ref}: {line['error']}")


def push_version(scratch: Scratch, host: str, app: str, lain_yaml: str, page: str) -> str:
    """A release image (the run's base plus a page) and a meta image (only lain.yaml), pushed
    as ``lain build --push`` would; returns the meta version."""
    mv = f"{int(time.time())}-{uuid.uuid4().hex}{uuid.uuid4().hex[:8]}"
    build_push(scratch, f"{host}/{app}:release-{mv}", {
        "Dockerfile": f"FROM {scratch.base}\nCOPY index.html /www/index.html\n",
        "index.html": f"{page}\n",
    })
    build_push(scratch, f"{host}/{app}:meta-{mv}", {
        "Dockerfile": (
            f"FROM scratch\nLABEL {RUN_LABEL}={scratch.token}\nCOPY lain.yaml /lain.yaml\n"
        ),
        "lain.yaml": lain_yaml,
    })
    return mv


def web_yaml(app: str) -> str:
    return (
        f"appname: {app}\n"
        "build:\n"
        "  base: lain-local/busybox:latest\n"
        "web:\n"
        f"  cmd: {json.dumps(['sh', '-c', WEB_SHELL])}\n"
        f"  num_instances: {ROLL_INSTANCES}\n"
        "  memory: 16m\n"
        "  cpu: 1\n"
        "  container_healthcheck:\n"
        f"    cmd: {json.dumps(CHECK)}\n"
        "    options: {interval: 1, timeout: 1, retries: 1}\n"
    )


def workers_yaml(app: str, procs: int) -> str:
    text = f"appname: {app}\nbuild:\n  base: lain-local/busybox:latest\n"
    for n in range(1, procs + 1):
        text += (
            f"worker.w{n:02d}:\n"
            f"  cmd: {json.dumps(['sh', '-c', WORKER_SHELL])}\n"
            "  memory: 8m\n"
        )
    return text


# -- the engine's clock and state -----------------------------------------------------------------


def engine_seconds(stamp: str) -> float:
    from lain_sdk.cluster.engine_calls import parse_time

    return parse_time(stamp)


def service_containers(scratch: Scratch, service: str, running_only: bool) -> list[dict[str, Any]]:
    filters: dict[str, Any] = {"label": f"com.docker.swarm.service.name={service}"}
    if running_only:
        filters["status"] = "running"
    return scratch.client.api.containers(all=not running_only, filters=filters)


def settle(scratch: Scratch, service: str, replicas: int, timeout: float = 60) -> None:
    """Wait until exactly ``replicas`` containers of ``service`` run and none is stopping, so
    one run's leftovers do not slow the next."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = [c for c in service_containers(scratch, service, running_only=False)
                 if c.get("State") in ("running", "created", "restarting", "removing")]
        if len(alive) == replicas:
            return
        time.sleep(0.2)
    print(f"  warning: {service} did not settle at {replicas} containers", file=sys.stderr)


# -- timed commands -------------------------------------------------------------------------------


@dataclass
class Timed:
    """One command's wall time, when (Unix seconds) it started and ended, and its stdout lines
    with the seconds since the start at which each arrived."""

    seconds: float
    started: float
    ended: float
    lines: list[tuple[float, str]] = field(default_factory=list)


def timed_lines(cmd: Sequence[str], env: dict[str, str] | None = None) -> Timed:
    with tempfile.TemporaryFile() as err:
        started = time.time()
        start = time.perf_counter()
        process = subprocess.Popen(list(cmd), env=env, stdout=subprocess.PIPE, stderr=err,
                                   stdin=subprocess.DEVNULL)
        lines = []
        assert process.stdout is not None
        for raw in process.stdout:
            lines.append((time.perf_counter() - start, raw.decode(errors="replace").rstrip()))
        code = process.wait()
        seconds = time.perf_counter() - start
        ended = time.time()
        if code != 0:
            err.seek(0)
            tail = err.read().decode(errors="replace").strip().splitlines()[-15:]
            shown = [text for _, text in lines[-5:]]
            raise BenchError(f"{' '.join(cmd)} exited with {code}:\n  "
                             + "\n  ".join([*shown, *tail]))
    return Timed(seconds, started, ended, lines)


def split_roll(scratch: Scratch, service: str, timed: Timed) -> tuple[float, float, float]:
    """lead, swarm, tail of a rolling update, from the service's UpdateStatus."""
    status = scratch.client.api.inspect_service(service).get("UpdateStatus") or {}
    if status.get("State") != "completed" or not status.get("CompletedAt"):
        raise BenchError(f"{service}: the update did not complete: {status}")
    begun = engine_seconds(status["StartedAt"])
    done = engine_seconds(status["CompletedAt"])
    return begun - timed.started, done - begun, timed.ended - done


def split_scale(scratch: Scratch, service: str, timed: Timed) -> tuple[float, float, float]:
    """lead, swarm, tail of a scale-up, from the new tasks' creation and running times."""
    tasks = scratch.client.api.tasks(filters={"service": service, "desired-state": "running"})
    new = [t for t in tasks if engine_seconds(t["CreatedAt"]) >= timed.started - 0.5]
    running = [engine_seconds(t["Status"]["Timestamp"]) for t in new
               if t["Status"]["State"] == "running"]
    if not new or len(running) < len(new):
        raise BenchError(f"{service}: {len(running)} of {len(new)} new tasks run")
    first = min(engine_seconds(t["CreatedAt"]) for t in new)
    last = max(running)
    return first - timed.started, last - first, timed.ended - last


def lain_phases(timed: Timed) -> dict[str, float]:
    """When lain's progress lines (``-o json``) arrived: seconds from the start to the first
    message, to the release being recorded, to the service update being sent, and to
    convergence seen, and from there to the exit."""
    marks: dict[str, float] = {}
    for at, text in timed.lines:
        try:
            event = json.loads(text)
        except ValueError:
            continue
        kind = event.get("event")
        if kind == "message" and "first line" not in marks:
            marks["first line"] = at
        if kind == "message" and str(event.get("text", "")).startswith("release "):
            marks.setdefault("release recorded", at)
        if kind == "proc-changed":
            marks.setdefault("service update sent", at)
        if kind == "proc-progress" and event.get("state") == "converged":
            marks["convergence seen"] = at
    if "convergence seen" in marks:
        marks["exit"] = timed.seconds
    return marks


# -- counting engine calls ------------------------------------------------------------------------


def _shape(method: str, target: str) -> str:
    """``GET /services`` for ``GET /v1.41/services?filters=...``: version, query and names or
    IDs left out, so calls of one kind add up."""
    path = target.split("?", 1)[0]
    parts = [p for p in path.split("/") if p]
    if parts and re.fullmatch(r"v\d+\.\d+", parts[0]):
        parts = parts[1:]
    shown = [p if re.fullmatch(r"[a-z_]+", p) else "{}" for p in parts]
    return f"{method} /{'/'.join(shown)}"


class CountingProxy:
    """A unix socket forwarding to the engine's, noting the method and path of every HTTP
    request that passes (hijacked connections are not needed by what is measured here)."""

    def __init__(self, path: Path, upstream: str) -> None:
        self.path = path
        self.upstream = upstream
        self.calls: list[str] = []
        self._lock = threading.Lock()
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(path))
        self._server.listen(64)
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"unix://{self.path}"

    def take(self) -> list[str]:
        with self._lock:
            calls, self.calls = self.calls, []
        return calls

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._server.close()
        with contextlib.suppress(OSError):
            self.path.unlink()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        engine = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            engine.connect(self.upstream)
        except OSError:
            client.close()
            return
        threading.Thread(target=self._copy, args=(engine, client), daemon=True).start()
        try:
            self._requests(client.makefile("rb"), engine)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                engine.shutdown(socket.SHUT_WR)

    def _requests(self, reader: Any, engine: socket.socket) -> None:
        while True:
            first = reader.readline()
            if not first:
                return
            head = [first]
            headers: dict[str, str] = {}
            while True:
                line = reader.readline()
                head.append(line)
                if line in (b"\r\n", b"\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            parts = first.decode("latin-1").split()
            if len(parts) >= 2:
                with self._lock:
                    self.calls.append(_shape(parts[0], parts[1]))
            engine.sendall(b"".join(head))
            if headers.get("transfer-encoding", "").lower() == "chunked":
                while True:
                    size_line = reader.readline()
                    engine.sendall(size_line)
                    size = int(size_line.split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while True:  # trailers, then the blank line
                            trailer = reader.readline()
                            engine.sendall(trailer)
                            if trailer in (b"\r\n", b"\n", b""):
                                break
                        break
                    engine.sendall(reader.read(size + 2))
            else:
                length = int(headers.get("content-length", "0") or 0)
                if length:
                    engine.sendall(reader.read(length))

    @staticmethod
    def _copy(source: socket.socket, target: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                target.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                target.shutdown(socket.SHUT_WR)
            source.close()


def engine_socket() -> str | None:
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    return host[len("unix://"):] if host.startswith("unix://") else None


def calls_text(calls: Sequence[str]) -> str:
    counted = Counter(calls)
    return ", ".join(f"{shape} x{n}" if n > 1 else shape for shape, n in counted.most_common())


class InProcessCounter:
    """Counts the HTTP requests a docker client makes in this process (a response hook)."""

    def __init__(self, client: Any) -> None:
        self.api = client.api
        self.calls: list[str] = []

    def __call__(self, response: Any, *args: Any, **kwargs: Any) -> None:
        self.calls.append(_shape(response.request.method, response.request.path_url))

    def __enter__(self) -> InProcessCounter:
        self.api.hooks["response"].append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        self.api.hooks["response"].remove(self)


# -- the run --------------------------------------------------------------------------------------


class Bench:
    """What one run owns on top of :class:`Scratch`: a registry, a settings file naming a
    cluster on it, the services and networks made by hand; :meth:`teardown` removes them."""

    CLUSTER = "bench"

    def __init__(self, scratch: Scratch, host: str, pyc: bool) -> None:
        self.scratch = scratch
        self.host = host
        self.services: list[str] = []  # made with the docker CLI
        self.networks: list[str] = []
        self.apps: list[str] = []
        config = scratch.tmp / "lain-settings.yaml"
        config.write_text(json.dumps({  # JSON is YAML
            "current": self.CLUSTER,
            "clusters": {self.CLUSTER: {"registry": host, "insecure_registry": True,
                                        "domains": ["lain.local"]}},
        }))
        env = {k: v for k, v in os.environ.items() if k not in ("LAIN_CLUSTER", "LAIN_APP")}
        env.update({
            "LAIN_CONFIG": str(config),
            "XDG_CONFIG_HOME": str(scratch.tmp / "xdg-config"),
            "XDG_DATA_HOME": str(scratch.tmp / "xdg-data"),
            "XDG_CACHE_HOME": str(scratch.tmp / "xdg-cache"),
        })
        if pyc:
            # An installed package has its bytecode compiled; a source checkout run with
            # PYTHONDONTWRITEBYTECODE compiles every module on every run.  Keep the cache in
            # the run's temp dir, out of the source tree.
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(scratch.tmp / "pycache")
        self.env = env
        self.proxy: CountingProxy | None = None
        upstream = engine_socket()
        if upstream:
            self.proxy = CountingProxy(scratch.tmp / "engine.sock", upstream)

    def app(self, what: str) -> str:
        name = self.scratch.name(what)
        self.scratch.apps.add(name)
        self.apps.append(name)
        return name

    def lain(self, *args: str, through_proxy: bool = False) -> Timed:
        env = dict(self.env)
        if through_proxy and self.proxy:
            env["DOCKER_HOST"] = self.proxy.url
        return timed_lines([*LAIN, "-c", self.CLUSTER, "-o", "json", *args], env=env)

    def docker(self, *args: str, through_proxy: bool = False) -> Timed:
        env = dict(os.environ)
        if through_proxy and self.proxy:
            env["DOCKER_HOST"] = self.proxy.url
        return timed_lines(["docker", *args], env=env)

    def cluster(self) -> Any:
        """A session with the bench's cluster through the run's own engine client."""
        from lain_sdk.cluster.session import Cluster
        from lain_sdk.settings import ClusterSettings

        settings = ClusterSettings(name=self.CLUSTER, registry=self.host, insecure_registry=True,
                                   domains=("lain.local",))
        return Cluster(settings, engine=self.scratch.client)

    def teardown(self) -> None:
        from docker.errors import APIError

        api = self.scratch.client.api
        names = list(self.services)
        for app in self.apps:
            for service in api.services(filters={"label": f"lain.app={app}"}):
                names.append(service["Spec"]["Name"])
        for name in names:
            with contextlib.suppress(APIError):
                api.remove_service(name)
        for app in self.apps:
            for config in api.configs(filters={"label": f"lain.app={app}"}):
                with contextlib.suppress(APIError):
                    api.remove_config(config["ID"])
        deadline = time.monotonic() + 90
        while names and time.monotonic() < deadline:
            if not any(service_containers(self.scratch, n, running_only=True) for n in names):
                break
            time.sleep(0.5)
        networks = list(self.networks)
        for app in self.apps:
            networks += [n["Name"] for n in api.networks(filters={"label": f"lain.app={app}"})]
        while networks and time.monotonic() < deadline:
            for network in list(networks):
                try:
                    api.remove_network(network)
                    networks.remove(network)
                except APIError as e:
                    if e.status_code == 404:
                        networks.remove(network)
            if networks:
                time.sleep(0.5)
        if networks:
            print(f"warning: could not remove network(s) {', '.join(networks)}", file=sys.stderr)
        if self.proxy:
            self.proxy.close()


def print_samples(title: str, results: dict[str, list[float]]) -> None:
    print(title)
    for name, samples in results.items():
        print(f"  {name:<48} {median(samples):7.2f} s  {samples_text(samples)}")


def ratio(name: str, ours: Sequence[float], theirs: Sequence[float], target: str) -> None:
    """The median of the rounds' ratios: each round runs both tools back to back, so a round
    that the machine slowed down slows both and its ratio stays true."""
    paired = median([o / t for o, t in zip(ours, theirs, strict=True)])
    print(f"  {name:<48} {paired:7.2f}x  ({target}; medians alone: "
          f"{median(ours) / median(theirs):.2f}x)")


def print_splits(splits: dict[str, list[tuple[float, float, float]]]) -> None:
    print("  split by the engine's timestamps (medians): lead = start until Swarm starts, "
          "swarm = Swarm at work, tail = Swarm done until the command returns")
    for name, rows in splits.items():
        lead, work, tail = (median([row[i] for row in rows]) for i in range(3))
        print(f"    {name:<46} lead {lead:5.2f} s  swarm {work:5.2f} s  tail {tail:5.2f} s")


def print_phases(title: str, phases: list[dict[str, float]]) -> None:
    keys = [k for k in ("first line", "release recorded", "service update sent",
                        "convergence seen", "exit") if all(k in p for p in phases)]
    if not keys:
        return
    print(f"  {title}, seconds since start (medians):")
    print("    " + "  ".join(f"{k} {median([p[k] for p in phases]):.2f}" for k in keys))


# -- roll -----------------------------------------------------------------------------------------


@dataclass
class Roll:
    """The app lain deploys and the hand-made service running the same images."""

    app: str
    versions: tuple[str, str]
    service: str  # the lain proc's service
    docker_service: str
    current: str = ""  # the version lain deployed last

    def image(self, host: str, mv: str) -> str:
        return f"{host}/{self.app}:release-{mv}"


def docker_service_create(bench: Bench, name: str, network: str, image: str,
                          replicas: int) -> None:
    """The hand-written equivalent of lain's web service: same command, healthcheck, limits,
    stop grace period, endpoint mode, network with an alias, update and rollback settings."""
    run([
        "docker", "service", "create", "--detach=false", "--quiet", "--name", name,
        "--label", f"{RUN_LABEL}={bench.scratch.token}",
        "--replicas", str(replicas),
        "--network", f"name={network},alias=web",
        "--endpoint-mode", "dnsrr",
        "--limit-memory", "16m", "--limit-cpu", "1",
        "--stop-grace-period", "10s",
        "--restart-condition", "any",
        "--health-cmd", CHECK, "--health-interval", "1s", "--health-timeout", "1s",
        "--health-retries", "1", "--health-start-period", "0s",
        "--update-parallelism", "1", "--update-delay", "0s", "--update-order", "start-first",
        "--update-failure-action", "rollback", "--update-monitor", f"{MONITOR_S}s",
        "--update-max-failure-ratio", "0",
        "--rollback-parallelism", "1", "--rollback-delay", "0s", "--rollback-order",
        "start-first", "--rollback-failure-action", "pause", "--rollback-monitor",
        f"{MONITOR_S}s", "--rollback-max-failure-ratio", "0",
        image, "sh", "-c", WEB_SHELL,
    ])


def _settings(spec: dict[str, Any]) -> dict[str, Any]:
    task = spec.get("TaskTemplate") or {}
    container = task.get("ContainerSpec") or {}
    health = dict(container.get("Healthcheck") or {})
    if health.get("Test", [""])[0] == "CMD-SHELL":
        health["Test"] = ["CMD-SHELL", health["Test"][1]]

    def update(config: dict[str, Any] | None) -> dict[str, Any]:
        config = config or {}
        return {k: config.get(k) or 0 for k in ("Parallelism", "Delay", "FailureAction",
                                                "Monitor", "MaxFailureRatio", "Order")}

    return {
        "replicas": ((spec.get("Mode") or {}).get("Replicated") or {}).get("Replicas"),
        "command": [*(container.get("Command") or []), *(container.get("Args") or [])],
        "healthcheck": {k: health.get(k) or 0 for k in ("Test", "Interval", "Timeout",
                                                          "Retries", "StartPeriod")},
        "stop grace period": container.get("StopGracePeriod") or 10 * 10**9,
        "limits": (task.get("Resources") or {}).get("Limits") or {},
        "restart": ((task.get("RestartPolicy") or {}).get("Condition") or "any"),
        "networks": len(task.get("Networks") or []),
        "endpoint mode": (spec.get("EndpointSpec") or {}).get("Mode") or "vip",
        "update": update(spec.get("UpdateConfig")),
        "rollback": update(spec.get("RollbackConfig")),
    }


def compare_settings(bench: Bench, ours: str, theirs: str) -> None:
    api = bench.scratch.client.api
    a = _settings(api.inspect_service(ours)["Spec"])
    b = _settings(api.inspect_service(theirs)["Spec"])
    differ = [k for k in a if a[k] != b[k]]
    if differ:
        print("  warning: the two services differ in " + "; ".join(
            f"{k}: lain {a[k]} / docker {b[k]}" for k in differ))
    else:
        print(f"  both services: {', '.join(a)} compared, all equal")


def roll_setup(bench: Bench) -> Roll:
    scratch = bench.scratch
    app = bench.app("roll")
    text = web_yaml(app)
    versions = (push_version(scratch, bench.host, app, text, "version A"),
                push_version(scratch, bench.host, app, text, "version B"))
    bench.lain("deploy", "-a", app, "-v", versions[0], "--timeout", str(TIMEOUT_S))
    network = scratch.name("net")
    run(["docker", "network", "create", "--driver", "overlay", "--attachable",
         "--label", f"{RUN_LABEL}={scratch.token}", network])
    bench.networks.append(network)
    docker_service = scratch.name("docker")
    bench.services.append(docker_service)
    roll = Roll(app, versions, f"{app}__web", docker_service, versions[0])
    docker_service_create(bench, docker_service, network, roll.image(bench.host, versions[0]),
                          ROLL_INSTANCES)
    compare_settings(bench, roll.service, docker_service)
    return roll


def roll_part(bench: Bench, roll: Roll, runs: int, calls: bool, profile: bool) -> None:
    lain_name = f"{LAIN_SHOWN} deploy -v NEW"
    docker_name = "docker service update --image NEW_IMAGE"
    results: dict[str, list[float]] = {lain_name: [], docker_name: []}
    splits: dict[str, list[tuple[float, float, float]]] = {lain_name: [], docker_name: []}
    phases: list[dict[str, float]] = []
    host = bench.host

    def lain_go(mv: str, through_proxy: bool = False) -> Timed:
        timed = bench.lain("deploy", "-a", roll.app, "-v", mv, "--timeout", str(TIMEOUT_S),
                           through_proxy=through_proxy)
        roll.current = mv
        return timed

    def docker_go(mv: str, through_proxy: bool = False) -> Timed:
        return bench.docker("service", "update", "--detach=false", "--image",
                            roll.image(host, mv), roll.docker_service,
                            through_proxy=through_proxy)

    for round_no in range(runs):
        mv = roll.versions[(round_no + 1) % 2]  # B, A, B, ...
        for name in rotated([lain_name, docker_name], round_no):
            service = roll.service if name == lain_name else roll.docker_service
            settle(bench.scratch, service, ROLL_INSTANCES)
            timed = lain_go(mv) if name == lain_name else docker_go(mv)
            results[name].append(timed.seconds)
            splits[name].append(split_roll(bench.scratch, service, timed))
            if name == lain_name:
                phases.append(lain_phases(timed))
    print_samples(f"rolling a new version of a {ROLL_INSTANCES}-instance proc "
                  f"(start-first, parallelism 1, monitor {MONITOR_S} s), median of {runs} runs",
                  results)
    ratio("lain deploy / docker service update", results[lain_name], results[docker_name],
          f"target <= {TARGET:.2f}x")
    print_splits(splits)
    print_phases("lain deploy's progress lines", phases)
    if calls and bench.proxy:
        mv = roll.versions[(runs + 1) % 2]
        print("  engine calls of one more rollout each (through the counting proxy):")
        for name, go, service in ((lain_name, lain_go, roll.service),
                                  (docker_name, docker_go, roll.docker_service)):
            settle(bench.scratch, service, ROLL_INSTANCES)
            bench.proxy.take()
            timed = go(mv, through_proxy=True)
            made = bench.proxy.take()
            print(f"    {name:<46} {len(made):4d} calls in {timed.seconds:.2f} s: "
                  f"{calls_text(made)}")
    if profile:
        settle(bench.scratch, roll.service, ROLL_INSTANCES)
        print(f"where a no-change `lain deploy -v {roll.current[:10]}...` spends its time "
              "(its lead is the same as a rollout's):")
        profile_cli(["-c", Bench.CLUSTER, "deploy", "-a", roll.app, "-v", roll.current],
                    env=bench.env)


# -- scale ----------------------------------------------------------------------------------------


def scale_part(bench: Bench, roll: Roll, runs: int, calls: bool) -> None:
    lain_name = f"{LAIN_SHOWN} scale web -n {SCALE_TO}"
    docker_name = f"docker service scale SERVICE={SCALE_TO}"
    results: dict[str, list[float]] = {lain_name: [], docker_name: []}
    splits: dict[str, list[tuple[float, float, float]]] = {lain_name: [], docker_name: []}
    phases: list[dict[str, float]] = []

    def lain_go(n: int, through_proxy: bool = False) -> Timed:
        return bench.lain("scale", "web", "-n", str(n), "-a", roll.app,
                          "--timeout", str(TIMEOUT_S), through_proxy=through_proxy)

    def docker_go(n: int, through_proxy: bool = False) -> Timed:
        return bench.docker("service", "scale", "--detach=false",
                            f"{roll.docker_service}={n}", through_proxy=through_proxy)

    tools: dict[str, tuple[Callable[..., Timed], str]] = {
        lain_name: (lain_go, roll.service),
        docker_name: (docker_go, roll.docker_service),
    }
    for go, service in tools.values():  # one instance each to start from, untimed
        go(1)
        settle(bench.scratch, service, 1)
    for round_no in range(runs):
        for name in rotated(list(tools), round_no):
            go, service = tools[name]
            settle(bench.scratch, service, 1)
            timed = go(SCALE_TO)
            results[name].append(timed.seconds)
            splits[name].append(split_scale(bench.scratch, service, timed))
            if name == lain_name:
                phases.append(lain_phases(timed))
            go(1)  # back down, untimed: one service at 10 instances at a time
    print_samples(f"scaling 1 to {SCALE_TO} instances, median of {runs} runs", results)
    ratio("lain scale / docker service scale", results[lain_name], results[docker_name],
          f"target <= {TARGET:.2f}x")
    # The docker CLI, once the tasks run, watches them for UpdateConfig.Monitor more before
    # it returns ("verify: Waiting N seconds..."); lain returns when they run.
    ratio(f"lain scale / (docker service scale - {MONITOR_S} s)", results[lain_name],
          [s - MONITOR_S for s in results[docker_name]],
          f"no target: leaves out the docker CLI's {MONITOR_S} s stability wait")
    print_splits(splits)
    print_phases("lain scale's progress lines", phases)
    if calls and bench.proxy:
        print("  engine calls of one more scale-up each (through the counting proxy):")
        for name, (go, service) in tools.items():
            settle(bench.scratch, service, 1)
            bench.proxy.take()
            timed = go(SCALE_TO, through_proxy=True)
            made = bench.proxy.take()
            print(f"    {name:<46} {len(made):4d} calls in {timed.seconds:.2f} s: "
                  f"{calls_text(made)}")
            go(1)


# -- ps -------------------------------------------------------------------------------------------


def ps_part(bench: Bench, roll: Roll | None, runs: int, procs: int, profile: bool) -> None:
    from lain_sdk.cluster.status import app_status

    scratch = bench.scratch
    app = bench.app("ps")
    mv = push_version(scratch, bench.host, app, workers_yaml(app, procs), "workers")
    deployed = bench.lain("deploy", "-a", app, "-v", mv, "--timeout", str(TIMEOUT_S))
    print(f"an app of {procs} worker procs, 1 instance each (its first deploy with lain took "
          f"{deployed.seconds:.1f} s)")

    cluster = bench.cluster()
    client = scratch.client
    counted: dict[str, list[str]] = {}
    with InProcessCounter(client) as counter:
        status = app_status(app, cluster=cluster)
    running = sum(p.running for p in status.procs)
    if len(status.procs) != procs or running != procs:
        print(f"  warning: {len(status.procs)} procs, {running} instances running")
    counted[f"app_status, {procs} procs (in process)"] = counter.calls
    if roll is not None:
        with InProcessCounter(client) as counter:
            app_status(roll.app, cluster=cluster)
        counted["app_status, 1 proc (in process)"] = counter.calls
    lain_name = f"{LAIN_SHOWN} ps -a APP"
    docker_name = "docker service ls"
    if bench.proxy:
        bench.proxy.take()
        bench.lain("ps", "-a", app, through_proxy=True)
        counted[f"{lain_name} (whole command, via proxy)"] = bench.proxy.take()
        bench.docker("service", "ls", through_proxy=True)
        counted[f"{docker_name} (whole command, via proxy)"] = bench.proxy.take()
    print("  engine calls:")
    for name, calls in counted.items():
        print(f"    {name:<52} {len(calls):3d}: {calls_text(calls)}")

    imports_name = 'python -c "import click, docker"'
    deploy_name = f"{LAIN_SHOWN} deploy -a APP (nothing to change)"
    results: dict[str, list[float]] = {lain_name: [], docker_name: [], imports_name: [],
                                       deploy_name: [], "app_status (in process, connected)": []}
    for round_no in range(runs):
        for name in rotated(list(results), round_no):
            if name == lain_name:
                seconds = timed_lines([*LAIN, "-c", Bench.CLUSTER, "ps", "-a", app],
                                      env=bench.env).seconds
            elif name == docker_name:
                seconds = bench.docker("service", "ls").seconds
            elif name == imports_name:
                # What any Python program that talks to the engine pays to start.
                seconds = timed_lines([sys.executable, "-c", "import click, docker"],
                                      env=bench.env).seconds
            elif name == deploy_name:
                seconds = timed_lines([*LAIN, "-c", Bench.CLUSTER, "deploy", "-a", app, "-v", mv],
                                      env=bench.env).seconds
            else:
                start = time.perf_counter()
                app_status(app, cluster=cluster)
                seconds = time.perf_counter() - start
            results[name].append(seconds)
    listed = len(client.api.services())
    print_samples(f"  wall time, median of {runs} runs (docker service ls lists all {listed} "
                  "services of the engine)", results)
    ratio("lain ps / import click, docker (fixed cost)", results[lain_name],
          results[imports_name], "<= 1.15x")
    ratio("lain deploy, nothing to change / import click, docker", results[deploy_name],
          results[imports_name], "no target: the fixed cost of a deploy")
    ratio("lain ps / docker service ls", results[lain_name], results[docker_name],
          "no target: compared")
    if profile:
        print("where `lain ps` spends its time:")
        profile_cli(["-c", Bench.CLUSTER, "ps", "-a", app], env=bench.env)


# -- main -----------------------------------------------------------------------------------------


PARTS = ("roll", "scale", "ps")


def _stop(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def bench_run(pyc: bool) -> Iterator[Bench]:
    with Scratch("lain-bench-deploy") as scratch, registry(scratch.tmp / "registry") as host:
        bench = Bench(scratch, host, pyc)
        try:
            scratch.make_base()
            yield bench
        finally:
            bench.teardown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5,
                        help="measured rollouts and scale-ups per tool (default 5)")
    parser.add_argument("--ps-runs", type=int, default=10,
                        help="measured `lain ps` and `docker service ls` runs (default 10)")
    parser.add_argument("--procs", type=int, default=20, help="procs of the ps app (default 20)")
    parser.add_argument("--part", action="append", choices=PARTS,
                        help="run only this part (repeatable; default: all)")
    parser.add_argument("--calls", action="store_true",
                        help="also count the engine calls of one more deploy and scale of each")
    parser.add_argument("--no-pyc", action="store_true",
                        help="run lain without a bytecode cache (compiling its modules each run)")
    parser.add_argument("--profile", action="store_true",
                        help="show where a no-change `lain deploy` and `lain ps` spend their time")
    args = parser.parse_args()
    parts = args.part or list(PARTS)
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGHUP, _stop)
    import docker  # noqa: F401  (imported before any timing)

    import lain_sdk.cluster.status  # noqa: F401

    load = os.getloadavg()[0]
    versions = run(["docker", "version", "--format",
                    "{{.Client.Version}} (API {{.Client.APIVersion}}), engine {{.Server.Version}}"])
    print(f"lain: {LAIN_SHOWN}; docker CLI {versions.stdout.decode().strip()}; "
          f"{os.cpu_count()} CPUs, load average {load:.1f} at the start")
    try:
        with bench_run(not args.no_pyc) as bench:
            cache = ("no bytecode cache (--no-pyc)" if args.no_pyc else
                     "a bytecode cache in the run's temp dir, as an installed package has")
            if os.environ.get("PYTHONDONTWRITEBYTECODE"):
                cache += " (PYTHONDONTWRITEBYTECODE is set here)"
            print(f"registry {bench.host}, cluster {Bench.CLUSTER} (LAIN_CONFIG); lain runs "
                  f"with {cache}")
            roll = None
            if "roll" in parts or "scale" in parts:
                roll = roll_setup(bench)
            if "roll" in parts and roll:
                roll_part(bench, roll, args.runs, args.calls, args.profile)
                print()
            if "scale" in parts and roll:
                scale_part(bench, roll, args.runs, args.calls)
                print()
            if "ps" in parts:
                ps_part(bench, roll, args.ps_runs, args.procs, args.profile)
    except BenchError as e:
        print(f"bench failed: {e}", file=sys.stderr)
        sys.exit(1)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
