"""The desired state: a pure function from lain.yaml, release and cluster to Swarm specs."""

from __future__ import annotations

import json

import pytest

from lain_sdk.appconfig import parse_app_config
from lain_sdk.cluster import desired as d
from lain_sdk.errors import NotFound
from lain_sdk.settings import LOCAL_DEFAULT, ClusterSettings

IMAGE = "127.0.0.1:5000/shop:release-1700000000-" + "a" * 40 + "@sha256:" + "b" * 64
MV = "1700000000-" + "a" * 40

LAIN_YAML = """\
appname: shop
build:
  base: lain-local/busybox:latest
web:
  cmd: httpd -f -p 80
  num_instances: 2
  memory: 64m
  cpu: 1
  setup_time: 5
  kill_timeout: 20
  env:
    - GREETING=hi
    - API_TOKEN=s3cr3t
  healthcheck: /health
  persistent_dirs: [/data]
worker.mail:
  entrypoint: [/bin/sh, -c]
  cmd: [echo mail]
oneshot.migrate:
  cmd: [echo, migrated]
"""


def app(text: str = LAIN_YAML):
    return parse_app_config(text, domains=["lain.local"])


def state(cluster: ClusterSettings = LOCAL_DEFAULT, **kw):
    kw.setdefault("release", 3)
    return d.desired_state(
        app(kw.pop("text", LAIN_YAML)), meta_version=MV, image=IMAGE, cluster=cluster, **kw
    )


def test_names() -> None:
    assert d.service_name("shop", "web") == "shop__web"
    assert d.service_name("resource.redis.shop", "redis") == "resource_redis_shop__redis"
    long = d.service_name("a" * 70, "web")
    assert len(long) == 63 and long != d.service_name("a" * 71, "web")
    assert d.network_name("resource.redis.shop") == "lain_resource_redis_shop"
    assert d.volume_name("shop", "web", "/lain/logs") == "lain_shop_web_lain-logs"
    assert d.release_config_name("shop", 12) == "lain-release-shop-12"
    assert len(d.release_config_name("x" * 80, 1)) <= 64


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
        assert labels["lain.release"] == "3" and labels["lain.version"] == MV
        assert spec["TaskTemplate"]["Networks"] == [
            {"Target": "lain_shop", "Aliases": [service.proc]}
        ]
        assert spec["EndpointSpec"]["Mode"] == "dnsrr"
        assert spec["TaskTemplate"]["ContainerSpec"]["Labels"]["lain.proctype"] == service.proctype
    assert s.service("mail").proctype == "worker"


def test_web_proc_spec() -> None:
    spec = state().service("web").spec
    container = spec["TaskTemplate"]["ContainerSpec"]
    assert container["Image"] == IMAGE
    assert container["Args"] == ["httpd", "-f", "-p", "80"]
    assert "Command" not in container
    env = dict(item.split("=", 1) for item in container["Env"])
    assert env["GREETING"] == "hi"
    assert env["LAIN_APPNAME"] == "shop"
    assert env["LAIN_PROCNAME"] == "web"
    assert env["LAIN_APP_RELEASE_VERSION"] == MV
    assert env["LAIN_DOMAIN"] == "lain.local"
    assert env["LAIN_INSTANCE_NO"] == "{{.Task.Slot}}"
    assert env["DEPLOYD_POD_INSTANCE_NO"] == "{{.Task.Slot}}"
    assert env["DEPLOYD_POD_NAME"] == "shop.web.web"
    assert spec["Mode"] == {"Replicated": {"Replicas": 2}}
    assert spec["TaskTemplate"]["Resources"]["Limits"] == {
        "MemoryBytes": 64 * 1024 * 1024,
        "NanoCPUs": 1_000_000_000,
    }
    assert spec["TaskTemplate"]["RestartPolicy"] == {"Condition": "any"}
    assert container["StopGracePeriod"] == 20 * d.NANO
    check = container["Healthcheck"]
    assert check["Test"][0] == "CMD-SHELL" and "/health" in check["Test"][1]
    assert check["StartPeriod"] == 5 * d.NANO
    update = spec["UpdateConfig"]
    assert update["Order"] == "start-first" and update["Parallelism"] == 1
    assert update["FailureAction"] == "rollback" and update["Delay"] == 5 * d.NANO
    assert spec["RollbackConfig"]["Order"] == "start-first"
    mounts = {m["Target"]: m["Source"] for m in container["Mounts"]}
    assert mounts == {"/data": "lain_shop_web_data", "/lain/logs": "lain_shop_web_lain-logs"}
    assert {v.name for v in state().volumes} >= {"lain_shop_web_data"}


