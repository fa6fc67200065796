"""Fixtures for the SDK's fast tests (no Docker engine)."""

from __future__ import annotations

import os
import subprocess
import types
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keyring
import keyring.backend
import keyring.errors
import pytest
from fakes.base import FakeClock
from fakes.engine import BASE_IMAGE
from fakes.images import ImageEngine

FIRST_COMMIT_TIME = 1700000000

@pytest.fixture
def engine_clock(engine: ImageEngine, monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """lain's image deadlines read the fake engine's clock, which moves only when the engine
    does work scripted to take time: timeouts without waiting."""
    shim = types.SimpleNamespace(monotonic=engine.clock.monotonic)
    monkeypatch.setattr("lain_sdk.images.builder.time", shim)
    monkeypatch.setattr("lain_sdk.images.push.time", shim)
    return engine.clock


@dataclass
class SampleApp:
    """An app in a git repository of its own; commits get increasing fixed times."""

    name: str
    path: Path
    commit_time: int = FIRST_COMMIT_TIME

    def write(self, relative: str, content: str | bytes) -> Path:
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)
        return target

    def git(self, *args: str) -> str:
        stamp = f"{self.commit_time} +0000"
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": "Test",
            "GIT_AUTHOR_EMAIL": "test@example.com",
            "GIT_COMMITTER_NAME": "Test",
            "GIT_COMMITTER_EMAIL": "test@example.com",
            "GIT_AUTHOR_DATE": stamp,
            "GIT_COMMITTER_DATE": stamp,
        }
        done = subprocess.run(
            ["git", "-c", "commit.gpgsign=false", *args],
            cwd=self.path,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        return done.stdout.strip()

    def commit(self, message: str = "change") -> str:
        """Commit everything, one second after the previous commit; return the meta version."""
        self.commit_time += 1
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.meta_version

    @property
    def meta_version(self) -> str:
        return f"{self.commit_time}-{self.git('rev-parse', 'HEAD')}"

    @property
    def lain_yaml(self) -> str:
        return (self.path / "lain.yaml").read_text()

    def edit(self, old: str, new: str) -> None:
        """Replace ``old`` (which must be there) by ``new`` in lain.yaml."""
        assert old in self.lain_yaml, old
        self.write("lain.yaml", self.lain_yaml.replace(old, new))


@pytest.fixture
def make_app(tmp_path: Path) -> Callable[..., SampleApp]:
    """``make_app(lain_yaml, files={...}, name="hello")``: a committed sample app; ``{name}``
    and ``{base}`` in the lain.yaml text are filled in."""

    def make(
        lain_yaml: str,
        files: Mapping[str, str | bytes] | None = None,
        *,
        name: str = "hello",
        commit: bool = True,
    ) -> SampleApp:
        path = tmp_path / f"repo-{name}"
        path.mkdir()
        app = SampleApp(name, path)
        app.git("init", "-q")
        app.write("lain.yaml", lain_yaml.replace("{name}", name).replace("{base}", BASE_IMAGE))
        for relative, content in (files or {}).items():
            app.write(relative, content)
        if commit:
            app.commit("first")
        return app

    return make


# == end of lain_sdk.images fixtures ===========================================================


# == lain_sdk.appconfig ========================================================================


@pytest.fixture
def full():
    """tests/data/full.yaml (every lain v2 key in one valid file), loaded: an ``AppConfig``."""
    from lain_sdk.appconfig import load_app_config
    from tests.conftest import DATA

    return load_app_config(DATA / "full.yaml")


# == end of lain_sdk.appconfig fixtures ========================================================


# == keyrings, for lain_sdk.credentials and lain_sdk.registry ===================================


class DictKeyring(keyring.backend.KeyringBackend):
    """A keyring backend that keeps passwords in a dict."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.store.pop((service, username), None) is None:
            raise keyring.errors.PasswordDeleteError("not found")


@pytest.fixture
def use_keyring() -> Iterator[Any]:
    """Install a keyring backend for one test, then put the previous one back."""
    previous = keyring.get_keyring()
    installed: list[Any] = []

    def install(backend: Any) -> Any:
        keyring.set_keyring(backend)
        installed.append(backend)
        return backend

    yield install
    keyring.set_keyring(previous)


@pytest.fixture
def fake_keyring(use_keyring: Any) -> DictKeyring:
    return use_keyring(DictKeyring())


@pytest.fixture
def env(isolation: Path) -> dict[str, str]:
    """An environment for a store: the isolated HOME and XDG folders, nothing else."""
    return {
        "HOME": str(isolation),
        "XDG_CONFIG_HOME": str(isolation / ".config"),
        "PATH": os.environ.get("PATH", ""),
    }
