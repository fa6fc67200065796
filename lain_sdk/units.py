"""Sizes the way Docker and lain.yaml write them: ``64m`` is 64 x 1024 x 1024 bytes."""

from __future__ import annotations

import re

MIN_MEMORY = 6 * 1024 * 1024  # Docker refuses a smaller memory limit
MEMORY_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
# Also "1.5g" and "512mb": what people type on the command line; lain.yaml values are held to
# the schema's stricter pattern before they get here.
_SIZE_RE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)\s*([bkmg]?)b?$", re.IGNORECASE)


def parse_size(value: float | str) -> int:
    """``"64m"`` -> 67108864: Docker's binary units, case-insensitive; a plain number is bytes.

    Raises:
        ValueError: not a size.
    """
    if isinstance(value, (int, float)):
        return int(value)
    match = _SIZE_RE.match(value.strip())
    if not match:
        raise ValueError(f"not a memory size: {value!r}")
    return int(float(match.group(1)) * MEMORY_UNITS[match.group(2).lower()])


def format_bytes(value: int) -> str:
    """Memory the way lain.yaml writes it: 32m, 1g, 1536k."""
    for unit, size in (("g", 1 << 30), ("m", 1 << 20), ("k", 1 << 10)):
        if value and value % size == 0:
            return f"{value // size}{unit}"
    return str(value)
