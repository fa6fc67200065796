"""The router next to what it stands in front of, in one run.

    .venv/bin/python bench/router.py [--rounds N] [--part rps|join|apply ...]
                                     [--requests N] [--concurrency N] [--address ADDR]
                                     [--joins N] [--routes N]

  rps    requests per second through the router against straight to the one instance it
         routes to, with the same load tool (ab, from apache2-utils), the same request count
         and concurrency: new connections (ab), then kept-alive ones (ab -k).  Target: the
         router reaches >= 0.8x.
  join   seconds from a new instance turning healthy (its task's state becomes running, by
         the engine's clock) to the first answer through the router that comes from it, while
         a client keeps asking; one instance added at a time (a scale from 1 to 2), N times.
         Target: median < 2 s.
  apply  seconds to render, `nginx -t` and reload a configuration of N routes (default
         1,000) in the router's image, driving lain_router's render and Nginx as the watcher
         does, reload counted as done once nginx's new workers run.  Target: < 1 s.

rps and join run on the local engine (a swarm manager) with the cluster's router (`lain
router up`, made or brought to this code first), a registry of the run's own and a tiny app
(busybox httpd with a healthcheck) deployed through lain's SDK; apply needs only the router's
base image.  Everything the run makes (app, images, registry, containers, temp dir) is
removed at the end, also when it fails; the router stays.  The machine may be shared: every
sample is printed, with medians of per-round ratios and the load average.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from _common import ROOT, BenchError, Scratch, load_line, median, registry, rotated, run

RPS_TARGET = 0.8
JOIN_TARGET_S = 2.0
APPLY_TARGET_S = 1.0
TIMEOUT_S = 180
ROUTER_PORT = 80
CHECK = "wget -q -O /dev/null http://127.0.0.1:80/index.html"
# Each instance writes its own name where the page is served: an answer says who gave it.
WEB_SHELL = "hostname > /www/who; trap 'exit 0' TERM; httpd -f -p 80 -h /www & wait"
PAGE = "x" * 600 + "\n"  # a small page, as a health check or an API answer


def _stop(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


# -- the app --------------------------------------------------------------------------------------


def _tar(files: dict[str, str]) -> io.BytesIO:
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        for name, text in files.items():
            raw = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(raw), 1700000000
            tar.addfile(info, io.BytesIO(raw))
    data.seek(0)
    return data


def _build_push(scratch: Scratch, ref: str, files: dict[str, str]) -> None:
    scratch.client.images.build(fileobj=_tar(files), custom_context=True, tag=ref, rm=True,
                                forcerm=True)
    repo, tag = ref.rsplit(":", 1)
    for line in scratch.client.api.push(repo, tag=tag, stream=True, decode=True):
        if isinstance(line, dict) and line.get("error"):
            raise BenchError(f"push {ref}: {line['error']}")


def app_yaml(app: str, instances: int) -> str:
    return (
        f"appname: {app}\n"
        "build:\n"
        "  base: lain-local/busybox:latest\n"
        "web:\n"
        f"  cmd: {json.dumps(['sh', '-c', WEB_SHELL])}\n"
        f"  num_instances: {instances}\n"
        "  memory: 32m\n"
        "  container_healthcheck:\n"
        f"    cmd: {json.dumps(CHECK)}\n"
        # Lenient: under ab's load a check may take seconds, and an instance replaced in
        # the middle of a measurement would change its port.
        "    options: {interval: 1, timeout: 5, retries: 3}\n"
    )


@dataclass
class Run:
    """What one run owns on top of :class:`Scratch`: its registry, its app, a session with a
    cluster on both (the local engine's swarm and its router)."""

    scratch: Scratch
    host: str
    app: str = ""
    cluster: Any = None
    services: list[str] = field(default_factory=list)

    def setup(self, instances: int) -> None:
        import lain_sdk
        from lain_sdk import deploy_app
        from lain_sdk.cluster.session import Cluster
        from lain_sdk.settings import LOCAL_ROUTER_BASE, ClusterSettings, RouterSettings

        settings = ClusterSettings(
            name="bench", registry=self.host, domains=("lain.local",), insecure_registry=True,
            publish_ports=True, router=RouterSettings(base_image=LOCAL_ROUTER_BASE),
        )
        self.cluster = Cluster(settings, engine=self.scratch.client, poll_interval=0.2)
        ensure_router(self.cluster)
        self.app = self.scratch.name("rt")
        self.scratch.apps.add(self.app)
        self.scratch.make_base()
        mv = f"1700000001-{self.scratch.token}{'0' * 30}"
        _build_push(self.scratch, f"{self.host}/{self.app}:release-{mv}", {
            "Dockerfile": f"FROM {self.scratch.base}\nCOPY index.html /www/index.html\n",
            "index.html": PAGE,
        })
        _build_push(self.scratch, f"{self.host}/{self.app}:meta-{mv}", {
            "Dockerfile": "FROM scratch\nCOPY lain.yaml /lain.yaml\n",
            "lain.yaml": app_yaml(self.app, instances),
        })
        lain_sdk.drain(deploy_app(self.app, cluster=self.cluster, version=mv, timeout=TIMEOUT_S))
        self.services.append(f"{self.app}__web")
        deadline = time.monotonic() + 30
        while routed_get(self.domain, "/index.html") != PAGE:
            if time.monotonic() > deadline:
                raise BenchError(f"{self.domain} does not answer through the router")
            time.sleep(0.2)

    @property
    def domain(self) -> str:
        return f"{self.app}.lain.local"

    def scale(self, instances: int) -> None:
        import lain_sdk
        from lain_sdk import scale_proc

        lain_sdk.drain(scale_proc(self.app, "web", cluster=self.cluster, instances=instances,
                                  timeout=TIMEOUT_S))

    def tasks(self) -> list[dict[str, Any]]:
        """The web proc's tasks that should run."""
        return list(self.scratch.client.api.tasks(
            filters={"service": f"{self.app}__web", "desired-state": "running"}))

    def teardown(self) -> None:
        from docker.errors import APIError

        if not self.app:
            return
        api = self.scratch.client.api
        label = f"lain.app={self.app}"
        for service in api.services(filters={"label": label}):
            with contextlib.suppress(APIError):
                api.remove_service(service["ID"])
        for config in api.configs(filters={"label": label}):
            with contextlib.suppress(APIError):
                api.remove_config(config["ID"])
        # The router leaves the app's network once nothing on it is served; then it can go.
        networks = [n["Id"] for n in api.networks(filters={"label": label})]
        deadline = time.monotonic() + 90
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
            print(f"warning: could not remove network(s) {networks}", file=sys.stderr)


def ensure_router(cluster: Any) -> None:
    """The cluster's router, running this code: left alone when its image is already this
    code's, else brought up to it (as `lain router up` does)."""
    import lain_sdk
    from lain_sdk.cluster.router import image_context, router_status, router_up

    status = router_status(cluster, watcher=False)
    _, tag = image_context(cluster.settings.router.base_image)
    if status.running and status.image.endswith(f":{tag}") and all(
        t.state == "running" for t in status.tasks if t.desired_state == "running"
    ):
        print(f"router: {status.image.rsplit('/', 1)[-1]} (this code), left as it is")
        return
    print("router: bringing it to this code (lain router up)")
    lain_sdk.drain(router_up(cluster, timeout=TIMEOUT_S))


def routed_get(host: str, path: str, timeout: float = 5.0) -> str | None:
    """The body of a GET through the router (None when it failed)."""
    request = urllib.request.Request(f"http://127.0.0.1:{ROUTER_PORT}{path}",
                                     headers={"Host": host})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=timeout) as response:
            return str(response.read().decode())
    except OSError:
        return None


