"""`lain unlock`: who holds an app's deploy lock (exit LOCKED while held), and --force, which
breaks it and records who did; the hints of the lock errors."""

from __future__ import annotations

import json
import os

from fakes.cluster import WEB, release_source, run

from lain_cli.exit import ExitStatus
from lain_cli.hints import hints_for
from lain_sdk.cluster.deploy import deploy_source
from lain_sdk.cluster.identity import current_user
from lain_sdk.cluster.lock import acquire_lock
from lain_sdk.errors import LockHeld, LockLost


def test_a_free_lock(lain, cli_cluster) -> None:
    result = lain("unlock", "-a", "shop")
    assert result.exit_code == ExitStatus.OK, result.stderr
    assert result.stdout == "the lock of shop is free\n"
    data = json.loads(lain("-o", "json", "unlock", "-a", "shop").stdout)
    assert (data["state"], data["held"], data["lock"]) == ("free", False, None)


def test_a_held_lock_is_shown_with_its_holder_and_exits_locked(lain, cli_cluster) -> None:
    holder, _ = run(acquire_lock(cli_cluster.api, "shop", operation="scale", renew_every=3600))
    with holder:
        result = lain("-c", "prod", "unlock", "-a", "shop")
        assert result.exit_code == ExitStatus.LOCKED
        assert result.stdout.startswith(
            f"the lock of shop is held by {current_user()} (pid {os.getpid()}, scale) since "
        )
        assert "s left" in result.stdout
        assert "`lain -c prod unlock -a shop --force`" in result.stderr
        listed = lain("-o", "json", "unlock", "-a", "shop")
        assert listed.exit_code == ExitStatus.LOCKED and listed.stderr == ""
        data = json.loads(listed.stdout)
        assert data["state"] == "held" and 0 < data["lease_left"] <= 90
        assert data["lock"]["owner"] == current_user() and data["lock"]["operation"] == "scale"


def test_force_breaks_the_lock_and_the_next_operation_says_who_broke_it(lain, cli_cluster) -> None:
    run(deploy_source(cli_cluster, release_source(WEB), timeout=5))
    holder, _ = run(acquire_lock(cli_cluster.api, "shop", operation="deploy", renew_every=3600))
    broke = lain("unlock", "-a", "shop", "--force")
    assert broke.exit_code == ExitStatus.OK, broke.stderr
    assert broke.stdout.startswith(
        f"broke it: the lock of shop, held by {current_user()} (pid {os.getpid()}, deploy) since "
    )
    assert f"was broken by {current_user()} at " in broke.stdout
    assert "If that deploy still runs, it fails when it next renews the lock" in broke.stdout

    # The record stays for whoever looks next, and breaking it again changes nothing.
    shown = lain("-o", "json", "unlock", "-a", "shop")
    assert shown.exit_code == ExitStatus.OK
    data = json.loads(shown.stdout)
    assert data["state"] == "broken" and data["lock"]["ended_by"] == current_user()
    again = lain("unlock", "-a", "shop", "--force")
    assert again.exit_code == ExitStatus.OK and "was broken by" in again.stdout
    assert not again.stdout.startswith("broke it")

    # The holder finds it broken; the next operation takes the lock and says who broke it.
    holder.release()
    assert isinstance(holder.lost, LockLost) and holder.lost.by == current_user()
    restarted = lain("restart", "-a", "shop")
    assert restarted.exit_code == ExitStatus.OK, restarted.stderr
    assert f"the lock of shop, held by {current_user()} (pid {os.getpid()}" in restarted.stderr
    assert f"was broken by {current_user()} at " in restarted.stderr
    assert lain("unlock", "-a", "shop").stdout == "the lock of shop is free\n"


def test_force_on_a_free_lock_breaks_nothing(lain, cli_cluster) -> None:
    result = lain("unlock", "-a", "shop", "--force")
    assert result.exit_code == ExitStatus.OK
    assert result.stdout == "the lock of shop is free: nothing to break\n"


def test_an_operation_that_waits_in_vain_names_the_holder_and_unlock(lain, cli_cluster) -> None:
    run(deploy_source(cli_cluster, release_source(WEB), timeout=5))
    holder, _ = run(acquire_lock(cli_cluster.api, "shop", operation="deploy", renew_every=3600))
    with holder:
        result = lain("restart", "-a", "shop", "--timeout", "1")
    assert result.exit_code == ExitStatus.LOCKED
    assert f"the lock is held by {current_user()} (pid {os.getpid()}, deploy) since" in (
        result.stderr
    )
    assert "hint: see who holds it with `lain -c fake unlock -a shop`" in result.stderr


def test_hints_of_the_lock_errors() -> None:
    held = LockHeld("shop", "bob@ci (pid 7, deploy)", "deploy", 5, "soon", cluster="prod")
    assert hints_for(held)[1] == (
        "see who holds it with `lain -c prod unlock -a shop`; if that holder is gone for good, "
        "add --force to break the lock"
    )
    assert "`lain unlock -a shop`" in hints_for(LockHeld("shop", "bob", "deploy", 5, "soon"))[1]
    lost = LockLost("shop", "deploy", "broken", "bob@laptop", "2024-05-01T10:00:00Z")
    assert "broken by bob@laptop at 2024-05-01T10:00:00Z" in str(lost)
    assert hints_for(lost) == ["see what runs with `lain ps -a shop` and `lain releases -a shop`"]


def test_the_app_comes_from_the_global_a_or_lain_app_and_a_commands_own_a_wins(
    lain, cli_cluster
) -> None:
    free = "the lock of shop is free\n"
    assert lain("-a", "shop", "unlock").stdout == free
    assert lain("unlock", env={"LAIN_APP": "shop"}).stdout == free
    assert lain("-a", "other", "unlock", "-a", "shop").stdout == free
    assert lain("unlock", "-a", "shop", env={"LAIN_APP": "other"}).stdout == free


def test_c_after_the_command_is_the_cluster_in_the_hint(lain, cli_cluster) -> None:
    holder, _ = run(acquire_lock(cli_cluster.api, "shop", operation="scale", renew_every=3600))
    with holder:
        result = lain("unlock", "-a", "shop", "-c", "prod")
    assert result.exit_code == ExitStatus.LOCKED
    assert "`lain -c prod unlock -a shop --force`" in result.stderr
