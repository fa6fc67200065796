"""Isolation and discovery, the pure part: networks, service names and the labels that carry
them, and the checks of what a consumer uses."""

from __future__ import annotations

from typing import Any

import pytest

from lain_sdk.appconfig import parse_app_config, render_resource_instance
from lain_sdk.appconfig.model import AppConfig
from lain_sdk.cluster import discovery
from lain_sdk.cluster.desired import desired_state
from lain_sdk.cluster.names import (
    LABEL_APP,
    LABEL_RESOURCE,
    LABEL_RESOURCE_CLIENT,
    LABEL_SERVICES,
    LABEL_SPEC_HASH,
    LABEL_USES_RESOURCES,
)
from lain_sdk.cluster.spec import links_of, same_spec, spec_hash, with_links
from lain_sdk.errors import ClusterError
from lain_sdk.settings import LOCAL_DEFAULT

MV = "1700000000-" + "a" * 40
IMAGE = "127.0.0.1:5000/app:release-" + MV

PROVIDER = """\
appname: echo-app
build:
  base: lain-local/busybox:latest
service.echo:
  cmd: httpd -f -p 80
  port: 80
  portal: {}
worker.jobs:
  cmd: sleep 1000
"""

PORTAL_WITH_CMD = """\
appname: gw-app
build:
  base: lain-local/busybox:latest
service.kv:
  cmd: httpd -f -p 80
  port: 80
  portal:
    cmd: ./proxy
    port: 80
portal.portal-admin:
  service_name: admin
  cmd: ./admin-proxy
"""

CONSUMER = """\
appname: shop
build:
  base: lain-local/busybox:latest
web:
  cmd: httpd -f -p 80
worker.mail:
  cmd: sleep 1000
use_services:
  echo-app: [echo]
  gw-app: [kv, admin]
use_resources:
  redis:
    services: [redis]
    memory: 64m
"""

REDIS_TEMPLATE = """\
appname: redis
apptype: resource
build:
  base: lain-local/busybox:latest
service.redis:
  cmd: redis-server --maxmemory {{ memory|default('32m') }}
  port: 6379
  memory: "{{ memory|default('32m') }}"
  num_instances: "{{ instances|default(1) }}"
  portal: {}
"""


def load(text: str) -> AppConfig:
    return parse_app_config(text, domains=["lain.local"])


def spec_of(text: str, proc: str) -> dict[str, Any]:
    state = desired_state(
        load(text), meta_version=MV, image=IMAGE, cluster=LOCAL_DEFAULT, release=1
    )
    return dict(state.service(proc).spec)


def test_service_x_without_portal_program_is_answered_by_its_proc() -> None:
    app = load(PROVIDER)
    routes = discovery.service_routes(app)
    assert routes == {"echo": discovery.ServiceRoute("echo", "portal-echo", "echo", "echo")}
    state = desired_state(app, meta_version=MV, image=IMAGE, cluster=LOCAL_DEFAULT, release=1)
    # The portal has nothing to run: Swarm's DNS does what v2's portal proxy did.
    assert [s.proc for s in state.services] == ["echo", "jobs"]
    echo = state.service("echo").spec
    assert echo["TaskTemplate"]["Networks"] == [{"Target": "lain_echo-app", "Aliases": ["echo"]}]
    assert echo["Labels"][LABEL_SERVICES] == "echo"
    assert echo["EndpointSpec"]["Mode"] == "dnsrr"
    jobs = state.service("jobs").spec
    assert LABEL_SERVICES not in jobs["Labels"]
    assert jobs["TaskTemplate"]["Networks"] == [{"Target": "lain_echo-app", "Aliases": ["jobs"]}]


def test_portal_with_a_program_runs_under_the_service_name() -> None:
    app = load(PORTAL_WITH_CMD)
    routes = discovery.service_routes(app)
    assert routes["kv"] == discovery.ServiceRoute("kv", "portal-kv", "portal-kv", "kv")
    assert routes["admin"] == discovery.ServiceRoute("admin", "portal-admin", "portal-admin", None)

    portal = spec_of(PORTAL_WITH_CMD, "portal-kv")
    assert portal["TaskTemplate"]["Networks"] == [
        {"Target": "lain_gw-app", "Aliases": ["portal-kv", "kv"]}
    ]
    assert portal["Labels"][LABEL_SERVICES] == "kv"
    env = portal["TaskTemplate"]["ContainerSpec"]["Env"]
    assert "LAIN_SERVICE_NAME=kv" in env
    assert "LAIN_SERVICE_BACKEND=gw-app__kv" in env

    # The proc behind the portal no longer answers to the service name: one name, one set.
    backend = spec_of(PORTAL_WITH_CMD, "kv")
    assert backend["TaskTemplate"]["Networks"] == [{"Target": "lain_gw-app", "Aliases": []}]
    assert LABEL_SERVICES not in backend["Labels"]

    admin = spec_of(PORTAL_WITH_CMD, "portal-admin")
    assert admin["TaskTemplate"]["Networks"][0]["Aliases"] == ["portal-admin", "admin"]
    assert not any(
        e.startswith("LAIN_SERVICE_BACKEND=") for e in admin["TaskTemplate"]["ContainerSpec"]["Env"]
    )