def published_port(scratch: Scratch, task: dict[str, Any]) -> int:
    """The host port a task's container publishes its port 80 on."""
    container = task["Status"]["ContainerStatus"]["ContainerID"]
    ports = scratch.client.api.inspect_container(container)["NetworkSettings"]["Ports"]
    return int(ports["80/tcp"][0]["HostPort"])


# -- rps ------------------------------------------------------------------------------------------


@dataclass
class Ab:
    rps: float
    failed: int
    non_2xx: int


def ab(url: str, requests: int, concurrency: int, keepalive: bool, host: str | None) -> Ab:
    cmd = ["ab", "-q", "-n", str(requests), "-c", str(concurrency)]
    cmd += ["-k"] if keepalive else []
    cmd += ["-H", f"Host: {host}"] if host else []
    for attempt in range(3):
        try:
            done = run([*cmd, url])
            break
        except BenchError as e:  # the router restarted under it (a `lain router up` elsewhere)?
            if attempt == 2:
                raise
            print(f"    (ab failed, measured again: {str(e).splitlines()[-1].strip()})")
            time.sleep(5)
    text = done.stdout.decode()

    def number(label: str) -> float:
        found = re.search(rf"^{label}:\s+([\d.]+)", text, re.M)
        return float(found[1]) if found else 0.0

    return Ab(number("Requests per second"), int(number("Failed requests")),
              int(number("Non-2xx responses")))


