"""`lain exec [INSTANCE] [COMMAND...]` (a leading number is the instance; no command is a
shell), and `lain run` where an earlier run left its container."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fakes.cluster import WEB, release_source, run
from fakes.images import FakeContainer
from fakes.repos import make_app

import lain_cli.commands.run as run_commands
import lain_cli.terminal as terminal
from lain_cli.exit import ExitStatus
from lain_cli.tables import short_version
from lain_sdk.cluster.deploy import deploy_source
from lain_sdk.errors import ClusterError


@pytest.fixture
def deployed(cli_cluster, fake_docker, base_image):
    """shop deployed; web's task containers are containers of the engine."""
    run(deploy_source(cli_cluster, release_source(WEB), timeout=5))
    image = fake_docker.engine.find_image(base_image)
    for t in fake_docker.api.tasks(filters={"service": "shop__web"}):
        container_id = t["Status"]["ContainerStatus"]["ContainerID"]
        env = [f"LAIN_INSTANCE_NO={t['Slot']}"]
        fake_docker.engine.containers[container_id] = FakeContainer(
            container_id, f"web.{t['Slot']}", base_image, image.id, {"Env": env}, 0, state="running"
        )
    return cli_cluster


def ran(fake_docker) -> list[tuple[str, list[str]]]:
    return [(r.env.get("LAIN_INSTANCE_NO", ""), r.argv) for r in fake_docker.engine.ran]


def test_exec_splits_the_instance_from_the_command(lain, deployed, fake_docker) -> None:
    for args in (["2", "--", "ls", "-l"], ["--", "ls", "-l"], ["true"]):
        result = lain("exec", "-a", "shop", "web", *args)
        assert result.exit_code == ExitStatus.OK, result.stderr
    assert ran(fake_docker) == [
        ("2", ["ls", "-l"]),
        ("1", ["ls", "-l"]),
        ("1", ["true"]),
    ]
    alone = lain("exec", "-a", "shop", "web", "7")  # a number alone is an instance
    assert alone.exit_code == ExitStatus.NOT_FOUND
    assert "instance 7 of shop web is not running" in alone.stderr


def test_exec_exits_with_the_commands_status_and_relays_its_output(
    lain, deployed, fake_docker
) -> None:
    fake_docker.engine.on_command("cat /etc/motd", output="hello\n", exit_code=3)
    result = lain("exec", "-a", "shop", "web", "--", "cat", "/etc/motd")
    assert result.exit_code == 3 and result.stdout == "hello\n"


def test_instance_numbers_start_at_1(lain, deployed) -> None:
    result = lain("exec", "-a", "shop", "web", "0", "--", "ls")
    assert result.exit_code == ExitStatus.USAGE and "instance numbers start at 1" in result.stderr


