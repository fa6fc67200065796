"""The deploy lock: one operation at a time per app; a holder is told apart from processes of
other machines that share its hostname, keeps its lease alive while it works, and loses the
lock only to a takeover after its lease ran out, or to someone who breaks it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable

import pytest
from fakes.cluster import fake_cluster, run

from lain_sdk.cluster import identity, lock_record
from lain_sdk.cluster import lock as lock_module
from lain_sdk.cluster.identity import ProcessIdentity, current_user
from lain_sdk.cluster.lock import acquire_lock, app_lock, break_lock, lock_status
from lain_sdk.cluster.lock_record import LABEL_ENDED, LockInfo, look, take_over
from lain_sdk.cluster.names import lock_config_name
from lain_sdk.cluster.session import Cluster
from lain_sdk.errors import LockHeld, LockLost
from lain_sdk.events import LockWaiting, Message

HERE = identity.this_process()
linux_identity = pytest.mark.skipif(
    not (HERE.machine and HERE.boot and HERE.pid_namespace and HERE.start),
    reason="needs /etc/machine-id and /proc",
)


class ManagerClock:
    """The manager's clock as lain reads it (``engine_time``), moved only when told."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self, api: object) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def session() -> Cluster:
    return fake_cluster()


@pytest.fixture
def api(session: Cluster):
    return session.api


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> ManagerClock:
    found = ManagerClock()
    monkeypatch.setattr(lock_module, "engine_time", found)  # renewals
    monkeypatch.setattr(lock_record, "engine_time", found)  # reading a lock
    return found


def dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout)


def held_by(
    api,
    *,
    owner: str = "alice@ci-runner-7",
    process: ProcessIdentity | None = None,
    pid: int = 4242,
    ttl: float = 600.0,
    lease: float = 90.0,
    legacy: bool = False,
) -> str:
    """A lock of ``shop`` held by another process (by default of another machine)."""
    process = process or ProcessIdentity("other-machine", "other-boot", "pid:[1]", pid, "777")
    data: dict = {
        "app": "shop",
        "owner": owner,
        "host": owner.rpartition("@")[2],
        "pid": process.pid,
        "operation": "deploy",
        "ttl": ttl,
    }
    if not legacy:  # what lain versions with leases write
        data |= {
            "lease": lease,
            "token": "0123456789abcdef",
            "machine": process.machine,
            "boot": process.boot,
            "pid_namespace": process.pid_namespace,
            "start": process.start,
        }
    return api.create_config(
        lock_config_name("shop"),
        json.dumps(data).encode(),
        labels={"lain.app": "shop", "lain.lock": "1"},
    )["ID"]


def this_host() -> str:
    return f"alice@{socket.gethostname()}"


