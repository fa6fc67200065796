"""Requests through the cluster's router, as a browser or curl would send them: to this
machine's router port, naming the app's host in the Host header (or by SNI for HTTPS)."""

from __future__ import annotations

import http.client
import ssl
import time
from collections.abc import Callable
from typing import NamedTuple

HTTP_PORT = 80
HTTPS_PORT = 443


class Answer(NamedTuple):
    status: int
    headers: dict[str, str]
    body: str


def get(
    host: str,
    path: str = "/",
    *,
    https: bool = False,
    port: int | None = None,
    timeout: float = 5.0,
    context: ssl.SSLContext | None = None,
    headers: dict[str, str] | None = None,
    address: str = "127.0.0.1",
) -> Answer:
    """One GET through the router (on this machine unless ``address`` says where); a
    connection failure is status 0 (its error as body)."""
    if https:
        tls = context or ssl._create_unverified_context()
        connection: http.client.HTTPConnection = _SNIConnection(
            address, port or HTTPS_PORT, host, timeout=timeout, context=tls
        )
    else:
        connection = http.client.HTTPConnection(address, port or HTTP_PORT, timeout=timeout)
    try:
        sent = {"Host": host, "Connection": "close", **(headers or {})}
        connection.request("GET", path, headers=sent)
        response = connection.getresponse()
        body = response.read().decode("utf-8", "replace")
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, body)
    except OSError as e:
        return Answer(0, {}, f"{type(e).__name__}: {e}")
    finally:
        connection.close()


class _SNIConnection(http.client.HTTPSConnection):
    """HTTPS to an address, naming ``server_name`` in the TLS handshake."""

    def __init__(self, address: str, port: int, server_name: str, **kwargs: object) -> None:
        super().__init__(address, port, **kwargs)  # type: ignore[arg-type]
        self.server_name = server_name

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self.server_name)  # type: ignore[attr-defined]


def wait_answer(
    host: str,
    path: str = "/",
    until: Callable[[Answer], bool] = lambda a: a.status == 200,
    *,
    timeout: float = 30.0,
    **options: object,
) -> Answer:
    """GET until ``until`` holds for the answer (the router applies a change within a second
    or two); the last answer when it never did."""
    deadline = time.monotonic() + timeout
    while True:
        answer = get(host, path, **options)  # type: ignore[arg-type]
        if until(answer) or time.monotonic() >= deadline:
            return answer
        time.sleep(0.2)
