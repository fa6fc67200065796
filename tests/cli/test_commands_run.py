"""`lain exec [INSTANCE] COMMAND...`: a leading number followed by more is the instance."""

from __future__ import annotations

import pytest
from fakes.cluster import WEB, release_source, run
from fakes.images import FakeContainer

from lain_cli.exit import ExitStatus
from lain_sdk.cluster.deploy import deploy_source


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
    for args in (["2", "--", "ls", "-l"], ["--", "ls", "-l"], ["true"], ["7"]):
        result = lain("exec", "-a", "shop", "web", *args)
        assert result.exit_code == ExitStatus.OK, result.stderr
    assert ran(fake_docker) == [
        ("2", ["ls", "-l"]),
        ("1", ["ls", "-l"]),
        ("1", ["true"]),
        ("1", ["7"]),
    ]


def test_exec_exits_with_the_commands_status_and_relays_its_output(
    lain, deployed, fake_docker
) -> None:
    fake_docker.engine.on_command("cat /etc/motd", output="hello\n", exit_code=3)
    result = lain("exec", "-a", "shop", "web", "--", "cat", "/etc/motd")
    assert result.exit_code == 3 and result.stdout == "hello\n"


def test_instance_numbers_start_at_1(lain, deployed) -> None:
    result = lain("exec", "-a", "shop", "web", "0", "--", "ls")
    assert result.exit_code == ExitStatus.USAGE and "instance numbers start at 1" in result.stderr
