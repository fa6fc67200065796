"""Sizes the way Docker and lain.yaml write them: ``64m`` is 64 x 1024 x 1024 bytes."""

from __future__ import annotations

import math
import re

MIN_MEMORY = 6 * 1024 * 1024  # Docker refuses a smaller memory limit
# The largest memory limit lain sends: far above any node's memory, yet finite, so that a typo
# (999999999g) is an error here instead of a request the engine refuses or mis-reads.
MAX_MEMORY = 1 << 40  # 1 TiB
MEMORY_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
# Also "1.5g" and "512mb": what people type on the command line; lain.yaml values are held to
# the schema's stricter pattern before they get here.  The digits are bounded so that reading a
# size never builds a huge number (or a float that overflows to infinity).
_SIZE_RE = re.compile(r"^([0-9]{1,30})(?:\.([0-9]{1,30}))?\s*([bkmg]?)b?$", re.IGNORECASE)


def parse_size(value: float | str) -> int:
    """``"64m"`` -> 67108864: Docker's binary units, case-insensitive; a plain number is bytes.

    Exact for any size written (no rounding through a float); a fraction of a byte is dropped.

    Raises:
        ValueError: not a size (infinity and NaN included).
    """
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"not a memory size: {value!r}")
        return int(value)
    match = _SIZE_RE.match(value.strip())
    if not match:
        raise ValueError(f"not a memory size: {value!r}")
    whole, fraction = str(match.group(1)), str(match.group(2) or "")
    scale = MEMORY_UNITS[str(match.group(3)).lower()]
    divisor: int = 10 ** len(fraction)
    return int(whole) * scale + int(fraction or "0") * scale // divisor


def format_bytes(value: int) -> str:
    """Memory the way lain.yaml writes it: 32m, 1g, 1536k."""
    for unit, size in (("g", 1 << 30), ("m", 1 << 20), ("k", 1 << 10)):
        if value and value % size == 0:
            return f"{value // size}{unit}"
    return str(value)
