"""Secret readers: how they are made (no log, on the manager's node, short-lived) and how one
left behind by a stopped command is removed."""

from __future__ import annotations

import time
from typing import Any

from lain_sdk.cluster.names import LABEL_APP, LABEL_SECRET_READER
from lain_sdk.cluster.secret_reader import STALE_MARGIN, manager_node, remove_stale_readers


def add_reader(cluster: Any, app: str, until: float | str, name: str) -> None:
    labels = {LABEL_APP: app, LABEL_SECRET_READER: str(until)}
    cluster.api.create_service(
        {"ContainerSpec": {"Image": "busybox", "Command": ["sleep", "60"]}},
        name=name,
        labels=labels,
    )


def names(cluster: Any) -> set[str]:
    return {s["Spec"]["Name"] for s in cluster.api.services()}


def test_only_readers_past_their_time_are_stale(cluster: Any) -> None:
    now = time.time()
    add_reader(cluster, "shop", int(now - STALE_MARGIN - 5), "lain-secret-read-old")
    add_reader(cluster, "shop", int(now + 60), "lain-secret-read-busy")  # another read, running
    add_reader(cluster, "shop", "garbled", "lain-secret-read-odd")
    add_reader(cluster, "other", int(now - 3600), "lain-secret-read-other")
    cluster.api.create_service(
        {"ContainerSpec": {"Image": "busybox"}}, name="shop__web", labels={LABEL_APP: "shop"}
    )

    assert sorted(remove_stale_readers(cluster, "shop")) == [
        "lain-secret-read-odd",
        "lain-secret-read-old",
    ]
    assert names(cluster) == {"lain-secret-read-busy", "lain-secret-read-other", "shop__web"}
    # An undeploy takes every reader of the app, busy or not, and nothing else.
    assert remove_stale_readers(cluster, "shop", every=True) == ["lain-secret-read-busy"]
    assert names(cluster) == {"lain-secret-read-other", "shop__web"}


def test_the_reader_runs_on_the_managers_own_node(cluster: Any) -> None:
    node = manager_node(cluster)
    assert node and node == cluster.api.info()["Swarm"]["NodeID"]
