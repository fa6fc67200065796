"""Undeploying and purging on a fake swarm."""

from __future__ import annotations

import pytest
from fakes.cluster import WEB, fake_cluster, release_source, run

from lain_sdk.cluster.deploy import deploy_source
from lain_sdk.cluster.history import list_releases
from lain_sdk.cluster.names import LABEL_APP, LABEL_PROC
from lain_sdk.cluster.secret_store import store_secret, stored_secrets
from lain_sdk.cluster.swarm import app_services
from lain_sdk.cluster.undeploy import undeploy_app
from lain_sdk.errors import InvalidArgument, NotFound
from lain_sdk.events import Message, ProcChanged


@pytest.fixture
def cluster():
    session = fake_cluster()
    run(deploy_source(session, release_source(WEB), timeout=5))
    session.api.add_volume("lain_shop_web_data", {LABEL_APP: "shop", LABEL_PROC: "web"})
    session.api.add_volume("lain_shop_mail_data", {LABEL_APP: "shop", LABEL_PROC: "mail"})
    session.api.add_volume("lain_other_web_data", {LABEL_APP: "other", LABEL_PROC: "web"})
    store_secret(session, "shop", "web", "token", b"t")
    return session


def undeploy(cluster, **kw):
    return run(undeploy_app("shop", cluster=cluster, **kw))


def test_undeploy_removes_services_and_network_and_keeps_history_and_secrets(cluster) -> None:
    result, events = undeploy(cluster)
    assert result.removed_procs == ("mail", "web") and result.network_removed
    assert app_services(cluster, "shop") == {} and cluster.api.networks() == []
    assert [e.proc for e in events if isinstance(e, ProcChanged)] == ["mail", "web"]
    assert any(isinstance(e, Message) and "removed network lain_shop" in e.text for e in events)
    assert len(list_releases("shop", cluster=cluster)) == 1
    assert len(stored_secrets(cluster, "shop")) == 1
    assert len(cluster.api.swarm_volumes) == 3


def test_undeploy_of_some_procs_keeps_the_network(cluster) -> None:
    result, _ = undeploy(cluster, procs=["mail"])
    assert result.removed_procs == ("mail",) and not result.network_removed
    assert set(app_services(cluster, "shop")) == {"web"}
    assert [n["Name"] for n in cluster.api.networks()] == ["lain_shop", "lain-router_shop"]


def test_purge_removes_history_volumes_and_secrets_of_the_app_only(cluster) -> None:
    result, _ = undeploy(cluster, purge=True)
    assert result.releases_removed == 1 and result.secrets_removed == 1
    assert result.volumes_removed == ("lain_shop_mail_data", "lain_shop_web_data")
    assert list(cluster.api.swarm_volumes) == ["lain_other_web_data"]
    assert list_releases("shop", cluster=cluster) == [] and not stored_secrets(cluster, "shop")


def test_purge_of_some_procs_keeps_the_history(cluster) -> None:
    result, _ = undeploy(cluster, procs=["web"], purge=True)
    assert result.releases_removed == 0 and result.volumes_removed == ("lain_shop_web_data",)
    assert result.secrets_removed == 1 and len(list_releases("shop", cluster=cluster)) == 1


def test_undeploying_what_is_not_there(cluster) -> None:
    undeploy(cluster)
    with pytest.raises(NotFound, match="shop is not deployed on cluster fake"):
        undeploy(cluster)
    with pytest.raises(NotFound, match="proc web of other is not deployed"):
        run(undeploy_app("other", cluster=cluster, procs=["web"]))
    with pytest.raises(InvalidArgument, match="purge must be True or False"):
        undeploy(cluster, purge="yes")


def test_purge_names_what_it_could_not_remove_and_removes_left_readers(cluster) -> None:
    (version,) = stored_secrets(cluster, "shop")
    # Something else still mounts the secret; a reader that a killed read left behind too.
    mount = {"SecretID": version.secret_id, "SecretName": version.name, "File": {"Name": "x"}}
    cluster.api.create_service(
        {"ContainerSpec": {"Image": "busybox", "Secrets": [mount]}}, name="someone-else"
    )
    cluster.api.create_service(
        {"ContainerSpec": {"Image": "busybox"}},
        name="lain-secret-read-left",
        labels={LABEL_APP: "shop", "lain.secret.reader": "9999999999"},
    )
    result, events = undeploy(cluster, purge=True)
    assert result.secrets_removed == 0 and len(result.secrets_left) == 1
    assert "someone-else" in result.secrets_left[0] and version.name in result.secrets_left[0]
    said = [e.text for e in events if isinstance(e, Message)]
    assert "removed secret reader lain-secret-read-left" in said
    assert any(t.startswith("warning: secret web ") and "left in place" in t for t in said)
    assert "lain-secret-read-left" not in {s["Spec"]["Name"] for s in cluster.api.services()}