def test_consumer_joins_one_link_network_per_app_it_uses_and_nothing_else() -> None:
    consumer = load(CONSUMER)
    assert discovery.used_services(consumer) == {
        "echo-app": ["echo"],
        "gw-app": ["kv", "admin"],
        "resource.redis.shop": ["redis"],
    }
    for proc in ("web", "mail"):
        spec = spec_of(CONSUMER, proc)
        assert spec["TaskTemplate"]["Networks"] == [
            {"Target": "lain_shop", "Aliases": [proc]},
            # Named, not by ID: a provider's redeploy leaves the consumer's spec alone; and
            # no aliases there: the consumer adds no names to what its providers see.
            {"Target": "lain_echo-app--shop"},
            {"Target": "lain_gw-app--shop"},
            {"Target": "lain_resource_redis_shop--shop"},
            *([{"Target": "lain-router_shop"}] if proc == "web" else []),
        ]
        # How a provider's deploy finds this client and what it uses.
        assert spec["Labels"]["lain.use.echo-app"] == "echo"
        assert spec["Labels"]["lain.use.gw-app"] == "kv,admin"
        assert spec["Labels"]["lain.use.resource.redis.shop"] == "redis"
    # `lain ps` of the client looks for resource instances only when this label is there.
    assert spec_of(CONSUMER, "web")["Labels"][LABEL_USES_RESOURCES] == "redis"
    assert LABEL_USES_RESOURCES not in spec_of(PROVIDER, "jobs")["Labels"]
    # An app that declares nothing is on its own network only.
    networks = spec_of(PROVIDER, "jobs")["TaskTemplate"]["Networks"]
    assert [n["Target"] for n in networks] == ["lain_echo-app"]


def test_allow_clients_globs() -> None:
    assert discovery.allows("**", "anything.at-all")
    assert discovery.allows("c1", "c1") and not discovery.allows("c1", "c10")
    assert discovery.allows("c*, shop", "c10") and discovery.allows("c*, shop", "shop")
    assert not discovery.allows("c*, shop", "shop2")
    assert discovery.allows("resource.*.shop", "resource.redis.shop")
    assert discovery.allows("", "x")  # an empty rule is the default


PROVIDER_ALLOWING = """\
appname: a
build:
  base: lain-local/busybox:latest
service.greeter:
  cmd: httpd -f -p 80
  portal:
    allow_clients: "c1, trusted-*"
service.open:
  cmd: httpd -f -p 80
  portal: {}
worker.hidden:
  cmd: httpd -f -p 80
"""


def test_a_provider_links_only_the_procs_behind_used_services_of_allowed_clients() -> None:
    app = load(PROVIDER_ALLOWING)
    clients = {"c1": ["greeter", "open"], "c2": ["greeter", "open"], "gone": ["nothing"]}
    links, refused = discovery.provider_links(app, clients)
    assert links == {"greeter": {"c1": ["greeter"]}, "open": {"c1": ["open"], "c2": ["open"]}}
    assert [(r.client, r.service, r.portal, r.rule) for r in refused] == [
        ("c2", "greeter", "portal-greeter", "c1, trusted-*")
    ]
    assert "a's portal portal-greeter allows only clients matching 'c1, trusted-*'" in str(
        refused[0]
    )
    # The rules travel with the services, so a client's deploy can check them.
    state = desired_state(app, meta_version=MV, image=IMAGE, cluster=LOCAL_DEFAULT, release=1)
    label = state.service("greeter").spec["Labels"]["lain.allow-clients"]
    assert discovery.refusal("c1", "a", "greeter", label) is None
    refusal = discovery.refusal("c2", "a", "greeter", label)
    assert refusal is not None and refusal.portal == "portal-greeter"
    assert discovery.refusal("c2", "a", "other", label) is None
    assert discovery.refusal("c2", "a", "greeter", "not json") is None
    assert "lain.allow-clients" not in state.service("hidden").spec["Labels"]


