"""What other apps hold of the router, on a fake swarm: a deploy, a plan or a rollback that
claims another app's mountpoint or stream port is refused before anything changes, naming
the holder; an app's own claims never stand in its way.  And the router publishing an app's
stream ports after a deploy, rollback or undeploy changes them."""

from __future__ import annotations

import dataclasses
import json

import pytest
from fakes.cluster import REGISTRY, SETTINGS, publish, release_source, run

from lain_cli.exit import ExitStatus, status_for
from lain_router.labels import LABEL_MOUNTPOINTS, LABEL_NETWORK, LABEL_PORT, LABEL_STREAMS
from lain_sdk.cluster.claims import (
    MOUNTPOINT,
    STREAM_PORT,
    Claim,
    check_app_claims,
    claims_of,
    held_by_others,
)
from lain_sdk.cluster.deploy import deploy_app, deploy_source, plan_deploy
from lain_sdk.cluster.history import list_releases, rollback_app
from lain_sdk.cluster.router import router_spec
from lain_sdk.cluster.swarm import app_services, create_service
from lain_sdk.cluster.undeploy import undeploy_app
from lain_sdk.errors import AppConfigError, ClusterError, RouteTaken, TakenRoute
from lain_sdk.events import Message

TIMEOUT = 5.0

SHOP = """\
appname: shop
build: {base: busybox}
web:
  cmd: httpd -f -p 80
  mountpoint: [api.example.org/v1]
worker.tcp:
  cmd: nc -lk -p 5000 -e cat
  ports: [9531:5000]
"""

# Claims shop's /v1 on api.example.org (written in other letters, with a trailing slash).
BOOKS = """\
appname: books
build: {base: busybox}
web:
  cmd: httpd -f -p 80
  mountpoint: [API.Example.org/v1/]
worker.sync:
  cmd: sleep 1000
"""

# Claims shop's stream port 9531/tcp (and 9532/udp, which nobody holds).
RELAY = """\
appname: relay
build: {base: busybox}
worker.relay:
  cmd: nc -lk -p 7000 -e cat
  ports: [9532:7000/udp, 9531:7000]
"""


def deploy(cluster, text, n=1, **kw):
    kw.setdefault("timeout", TIMEOUT)
    return run(deploy_source(cluster, release_source(text, n), **kw))


def changes(cluster, *, lock: bool = True) -> list[str]:
    """The engine calls that change something (``lock``: the deploy lock's configs too)."""
    kinds = ("service", "network", "config") if lock else ("service", "network")
    return [
        c
        for c in cluster.api.calls
        if c.startswith(("create_", "update_", "remove_")) and c.endswith(kinds)
    ]


@pytest.fixture
def shop(cluster):
    deploy(cluster, SHOP)
    return cluster


# -- what the live services hold ---------------------------------------------------------------


def test_live_services_hold_their_mountpoints_and_stream_ports(shop) -> None:
    held = held_by_others(shop, "books")
    assert held[MOUNTPOINT, "api.example.org/v1"] == Claim(
        MOUNTPOINT, "api.example.org/v1", "shop", "web"
    )
    assert held[STREAM_PORT, "9531/tcp"] == Claim(STREAM_PORT, "9531/tcp", "shop", "tcp")
    assert (MOUNTPOINT, "shop.example.com") in held  # web's default domain
    # An app's own services hold nothing against it.
    assert held_by_others(shop, "shop") == {}


def service(name: str, labels: dict[str, str], created: str = "2026-01-01T00:00:00Z") -> dict:
    return {"ID": name, "CreatedAt": created, "Spec": {"Name": name, "Labels": labels}}


