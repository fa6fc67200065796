"""`lain logs --tail N [-f]`: the last N lines of each current instance, in time order, then
(with -f) the new lines, each once."""

from __future__ import annotations

import json
import time

import pytest
from fakes.cluster import WEB, release_source, run
from fakes.logs import EngineLogs, tasks_by_instance

from lain_cli.exit import ExitStatus
from lain_sdk.cluster.deploy import deploy_source


@pytest.fixture
def logs(cli_cluster) -> EngineLogs:
    """shop deployed twice (each instance has an earlier task), with lines written: the
    earlier tasks printed last."""
    run(deploy_source(cli_cluster, release_source(WEB), timeout=5))
    run(deploy_source(cli_cluster, release_source(WEB, n=2), timeout=5))
    found = EngineLogs(cli_cluster)
    tasks = tasks_by_instance(cli_cluster)
    t0 = time.time() - 100
    for name, (earlier, _current) in tasks.items():
        found.write(earlier, f"{name} earlier", at=t0 + 50)
    found.write(tasks["web.2"][1], "web.2 one", at=t0 + 1)
    found.write(tasks["web.1"][1], "web.1 one", at=t0 + 2)
    found.write(tasks["web.1"][1], "web.1 two", at=t0 + 3)
    found.write(tasks["mail.1"][1], "mail.1 one", at=t0 + 4)
    found.while_following = [(tasks["web.2"][1], "web.2 new")]
    return found


def test_follow_with_tail_prints_the_last_line_of_each_instance_in_order_then_new_ones(
    lain, logs
) -> None:
    result = lain("logs", "-f", "--tail", "1", "-a", "shop")
    assert result.exit_code == ExitStatus.OK, result.stderr
    assert result.stdout.splitlines() == [
        "web.2 | web.2 one",
        "web.1 | web.1 two",
        "mail.1 | mail.1 one",
        "web.2  | web.2 new",  # aligned on the widest prefix so far
    ]


def test_tail_without_follow_and_as_json(lain, logs) -> None:
    result = lain("-o", "json", "logs", "--tail", "1", "web", "-a", "shop")
    assert result.exit_code == ExitStatus.OK, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(d["proc"], d["instance"], d["text"]) for d in lines] == [
        ("web", 2, "web.2 one"),
        ("web", 1, "web.1 two"),
    ]
    everything = lain("logs", "-a", "shop").stdout.splitlines()
    assert len(everything) == 7 and everything[-1].endswith(" earlier")


def test_the_help_says_what_tail_keeps(lain) -> None:
    text = " ".join(lain("logs", "--help").stdout.split())
    assert "the last N lines of each instance, from its current container" in text
    assert "those lines come first, in time order, then new lines" in text
