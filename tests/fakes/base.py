"""What every part of the fake engine shares: engine-style errors, ids and timestamps."""

from __future__ import annotations

import itertools
import json
import time
from datetime import datetime, timezone

import docker.errors
import requests

_ids = itertools.count(1)


def new_id(prefix: str = "") -> str:
    """A 64-hex id like the engine's, unique within the test run (``prefix`` helps reading)."""
    number = next(_ids)
    text = f"{prefix}{number:x}".encode().hex()
    return (text + "0" * 64)[:64]


def stamp(at: float | None = None) -> str:
    """An engine timestamp (RFC 3339 with nanoseconds, UTC)."""
    moment = datetime.fromtimestamp(time.time() if at is None else at, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"


def api_error(status: int, explanation: str) -> docker.errors.APIError:
    """The exception docker-py raises for an engine answer with ``status``."""
    response = requests.Response()
    response.status_code = status
    response.url = "http+docker://fake-engine/"
    response.reason = {404: "Not Found", 409: "Conflict", 400: "Bad Request"}.get(status, "Error")
    kind = docker.errors.NotFound if status == 404 else docker.errors.APIError
    return kind(f"{status}", response=response, explanation=explanation)


def engine_error(status: int, explanation: str) -> docker.errors.APIError:
    """The exception docker-py raises for an engine answer with ``status``, classified exactly as
    docker-py classifies it (a 404 whose message is about an image is ``ImageNotFound``)."""
    response = requests.Response()
    response.status_code = status
    response.url = "http+docker://fake-engine/"
    response.reason = {404: "Not Found", 409: "Conflict", 400: "Bad Request"}.get(status, "Error")
    response._content = json.dumps({"message": explanation}).encode()
    try:
        docker.errors.create_api_error_from_http_exception(
            requests.exceptions.HTTPError(response=response)
        )
    except docker.errors.APIError as e:
        e.__cause__ = None
        return e
    raise AssertionError("docker-py did not raise")  # pragma: no cover


class FakeClock:
    """A monotonic clock that moves only when told: a fake engine advances it for work that
    "takes" time, and a test points lain's deadlines at it, so timeouts need no waiting."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def monotonic(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
