"""One proc's Swarm service spec, built from its lain.yaml, and the questions asked of specs."""

from __future__ import annotations

import json
from typing import Any

from fakes.cluster import SECRETS_SHOP, SHOP, SHOP_IMAGE, SHOP_MV, secret_version

from lain_sdk.appconfig import parse_app_config
from lain_sdk.cluster.names import LABEL_SPEC_HASH, network_name
from lain_sdk.cluster.plan import describe_changes
from lain_sdk.cluster.sizing import NANO, ProcScale, labelled_scale, spec_scale
from lain_sdk.cluster.spec import (
    ProcSpec,
    rescale_spec,
    secret_versions,
    service_spec,
    spec_hash,
    yaml_scale,
)
from lain_sdk.settings import LOCAL_DEFAULT, ClusterSettings


def built(
    proc: str,
    *,
    text: str = SHOP,
    cluster: ClusterSettings = LOCAL_DEFAULT,
    release: int = 3,
    image: str = SHOP_IMAGE,
    scale: ProcScale | None = None,
    secret_mounts: list[dict[str, Any]] | None = None,
) -> ProcSpec:
    app = parse_app_config(text, domains=["lain.local"])
    found = app.proc(proc)
    return service_spec(
        app,
        found,
        meta_version=SHOP_MV,
        image=image,
        cluster=cluster,
        release=release,
        scale=scale or yaml_scale(found),
        network=network_name(app.appname),
        secret_mounts=secret_mounts or (),
    )


def spec_of(proc: str, **kw: Any) -> dict[str, Any]:
    return built(proc, **kw).spec


def test_web_proc_spec() -> None:
    spec = spec_of("web")
    container = spec["TaskTemplate"]["ContainerSpec"]
    assert container["Image"] == SHOP_IMAGE
    assert container["Args"] == ["httpd", "-f", "-p", "80"]
    assert "Command" not in container
    env = dict(item.split("=", 1) for item in container["Env"])
    assert env["GREETING"] == "hi"
    assert env["LAIN_APPNAME"] == "shop"
    assert env["LAIN_PROCNAME"] == "web"
    assert env["LAIN_APP_RELEASE_VERSION"] == SHOP_MV
    assert env["LAIN_DOMAIN"] == "lain.localhost"  # the local cluster's main domain
    assert env["LAIN_INSTANCE_NO"] == "{{.Task.Slot}}"
    assert env["DEPLOYD_POD_INSTANCE_NO"] == "{{.Task.Slot}}"
    assert env["DEPLOYD_POD_NAME"] == "shop.web.web"
    assert spec["Mode"] == {"Replicated": {"Replicas": 2}}
    assert spec["TaskTemplate"]["Resources"]["Limits"] == {
        "MemoryBytes": 64 * 1024 * 1024,
        "NanoCPUs": 1_000_000_000,
    }
    assert spec["TaskTemplate"]["RestartPolicy"] == {"Condition": "any"}
    assert container["StopGracePeriod"] == 20 * NANO
    check = container["Healthcheck"]
    assert check["Test"][0] == "CMD-SHELL" and "/health" in check["Test"][1]
    assert check["StartPeriod"] == 5 * NANO
    update = spec["UpdateConfig"]
    assert update["Order"] == "start-first" and update["Parallelism"] == 1
    assert update["FailureAction"] == "rollback" and update["Delay"] == 5 * NANO
    assert spec["RollbackConfig"]["Order"] == "start-first"
    # /data makes web stateful: a volume per instance, and the node holding them.
    mounts = {m["Target"]: m["Source"] for m in container["Mounts"]}
    assert mounts == {
        "/data": "lain_shop_web_data_{{.Task.Slot}}",
        "/lain/logs": "lain_shop_web_lain-logs",
    }
    assert {v.name for v in built("web").volumes} >= {"lain_shop_web_data_{{.Task.Slot}}"}
    assert spec["TaskTemplate"]["Placement"] == {
        "Constraints": ["node.labels.lain.data.shop__web==shop/web"]
    }


def test_host_ports_only_for_web_procs_on_publishing_clusters() -> None:
    # The local cluster's router serves web procs: no host port unless asked for debugging.
    assert spec_of("web")["EndpointSpec"] == {"Mode": "dnsrr"}
    publishing = LOCAL_DEFAULT._replace(publish_ports=True)
    local = spec_of("web", cluster=publishing)["EndpointSpec"]
    assert local == {
        "Mode": "dnsrr",
        "Ports": [{"Protocol": "tcp", "TargetPort": 80, "PublishMode": "host"}],
    }
    assert "Ports" not in spec_of("mail", cluster=publishing)["EndpointSpec"]
    prod = ClusterSettings("prod", registry="r.example.com", domains=("example.com",))
    spec = spec_of("web", cluster=prod)
    assert spec["EndpointSpec"] == {"Mode": "dnsrr"}
    env = spec["TaskTemplate"]["ContainerSpec"]["Env"]
    assert "LAIN_DOMAIN=example.com" in env


