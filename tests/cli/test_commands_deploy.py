"""`lain scale`: values out of lain's bounds are usage errors (exit 2) before anything is sent
to the engine, and no release is recorded.  `lain deploy --registry`: versions are read from,
and pulled from, the registry given."""

from __future__ import annotations

import io
import json

import pytest
from fakes.cluster import REGISTRY, WEB, mv, publish, release_source, run
from fakes.repos import make_app
from fakes.router import start_router

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


# -- deploying from another registry (--registry, LAIN_REGISTRY; fixtures in conftest.py) -----


@pytest.mark.parametrize("how", ["option", "env"])
def test_deploy_reads_the_version_from_the_registry_given_and_the_nodes_pull_from_it(
    lain, cli_cluster, registry, mirror, other_sessions, how: str
) -> None:
    publish(registry, WEB, n=1)
    publish(mirror, WEB, n=2)
    args, env = (
        (["--registry", mirror.host], None)
        if how == "option"
        else ([], {"LAIN_REGISTRY": mirror.host})
    )
    result = lain("deploy", "-a", "shop", *args, env=env)
    assert result.exit_code == ExitStatus.OK, result.stderr
    images = {s.image for s in app_services(cli_cluster, "shop").values()}
    assert {i.split("@")[0] for i in images} == {f"{mirror.host}/shop:release-{mv(2)}"}
    (settings,) = other_sessions
    assert (settings.name, settings.registry, settings.insecure_registry) == (
        "fake",
        mirror.host,
        False,
    )
    (release,) = list_releases("shop", cluster=cli_cluster)
    assert release.meta_version == mv(2)


def test_deploy_plan_reads_the_registry_given(lain, cli_cluster, registry, mirror, other_sessions):
    publish(registry, WEB, n=1)
    publish(mirror, WEB, n=2)
    given = lain("-o", "json", "deploy", "--plan", "-a", "shop", "--registry", mirror.host)
    assert given.exit_code == ExitStatus.OK, given.stderr
    assert json.loads(given.stdout)["meta_version"] == mv(2)
    default = lain("-o", "json", "deploy", "--plan", "-a", "shop")
    assert json.loads(default.stdout)["meta_version"] == mv(1)
    # The cluster's own registry, named: the cluster's session, nothing made.
    same = lain("-o", "json", "deploy", "--plan", "-a", "shop", "--registry", REGISTRY)
    assert json.loads(same.stdout)["meta_version"] == mv(1)
    assert [s.registry for s in other_sessions] == [mirror.host]


def test_a_version_missing_from_the_registry_given_names_that_registry(
    lain, registry, mirror, other_sessions
) -> None:
    publish(registry, WEB, n=1)
    result = lain("deploy", "-a", "shop", "--registry", mirror.host, "-v", mv(1))
    assert result.exit_code == ExitStatus.NOT_FOUND
    assert f"version {mv(1)} of shop is not in registry {mirror.host}" in result.stderr
    assert f"lain versions --registry {mirror.host}" in result.stderr


def test_deploy_help_says_where_the_nodes_pull_from(lain) -> None:
    text = " ".join(lain("deploy", "--help").stdout.split())
    assert "--registry HOST[:PORT]" in text and "LAIN_REGISTRY" in text
    assert "the nodes pull its release image from that registry" in text


# -- the app's URLs, last -----------------------------------------------------------------------


def test_deploy_ends_with_the_apps_urls(lain, cli_cluster, registry) -> None:
    start_router(cli_cluster)
    publish(registry, WEB, n=1)
    result = lain("deploy", "-a", "shop")
    assert result.exit_code == ExitStatus.OK, result.stderr
    assert result.stdout.splitlines()[-2:] == [
        "shop release 1 (deploy of 2023-11-14 22:13 1111111) succeeded",
        "urls: http://shop.example.com/",
    ]
    assert "no router runs" not in result.stderr
    # Nothing to change: the URLs all the same; with -o json, in the result.
    again = lain("-o", "json", "deploy", "-a", "shop")
    result_line = json.loads(again.stdout)
    assert not result_line["changed"]
    assert result_line["urls"] == ["http://shop.example.com/"]


def test_deploy_says_when_no_router_serves_the_urls(lain, cli_cluster, registry) -> None:
    publish(registry, WEB, n=1)
    result = lain("deploy", "-a", "shop")
    assert result.exit_code == ExitStatus.OK, result.stderr
    assert result.stdout.splitlines()[-1] == "urls: http://shop.example.com/"
    assert (
        "lain: warning: no router runs on cluster fake: these URLs answer once `lain router up` "
        "started it"
    ) in " ".join(result.stderr.split())


def test_deploy_of_an_app_with_no_web_proc_prints_no_urls(lain, cli_cluster, registry) -> None:
    publish(registry, WEB, n=1)
    result = lain("deploy", "-a", "shop", "--proc", "mail")
    assert result.exit_code == ExitStatus.OK, result.stderr
    assert "urls:" not in result.stdout and "no router runs" not in result.stderr


