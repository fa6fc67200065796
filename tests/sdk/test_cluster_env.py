"""Config vars through lain_sdk.cluster.env: set, unset, list, roll out, roll back."""

from __future__ import annotations

import json

import pytest
from fakes.cluster import WEB, publish, run

from lain_sdk.cluster import env as env_module
from lain_sdk.cluster import history as history_module
from lain_sdk.cluster.config_vars import ConfigVars, stored_sets
from lain_sdk.cluster.deploy import deploy_app
from lain_sdk.cluster.env import list_env, proc_env, set_env
from lain_sdk.cluster.history import list_releases, rollback_app
from lain_sdk.cluster.names import LABEL_ENV_KEYS, LABEL_ENV_VERSION, LABEL_SPEC_HASH
from lain_sdk.cluster.spec import env_of
from lain_sdk.cluster.swarm import app_services
from lain_sdk.cluster.undeploy import undeploy_app
from lain_sdk.errors import ClusterError, InvalidArgument, NotFound

WITH_ENV = WEB.replace("  memory: 64m\n", "  memory: 64m\n  env: [MODE=yaml, KEEP=1]\n", 1)
TOKEN = "s3cr3t-value-9f2c"


@pytest.fixture
def deployed(cluster, registry):
    """shop (web and worker.mail) deployed, with no config vars yet."""
    publish(registry, WITH_ENV)
    run(deploy_app("shop", cluster=cluster, timeout=5))
    return cluster


def env(cluster, proc: str = "web") -> dict[str, str]:
    return env_of(app_services(cluster, "shop")[proc].spec)


def set_vars(cluster, values=None, **kwargs):
    result, _ = run(set_env("shop", values or {}, cluster=cluster, timeout=5, **kwargs))
    return result


def test_a_var_set_on_a_running_app_rolls_out_to_every_proc_as_an_env_release(deployed) -> None:
    result = set_vars(deployed, {"LOG_LEVEL": "debug"})
    assert result.version == 1 and result.changed == ("LOG_LEVEL",)
    assert result.result is not None and result.result.release.kind == "env"
    assert env(deployed)["LOG_LEVEL"] == "debug" and env(deployed, "mail")["LOG_LEVEL"] == ("debug")
    assert [r.kind for r in list_releases("shop", cluster=deployed)] == ["deploy", "env"]


def test_config_vars_win_over_lain_yaml_env_and_proc_vars_over_the_apps(deployed) -> None:
    set_vars(deployed, {"MODE": "app", "SHARED": "a"})
    set_vars(deployed, {"MODE": "web-only"}, proc="web")
    assert env(deployed)["MODE"] == "web-only" and env(deployed)["SHARED"] == "a"
    assert env(deployed)["KEEP"] == "1" and env(deployed)["LAIN_PROCNAME"] == "web"
    assert env(deployed, "mail")["MODE"] == "app"


def test_a_procs_own_var_restarts_that_proc_only(deployed) -> None:
    before = {
        p: s.spec["Labels"][LABEL_SPEC_HASH] for p, s in app_services(deployed, "shop").items()
    }
    result = set_vars(deployed, {"CONCURRENCY": "8"}, proc="mail")
    actions = {c.proc: c.action for c in result.result.plan.procs}
    assert actions == {"mail": "update"}  # web is not even looked at
    after = {
        p: s.spec["Labels"][LABEL_SPEC_HASH] for p, s in app_services(deployed, "shop").items()
    }
    assert after["web"] == before["web"] and after["mail"] != before["mail"]
    assert app_services(deployed, "shop")["web"].spec["Labels"].get(LABEL_ENV_VERSION) is None
    assert env(deployed, "mail")["CONCURRENCY"] == "8" and "CONCURRENCY" not in env(deployed)


