"""Instances, CPU and memory: reading memory sizes, writing them back, and which value a
deploy keeps when lain.yaml and `lain scale` disagree."""

from __future__ import annotations

import pytest

from lain_sdk.appconfig.checks import parse_memory as parse_size
from lain_sdk.cluster.sizing import ProcScale, effective_scale, parse_memory
from lain_sdk.errors import InvalidArgument, LainError
from lain_sdk.units import format_bytes

MIB = 1024 * 1024


def test_scale_wins_until_lain_yaml_changes_the_value() -> None:
    deployed_from = ProcScale(2, 1.0, 64)
    live = ProcScale(6, 0.5, 64)
    # lain.yaml unchanged: the scaled values stay.
    assert effective_scale(ProcScale(2, 1.0, 64), live, deployed_from) == live
    # lain.yaml changed the instances only: that value wins, the scaled cpu stays.
    assert effective_scale(ProcScale(3, 1.0, 64), live, deployed_from) == ProcScale(3, 0.5, 64)
    # A new proc, or a service lain did not label: lain.yaml.
    assert effective_scale(ProcScale(3, 1.0, 64), None, None) == ProcScale(3, 1.0, 64)
    assert effective_scale(ProcScale(3, 1.0, 64), live, None) == ProcScale(3, 1.0, 64)


def test_format_bytes() -> None:
    assert format_bytes(32 * 1024 * 1024) == "32m"
    assert format_bytes(1 << 30) == "1g"
    assert format_bytes(1000) == "1000"


# One reading of memory sizes for lain.yaml and `lain scale`: Docker's binary units.
@pytest.mark.parametrize(
    ("text", "size"),
    [("64m", 64 * MIB), ("64M", 64 * MIB), ("1g", 1024 * MIB), ("8192k", 8 * MIB),
     ("1.5g", 1536 * MIB), ("512mb", 512 * MIB), ("7000000", 7000000), (8 * MIB, 8 * MIB)],
)  # fmt: skip
def test_sizes(text: str | int, size: int) -> None:
    assert parse_size(text) == size
    assert parse_memory(text) == size


def test_scale_refuses_what_docker_refuses() -> None:
    too_small = r"memory must be at least 6m \(Docker's minimum\), not 4m"
    with pytest.raises(InvalidArgument, match=too_small) as small:
        parse_memory("4m")
    not_a_size = r"'lots' is not a memory size \(e.g. 64m, 1g\)"
    with pytest.raises(InvalidArgument, match=not_a_size) as text:
        parse_memory("lots")
    # Caught as a lain error, or as the plain ValueError callers wrote against before.
    for caught in (small, text):
        assert isinstance(caught.value, LainError) and isinstance(caught.value, ValueError)
