"""The runnable examples of the README: ```python blocks preceded by <!-- example: NAME -->."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
_EXAMPLE = re.compile(r"<!-- example: (?P<name>[\w-]+) -->\s*```python\n(?P<code>.*?)```", re.S)


def readme_examples() -> dict[str, str]:
    return {m["name"]: m["code"] for m in _EXAMPLE.finditer(README.read_text())}


def run_example(name: str, env: dict[str, str] | None = None, timeout: float = 300) -> str:
    """Run one example in a fresh interpreter from the repository root; return its stdout."""
    code = readme_examples()[name]
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=README.parent,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    assert done.returncode == 0, f"README example {name} failed:\n{done.stderr}"
    return done.stdout
