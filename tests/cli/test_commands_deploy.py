"""`lain scale`: values out of lain's bounds are usage errors (exit 2) before anything is sent
to the engine, and no release is recorded."""

from __future__ import annotations

import pytest
from fakes.cluster import WEB, release_source, run

from lain_cli.exit import ExitStatus
from lain_sdk.cluster.deploy import deploy_source
from lain_sdk.cluster.history import list_releases
from lain_sdk.cluster.swarm import app_services


@pytest.fixture
def deployed(cli_cluster):
    run(deploy_source(cli_cluster, release_source(WEB), timeout=5))
    return cli_cluster


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["-n", "100000000000"], "instances must be a whole number from 0 to 1000"),
        (["-n", "99999999999999999999999"], "from 0 to 1000, not 99999999999999999999999"),
        (["-n", "1001"], "from 0 to 1000, not 1001"),
        (["--cpu", "inf"], "cpu must be a number of CPUs from 0.01 to 1024, not inf"),
        (["--cpu", "nan"], "cpu must be a number of CPUs from 0.01 to 1024, not nan"),
        (["--cpu", "1e30"], "cpu must be a number of CPUs from 0.01 to 1024, not 1e+30"),
        (["--cpu", "0"], "cpu must be a number of CPUs from 0.01 to 1024, not 0.0"),
        (["--memory", "999999999999999999999g"], "memory must be at most 1024g (1 TiB"),
        (["--memory", "9" * 400 + "g"], "is not a memory size"),
        (["--memory", "1m"], "memory must be at least 6m"),
    ],
)
def test_scale_out_of_bounds_is_a_usage_error_and_sends_nothing(
    lain, deployed, args: list[str], says: str
) -> None:
    sent = list(deployed.api.calls)
    result = lain("scale", "web", *args, "--app", "shop")
    assert result.exit_code == ExitStatus.USAGE, result.stderr
    assert says in result.stderr and "Traceback" not in result.stderr
    assert deployed.api.calls == sent
    assert [r.kind for r in list_releases("shop", cluster=deployed)] == ["deploy"]


def test_scale_within_bounds_still_works(lain, deployed) -> None:
    result = lain("scale", "web", "-n", "3", "--cpu", "0.5", "--memory", "1024g", "--app", "shop")
    assert result.exit_code == ExitStatus.OK, result.stderr
    web = app_services(deployed, "shop")["web"].scale
    assert (web.instances, web.cpu, web.memory) == (3, 0.5, 1 << 40)


def test_the_help_states_the_bounds(lain) -> None:
    text = " ".join(lain("scale", "--help").stdout.split())
    assert "0 to 1000" in text and "0.01 to 1024" in text and "from 6m to 1024g" in text
