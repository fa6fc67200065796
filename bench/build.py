"""lain build next to `docker build` of equivalent hand-written Dockerfiles, in one run.

    .venv/bin/python bench/build.py [--runs N] [--part cold|rebuild|context ...] [--steps]
                                    [--profile]

One sample app (a throwaway git repo): a prepare step (a sleep standing for a dependency
download, then generating and compressing files), a build step that generates and compresses
files from the sources, and a release of dest_base plus the built files.  Docker builds the
same steps from Dockerfiles committed next to lain.yaml (with a .dockerignore leaving out .git).

  cold     every build on a fresh base image (nothing cached for anyone):
           lain build  vs  docker build of a multi-stage Dockerfile        (target <= 1.10x)
  rebuild  after a one-file change to the sources:
           lain build  vs  the hand-optimised multi-stage Dockerfile       (target <= 1.10x)
                       vs  a naive single-stage Dockerfile                 (target: far below 1x)
           then with no change at all (every layer cached): the fixed cost of each tool
  context  the bytes sent to the engine with and without a 200 MB file that .gitignore
           ignores, next to what `docker build .` (no .dockerignore) sends

lain runs through its console script (`lain build --app-dir DIR`), as users run it; the same
build through the SDK in this process (lain_sdk.build_app, imports done beforehand) shows how
much of the difference is start-up.  Medians of N runs, every sample printed: the machine may
be shared, and the order of the tools rotates each run.  --steps times one more build of each
tool step by step; --profile shows where a no-change `lain build` spends its time.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from _common import (
    LAIN_SHOWN,
    TARGET,
    BenchError,
    Repo,
    Scratch,
    docker_env,
    last_json,
    load_line,
    median,
    preload_sdk,
    profile_cli,
    rotated,
    run,
    samples_text,
    timed,
    timed_call,
)

PREPARE_SLEEP = 2  # seconds; stands for downloading dependencies
PREPARE = [
    "mkdir -p /opt/deps",
    f"sleep {PREPARE_SLEEP}",
    "for i in $(seq 1 16); do dd if=/dev/urandom bs=64k count=16 2>/dev/null"
    " | gzip -6 > /opt/deps/lib$i.gz; done",
]
BUILD = [
    "mkdir -p dist",
    "for i in $(seq 1 32); do (cat src/*.txt; dd if=/dev/urandom bs=64k count=8 2>/dev/null)"
    " | gzip -9 > dist/part$i.gz; done",
    "cat src/*.txt > dist/index.html && gzip -9 -k dist/index.html",
    "cd dist && sha256sum * > SHA256SUMS",
]
COPY = [("/lain/app/dist", "/app/dist")]
APP_DIR = "/lain/app"


def lain_yaml(app: str, base: str) -> str:
    def block(lines: list[str], indent: str) -> str:
        return "".join(f"{indent}- {json.dumps(line)}\n" for line in lines)

    copies = "".join(f"    - src: {src}\n      dest: {dest}\n" for src, dest in COPY)
    return (
        f"appname: {app}\n"
        "build:\n"
        f"  base: {base}\n"
        "  prepare:\n"
        "    script:\n"
        f"{block(PREPARE, '      ')}"
        "  script:\n"
        f"{block(BUILD, '    ')}"
        "release:\n"
        f"  dest_base: {base}\n"
        "  copy:\n"
        f"{copies}"
        "web:\n"
        "  cmd: httpd -f -p 80 -h /app/dist\n"
        "  port: 80\n"
    )


def optimised_dockerfile(base: str) -> str:
    """What a careful hand would write: dependencies in a stage of their own (cached as long
    as they do not change), sources copied after them, runtime image from the artefacts."""
    return "".join(
        [
            f"FROM {base} AS prepare\n",
            f"WORKDIR {APP_DIR}\n",
            *(f"RUN {line}\n" for line in PREPARE),
            "\nFROM prepare AS build\n",
            f"COPY . {APP_DIR}/\n",
            *(f"RUN {line}\n" for line in BUILD),
            f"\nFROM {base} AS release\n",
            *(f"COPY --from=build {src} {dest}\n" for src, dest in COPY),
            f"WORKDIR {APP_DIR}\n",
        ]
    )


def naive_dockerfile(base: str) -> str:
    """Sources first, then every step: any change to the sources reruns the prepare work."""
    return "".join(
        [
            f"FROM {base}\n",
            f"WORKDIR {APP_DIR}\n",
            f"COPY . {APP_DIR}/\n",
            *(f"RUN {line}\n" for line in [*PREPARE, *BUILD]),
        ]
    )


def source_files(n: int = 12) -> dict[str, str]:
    return {
        f"src/page{i:02d}.txt": "".join(f"<p>page {i} line {j}</p>\n" for j in range(200))
        for i in range(n)
    }


def make_sample(scratch: Scratch, name: str, *, dockerfiles: bool = True) -> tuple[str, Repo]:
    app = scratch.name(name)
    scratch.apps.add(app)
    repo = Repo(scratch.tmp / app)
    files: dict[str, str | bytes] = {
        "lain.yaml": lain_yaml(app, scratch.base),
        "src/main.txt": "main 0\n",
        **source_files(),
    }
    if dockerfiles:
        files["docker/optimised.Dockerfile"] = optimised_dockerfile(scratch.base)
        files["docker/naive.Dockerfile"] = naive_dockerfile(scratch.base)
        files[".dockerignore"] = ".git\n"
    repo.write(files)
    repo.commit("first")
    return app, repo


# -- the tools ------------------------------------------------------------------------------------


def lain_cli_build(scratch: Scratch, repo: Repo) -> Callable[[], float]:
    def go() -> float:
        seconds, _ = scratch.lain("build", "--app-dir", str(repo.path))
        return seconds

    return go


def sdk_build(repo: Repo) -> Callable[[], float]:
    def go() -> float:
        import lain_sdk

        seconds, _ = timed_call(lambda: lain_sdk.drain(lain_sdk.build_app(repo.path)))
        return seconds

    return go


def docker_build(scratch: Scratch, repo: Repo, dockerfile: str, tag: str) -> Callable[[], float]:
    repository = scratch.name("docker")
    scratch.repos.add(repository)

    def go() -> float:
        seconds, _ = timed(
            ["docker", "build", "--force-rm", "-f", dockerfile, "-t", f"{repository}:{tag}", "."],
            cwd=repo.path,
            env=docker_env(),
        )
        return seconds

    return go


def report(title: str, results: dict[str, list[float]]) -> None:
    print(title)
    for name, samples in results.items():
        print(f"  {name:<44} {median(samples):7.2f} s  {samples_text(samples)}")


def ratio_line(name: str, ours: list[float], theirs: list[float], target: str) -> str:
    return f"  {name:<44} {median(ours) / median(theirs):7.2f}x  ({target})"


# -- where the time goes: one build each, step by step -------------------------------------------

_LAIN_STEP = re.compile(r"^\[(\d+)/(\d+)\] (.*)$")
_DOCKER_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")


def _durations(marks: list[tuple[float, str]], end: float) -> list[tuple[str, float]]:
    """Each mark's label with the time until the next mark (the last one: until ``end``)."""
    times = [t for t, _ in marks[1:]] + [end]
    return [(label, nxt - t) for (t, label), nxt in zip(marks, times, strict=True)]


