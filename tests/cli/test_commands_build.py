"""``lain prepare/build/test/push/clean`` where nothing needs to run: usage and early errors.

What needs the engine is in tests/integration/test_build_cli.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from fakes.repos import make_app

import lain_cli.commands.push as push_commands
from lain_cli.exit import ExitStatus

SIMPLE = "appname: early\nbuild:\n  base: lain-local/busybox:latest\n  script:\n    - echo hi\n"


@pytest.mark.parametrize("args", [["build", "--push"], ["push"]])
def test_push_registry_of_an_unknown_cluster_is_not_found(lain, tmp_path: Path, args):
    # Without --registry the registry is the selected cluster's.
    (tmp_path / "lain.yaml").write_text(SIMPLE)
    result = lain("-c", "no-such-cluster", *args, "--app-dir", str(tmp_path))
    assert result.exit_code == ExitStatus.NOT_FOUND, result.stderr
    assert "no-such-cluster" in result.stderr


@pytest.mark.parametrize("command", ["prepare", "build", "test", "push", "clean"])
def test_missing_lain_yaml_is_a_config_error(lain, tmp_path: Path, command):
    registry = ["--registry", "127.0.0.1:5000"] if command == "push" else []
    result = lain(command, "--app-dir", str(tmp_path), *registry)
    assert result.exit_code == ExitStatus.CONFIG_INVALID, result.stderr
    assert "lain.yaml" in result.stderr


def test_outside_git_is_a_git_error(lain, tmp_path: Path):
    (tmp_path / "lain.yaml").write_text(SIMPLE)
    result = lain("build", "--app-dir", str(tmp_path))
    assert result.exit_code == ExitStatus.GIT_ERROR
    assert "git" in result.stderr


def test_clean_keep_must_not_be_negative(lain, tmp_path: Path):
    result = lain("clean", "--app-dir", str(tmp_path), "--keep", "-1")
    assert result.exit_code == ExitStatus.USAGE


@pytest.mark.parametrize(
    "command, options",
    [
        ("prepare", ["--app-dir", "--registry", "--no-cache"]),
        (
            "build",
            ["--app-dir", "--push", "--no-cache", "--allow-dirty", "--registry", "LAIN_REGISTRY"],
        ),
        ("test", ["--app-dir", "--allow-dirty"]),
        ("push", ["--app-dir", "--registry", "-v, --version"]),
        ("clean", ["--app-dir", "--keep"]),
    ],
)
def test_help_lists_the_options(lain, command, options):
    result = lain(command, "--help")
    assert result.exit_code == ExitStatus.OK
    for option in options:
        assert option in result.stdout


def test_the_build_commands_import_neither_docker_nor_git():
    code = (
        "import sys, lain_cli.main, lain_sdk.images.dockerfiles, lain_sdk.images.naming, "
        "lain_sdk.images.buildargs, lain_sdk.images.context\n"
        "bad = [m for m in ('docker', 'git', 'requests', 'rich') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@pytest.mark.parametrize(
    "text, message",
    [
        ("build:\n  base: x\n", "appname is required"),
        ("appname: [a]\n", "expected a name"),
        ("appname: a\nbuild: [\n", "not valid YAML"),
    ],
)
@pytest.mark.parametrize("command", ["push", "clean"])
def test_push_and_clean_need_a_readable_appname(lain, tmp_path: Path, command, text, message):
    (tmp_path / "lain.yaml").write_text(text)
    registry = ["--registry", "127.0.0.1:5000"] if command == "push" else []
    result = lain(command, "--app-dir", str(tmp_path), *registry)
    assert result.exit_code == ExitStatus.CONFIG_INVALID, result.stderr
    assert "lain.yaml" in result.stderr and message in result.stderr


# -- push -v: a version as typed, among those built on the engine -------------------------------


@pytest.fixture
def built(tmp_path: Path, engine, fake_docker, base_image, monkeypatch):
    """An app with two versions built on the fake engine (release and meta images each)."""
    app = make_app(tmp_path, "appname: {name}\nbuild:\n  base: {base}\n", name="early")
    versions = [app.meta_version, app.commit("second")]
    for version in versions:
        for phase in ("release", "meta"):
            engine.add_image(f"early:{phase}-{version}", files={"/x": phase}, parent=base_image)
    monkeypatch.setattr(push_commands, "connect", lambda: fake_docker)
    return app, versions


def test_push_takes_a_sha_prefix_and_the_old_option_name(lain, built, mirror) -> None:
    app, (first, second) = built
    where = ("--app-dir", str(app.path), "--registry", mirror.host)
    pushed = lain("push", "-v", first.split("-")[1][:7], *where)
    assert pushed.exit_code == ExitStatus.OK, pushed.stderr
    references = [f"{mirror.host}/early:{phase}-{first}" for phase in ("release", "meta")]
    assert pushed.stdout.split() == references
    old_name = lain("push", "--meta-version", "HEAD", *where)
    assert old_name.exit_code == ExitStatus.OK, old_name.stderr
    assert f"{mirror.host}/early:release-{second}" in old_name.stdout
    both = lain("push", "-v", "HEAD", "--meta-version", "HEAD~1", *where)
    assert both.exit_code == ExitStatus.USAGE and "give the version once" in both.stderr


def test_push_help_hides_the_old_option_name(lain) -> None:
    assert "--meta-version" not in lain("push", "--help").stdout
