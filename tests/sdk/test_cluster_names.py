"""The names and labels of what lain keeps on a cluster: services, networks, volumes, release
records, secrets and resource instances."""

from __future__ import annotations

from lain_sdk.cluster import names


def test_names() -> None:
    assert names.service_name("shop", "web") == "shop__web"
    assert names.service_name("resource.redis.shop", "redis") == "resource_redis_shop__redis"
    long = names.service_name("a" * 70, "web")
    assert len(long) == 63 and long != names.service_name("a" * 71, "web")
    assert names.network_name("resource.redis.shop") == "lain_resource_redis_shop"
    assert names.volume_name("shop", "web", "/lain/logs") == "lain_shop_web_lain-logs"
    assert names.release_config_name("shop", 12) == "lain-release-shop-12"
    assert len(names.release_config_name("x" * 80, 1)) <= 64


def test_resource_instance_names() -> None:
    assert names.resource_instance_name("redis", "shop") == "resource.redis.shop"
    assert names.parse_resource_instance("resource.redis.shop") == ("redis", "shop")
    for other in ("shop", "resource.redis", "resource..shop", "resource.a.b.c", "res.a.b"):
        assert names.parse_resource_instance(other) is None
    # Dots never reach Swarm names.
    assert names.service_name("resource.redis.shop", "redis") == "resource_redis_shop__redis"
    assert names.network_name("resource.redis.shop") == "lain_resource_redis_shop"


def test_secret_names_fit_swarm_and_keep_their_version() -> None:
    name = names.secret_name("shop", "web", "/lain/app/config/db.json", 3)
    assert name.startswith("lain-secret-shop-web-") and name.endswith("-v3")
    assert names.secret_version(name) == 3
    assert name != names.secret_name("shop", "web", "/lain/app/config/db.jsom", 3)
    long = names.secret_name("resource.redis." + "x" * 80, "portal-redis", "/etc/a", 12)
    assert len(long) <= 64 and long.endswith("-v12") and names.secret_version(long) == 12
    other = names.secret_name("resource.redis." + "x" * 81, "portal-redis", "/etc/a", 12)
    assert other != long
    assert names.secret_version("no-version") is None
