"""lain_router.model: what the router serves, from services and tasks."""

from __future__ import annotations

import pytest
from swarm_docs import service, task, with_label

from lain_router.labels import StreamPort
from lain_router.model import build_model, parse_mountpoint, without_apps


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hello.example.test", ("hello.example.test", "/")),
        ("Hello.Example.TEST.", ("hello.example.test", "/")),
        ("hello.example.test/", ("hello.example.test", "/")),
        ("hello.example.test/api", ("hello.example.test", "/api")),
        ("hello.example.test/api/v1/", ("hello.example.test", "/api/v1")),
        ("*.example.test", ("*.example.test", "/")),
    ],
)
def test_a_mountpoint_is_a_host_and_a_path_prefix(text: str, expected: tuple[str, str]) -> None:
    assert parse_mountpoint(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "x.test; } server { listen 81;",  # nginx syntax in a host
        "x.test/a b",  # a space
        "x.test/a;b",
        "x.test/a{b}",
        "x.test/'a'",
        "x.test//a",
        "x.test/../etc",
        "x.test/a#b",
        "-x.test",
        "x..test",
        "",
        "/path-only",
        "a" * 64 + ".test",
    ],
)
def test_anything_nginx_would_read_as_syntax_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_mountpoint(text)


def test_routes_upstreams_and_backups_from_services_and_tasks() -> None:
    web = service("shop", "web", ["shop.example.test", "shop.example.test/api"])
    api = service("shop", "api", ["shop.example.test/api/v2"], port=8080)
    model = build_model(
        [web, api],
        [
            task(web, "10.0.1.2", slot=1),
            task(web, "10.0.1.3", slot=2, state="starting"),
            task(web, "10.0.1.4", slot=3, desired="shutdown"),  # leaving: never a backend
            task(web, "10.0.1.5", slot=4, state="preparing"),  # no container to talk to yet
            task(api, "10.0.1.9"),
        ],
    )
    # Longest prefix first within a host.
    assert [r.mountpoint for r in model.routes] == [
        "shop.example.test/api/v2",
        "shop.example.test/api",
        "shop.example.test",
    ]
    web_upstream = model.upstreams["shop__web"]
    assert [(b.endpoint, b.ready) for b in web_upstream.backends] == [
        ("10.0.1.2:80", True),
        ("10.0.1.3:80", False),
    ]
    assert [b.endpoint for b in model.upstreams["shop__api"].ready] == ["10.0.1.9:8080"]
    assert model.networks == {"lain-router_shop"} and model.problems == ()


def test_the_older_service_keeps_a_mountpoint_and_the_newer_is_told_who_holds_it() -> None:
    first = service("a", "web", ["both.example.test", "a.example.test"], created="2026-01-01")
    second = service("b", "web", ["both.example.test", "b.example.test"], created="2026-02-01")
    model = build_model([second, first], [])
    owners = {r.host: r.app for r in model.routes}
    assert owners == {"both.example.test": "a", "a.example.test": "a", "b.example.test": "b"}
    (problem,) = model.problems
    assert problem.app == "b" and "both.example.test is served by a (web)" in problem.message


def test_a_hostile_label_is_a_problem_of_its_service_only() -> None:
    good = service("good")
    hostile = service("evil", "web", ["evil.test; } server { listen 81;"])
    bad_port = with_label(service("port"), "lain.router.port", "80; evil")
    bad_name = with_label(service("name"), "lain.app", "x y")
    not_json = with_label(service("json"), "lain.router.mountpoints", "{nope")
    model = build_model([good, hostile, bad_port, bad_name, not_json], [task(good, "10.0.0.2")])
    assert [r.app for r in model.routes] == ["good"]
    assert {p.app for p in model.problems} == {"evil", "port", "x y", "json"}


def test_stream_ports_in_range_and_first_come_first_served() -> None:
    db = service("db", "main", [], streams=[StreamPort(9501, 5432), StreamPort(9502, 53, "udp")])
    other = service(
        "other", "main", [], streams=[StreamPort(9501, 1)], created="2027-01-01T00:00:00Z"
    )
    outside = with_label(service("out", "main", []), "lain.router.streams", ["80:80/tcp"])
    model = build_model([db, other, outside], [task(db, "10.0.2.2")])
    assert [(s.port, s.protocol, s.upstream.app) for s in model.streams] == [
        (9501, "tcp", "db"),
        (9502, "udp", "db"),
    ]
    assert [b.endpoint for b in model.streams[0].upstream.ready] == ["10.0.2.2:5432"]
    messages = {p.app: p.message for p in model.problems}
    assert "taken by db (main)" in messages["other"] and "9500-10000" in messages["out"]
    assert model.routes == ()  # stream-only procs claim no host


def test_without_apps_leaves_out_everything_of_them() -> None:
    a, b = service("a", streams=[StreamPort(9600, 1)]), service("b")
    model = without_apps(build_model([a, b], [task(a, "10.0.0.2"), task(b, "10.0.0.3")]), ["a"])
    assert {r.app for r in model.routes} == {"b"}
    assert set(model.upstreams) == {"b__web"} and model.streams == ()
