"""lain_router.watch and labels no lain deploy writes: a service whose every label the router
refuses changes nothing of what nginx serves, and the router's status still names it, as long
as it is there (the fake engine and nginx of test_router_watch)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from swarm_docs import service, task, with_label
from test_router_watch import parts  # noqa: F401  (the fixture)

HOSTILE_MOUNTPOINT = "x.test; } server { listen 81;"
HOSTILE_STREAMS = ["9600:80/tcp; } server { listen 82;", "70000:1/tcp"]


def status(tmp_path: Path) -> dict[str, Any]:
    return dict(json.loads((tmp_path / "status.json").read_text()))


def test_a_service_refused_whole_is_named_though_nothing_is_reloaded(parts, tmp_path) -> None:  # noqa: F811
    engine, nginx, watcher = parts
    good = service("good")
    engine.services_, engine.tasks_ = [good], [task(good, "10.0.0.2")]
    assert watcher.step()
    served, reloads = nginx.live, nginx.reloads
    hostile = with_label(service("hostile"), "lain.router.mountpoints", [HOSTILE_MOUNTPOINT])
    with_label(hostile, "lain.router.streams", HOSTILE_STREAMS)
    engine.services_.append(hostile)
    engine.tasks_.append(task(hostile, "10.0.0.3"))
    assert not watcher.step()
    assert (nginx.live, nginx.reloads) == (served, reloads)
    named = status(tmp_path)["problems"]
    assert [p["app"] for p in named] == ["hostile"] * 3
    assert HOSTILE_MOUNTPOINT in named[0]["message"] and "is not a host name" in named[0]["message"]
    assert all("want SRC:DST/tcp|udp" in p["message"] for p in named[1:])
    # Gone again: no longer named, still nothing reloaded.
    engine.services_.remove(hostile)
    assert not watcher.step()
    assert status(tmp_path)["problems"] == [] and nginx.reloads == reloads


def test_a_newer_service_claiming_a_served_mountpoint_is_named_with_the_holder(
    parts,  # noqa: F811
    tmp_path,
) -> None:
    engine, nginx, watcher = parts
    good = service("good", mountpoints=["shared.example.test"])
    engine.services_, engine.tasks_ = [good], [task(good, "10.0.0.2")]
    assert watcher.step()
    thief = service("thief", mountpoints=["shared.example.test"], created="2026-02-01T00:00:00Z")
    engine.services_.append(thief)
    engine.tasks_.append(task(thief, "10.0.0.3"))
    watcher.step()
    assert "10.0.0.3" not in (nginx.live or "") and "10.0.0.2" in (nginx.live or "")
    (problem,) = status(tmp_path)["problems"]
    assert problem == {
        "app": "thief",
        "proc": "web",
        "message": "shared.example.test is served by good (web)",
    }
