"""Shared fixtures: an isolated environment for every test, and a way to run ``lain``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from lain_cli.main import main

REPO_ROOT = Path(__file__).resolve().parent.parent
# Real lain.yaml files from public repositories live beside the project, not inside it.
CORPUS = REPO_ROOT.parent / "shared" / "corpus"
EXAMPLES = REPO_ROOT / "examples"
IN_CI = os.environ.get("CI", "") not in ("", "0", "false")


@pytest.fixture(autouse=True)
def isolation(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test sees the developer's configuration, keyring or LAIN_* variables."""
    home = tmp_path_factory.mktemp("home")
    for name in list(os.environ):
        if name.startswith("LAIN_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    return home


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def lain():
    """Run ``lain ARGS...`` in-process through the real entry point (error funnel included)."""

    def run(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
        runner = CliRunner()
        with runner.isolation(input=input, env=env) as (out, err, _):
            try:
                main(list(args))
                code = 0
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        return Result(code, out.getvalue().decode(), err.getvalue().decode())

    return run


def corpus_dir(name: str) -> Path:
    """A folder of the shared corpus; skips (with the reason) when it is absent."""
    path = CORPUS / name
    if not path.is_dir():
        pytest.skip(f"shared corpus not found at {path}")
    return path