def test_values_never_reach_labels_release_records_or_the_spec_hash(deployed) -> None:
    set_vars(deployed, {"API_TOKEN": TOKEN})
    spec = app_services(deployed, "shop")["web"].spec
    assert env_of(spec)["API_TOKEN"] == TOKEN  # containers need it
    assert TOKEN not in json.dumps(spec["Labels"]) and spec["Labels"][LABEL_ENV_KEYS] == "API_TOKEN"
    records = [c for c in deployed.api.configs() if "release" in c["Spec"]["Name"]]
    assert records and all(TOKEN not in json.dumps(c) for c in records)
    assert all(
        TOKEN not in json.dumps(r.to_dict(True)) for r in list_releases("shop", cluster=deployed)
    )
    # The same spec with another value hashes alike: the set version tells them apart.
    other = set_vars(deployed, {"API_TOKEN": "other"})
    assert other.version == 2
    assert app_services(deployed, "shop")["web"].spec["Labels"][LABEL_ENV_VERSION] == "2"


def test_the_set_is_a_secret_and_its_labels_hold_names_only(deployed) -> None:
    set_vars(deployed, {"API_TOKEN": TOKEN})
    (stored,) = stored_sets(deployed, "shop")
    assert stored.name == "lain-env-shop-v1" and stored.scopes == {"": ["API_TOKEN"]}
    found = [s for s in deployed.api.secrets() if s["ID"] == stored.secret_id]
    assert TOKEN not in json.dumps(found)
    assert json.loads(deployed.api.secret_value(stored.secret_id)) == {
        "app": {"API_TOKEN": TOKEN},
        "procs": {},
    }


def test_vars_set_before_the_first_deploy_are_applied_by_it(cluster, registry) -> None:
    publish(registry, WITH_ENV)
    result = set_vars(cluster, {"FEATURE": "on"})
    assert result.result is None and "not deployed" in result.note
    run(deploy_app("shop", cluster=cluster, timeout=5))
    assert env(cluster)["FEATURE"] == "on"


def test_list_reads_the_running_set_without_a_reader_task(deployed) -> None:
    set_vars(deployed, {"API_TOKEN": TOKEN, "LOG_LEVEL": "info"})
    deployed.api.calls.clear()
    listing = list_env("shop", cluster=deployed)
    assert "create_service" not in deployed.api.calls
    assert [(v.name, v.value, v.hidden) for v in listing.variables] == [
        ("API_TOKEN", TOKEN, True),
        ("LOG_LEVEL", "info", False),
    ]
    assert listing.to_dict()["variables"][0] == {
        "name": "API_TOKEN",
        "value": None,
        "hidden": True,
        "proc": None,
    }
    assert listing.applied == ("mail", "web") and listing.pending == ()


def test_a_set_not_rolled_out_is_read_through_a_reader_and_shown_pending(deployed) -> None:
    set_vars(deployed, {"LOG_LEVEL": "info"})
    set_vars(deployed, {"LOG_LEVEL": "warn"}, rollout=False)
    deployed.api.calls.clear()
    listing = list_env("shop", cluster=deployed)
    assert "create_service" in deployed.api.calls  # the reader
    assert [(v.name, v.value) for v in listing.variables] == [("LOG_LEVEL", "warn")]
    assert listing.pending == ("mail", "web")
    assert env(deployed)["LOG_LEVEL"] == "info"


def test_unset_takes_a_var_out_and_lain_yaml_env_shows_again(deployed) -> None:
    set_vars(deployed, {"MODE": "app"})
    set_vars(deployed, unset=["MODE"])
    assert env(deployed)["MODE"] == "yaml"
    with pytest.raises(NotFound, match=r"MODE is not set for shop \(set there: none\)"):
        set_vars(deployed, unset=["MODE"])


def test_setting_the_same_values_again_stores_nothing(deployed) -> None:
    set_vars(deployed, {"A": "1"})
    again = set_vars(deployed, {"A": "1"})
    assert again.version == 0 and "nothing to change" in again.note
    assert [s.version for s in stored_sets(deployed, "shop")] == [1]


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("LAIN_APPNAME", "lain's"),
        ("deployd_x", "lain's"),
        ("1ABC", "not a variable name"),
        ("A-B", "not a variable name"),
        ("", "not a variable name"),
    ],
)
def test_names_lain_sets_or_no_shell_could_read_are_refused(deployed, name, problem) -> None:
    with pytest.raises(InvalidArgument, match=problem):
        set_vars(deployed, {name: "x"})
    assert stored_sets(deployed, "shop") == []


