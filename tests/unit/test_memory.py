"""One reading of memory sizes for lain.yaml and `lain scale`: Docker's binary units."""

from __future__ import annotations

import pytest

from lain_sdk.appconfig.checks import parse_memory as parse_size
from lain_sdk.cluster.operations import parse_memory

MIB = 1024 * 1024


@pytest.mark.parametrize(
    ("text", "size"),
    [("64m", 64 * MIB), ("64M", 64 * MIB), ("1g", 1024 * MIB), ("8192k", 8 * MIB),
     ("1.5g", 1536 * MIB), ("512mb", 512 * MIB), ("7000000", 7000000), (8 * MIB, 8 * MIB)],
)  # fmt: skip
def test_sizes(text: str | int, size: int) -> None:
    assert parse_size(text) == size
    assert parse_memory(text) == size


def test_scale_refuses_what_docker_refuses() -> None:
    with pytest.raises(ValueError, match=r"memory must be at least 6m \(Docker's minimum\), not 4m"):
        parse_memory("4m")
    with pytest.raises(ValueError, match=r"'lots' is not a memory size \(e.g. 64m, 1g\)"):
        parse_memory("lots")
