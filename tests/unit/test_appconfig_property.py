"""Property: however a real lain.yaml is damaged, loading it raises AppConfigError or succeeds.

Never another exception: every path through the loader must end in a Problem or a model.
"""

from __future__ import annotations

import contextlib
import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lain_sdk.appconfig import parse_app_config
from lain_sdk.errors import AppConfigError
from tests.conftest import CORPUS, EXAMPLES

DATA = Path(__file__).resolve().parent.parent / "data"


def _samples() -> list[str]:
    files = sorted(CORPUS.glob("*/*.yaml")) if CORPUS.is_dir() else []
    files += sorted(DATA.glob("*.yaml")) + [EXAMPLES / "hello" / "lain.yaml"]
    return [f.read_text(encoding="utf-8") for f in files]


SAMPLES = _samples()

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.sampled_from(
        [
            "",
            "/",
            "..",
            "{{",
            "{{ x }}",
            "{% if %}",
            "64m",
            "0",
            "-1",
            "80:tcp",
            "9501:80/udp",
            "web",
            "a=b",
            "k:v",
            "none",
            "'unbalanced",
            "/lain/app",
            "resource",
            "constraint:group==x",
            "é",
        ]
    ),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
JUNK_KEYS = st.one_of(
    st.text(max_size=10),
    st.sampled_from(
        [
            "web",
            "web.x",
            "service.s",
            "portal.p",
            "proc.q",
            "worker.w",
            "portal",
            "<<",
            "memory",
            "port",
            "ports",
            "cmd",
            "type",
            "mountpoint",
            "use_resources",
            "portal-s",
        ]
    ),
)


def _paths(value: Any, path: tuple = ()) -> list[tuple]:
    out = [path]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*path, i))
    return out


def _get(value: Any, path: tuple) -> Any:
    for part in path:
        value = value[part]
    return value


def _set(root: Any, path: tuple, new: Any) -> Any:
    if not path:
        return new
    _get(root, path[:-1])[path[-1]] = new
    return root


@st.composite
def damaged(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(SAMPLES))
    how = draw(st.sampled_from(["data", "data", "data", "truncate", "insert"]))
    if how == "truncate":
        return text[: draw(st.integers(0, len(text)))]
    if how == "insert":
        at = draw(st.integers(0, len(text)))
        junk = draw(
            st.text(alphabet=st.sampled_from(list(" \n\t-:{}[]&*!|>'\"#%@`,?abc01")), max_size=8)
        )
        return text[:at] + junk + text[at:]
    data = yaml.safe_load(text)
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(data)
        path = draw(st.sampled_from(paths))
        op = draw(st.sampled_from(["delete", "retype", "junk", "swap"]))
        target = _get(data, path)
        if op == "delete" and path:
            parent = _get(data, path[:-1])
            del parent[path[-1]]
        elif op == "retype":
            data = _set(data, path, draw(VALUES))
        elif op == "junk" and isinstance(target, dict):
            target[draw(JUNK_KEYS)] = draw(VALUES)
        elif op == "swap":
            other = draw(st.sampled_from(paths))
            if other[: len(path)] != path and path[: len(other)] != path and other != path:
                a, b = copy.deepcopy(_get(data, path)), copy.deepcopy(_get(data, other))
                if other[: len(path)] != path and path[: len(other)] != other:
                    data = _set(data, path, b)
                    data = _set(data, other, a)
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged())
def test_damaged_files_only_raise_app_config_error(text: str) -> None:
    try:
        parse_app_config(text)
    except AppConfigError as e:
        assert e.problems
        for problem in e.problems:
            assert problem.line >= 1 and problem.column >= 1
            assert "Traceback" not in problem.message


@pytest.mark.parametrize("domains", [None, ("example.com", "example.org")])
def test_samples_load_with_domains(domains: tuple[str, ...] | None) -> None:
    for text in SAMPLES:
        with contextlib.suppress(AppConfigError):
            parse_app_config(text, domains=domains)
