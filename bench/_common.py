"""Shared pieces of the image benchmarks: timing, throwaway git repos, a base image of their
own, a throwaway registry, and cleaning up every image they made.

Every image a benchmark builds descends from a base image made for that benchmark run
(``lain-local/busybox`` plus a ``bench.run`` label), so all of them, intermediate layers
included, carry that label and can be found and removed at the end, whatever failed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
_SCRIPT = Path(PY).parent / "lain"  # the installed console script, as users run it
LAIN = [str(_SCRIPT)] if _SCRIPT.exists() else [PY, "-m", "lain_cli"]
# How the command is shown in reports: relative to the project when it lives there.
LAIN_SHOWN = " ".join(
    os.path.relpath(part, ROOT) if Path(part).is_relative_to(ROOT) else part for part in LAIN
)
BASE_SOURCE = "lain-local/busybox:latest"
RUN_LABEL = "bench.run"
TARGET = 1.10


class BenchError(RuntimeError):
    """A command the benchmark needs failed."""


def docker_env() -> dict[str, str]:
    # The classic builder, which is what lain drives through the Engine API.
    return {**os.environ, "DOCKER_BUILDKIT": "0"}


def run(cmd: Sequence[str], *, cwd: Path | None = None, env: dict[str, str] | None = None,
        stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    done = subprocess.run(list(cmd), cwd=cwd, env=env, input=stdin, capture_output=True)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).decode(errors="replace").strip().splitlines()[-15:]
        raise BenchError(f"{' '.join(cmd)} exited with {done.returncode}:\n  " + "\n  ".join(tail))
    return done


def timed(cmd: Sequence[str], **kwargs: Any) -> tuple[float, subprocess.CompletedProcess[bytes]]:
    """Wall time in seconds of one command, and what it printed."""
    start = time.perf_counter()
    done = run(cmd, **kwargs)
    return time.perf_counter() - start, done


def timed_call(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def median(samples: Sequence[float]) -> float:
    return statistics.median(samples)


def samples_text(samples: Sequence[float]) -> str:
    return "[" + " ".join(f"{s:.2f}" for s in samples) + "]"


def load_line() -> str:
    """CPUs and load average: how much else the machine was doing (noise)."""
    one, five, fifteen = os.getloadavg()
    return f"{os.cpu_count()} CPUs, load average {one:.2f} {five:.2f} {fifteen:.2f}"


def rotated(items: Sequence[Any], round_no: int) -> list[Any]:
    """``items`` starting at a different one each round, so no tool always goes first."""
    shift = round_no % len(items)
    return [*items[shift:], *items[:shift]]


def last_json(stdout: bytes) -> dict[str, Any]:
    """The last JSON line of ``lain -o json ...`` output: the result summary."""
    lines = [line for line in stdout.decode().splitlines() if line.strip()]
    return json.loads(lines[-1])


def preload_sdk() -> None:
    """Import what the SDK loads lazily, so in-process timings leave out import time."""
    import docker  # noqa: F401

    import lain_sdk.appconfig
    import lain_sdk.credentials
    import lain_sdk.engine
    import lain_sdk.git
    import lain_sdk.images.pipeline
    import lain_sdk.images.push
    import lain_sdk.registry  # noqa: F401


# -- git repositories ----------------------------------------------------------------------------


class Repo:
    """A throwaway git repository; commits get increasing fixed times (ordered versions)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.commit_time = 1700000000
        path.mkdir(parents=True)
        self.git("init", "-q")

    def git(self, *args: str) -> str:
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": "Bench",
            "GIT_AUTHOR_EMAIL": "bench@example.com",
            "GIT_COMMITTER_NAME": "Bench",
            "GIT_COMMITTER_EMAIL": "bench@example.com",
            "GIT_AUTHOR_DATE": f"{self.commit_time} +0000",
            "GIT_COMMITTER_DATE": f"{self.commit_time} +0000",
        }
        done = run(["git", "-c", "commit.gpgsign=false", *args], cwd=self.path, env=env)
        return done.stdout.decode().strip()

    def write(self, files: dict[str, str | bytes]) -> None:
        for name, content in files.items():
            target = self.path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content)

    def commit(self, message: str = "change") -> None:
        self.commit_time += 1
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)


