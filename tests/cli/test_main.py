"""The root group: the command table, lazy loading, -o, -c and -a around a command, the error
funnel (usage errors included, and JSON error objects with -o json)."""

from __future__ import annotations

import json
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


def test_usage_errors_say_lain_error_with_the_usage_and_where_the_help_is(lain) -> None:
    result = lain("ps", "--bogus")
    assert result.exit_code == ExitStatus.USAGE
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "lain: error: No such option '--bogus'.",
        "usage: lain ps [OPTIONS]",
        "hint: see `lain ps -h`",
    ]


def test_a_usage_error_raised_by_a_command_names_that_command(lain) -> None:
    result = lain("node", "label", "worker-2")
    assert result.exit_code == ExitStatus.USAGE
    assert result.stderr.splitlines() == [
        "lain: error: give a KEY=VALUE to set or a --rm KEY to remove",
        "usage: lain node label [OPTIONS] NODE KEY=VALUE...",
        "hint: see `lain node label -h`",
    ]


def test_a_failure_with_json_output_is_one_json_error_object(lain, monkeypatch) -> None:
    def fail(*args, **kwargs):
        raise errors.RouterNotRunning("prod", "it has no access log")

    monkeypatch.setattr("platform.python_version", fail)
    result = lain("-o", "json", "version")
    assert result.exit_code == ExitStatus.NOT_FOUND
    assert json.loads(result.stdout) == {
        "error": {
            "message": "no router runs on cluster prod, so it has no access log; start the router",
            "exit_status": 10,
            "type": "RouterNotRunning",
            "hints": ["start it with `lain -c prod router up`"],
        }
    }
    assert result.stderr.endswith(
        "start the router\nhint: start it with `lain -c prod router up`\n"
    )


def test_a_json_error_object_carries_a_lain_yaml_s_problems(lain, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = lain("clean", "-o", "json")
    assert result.exit_code == ExitStatus.CONFIG_INVALID
    error = json.loads(result.stdout)["error"]
    assert error["type"] == "AppConfigMissing" and error["exit_status"] == 3
    assert error["problems"] == [
        {"path": "lain.yaml", "line": 0, "column": 0, "key": "",
         "message": "no such file; create one"}
    ]  # fmt: skip


@pytest.mark.parametrize("args", [["-o", "json", "--bogus"], ["ps", "--bogus", "-o", "json"]])
def test_a_usage_error_with_json_output_is_a_json_error_object(lain, args: list[str]) -> None:
    result = lain(*args)
    assert result.exit_code == ExitStatus.USAGE
    error = json.loads(result.stdout)["error"]
    assert error["type"] == "UsageError" and error["exit_status"] == 2
    assert error["message"] == "No such option '--bogus'."
    assert error["hints"] == [f"see `{error['usage'].split(' [')[0]} -h`"]
    assert result.stderr.startswith("lain: error: No such option '--bogus'.")


def test_an_internal_error_with_json_output_is_a_json_error_object(lain, monkeypatch) -> None:
    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("platform.python_version", boom)
    result = lain("version", "-o", "json")
    assert result.exit_code == ExitStatus.ERROR
    error = json.loads(result.stdout)["error"]
    assert (error["type"], error["message"]) == (
        "InternalError",
        "internal error: RuntimeError: boom",
    )


def test_a_cluster_command_outside_an_app_folder_asks_for_the_app(
    lain, tmp_path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = lain("ps")
    assert result.exit_code == ExitStatus.USAGE
    first = result.stderr.splitlines()[0]
    assert first == (
        "lain: error: no app given: pass -a APP (or set LAIN_APP), or run lain in the app's "
        "folder (lain.yaml does not exist)"
    )
    assert "lain init" not in result.stderr
    # validating an empty folder still suggests writing a lain.yaml
    assert "`lain init`" in lain("validate").stderr


def test_a_typed_global_app_is_refused_by_a_command_that_takes_none(
    lain, tmp_path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    refused = lain("-a", "shop", "clean")
    assert refused.exit_code == ExitStatus.USAGE
    assert "lain clean does not act on an app named by -a/--app" in refused.stderr
    # LAIN_APP set for a whole job is not: clean goes on to look for lain.yaml
    assert lain("clean", env={"LAIN_APP": "shop"}).exit_code == ExitStatus.CONFIG_INVALID


def test_every_command_that_acts_on_a_deployed_app_takes_a(lain) -> None:
    commands = [
        ["ps"], ["logs"], ["releases"], ["rollback"], ["scale"], ["restart"], ["undeploy"],
        ["unlock"], ["deploy"], ["exec"], ["secret", "add"], ["secret", "ls"],
        ["secret", "show"], ["secret", "rm"],
    ]  # fmt: skip
    for command in commands:
        shown = lain(*command, "-h").stdout
        assert "-a, --app NAME" in shown, command