def rps_part(bench: Run, rounds: int, requests: int, concurrency: int, address: str) -> None:
    (task,) = [t for t in bench.tasks() if t["Status"]["State"] == "running"]
    port = published_port(bench.scratch, task)
    direct = f"http://{address}:{port}/index.html"
    routed = f"http://{address}:{ROUTER_PORT}/index.html"
    tools = {"router": (routed, bench.domain), "direct": (direct, None)}
    print(f"requests per second: ab -n {requests} -c {concurrency} [-k], {rounds} rounds, "
          f"one instance (busybox httpd, a {len(PAGE)}-byte page), the order rotating")
    print(f"  direct: {direct} (the instance's published port)")
    print(f"  router: {routed} with Host: {bench.domain}")
    for keepalive in (False, True):
        for url, host in tools.values():  # warm up: connections, caches, the page
            ab(url, min(requests, 500), concurrency, keepalive, host)
        samples: dict[str, list[float]] = {name: [] for name in tools}
        ratios: list[float] = []
        bad = 0
        for round_no in range(rounds):
            got: dict[str, float] = {}
            for name in rotated(list(tools), round_no):
                url, host = tools[name]
                result = ab(url, requests, concurrency, keepalive, host)
                got[name] = result.rps
                samples[name].append(result.rps)
                bad += result.failed + result.non_2xx
            ratios.append(got["router"] / got["direct"])
        flag = "ab -k (kept-alive connections)" if keepalive else "ab (a new connection each)"
        print(f"  {flag}:")
        for name, values in samples.items():
            shown = " ".join(f"{v:.0f}" for v in values)
            print(f"    {name:<7} {median(values):8.0f} req/s  [{shown}]")
        print(f"    router / direct {median(ratios):.2f}x  (target >= {RPS_TARGET}x; per round "
              f"{' '.join(f'{r:.2f}' for r in ratios)}; medians alone: "
              f"{median(samples['router']) / median(samples['direct']):.2f}x)"
              + (f"  {bad} failed or non-2xx" if bad else ""))
        print(f"    {load_line()}")


# -- join -----------------------------------------------------------------------------------------


class Asker:
    """A client asking the router who answers, without pause; remembers when it first saw
    each instance."""

    def __init__(self, domain: str, threads: int = 2) -> None:
        self.domain = domain
        self.first_seen: dict[str, float] = {}
        self.asked = 0
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._ask, daemon=True) for _ in range(threads)]

    def __enter__(self) -> Asker:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(10)

    def _ask(self) -> None:
        import http.client

        while not self.stop.is_set():
            connection = http.client.HTTPConnection("127.0.0.1", ROUTER_PORT, timeout=5)
            try:
                connection.request("GET", "/who", headers={"Host": self.domain,
                                                           "Connection": "close"})
                who = connection.getresponse().read().decode().strip()
                now = time.time()
                self.asked += 1
                self.first_seen.setdefault(who, now)
            except OSError:
                time.sleep(0.01)
            finally:
                connection.close()


