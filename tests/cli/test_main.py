"""The root group: the command table, lazy loading, -o after a command, the error funnel."""

from __future__ import annotations

import subprocess
import sys
from importlib import import_module
from pathlib import Path

import click
import pytest

from lain_cli.commands import COMMANDS, SECTIONS
from lain_cli.exit import ERROR_STATUS, ExitStatus, status_for
from lain_sdk import errors

COMMAND_MODULES = sorted(
    p.stem
    for p in (Path(__file__).parents[2] / "lain_cli" / "commands").glob("*.py")
    if p.stem != "__init__"
)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_table_points_at_the_command(name: str) -> None:
    entry = COMMANDS[name]
    command = getattr(import_module(f"lain_cli.commands.{entry.module}"), entry.attribute)
    assert isinstance(command, click.Command)
    assert command.name == name
    assert 0 < len(entry.summary) <= 60


@pytest.mark.parametrize("module", COMMAND_MODULES)
def test_every_command_is_in_the_table(module: str) -> None:
    for command in import_module(f"lain_cli.commands.{module}").COMMANDS:
        assert command.name in COMMANDS, f"add {command.name} to lain_cli.commands.SECTIONS"


def test_help_lists_commands_by_section(lain) -> None:
    result = lain("--help")
    assert result.exit_code == ExitStatus.OK
    for section, entries in SECTIONS.items():
        assert f"Commands ({section}):" in result.stdout
        for name in entries:
            assert f"  {name}" in result.stdout


def test_help_and_version_import_no_command_module() -> None:
    code = (
        "import sys\n"
        "from lain_cli.main import main\n"
        "try:\n    main(sys.argv[1:])\n"
        "except SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('lain_cli.commands.')))"
    )
    for args in (["--help"], ["--version"]):
        out = subprocess.run(
            [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True
        ).stdout
        assert out.splitlines()[-1] == "[]"


def test_output_option_after_the_command(lain) -> None:
    before = lain("-o", "json", "version")
    after = lain("version", "-o", "json")
    assert after.exit_code == ExitStatus.OK
    assert after.stdout == before.stdout
    assert after.stdout.lstrip().startswith("{")


def test_unknown_command_is_a_usage_error(lain) -> None:
    result = lain("deplyo")
    assert result.exit_code == ExitStatus.USAGE
    assert "No such command 'deplyo'" in result.stderr


def test_lain_errors_map_to_their_status() -> None:
    assert status_for(errors.AppConfigError([])) is ExitStatus.CONFIG_INVALID
    assert status_for(errors.TestFailed("test", "failed")) is ExitStatus.TEST_FAILED
    assert status_for(errors.BuildError("build", "failed")) is ExitStatus.BUILD_FAILED
    failure = errors.ProcFailure("web", "instances keep failing")
    assert status_for(errors.DeployFailed("x", [failure])) is ExitStatus.DEPLOY_FAILED
    assert status_for(errors.LockHeld("x", "me@here", "deploy", 1, "soon")) is ExitStatus.LOCKED
    assert status_for(errors.InvalidArgument("x")) is ExitStatus.USAGE
    assert status_for(errors.SecretsMissing("x", "c", [("web", "/a")])) is ExitStatus.NOT_FOUND
    assert status_for(errors.RegistryAuthError("x")) is ExitStatus.REGISTRY_ERROR
    assert status_for(errors.LainError("x")) is ExitStatus.ERROR
    # every class of the error tree has a row (or inherits a specific one)
    assert ERROR_STATUS[-1] == (errors.LainError, ExitStatus.ERROR)


def test_internal_errors_are_one_line_unless_traceback(lain, monkeypatch) -> None:
    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("platform.python_version", boom)
    result = lain("version")
    assert result.exit_code == ExitStatus.ERROR
    assert result.stderr.startswith("lain: internal error: RuntimeError: boom")
    assert "Traceback" not in result.stderr


def test_internal_errors_show_the_traceback_when_asked(lain, monkeypatch) -> None:
    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("platform.python_version", boom)
    for result in (lain("--traceback", "version"), lain("version", env={"LAIN_DEBUG": "1"})):
        assert result.exit_code == ExitStatus.ERROR
        assert result.stderr.startswith("Traceback (most recent call last):")
        assert result.stderr.endswith("lain: internal error: RuntimeError: boom\n")


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.InvalidArgument("instances must be a whole number"), ExitStatus.USAGE),
        (errors.AppConfigError([]), ExitStatus.CONFIG_INVALID),
        (errors.ClusterError("refused"), ExitStatus.CLUSTER_ERROR),
        (errors.NotFound("nothing"), ExitStatus.NOT_FOUND),
        (errors.SettingsError("bad settings"), ExitStatus.SETTINGS_INVALID),
        (errors.LainTimeout("too slow"), ExitStatus.TIMEOUT),
    ],
)
@pytest.mark.parametrize("debug", [["--traceback"], ["env"]])
def test_traceback_keeps_the_documented_exit_status(
    lain, monkeypatch, error: errors.LainError, status: ExitStatus, debug: list[str]
) -> None:
    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr("platform.python_version", fail)
    if debug == ["env"]:
        result = lain("version", env={"LAIN_DEBUG": "1"})
    else:
        result = lain(*debug, "version")
    assert result.exit_code == status
    assert result.stderr.startswith("Traceback (most recent call last):")
    assert f"lain: error: {error}\n" in result.stderr


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"clusters:\n  lab: {registry: caf\xe9}\n", ":2:22: not UTF-8 text (byte 0xe9)"),
        (b"clusters:\n  lab: {registry: r, tls_cert_path: [a]}\n",
         ": clusters.lab.tls_cert_path must be a directory path, not a list"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("debug", [False, True])
def test_a_bad_settings_file_is_a_settings_error_naming_file_and_key(
    lain, tmp_path: Path, content: bytes, says: str, debug: bool
) -> None:
    config = tmp_path / "config.yaml"
    config.write_bytes(content)
    env = {"LAIN_CONFIG": str(config), **({"LAIN_DEBUG": "1"} if debug else {})}
    result = lain("cluster", "ls", env=env)
    assert result.exit_code == ExitStatus.SETTINGS_INVALID
    assert f"lain: error: {config}{says}" in result.stderr
    assert "internal error" not in result.stderr
    assert ("Traceback" in result.stderr) is debug


@pytest.mark.parametrize("value", ["0", "false", "no", "off", ""])
def test_lain_debug_set_to_a_no_shows_no_traceback(lain, monkeypatch, value: str) -> None:
    def fail(*args, **kwargs):
        raise errors.NotFound("nothing here")

    monkeypatch.setattr("platform.python_version", fail)
    result = lain("version", env={"LAIN_DEBUG": value})
    assert result.exit_code == ExitStatus.NOT_FOUND
    assert result.stderr == "lain: error: nothing here\n"