STATEFUL = "appname: shop\nbuild:\n  base: busybox\nworker.db:\n  cmd: [sleep, '1000']\n"
STATEFUL += "  persistent_dirs: [/data]\n"


def test_a_stateful_proc_leaves_its_shared_volume_only_with_accept_new_volumes(
    lain, cli_cluster, registry
) -> None:
    publish(registry, STATEFUL, n=1)
    assert lain("deploy", "-a", "shop").exit_code == ExitStatus.OK
    # As lain deployed it before instances got a volume each: one volume for all of them.
    service = cli_cluster.api._service("shop__db")
    for mount in service.spec["TaskTemplate"]["ContainerSpec"]["Mounts"]:
        mount["Source"] = mount["Source"].removesuffix("_{{.Task.Slot}}")
    publish(registry, STATEFUL, n=2)

    planned = lain("deploy", "-a", "shop", "--plan")
    refused = lain("deploy", "-a", "shop")
    accepted = lain("deploy", "-a", "shop", "--accept-new-volumes")

    assert "db: /data moves from the shared volume lain_shop_db_data" in planned.stdout
    assert refused.exit_code == ExitStatus.CLUSTER_ERROR
    assert "then deploy again accepting the new volumes; nothing was changed" in refused.stderr
    assert "hint: once the data is copied: `lain deploy -a shop --accept-new-volumes`" in (
        refused.stderr
    )
    assert accepted.exit_code == ExitStatus.OK, accepted.stderr


# -- versions as typed, and which one a deploy chooses -----------------------------------------


def push_version(registry, version: str, text: str = WEB) -> str:
    """Push ``version`` of the app ``text`` defines (any meta version, not only mv(n))."""
    registry.add_image(f"shop:release-{version}", files={"/www/index.html": version})
    registry.add_image(f"shop:meta-{version}", files={"/lain.yaml": text})
    return version


B844 = "1733460000-b8443f8" + "0" * 33
B845 = "1733460100-b8445aa" + "1" * 33


def test_deploy_takes_a_sha_prefix_and_says_what_it_chose(lain, cli_cluster, registry) -> None:
    push_version(registry, B844)
    push_version(registry, B845)
    result = lain("deploy", "-a", "shop", "-v", "b8443f8")
    assert result.exit_code == ExitStatus.OK, result.stderr
    assert result.stderr.startswith(
        "deploying shop 2024-12-06 04:40 b8443f8: given with -v as b8443f8\n"
    )
    assert "release 1 (deploy of 2024-12-06 04:40 b8443f8) succeeded" in result.stdout
    assert [r.meta_version for r in list_releases("shop", cluster=cli_cluster)] == [B844]


def test_an_ambiguous_prefix_names_the_candidates_and_changes_nothing(
    lain, cli_cluster, registry
) -> None:
    push_version(registry, B844)
    push_version(registry, B845)
    result = lain("deploy", "-a", "shop", "-v", "b844")
    assert result.exit_code == ExitStatus.USAGE
    assert "b844 matches 2 versions of shop in registry registry.example.com:" in result.stderr
    assert f"  2024-12-06 04:41 b8445aa  {B845}\n" in result.stderr
    assert f"  2024-12-06 04:40 b8443f8  {B844}\n" in result.stderr
    assert "give more characters of the commit sha" in result.stderr
    assert app_services(cli_cluster, "shop") == {}


def test_no_match_names_the_versions_there_in_short(lain, cli_cluster, registry) -> None:
    push_version(registry, B844)
    result = lain("deploy", "-a", "shop", "-v", "abcdef0")
    assert result.exit_code == ExitStatus.NOT_FOUND
    assert (
        "version abcdef0 of shop is not in registry registry.example.com (a version needs both "
        "its release- and meta- images); newest versions there: 2024-12-06 04:40 b8443f8"
    ) in result.stderr


def test_deploy_resolves_head_in_the_app_checkout(lain, cli_cluster, registry, tmp_path) -> None:
    app = make_app(tmp_path, WEB, name="shop")
    first = app.meta_version
    second = app.commit("second")
    push_version(registry, first)
    push_version(registry, second)
    result = lain("-o", "json", "deploy", "-v", "HEAD~1", "--app-dir", str(app.path))
    assert result.exit_code == ExitStatus.OK, result.stderr
    assert json.loads(result.stdout)["meta_version"] == first
    assert json.loads(result.stdout)["version_source"] == "given"