def test_entrypoint_oneshot_and_default_cpu() -> None:
    mail = spec_of("mail")
    assert mail["TaskTemplate"]["ContainerSpec"]["Command"] == ["/bin/sh", "-c"]
    assert mail["TaskTemplate"]["ContainerSpec"]["Args"] == ["echo mail"]
    assert mail["TaskTemplate"]["Resources"]["Limits"] == {"MemoryBytes": 32 * 1024 * 1024}
    migrate = spec_of("migrate")
    assert migrate["TaskTemplate"]["RestartPolicy"] == {"Condition": "none"}


def test_spec_hash_ignores_the_release_but_not_the_image() -> None:
    one, two = spec_of("web", release=1), spec_of("web", release=2)
    assert one != two
    assert one["Labels"][LABEL_SPEC_HASH] == two["Labels"][LABEL_SPEC_HASH]
    other = spec_of("web", release=1, image=SHOP_IMAGE.replace("b" * 64, "c" * 64))
    assert other["Labels"][LABEL_SPEC_HASH] != one["Labels"][LABEL_SPEC_HASH]
    assert spec_hash(one) == one["Labels"][LABEL_SPEC_HASH]
    # Specs travel as JSON (release records): they must survive the trip unchanged.
    assert json.loads(json.dumps(one)) == one


def test_scale_values_and_yaml_labels() -> None:
    scaled = spec_of("web", scale=ProcScale(5, 0.5, 128 * 1024 * 1024))
    assert scaled["Mode"]["Replicated"]["Replicas"] == 5
    assert scaled["TaskTemplate"]["Resources"]["Limits"]["NanoCPUs"] == 500_000_000
    # The labels keep what lain.yaml said, so the next deploy can tell scale from an edit.
    assert scaled["Labels"]["lain.yaml.instances"] == "2"
    assert scaled["Labels"]["lain.yaml.cpu"] == "1"
    assert scaled["Labels"]["lain.yaml.memory"] == str(64 * 1024 * 1024)
    assert (spec_scale(scaled), labelled_scale(scaled["Labels"])) == (
        ProcScale(5, 0.5, 128 * 1024 * 1024),
        ProcScale(2, 1.0, 64 * 1024 * 1024),
    )


def test_rescale_keeps_yaml_labels_and_rehashes() -> None:
    web = spec_of("web")
    new = rescale_spec(web, ProcScale(4, 2.0, 96 * 1024 * 1024), release=9)
    assert new["Mode"]["Replicated"]["Replicas"] == 4
    assert new["TaskTemplate"]["Resources"]["Limits"]["NanoCPUs"] == 2_000_000_000
    assert new["Labels"]["lain.release"] == "9"
    assert new["Labels"]["lain.yaml.instances"] == "2"
    assert new["Labels"]["lain.spec-hash"] == spec_hash(new) != web["Labels"][LABEL_SPEC_HASH]
    assert web["Mode"]["Replicated"]["Replicas"] == 2  # the original is untouched


def test_desired_specs_mount_secrets_and_change_with_a_new_version() -> None:
    web_mounts = [
        secret_version("web", "/lain/app/config/db.json", 1).mount(),
        secret_version("web", "/etc/token", 4).mount(),
    ]

    def web(mounts: list[dict[str, Any]]) -> dict[str, Any]:
        return spec_of("web", text=SECRETS_SHOP, release=1, secret_mounts=mounts)

    spec = web(web_mounts)
    mounted = spec["TaskTemplate"]["ContainerSpec"]["Secrets"]
    assert [m["File"]["Name"] for m in mounted] == ["/etc/token", "/lain/app/config/db.json"]
    assert secret_versions(spec) == {"/etc/token": 4, "/lain/app/config/db.json": 1}

    rotated = web([web_mounts[0], secret_version("web", "/etc/token", 5).mount()])
    assert spec_hash(rotated) != spec_hash(spec)
    changes = describe_changes(rotated, spec)
    assert changes == {
        "secrets": {
            "from": {"/etc/token": 4, "/lain/app/config/db.json": 1},
            "to": {"/etc/token": 5, "/lain/app/config/db.json": 1},
        }
    }
    # Without secret mounts there is no Secrets key at all.
    assert "Secrets" not in web([])["TaskTemplate"]["ContainerSpec"]
    assert "secrets" not in describe_changes(web([]), None)
