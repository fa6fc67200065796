"""Which procs an operation acts on, and how a proc that is not deployed is reported."""

from __future__ import annotations

import pytest

from lain_sdk.cluster.operations import deployed_procs
from lain_sdk.errors import NotFound
from lain_sdk.settings import LOCAL_DEFAULT

LIVE = {"worker": {"ID": "w"}, "web": {"ID": "s"}}


def test_all_deployed_procs_by_default_and_the_named_ones_sorted() -> None:
    assert deployed_procs(LIVE, None, "shop", LOCAL_DEFAULT) == ["web", "worker"]
    assert deployed_procs(LIVE, ["worker", "web"], "shop", LOCAL_DEFAULT) == ["web", "worker"]
    assert deployed_procs({}, None, "shop", LOCAL_DEFAULT) == []


def test_procs_that_are_not_deployed_are_named_with_those_that_are() -> None:
    with pytest.raises(NotFound) as one:
        deployed_procs(LIVE, ["web", "ghost"], "shop", LOCAL_DEFAULT)
    assert str(one.value) == (
        "proc ghost of shop is not deployed on cluster local (deployed procs: web, worker)"
    )
    with pytest.raises(NotFound) as two:
        deployed_procs({}, ["b", "a"], "shop", LOCAL_DEFAULT)
    assert str(two.value) == (
        "procs a, b of shop are not deployed on cluster local (deployed procs: none)"
    )
