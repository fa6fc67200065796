"""Secret files: store versions, roll them out, list, read back through a one-off task, remove."""

from __future__ import annotations

import pytest
from fakes.cluster import REGISTRY, WEB, mv, publish, run
from fakes.swarm import Behaviour

from lain_sdk.cluster.deploy import deploy_app
from lain_sdk.cluster.history import list_releases
from lain_sdk.cluster.secrets import (
    SecretValue,
    add_secret,
    list_secrets,
    read_proc_secrets,
    read_secret,
    remove_secret,
)
from lain_sdk.cluster.swarm import app_services
from lain_sdk.errors import (
    ClusterError,
    InvalidArgument,
    LainTimeout,
    NotFound,
    RegistryError,
    SecretNotDeclared,
    SecretsMissing,
)

WITH_SECRET = WEB.replace("  memory: 64m\n", "  memory: 64m\n  secret_files: [config.json]\n", 1)
PATH = "/lain/app/config.json"


@pytest.fixture
def deployed(cluster, registry):
    """shop deployed with version 1 of its secret file."""
    publish(registry, WITH_SECRET)
    run(add_secret("shop", "web", "config.json", b'{"db": 1}', cluster=cluster))
    run(deploy_app("shop", cluster=cluster, timeout=5))
    return cluster


def mounted_version(cluster) -> str:
    return app_services(cluster, "shop")["web"].container["Secrets"][0]["SecretName"][-3:]


def test_a_secret_added_before_the_first_deploy_is_mounted_by_it(deployed) -> None:
    (mount,) = app_services(deployed, "shop")["web"].container["Secrets"]
    assert mount["File"] == {"Name": PATH, "UID": "0", "GID": "0", "Mode": 0o400}
    assert deployed.api.secret_value(mount["SecretID"]) == b'{"db": 1}'


def test_a_new_version_rolls_out_to_the_running_proc_as_a_release(deployed) -> None:
    result, _ = run(
        add_secret("shop", "web", "config.json", b'{"db": 2}', cluster=deployed, timeout=5)
    )
    assert result.secret.version == 2 and result.rollout is not None
    assert result.rollout.release.kind == "secret" and result.rollout.release.outcome == "succeeded"
    assert mounted_version(deployed) == "-v2"
    assert result.to_dict()["rollout"]["release"]["number"] == 2
    assert [r.kind for r in list_releases("shop", cluster=deployed)] == ["deploy", "secret"]


def test_a_version_stored_without_rollout_waits_for_the_next_deploy(deployed) -> None:
    result, _ = run(add_secret("shop", "web", "config.json", b"x", cluster=deployed, rollout=False))
    assert result.rollout is None and "the next deploy mounts version 2" in result.note
    assert mounted_version(deployed) == "-v1"


def test_a_path_the_running_proc_does_not_declare_is_stored_only_when_allowed(deployed) -> None:
    with pytest.raises(SecretNotDeclared):
        run(add_secret("shop", "web", "other.txt", b"x", cluster=deployed))
    result, _ = run(
        add_secret("shop", "web", "other.txt", b"x", cluster=deployed, allow_undeclared=True)
    )
    assert result.rollout is None and not result.declared
    assert "does not declare /lain/app/other.txt in secret_files" in result.note
    assert result.note.endswith(
        "stored anyway: only a deploy whose lain.yaml declares it mounts it"
    )
    assert mounted_version(deployed) == "-v1"


def test_listing_shows_versions_and_the_one_in_use_never_values(deployed) -> None:
    run(add_secret("shop", "web", "config.json", b"two", cluster=deployed, rollout=False))
    (info,) = list_secrets("shop", cluster=deployed)
    assert (info.proc, info.path, info.in_use, info.newest.version) == ("web", PATH, 1, 2)
    assert [v.version for v in info.versions] == [1, 2]
    assert (
        "two" not in repr(info.to_dict())
        and list_secrets("shop", cluster=deployed, proc="mail") == []
    )


def test_reading_back_a_value_and_a_version(deployed) -> None:
    run(
        add_secret("shop", "web", "config.json", b"\x00binary\xff", cluster=deployed, rollout=False)
    )
    assert read_secret("shop", "web", "config.json", cluster=deployed).content == b"\x00binary\xff"
    value = read_secret("shop", "web", PATH, cluster=deployed, version=1)
    assert (value.version, value.content) == (1, b'{"db": 1}') and "db" not in repr(value)
    # The reader service is gone once read.
    assert sorted(s["Spec"]["Name"] for s in deployed.api.services()) == ["shop__mail", "shop__web"]


