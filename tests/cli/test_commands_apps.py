"""`lain apps`: every app on the cluster, its release, procs, health and URLs."""

from __future__ import annotations

import json

from fakes.cluster import CLIENT, REDIS, WEB, instance_source, mv, release_source, run

from lain_cli.exit import ExitStatus
from lain_cli.tables import short_version
from lain_sdk.cluster.deploy import deploy_source
from lain_sdk.cluster.undeploy import undeploy_app

HEADER = ("APP", "RELEASE", "VERSION", "PROCS", "HEALTH", "URLS")
BLOG = (
    WEB.replace("appname: shop", "appname: blog").replace(
        "  memory: 64m\n", "  memory: 64m\n  mountpoint: [api.example.org/v1]\n", 1
    )
    + "oneshot.migrate:\n  cmd: [echo, migrated]\n"
)


def deploy_both(cluster) -> None:
    """blog (three procs, two URLs) at version 2; shop with its redis instance at version 1."""
    run(deploy_source(cluster, release_source(BLOG, 2), timeout=5))
    run(deploy_source(cluster, instance_source(REDIS, "redis", "shop"), timeout=5))
    run(deploy_source(cluster, release_source(CLIENT), timeout=5))


def test_apps_is_a_table_of_every_app(lain, cli_cluster) -> None:
    deploy_both(cli_cluster)
    result = lain("apps")
    assert result.exit_code == ExitStatus.OK, result.stderr
    one, two = short_version(mv(1)), short_version(mv(2))
    lines = result.stdout.splitlines()
    starts = [lines[0].index(name) for name in HEADER]

    def cells(line: str) -> tuple[str, ...]:
        ends = [*starts[1:], None]
        return tuple(line[a:b].strip() for a, b in zip(starts, ends, strict=True))

    assert [cells(line) for line in lines] == [
        HEADER,
        ("blog", "1", two, "mail 1/1", "healthy", "http://api.example.org/v1"),
        ("", "", "", "migrate 1/1 done", "", "http://blog.example.com/"),
        ("", "", "", "web 2/2", "", ""),
        ("shop", "1", one, "mail 1/1, web 2/2", "healthy", "http://shop.example.com/"),
        ("resource.redis.shop", "1", one, "redis 1/1", "healthy", "-"),
    ]
    assert lines[5].startswith("  resource.redis.shop  ")  # under the app it serves
    assert result.stderr == ""


def test_apps_fits_100_columns(lain, cli_cluster) -> None:
    run(deploy_source(cli_cluster, release_source(BLOG, 2), timeout=5))
    run(deploy_source(cli_cluster, release_source(WEB), timeout=5))
    lines = lain("apps").stdout.splitlines()
    assert len(lines) == 5 and max(map(len, lines)) <= 100


def test_apps_as_json_names_the_cluster_and_keeps_full_versions(lain, cli_cluster) -> None:
    deploy_both(cli_cluster)
    result = lain("-o", "json", "apps")
    assert result.exit_code == ExitStatus.OK, result.stderr
    data = json.loads(result.stdout)
    assert data["cluster"] == "fake"
    assert [a["app"] for a in data["apps"]] == ["blog", "shop", "resource.redis.shop"]
    blog, shop, redis = data["apps"]
    assert (blog["version"], blog["health"], blog["release"]) == (mv(2), "healthy", 1)
    assert blog["urls"] == ["http://api.example.org/v1", "http://blog.example.com/"]
    assert {p["proc"]: (p["running"], p["desired"]) for p in blog["procs"]} == {
        "mail": (1, 1),
        "migrate": (0, 1),
        "web": (2, 2),
    }
    assert (redis["resource"], redis["client"], shop["client"]) == ("redis", "shop", None)


def test_an_undeployed_app_shows_only_with_all(lain, cli_cluster) -> None:
    deploy_both(cli_cluster)
    run(undeploy_app("blog", cluster=cli_cluster, timeout=5))
    listed = [line.split()[0] for line in lain("apps").stdout.splitlines()[1:]]
    assert listed == ["shop", "resource.redis.shop"]
    result = lain("apps", "--all")
    assert result.exit_code == ExitStatus.OK, result.stderr
    row = result.stdout.splitlines()[1].split()
    assert row[:2] == ["blog", "1"] and row[-3:] == ["-", "undeployed", "-"]
    data = json.loads(lain("-o", "json", "apps", "--all").stdout)
    assert (data["apps"][0]["app"], data["apps"][0]["deployed"]) == ("blog", False)


def test_a_cluster_without_apps(lain, cli_cluster) -> None:
    result = lain("apps")
    assert (result.exit_code, result.stdout) == (ExitStatus.OK, "no apps on cluster fake\n")
    assert lain("apps", "--all").stdout == "no apps on cluster fake and no release history\n"
    assert json.loads(lain("-o", "json", "apps").stdout) == {"cluster": "fake", "apps": []}
