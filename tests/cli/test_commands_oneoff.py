"""`lain one-off PROC [-- COMMAND...]`: the command's output and exit status, clear refusals,
and nothing left on the cluster."""

from __future__ import annotations

import pytest
from fakes.cluster import REGISTRY, SHOP, WEB, release_source, run
from fakes.swarm import Behaviour

from lain_cli.exit import ExitStatus
from lain_sdk.cluster.deploy import deploy_source
from lain_sdk.cluster.names import LABEL_ONEOFF


def program(container, mounted):
    """``echo WORDS`` prints them; ``exit N`` exits with N; other commands keep running."""
    args = list(container.get("Args") or [])
    if args[:1] == ["echo"]:
        return [" ".join(args[1:])]
    if args[:1] == ["exit"]:
        return ["leaving"], int(args[1])
    return None


@pytest.fixture
def deployed(cli_cluster, fake_docker):
    """shop (WEB) deployed; its release image runs :func:`program`."""
    fake_docker.api.script(f"{REGISTRY}/shop:release", Behaviour(program=program))
    run(deploy_source(cli_cluster, release_source(WEB), timeout=5))
    return cli_cluster


def oneoffs(fake_docker) -> list[str]:
    return [
        s["Spec"]["Name"] for s in fake_docker.api.services() if LABEL_ONEOFF in s["Spec"]["Labels"]
    ]


def test_it_prints_the_commands_output_and_exits_with_its_status(
    lain, deployed, fake_docker
) -> None:
    result = lain("one-off", "-a", "shop", "web", "--", "echo", "hello", "there")
    assert result.exit_code == ExitStatus.OK, result.stderr
    assert result.stdout == "hello there\n"
    assert "shop__web-oneoff-" in result.stderr and "runs shop web" in result.stderr
    result = lain("one-off", "-a", "shop", "mail", "--", "exit", "3")
    assert (result.exit_code, result.stdout) == (3, "leaving\n")
    assert oneoffs(fake_docker) == []


def test_unknown_procs_and_apps_not_deployed_are_refused(lain, deployed) -> None:
    result = lain("one-off", "-a", "shop", "nope", "--", "true")
    assert result.exit_code == ExitStatus.NOT_FOUND
    assert "proc nope of shop is not deployed" in result.stderr
    assert "(deployed procs: mail, web)" in result.stderr
    result = lain("one-off", "-a", "other", "web")
    assert result.exit_code == ExitStatus.NOT_FOUND
    assert "other is not deployed on cluster fake: deploy it first" in result.stderr


def test_a_command_that_cannot_start_fails_and_leaves_nothing(lain, deployed, fake_docker) -> None:
    fake_docker.api.script(
        f"{REGISTRY}/shop:release",
        Behaviour(fails="starting container failed: exec: nope: executable file not found"),
    )
    result = lain("one-off", "-a", "shop", "web", "--", "nope")
    assert result.exit_code == ExitStatus.CLUSTER_ERROR
    assert "executable file not found" in result.stderr
    assert oneoffs(fake_docker) == []


def test_per_instance_data_is_named_as_not_mounted(lain, cli_cluster, fake_docker) -> None:
    fake_docker.api.script(f"{REGISTRY}/shop:release", Behaviour(program=program))
    run(deploy_source(cli_cluster, release_source(SHOP), timeout=5))
    result = lain("one-off", "-a", "shop", "web", "--", "echo", "hi")
    assert result.exit_code == ExitStatus.OK, result.stderr
    assert "web's per-instance data (/data) is not mounted" in result.stderr


def test_a_terminal_needs_one_on_standard_input(lain, deployed) -> None:
    result = lain("one-off", "-a", "shop", "-it", "web", "--", "sh", input="")
    assert result.exit_code == ExitStatus.USAGE
    assert "-t needs a terminal on standard input" in result.stderr