def test_links_join_the_client_networks_without_changing_the_spec_hash() -> None:
    app = load(PROVIDER_ALLOWING)
    plain = desired_state(app, meta_version=MV, image=IMAGE, cluster=LOCAL_DEFAULT, release=1)
    links = {"greeter": {"c1": ["greeter"], "trusted-x": ["greeter"]}}
    linked = desired_state(
        app, meta_version=MV, image=IMAGE, cluster=LOCAL_DEFAULT, release=1, links=links
    )
    spec = linked.service("greeter").spec
    assert spec["TaskTemplate"]["Networks"] == [
        {"Target": "lain_a", "Aliases": ["greeter"]},
        {"Target": "lain_a--c1", "Aliases": ["greeter"]},
        {"Target": "lain_a--trusted-x", "Aliases": ["greeter"]},
    ]
    assert links_of(spec) == {"c1": ["greeter"], "trusted-x": ["greeter"]}
    # Which clients a provider serves is not part of what it runs...
    assert (
        spec_hash(spec) == plain.service("greeter").spec_hash == linked.service("greeter").spec_hash
    )
    # ...but a live service on other link networks is not the same spec.
    assert not same_spec(plain.service("greeter").spec, spec)
    assert same_spec(spec, spec)
    # Links replace links: a recorded spec put back serves today's clients.
    again = with_links(spec, {"c2": ["greeter"]})
    assert [n["Target"] for n in again["TaskTemplate"]["Networks"]] == ["lain_a", "lain_a--c2"]
    assert "lain.links" not in with_links(spec, {})["Labels"]


def test_declarations_do_not_change_an_apps_specs_otherwise() -> None:
    without = PROVIDER.replace("service.echo", "worker.echo").replace("  portal: {}\n", "")
    plain, with_service = spec_of(without, "jobs"), spec_of(PROVIDER, "jobs")
    assert plain["Labels"][LABEL_SPEC_HASH] == with_service["Labels"][LABEL_SPEC_HASH]


def test_portal_naming_no_proc_and_running_nothing_is_refused() -> None:
    text = """\
appname: bad
build:
  base: lain-local/busybox:latest
worker:
  cmd: sleep 1000
portal.portal-x:
  service_name: nothing-here
"""
    with pytest.raises(ClusterError) as caught:
        discovery.service_routes(load(text))
    message = str(caught.value)
    assert "bad" in message and "portal-x" in message and "nothing-here" in message
    assert "give the portal a cmd" in message


def test_two_portals_with_one_service_name_are_refused() -> None:
    text = """\
appname: twice
build:
  base: lain-local/busybox:latest
worker.db:
  cmd: sleep 1000
portal.portal-a:
  service_name: db
portal.portal-b:
  service_name: db
  cmd: ./proxy
"""
    with pytest.raises(ClusterError, match="portal-a and portal-b both declare service db"):
        discovery.service_routes(load(text))


def test_a_used_service_named_like_an_own_proc_is_a_clash() -> None:
    text = CONSUMER.replace("worker.mail:", "worker.echo:")
    clashes = discovery.name_clashes(load(text))
    assert len(clashes) == 1
    assert "shop uses service echo (use_services.echo-app)" in clashes[0]
    assert discovery.name_clashes(load(CONSUMER)) == []


def test_unprovided_names_consumer_provider_and_fix() -> None:
    assert discovery.unprovided("shop", "echo-app", ["echo"], {"echo"}, key="k") is None
    why = discovery.unprovided(
        "shop", "echo-app", ["echo", "nope"], {"echo"}, key="use_services.echo-app"
    )
    assert why is not None
    assert "shop uses service(s) nope of echo-app (use_services.echo-app)" in why
    assert "it provides: echo" in why and "service_name" in why


def test_resource_instance_services_are_labelled_for_their_client() -> None:
    instance = render_resource_instance(
        REDIS_TEMPLATE, resource="redis", client="shop", context={"memory": "64m"}
    )
    assert instance.appname == "resource.redis.shop"
    state = desired_state(instance, meta_version=MV, image=IMAGE, cluster=LOCAL_DEFAULT, release=1)
    assert [s.name for s in state.services] == ["resource_redis_shop__redis"]
    spec = state.services[0].spec
    assert spec["Labels"][LABEL_RESOURCE] == "redis"
    assert spec["Labels"][LABEL_RESOURCE_CLIENT] == "shop"
    assert spec["Labels"][LABEL_SERVICES] == "redis"
    assert spec["Labels"][LABEL_APP] == "resource.redis.shop"
    assert spec["TaskTemplate"]["Resources"]["Limits"]["MemoryBytes"] == 64 * 1024 * 1024
    assert spec["TaskTemplate"]["Networks"] == [
        {"Target": "lain_resource_redis_shop", "Aliases": ["redis"]}
    ]
