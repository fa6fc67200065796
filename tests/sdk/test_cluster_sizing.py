"""Instances, CPU and memory: reading memory sizes, writing them back, and which value a
deploy keeps when lain.yaml and `lain scale` disagree."""

from __future__ import annotations

import pytest

from lain_sdk.appconfig import parse_app_config, schema
from lain_sdk.appconfig.checks import parse_memory as parse_size
from lain_sdk.cluster.sizing import (
    MAX_CPU,
    MAX_INSTANCES,
    MIN_CPU,
    ProcScale,
    check_cpu,
    check_instances,
    effective_scale,
    parse_memory,
)
from lain_sdk.errors import AppConfigError, InvalidArgument, LainError
from lain_sdk.units import MAX_MEMORY, format_bytes

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


# -- bounds: what lain sends the engine is finite and bounded ------------------------------------


@pytest.mark.parametrize(
    "value", ["1025g", "1048577m", "1099511627777", (1 << 40) + 1, "999999999999999999999g"]
)
def test_memory_above_one_tebibyte_is_refused(value: str | int) -> None:
    with pytest.raises(InvalidArgument, match=r"memory must be at most 1024g \(1 TiB"):
        parse_memory(value)


@pytest.mark.parametrize("value", ["1024g", "1048576m", "1073741824k", 1 << 40, "1099511627776b"])
def test_memory_of_one_tebibyte_is_the_maximum(value: str | int) -> None:
    assert parse_memory(value) == MAX_MEMORY == 1 << 40


@pytest.mark.parametrize("value", ["9" * 5000 + "g", "1." + "5" * 40 + "g", "inf", "nan", "1e3g"])
def test_memory_that_is_no_size_is_refused_without_an_internal_error(value: str) -> None:
    with pytest.raises(InvalidArgument, match="is not a memory size"):
        parse_memory(value)


@pytest.mark.parametrize(
    ("value", "ok"),
    [(0, True), (1000, True), (1001, False), (-1, False), (10**11, False), (True, False),
     (2.0, False)],
)  # fmt: skip
def test_instances_are_bounded(value: object, ok: bool) -> None:
    if ok:
        assert check_instances(value) == value
    else:
        with pytest.raises(InvalidArgument, match="instances must be a whole number"):
            check_instances(value)
    assert MAX_INSTANCES == 1000


@pytest.mark.parametrize(("value", "ok"), [(0.01, True), (0.5, True), (1024, True), (0, False),
                                          (0.001, False), (1024.5, False), (float("inf"), False),
                                          (float("nan"), False), (-1, False), (10**400, False),
                                          ("1", False), (False, False)])  # fmt: skip
def test_cpu_is_finite_and_bounded(value: object, ok: bool) -> None:
    if ok:
        assert check_cpu(value) == value
    else:
        with pytest.raises(InvalidArgument, match=r"must be a number of CPUs from 0\.01 to 1024"):
            check_cpu(value)
    assert (MIN_CPU, MAX_CPU) == (0.01, 1024)


# -- lain.yaml is held to the same bounds (its schema) -------------------------------------------

APP = """\
appname: shop
build:
  base: busybox
web:
  cmd: serve
"""


def test_the_schema_has_the_same_bounds() -> None:
    keys = schema()["definitions"]["procKeys"]["properties"]
    assert keys["num_instances"]["maximum"] == MAX_INSTANCES
    assert keys["cpu"]["maximum"] == MAX_CPU
    memory = schema()["definitions"]["memory"]["anyOf"]
    assert memory[0]["maximum"] == MAX_MEMORY


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("num_instances: 100000000000", "web.num_instances: must be between 0 and 1000"),
        ("num_instances: 1001", "web.num_instances: must be between 0 and 1000, got 1001"),
        ("cpu: 1025", "web.cpu: must be between 0 and 1024, got 1025"),
        ("memory: 1025g", "web.memory: expected a memory size of at most 1024g (1 TiB)"),
        ("memory: 1048577m", "web.memory: expected a memory size of at most 1024g"),
        ("memory: 999999999999999999999g", "web.memory: expected a memory size of at most 1024g"),
        ("memory: 1099511627777", "web.memory: must be between 1 and 1099511627776"),
    ],
)
def test_lain_yaml_out_of_bounds_is_invalid(line: str, says: str) -> None:
    with pytest.raises(AppConfigError) as invalid:
        parse_app_config(APP + f"  {line}\n")
    (problem,) = invalid.value.problems
    assert says in str(problem)


@pytest.mark.parametrize(
    "line",
    ["num_instances: 1000", "cpu: 1024", "memory: 1024g", "memory: 1048576m",
     "memory: 1073741824k", "memory: 1099511627776", "memory: 01024G"],
)  # fmt: skip
def test_lain_yaml_at_the_bounds_is_valid(line: str) -> None:
    parse_app_config(APP + f"  {line}\n")
