"""The deploy lock: one operation at a time per app, taken over when its holder is gone."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
from fakes.cluster import FakeDockerClient, run

from lain_sdk.cluster.lock import LockInfo, acquire_lock
from lain_sdk.cluster.names import lock_config_name
from lain_sdk.errors import LockHeld
from lain_sdk.events import LockWaiting


@pytest.fixture
def api():
    return FakeDockerClient().api


def held_by(api, *, host: str, pid: int, ttl: float = 600.0, operation: str = "deploy") -> str:
    data = {
        "app": "shop",
        "owner": f"alice@{host}",
        "host": host,
        "pid": pid,
        "operation": operation,
        "ttl": ttl,
    }
    return api.create_config(
        lock_config_name("shop"), json.dumps(data).encode(), labels={"lain.app": "shop"}
    )["ID"]


def dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout)


def test_the_lock_is_a_config_released_when_the_block_ends(api) -> None:
    lock, events = run(acquire_lock(api, "shop", operation="scale", wait=1, ttl=60))
    assert events == []
    with lock:
        info = LockInfo.from_config(api.inspect_config(lock_config_name("shop")))
        assert info is not None and (info.pid, info.operation, info.ttl) == (
            os.getpid(),
            "scale",
            60,
        )
        assert info.host == socket.gethostname()
    assert api.configs() == []
    lock.release()  # twice is fine


def test_a_held_lock_makes_others_wait_then_fail_naming_the_holder(api) -> None:
    held_by(api, host="ci-runner-7", pid=4242)
    events: list = []
    with pytest.raises(LockHeld) as held:
        for event in acquire_lock(api, "shop", wait=0.05, poll=0.01):
            events.append(event)
    assert held.value.app == "shop" and "alice@ci-runner-7 (pid 4242, deploy)" in held.value.holder
    assert "abandoned lock expires 600s after it was taken" in str(held.value)
    assert [type(e) for e in events] == [LockWaiting]
    assert "alice@ci-runner-7" in events[0].holder


def test_a_lock_whose_holder_died_on_this_host_is_taken_over(api) -> None:
    old = held_by(api, host=socket.gethostname(), pid=dead_pid())
    lock, events = run(acquire_lock(api, "shop", wait=1))
    assert events == [] and lock.info.config_id != old and lock.info.pid == os.getpid()


def test_an_expired_lock_is_taken_over(api) -> None:
    held_by(api, host="elsewhere", pid=1, ttl=0)
    lock, _ = run(acquire_lock(api, "shop", wait=1))
    assert lock.info.host == socket.gethostname()


def test_an_unreadable_lock_is_taken_over(api) -> None:
    api.create_config(lock_config_name("shop"), b"not json", labels={"lain.app": "shop"})
    lock, _ = run(acquire_lock(api, "shop", wait=1))
    assert lock.info.owner.endswith(socket.gethostname())
