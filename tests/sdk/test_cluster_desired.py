"""The desired state: a pure function from lain.yaml, release and cluster to Swarm specs."""

from __future__ import annotations

from typing import Any

import pytest
from fakes.cluster import SHOP, SHOP_IMAGE, SHOP_MV

from lain_sdk.appconfig import parse_app_config
from lain_sdk.cluster.desired import DesiredState, desired_state
from lain_sdk.errors import NotFound
from lain_sdk.settings import LOCAL_DEFAULT, ClusterSettings


def state(cluster: ClusterSettings = LOCAL_DEFAULT, **kw: Any) -> DesiredState:
    kw.setdefault("release", 3)
    app = parse_app_config(kw.pop("text", SHOP), domains=["lain.local"])
    return desired_state(app, meta_version=SHOP_MV, image=SHOP_IMAGE, cluster=cluster, **kw)


def test_one_service_per_proc_with_labels_network_and_dnsrr() -> None:
    s = state()
    assert [x.proc for x in s.services] == ["web", "mail", "migrate"]
    assert s.network.name == "lain_shop"
    assert s.network.labels == {"lain.app": "shop", "lain.release": "3"}
    for service in s.services:
        spec = service.spec
        assert spec["Name"] == f"shop__{service.proc}"
        labels = spec["Labels"]
        assert labels["lain.app"] == "shop" and labels["lain.proc"] == service.proc
        assert labels["lain.release"] == "3" and labels["lain.version"] == SHOP_MV
        # The web proc is on the router's network too, answering to no name there.
        routed = [{"Target": "lain-router_shop"}] if service.proctype == "web" else []
        assert spec["TaskTemplate"]["Networks"] == [
            {"Target": "lain_shop", "Aliases": [service.proc]},
            *routed,
        ]
        assert spec["EndpointSpec"]["Mode"] == "dnsrr"
        assert spec["TaskTemplate"]["ContainerSpec"]["Labels"]["lain.proctype"] == service.proctype
    assert s.service("mail").proctype == "worker"


def test_only_some_procs() -> None:
    assert [x.proc for x in state(procs=["mail"]).services] == ["mail"]
    with pytest.raises(NotFound, match="no proc 'nope'"):
        state(procs=["nope"])