def join_part(bench: Run, joins: int) -> None:
    from lain_sdk.cluster.engine_calls import parse_time

    print(f"healthy -> routed: a scale from 1 to 2 instances, {joins} times, a client asking "
          "the router without pause which instance answers")
    bench.scale(1)
    delays = []
    with Asker(bench.domain) as asker:
        for _ in range(joins):
            before = {t["ID"] for t in bench.tasks()}
            bench.scale(2)
            (task,) = [t for t in bench.tasks() if t["ID"] not in before]
            status = task["Status"]
            if status["State"] != "running":
                raise BenchError(f"the new instance is {status['State']}, not running")
            healthy_at = parse_time(status["Timestamp"])
            name = status["ContainerStatus"]["ContainerID"][:12]
            deadline = time.monotonic() + 20
            while name not in asker.first_seen and time.monotonic() < deadline:
                time.sleep(0.01)
            if name not in asker.first_seen:
                raise BenchError(f"instance {name} never answered through the router")
            delays.append(asker.first_seen[name] - healthy_at)
            bench.scale(1)
            time.sleep(1)
        asked = asker.asked
    shown = " ".join(f"{d:.2f}" for d in delays)
    print(f"  running -> first answer through the router  median {median(delays):.2f} s  "
          f"[{shown}]  max {max(delays):.2f} s  (target < {JOIN_TARGET_S:.0f} s)")
    print(f"  ({asked} requests; the watcher polls the engine every 0.5 s and folds changes "
          "0.3 s apart)")
    print(f"  {load_line()}")


# -- apply ----------------------------------------------------------------------------------------

# Runs in the router's base image with this lain_router mounted: the watcher's own round
# (lain_router.watch.Watcher.step) on an engine that answers at once with N routes: for half of
# them a host, for the other half a path of the same host, each served by a proc with two ready
# instances and one starting.  Every round moves one instance of every proc, as deploys do.
APPLY_SCRIPT = r"""
import json, os, sys, time
from pathlib import Path
from lain_router import model as model_module
from lain_router.labels import router_labels
from lain_router.nginx import Nginx
from lain_router.render import Listen
from lain_router.watch import Options, Watcher

routes_wanted, rounds = int(sys.argv[1]), int(sys.argv[2])
listen = Listen(run_dir="/run/lain-router")

def services():
    found = []
    for i in range(routes_wanted):
        app, proc = f"app{i // 2:04d}", ("web" if i % 2 == 0 else "api")
        point = f"{app}.bench.example" + ("" if i % 2 == 0 else "/api")
        labels = {"lain.app": app, "lain.proc": proc, **router_labels(
            network=f"lain-router_{app}", mountpoints=[point], port=8000)}
        found.append({"ID": f"s{i}", "CreatedAt": f"2024-01-01T00:00:{i % 60:02d}Z",
                      "Spec": {"Name": f"{app}__{proc}", "Labels": labels}})
    return found

def tasks(shift):
    found = []
    for i in range(routes_wanted):
        net = f"10.{i // 200}.{i % 200}"
        for slot, state in ((1, "running"), (2, "running"), (3, "starting")):
            found.append({
                "ID": f"t{i}-{slot}-{shift}", "ServiceID": f"s{i}", "Slot": slot,
                "DesiredState": "running", "Status": {"State": state},
                "NetworksAttachments": [{
                    "Network": {"Spec": {"Name": f"lain-router_app{i // 2:04d}"}},
                    "Addresses": [f"{net}.{slot + 1 + shift}/16"]}]})
    return found

class Engine:
    shift = 0
    def services(self, label):
        return services()
    def tasks(self):
        return tasks(self.shift)

times = {}
class TimedNginx(Nginx):
    def test(self, directory):
        t = time.perf_counter()
        try:
            return super().test(directory)
        finally:
            times["test"] = time.perf_counter() - t

def workers(master):
    found = set()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == master and b"shutting" not in cmd:
            found.add(int(pid))
    return found

engine, nginx = Engine(), TimedNginx(listen.run_dir)
watcher = Watcher(engine, nginx, Options(listen=listen, certs_dir="/nonexistent"))
assert watcher.step(), watcher.status
time.sleep(1)
for round_no in range(rounds):
    engine.shift = (round_no + 1) % 2 * 10
    old = workers(nginx.process.pid)
    t0 = time.perf_counter()
    model = model_module.build_model(engine.services(""), engine.tasks())
    t_model = time.perf_counter() - t0
    t0 = time.perf_counter()
    assert watcher.step(), watcher.status
    t1 = time.perf_counter()
    while True:
        now = workers(nginx.process.pid)
        if now and not now & old and len(now) == len(old):
            break
        time.sleep(0.002)
    t2 = time.perf_counter()
    t = time.perf_counter()
    text = watcher._render(model, [])
    t_render = time.perf_counter() - t
    print(json.dumps({"model": t_model, "render": t_render, "test": times["test"],
                      "round": t1 - t0, "reload": t2 - t1, "total": t2 - t0,
                      "bytes": len(text), "routes": len(model.routes),
                      "generation": watcher.generation}), flush=True)
    time.sleep(0.5)
nginx.stop()
"""