def test_a_hand_made_service_holds_what_the_router_would_serve_it_for() -> None:
    routed = {LABEL_NETWORK: "lain-router_x", LABEL_PORT: "80"}
    good = service("by-hand", {**routed, LABEL_MOUNTPOINTS: json.dumps(["a.test/x"])})
    hostile = service(
        "hostile",
        {
            **routed,
            LABEL_MOUNTPOINTS: json.dumps(["b.test; } server { listen 81;"]),
            LABEL_STREAMS: json.dumps(["9600:80/tcp; listen 82", "99999:1/tcp"]),
        },
    )
    assert claims_of([good, hostile]) == {
        (MOUNTPOINT, "a.test/x"): Claim(MOUNTPOINT, "a.test/x", "by-hand", "by-hand")
    }


def test_of_two_services_claiming_one_mountpoint_the_older_holds_it() -> None:
    labels = {LABEL_NETWORK: "n", LABEL_PORT: "80", LABEL_MOUNTPOINTS: '["a.test"]'}
    newer = service("newer", {**labels, "lain.app": "new"}, "2026-02-01T00:00:00Z")
    older = service("older", {**labels, "lain.app": "old"}, "2026-01-01T00:00:00Z")
    assert claims_of([newer, older])[MOUNTPOINT, "a.test"].app == "old"


# -- deploys and plans that claim what others hold ---------------------------------------------


def test_a_deploy_claiming_a_served_mountpoint_is_refused_before_anything_changes(shop) -> None:
    before = changes(shop, lock=False)
    with pytest.raises(RouteTaken) as refused:
        deploy(shop, BOOKS)
    error = refused.value
    assert (error.app, error.cluster) == ("books", "fake")
    assert error.taken == (TakenRoute("web", MOUNTPOINT, "api.example.org/v1", "shop", "web"),)
    assert str(error) == (
        "books claims what other apps hold on cluster fake, so nothing was changed:\n"
        "  mountpoint api.example.org/v1 (proc web) is held by shop (proc web)\n"
        "Give books other mountpoints in its lain.yaml, or first take the procs that hold them "
        "off the cluster (undeploy them from shop)."
    )
    assert status_for(error) is ExitStatus.CONFIG_INVALID
    # Under the deploy lock (taken and given back), nothing changed.
    assert changes(shop, lock=False) == before
    assert app_services(shop, "books") == {} and list_releases("books", cluster=shop) == []


def test_a_claimed_stream_port_is_refused_by_number_and_protocol(shop) -> None:
    with pytest.raises(RouteTaken) as refused:
        deploy(shop, RELAY)
    assert refused.value.taken == (TakenRoute("relay", STREAM_PORT, "9531/tcp", "shop", "tcp"),)
    assert "other source ports (9500-10000) in ports: in its lain.yaml" in str(refused.value)
    # The same number over UDP is another port.
    result, _ = deploy(shop, RELAY.replace("9531:7000]", "9531:7000/udp]"))
    assert result.release.outcome == "succeeded"


def test_both_kinds_are_named_at_once(shop) -> None:
    both = BOOKS + "worker.relay:\n  cmd: sleep 1000\n  ports: [9531:7000]\n"
    with pytest.raises(RouteTaken) as refused:
        deploy(shop, both)
    assert [t.what for t in refused.value.taken] == ["api.example.org/v1", "9531/tcp"]
    assert "other mountpoints or source ports (9500-10000) in ports:" in str(refused.value)


def test_plan_deploy_and_deploy_app_are_refused_naming_the_holder(shop, registry) -> None:
    publish(registry, BOOKS)
    with pytest.raises(RouteTaken, match=r"api\.example\.org/v1 \(proc web\) is held by shop"):
        plan_deploy("books", cluster=shop)
    before = changes(shop)
    with pytest.raises(RouteTaken):
        run(deploy_app("books", cluster=shop, timeout=TIMEOUT))
    assert changes(shop) == before  # refused before even the lock was taken


def test_lain_deploy_plan_exits_3_naming_the_holder(lain, cli_cluster, registry) -> None:
    deploy(cli_cluster, SHOP)
    publish(registry, BOOKS)
    result = lain("deploy", "--plan", "-a", "books")
    assert result.exit_code == ExitStatus.CONFIG_INVALID
    assert "mountpoint api.example.org/v1 (proc web) is held by shop (proc web)" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_deploy_of_other_procs_than_the_claiming_one_goes_ahead(shop) -> None:
    result, _ = deploy(shop, BOOKS, procs=["sync"])
    assert result.release.outcome == "succeeded" and set(app_services(shop, "books")) == {"sync"}


