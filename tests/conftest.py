"""Shared fixtures: an isolated environment for every test, and a way to run ``lain``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest
import requests
from click.testing import CliRunner
from fakes.cluster import fake_cluster
from fakes.engine import BASE_CONFIG, BASE_IMAGE, FakeDockerClient
from fakes.images import FakeRegistry, ImageEngine, RegistryTransport

from lain_cli.main import main
from lain_sdk.cluster.session import Cluster
from lain_sdk.credentials import Credentials, CredentialStore

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA = REPO_ROOT / "tests" / "data"
# Real lain.yaml files from public repositories, kept as found (see its README.md).
CORPUS = DATA / "corpus"
EXAMPLES = REPO_ROOT / "examples"
IN_CI = os.environ.get("CI", "") not in ("", "0", "false")

# Libraries whose import costs enough that lain loads them only where needed.
HEAVY = ["click", "rich", "docker", "git", "requests", "keyring", "jinja2", "yaml", "jsonschema"]


def loaded_after(code: str) -> set[str]:
    """Which of HEAVY a fresh interpreter has imported after running ``code``."""
    script = (
        f"import sys\n{code}\nimport json\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout
    return set(json.loads(out.splitlines()[-1]))


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
    """Run ``lain ARGS...`` in-process through the real entry point (error funnel included).

    ``input`` is standard input: text, or a binary stream (one whose ``isatty()`` says True
    stands for a terminal).
    """

    def run(
        *args: str, input: str | IO[bytes] | None = None, env: dict[str, str] | None = None
    ) -> Result:
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
    """A folder of the corpus (``lain-yaml`` or ``sdk-fixtures``); it is part of the
    repository, so a missing one fails the test."""
    path = CORPUS / name
    if not path.is_dir():
        pytest.fail(f"the corpus folder {path} is missing: it belongs in the repository")
    return path


def corpus_names(name: str) -> list[str]:
    """The files of a corpus folder, sorted, to parametrize tests with.

    A missing folder gives one name that cannot exist, so the tests fail in ``corpus_dir``
    instead of being collected with no parameters (which pytest reports as a skip).
    """
    path = CORPUS / name
    return sorted(p.name for p in path.glob("*.yaml")) if path.is_dir() else ["(corpus missing)"]


# -- the fake engine (tests/fakes): docker-py's client answered in memory ------------------------


@pytest.fixture
def fake_docker() -> FakeDockerClient:
    """A docker client on a fresh fake engine (pass it as ``engine=``)."""
    return FakeDockerClient()


@pytest.fixture
def engine(fake_docker: FakeDockerClient) -> ImageEngine:
    """The fake engine behind ``fake_docker``: its images, scripting and records."""
    return fake_docker.engine


@pytest.fixture
def base_image(engine: ImageEngine) -> str:
    """The busybox-like base image the sample apps build on, present on the engine."""
    engine.add_image(BASE_IMAGE, files={"/bin/sh": b"\x7fELF sh\n"}, config=BASE_CONFIG)
    return BASE_IMAGE


@pytest.fixture
def registries(monkeypatch: pytest.MonkeyPatch) -> dict[str, FakeRegistry]:
    """Fake registries by host; every HTTP request of the test goes to them (another host is
    unreachable), so lain's registry client talks to the same registries as the engine."""
    found: dict[str, FakeRegistry] = {}
    transport = RegistryTransport(found)
    monkeypatch.setattr(requests.Session, "get_adapter", lambda self, url: transport)
    return found


@pytest.fixture
def registry(registries: dict[str, FakeRegistry], engine: ImageEngine) -> FakeRegistry:
    """An open registry, ``registry.example.com``, known to the engine and over HTTP."""
    found = FakeRegistry("registry.example.com")
    registries[found.host] = engine.add_registry(found)
    return found


@pytest.fixture
def cluster(fake_docker: FakeDockerClient, registry: FakeRegistry) -> Cluster:
    """A session on the fake engine, whose registry (``registry``, registry.example.com) the
    engine knows and lain's registry client reaches over HTTP; it looks again at once."""
    return fake_cluster(engine=fake_docker)


@pytest.fixture
def cli_cluster(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> Cluster:
    """``cluster``, as the session every ``lain`` command of the test gets."""
    monkeypatch.setattr(Cluster, "from_settings", classmethod(lambda cls, *a, **kw: cluster))
    return cluster


@pytest.fixture
def credential_lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The registries whose stored credentials lain looked up, in order (the lookups still
    happen: the store's ``get`` is only counted)."""
    lookups: list[str] = []
    real_get = CredentialStore.get

    def counting_get(self: CredentialStore, host: str) -> Credentials | None:
        lookups.append(host)
        return real_get(self, host)

    monkeypatch.setattr(CredentialStore, "get", counting_get)
    return lookups