def test_deploy_says_it_takes_the_newest_and_where_head_stands(
    lain, cli_cluster, registry, tmp_path
) -> None:
    app = make_app(tmp_path, WEB, name="shop")
    push_version(registry, B844)
    head = app.git("rev-parse", "--short=7", "HEAD")
    planned = lain("deploy", "--plan", "--app-dir", str(app.path))
    assert planned.exit_code == ExitStatus.OK, planned.stderr
    assert planned.stderr == (
        "deploying shop 2024-12-06 04:40 b8443f8: the newest version in registry.example.com "
        f"(HEAD is {head}, not pushed)\n"
    )
    assert "plan for shop 2024-12-06 04:40 b8443f8 (now: nothing deployed):" in planned.stdout
    as_json = lain("-o", "json", "deploy", "--plan", "--app-dir", str(app.path))
    assert json.loads(as_json.stdout)["version_source"] == "newest-in-registry"
    deployed = lain("-o", "json", "deploy", "--app-dir", str(app.path))
    assert json.loads(deployed.stdout)["version_source"] == "newest-in-registry"


# -- releases: newest first, --limit -------------------------------------------------------------


def test_releases_are_newest_first_with_a_limit(lain, deployed) -> None:
    for n in (3, 2, 1):
        assert lain("scale", "web", "-n", str(n), "-a", "shop").exit_code == ExitStatus.OK
    listed = lain("releases", "-a", "shop", "--limit", "2")
    assert listed.exit_code == ExitStatus.OK, listed.stderr
    rows = listed.stdout.splitlines()
    assert rows[0].split()[:4] == ["#", "KIND", "OUTCOME", "VERSION"]
    assert [row.split()[0] for row in rows[1:]] == ["4", "3"]
    assert "2023-11-14 22:13 1111111" in rows[1] and mv(1) not in listed.stdout
    assert listed.stderr == "the newest 2 of 4 releases; --limit 0 shows all\n"
    every = json.loads(lain("-o", "json", "releases", "-a", "shop", "--limit", "0").stdout)
    assert every["app"] == "shop"
    assert [(r["number"], r["meta_version"]) for r in every["releases"]] == [
        (4, mv(1)),
        (3, mv(1)),
        (2, mv(1)),
        (1, mv(1)),
    ]
    assert len(json.loads(lain("-o", "json", "releases", "-a", "shop").stdout)["releases"]) == 4


# -- undeploy --purge asks first ---------------------------------------------------------------


class TerminalInput(io.BytesIO):
    """Standard input that is a terminal, as far as lain can tell."""

    def isatty(self) -> bool:
        return True


PURGE_SAYS = (
    "undeploy --purge deletes the release history, the stored secrets and the volumes (with "
    "their data) of shop on cluster fake"
)


def test_purge_without_a_terminal_needs_yes(lain, deployed) -> None:
    result = lain("undeploy", "--purge", "-a", "shop")
    assert result.exit_code == ExitStatus.USAGE
    assert result.stderr.startswith(
        f"lain: error: {PURGE_SAYS}; to go ahead without a terminal to confirm on, add --yes\n"
    )
    assert set(app_services(deployed, "shop")) == {"web", "mail"}  # nothing was removed
    assert len(list_releases("shop", cluster=deployed)) == 1


def test_purge_on_a_terminal_goes_ahead_only_once_the_app_is_named(lain, deployed) -> None:
    refused = lain("undeploy", "--purge", "-a", "shop", input=TerminalInput(b"y\n"))
    assert refused.exit_code == ExitStatus.ERROR
    assert f"{PURGE_SAYS}.\nType shop to go on: " in refused.stderr
    assert "lain: error: --purge not confirmed (the app is shop): nothing was removed" in (
        refused.stderr
    )
    assert set(app_services(deployed, "shop")) == {"web", "mail"}

    purged = lain("undeploy", "--purge", "-a", "shop", input=TerminalInput(b"shop\n"))
    assert purged.exit_code == ExitStatus.OK, purged.stderr
    assert app_services(deployed, "shop") == {}
    assert list_releases("shop", cluster=deployed) == []


def test_purge_of_some_procs_says_so(lain, deployed) -> None:
    result = lain("undeploy", "--purge", "--proc", "web", "-a", "shop")
    assert result.exit_code == ExitStatus.USAGE
    assert (
        "deletes the stored secrets and the volumes (with their data) of procs web of shop on "
        "cluster fake"
    ) in result.stderr


@pytest.mark.parametrize("yes", ["--yes", "-y"])
def test_purge_with_yes_does_not_ask(lain, deployed, yes: str) -> None:
    result = lain("undeploy", "--purge", yes, "-a", "shop", input=TerminalInput(b""))
    assert result.exit_code == ExitStatus.OK, result.stderr
    assert "Type shop" not in result.stderr
    assert list_releases("shop", cluster=deployed) == []


def test_undeploy_without_purge_does_not_ask(lain, deployed) -> None:
    result = lain("undeploy", "-a", "shop")
    assert result.exit_code == ExitStatus.OK, result.stderr
    assert app_services(deployed, "shop") == {}
    assert len(list_releases("shop", cluster=deployed)) == 1
