"""The deploy lock on the real swarm, attacked by processes that share this machine's hostname.

A holder runs in a process of its own (``HOLDER``).  To play a process of *another* machine
with the same hostname (a CI container, a pod), it replaces
``lain_sdk.cluster.identity.machine_id`` before taking the lock: the seam the identity module
documents, which no environment variable can reach.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from apps import unique_app_name

from lain_cli.exit import ExitStatus
from lain_sdk.cluster.identity import current_user
from lain_sdk.cluster.lock import acquire_lock, lock_status
from lain_sdk.cluster.session import Cluster
from lain_sdk.errors import LockHeld
from lain_sdk.events import Message, drain
from lain_sdk.settings import ClusterSettings

READ_TIMEOUT = 60.0

# argv: app, machine id to claim ("-": this machine's), lease seconds.  Takes the app's lock,
# says "held <pid>", works until a line arrives on stdin, then leaves the lock's block.
HOLDER = r"""
import sys
from lain_sdk.cluster import identity
if sys.argv[2] != "-":
    identity.machine_id = lambda: sys.argv[2]
from lain_sdk.cluster.lock import acquire_lock
from lain_sdk.engine import connect
from lain_sdk.errors import LockLost
from lain_sdk.events import drain
app, lease = sys.argv[1], float(sys.argv[3])
lock = drain(acquire_lock(connect().api, app, wait=30, lease=lease, renew_every=lease / 6))
print("held", lock.info.pid, flush=True)
try:
    with lock:
        sys.stdin.readline()
except LockLost as e:
    print("lost", e.how, e.by, flush=True)
    sys.exit(3)
print("released", flush=True)
"""


class Holder:
    """A process that holds an app's lock."""

    def __init__(self, app: str, machine: str = "-", lease: float = 90.0) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", HOLDER, app, machine, str(lease)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.line().startswith("held "), self.process.stderr

    @property
    def pid(self) -> int:
        return self.process.pid

    def line(self, timeout: float = READ_TIMEOUT) -> str:
        """The next line it prints (a test failure after ``timeout`` seconds)."""
        assert self.process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            if not selector.select(timeout):
                pytest.fail(f"the lock holder said nothing in {timeout:g}s")
        return self.process.stdout.readline().strip()

    def kill(self) -> None:
        """kill -9: no finally runs, the lock stays behind."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=READ_TIMEOUT)

    def finish(self) -> int:
        """Let it leave the lock's block; its exit status."""
        assert self.process.stdin is not None
        self.process.stdin.write("done\n")
        self.process.stdin.flush()
        return self.process.wait(timeout=READ_TIMEOUT)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=READ_TIMEOUT)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def app(docker_client: Any) -> Iterator[str]:
    name = unique_app_name("lk")
    yield name
    for config in docker_client.api.configs(filters={"label": f"lain.app={name}"}):
        docker_client.api.remove_config(config["ID"])


@pytest.fixture
def holders() -> Iterator[list[Holder]]:
    made: list[Holder] = []
    yield made
    for holder in made:
        holder.stop()


@pytest.fixture
def cluster(docker_client: Any) -> Cluster:
    return Cluster(ClusterSettings(name="local", registry="127.0.0.1:5000"), engine=docker_client)


def test_a_dead_holder_of_another_machine_with_this_hostname_keeps_the_lock_until_broken(
    docker_client: Any, app: str, cluster: Cluster, holders: list[Holder], lain: Any
) -> None:
    other = Holder(app, machine="another-machine-with-this-hostname")
    holders.append(other)
    other.kill()  # its pid runs no longer here, but it was never a process of this machine
    status = lock_status(app, cluster=cluster)
    assert status.held and status.lock is not None
    assert (status.lock.host, status.lock.pid) == (socket.gethostname(), other.pid)

    with pytest.raises(LockHeld) as held:
        drain(acquire_lock(docker_client.api, app, wait=1, poll=0.2))
    assert (held.value.pid, held.value.operation) == (other.pid, "deploy")
    blocked = lain("restart", "-a", app, "--timeout", "2")
    assert blocked.exit_code == ExitStatus.LOCKED, blocked.stderr
    assert f"(pid {other.pid}, deploy) since" in blocked.stderr
    assert f"unlock -a {app}`" in blocked.stderr

    shown = lain("unlock", "-a", app)
    assert shown.exit_code == ExitStatus.LOCKED
    assert f"is held by {status.lock.owner} (pid {other.pid}, deploy) since" in shown.stdout
    broke = lain("unlock", "-a", app, "--force")
    assert broke.exit_code == ExitStatus.OK, broke.stderr
    assert f"was broken by {current_user()} at " in broke.stdout
    record = json.loads(lain("-o", "json", "unlock", "-a", app).stdout)
    assert record["state"] == "broken" and record["lock"]["ended_by"] == current_user()

    events: list[Any] = []
    lock = drain(acquire_lock(docker_client.api, app, wait=0), on_event=events.append)
    lock.release()
    [note] = [e.text for e in events if isinstance(e, Message)]
    assert f"(pid {other.pid}, deploy)" in note and f"was broken by {current_user()}" in note
    assert docker_client.api.configs(filters={"label": f"lain.app={app}"}) == []


def test_a_dead_holder_of_this_machine_is_taken_over_at_once(
    docker_client: Any, app: str, holders: list[Holder]
) -> None:
    mine = Holder(app)
    holders.append(mine)
    mine.kill()
    events: list[Any] = []
    lock = drain(acquire_lock(docker_client.api, app, wait=0), on_event=events.append)
    lock.release()
    [note] = [e.text for e in events if isinstance(e, Message)]
    assert f"(pid {mine.pid}, deploy)" in note and note.endswith("that process is gone")


def test_a_frozen_holder_loses_its_lease_and_fails_when_it_wakes(
    docker_client: Any, app: str, holders: list[Holder]
) -> None:
    holder = Holder(app, lease=3.0)  # renewed every half second
    holders.append(holder)
    # Renewed on the real engine: two leases of waiting do not get it.
    with pytest.raises(LockHeld):
        drain(acquire_lock(docker_client.api, app, wait=6, poll=0.5))

    os.kill(holder.pid, signal.SIGSTOP)  # frozen: its process runs, its renewals do not
    try:
        events: list[Any] = []
        taker = drain(
            acquire_lock(docker_client.api, app, wait=30, poll=0.5), on_event=events.append
        )
    finally:
        os.kill(holder.pid, signal.SIGCONT)
    with taker:
        [note] = [e.text for e in events if isinstance(e, Message)]
        assert f"(pid {holder.pid}, deploy)" in note and "its lease ran out at" in note
        assert holder.finish() == 3  # it woke up, found the lock taken, and failed
        assert holder.line() == f"lost taken {current_user()}"
    assert docker_client.api.configs(filters={"label": f"lain.app={app}"}) == []
