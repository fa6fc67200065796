"""Who is acting: ``user@host`` for release records, locks and secret versions."""

from __future__ import annotations

import getpass
import socket
from datetime import datetime, timezone


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
