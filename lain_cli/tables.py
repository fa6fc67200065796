"""Plain-text tables: columns padded to their widest cell, two spaces apart (no rich needed)."""

from __future__ import annotations

import time
from collections.abc import Sequence

# The short form of a meta version is the SDK's (its error messages use it too).
from lain_sdk.git import short_version as short_version


def table_lines(rows: Sequence[Sequence[object]]) -> list[str]:
    """The lines of a table whose first row is the header."""
    if not rows:
        return []
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]


def table(rows: Sequence[Sequence[object]]) -> str:
    """The table as one string."""
    return "\n".join(table_lines(rows))


def ago(unix_time: float, now: float | None = None) -> str:
    """How long ago ``unix_time`` was, as a person says it: ``45s ago``, ``3h ago``,
    ``12d ago``, ``5mo ago``, ``3y ago``."""
    seconds = max(0, int((time.time() if now is None else now) - unix_time))
    for unit, size, below in _AGE_UNITS:
        if seconds < below:
            return f"{seconds // size}{unit} ago"
    return f"{seconds // (365 * 86400)}y ago"


# (unit, its seconds, used below this many seconds); the next unit takes over from there.
_AGE_UNITS = (
    ("s", 1, 60),
    ("m", 60, 3600),
    ("h", 3600, 48 * 3600),
    ("d", 86400, 60 * 86400),
    ("mo", 30 * 86400, 730 * 86400),
)
