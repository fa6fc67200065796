"""lain push next to `docker push` of the same references, when the registry has every layer.

    .venv/bin/python bench/push.py [--runs N]

A registry (Debian's docker-registry) is started on a free loopback port for the run.  A
sample app's release (a base layer and a few copied layers, several MB) and meta images are
built with lain and pushed once by each tool, so every later push finds all layers in place:
what is measured is the cost of checking the layers and putting the manifests.

  lain push --registry H        vs  docker push H/<app>:release-<mv>; docker push H/<app>:meta-<mv>
                                                                              (target <= 1.10x)
and, for reference, `docker push --all-tags H/<app>` (both tags in one command) and push_app
through the SDK in this process (imports done beforehand).  Medians of N runs, every sample
printed; the order of the tools rotates each run.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable

from _common import (
    LAIN_SHOWN,
    TARGET,
    Repo,
    Scratch,
    docker_env,
    last_json,
    load_line,
    median,
    preload_sdk,
    profile_cli,
    registry,
    rotated,
    samples_text,
    timed,
    timed_call,
)

BUILD = [
    "mkdir -p dist conf",
    "for i in $(seq 1 8); do dd if=/dev/urandom bs=64k count=16 2>/dev/null > dist/blob$i; done",
    "cp src/*.txt conf/",
    "date > VERSION",
]
COPY = [
    ("/lain/app/dist", "/app/dist"),
    ("/lain/app/conf", "/app/conf"),
    ("/lain/app/VERSION", "/app/VERSION"),
]


def lain_yaml(app: str, base: str) -> str:
    lines = "".join(f"    - {json.dumps(line)}\n" for line in BUILD)
    copies = "".join(f"    - src: {src}\n      dest: {dest}\n" for src, dest in COPY)
    return (
        f"appname: {app}\n"
        f"build:\n  base: {base}\n  script:\n{lines}"
        f"release:\n  dest_base: {base}\n  copy:\n{copies}"
        "web:\n  cmd: httpd -f -p 80 -h /app/dist\n  port: 80\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="measured runs per tool (default 5)")
    parser.add_argument(
        "--profile", action="store_true",
        help="afterwards, show where one `lain push` spends its time (imports, cProfile)",
    )
    args = parser.parse_args()
    preload_sdk()
    import lain_sdk

    with Scratch("lain-bench-push") as scratch, registry(scratch.tmp / "registry") as host:
        scratch.make_base()
        app = scratch.name("push")
        scratch.apps.add(app)
        repo = Repo(scratch.tmp / app)
        repo.write(
            {"lain.yaml": lain_yaml(app, scratch.base), "src/a.txt": "a\n", "src/b.txt": "b\n"}
        )
        repo.commit("first")
        app_dir = str(repo.path)
        built = last_json(scratch.lain("-o", "json", "build", "--app-dir", app_dir)[1].stdout)
        mv = built["meta_version"]
        references = [f"{host}/{app}:{phase}-{mv}" for phase in ("release", "meta")]

        def lain_cli() -> float:
            seconds, _ = scratch.lain("push", "--registry", host, "--app-dir", app_dir)
            return seconds

        def sdk() -> float:
            seconds, _ = timed_call(
                lambda: lain_sdk.drain(lain_sdk.push_app(app_dir, registry=host))
            )
            return seconds

        def docker_each() -> float:
            total = 0.0
            for reference in references:
                seconds, _ = timed(["docker", "push", reference], env=docker_env())
                total += seconds
            return total

        def docker_all_tags() -> float:
            seconds, _ = timed(
                ["docker", "push", "--all-tags", f"{host}/{app}"], env=docker_env()
            )
            return seconds

        # First pushes: lain uploads the layers (and tags the registry references locally).
        first = last_json(
            scratch.lain("-o", "json", "push", "--registry", host, "--app-dir", app_dir)[1].stdout
        )
        uploaded = sum(p["uploaded_layers"] for p in first["pushed"])
        tools: dict[str, Callable[[], float]] = {
            "docker push (release, then meta)": docker_each,
            "docker push --all-tags (one command)": docker_all_tags,
            "lain push (CLI)": lain_cli,
            "push_app (SDK, in process)": sdk,
        }
        for go in tools.values():  # warm: each tool has pushed once
            go()
        again = last_json(
            scratch.lain("-o", "json", "push", "--registry", host, "--app-dir", app_dir)[1].stdout
        )
        skipped = sum(p["skipped_layers"] for p in again["pushed"])
        re_uploaded = sum(p["uploaded_layers"] for p in again["pushed"])
        results: dict[str, list[float]] = {name: [] for name in tools}
        for round_no in range(args.runs):
            for name in rotated(list(tools), round_no):
                results[name].append(tools[name]())

        each, all_tags, cli, in_process = results.values()
        print(f"lain: {LAIN_SHOWN}; {load_line()}")
        print(
            f"push of release + meta whose layers the registry has ({uploaded} layers uploaded "
            f"by the first push; later pushes: {skipped} skipped, {re_uploaded} uploaded), "
            f"median of {args.runs} runs"
        )
        for name, samples in results.items():
            print(f"  {name:<44} {median(samples):7.2f} s  {samples_text(samples)}")
        print(f"  {'lain push / docker push (release, meta)':<44} "
              f"{median(cli) / median(each):7.2f}x  (target <= {TARGET:.2f}x)")
        print(f"  {'lain push / docker push --all-tags':<44} "
              f"{median(cli) / median(all_tags):7.2f}x  (one docker command)")
        print(f"  {'push_app / docker push (release, meta)':<44} "
              f"{median(in_process) / median(each):7.2f}x  (SDK alone)")
        print(f"  {'lain CLI overhead (CLI - SDK medians)':<44} "
              f"{median(cli) - median(in_process):7.2f} s")
        if args.profile:
            print("where one `lain push` spends its time:")
            profile_cli(["push", "--registry", host, "--app-dir", app_dir], env=scratch.lain_env)


if __name__ == "__main__":
    main()