def test_other_paths_of_a_host_and_the_host_itself_are_other_mountpoints(shop) -> None:
    for n, point in enumerate(["api.example.org/v2", "api.example.org", "api.example.org/v1x"]):
        text = BOOKS.replace("API.Example.org/v1/", point).replace("books", f"books{n}")
        result, _ = deploy(shop, text)
        assert result.release.outcome == "succeeded", point


# -- an app's own claims -----------------------------------------------------------------------


def test_an_app_deploys_its_own_mountpoints_again_and_moves_them_between_procs(shop) -> None:
    result, _ = deploy(shop, SHOP, n=2)
    assert result.release.outcome == "succeeded"
    moved = (
        SHOP.replace("  mountpoint: [api.example.org/v1]\n", "")
        + "web.api:\n  cmd: httpd -f -p 80\n  mountpoint: [api.example.org/v1]\n"
    )
    result, _ = deploy(shop, moved, n=3)
    assert result.release.outcome == "succeeded"
    labels = app_services(shop, "shop")["api"].labels
    assert json.loads(labels[LABEL_MOUNTPOINTS]) == ["api.example.org/v1"]


def test_a_rollback_to_a_mountpoint_another_app_took_meanwhile_is_refused(shop) -> None:
    # shop gives /v1 up in release 2, books takes it; going back to release 1 would take it back.
    deploy(shop, SHOP.replace("api.example.org/v1", "api.example.org/v9"), n=2)
    deploy(shop, BOOKS)
    before = changes(shop, lock=False)
    with pytest.raises(RouteTaken) as refused:
        run(rollback_app("shop", 1, cluster=shop, timeout=TIMEOUT))
    assert refused.value.taken == (
        TakenRoute("web", MOUNTPOINT, "api.example.org/v1", "books", "web"),
    )
    # The lock was taken and given back; nothing else changed and no release was recorded.
    assert changes(shop, lock=False) == before
    assert [r.number for r in list_releases("shop", cluster=shop)] == [1, 2]


def test_a_mountpoint_the_router_would_refuse_is_a_lain_yaml_problem(cluster) -> None:
    # lain validate checks mountpoints, except a resource's templates: one may render badly.
    config = release_source(SHOP).config
    web = dataclasses.replace(config.proc("web"), mountpoints=("a.test/x y",))
    bad = dataclasses.replace(config, procs=(web, *[p for p in config.procs if p.name != "web"]))
    with pytest.raises(AppConfigError) as refused:
        check_app_claims(cluster, bad)
    (problem,) = refused.value.problems
    assert problem.message.startswith("proc web: 'a.test/x y': a path prefix takes letters")
    assert problem.message.endswith("; the router would not serve it")
    assert cluster.api.calls == []


# -- the router publishes the stream ports -----------------------------------------------------


@pytest.fixture
def router(cluster):
    create_service(cluster, router_spec(SETTINGS, f"{REGISTRY}/lain/router:0123456789abcdef"))
    cluster.api.services()  # one look starts its task, the next runs it
    cluster.api.services()
    return cluster


def published(cluster) -> list[str]:
    """The ports the HTTP router publishes, then the stream router's (when it runs)."""
    ports = []
    for name in ("lain-router", "lain-router-stream"):
        found = [s for s in cluster.api.services() if s["Spec"]["Name"] == name]
        for service in found:
            endpoint = service["Spec"]["EndpointSpec"]
            ports += [f"{p['PublishedPort']}/{p['Protocol']}" for p in endpoint["Ports"]]
    return ports


def texts(events) -> list[str]:
    return [e.text for e in events if isinstance(e, Message)]