# -- the run's images ----------------------------------------------------------------------------


class Scratch:
    """What one benchmark run owns: a temp dir, a unique token, and the images it makes.

    Use as a context manager: leaving it (normally or not) removes every image carrying the
    run's label, every image of the lain apps and docker repositories it registered, their
    containers, and the temp dir.
    """

    def __init__(self, prefix: str) -> None:
        import docker

        self.token = uuid.uuid4().hex[:10]
        self.client = docker.from_env(timeout=600)
        self.tmp = Path(tempfile.mkdtemp(prefix=f"{prefix}-"))
        self.base = f"bench-{self.token}-base:latest"
        self.apps: set[str] = set()
        self.repos: set[str] = set()  # docker repositories (any tag, with or without registry)

    def __enter__(self) -> Scratch:
        try:
            self.warm_lain()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    @property
    def lain_env(self) -> dict[str, str]:
        """The environment lain runs in: its bytecode cached (in the temp dir), as for an
        installed package, even where PYTHONDONTWRITEBYTECODE is set; its cache directory in
        the temp dir too (the first run fills it, as a user's first build does)."""
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = str(self.tmp / "pycache")
        env["XDG_CACHE_HOME"] = str(self.tmp / "xdg-cache")
        return env

    def lain(self, *args: str) -> tuple[float, subprocess.CompletedProcess[bytes]]:
        """``lain ARGS`` through the console script: wall time and output."""
        return timed([*LAIN, *args], env=self.lain_env)

    def warm_lain(self) -> None:
        """Fill the bytecode cache, so no measured run pays for compiling modules."""
        code = (
            "import lain_cli.main, lain_cli.commands.build, lain_cli.context, lain_cli.progress, "
            "lain_sdk.images.pipeline, lain_sdk.images.push, lain_sdk.images.builder, "
            "lain_sdk.images.context, lain_sdk.appconfig.loader, lain_sdk.git, lain_sdk.engine, "
            "lain_sdk.credentials, lain_sdk.registry, docker, jsonschema, requests, yaml, "
            "keyring; keyring.get_keyring()"
        )
        run([PY, "-c", code], env=self.lain_env)
        run([*LAIN, "build", "--help"], env=self.lain_env)

    def __exit__(self, *exc: object) -> None:
        try:
            self.remove_images()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.client.close()

    def name(self, what: str) -> str:
        """A unique name, valid for a lain app and a docker repository."""
        return f"bench-{self.token}-{what}"

    def make_base(self) -> str:
        """(Re)make the run's base image: a new image id, so nothing built before is cached."""
        if self.client.api.images(name=BASE_SOURCE) == []:
            raise BenchError(f"the base image {BASE_SOURCE} is missing (scripts/setup-engine)")
        dockerfile = (
            f"FROM {BASE_SOURCE}\nLABEL {RUN_LABEL}={self.token} bench.base={uuid.uuid4().hex}\n"
        )
        run(["docker", "build", "-q", "-t", self.base, "-"], env=docker_env(),
            stdin=dockerfile.encode())
        return self.base

    def remove_images(self) -> None:
        from docker.errors import APIError, NotFound

        api = self.client.api
        found: dict[str, dict[str, Any]] = {}
        queries: list[dict[str, Any]] = [{"filters": {"label": f"{RUN_LABEL}={self.token}"}}]
        queries += [{"filters": {"label": f"lain.app={app}"}} for app in self.apps]
        for query in queries:
            for image in api.images(all=True, **query):
                found[image["Id"]] = image
        for image in api.images():
            for tag in image.get("RepoTags") or []:
                repo = tag.rsplit(":", 1)[0].split("/")[-1]
                if repo in self.repos or repo in self.apps or tag == self.base:
                    found[image["Id"]] = image
        for container in api.containers(all=True):
            if container.get("ImageID") in found:
                with contextlib.suppress(APIError):
                    api.remove_container(container["Id"], force=True)
        # Children are newer than their parents: newest first, a few passes for stragglers.
        pending = sorted(found.values(), key=lambda i: i.get("Created", 0), reverse=True)
        for _ in range(4):
            failed = []
            for image in pending:
                try:
                    api.remove_image(image["Id"], force=True)
                except NotFound:
                    pass
                except APIError:
                    failed.append(image)
            if not failed:
                return
            pending = failed
        print(f"warning: could not remove {len(pending)} image(s) of this run", file=sys.stderr)