class _Session:
    def exit_code(self) -> int:
        return 0

    def close(self) -> None:
        pass


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What each `lain exec` asked the SDK for (the fake engine has no exec socket for -i)."""
    calls: list[dict[str, Any]] = []

    def exec_in_instance(app: str, proc: str, command: list[str], **options: Any) -> _Session:
        calls.append({"command": command, "stdin": options["stdin"], "tty": options["tty"]})
        return _Session()

    monkeypatch.setattr(run_commands, "exec_in_instance", exec_in_instance)
    monkeypatch.setattr(terminal, "attach", lambda session, **options: None)
    # The runner's standard input is never a terminal: `_on_a_terminal` says what it is.
    monkeypatch.setattr(run_commands, "check_terminal", lambda interactive, tty: None)
    return calls


@pytest.mark.parametrize(
    ("terminal", "args", "expected"),
    [
        (True, [], {"command": ["sh"], "stdin": True, "tty": True}),
        (True, ["2"], {"command": ["sh"], "stdin": True, "tty": True}),
        # Piped: the shell reads the script on standard input, without a terminal.
        (False, [], {"command": ["sh"], "stdin": True, "tty": False}),
        # A command is run as given, on a terminal or not.
        (True, ["--", "ls"], {"command": ["ls"], "stdin": False, "tty": False}),
    ],
)
def test_exec_without_a_command_opens_a_shell(
    lain, started, monkeypatch: pytest.MonkeyPatch, terminal: bool, args: list[str], expected
) -> None:
    monkeypatch.setattr(run_commands, "_on_a_terminal", lambda: terminal)
    result = lain("exec", "-a", "shop", "web", *args)
    assert result.exit_code == ExitStatus.OK, result.stderr
    assert started == [expected]


def test_exec_help_says_no_command_is_a_shell(lain) -> None:
    result = lain("exec", "--help")
    assert "Without COMMAND, a shell (sh)" in " ".join(result.stdout.split())


# -- lain run: the container of an earlier run -----------------------------------------------


@pytest.fixture
def local_app(tmp_path, cli_cluster, fake_docker, engine, base_image, monkeypatch):
    """shop at its first commit, its release image built on the (local) fake engine."""
    app = make_app(
        tmp_path, "appname: {name}\nbuild:\n  base: {base}\nweb:\n  cmd: httpd\n", name="shop"
    )
    engine.add_image(f"shop:release-{app.meta_version}", files={"/x": b"x"}, parent=base_image)
    engine.on_command("httpd", hang=True)
    monkeypatch.setattr(run_commands, "connect", lambda: fake_docker)
    return app


def test_run_replaces_a_stopped_container_and_refuses_a_running_one(
    lain, local_app, fake_docker
) -> None:
    where = ("--app-dir", str(local_app.path))
    first = lain("run", "web", *where)
    assert first.exit_code == ExitStatus.OK, first.stderr
    assert "replaced" not in first.stderr

    running = lain("run", "web", *where)
    assert running.exit_code == ExitStatus.ERROR  # not a cluster error: nothing was refused
    assert running.stderr == (
        f"running shop web {short_version(local_app.meta_version)}: the checkout's HEAD "
        "(lain deploy takes the registry's newest)\n"
        "lain: error: container shop.web.web of an earlier run of this proc is running; lain "
        "leaves it alone unless asked to replace it\n"
        "hint: remove it with `docker rm -f shop.web.web`, or run again with --replace\n"
    )

    fake_docker.api.stop("shop.web.web")
    stopped = lain("run", "web", *where)
    assert stopped.exit_code == ExitStatus.OK, stopped.stderr
    assert stopped.stderr.endswith(
        "\nreplaced the exited container shop.web.web of an earlier run\n"
    )
    assert "shop.web.web runs shop web" in stopped.stdout

    replaced = lain("-o", "json", "run", "web", "--replace", *where)
    assert replaced.exit_code == ExitStatus.OK, replaced.stderr
    assert json.loads(replaced.stdout)["replaced"] == "running"
    assert len(fake_docker.api.containers(all=True)) == 1


# -- lain run -v: a version as typed, among the release images built here ----------------------


def test_run_takes_a_sha_prefix_or_a_git_ref_and_says_why(lain, local_app, engine) -> None:
    first = local_app.meta_version
    second = local_app.commit("second")
    engine.add_image(f"shop:release-{second}", files={"/x": b"x"})
    where = ("--app-dir", str(local_app.path))
    sha = first.split("-")[1]
    by_prefix = lain("-o", "json", "run", "web", "-v", sha[:6], *where)
    assert by_prefix.exit_code == ExitStatus.OK, by_prefix.stderr
    assert json.loads(by_prefix.stdout)["image"] == f"shop:release-{first}"
    by_ref = lain("run", "web", "--replace", "-v", "HEAD~1", *where)
    assert by_ref.exit_code == ExitStatus.OK, by_ref.stderr
    assert by_ref.stderr.startswith(
        f"running shop web {short_version(first)}: given with -v as HEAD~1\n"
    )
    assert f"runs shop web ({short_version(first)})" in by_ref.stdout
    head = lain("run", "web", "--replace", *where)
    assert head.stderr.startswith(f"running shop web {short_version(second)}: the checkout's HEAD")


def test_run_of_a_version_not_built_here_names_those_that_are(lain, local_app) -> None:
    missing = lain("run", "web", "-v", "abcdef0", "--app-dir", str(local_app.path))
    assert missing.exit_code == ExitStatus.NOT_FOUND
    assert f"release versions here: {short_version(local_app.meta_version)})" in missing.stderr


def test_run_gets_the_clusters_config_vars_or_warns_without_them(
    lain, local_app, fake_docker, monkeypatch
) -> None:
    where = ("--app-dir", str(local_app.path))
    monkeypatch.setattr(run_commands, "proc_env", lambda app, proc, cluster: {"MODE": "cluster"})
    first = lain("run", "web", *where)
    assert first.exit_code == ExitStatus.OK, first.stderr
    env = fake_docker.api.inspect_container("shop.web.web")["Config"]["Env"]
    assert "MODE=cluster" in env

    def unreachable(app, proc, cluster):
        raise ClusterError("the engine at tcp://10.0.0.1:2376 does not answer")

    monkeypatch.setattr(run_commands, "proc_env", unreachable)
    second = lain("run", "web", "--replace", *where)
    assert second.exit_code == ExitStatus.OK, second.stderr
    assert "lain: warning: running without the config vars of shop on " in second.stderr
    assert "MODE=cluster" not in fake_docker.api.inspect_container("shop.web.web")["Config"]["Env"]
