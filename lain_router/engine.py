"""A small Engine API client over the engine's unix socket (standard library only).

The router asks a manager's engine for services and tasks and connects its own container to
the networks of the procs it serves; that is all, so a dozen lines of ``http.client`` stand in
for docker-py, which the router's image does not have.
"""

from __future__ import annotations

import http.client
import json
import socket
from typing import Any
from urllib.parse import quote, urlencode

SOCKET = "/var/run/docker.sock"


class EngineError(Exception):
    """The engine answered with an error status, or did not answer."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


class Engine:
    """Requests to one engine; every request has a timeout."""

    def __init__(self, socket_path: str = SOCKET, timeout: float = 10.0) -> None:
        self.socket_path = socket_path
        self.timeout = timeout

    def request(self, method: str, path: str, body: Any = None, **query: Any) -> Any:
        """The decoded JSON answer (None for an empty one)."""
        if query:
            path += "?" + urlencode(
                {k: json.dumps(v) if isinstance(v, dict) else v for k, v in query.items()}
            )
        connection = _UnixConnection(self.socket_path, self.timeout)
        try:
            payload = None if body is None else json.dumps(body).encode()
            headers = {"Content-Type": "application/json"} if payload is not None else {}
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            data = response.read()
        except OSError as e:
            raise EngineError(f"{method} {path}: {e}") from e
        finally:
            connection.close()
        if response.status >= 400:
            try:
                message = json.loads(data).get("message", "")
            except ValueError:
                message = data.decode("utf-8", "replace")[:200]
            raise EngineError(f"{method} {path}: {response.status} {message}", response.status)
        return json.loads(data) if data else None

    def services(self, label: str) -> list[dict[str, Any]]:
        return list(self.request("GET", "/services", filters={"label": [label]}))

    def tasks(self) -> list[dict[str, Any]]:
        return list(self.request("GET", "/tasks", filters={"desired-state": ["running"]}))

    def container(self, container: str) -> dict[str, Any]:
        return dict(self.request("GET", f"/containers/{quote(container)}/json"))

    def connect(self, network: str, container: str) -> None:
        self.request("POST", f"/networks/{quote(network)}/connect", {"Container": container})

    def disconnect(self, network: str, container: str) -> None:
        self.request(
            "POST",
            f"/networks/{quote(network)}/disconnect",
            {"Container": container, "Force": True},
        )
