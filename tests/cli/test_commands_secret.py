"""`lain secret`: only a file the app's lain.yaml declares is stored, unless --undeclared; the
options (--value, -c the cluster, --secret-version), and the result printed once."""

from __future__ import annotations

import io
import json

import pytest
from fakes.cluster import REGISTRY, WEB, mv, publish, run

from lain_cli.exit import ExitStatus
from lain_sdk.cluster.deploy import deploy_app
from lain_sdk.cluster.secrets import add_secret
from lain_sdk.cluster.session import Cluster

WITH_SECRET = WEB.replace("  memory: 64m\n", "  memory: 64m\n  secret_files: [config.json]\n", 1)


@pytest.fixture
def deployed(cli_cluster, registry):
    """shop deployed, its web proc declaring config.json (stored as version 1)."""
    publish(registry, WITH_SECRET)
    run(add_secret("shop", "web", "config.json", b"1", cluster=cli_cluster))
    run(deploy_app("shop", cluster=cli_cluster, timeout=5))
    return cli_cluster


def stored(cluster) -> list[str]:
    return sorted(cluster.api.swarm_secrets)


def test_a_proc_lain_yaml_does_not_have_is_refused_with_not_found(lain, deployed) -> None:
    before = stored(deployed)
    result = lain("secret", "add", "nosuchproc", "a.txt", "--value", "x", "-a", "shop")
    assert result.exit_code == ExitStatus.NOT_FOUND == 10
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == (
        f"lain: error: shop has no proc nosuchproc in the lain.yaml of release 1, version {mv(1)} "
        "(its procs: web, mail); nothing was stored"
    )
    assert lines[1] == (
        "hint: to store it anyway, ahead of a lain.yaml that will declare it: "
        "lain -c fake secret add --undeclared -a shop nosuchproc /lain/app/a.txt -f FILE"
    )
    assert stored(deployed) == before


def test_an_undeclared_path_is_refused_naming_what_is_declared(lain, deployed) -> None:
    result = lain("secret", "add", "web", "a.txt", "--value", "x", "-a", "shop")
    assert result.exit_code == ExitStatus.NOT_FOUND
    assert "does not declare /lain/app/a.txt in secret_files" in result.stderr
    assert "(it declares: /lain/app/config.json); nothing was stored" in result.stderr


def test_undeclared_stores_it_ahead_with_a_warning(lain, deployed) -> None:
    before = stored(deployed)
    result = lain("secret", "add", "web", "a.txt", "--value", "x", "-a", "shop", "--undeclared")
    assert result.exit_code == ExitStatus.OK, result.stderr
    (warning,) = [line for line in result.stderr.splitlines() if "warning" in line]
    assert warning.startswith(
        "lain: warning: proc web of shop does not declare /lain/app/a.txt in secret_files"
    )
    assert warning.endswith("stored anyway: only a deploy whose lain.yaml declares it mounts it")
    assert result.stdout == (
        "stored /lain/app/a.txt of shop web as version 1; nothing mounts it until a deploy "
        "whose lain.yaml declares it\n"
    )
    assert len(stored(deployed)) == len(before) + 1
    as_json = lain(
        "-o", "json", "secret", "add", "web", "a.txt", "--value", "y", "-a", "shop", "--undeclared"
    )
    result_line = json.loads(as_json.stdout)
    assert result_line["declared"] is False and result_line["version"] == 2


def test_a_declared_file_rolls_out_as_before(lain, deployed) -> None:
    result = lain("secret", "add", "web", "config.json", "--value", "two", "-a", "shop")
    assert result.exit_code == ExitStatus.OK, result.stderr
    assert "rolled out as release 2 (succeeded)" in result.stdout
    assert "warning" not in result.stderr


def test_an_app_not_deployed_is_checked_against_the_registry_given(
    lain, cli_cluster, registry, mirror, other_sessions
) -> None:
    publish(mirror, WITH_SECRET)
    missing = lain("secret", "add", "web", "config.json", "--value", "x", "-a", "shop")
    assert missing.exit_code == ExitStatus.NOT_FOUND
    assert (
        f"shop is not deployed on cluster fake and registry {REGISTRY} has no version of it, so "
        "no lain.yaml says whether proc web declares /lain/app/config.json" in missing.stderr
    )
    assert stored(cli_cluster) == []
    given = lain(
        "secret",
        "add",
        "web",
        "config.json",
        "--value",
        "x",
        "-a",
        "shop",
        "--registry",
        mirror.host,
    )
    assert given.exit_code == ExitStatus.OK, given.stderr
    assert "web of shop is not deployed; the next deploy mounts version 1" in given.stdout
    assert [s.registry for s in other_sessions] == [mirror.host]


