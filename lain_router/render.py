"""The nginx configuration of a :class:`~lain_router.model.RouterModel` (pure).

Decisions that make deploys invisible to clients:

- Ready instances are the upstream's servers; instances still starting are ``backup`` servers,
  tried only when every ready one fails.  Swarm stops the last old instance of a start-first
  update as soon as the new one is healthy, which may be before the router has seen it turn
  healthy: the new one is already there as a backup.
- A connection refused, a timeout or a 502/503/504 is retried on another instance
  (``proxy_next_upstream``); an instance that failed rests for a moment (``fail_timeout``).
- A proc with no instance ready answers 503, and so does an upstream whose every try failed:
  never nginx's 502.

Every name, host and path that reaches the text was checked by the model, so no value needs
quoting here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import NamedTuple

from lain_router.model import Route, RouterModel, Upstream

LOG_FORMAT = (
    '{"time":"$time_iso8601","msec":$msec,"app":"$lain_app","proc":"$lain_proc","host":"$host",'
    '"method":"$request_method","uri":"$request_uri","status":$status,'
    '"bytes":$body_bytes_sent,"duration":$request_time,"upstream":"$upstream_addr",'
    '"upstream_status":"$upstream_status","client":"$remote_addr",'
    '"agent":"$http_user_agent"}'
)
UNAVAILABLE = "@lain_unavailable"


class Listen(NamedTuple):
    """Where the router listens and where it keeps its files."""

    http_port: int = 80
    https_port: int = 443
    run_dir: str = "/run/lain-router"
    modules: str = "/etc/nginx/modules-enabled/*.conf"
    access_log: str = "/dev/stdout"


DEFAULT_LISTEN = Listen()


class Certificate(NamedTuple):
    """A certificate for ``domain`` (``*.example.com`` for a wildcard), as files nginx reads."""

    domain: str
    cert_file: str
    key_file: str


def render(
    model: RouterModel,
    *,
    listen: Listen = DEFAULT_LISTEN,
    certificates: Iterable[Certificate] = (),
    generation: int = 0,
) -> str:
    """The whole ``nginx.conf`` for ``model``."""
    certs = {c.domain: c for c in certificates}
    lines = [
        f"# lain router configuration, generation {generation}",
        f"include {listen.modules};",
        "worker_processes auto;",
        f"pid {listen.run_dir}/nginx.pid;",
        "error_log stderr warn;",
        "worker_shutdown_timeout 10s;",
        "events { worker_connections 4096; }",
        "http {",
        *_indent(_http(model, listen, certs)),
        "}",
    ]
    if model.streams:
        lines += ["stream {", *_indent(_stream(model)), "}"]
    return "\n".join(lines) + "\n"


def _http(model: RouterModel, listen: Listen, certs: Mapping[str, Certificate]) -> list[str]:
    lines = [
        "server_tokens off;",
        "server_names_hash_max_size 16384;",
        "server_names_hash_bucket_size 128;",
        "variables_hash_max_size 2048;",
        f"log_format lain escape=json '{LOG_FORMAT}';",
        # Buffered: one write per 4 KiB of lines instead of one per request, which the
        # engine's log driver then reads at a fraction of the cost (under load, the driver
        # took more CPU than nginx).  4 KiB is the pipe's atomic write size, so the lines of
        # two workers never mix; 100 ms bounds how late a line comes.
        f"access_log {listen.access_log} lain buffer=4k flush=100ms;",
        "client_max_body_size 0;",
        "proxy_http_version 1.1;",
        "map $http_upgrade $lain_connection { default upgrade; '' ''; }",
        "proxy_set_header Host $host;",
        "proxy_set_header Upgrade $http_upgrade;",
        "proxy_set_header Connection $lain_connection;",
        "proxy_set_header X-Real-IP $remote_addr;",
        "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "proxy_set_header X-Forwarded-Proto $scheme;",
        "proxy_set_header X-Forwarded-Host $host;",
        # A client's own X-Forwarded-Prefix never reaches an app (an empty value drops it);
        # path routes set the real one.
        'proxy_set_header X-Forwarded-Prefix "";',
        "proxy_next_upstream error timeout http_502 http_503 http_504;",
        "proxy_next_upstream_tries 3;",
        "proxy_next_upstream_timeout 10s;",
        "proxy_connect_timeout 2s;",
        "proxy_read_timeout 300s;",
        "proxy_buffering off;",
        "http2_max_concurrent_streams 128;",
    ]
    served = {r.upstream for r in model.routes}
    for upstream in model.upstreams.values():
        if upstream.name in served and upstream.ready:
            lines += _upstream(upstream, keepalive=True)
    lines += _default_servers(listen, tls=bool(certs))
    by_host: dict[str, list[Route]] = {}
    for route in model.routes:
        by_host.setdefault(route.host, []).append(route)
    for host, routes in by_host.items():
        cert = certificate_for(host, certs)
        lines += _server(host, routes, model.upstreams, listen, cert)
    return lines


def _upstream(upstream: Upstream, *, keepalive: bool) -> list[str]:
    servers = [f"server {b.endpoint} max_fails=1 fail_timeout=2s;" for b in upstream.ready]
    servers += [f"server {b.endpoint} backup;" for b in upstream.backends if not b.ready]
    body = [*servers, "keepalive 32;"] if keepalive else servers
    return [f"upstream {upstream.name} {{", *_indent(body), "}"]


def _default_servers(listen: Listen, *, tls: bool) -> list[str]:
    """Unknown hosts: 404 on HTTP; on HTTPS, the handshake is refused (no certificate to
    show)."""
    lines = [
        "server {",
        f"    listen {listen.http_port} default_server;",
        "    server_name _;",
        "    set $lain_app '';",
        "    set $lain_proc '';",
        "    location / { default_type text/plain; return 404 'no app is served here\\n'; }",
        "}",
    ]
    if tls:
        lines += [
            "server {",
            f"    listen {listen.https_port} ssl default_server;",
            "    server_name _;",
            "    ssl_reject_handshake on;",
            "}",
        ]
    return lines


def _server(
    host: str,
    routes: list[Route],
    upstreams: Mapping[str, Upstream],
    listen: Listen,
    cert: Certificate | None,
) -> list[str]:
    body = [f"listen {listen.http_port};"]
    if cert is not None:
        body += [
            f"listen {listen.https_port} ssl http2;",
            f"ssl_certificate {cert.cert_file};",
            f"ssl_certificate_key {cert.key_file};",
        ]
    body += [
        f"server_name {host};",
        "set $lain_app '';",
        "set $lain_proc '';",
        f"error_page 502 504 {UNAVAILABLE};",
        f"location {UNAVAILABLE} {{ default_type text/plain; "
        "return 503 'no instance of this app is ready\\n'; }",
    ]
    for route in routes:
        body += _locations(route, upstreams[route.upstream], tls=cert is not None)
    return ["server {", *_indent(body), "}"]


def _locations(route: Route, upstream: Upstream, *, tls: bool) -> list[str]:
    tags = [f"set $lain_app {route.app};", f"set $lain_proc {route.proc};"]
    if route.https_only:
        # Without a certificate the redirect still goes out: the app asked never to be served
        # in plain text, and an error is more honest than serving it anyway.
        tags.append("if ($scheme = http) { return 308 https://$host$request_uri; }")
    if not upstream.ready:
        action = ["default_type text/plain;", "return 503 'no instance of this app is ready\\n';"]
    elif route.path == "/":
        action = [f"proxy_pass http://{upstream.name};"]
    else:
        # The prefix is stripped, as lain v2's router did; the app learns it from a header.
        action = [
            f"proxy_set_header X-Forwarded-Prefix {route.path};",
            *_forwarded_headers(),
            f"proxy_pass http://{upstream.name}/;",
        ]
    if route.path == "/":
        return ["location / {", *_indent(tags + action), "}"]
    return [
        f"location {route.path}/ {{",
        *_indent(tags + action),
        "}",
        f"location = {route.path} {{",
        *_indent(tags + action),
        "}",
    ]


def _forwarded_headers() -> list[str]:
    """A ``proxy_set_header`` in a location replaces every one inherited from ``http``: the
    location repeats them."""
    return [
        "proxy_set_header Host $host;",
        "proxy_set_header Upgrade $http_upgrade;",
        "proxy_set_header Connection $lain_connection;",
        "proxy_set_header X-Real-IP $remote_addr;",
        "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "proxy_set_header X-Forwarded-Proto $scheme;",
        "proxy_set_header X-Forwarded-Host $host;",
    ]


def _stream(model: RouterModel) -> list[str]:
    lines = [
        'log_format lain_stream escape=json \'{"time":"$time_iso8601","port":$server_port,'
        '"upstream":"$upstream_addr","status":$status,"client":"$remote_addr",'
        '"duration":$session_time}\';',
        "access_log /dev/stdout lain_stream;",
        "proxy_connect_timeout 2s;",
        "proxy_next_upstream on;",
        "proxy_next_upstream_tries 3;",
    ]
    for stream in model.streams:
        if not stream.upstream.ready:
            continue  # nothing listens: a client sees the connection refused
        lines += _upstream(stream.upstream, keepalive=False)
        udp = " udp" if stream.protocol == "udp" else ""
        lines += [
            "server {",
            f"    listen {stream.port}{udp};",
            f"    proxy_pass {stream.upstream.name};",
            "}",
        ]
    return lines


def certificate_for(host: str, certs: Mapping[str, Certificate]) -> Certificate | None:
    """The certificate for ``host``: one for the host itself, else a wildcard one level up."""
    if host in certs:
        return certs[host]
    _, dot, parent = host.partition(".")
    return certs.get(f"*.{parent}") if dot else None


def _indent(lines: Iterable[str]) -> list[str]:
    return [f"    {line}" for line in lines]
