"""The boundary between lain and the docker SDK: its exceptions become lain errors here."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from lain_sdk.engine import describe_connection_failure, forget_api_version
from lain_sdk.errors import ClusterError, EngineError, LainError
from lain_sdk.protocols import EngineAPI


def engine_name(api: EngineAPI) -> str:
    """How to name an engine in messages: its address, or "the local Docker engine"."""
    base = str(getattr(api, "base_url", "") or "")
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


def is_refusal(error: BaseException) -> bool:
    """The engine answered, refusing (an API error of any status)."""
    from docker.errors import APIError

    return isinstance(error, APIError)


def is_conflict(error: BaseException) -> bool:
    from docker.errors import APIError

    return isinstance(error, APIError) and error.status_code == 409


@contextmanager
def engine_errors(api: EngineAPI, doing: str, hint: str = "") -> Iterator[None]:
    """Turn docker SDK and connection errors raised inside the block into lain errors.

    Args:
        api: the engine's low-level client (named in the message).
        doing: what was being done, as a verb phrase ("update service hello__web").
        hint: a sentence on how to fix it, appended to the message.
    """
    import requests
    from docker.errors import APIError, DockerException

    where = engine_name(api)
    tail = f"; {hint}" if hint else ""
    try:
        yield
    except LainError:
        raise
    except APIError as e:
        detail = e.explanation or str(e)
        if isinstance(detail, bytes):
            detail = detail.decode(errors="replace")
        detail = str(detail).strip()
        if "is too new" in detail:
            # The engine is older than the API version remembered for it: ask it next time.
            forget_api_version(str(getattr(api, "base_url", "")))
            tail += "; run the command again"
        raise ClusterError(f"{where} refused to {doing}: {detail}{tail}") from e
    except (requests.ConnectionError, requests.Timeout, ConnectionError, TimeoutError) as e:
        raise EngineError(
            f"{where} did not answer when asked to {doing} ({describe_connection_failure(e)}); "
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


def engine_time(api: EngineAPI) -> float:
    """The engine's clock now (Unix seconds): timestamps in the swarm are on managers' clocks,
    so comparing them with this works even when the client's clock is off."""
    with engine_errors(api, "read the engine's clock"):
        info = api.info()
    try:
        return parse_time(str(info["SystemTime"]))
    except (KeyError, ValueError):
        return time.time()


def update_config_labels(api: EngineAPI, config: Mapping[str, Any], labels: dict[str, str]) -> None:
    """Replace the labels of a Swarm config, as the engine last returned it (its data cannot
    change; its labels can, at the config's version).

    The docker SDK has no call for config updates; the Engine API has had
    ``POST /configs/{id}/update`` since 1.30.
    """
    spec = {**config["Spec"], "Labels": labels}
    response = api._post_json(
        api._url("/configs/{0}/update", config["ID"]),
        data=spec,
        params={"version": config["Version"]["Index"]},
    )
    api._raise_for_status(response)
