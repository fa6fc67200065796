"""Release records kept as Swarm configs: numbers, outcomes, snapshots, unreadable records."""

from __future__ import annotations

import json

import pytest
from fakes.cluster import SECRETS_SHOP, SHOP_MV, fake_cluster, secret_version

from lain_sdk.appconfig import parse_app_config
from lain_sdk.cluster.desired import desired_state
from lain_sdk.cluster.names import LABEL_APP, LABEL_RELEASE
from lain_sdk.cluster.releases import (
    ReleaseProc,
    create_release,
    find_release,
    next_number,
    read_releases,
    remove_releases,
    set_outcome,
)
from lain_sdk.errors import ClusterError, InvalidArgument
from lain_sdk.settings import LOCAL_DEFAULT

SPEC = {
    "Name": "shop__web",
    "Labels": {"lain.app": "shop"},
    "Mode": {"Replicated": {"Replicas": 3}},
    "TaskTemplate": {
        "ContainerSpec": {
            "Image": "r/shop:release-1@sha256:abc",
            "Secrets": [
                {
                    "SecretID": "s1",
                    "SecretName": "lain-secret-shop-web-0123456789-v4",
                    "File": {"Name": "/lain/app/token"},
                },
                {"SecretID": "s2", "SecretName": "someone-elses", "File": {"Name": "/etc/other"}},
            ],
        },
        "Resources": {"Limits": {"NanoCPUs": 500_000_000, "MemoryBytes": 64 << 20}},
    },
}


@pytest.fixture
def cluster():
    return fake_cluster()


def record(cluster, **kw):
    kw.setdefault("app", "shop")
    kw.setdefault("kind", "deploy")
    kw.setdefault("meta_version", "1-a")
    kw.setdefault("lain_yaml", "appname: shop\n")
    kw.setdefault("procs", {"web": ReleaseProc.from_spec(SPEC)})
    return create_release(cluster, **kw)


def test_a_release_records_what_each_proc_runs_never_secret_values(cluster) -> None:
    release = record(cluster)
    web = release.procs["web"]
    assert (web.image, web.instances, web.cpu, web.memory) == (
        "r/shop:release-1@sha256:abc",
        3,
        0.5,
        64 << 20,
    )
    assert web.secrets == {"/lain/app/token": 4}  # only lain's secrets, by version
    (read,) = read_releases(cluster, "shop")
    assert (read.number, read.outcome, read.kind, read.meta_version) == (
        1,
        "pending",
        "deploy",
        "1-a",
    )
    assert read.procs["web"].spec == SPEC and read.user == release.user
    assert read.to_dict()["procs"]["web"]["secrets"] == {"/lain/app/token": 4}


def test_numbers_follow_each_other_and_a_taken_number_moves_on_or_fails(cluster) -> None:
    assert [record(cluster).number for _ in range(3)] == [1, 2, 3]
    with pytest.raises(ClusterError, match="release 2 of shop was recorded by someone else"):
        record(cluster, number=2)
    history = read_releases(cluster, "shop")
    assert next_number(history) == 4 and find_release(history, 2).number == 2
    assert find_release(history, 9) is None and next_number([]) == 1


def test_outcomes_are_labels_and_a_reason_is_kept_short(cluster) -> None:
    release = record(cluster)
    failed = set_outcome(cluster, release, "failed", "x" * 900)
    assert failed.outcome == "failed" and len(failed.reason) == 500
    (read,) = read_releases(cluster, "shop")
    assert read.outcome == "failed" and read.reason == "x" * 500
    assert set_outcome(cluster, read, "succeeded").reason == ""
    assert read_releases(cluster, "shop")[0].outcome == "succeeded"
    with pytest.raises(InvalidArgument, match="outcome must be one of pending, succeeded, failed"):
        set_outcome(cluster, read, "great")


def test_records_lain_cannot_read_are_left_out(cluster) -> None:
    record(cluster)
    labels = {LABEL_APP: "shop", LABEL_RELEASE: "7"}
    cluster.api.create_config("lain-release-shop-7", b"{not json", labels=labels)
    cluster.api.create_config(
        "lain-release-shop-8",
        json.dumps({"app": "other", "number": 8}).encode(),
        labels={**labels, LABEL_RELEASE: "8"},
    )
    assert [r.number for r in read_releases(cluster, "shop")] == [1]


def test_removing_the_history(cluster) -> None:
    record(cluster)
    record(cluster)
    record(cluster, app="other")
    assert remove_releases(cluster, "shop") == 2
    assert read_releases(cluster, "shop") == [] and len(read_releases(cluster, "other")) == 1


IMAGE = "127.0.0.1:5000/shop:release-" + SHOP_MV


def test_release_records_carry_versions_never_values() -> None:
    config = parse_app_config(SECRETS_SHOP, domains=["lain.local"])
    state = desired_state(
        config,
        meta_version=SHOP_MV,
        image=IMAGE,
        cluster=LOCAL_DEFAULT,
        release=1,
        secret_mounts={"mail": [secret_version("mail", "/lain/app/mail.conf", 7).mount("1000:50")]},
    )
    proc = ReleaseProc.from_spec(state.service("mail").spec)
    assert proc.secrets == {"/lain/app/mail.conf": 7}
    assert proc.to_dict()["secrets"] == {"/lain/app/mail.conf": 7}
    assert ReleaseProc.from_spec(state.service("web").spec).secrets == {}
