"""The checks of SDK arguments: a wrong one is an InvalidArgument that names it, and quotes a
huge value without writing all of it out."""

from __future__ import annotations

import pytest

import lain_sdk.arguments as arguments
from lain_sdk.errors import InvalidArgument


def test_whole_numbers_with_a_maximum() -> None:
    assert arguments.whole(5, "n", 0, 10) == 5
    with pytest.raises(InvalidArgument, match="n must be a whole number from 0 to 10, not 11"):
        arguments.whole(11, "n", 0, 10)
    with pytest.raises(InvalidArgument, match="n must be a whole number >= 0, not -1"):
        arguments.whole(-1, "n", 0, 10)


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan"), 10**400, 1e30, 0])
def test_numbers_are_finite_and_within_bounds(value: object) -> None:
    with pytest.raises(InvalidArgument, match=r"x must be a number from 0\.5 to 2, not "):
        arguments.number(value, "x", 0.5, 2)
    assert arguments.number(2, "x", 0.5, 2) == 2.0


@pytest.mark.parametrize("value", [float("inf"), float("nan"), 10**400, 0, -1, True, "5"])
def test_seconds_are_positive_and_finite(value: object) -> None:
    with pytest.raises(InvalidArgument, match="timeout must be a positive number of seconds"):
        arguments.seconds(value)


def test_huge_values_are_quoted_short() -> None:
    with pytest.raises(InvalidArgument) as huge:
        arguments.whole(10**20000, "n", 0, 10)
    assert str(huge.value) == (
        "n must be a whole number from 0 to 10, not a number of thousands of digits"
    )
    with pytest.raises(InvalidArgument) as long:
        arguments.whole("x" * 10_000, "n")
    assert len(str(long.value)) < 120 and str(long.value).endswith("...")