# -- a throwaway registry ------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(url: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@contextlib.contextmanager
def registry(workdir: Path) -> Iterator[str]:
    """Debian's docker-registry on a free loopback port; yields ``127.0.0.1:PORT``.

    The engine talks plain HTTP to loopback registries without configuration.
    """
    program = shutil.which("docker-registry") or "/usr/bin/docker-registry"
    if not Path(program).exists():
        raise BenchError("docker-registry is not installed (scripts/setup-engine)")
    workdir.mkdir(parents=True, exist_ok=True)
    last_error = ""
    for _attempt in range(3):  # the free port may be taken before the registry binds it
        port = _free_port()
        config = {
            "version": 0.1,
            "log": {"level": "warn", "accesslog": {"disabled": True}},
            "storage": {"filesystem": {"rootdirectory": str(workdir / "data")}},
            "http": {"addr": f"127.0.0.1:{port}", "secret": uuid.uuid4().hex},
        }
        config_path = workdir / "config.yml"
        config_path.write_text(json.dumps(config))  # JSON is YAML
        log_path = workdir / "registry.log"
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                [program, "serve", str(config_path)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            )
        try:
            deadline = time.monotonic() + 30
            while process.poll() is None and time.monotonic() < deadline:
                if _answers(f"http://127.0.0.1:{port}/v2/"):
                    yield f"127.0.0.1:{port}"
                    return
                time.sleep(0.1)
            last_error = log_path.read_text(errors="replace")[-2000:]
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
    raise BenchError(f"docker-registry did not start:\n{last_error}")


# -- where lain's time goes ----------------------------------------------------------------------


def profile_cli(args: Sequence[str], *, top: int = 25, env: dict[str, str] | None = None) -> None:
    """Run ``lain ARGS`` once under ``-X importtime`` and once under cProfile; print the
    slowest top-level imports and the functions with the most cumulative time."""
    import io
    import pstats

    done = subprocess.run([PY, "-X", "importtime", "-m", "lain_cli", *args], env=env,
                          capture_output=True)
    imports: list[tuple[int, str]] = []
    for line in done.stderr.decode(errors="replace").splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _self, cumulative, name = line.split("|", 2)
        if name.startswith(" ") and not name.startswith("  "):  # top level: one space
            imports.append((int(cumulative), name.strip()))
    total = sum(us for us, _ in imports)
    print(f"  imports (-X importtime, one run): {total / 1e6:.2f} s in all; slowest top-level:")
    for us, name in sorted(imports, reverse=True)[:8]:
        print(f"    {us / 1e6:6.3f} s  {name}")
    with tempfile.TemporaryDirectory(prefix="lain-bench-prof-") as tmp:
        out = Path(tmp) / "lain.prof"
        run([PY, "-m", "cProfile", "-o", str(out), "-m", "lain_cli", *args], env=env)
        text = io.StringIO()
        stats = pstats.Stats(str(out), stream=text)
        stats.sort_stats("cumulative").print_stats(r"lain_(sdk|cli)/", top)
        stats.sort_stats("tottime").print_stats(12)
    prefixes = [f"{ROOT}{os.sep}", f"{sys.prefix}{os.sep}lib{os.sep}",
                f"{sys.base_prefix}{os.sep}lib{os.sep}"]
    heading = [f"  cProfile, one run: lain's functions by cumulative time (top {top}), "
               "then all functions by own time (top 12):"]
    for line in text.getvalue().splitlines():
        if not line.strip() or not (line.lstrip()[:1].isdigit() or "ncalls" in line):
            continue
        for prefix in prefixes:
            line = line.replace(prefix, "")
        heading.append(f"    {line.rstrip()}")
    print("\n".join(heading))