def test_read_proc_secrets_reads_every_declared_file_at_once(deployed) -> None:
    from lain_sdk.cluster.source import load_source

    config = load_source(deployed, "shop", None).config
    values, warnings = read_proc_secrets("shop", config.proc("web"), cluster=deployed)
    assert values == {PATH: b'{"db": 1}'} and warnings == []
    assert read_proc_secrets(
        "shop", config.proc("web"), cluster=deployed, skip=["config.json"]
    ) == ({}, [])
    with pytest.raises(SecretsMissing) as missing:
        read_proc_secrets("other", config.proc("web"), cluster=deployed)
    assert missing.value.missing == (("web", PATH),)


def test_values_are_read_through_exec_never_through_a_log(deployed) -> None:
    value = read_secret("shop", "web", "config.json", cluster=deployed)
    assert value.content == b'{"db": 1}'
    (reader,) = [
        c for c in deployed.api.created_services if c["Name"].startswith("lain-secret-read-")
    ]
    task = reader["TaskTemplate"]
    assert task["LogDriver"] == {"Name": "none"}  # whatever it printed would go nowhere
    assert task["ContainerSpec"]["Command"][0] == "sleep"  # it only waits to be read
    assert task["Placement"]["Constraints"] == ["node.id==node-manager-1"]
    assert "service_logs" not in deployed.api.calls


def test_a_reader_image_without_cat_or_that_never_starts_fails_clearly(deployed) -> None:
    deployed.api.script("no-cat", Behaviour(commands=("sleep",)))
    with pytest.raises(ClusterError, match=r"cat .* failed: exec: cat: executable file not found"):
        read_secret("shop", "web", "config.json", cluster=deployed, image="no-cat")
    deployed.api.script("broken", Behaviour(fails="exec: sleep: not found", exit_code=127))
    with pytest.raises(ClusterError, match=r"does it have sleep and cat"):
        read_secret("shop", "web", "config.json", cluster=deployed, image="broken")
    deployed.api.script("slow", Behaviour(starts_after=10**9))
    with pytest.raises(LainTimeout, match=r"did not start within 0\.01s"):
        read_secret("shop", "web", "config.json", cluster=deployed, image="slow", timeout=0.01)
    # Each reader went, whatever happened to it.
    assert not [s for s in deployed.api.services() if "secret-read" in s["Spec"]["Name"]]


def test_removing_refuses_a_mounted_version_and_removes_the_others(deployed) -> None:
    run(add_secret("shop", "web", "config.json", b"two", cluster=deployed, rollout=False))
    with pytest.raises(
        ClusterError,
        match=r"version 1 of /lain/app/config\.json of shop web is mounted by service shop__web",
    ):
        remove_secret("shop", "web", "config.json", cluster=deployed)
    removed = remove_secret("shop", "web", "config.json", cluster=deployed, version=2)
    assert removed.versions == (2,) and removed.to_dict()["removed_versions"] == [2]
    with pytest.raises(
        NotFound, match=r"shop web has no version 2 of /lain/app/config.json \(versions: 1\)"
    ):
        remove_secret("shop", "web", "config.json", cluster=deployed, version=2)


@pytest.mark.parametrize(
    ("proc", "path", "value", "says"),
    [
        ("Web_1", "a", b"x", "is not a proc name"),
        ("web", "/lain/app", b"x", "is a directory lain needs"),
        ("web", "dir/", b"x", "names a directory"),
        ("web", "a", b"", "is empty"),
        ("web", "a", "text", "must be bytes"),
        ("web", "a", b"x" * (500 * 1024 + 1), "Swarm stores at most 500 KiB"),
    ],
)
def test_bad_secrets_are_refused_before_anything_is_stored(
    cluster, proc, path, value, says
) -> None:
    with pytest.raises(InvalidArgument, match=says):
        run(add_secret("shop", proc, path, value, cluster=cluster))
    assert cluster.api.swarm_secrets == {}


def test_a_failed_secret_rollout_keeps_the_previous_version_serving(deployed, registry) -> None:
    deployed.api.script(f"{REGISTRY}/shop:release-{mv(1)}", Behaviour(fails="bad config"))
    from lain_sdk.errors import DeployFailed

    with pytest.raises(DeployFailed):
        run(add_secret("shop", "web", "config.json", b"broken", cluster=deployed, timeout=5))
    assert mounted_version(deployed) == "-v1"


def test_values_stay_out_of_reprs() -> None:
    value = SecretValue("shop", "web", "/etc/token", 1, b"hunter2")
    assert "hunter2" not in repr(value)


# -- only what lain.yaml declares is stored ----------------------------------------------------


def stored(cluster) -> list[str]:
    return sorted(cluster.api.swarm_secrets)