def eventually(condition: Callable[[], object], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def notes(events: list) -> list[str]:
    return [e.text for e in events if isinstance(e, Message)]


# -- taking and releasing ----------------------------------------------------------------------


def test_the_lock_is_a_config_naming_its_holder_released_when_the_block_ends(api) -> None:
    lock, events = run(acquire_lock(api, "shop", operation="scale", wait=1, ttl=60))
    assert events == []
    with lock:
        info = LockInfo.from_config(api.inspect_config(lock_config_name("shop")))
        assert info is not None
        assert (info.pid, info.operation, info.ttl, info.lease) == (os.getpid(), "scale", 60, 90)
        assert info.host == socket.gethostname() and info.owner == current_user()
        assert len(info.token) == 16 and info.token == lock.info.token
        assert info.process == HERE
    assert api.configs() == []
    lock.release()  # twice is fine


def test_a_held_lock_makes_others_wait_then_fail_naming_the_holder(session, api) -> None:
    held_by(api)
    events: list = []
    with pytest.raises(LockHeld) as held:
        for event in app_lock(session, "shop", operation="deploy", timeout=0.05):
            events.append(event)
    error = held.value
    assert (error.app, error.owner, error.pid, error.operation) == (
        "shop",
        "alice@ci-runner-7",
        4242,
        "deploy",
    )
    assert error.cluster == "fake" and error.since and 80 < (error.lease_left or 0) <= 90
    assert "alice@ci-runner-7 (pid 4242, deploy) since " in str(error)
    assert "s left; waited 0.05s" in str(error)
    assert "free 90s after its holder last renewed it" in str(error)
    assert [type(e) for e in events] == [LockWaiting]
    assert "alice@ci-runner-7 (pid 4242, deploy) since" in events[0].holder
    assert "lease" in events[0].holder


# -- takeover: only a lease that ran out, or a holder certainly gone -------------------------


@linux_identity
@pytest.mark.parametrize(
    "other",
    [
        pytest.param(dict(machine="another-machine"), id="another machine id"),
        pytest.param(dict(boot="another-boot"), id="another boot (or a cloned machine id)"),
        pytest.param(dict(pid_namespace="pid:[4026532000]"), id="another container"),
        pytest.param(dict(machine=""), id="machine id unknown"),
        pytest.param(dict(start=""), id="start time unknown"),
    ],
)
def test_same_hostname_and_a_pid_not_running_here_is_not_enough_to_take_over(api, other) -> None:
    pid = dead_pid()
    fields = dict(
        machine=HERE.machine, boot=HERE.boot, pid_namespace=HERE.pid_namespace, start="777"
    )
    process = ProcessIdentity(pid=pid, **(fields | other))
    held_by(api, owner=this_host(), process=process)
    with pytest.raises(LockHeld) as held:
        run(acquire_lock(api, "shop", wait=0.05, poll=0.01))
    assert held.value.owner == this_host() and held.value.pid == pid


def test_a_lock_of_an_older_lain_is_never_taken_over_for_its_pid(api, clock) -> None:
    # Older locks name a host and pid only: a pid not running here proves nothing.
    held_by(api, owner=this_host(), pid=dead_pid(), ttl=600, legacy=True)
    with pytest.raises(LockHeld, match="free 600s after it was taken"):
        run(acquire_lock(api, "shop", wait=0.05, poll=0.01))
    clock.advance(601)
    lock, events = run(acquire_lock(api, "shop", wait=0))
    assert "its lease ran out" in notes(events)[0]
    lock.release()


@linux_identity
def test_a_holder_of_this_machine_whose_process_is_gone_is_taken_over(api) -> None:
    process = ProcessIdentity(HERE.machine, HERE.boot, HERE.pid_namespace, dead_pid(), "777")
    old = held_by(api, owner=this_host(), process=process)
    lock, events = run(acquire_lock(api, "shop", wait=1))
    with lock:
        assert lock.info.config_id != old and lock.info.pid == os.getpid()
        [note] = notes(events)
        assert note.startswith(f"took over the lock of shop from {this_host()} (pid {process.pid}")
        assert notes(events)[0].endswith(": that process is gone")


@linux_identity
def test_a_pid_reused_by_another_process_is_taken_over(api) -> None:
    # This very pid, but started at another time: the holder is gone, its pid reused.
    process = ProcessIdentity(HERE.machine, HERE.boot, HERE.pid_namespace, os.getpid(), "1")
    held_by(api, owner=this_host(), process=process)
    lock, events = run(acquire_lock(api, "shop", wait=1))
    lock.release()
    assert notes(events)[0].endswith("that process is gone")


@linux_identity
def test_a_holder_of_this_machine_that_runs_is_waited_for(api) -> None:
    held_by(api, owner=this_host(), process=HERE)  # another holding of this very process
    with pytest.raises(LockHeld):
        run(acquire_lock(api, "shop", wait=0.05, poll=0.01))


def test_a_lock_whose_lease_ran_out_is_taken_over(api, clock) -> None:
    held_by(api, lease=90)
    clock.advance(60)
    with pytest.raises(LockHeld):
        run(acquire_lock(api, "shop", wait=0))
    clock.advance(31)
    lock, events = run(acquire_lock(api, "shop", wait=0))
    lock.release()
    assert notes(events)[0].startswith("took over the lock of shop from alice@ci-runner-7 (pid")
    assert "its lease ran out at " in notes(events)[0]


def test_an_unreadable_lock_is_taken_over(api) -> None:
    api.create_config(lock_config_name("shop"), b"not json", labels={"lain.app": "shop"})
    lock, events = run(acquire_lock(api, "shop", wait=1))
    lock.release()
    assert lock.info.owner == current_user() and notes(events) == []


def test_a_takeover_leaves_a_lock_its_holder_renewed_meanwhile(session, api, clock) -> None:
    holder, _ = run(acquire_lock(api, "shop", renew_every=3600))
    clock.advance(91)
    seen = look(api, "shop")
    assert seen is not None and seen.state == "expired"
    holder.renew()  # between the taker's look and its takeover
    assert take_over(api, "shop", seen) is None  # the mark is made at the version it saw
    assert lock_status("shop", cluster=session).held
    holder.release()


# -- the lease is renewed while the holder works ------------------------------------------------


def test_renewals_keep_the_lease_running_from_the_last_one(api, clock) -> None:
    holder, _ = run(acquire_lock(api, "shop", renew_every=3600))
    clock.advance(80)
    holder.renew()
    clock.advance(80)  # 160s after it was taken, 80s after the renewal
    with pytest.raises(LockHeld) as held:
        run(acquire_lock(api, "shop", wait=0))
    assert held.value.lease_left == pytest.approx(10, abs=1)
    clock.advance(11)
    taker, events = run(acquire_lock(api, "shop", wait=0))
    assert "its lease ran out" in notes(events)[0]
    with pytest.raises(LockLost) as lost, holder:
        pass
    assert (lost.value.how, lost.value.by) == ("taken", current_user())
    assert LockInfo.from_config(api.inspect_config(lock_config_name("shop"))).token == (
        taker.info.token
    )  # the old holder left the new one's lock alone
    taker.release()


def test_the_renewal_thread_keeps_a_long_operation_locked_past_its_lease(api) -> None:
    # Real time here: a 0.5s lease renewed every 20ms; the other waits three leases in vain.
    holder, _ = run(acquire_lock(api, "shop", lease=0.5, renew_every=0.02))
    with holder:
        with pytest.raises(LockHeld):
            run(acquire_lock(api, "shop", wait=1.5, poll=0.02))
        assert holder.renewals >= 3 and holder.lost is None
    assert api.configs() == []


def test_without_renewals_the_same_wait_takes_the_lock_over(api) -> None:
    # The control of the test above: the lease alone runs out within that wait.
    holder, _ = run(acquire_lock(api, "shop", lease=0.5, renew_every=3600))
    taker, events = run(acquire_lock(api, "shop", wait=1.5, poll=0.02))
    assert "its lease ran out" in notes(events)[0]
    taker.release()
    with pytest.raises(LockLost):
        holder.release()
        holder.check()


# -- breaking a lock ---------------------------------------------------------------------------


def test_status_and_break_of_a_held_lock(session, api) -> None:
    assert lock_status("shop", cluster=session).state == "free"
    held_by(api)
    status = lock_status("shop", cluster=session)
    assert status.held and status.lock is not None and status.lock.owner == "alice@ci-runner-7"
    assert 80 < (status.lease_left or 0) <= 90
    assert status.describe().startswith("the lock of shop is held by alice@ci-runner-7 (pid 4242")
    json.dumps(status.to_dict())

    broken = break_lock("shop", cluster=session)
    assert broken.broken_now and broken.state == "broken" and not broken.held
    assert broken.lock is not None and broken.lock.ended_by == current_user()
    assert broken.lock.ended_at and broken.lock.owner == "alice@ci-runner-7"
    assert f"was broken by {current_user()} at " in broken.describe()
    # Breaking again changes nothing; the record stays until the next operation takes it.
    again = break_lock("shop", cluster=session)
    assert again.state == "broken" and not again.broken_now
    assert again.lock == broken.lock

    lock, events = run(acquire_lock(api, "shop", wait=0))
    lock.release()
    assert notes(events) == [
        f"the lock of shop, held by {broken.lock.describe()}, was broken by {current_user()} at "
        + notes(events)[0].rsplit(" at ", 1)[1]
    ]
    assert break_lock("shop", cluster=session).state == "free"


def test_a_holder_whose_lock_is_broken_fails_cleanly(session, api) -> None:
    holder, _ = run(acquire_lock(api, "shop", operation="deploy", renew_every=0.01))
    with pytest.raises(LockLost) as lost, holder:
        break_lock("shop", cluster=session)
        eventually(lambda: holder.lost is not None)  # the renewal thread found the mark
        with pytest.raises(LockLost):
            holder.check()
    assert (lost.value.how, lost.value.by, lost.value.operation) == (
        "broken",
        current_user(),
        "deploy",
    )
    assert f"lost the app's lock while it ran: it was broken by {current_user()}" in str(lost.value)
    # Its release left the mark for the next holder to report.
    [config] = api.configs()
    assert config["Spec"]["Labels"][LABEL_ENDED] == "broken"


def test_a_break_is_found_at_release_without_a_renewal(session, api) -> None:
    holder, _ = run(acquire_lock(api, "shop", renew_every=3600))
    with pytest.raises(LockLost, match="broken by"), holder:
        break_lock("shop", cluster=session)


def test_an_operation_that_fails_keeps_its_own_error_when_its_lock_was_lost(session, api) -> None:
    holder, _ = run(acquire_lock(api, "shop", renew_every=3600))
    with pytest.raises(RuntimeError), holder:
        break_lock("shop", cluster=session)
        raise RuntimeError("the deploy's own failure")


def test_an_acquire_closed_before_it_returns_releases_the_lock(session, api) -> None:
    held_by(api)
    break_lock("shop", cluster=session)
    taking = acquire_lock(api, "shop", wait=1)
    assert isinstance(next(taking), Message)  # the note on who broke it; we hold it by now
    taking.close()
    assert api.configs() == []


# -- the identity of a process ----------------------------------------------------------------


@linux_identity
def test_a_process_identity_knows_its_start_time() -> None:
    assert identity.process_start(os.getpid()) == HERE.start
    assert identity.process_start(dead_pid()) is None
    assert HERE.comparable_with(HERE)
    assert not ProcessIdentity("", "", "", 1, "").comparable_with(
        ProcessIdentity("", "", "", 1, "")
    )
    assert len(HERE.machine) == 32  # a digest: the machine id itself stays private
    with open("/etc/machine-id") as f:
        assert f.read().strip() not in json.dumps(HERE.__dict__)


def test_a_zombie_or_an_odd_command_name_is_read_right(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(identity, "PROC", str(tmp_path))
    fields = " ".join(str(n) for n in range(4, 23))  # fields 4 .. 22: the start time is "22"
    (tmp_path / "7").mkdir()
    (tmp_path / "7" / "stat").write_text(f"7 (a) b (c)) S {fields}\n")
    (tmp_path / "8").mkdir()
    (tmp_path / "8" / "stat").write_text(f"8 (sh) Z {fields}\n")
    assert identity.process_start(7) == "22"
    assert identity.process_start(8) is None