def test_the_help_says_what_is_checked(lain) -> None:
    text = " ".join(lain("secret", "add", "--help").stdout.split())
    assert "--undeclared" in text and "--registry HOST[:PORT]" in text
    assert "the running release's, or when the app is not deployed yet" in text


def test_a_value_past_swarms_limit_is_refused_without_reading_it_all(lain) -> None:
    class Endless(io.RawIOBase):
        """A huge stdin (64 MB): reading it whole is what must not happen."""

        read_so_far = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:
            if Endless.read_so_far >= 64 << 20:
                return 0
            buffer[:] = b"x" * len(buffer)
            Endless.read_so_far += len(buffer)
            return len(buffer)

    result = lain(
        "secret", "add", "web", "/etc/big", "-a", "shop", input=io.BufferedReader(Endless())
    )
    assert result.exit_code == ExitStatus.USAGE, result.stderr
    assert "has more than 512000 bytes" in result.stderr
    assert Endless.read_so_far < 2 * 512000


def test_the_result_is_printed_once_on_stdout(lain, deployed) -> None:
    result = lain("secret", "add", "web", "config.json", "--value", "two", "-a", "shop")
    assert result.exit_code == ExitStatus.OK, result.stderr
    assert result.stdout.startswith("stored /lain/app/config.json of shop web as version 2;")
    assert "stored" not in result.stderr
    assert "rolling version 2 of /lain/app/config.json out to web" in result.stderr


def test_c_after_secret_add_is_the_cluster(lain, deployed, monkeypatch) -> None:
    asked: list[str | None] = []
    monkeypatch.setattr(
        Cluster, "from_settings", classmethod(lambda cls, name=None: asked.append(name) or deployed)
    )
    added = lain("cluster", "add", "prod", "--registry", REGISTRY)
    assert added.exit_code == ExitStatus.OK, added.stderr
    result = lain("secret", "add", "web", "config.json", "--value", "x", "-a", "shop", "-c", "prod")
    assert result.exit_code == ExitStatus.OK, result.stderr
    assert asked == ["prod"]


def test_c_naming_no_cluster_is_refused_without_repeating_it(lain, deployed) -> None:
    # -c gave the value once: a value typed from habit must not be echoed back
    result = lain("secret", "add", "web", "config.json", "-c", "hunter2", "-a", "shop")
    assert result.exit_code == ExitStatus.USAGE
    assert "hunter2" not in result.stdout + result.stderr
    assert "no cluster has the name given" in result.stderr
    assert "--value TEXT" in result.stderr


def test_content_still_gives_the_value_with_a_warning(lain, deployed) -> None:
    result = lain("secret", "add", "web", "config.json", "--content", "x", "-a", "shop")
    assert result.exit_code == ExitStatus.OK, result.stderr
    assert "lain: warning: --content is now --value" in result.stderr
    assert "as version 2" in result.stdout


def test_rm_takes_secret_version_and_the_old_version_with_a_warning(lain, deployed) -> None:
    for value in ("2", "3"):
        added = lain("secret", "add", "web", "config.json", "--value", value, "--no-rollout",
                     "-a", "shop")  # fmt: skip
        assert added.exit_code == ExitStatus.OK, added.stderr
    removed = lain("secret", "rm", "web", "config.json", "--secret-version", "3", "-a", "shop")
    assert removed.exit_code == ExitStatus.OK, removed.stderr
    assert removed.stdout == "removed version(s) 3 of /lain/app/config.json of shop web\n"
    old = lain("-o", "json", "secret", "rm", "web", "config.json", "--version", "2", "-a", "shop")
    assert old.exit_code == ExitStatus.OK, old.stderr
    assert json.loads(old.stdout)["removed_versions"] == [2]
    assert "lain: warning: --version is now --secret-version" in old.stderr


def test_ls_json_is_an_object_naming_the_app(lain, deployed) -> None:
    result = lain("-o", "json", "secret", "ls", "-a", "shop")
    assert result.exit_code == ExitStatus.OK, result.stderr
    listed = json.loads(result.stdout)
    assert listed["app"] == "shop" and listed["proc"] is None
    assert [(s["proc"], s["path"], s["newest"]) for s in listed["secrets"]] == [
        ("web", "/lain/app/config.json", 1)
    ]