def lain_steps(repo: Repo) -> list[tuple[str, float]]:
    """One build_app in process, timed from event to event (each build step's start is one)."""
    import lain_sdk
    from lain_sdk.events import PhaseFinished, PhaseLog, PhaseStarted

    start = time.perf_counter()
    marks = [(start, "(before the first step: lain.yaml, git, base, context)")]

    def on_event(event: object) -> None:
        now = time.perf_counter()
        if isinstance(event, PhaseLog):
            match = _LAIN_STEP.match(event.line)
            if match:  # a step of the classic builder
                marks.append((now, f"{event.phase:<8} {match[1]:>2}/{match[2]:<2} {match[3]}"))
            elif event.line.startswith("RUN "):  # a line run in a container, outside it
                marks.append((now, f"{event.phase:<8} exec  {event.line}"))
        elif isinstance(event, PhaseStarted):
            marks.append((now, f"({event.phase} started)"))
        elif isinstance(event, PhaseFinished):
            marks.append((now, f"(after {event.phase} ended)"))

    lain_sdk.drain(lain_sdk.build_app(repo.path), on_event=on_event)
    return _durations(marks, time.perf_counter())


def docker_steps(repo: Repo, dockerfile: str, reference: str) -> list[tuple[str, float]]:
    """One `docker build`, timed from output line to output line (its output is unbuffered)."""
    start = time.perf_counter()
    marks = [(start, "(before the first step: CLI start, context)")]
    process = subprocess.Popen(
        ["docker", "build", "--force-rm", "-f", dockerfile, "-t", reference, "."],
        cwd=repo.path, env=docker_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    assert process.stdout is not None
    for raw in process.stdout:
        line = raw.decode(errors="replace").rstrip()
        match = _DOCKER_STEP.match(line)
        if match:
            marks.append((time.perf_counter(), f"{match[1]:>2}/{match[2]:<2} {match[3]}"))
        elif line.startswith("Successfully built"):
            marks.append((time.perf_counter(), "(after the last step)"))
    if process.wait() != 0:
        raise BenchError(f"docker build of {dockerfile} failed")
    return _durations(marks, time.perf_counter())


def print_steps(title: str, steps: list[tuple[str, float]]) -> None:
    print(f"  {title}: {sum(s for _, s in steps):.2f} s")
    for label, seconds in steps:
        shown = label if len(label) <= 78 else label[:75] + "..."
        print(f"    {seconds:6.2f}  {shown}")


# -- the parts ------------------------------------------------------------------------------------


def cold(runs: int, steps: bool, profile: bool) -> None:
    with Scratch("lain-bench-cold") as scratch:
        scratch.make_base()
        _, repo = make_sample(scratch, "cold")
        tools = {
            "docker build (multi-stage Dockerfile)": docker_build(
                scratch, repo, "docker/optimised.Dockerfile", "cold"
            ),
            "lain build (CLI)": lain_cli_build(scratch, repo),
            "build_app (SDK, in process)": sdk_build(repo),
        }
        results: dict[str, list[float]] = {name: [] for name in tools}
        for round_no in range(runs):
            for name in rotated(list(tools), round_no):
                scratch.remove_images()  # nothing left from the previous build...
                scratch.make_base()  # ...and a new base id: no layer can be cached
                results[name].append(tools[name]())
        docker, cli, sdk = results.values()
        report(f"cold build, median of {runs} runs (fresh base image each build)", results)
        print(ratio_line("lain build / docker build", cli, docker, f"target <= {TARGET:.2f}x"))
        print(ratio_line("build_app / docker build", sdk, docker, "SDK alone"))
        print(f"  {'lain CLI overhead (CLI - SDK medians)':<44} {median(cli) - median(sdk):7.2f} s")
        if steps:
            print("where the time goes, one more cold build each (step start to next step start):")
            scratch.remove_images()
            scratch.make_base()
            print_steps("lain (build_app in process)", lain_steps(repo))
            scratch.remove_images()
            scratch.make_base()
            reference = f"{scratch.name('docker')}:cold"
            print_steps(
                "docker build", docker_steps(repo, "docker/optimised.Dockerfile", reference)
            )


def rebuild(runs: int, steps: bool, profile: bool) -> None:
    with Scratch("lain-bench-rebuild") as scratch:
        scratch.make_base()
        _, repo = make_sample(scratch, "rebuild")
        tools = {
            "docker build, hand-optimised multi-stage": docker_build(
                scratch, repo, "docker/optimised.Dockerfile", "optimised"
            ),
            "docker build, naive single-stage": docker_build(
                scratch, repo, "docker/naive.Dockerfile", "naive"
            ),
            "lain build (CLI)": lain_cli_build(scratch, repo),
            "build_app (SDK, in process)": sdk_build(repo),
        }
        for go in tools.values():  # warm: prepare images and layers exist for everyone
            go()
        results: dict[str, list[float]] = {name: [] for name in tools}
        change = 0
        for round_no in range(runs):
            for name in rotated(list(tools), round_no):
                change += 1  # every build sees a change it has not built yet
                repo.write({"src/main.txt": f"main {change}\n"})
                repo.commit(f"change {change}")
                results[name].append(tools[name]())
        optimised, naive, cli, sdk = results.values()
        report(
            f"rebuild after a one-file change (prepare: sleep {PREPARE_SLEEP} s + work), "
            f"median of {runs} runs",
            results,
        )
        print(ratio_line("lain build / hand-optimised", cli, optimised, f"target <= {TARGET:.2f}x"))
        print(ratio_line("lain build / naive", cli, naive, "target: far below 1x"))
        print(ratio_line("build_app / hand-optimised", sdk, optimised, "SDK alone"))
        print(f"  {'lain CLI overhead (CLI - SDK medians)':<44} {median(cli) - median(sdk):7.2f} s")
        # No change at all: every layer cached for everyone, so what is left is fixed cost.
        fixed_names = (
            "docker build, hand-optimised multi-stage",
            "lain build (CLI)",
            "build_app (SDK, in process)",
        )
        fixed_tools = {name: tools[name] for name in fixed_names}
        for go in fixed_tools.values():  # each catches up with the last change, untimed
            go()
        fixed: dict[str, list[float]] = {name: [] for name in fixed_tools}
        for round_no in range(max(runs, 5)):
            for name in rotated(list(fixed_tools), round_no):
                fixed[name].append(fixed_tools[name]())
        report(
            f"no-change rebuild (every layer cached): fixed cost, median of {max(runs, 5)} runs",
            fixed,
        )
        f_docker, f_cli, f_sdk = fixed.values()
        print(ratio_line("lain build / docker build", f_cli, f_docker, "fixed cost"))
        print(f"  {'lain CLI overhead (CLI - SDK medians)':<44} "
              f"{median(f_cli) - median(f_sdk):7.2f} s")
        if profile:
            print("where one no-change `lain build` spends its time:")
            profile_cli(["build", "--app-dir", str(repo.path)], env=scratch.lain_env)
        if steps:
            print("where the time goes, one more rebuild each (step start to next step start):")
            for name in ("lain", "docker"):
                change += 1
                repo.write({"src/main.txt": f"main {change}\n"})
                repo.commit(f"change {change}")
                if name == "lain":
                    print_steps("lain (build_app in process)", lain_steps(repo))
                else:
                    reference = f"{scratch.name('docker')}:optimised"
                    print_steps(
                        "docker build, hand-optimised",
                        docker_steps(repo, "docker/optimised.Dockerfile", reference),
                    )


def _dir_bytes(directory: Path) -> int:
    """The size of every file under ``directory``, .git included: what the docker CLI packs
    when there is no .dockerignore."""
    return sum(
        (Path(d) / f).lstat().st_size for d, _, files in os.walk(directory) for f in files
    )


def _docker_says(directory: Path, base: str) -> str:
    """The docker CLI's own "Sending build context" figure for ``directory``."""
    done = run(
        ["docker", "build", "-f-", "."], cwd=directory, env=docker_env(),
        stdin=f"FROM {base}\n".encode(),
    )
    for line in done.stdout.decode(errors="replace").splitlines():
        if line.startswith("Sending build context"):
            return line.rsplit(" ", 1)[-1]
    return "?"


def context(runs: int, steps: bool, profile: bool) -> None:
    size_mb = 200
    with Scratch("lain-bench-context") as scratch:
        scratch.make_base()
        _, repo = make_sample(scratch, "context", dockerfiles=False)
        repo.write({".gitignore": "*.bin\n"})
        repo.commit("ignore downloads")
        scratch.lain("build", "--app-dir", str(repo.path))  # cold once; measured runs are warm

        def lain_json() -> tuple[list[float], int]:
            times, sizes = [], set()
            for _ in range(runs):
                seconds, done = scratch.lain("-o", "json", "build", "--app-dir", str(repo.path))
                times.append(seconds)
                sizes.add(int(last_json(done.stdout)["context_bytes"]))
            return times, max(sizes)

        without_t, without_b = lain_json()
        docker_without = _dir_bytes(repo.path), _docker_says(repo.path, scratch.base)
        big = repo.path / "cache" / "download.bin"
        big.parent.mkdir()
        with big.open("wb") as f:
            for _ in range(size_mb):
                f.write(os.urandom(1 << 20))
        status = repo.git("status", "--porcelain")
        with_t, with_b = lain_json()
        docker_with = _dir_bytes(repo.path), _docker_says(repo.path, scratch.base)

        print(f"build context with a {size_mb} MB file that .gitignore ignores "
              f"(git status: {'clean' if not status else 'NOT clean: ' + status})")
        print(f"  {'':<44} {'without the file':>16} {'with it':>16}")
        growth = "no growth" if with_b == without_b else f"grew by {with_b - without_b:,}"
        print(f"  {'lain build: context_bytes (-o json)':<44} {without_b:>16,} {with_b:>16,}"
              f"  {growth}")
        print(f"  {'the directory, .git included (bytes)':<44} {docker_without[0]:>16,} "
              f"{docker_with[0]:>16,}")
        print(f"  {'docker build . sends (the CLI says)':<44} {docker_without[1]:>16} "
              f"{docker_with[1]:>16}")
        print(f"  {f'lain build, warm: median of {runs} (s)':<44} {median(without_t):>16.2f} "
              f"{median(with_t):>16.2f}  {samples_text(without_t)} {samples_text(with_t)}")


PARTS = {"cold": cold, "rebuild": rebuild, "context": context}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="measured runs per tool (default 3)")
    parser.add_argument(
        "--steps", action="store_true",
        help="after cold and rebuild, time one more build of each tool step by step",
    )
    parser.add_argument(
        "--profile", action="store_true",
        help="after rebuild, show where one no-change `lain build` spends its time",
    )
    parser.add_argument(
        "--part", action="append", choices=list(PARTS),
        help="run only this part (repeatable; default: all)",
    )
    args = parser.parse_args()
    preload_sdk()
    print(f"lain: {LAIN_SHOWN}; {load_line()}")
    for name in args.part or list(PARTS):
        PARTS[name](args.runs, args.steps, args.profile)
        print(f"  ({load_line()})\n")


if __name__ == "__main__":
    main()
