"""Reading and changing Swarm objects: networks, services, volumes, and what is deployed."""

from __future__ import annotations

import pytest
from fakes.base import api_error
from fakes.cluster import WEB, fake_cluster, release_source, run

from lain_sdk.cluster.deploy import deploy_source
from lain_sdk.cluster.swarm import (
    app_services,
    app_volumes,
    deployed_procs,
    ensure_network,
    find_network,
    remove_network,
    remove_when_free,
    update_service,
)
from lain_sdk.cluster.views import Service
from lain_sdk.errors import ClusterError, NotFound
from lain_sdk.settings import LOCAL_DEFAULT


@pytest.fixture
def cluster():
    return fake_cluster()


def test_the_app_network_is_made_once(cluster) -> None:
    assert ensure_network(cluster, "lain_shop", {"lain.app": "shop", "lain.release": "1"})
    assert not ensure_network(cluster, "lain_shop", {"lain.app": "shop"})
    assert find_network(cluster, "lain_shop")["Labels"] == {"lain.app": "shop", "lain.release": "1"}
    # The engine's name filter matches substrings; only the exact name counts.
    assert find_network(cluster, "lain_sho") is None


def test_a_network_made_meanwhile_by_another_deploy_is_fine(cluster) -> None:
    cluster.api.fail_next["create_network"] = api_error(
        409, "network with name lain_shop already exists"
    )
    assert ensure_network(cluster, "lain_shop", {"lain.app": "shop"})


def test_a_network_in_use_is_left_at_the_timeout(cluster) -> None:
    run(deploy_source(cluster, release_source(WEB), timeout=5))
    assert not remove_network(cluster, "lain_shop", timeout=0.01)
    assert find_network(cluster, "lain_shop") is not None


def test_removing_what_is_gone_already_is_fine(cluster) -> None:
    assert remove_when_free(cluster, "volume", "nothing", cluster.api.remove_volume, 1)
    assert remove_network(cluster, "lain_nothing", timeout=1)


def test_an_update_of_a_service_changed_meanwhile_is_refused_with_a_hint(cluster) -> None:
    run(deploy_source(cluster, release_source(WEB), timeout=5))
    web = app_services(cluster, "shop")["web"]
    update_service(cluster, web, web.spec)
    with pytest.raises(ClusterError, match="if it changed meanwhile, run the command again"):
        update_service(cluster, web, web.spec)  # the version read before is stale now


def test_deployed_procs_names_what_is_deployed(cluster) -> None:
    run(deploy_source(cluster, release_source(WEB), timeout=5))
    live = app_services(cluster, "shop")
    assert deployed_procs(live, None, "shop", "fake") == ["mail", "web"]
    with pytest.raises(
        NotFound,
        match=r"procs a, b of shop are not deployed on cluster fake \(deployed procs: mail, web\)",
    ):
        deployed_procs(live, ["a", "b", "web"], "shop", "fake")


def test_the_volumes_of_an_app_and_of_some_of_its_procs(cluster) -> None:
    cluster.api.add_volume("v1", {"lain.app": "shop", "lain.proc": "web"})
    cluster.api.add_volume("v2", {"lain.app": "shop", "lain.proc": "mail"})
    cluster.api.add_volume("v3", {"lain.app": "other", "lain.proc": "web"})
    assert app_volumes(cluster, "shop") == ["v1", "v2"]
    assert app_volumes(cluster, "shop", ["mail"]) == ["v2"]


LIVE = {
    "worker": Service.from_engine({"ID": "w", "Spec": {"Name": "shop__worker"}}),
    "web": Service.from_engine({"ID": "s", "Spec": {"Name": "shop__web"}}),
}
CLUSTER = LOCAL_DEFAULT.name


def test_all_deployed_procs_by_default_and_the_named_ones_sorted() -> None:
    assert deployed_procs(LIVE, None, "shop", CLUSTER) == ["web", "worker"]
    assert deployed_procs(LIVE, ["worker", "web"], "shop", CLUSTER) == ["web", "worker"]
    assert deployed_procs({}, None, "shop", CLUSTER) == []


def test_procs_that_are_not_deployed_are_named_with_those_that_are() -> None:
    with pytest.raises(NotFound) as one:
        deployed_procs(LIVE, ["web", "ghost"], "shop", CLUSTER)
    assert str(one.value) == (
        "proc ghost of shop is not deployed on cluster local (deployed procs: web, worker)"
    )
    with pytest.raises(NotFound) as two:
        deployed_procs({}, ["b", "a"], "shop", CLUSTER)
    assert str(two.value) == (
        "procs a, b of shop are not deployed on cluster local (deployed procs: none)"
    )
