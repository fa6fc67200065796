"""Memory sizes as Docker writes them, read exactly and without ever building a huge number."""

from __future__ import annotations

import pytest

from lain_sdk.units import MAX_MEMORY, MIN_MEMORY, format_bytes, parse_size

MIB = 1024 * 1024


def test_sizes_are_read_exactly() -> None:
    assert parse_size("1099511627776") == 1 << 40  # no rounding through a float
    assert parse_size("1.5g") == 1536 * MIB
    assert parse_size("0.5k") == 512
    assert parse_size("1.0000000001k") == 1024  # a fraction of a byte is dropped
    assert parse_size(" 64 MB ") == 64 * MIB


@pytest.mark.parametrize(
    "value", ["9" * 5000 + "g", "1" * 31, "1." + "5" * 31, "inf", "nan", "1e3", "-1m", "64t", ""]
)
def test_what_is_not_a_size_is_a_value_error(value: str) -> None:
    with pytest.raises(ValueError, match="not a memory size"):
        parse_size(value)


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
def test_infinite_numbers_are_not_sizes(value: float) -> None:
    with pytest.raises(ValueError, match="not a memory size"):
        parse_size(value)


def test_the_bounds() -> None:
    assert (MIN_MEMORY, MAX_MEMORY) == (6 * MIB, 1 << 40)
    assert format_bytes(MAX_MEMORY) == "1024g"
