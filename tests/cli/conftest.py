"""Fixtures of the command-line tests: a second registry, and the sessions made for it."""

from __future__ import annotations

import pytest
from fakes.cluster import fake_cluster
from fakes.images import FakeRegistry

from lain_sdk.cluster.session import Cluster
from lain_sdk.settings import ClusterSettings

MIRROR = "127.0.0.1:5999"


@pytest.fixture
def mirror(registries, engine) -> FakeRegistry:
    """A second registry, ``127.0.0.1:5999`` (loopback: plain HTTP), that the engine of
    ``cli_cluster`` can pull from."""
    found = FakeRegistry(MIRROR)
    registries[found.host] = engine.add_registry(found)
    return found


@pytest.fixture
def other_sessions(cli_cluster, fake_docker, monkeypatch) -> list[ClusterSettings]:
    """The settings of each session a command made for another registry (--registry,
    LAIN_REGISTRY); such a session talks to the same fake engine as ``cli_cluster``."""
    made: list[ClusterSettings] = []
    real_of = Cluster.of.__func__

    def of(cls, value):
        if isinstance(value, ClusterSettings):
            made.append(value)
            return fake_cluster(engine=fake_docker, settings=value)
        return real_of(cls, value)

    monkeypatch.setattr(Cluster, "of", classmethod(of))
    return made
