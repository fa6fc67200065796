"""`lain env ls|set|unset`: KEY=VALUE parsing, hidden values, the result printed once."""

from __future__ import annotations

import json

import pytest
from fakes.base import api_error
from fakes.cluster import WEB, publish, run

from lain_cli.exit import ExitStatus
from lain_sdk.cluster.deploy import deploy_app
from lain_sdk.cluster.spec import env_of
from lain_sdk.cluster.swarm import app_services

TOKEN = "tok-5e1f0c"


@pytest.fixture
def deployed(cli_cluster, registry):
    publish(registry, WEB)
    run(deploy_app("shop", cluster=cli_cluster, timeout=5))
    return cli_cluster


def test_set_rolls_out_and_says_which_release(lain, deployed) -> None:
    result = lain(
        "env", "set", "-a", "shop", "LOG_LEVEL=debug", "EMPTY=", "URL=a=b", "--timeout", "5"
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        "shop: EMPTY, LOG_LEVEL, URL changed (set 1); rolled out as release 2 (succeeded)\n"
    )
    env = env_of(app_services(deployed, "shop")["web"].spec)
    assert (env["LOG_LEVEL"], env["EMPTY"], env["URL"]) == ("debug", "", "a=b")


def test_ls_hides_secret_looking_values_unless_shown(lain, deployed) -> None:
    lain("env", "set", "-a", "shop", f"API_TOKEN={TOKEN}", "MODE=fast", "--timeout", "5")
    listed = lain("env", "ls", "-a", "shop")
    assert listed.exit_code == 0 and TOKEN not in listed.stdout
    assert listed.stdout.splitlines()[:3] == [
        "NAME       VALUE     PROC",
        "API_TOKEN  (hidden)  (app)",
        "MODE       fast      (app)",
    ]
    shown = lain("env", "ls", "-a", "shop", "--show", "-o", "json")
    data = json.loads(shown.stdout)
    assert data["variables"][0] == {
        "name": "API_TOKEN",
        "value": TOKEN,
        "hidden": False,
        "proc": None,
    }
    hidden = json.loads(lain("env", "ls", "-a", "shop", "-o", "json").stdout)
    assert hidden["variables"][0]["value"] is None and TOKEN not in json.dumps(hidden)


def test_values_are_not_printed_by_set(lain, deployed) -> None:
    result = lain("env", "set", "-a", "shop", f"API_TOKEN={TOKEN}", "--timeout", "5")
    assert TOKEN not in result.stdout + result.stderr


def test_a_pair_without_equals_is_a_usage_error_naming_unset(lain, deployed) -> None:
    result = lain("env", "set", "-a", "shop", "LOG_LEVEL")
    assert result.exit_code == ExitStatus.USAGE
    assert "lain env unset LOG_LEVEL" in result.stderr


def test_a_reserved_name_is_refused_with_the_usage_status(lain, deployed) -> None:
    result = lain("env", "set", "-a", "shop", "LAIN_DOMAIN=x")
    assert result.exit_code == ExitStatus.USAGE
    assert "LAIN_DOMAIN is lain's" in result.stderr and "Traceback" not in result.stderr


def test_unset_of_a_var_not_set_is_not_found(lain, deployed) -> None:
    result = lain("env", "unset", "-a", "shop", "NOPE")
    assert result.exit_code == ExitStatus.NOT_FOUND
    assert "NOPE is not set for shop" in result.stderr


def test_proc_scope_and_json_result(lain, deployed) -> None:
    result = lain("env", "set", "-a", "shop", "-p", "mail", "N=8", "-o", "json", "--timeout", "5")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)  # one document: progress went to stderr
    assert (data["proc"], data["version"], data["changed"]) == ("mail", 1, ["N"])
    assert "N" not in env_of(app_services(deployed, "shop")["web"].spec)
    listed = lain("env", "ls", "-a", "shop")
    assert "N     8      mail" in listed.stdout


def test_ls_of_an_app_without_vars_says_how_to_set_one(lain, deployed) -> None:
    result = lain("env", "ls", "-a", "shop")
    assert result.stdout == "shop has no config vars (lain env set KEY=VALUE sets one)\n"


def test_values_come_from_an_env_file_or_stdin_and_arguments_win(lain, deployed, tmp_path) -> None:
    env_file = tmp_path / "production.env"
    env_file.write_text(
        f"# the app's settings\n\nAPI_TOKEN={TOKEN}\nMODE=file\nURL=a=b # not a comment\n"
    )
    result = lain(
        "env", "set", "-a", "shop", "--env-file", str(env_file), "MODE=arg", "--timeout", "5"
    )
    assert result.exit_code == 0, result.stderr
    assert TOKEN not in result.stdout + result.stderr
    env = env_of(app_services(deployed, "shop")["web"].spec)
    assert (env["API_TOKEN"], env["MODE"], env["URL"]) == (TOKEN, "arg", "a=b # not a comment")
    piped = lain(
        "env", "set", "-a", "shop", "--env-file", "-", "--timeout", "5", input="MODE=stdin\n"
    )
    assert piped.exit_code == 0, piped.stderr
    assert env_of(app_services(deployed, "shop")["web"].spec)["MODE"] == "stdin"


def test_a_bad_env_file_line_is_named_and_nothing_is_stored(lain, deployed, tmp_path) -> None:
    env_file = tmp_path / "bad.env"
    env_file.write_text("A=1\nJUSTAWORD\n")
    result = lain("env", "set", "-a", "shop", "--env-file", str(env_file))
    assert result.exit_code == ExitStatus.USAGE
    assert f"{env_file}:2: not KEY=VALUE" in result.stderr
    assert "lain-env-shop-v1" not in str(deployed.api.secrets())


def test_set_without_values_is_a_usage_error(lain, deployed) -> None:
    result = lain("env", "set", "-a", "shop")
    assert result.exit_code == ExitStatus.USAGE
    assert "give KEY=VALUE arguments or --env-file FILE" in result.stderr


def test_an_engine_that_refuses_is_a_cluster_error_and_nothing_is_stored(lain, deployed) -> None:
    deployed.api.fail_next["secrets"] = api_error(500, "rpc error: the manager is down")
    listed = lain("env", "ls", "-a", "shop")
    assert listed.exit_code == ExitStatus.CLUSTER_ERROR
    assert "list the config vars of shop" in listed.stderr and "Traceback" not in listed.stderr
    deployed.api.fail_next["create_secret"] = api_error(500, "rpc error: the manager is down")
    changed = lain("env", "set", "-a", "shop", "A=1")
    assert changed.exit_code == ExitStatus.CLUSTER_ERROR
    assert "store the config vars of shop" in changed.stderr
    assert not [s for s in deployed.api.secrets() if "lain-env-" in s["Spec"]["Name"]]
