"""What a deploy runs, found before anything changes: version, pinned image, lain.yaml, the
services an app uses, and its resource instances."""

from __future__ import annotations

from typing import Any

import pytest
from fakes.cluster import CLIENT, REDIS, WEB, mv, publish, release_source, run

from lain_sdk.cluster.deploy import deploy_source
from lain_sdk.cluster.names import LABEL_SERVICES
from lain_sdk.cluster.source import (
    check_use_services,
    instance_sources,
    load_source,
    provided_services,
    resolve_version,
)
from lain_sdk.cluster.views import Service
from lain_sdk.errors import AppConfigError, ClusterError, NotFound, VersionNotFound

PROVIDER = """\
appname: books
build:
  base: busybox
service.catalog:
  cmd: serve
  port: 8080
  portal:
    allow_clients: "**"
"""
CONSUMER = WEB.replace("appname: shop", "appname: shop\nuse_services:\n  books: [catalog]")


def test_the_newest_version_or_the_one_asked_for(cluster, registry) -> None:
    publish(registry, WEB, 1)
    publish(registry, WEB, 2)
    assert resolve_version(cluster.registry, "shop", None) == mv(2)
    assert resolve_version(cluster.registry, "shop", mv(1)) == mv(1)
    with pytest.raises(VersionNotFound) as missing:
        resolve_version(cluster.registry, "shop", "1-nope")
    assert (
        missing.value.newest == (mv(2), mv(1)) and missing.value.registry == "registry.example.com"
    )
    with pytest.raises(
        VersionNotFound, match=r"no version of other is in registry registry\.example\.com"
    ):
        resolve_version(cluster.registry, "other", None)


def test_the_source_pins_the_image_and_reads_lain_yaml_from_the_meta_image(
    cluster, registry
) -> None:
    publish(registry, WEB, 1)
    source = load_source(cluster, "shop", None)
    digest = registry.manifest("shop", f"release-{mv(1)}").digest
    assert source.image == f"registry.example.com/shop:release-{mv(1)}@{digest}"
    assert source.lain_yaml == WEB and source.config.appname == "shop"
    assert source.config.proc("web").num_instances == 2


def test_a_meta_image_of_another_app_is_refused(cluster, registry) -> None:
    registry.add_image(f"shop:release-{mv(1)}", files={"/x": "x"})
    registry.add_image(f"shop:meta-{mv(1)}", files={"/lain.yaml": PROVIDER})
    with pytest.raises(ClusterError, match=r"holds the lain\.yaml of 'books'"):
        load_source(cluster, "shop", None)


def test_a_meta_image_without_lain_yaml(cluster, registry) -> None:
    registry.add_image(f"shop:release-{mv(1)}", files={"/x": "x"})
    registry.add_image(f"shop:meta-{mv(1)}", files={"/README": "no"})
    with pytest.raises(
        NotFound, match=f"registry.example.com/shop:meta-{mv(1)} holds no /lain.yaml"
    ):
        load_source(cluster, "shop", None)


def test_used_services_must_be_deployed_and_provided(cluster) -> None:
    consumer = release_source(CONSUMER).config
    with pytest.raises(
        NotFound,
        match=r"shop uses services of books \(use_services\), but books is not deployed",
    ):
        check_use_services(cluster, consumer)
    run(deploy_source(cluster, release_source(PROVIDER), timeout=5))
    check_use_services(cluster, consumer)
    wrong = release_source(CONSUMER.replace("[catalog]", "[orders]")).config
    with pytest.raises(NotFound, match=r"books does not provide them \(it provides: catalog\)"):
        check_use_services(cluster, wrong)
    clash = release_source(CONSUMER.replace("worker.mail:", "worker.catalog:")).config
    with pytest.raises(ClusterError, match="the name would be ambiguous inside shop"):
        check_use_services(cluster, clash)


def test_resource_instances_are_rendered_with_the_clients_parameters(cluster, registry) -> None:
    publish(registry, REDIS, 1)
    (instance,) = instance_sources(cluster, release_source(CLIENT).config)
    assert instance.app == "resource.redis.shop" and instance.meta_version == mv(1)
    assert instance.config.proc("redis").memory == 64 << 20
    assert "--maxmemory 64m" in " ".join(instance.config.proc("redis").cmd)
    assert instance.image.startswith(f"registry.example.com/redis:release-{mv(1)}@sha256:")


def test_a_resource_instance_must_provide_what_the_client_names(cluster, registry) -> None:
    publish(registry, REDIS, 1)
    wrong = release_source(CLIENT.replace("services: [redis]", "services: [cache]")).config
    with pytest.raises(NotFound, match=r"resource\.redis\.shop does not provide them"):
        instance_sources(cluster, wrong)


def test_a_resource_that_is_an_ordinary_app_or_does_not_render(cluster, registry) -> None:
    publish(registry, WEB.replace("appname: shop", "appname: redis"), 1, app="redis")
    with pytest.raises(
        (ClusterError, AppConfigError), match=r"(is an ordinary app|is not a resource)"
    ):
        instance_sources(cluster, release_source(CLIENT).config)


def test_provided_services_come_from_labels() -> None:
    live: dict[str, dict[str, Any]] = {
        "echo": {"Spec": {"Labels": {LABEL_SERVICES: "echo"}}},
        "portal-kv": {"Spec": {"Labels": {LABEL_SERVICES: "kv,other"}}},
        "jobs": {"Spec": {"Labels": {}}},
    }
    services = {proc: Service.from_engine(document) for proc, document in live.items()}
    assert provided_services(services) == {"echo", "kv", "other"}
