"""`lain logs --tail N [-f]`: the last N lines of each current instance, in time order, then
(with -f) the new lines, each once.  `lain logs --access`: the requests the router answered for
the app, one a line."""

from __future__ import annotations

import json
import re
import time

import pytest
from fakes.cluster import WEB, release_source, run
from fakes.logs import EngineLogs, tasks_by_instance
from fakes.router import access_line, start_router

from lain_cli.exit import ExitStatus
from lain_sdk.cluster.deploy import deploy_source
from lain_sdk.cluster.logs import ACCESS_SCAN_LIMIT


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


def test_timestamps_begin_each_line_with_the_engines_time(lain, logs) -> None:
    result = lain("logs", "-t", "--tail", "1", "web", "-a", "shop")
    assert result.exit_code == ExitStatus.OK, result.stderr
    stamps = [line["time"] for line in json_lines(lain, "--tail", "1", "web")]
    assert result.stdout.splitlines() == [
        f"{stamps[0]} web.2 | web.2 one",
        f"{stamps[1]} web.1 | web.1 two",
    ]
    # As the engine wrote it: RFC 3339, UTC, to the nanosecond.
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", s) for s in stamps)
    assert lain("logs", "--timestamps", "--tail", "1", "web", "-a", "shop").stdout == result.stdout
    # Without it, lines begin with their instance.
    assert lain("logs", "--tail", "1", "web", "-a", "shop").stdout.startswith("web.2 | ")


def json_lines(lain, *args: str) -> list[dict[str, object]]:
    result = lain("-o", "json", "logs", *args, "-a", "shop")
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_the_help_says_what_tail_keeps(lain) -> None:
    text = " ".join(lain("logs", "--help").stdout.split())
    assert "the last N lines of each instance, from its current container" in text
    assert "those lines come first, in time order, then new lines" in text


# -- --access: the router's access log, the app's requests only ---------------------------------


@pytest.fixture
def access(cli_cluster) -> EngineLogs:
    """A router (one instance) that answered shop three times and another app once."""
    (task,) = start_router(cli_cluster)
    found = EngineLogs(cli_cluster)
    t0 = time.time() - 100
    found.write(task, access_line("shop", "/cgi-bin/hello?x=1"), at=t0 + 1)
    found.write(task, access_line("other", "/not-ours"), at=t0 + 2)
    found.write(
        task,
        access_line("shop", "/api/items", proc="api", method="POST", duration=0.1234),
        at=t0 + 3,
    )
    found.write(task, access_line("shop", "/", status=503, upstream=""), at=t0 + 4)
    found.while_following = [(task, access_line("shop", "/new"))]
    return found


def test_access_prints_one_request_a_line(lain, access) -> None:
    result = lain("logs", "--access", "-a", "shop")
    assert result.exit_code == ExitStatus.OK, result.stderr
    assert result.stdout.splitlines() == [
        "2026-01-01T12:00:00+00:00 200 GET shop.example.com /cgi-bin/hello?x=1 2ms 10.0.1.5:80",
        "2026-01-01T12:00:00+00:00 200 POST shop.example.com /api/items 123ms 10.0.1.5:80",
        "2026-01-01T12:00:00+00:00 503 GET shop.example.com / 2ms -",
    ]


def test_access_with_tail_proc_and_follow_as_json(lain, access) -> None:
    result = lain("-o", "json", "logs", "--access", "--tail", "1", "-f", "-a", "shop")
    assert result.exit_code == ExitStatus.OK, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["uri"], r["status"], r["upstream"]) for r in records] == [
        ("/", 503, ""),
        ("/new", 200, "10.0.1.5:80"),
    ]
    assert set(records[0]) >= {"time", "app", "proc", "host", "method", "duration", "agent"}
    only_api = lain("logs", "--access", "--proc", "api", "-a", "shop")
    assert [line.split()[4] for line in only_api.stdout.splitlines()] == ["/api/items"]
    # The argument and the option name procs alike.
    assert lain("logs", "--access", "api", "-a", "shop").stdout == only_api.stdout


def test_access_says_so_when_the_router_answered_nothing_for_the_app(lain, access) -> None:
    result = lain("logs", "--access", "-a", "quiet")
    assert result.exit_code == ExitStatus.OK, result.stderr
    assert result.stdout == ""
    assert result.stderr == "the router's log has no request for quiet\n"


def test_the_help_says_how_far_back_access_tail_looks(lain) -> None:
    text = " ".join(lain("logs", "--help").stdout.split())
    assert f"in the last {ACCESS_SCAN_LIMIT:,} lines the router wrote on each node" in text


def test_access_without_a_router_says_how_to_start_it(lain, cli_cluster) -> None:
    result = lain("logs", "--access", "-a", "shop")
    assert result.exit_code == ExitStatus.NOT_FOUND
    assert result.stderr.splitlines()[0].startswith("lain: error: no router runs on cluster fake")
    assert "start it with `lain -c fake router up`" in result.stderr
    assert "Traceback" not in result.stderr