def test_host_ports_only_for_web_procs_on_publishing_clusters() -> None:
    local = state().service("web").spec["EndpointSpec"]
    assert local == {
        "Mode": "dnsrr",
        "Ports": [{"Protocol": "tcp", "TargetPort": 80, "PublishMode": "host"}],
    }
    assert "Ports" not in state().service("mail").spec["EndpointSpec"]
    prod = ClusterSettings("prod", registry="r.example.com", domains=("example.com",))
    spec = state(prod).service("web").spec
    assert spec["EndpointSpec"] == {"Mode": "dnsrr"}
    env = spec["TaskTemplate"]["ContainerSpec"]["Env"]
    assert "LAIN_DOMAIN=example.com" in env


def test_entrypoint_oneshot_and_default_cpu() -> None:
    s = state()
    mail = s.service("mail").spec
    assert mail["TaskTemplate"]["ContainerSpec"]["Command"] == ["/bin/sh", "-c"]
    assert mail["TaskTemplate"]["ContainerSpec"]["Args"] == ["echo mail"]
    assert mail["TaskTemplate"]["Resources"]["Limits"] == {"MemoryBytes": 32 * 1024 * 1024}
    migrate = s.service("migrate").spec
    assert migrate["TaskTemplate"]["RestartPolicy"] == {"Condition": "none"}


def test_only_some_procs() -> None:
    assert [x.proc for x in state(procs=["mail"]).services] == ["mail"]
    with pytest.raises(NotFound, match="no proc 'nope'"):
        state(procs=["nope"])


def test_spec_hash_ignores_the_release_but_not_the_image() -> None:
    one, two = state(release=1).service("web"), state(release=2).service("web")
    assert one.spec != two.spec
    assert one.spec_hash == two.spec_hash
    other = d.desired_state(
        app(),
        meta_version=MV,
        image=IMAGE.replace("b" * 64, "c" * 64),
        cluster=LOCAL_DEFAULT,
        release=1,
    ).service("web")
    assert other.spec_hash != one.spec_hash
    assert d.spec_hash(one.spec) == one.spec_hash
    # Specs travel as JSON (release records): they must survive the trip unchanged.
    assert json.loads(json.dumps(one.spec)) == one.spec


def test_scale_values_and_yaml_labels() -> None:
    scaled = state(scale={"web": d.ProcScale(5, 0.5, 128 * 1024 * 1024)}).service("web").spec
    assert scaled["Mode"]["Replicated"]["Replicas"] == 5
    assert scaled["TaskTemplate"]["Resources"]["Limits"]["NanoCPUs"] == 500_000_000
    # The labels keep what lain.yaml said, so the next deploy can tell scale from an edit.
    assert scaled["Labels"]["lain.yaml.instances"] == "2"
    assert scaled["Labels"]["lain.yaml.cpu"] == "1"
    assert scaled["Labels"]["lain.yaml.memory"] == str(64 * 1024 * 1024)
    assert d.live_scale(scaled) == (
        d.ProcScale(5, 0.5, 128 * 1024 * 1024),
        d.ProcScale(2, 1.0, 64 * 1024 * 1024),
    )


