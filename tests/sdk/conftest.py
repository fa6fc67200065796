"""Fixtures for the SDK's fast tests (no Docker engine)."""

from __future__ import annotations

import os
import types
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import keyring
import keyring.backend
import keyring.errors
import pytest
from fakes.base import FakeClock
from fakes.images import ImageEngine
from fakes.repos import SampleApp
from fakes.repos import make_app as make_sample_app


@pytest.fixture
def engine_clock(engine: ImageEngine, monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """lain's image deadlines read the fake engine's clock, which moves only when the engine
    does work scripted to take time: timeouts without waiting."""
    shim = types.SimpleNamespace(monotonic=engine.clock.monotonic)
    monkeypatch.setattr("lain_sdk.images.builder.time", shim)
    monkeypatch.setattr("lain_sdk.images.push.time", shim)
    return engine.clock


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
        return make_sample_app(tmp_path, lain_yaml, files, name=name, commit=commit)

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
