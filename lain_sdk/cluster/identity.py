"""Who is acting: ``user@host`` for release records, locks and secret versions; and which
process holds a lock, told apart from processes of other machines that share its hostname.

A hostname says little: CI containers and pods often share one, and pid 4242 on one of them
says nothing about pid 4242 on another.  :class:`ProcessIdentity` adds what does: the machine
id, the boot id (pids and start times count within one boot only, and it tells apart machines
cloned with the same machine id), the pid namespace (containers number their processes apart)
and the process's start time (a pid is reused; a start time with it is not).

Tests that need a process "of another machine" on this one replace :func:`machine_id` in that
process (``lain_sdk.cluster.identity.machine_id = lambda: "..."``): every reader calls it
through this module, and no environment variable can change it, so nobody can weaken a lock
by setting one.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timezone

PROC = "/proc"
MACHINE_ID_FILES = ("/etc/machine-id", "/var/lib/dbus/machine-id")
BOOT_ID_FILE = "/proc/sys/kernel/random/boot_id"


def current_user() -> str:
    """``user@host`` of this process."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers) and no USER variable
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def now_iso() -> str:
    """Now, in ISO 8601 (UTC, seconds)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _read_first(paths: tuple[str, ...]) -> str:
    for path in paths:
        try:
            with open(path, encoding="ascii", errors="replace") as f:
                text = f.read().strip()
        except OSError:
            continue
        if text:
            return text
    return ""


def _digest(kind: str, raw: str) -> str:
    # machine-id(5) asks that the id itself not be shown to others: locks are readable by
    # everyone with access to the swarm, so they keep a digest that only compares.
    if not raw:
        return ""
    return hashlib.sha256(f"lain-lock\0{kind}\0{raw}".encode()).hexdigest()[:32]


def machine_id() -> str:
    """A digest of this machine's id (/etc/machine-id); "" when there is none to read."""
    return _digest("machine", _read_first(MACHINE_ID_FILES))


def boot_id() -> str:
    """A digest of the running kernel's boot id; "" when unknown (no /proc: not Linux)."""
    return _digest("boot", _read_first((BOOT_ID_FILE,)))


def pid_namespace() -> str:
    """The pid namespace of this process (``pid:[4026531836]``); "" when unknown."""
    try:
        return os.readlink(f"{PROC}/self/ns/pid")
    except OSError:
        return ""


def process_start(pid: int) -> str | None:
    """When process ``pid`` of this pid namespace started (clock ticks since boot, field 22 of
    /proc/PID/stat); None when no such process runs (a zombie counts as gone); "" when it may
    run but its start time cannot be read."""
    try:
        with open(f"{PROC}/{pid}/stat", encoding="ascii", errors="replace") as f:
            stat = f.read()
    except FileNotFoundError:
        return None if not _exists(pid) else ""  # hidepid hides others' processes
    except OSError:
        return ""
    # The command name (field 2) may hold spaces and parentheses: count from the last ")".
    fields = stat.rpartition(")")[2].split()
    if len(fields) < 20:
        return ""
    if fields[0] in ("Z", "X"):  # killed, not yet reaped: it holds nothing any more
        return None
    return fields[19]


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it runs, as someone else
        return True
    return True


@dataclass(frozen=True)
class ProcessIdentity:
    """One process, as a lock records its holder.

    Attributes:
        machine: digest of the machine id ("" when unknown).
        boot: digest of the boot id ("" when unknown).
        pid_namespace: the pid namespace ("" when unknown).
        pid: the process id, in that namespace.
        start: its start time in clock ticks since boot ("" when unknown).
    """

    machine: str
    boot: str
    pid_namespace: str
    pid: int
    start: str

    def comparable_with(self, other: ProcessIdentity) -> bool:
        """True when both run on the same machine, boot and pid namespace, all known: only
        then do ``other``'s pid and start time mean something here."""
        here = (self.machine, self.boot, self.pid_namespace)
        return all(here) and here == (other.machine, other.boot, other.pid_namespace)


def this_process() -> ProcessIdentity:
    """The identity of the running process."""
    pid = os.getpid()
    return ProcessIdentity(machine_id(), boot_id(), pid_namespace(), pid, process_start(pid) or "")


def process_gone(holder: ProcessIdentity) -> bool:
    """True only when ``holder`` is certainly not running: it ran on this machine, boot and
    pid namespace, with a known start time, and its pid runs no longer or runs another process
    (one that started at another time).  Anything unknown counts as running."""
    if not holder.start or not this_process().comparable_with(holder):
        return False
    start = process_start(holder.pid)
    if start == "":
        return False
    return start is None or start != holder.start
