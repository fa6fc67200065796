"""How `lain ps` reads a slot's task history: which task is the instance, which error it shows."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from lain_cli.commands.deploy import _fmt_error
from lain_sdk.cluster.status import _instances

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc).timestamp()


def stamp(seconds_ago: float) -> str:
    when = datetime.fromtimestamp(NOW - seconds_ago, tz=timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"  # the engine prints nanoseconds


def task(
    task_id: str, slot: int, state: str, desired: str, seconds_ago: float, err: str = ""
) -> dict[str, Any]:
    status: dict[str, Any] = {"State": state, "Timestamp": stamp(seconds_ago)}
    if err:
        status["Err"] = err
    return {
        "ID": task_id,
        "Slot": slot,
        "DesiredState": desired,
        "CreatedAt": stamp(seconds_ago + 1),
        "NodeID": "n1",
        "Status": status,
    }


def instances(tasks: list[dict[str, Any]]) -> dict[int, Any]:
    found = _instances(tasks, {"n1": "node-1"}, {}, True, NOW, "lain_shop")
    return {i.instance: i for i in found}


def test_an_old_failure_of_a_replaced_task_is_shown_with_its_age() -> None:
    found = instances(
        [
            task("old", 1, "failed", "shutdown", 2700, err="task: non-zero exit (255)"),
            task("now", 1, "running", "running", 30),
            task("clean", 2, "running", "running", 30),
        ]
    )
    assert (found[1].task, found[1].state, found[1].health) == ("now", "running", "healthy")
    assert found[1].error == "task: non-zero exit (255)"
    assert 2699 <= found[1].error_age <= 2701
    assert _fmt_error(found[1].error, found[1].error_age) == "task: non-zero exit (255) (45m ago)"
    assert (found[2].error, found[2].error_age) == ("", None)
    assert _fmt_error(found[2].error, found[2].error_age) == "-"


def test_the_current_tasks_own_error_wins_over_older_ones() -> None:
    found = instances(
        [
            task("first", 1, "failed", "shutdown", 600, err="task: non-zero exit (1)"),
            task("again", 1, "starting", "running", 5, err="container is unhealthy"),
        ]
    )
    assert found[1].error == "container is unhealthy"
    assert 4 <= found[1].error_age <= 6
    assert found[1].to_dict()["error_age"] == found[1].error_age