def test_a_nul_in_a_value_is_refused(deployed) -> None:
    with pytest.raises(InvalidArgument, match="NUL"):
        set_vars(deployed, {"A": "x\0y"})


def test_rollback_puts_the_previous_values_back_and_makes_them_the_newest_set(deployed) -> None:
    set_vars(deployed, {"LOG_LEVEL": "info"})
    set_vars(deployed, {"LOG_LEVEL": "debug", "EXTRA": "1"})
    run(rollback_app("shop", cluster=deployed, timeout=5))
    assert env(deployed)["LOG_LEVEL"] == "info" and "EXTRA" not in env(deployed)
    assert [s.version for s in stored_sets(deployed, "shop")] == [1, 2, 3]
    # The next change builds on what the rollback restored.
    set_vars(deployed, {"NEW": "x"})
    assert {v.name for v in list_env("shop", cluster=deployed).variables} == {"LOG_LEVEL", "NEW"}


def test_rolling_back_to_before_any_var_takes_them_all_out(deployed) -> None:
    set_vars(deployed, {"LOG_LEVEL": "info"})
    run(rollback_app("shop", cluster=deployed, timeout=5))
    assert "LOG_LEVEL" not in env(deployed)
    assert list_env("shop", cluster=deployed).variables == ()


def test_a_change_stored_by_someone_else_meanwhile_is_not_undone(deployed, monkeypatch) -> None:
    set_vars(deployed, {"A": "1"})
    # As if another client stored set 2 after this one read set 1.
    read = list_env("shop", cluster=deployed)
    run(set_env("shop", {"B": "2"}, cluster=deployed, rollout=False))
    stale = ConfigVars(read.version, {"A": "1"})
    monkeypatch.setattr(env_module, "newest_set", lambda *a, **kw: stale)
    with pytest.raises(ClusterError, match="at the same time; nothing was changed"):
        set_vars(deployed, {"C": "3"})
    assert [s.version for s in stored_sets(deployed, "shop")] == [1, 2]


def test_undeploy_with_purge_removes_the_sets_and_without_keeps_them(deployed) -> None:
    set_vars(deployed, {"A": "1"})
    run(undeploy_app("shop", cluster=deployed, timeout=5))
    assert [s.version for s in stored_sets(deployed, "shop")] == [1]
    run(undeploy_app("shop", cluster=deployed, timeout=5, purge=True))
    assert stored_sets(deployed, "shop") == []


def test_proc_env_is_what_a_deploy_gives_the_proc(deployed) -> None:
    set_vars(deployed, {"A": "app", "B": "app"})
    set_vars(deployed, {"B": "web"}, proc="web")
    assert proc_env("shop", "web", cluster=deployed) == {"A": "app", "B": "web"}
    assert proc_env("shop", "mail", cluster=deployed) == {"A": "app", "B": "app"}


def test_a_rollback_refused_before_the_rollout_stores_no_set(deployed, monkeypatch) -> None:
    set_vars(deployed, {"LOG_LEVEL": "info"})
    set_vars(deployed, {"LOG_LEVEL": "debug"})

    def taken(*args, **kwargs):
        raise ClusterError("a route is taken")

    monkeypatch.setattr(history_module, "check_claims", taken)
    with pytest.raises(ClusterError, match="a route is taken"):
        run(rollback_app("shop", cluster=deployed, timeout=5))
    # Nothing changed: the next deploy still applies what runs.
    assert [s.version for s in stored_sets(deployed, "shop")] == [1, 2]
    assert env(deployed)["LOG_LEVEL"] == "debug"


def test_a_proc_the_running_app_does_not_have_is_refused_before_storing(deployed) -> None:
    with pytest.raises(NotFound, match=r"shop runs no proc wbe \(its procs: mail, web\)"):
        set_vars(deployed, {"A": "1"}, proc="wbe")
    assert stored_sets(deployed, "shop") == []
