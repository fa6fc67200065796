"""`lain ps`: procs and instances, each with its state, health, address and last error."""

from __future__ import annotations

import json

from fakes.base import stamp
from fakes.cluster import WEB, release_source, run

from lain_cli.exit import ExitStatus
from lain_sdk.cluster.deploy import deploy_source


def test_ps_shows_every_instance(lain, cli_cluster) -> None:
    run(deploy_source(cli_cluster, release_source(WEB), timeout=5))
    result = lain("ps", "-a", "shop")
    assert result.exit_code == ExitStatus.OK, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "shop on fake: release 1, healthy"
    assert any(line.startswith("web (web)") and "2/2 running" in line for line in lines)
    assert any(
        line.split()[:2] == ["web.1", "running"] and "10.0.0.1:30001" in line for line in lines
    )
    data = json.loads(lain("-o", "json", "ps", "-a", "shop").stdout)
    assert [p["proc"] for p in data["procs"]] == ["mail", "web"] and data["healthy"]


def test_ps_shows_the_urls_the_router_serves_the_app_at(lain, cli_cluster) -> None:
    text = WEB + "web.api:\n  cmd: httpd -f -p 80\n  mountpoint: [/api, api.example.org]\n"
    run(deploy_source(cli_cluster, release_source(text), timeout=5))
    result = lain("ps", "-a", "shop")
    assert result.exit_code == ExitStatus.OK, result.stderr
    assert result.stdout.splitlines()[:4] == [
        "shop on fake: release 1, healthy",
        "urls: http://shop.example.com/",
        "      http://api.example.org/",
        "      http://shop.example.com/api",
    ]
    data = json.loads(lain("-o", "json", "ps", "-a", "shop").stdout)
    assert data["urls"] == [
        "http://shop.example.com/",
        "http://api.example.org/",
        "http://shop.example.com/api",
    ]
    assert {p["proc"]: p["urls"] for p in data["procs"]}["mail"] == []


def test_ps_of_an_app_with_no_web_proc_has_no_urls_line(lain, cli_cluster) -> None:
    run(deploy_source(cli_cluster, release_source(WEB), timeout=5, procs=["mail"]))
    result = lain("ps", "-a", "shop")
    assert result.exit_code == ExitStatus.OK, result.stderr
    assert not any(line.startswith("urls:") for line in result.stdout.splitlines())
    assert json.loads(lain("-o", "json", "ps", "-a", "shop").stdout)["urls"] == []


def test_an_old_failure_of_a_replaced_task_is_shown_with_its_age(lain, cli_cluster) -> None:
    run(deploy_source(cli_cluster, release_source(WEB), timeout=5))
    web = cli_cluster.api.swarm_services[cli_cluster.api.service_named("shop__web")["ID"]]
    first = web.tasks[0]
    first.set_state("failed", err="task: non-zero exit (255)")
    first.doc["Status"]["Timestamp"] = stamp(__import__("time").time() - 2700)
    first.doc["DesiredState"] = "shutdown"
    result = lain("ps", "-a", "shop")
    row = next(
        line
        for line in result.stdout.splitlines()
        if line.split()[:1] == [f"web.{first.doc['Slot']}"]
    )
    assert row.endswith("task: non-zero exit (255) (45m ago)")


def test_ps_of_an_app_that_is_not_deployed(lain, cli_cluster) -> None:
    result = lain("ps", "-a", "shop")
    assert result.exit_code == ExitStatus.NOT_FOUND
    assert result.stderr == "lain: error: shop is not deployed on cluster fake\n"