def apply_part(routes: int, rounds: int, scratch: Scratch) -> None:
    from lain_sdk.settings import LOCAL_ROUTER_BASE

    name = f"bench-{scratch.token}-apply"
    script = scratch.tmp / "apply.py"
    script.write_text(APPLY_SCRIPT)
    cmd = [
        "docker", "run", "--rm", "--name", name, "--label", f"bench.run={scratch.token}",
        "-v", f"{ROOT / 'lain_router'}:/opt/lain/lain_router:ro",
        "-v", f"{script}:/opt/apply.py:ro", "-e", "PYTHONPATH=/opt/lain",
        "-e", "PYTHONDONTWRITEBYTECODE=1", "--entrypoint", "python3", LOCAL_ROUTER_BASE,
        "/opt/apply.py", str(routes), str(rounds),
    ]
    print(f"apply: the watcher's round and nginx's reload for {routes} routes in "
          f"{LOCAL_ROUTER_BASE}, median of {rounds} rounds (each moves one instance of every "
          "proc)")
    try:
        done = run(cmd)
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
    samples = [json.loads(line) for line in done.stdout.decode().splitlines() if line.strip()]
    print(f"  {samples[0]['routes']} routes, {samples[0]['bytes'] / 1e6:.2f} MB of nginx.conf")
    what = {
        "total": "engine's answer -> nginx's new workers run",
        "round": "  the watcher's round (model, render, nginx -t, swap, SIGHUP)",
        "model": "    the model from services and tasks",
        "render": "    one rendering of the configuration",
        "test": "    nginx -t",
        "reload": "  nginx reloading (SIGHUP -> new workers run)",
    }
    for key, label in what.items():
        values = [s[key] for s in samples]
        shown = " ".join(f"{v:.3f}" for v in values)
        target = f"  (target < {APPLY_TARGET_S:.0f} s)" if key == "total" else ""
        print(f"  {label:<62} {median(values):.3f} s  [{shown}]{target}")
    print(f"  {load_line()}")


# -- the run --------------------------------------------------------------------------------------

PARTS = ("rps", "join", "apply")


@contextlib.contextmanager
def bench_run() -> Iterator[Run]:
    with Scratch("lain-bench-router") as scratch, registry(scratch.tmp / "registry") as host:
        bench = Run(scratch, host)
        try:
            yield bench
        finally:
            bench.teardown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds of each part (default 5)")
    parser.add_argument("--part", action="append", choices=PARTS,
                        help="run only this part (repeatable; default: all)")
    parser.add_argument("--requests", type=int, default=5000,
                        help="requests per ab run (default 5000)")
    parser.add_argument("--concurrency", type=int, default=8,
                        help="ab's concurrency (default 8)")
    parser.add_argument("--joins", type=int, default=7,
                        help="instances added one at a time for `join` (default 7)")
    parser.add_argument("--address", default="127.0.0.1",
                        help="where ab reaches the router and the instance (default 127.0.0.1, "
                        "through docker's userland proxy for both; this machine's own address "
                        "goes through the kernel's NAT, as clients elsewhere do)")
    parser.add_argument("--routes", type=int, default=1000,
                        help="routes of the `apply` configuration (default 1000)")
    args = parser.parse_args()
    parts = args.part or list(PARTS)
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGHUP, _stop)
    if shutil.which("ab") is None:
        raise SystemExit("ab is not installed (Debian: apt-get install apache2-utils)")
    print(f"{load_line()} at the start")
    try:
        with bench_run() as bench:
            if "rps" in parts or "join" in parts:
                bench.setup(instances=1)
            if "rps" in parts:
                rps_part(bench, args.rounds, args.requests, args.concurrency, args.address)
                print()
            if "join" in parts:
                join_part(bench, args.joins)
                print()
            if "apply" in parts:
                apply_part(args.routes, args.rounds, bench.scratch)
    except BenchError as e:
        print(f"bench failed: {e}", file=sys.stderr)
        sys.exit(1)
    print(f"{load_line()} at the end")


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
