"""Start-up cost of lain next to the libraries it needs, measured side by side in one run.

    .venv/bin/python bench/startup.py [--runs N]

Prints median wall times and the ratios the targets are stated in:
  lain --version / --help      vs  python -c "import click"                  (target <= 1.3x)
  lain validate <corpus file>  vs  python -c "import click, yaml, jsonschema"  (target <= 1.3x)
and the time to validate every corpus file in one process (target < 1 s).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "data" / "corpus" / "lain-yaml"
EXAMPLE = ROOT / "examples" / "hello" / "lain.yaml"


# Installed packages run from compiled bytecode; a checkout with PYTHONDONTWRITEBYTECODE set
# would recompile lain on every start.  Every command measured here (lain's and the baselines)
# gets the same bytecode cache, outside the source tree, filled by the warm-up run.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
ENV["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="lain-bench-pyc-")
# lain remembers lain.yaml texts that passed its schema (in its cache directory): a run of its
# own, so that "first time" and "again" are measured apart and the user's cache is untouched.
ENV["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="lain-bench-cache-")


def wall(cmd: list[str], runs: int, *, fresh_cache: bool = False) -> float:
    """Median wall time of ``cmd`` in milliseconds (one warm-up run first).

    With ``fresh_cache`` every run gets an empty lain cache directory, as a lain.yaml seen for
    the first time has.
    """
    subprocess.run(cmd, check=True, capture_output=True, env=ENV)
    times = []
    for _ in range(runs):
        env = ENV
        if fresh_cache:
            env = {**ENV, "XDG_CACHE_HOME": tempfile.mkdtemp(dir=ENV["XDG_CACHE_HOME"])}
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env=env)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    py = sys.executable
    script = Path(py).parent / "lain"  # the installed console script, as users run it
    lain = [str(script)] if script.exists() else [py, "-m", "lain_cli"]
    sample = next(iter(sorted(CORPUS.glob("*.yaml"))), EXAMPLE) if CORPUS.is_dir() else EXAMPLE

    base = {
        "python -c pass": wall([py, "-c", "pass"], args.runs),
        "import click": wall([py, "-c", "import click"], args.runs),
        "import click, yaml, jsonschema": wall(
            [py, "-c", "import click, yaml, jsonschema"], args.runs
        ),
    }
    ours = {
        "lain --version": (wall([*lain, "--version"], args.runs), "import click"),
        "lain --help": (wall([*lain, "--help"], args.runs), "import click"),
        f"lain validate {sample.name}, first time": (
            wall([*lain, "validate", str(sample)], args.runs, fresh_cache=True),
            "import click, yaml, jsonschema",
        ),
        f"lain validate {sample.name}, again": (
            wall([*lain, "validate", str(sample)], args.runs),
            "import click, yaml, jsonschema",
        ),
    }
    print(f"median of {args.runs} runs, {py}")
    for name, ms in base.items():
        print(f"  {name:<55} {ms:7.1f} ms")
    for name, (ms, against) in ours.items():
        ratio = ms / base[against]
        print(f"  {name:<55} {ms:7.1f} ms  {ratio:4.2f}x of '{against}'  (target <= 1.30x)")

    files = sorted(CORPUS.glob("*.yaml")) if CORPUS.is_dir() else [EXAMPLE]
    code = (
        "import sys, time; from lain_sdk import check_app_config as c; t=time.perf_counter(); "
        "[c(p) for p in sys.argv[1:]]; print((time.perf_counter()-t)*1000)"
    )
    out = subprocess.run(
        [py, "-c", code, *map(str, files)], check=True, capture_output=True, env=ENV
    )
    total = float(out.stdout.decode().strip())
    print(
        f"  validate all {len(files)} corpus files in one process {total:7.1f} ms"
        "  (target < 1000 ms)"
    )


if __name__ == "__main__":
    try:
        main()
    finally:
        shutil.rmtree(ENV["PYTHONPYCACHEPREFIX"], ignore_errors=True)
        shutil.rmtree(ENV["XDG_CACHE_HOME"], ignore_errors=True)