def test_a_deploy_and_an_undeploy_publish_and_withdraw_stream_ports(router) -> None:
    _, events = deploy(router, SHOP)
    assert published(router) == ["80/tcp", "443/tcp", "9531/tcp"]
    said = texts(events)
    assert (
        "the stream router publishes stream port(s) 9531/tcp: its tasks restart, one node at a "
        "time" in said
    )
    assert any(t.startswith("the stream router runs again on 1 node(s) after") for t in said)
    # Nothing about stream ports changed: the routers are left alone (and the HTTP router
    # never changes for stream ports).
    version = router.api.service_named("lain-router-stream")["Version"]["Index"]
    http = router.api.service_named("lain-router")["Version"]["Index"]
    _, events = deploy(router, SHOP, n=2)
    assert router.api.service_named("lain-router-stream")["Version"]["Index"] == version
    assert router.api.service_named("lain-router")["Version"]["Index"] == http
    assert not [t for t in texts(events) if "router" in t]
    _, events = run(undeploy_app("shop", cluster=router, procs=["tcp"], timeout=TIMEOUT))
    assert published(router) == ["80/tcp", "443/tcp"]
    assert any(
        t.startswith("the stream router no longer publishes 9531/tcp") for t in texts(events)
    )


def test_a_rollback_publishes_the_ports_of_the_release_it_goes_back_to(router) -> None:
    deploy(router, SHOP)
    deploy(router, SHOP.replace("[9531:5000]", "[9533:5000]"), n=2)
    assert published(router)[2:] == ["9533/tcp"]
    _, events = run(rollback_app("shop", 1, cluster=router, timeout=TIMEOUT))
    assert published(router)[2:] == ["9531/tcp"]
    assert any(
        t.startswith(
            "the stream router publishes stream port(s) 9531/tcp and no longer publishes 9533/tcp"
        )
        for t in texts(events)
    )


def test_without_a_router_the_deploy_says_the_ports_wait_for_one(cluster) -> None:
    _, events = deploy(cluster, SHOP)
    assert (
        "no router runs on cluster fake: stream port(s) 9531/tcp are not served until one does"
        in texts(events)
    )


def test_a_router_changed_meanwhile_is_refreshed_again(router, monkeypatch) -> None:
    import lain_sdk.cluster.stream_ports as stream_ports

    real = stream_ports.refresh_router
    tries: list[int] = []

    def refresh(cluster):
        tries.append(1)
        if len(tries) == 1:
            raise ClusterError("update out of sequence")
        return real(cluster)

    monkeypatch.setattr(stream_ports, "refresh_router", refresh)
    deploy(router, SHOP)
    assert len(tries) == 2 and published(router)[2:] == ["9531/tcp"]


def test_a_router_that_cannot_be_refreshed_is_a_warning_not_a_failed_deploy(
    router, monkeypatch
) -> None:
    def refresh(cluster):
        raise ClusterError("update out of sequence")

    monkeypatch.setattr("lain_sdk.cluster.stream_ports.refresh_router", refresh)
    result, events = deploy(router, SHOP)
    assert result.release.outcome == "succeeded"
    assert (
        "warning: the router could not be given shop's stream ports (update out of sequence); "
        "bring the router up to date to publish them"
    ) in texts(events)


def test_a_router_that_does_not_come_back_in_time_is_a_warning(router) -> None:
    from fakes.swarm import Behaviour

    router.api.script(f"{REGISTRY}/lain/router", Behaviour(starts_after=10**6))
    result, events = deploy(router, SHOP, timeout=0.2)
    assert result.release.outcome == "succeeded"
    (warning,) = [t for t in texts(events) if t.startswith("warning:")]
    assert warning.startswith("warning: lain-router-stream did not run everywhere within 0 s (")
    assert "starting" in warning


def test_no_wait_leaves_the_router_restarting(router) -> None:
    _, events = deploy(router, SHOP, wait=False)
    assert published(router)[2:] == ["9531/tcp"]
    assert not [t for t in texts(events) if t.startswith("the stream router runs again")]
