"""The boundary between lain and the docker SDK: its exceptions become lain errors here."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from lain_sdk.errors import ClusterError, EngineError, LainError


def engine_name(client: Any) -> str:
    """How to name an engine in messages: its address, or "the local Docker engine"."""
    base = str(getattr(getattr(client, "api", client), "base_url", "") or "")
    if not base or base.startswith("http+docker://"):
        return "the local Docker engine"
    return f"the Docker engine at {base}"


def is_not_found(error: BaseException) -> bool:
    from docker.errors import NotFound as DockerNotFound

    return isinstance(error, DockerNotFound)


def unless_missing(call: Callable[..., Any], *args: Any, **kwargs: Any) -> bool:
    """Make an engine call about one object; False when the engine says it does not exist.

    For lookups (does it exist?) and for removals that may race with someone else's.
    """
    try:
        call(*args, **kwargs)
    except Exception as e:
        if not is_not_found(e):
            raise
        return False
    return True


def is_conflict(error: BaseException) -> bool:
    from docker.errors import APIError

    return isinstance(error, APIError) and error.status_code == 409


@contextmanager
def engine_errors(client: Any, doing: str, hint: str = "") -> Iterator[None]:
    """Turn docker SDK and connection errors raised inside the block into lain errors.

    Args:
        client: the docker client (named in the message).
        doing: what was being done, as a verb phrase ("update service hello__web").
        hint: a sentence on how to fix it, appended to the message.
    """
    import requests
    from docker.errors import APIError, DockerException

    where = engine_name(client)
    tail = f"; {hint}" if hint else ""
    try:
        yield
    except LainError:
        raise
    except APIError as e:
        detail = (e.explanation or str(e)).strip()
        if isinstance(detail, bytes):
            detail = detail.decode(errors="replace")
        raise ClusterError(f"{where} refused to {doing}: {detail}{tail}") from e
    except (requests.ConnectionError, requests.Timeout, ConnectionError, TimeoutError) as e:
        raise EngineError(
            f"{where} stopped answering while trying to {doing} ({type(e).__name__}); "
            "is dockerd running and reachable?"
        ) from e
    except DockerException as e:
        raise EngineError(f"{where} failed to {doing}: {e}{tail}") from e


def parse_time(text: str) -> float:
    """An engine timestamp (RFC 3339 with nanoseconds, ``Z`` or an offset) as Unix seconds.

    Raises:
        ValueError: not a timestamp.
    """
    text = text.strip()
    offset = "+00:00"
    if text.endswith("Z"):
        text = text[:-1]
    elif len(text) > 6 and text[-6] in "+-" and text[-3] == ":":
        text, offset = text[:-6], text[-6:]
    head, _, frac = text.partition(".")
    # datetime takes microseconds at most; the engine prints nanoseconds.
    stamp = datetime.fromisoformat(head + offset).timestamp()
    return stamp + (float(f"0.{frac}") if frac.isdigit() else 0.0)


def engine_time(client: Any) -> float:
    """The engine's clock now (Unix seconds): timestamps in the swarm are on managers' clocks,
    so comparing them with this works even when the client's clock is off."""
    with engine_errors(client, "read the engine's clock"):
        info = client.api.info()
    try:
        return parse_time(str(info["SystemTime"]))
    except (KeyError, ValueError):
        return time.time()