def test_scale_wins_until_lain_yaml_changes_the_value() -> None:
    deployed_from = d.ProcScale(2, 1.0, 64)
    live = d.ProcScale(6, 0.5, 64)
    # lain.yaml unchanged: the scaled values stay.
    assert d.effective_scale(d.ProcScale(2, 1.0, 64), live, deployed_from) == live
    # lain.yaml changed the instances only: that value wins, the scaled cpu stays.
    assert d.effective_scale(d.ProcScale(3, 1.0, 64), live, deployed_from) == d.ProcScale(
        3, 0.5, 64
    )
    # A new proc, or a service lain did not label: lain.yaml.
    assert d.effective_scale(d.ProcScale(3, 1.0, 64), None, None) == d.ProcScale(3, 1.0, 64)
    assert d.effective_scale(d.ProcScale(3, 1.0, 64), live, None) == d.ProcScale(3, 1.0, 64)


def test_rescale_keeps_yaml_labels_and_rehashes() -> None:
    web = state().service("web")
    new = d.rescale_spec(web.spec, d.ProcScale(4, 2.0, 96 * 1024 * 1024), release=9)
    assert new["Mode"]["Replicated"]["Replicas"] == 4
    assert new["TaskTemplate"]["Resources"]["Limits"]["NanoCPUs"] == 2_000_000_000
    assert new["Labels"]["lain.release"] == "9"
    assert new["Labels"]["lain.yaml.instances"] == "2"
    assert new["Labels"]["lain.spec-hash"] == d.spec_hash(new) != web.spec_hash
    assert web.spec["Mode"]["Replicated"]["Replicas"] == 2  # the original is untouched


def test_plan_against_live_services() -> None:
    old = state(release=1)
    new_text = (
        LAIN_YAML.replace("num_instances: 2", "num_instances: 3")
        .replace("API_TOKEN=s3cr3t", "API_TOKEN=other")
        .replace("oneshot.migrate:\n  cmd: [echo, migrated]\n", "")
    )
    new = state(release=2, text=new_text)
    live = {s.proc: s.spec for s in old.services}
    live["legacy"] = {"Name": "shop__legacy", "Labels": {}}
    plan = d.plan_changes(new, live, network_exists=True, current_release=1)
    actions = {c.proc: c.action for c in plan.procs}
    assert actions == {
        "web": "update",
        "mail": "unchanged",
        "migrate": "remove",
        "legacy": "remove",
    }
    web = next(c for c in plan.procs if c.proc == "web")
    assert web.changes["instances"] == {"from": 2, "to": 3}
    assert web.changes["env"] == {"changed": ["API_TOKEN"]}
    text = json.dumps(plan.to_dict())
    assert "s3cr3t" not in text and "other" not in text  # env values never appear
    assert plan.changed and plan.to_dict()["current_release"] == 1
    assert "instances 2 -> 3" in web.summary()

    same = d.plan_changes(
        state(release=5), {s.proc: s.spec for s in old.services}, network_exists=True
    )
    assert not same.changed
    first = d.plan_changes(state(), {}, network_exists=False)
    assert first.create_network and {c.action for c in first.procs} == {"create"}
    limited = d.plan_changes(state(procs=["web"]), live, network_exists=True, remove_others=False)
    assert [c.proc for c in limited.procs] == ["web"]


def test_format_bytes() -> None:
    assert d.format_bytes(32 * 1024 * 1024) == "32m"
    assert d.format_bytes(1 << 30) == "1g"
    assert d.format_bytes(1000) == "1000"


def test_an_image_changed_by_hand_is_put_back() -> None:
    web = state().service("web")
    live = json.loads(json.dumps(web.spec))
    live["TaskTemplate"]["ContainerSpec"]["Image"] = "elsewhere/shop:hotfix"  # labels kept
    assert not d.same_spec(live, web.spec)
    plan = d.plan_changes(state(procs=["web"]), {"web": live}, network_exists=True)
    assert plan.procs[0].action == "update"
    assert plan.procs[0].changes["image"]["from"] == "elsewhere/shop:hotfix"
