"""`lain ps`: procs and instances, each with its state, health, address and last error."""

from __future__ import annotations

import json
import time

from fakes.base import stamp
from fakes.cluster import WEB, release_source, run

from lain_cli.exit import ExitStatus
from lain_cli.tables import short_version
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


def instance_row(output: str, instance: str) -> str:
    return next(line for line in output.splitlines() if line.split()[:1] == [instance])


def test_ps_shows_an_instances_error_only_while_it_is_current(lain, cli_cluster) -> None:
    run(deploy_source(cli_cluster, release_source(WEB), timeout=5))
    web = cli_cluster.api.swarm_services[cli_cluster.api.service_named("shop__web")["ID"]]
    first = web.tasks[0]
    slot = f"web.{first.doc['Slot']}"
    first.set_state("failed", err="task: non-zero exit (137)", exit_code=137)
    first.doc["DesiredState"] = "shutdown"
    cli_cluster.api.tasks()  # the swarm restarts the instance
    restarting = lain("ps", "-a", "shop").stdout
    assert instance_row(restarting, slot).endswith("task: non-zero exit (137) (0s ago)")
    # Long after, the instance runs well again: the failure is history, not its error.
    first.doc["Status"]["Timestamp"] = stamp(time.time() - 2700)
    cli_cluster.api.tasks()
    result = lain("ps", "-a", "shop")
    row = instance_row(result.stdout, slot)
    assert row.split()[1] == "running" and row.endswith(" -") and "137" not in row
    data = json.loads(lain("-o", "json", "ps", "-a", "shop").stdout)
    web_instances = {p["proc"]: p["instances"] for p in data["procs"]}["web"]
    assert all(i["error"] == "" and i["error_age"] is None for i in web_instances)


def test_ps_shows_short_versions_and_json_the_full_ones(lain, cli_cluster) -> None:
    run(deploy_source(cli_cluster, release_source(WEB), timeout=5))
    data = json.loads(lain("-o", "json", "ps", "-a", "shop").stdout)
    version = {p["proc"]: p["version"] for p in data["procs"]}["web"]
    assert short_version(version) != version
    header = next(
        line for line in lain("ps", "-a", "shop").stdout.splitlines() if line.startswith("web (")
    )
    assert f"version {short_version(version)}  2/2 running" in header and version not in header


def test_ps_of_an_app_that_is_not_deployed(lain, cli_cluster) -> None:
    result = lain("ps", "-a", "shop")
    assert result.exit_code == ExitStatus.NOT_FOUND
    assert result.stderr == "lain: error: shop is not deployed on cluster fake\n"


def test_ps_says_which_node_label_a_waiting_instance_needs(lain, cli_cluster) -> None:
    text = WEB + "worker.w:\n  cmd: [sleep, '1']\n  filters: ['constraint:disk==ssd']\n"
    run(deploy_source(cli_cluster, release_source(text), timeout=5, wait=False))
    result = lain("ps", "-a", "shop")
    assert "  w.1: waiting: no node has disk=ssd (lain node label NODE disk=ssd)" in (
        result.stdout.splitlines()
    )
