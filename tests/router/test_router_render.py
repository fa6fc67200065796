"""lain_router.render: the nginx configuration of a model."""

from __future__ import annotations

import re

from swarm_docs import service, task

from lain_router.labels import StreamPort
from lain_router.model import build_model
from lain_router.render import Certificate, Listen, certificate_for, render


def block(text: str, opening: str) -> str:
    """The block that starts with the line ``opening`` (up to its closing brace)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == opening)
    depth, found = 0, []
    for line in lines[start:]:
        found.append(line)
        depth += line.count("{") - line.count("}")
        if depth == 0:
            break
    return "\n".join(found)


def test_ready_instances_serve_and_starting_ones_stand_by() -> None:
    web = service("shop")
    text = render(
        build_model([web], [task(web, "10.0.1.2"), task(web, "10.0.1.3", state="starting")])
    )
    upstream = block(text, "upstream shop__web {")
    assert "server 10.0.1.2:80 max_fails=1 fail_timeout=2s;" in upstream
    assert "server 10.0.1.3:80 backup;" in upstream
    # A failed connection or a 502-504 is tried again on another instance.
    assert "proxy_next_upstream error timeout http_502 http_503 http_504;" in text


def test_a_path_route_strips_its_prefix_and_the_host_route_does_not() -> None:
    web = service("shop", "web", ["shop.example.test", "shop.example.test/api"])
    text = render(build_model([web], [task(web, "10.0.1.2")]))
    assert "location /api/ {" in text and "location = /api {" in text
    api = block(text, "location /api/ {")
    assert "proxy_pass http://shop__web/;" in api  # the URI part replaces the prefix
    assert "proxy_set_header X-Forwarded-Prefix /api;" in api
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in api
    root = block(text, "location / {")
    assert "proxy_pass http://shop__web;" in root


def test_no_ready_instance_is_503_and_an_unknown_host_404() -> None:
    web = service("shop")
    text = render(build_model([web], [task(web, "10.0.1.3", state="starting")]))
    assert "upstream shop__web" not in text  # nothing to send requests to
    assert "return 503" in block(text, "location / {")
    default = text[text.index("listen 80 default_server;") :]
    assert "return 404" in default.split("}", 1)[0]
    # When every try failed, the client gets 503 too, not nginx's 502.
    assert "error_page 502 504 @lain_unavailable;" in text


def test_https_only_redirects_plain_http_and_a_certificate_adds_tls() -> None:
    web = service("shop", "web", ["shop.example.test"], https_only=True)
    certs = [Certificate("*.example.test", "/run/secrets/_.example.test.crt", "/k")]
    text = render(
        build_model([web], [task(web, "10.0.1.2")]),
        listen=Listen(http_port=8080, https_port=8443),
        certificates=certs,
    )
    assert "listen 8080;" in text and "listen 8443 ssl http2;" in text
    assert "ssl_certificate /run/secrets/_.example.test.crt;" in text
    assert "if ($scheme = http) { return 308 https://$host$request_uri; }" in text
    # A host without a certificate: the handshake is refused, nothing is shown.
    assert "ssl_reject_handshake on;" in text


def test_the_certificate_for_a_host_is_its_own_else_a_wildcard_one_level_up() -> None:
    own, wild = Certificate("a.example.test", "a", "a"), Certificate("*.example.test", "w", "w")
    certs = {c.domain: c for c in (own, wild)}
    assert certificate_for("a.example.test", certs) is own
    assert certificate_for("b.example.test", certs) is wild
    assert certificate_for("x.b.example.test", certs) is None
    assert certificate_for("example.test", certs) is None


def test_streams_listen_only_with_a_ready_instance() -> None:
    db = service("db", "main", [], streams=[StreamPort(9501, 5432), StreamPort(9502, 53, "udp")])
    idle = service("idle", "main", [], streams=[StreamPort(9503, 1)])
    text = render(build_model([db, idle], [task(db, "10.0.2.2")]))
    stream = block(text, "stream {")
    assert "listen 9501;" in stream and "listen 9502 udp;" in stream
    assert "server 10.0.2.2:5432" in stream and "9503" not in stream


def test_every_name_in_the_configuration_comes_from_checked_values() -> None:
    hostile = service("evil", "web", ["evil.test; } server { listen 81;"])
    fine = service("fine")
    text = render(build_model([hostile, fine], [task(fine, "10.0.0.2")]))
    assert "evil" not in text and "listen 81" not in text
    assert re.search(r"server_name fine\.example\.test;", text)
