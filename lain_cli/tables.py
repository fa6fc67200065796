"""Plain-text tables: columns padded to their widest cell, two spaces apart (no rich needed)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from lain_sdk.git import parse_meta_version


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


def short_version(meta_version: str) -> str:
    """A meta version as a person reads it: commit time (UTC, to the minute) and 7-character
    sha, ``+dirty`` for a dirty tree: ``2026-12-06 04:37 b8443f8``.  JSON keeps the full one;
    anything that is not a meta version is shown as it is."""
    try:
        commit_time, sha, dirty = parse_meta_version(meta_version)
    except ValueError:
        return meta_version
    when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(commit_time))
    return f"{when} {sha[:7]}" + ("+dirty" if dirty else "")
