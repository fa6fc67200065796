"""Plain-text tables: columns padded to their widest cell, two spaces apart (no rich needed)."""

from __future__ import annotations

from collections.abc import Sequence


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