def test_a_proc_the_running_lain_yaml_does_not_have_is_refused_and_nothing_stored(
    deployed,
) -> None:
    before = stored(deployed)
    with pytest.raises(SecretNotDeclared) as refused:
        run(add_secret("shop", "nosuchproc", "a.txt", b"x", cluster=deployed))
    error = refused.value
    assert (error.app, error.proc, error.path, error.cluster) == (
        "shop",
        "nosuchproc",
        "/lain/app/a.txt",
        "fake",
    )
    assert set(error.procs) == {"web", "mail"} and error.declared == ()
    assert error.source == f"release 1, version {mv(1)}"
    assert str(error) == (
        f"shop has no proc nosuchproc in the lain.yaml of release 1, version {mv(1)} "
        f"(its procs: {', '.join(error.procs)}); nothing was stored"
    )
    assert stored(deployed) == before


def test_an_undeclared_path_names_what_the_proc_declares(deployed) -> None:
    with pytest.raises(SecretNotDeclared) as refused:
        run(add_secret("shop", "web", "a.txt", b"x", cluster=deployed))
    assert refused.value.declared == (PATH,)
    assert str(refused.value) == (
        "proc web of shop does not declare /lain/app/a.txt in secret_files in the lain.yaml of "
        f"release 1, version {mv(1)} (it declares: {PATH}); nothing was stored"
    )
    with pytest.raises(SecretNotDeclared, match=r"\(it declares: none\)"):
        run(add_secret("shop", "mail", "a.txt", b"x", cluster=deployed))


def test_an_app_not_deployed_is_checked_against_the_newest_version_in_the_registry(
    cluster, registry
) -> None:
    publish(registry, WEB, n=1)
    publish(registry, WITH_SECRET, n=2)
    result, _ = run(add_secret("shop", "web", "config.json", b"x", cluster=cluster))
    assert result.declared and result.note == (
        "web of shop is not deployed; the next deploy mounts version 1"
    )
    with pytest.raises(SecretNotDeclared) as refused:
        run(add_secret("shop", "web", "other.txt", b"x", cluster=cluster))
    assert refused.value.source == f"version {mv(2)}, the newest in registry {REGISTRY}"
    assert refused.value.declared == (PATH,)
    assert len(stored(cluster)) == 1


def test_the_running_release_counts_not_a_newer_version_until_it_is_deployed(
    deployed, registry
) -> None:
    newer = WITH_SECRET.replace("[config.json]", "[config.json, extra.txt]")
    publish(registry, newer, n=2)
    with pytest.raises(SecretNotDeclared, match=f"release 1, version {mv(1)}"):
        run(add_secret("shop", "web", "extra.txt", b"x", cluster=deployed))
    # Stored ahead of the lain.yaml that declares it: that version's deploy mounts it.
    ahead, _ = run(
        add_secret("shop", "web", "extra.txt", b"early", cluster=deployed, allow_undeclared=True)
    )
    assert not ahead.declared and ahead.rollout is None and ahead.to_dict()["declared"] is False
    run(deploy_app("shop", cluster=deployed, timeout=5))
    mounts = app_services(deployed, "shop")["web"].container["Secrets"]
    assert sorted(m["File"]["Name"] for m in mounts) == [PATH, "/lain/app/extra.txt"]


def test_with_no_lain_yaml_anywhere_it_is_refused_saying_why(cluster, registry) -> None:
    with pytest.raises(SecretNotDeclared) as refused:
        run(add_secret("shop", "web", "a.txt", b"x", cluster=cluster))
    why = f"shop is not deployed on cluster fake and registry {REGISTRY} has no version of it"
    assert refused.value.source == "" and refused.value.reason == why
    assert str(refused.value) == (
        f"{why}, so no lain.yaml says whether proc web declares /lain/app/a.txt in secret_files; "
        "nothing was stored"
    )
    assert stored(cluster) == []
    result, _ = run(
        add_secret("shop", "web", "a.txt", b"x", cluster=cluster, allow_undeclared=True)
    )
    assert not result.declared and result.note.startswith(why)
    assert result.secret.version == 1 and len(stored(cluster)) == 1


def test_an_unreachable_registry_refuses_unless_allowed(cluster, registry) -> None:
    registry.reachable = False
    with pytest.raises(RegistryError):
        run(add_secret("shop", "web", "a.txt", b"x", cluster=cluster))
    assert stored(cluster) == []
    result, _ = run(
        add_secret("shop", "web", "a.txt", b"x", cluster=cluster, allow_undeclared=True)
    )
    assert not result.declared
    assert result.note.startswith("the lain.yaml of shop's newest version could not be read (")


def test_bad_arguments_are_refused_before_any_lookup(cluster) -> None:
    sent = list(cluster.api.calls)
    with pytest.raises(InvalidArgument, match="allow_undeclared"):
        run(add_secret("shop", "web", "a", b"x", cluster=cluster, allow_undeclared="yes"))
    with pytest.raises(InvalidArgument, match="is empty"):
        run(add_secret("shop", "web", "a", b"", cluster=cluster))
    assert cluster.api.calls == sent
