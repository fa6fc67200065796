"""Reading one task's log, which always ends (a whole service's log, read without following,
is a stream the engine often never ends once its tasks have written a few hundred lines
between them: seen on Engine 20.10).  Used by ``lain logs`` and by the failure reports of
rollouts."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator, Mapping
from typing import Any

from lain_sdk.cluster.engine_calls import is_not_found
from lain_sdk.cluster.session import Cluster
from lain_sdk.errors import LainTimeout

# Lines read ahead of the reader; the reading thread waits when it is full.
FEED_BUFFER = 10_000
# Seconds a read of a task's log (not following) may go without a line before it gives up.
LOG_IDLE_TIMEOUT = 30.0


def task_log_chunks(api: Any, task_id: str, options: Mapping[str, Any]) -> Iterator[bytes]:
    """``GET /tasks/{id}/logs``: one task's log (the docker SDK has no call for it; the Engine
    API has had it since 1.30).  A whole service's log, read without following, is a stream
    the engine often never ends once its tasks have written a few hundred lines between them
    (seen on Engine 20.10); one task's always ends."""
    params = {k: v for k, v in options.items() if k != "is_tty"}
    response = api._get(
        api._url("/tasks/{0}/logs", task_id), params={**params, "follow": False}, stream=True
    )
    stream: Iterator[bytes] = api._get_result_tty(True, response, False)
    return stream


def task_lines(
    cluster: Cluster,
    task_id: str,
    options: Mapping[str, Any],
    whose: str,
    idle: float | None = None,
) -> Iterator[str]:
    """The lines of one task's log (``whose`` log it is, for messages), read by a thread, so
    that a stream the engine leaves open with nothing more to give ends in
    :class:`LainTimeout` after :data:`LOG_IDLE_TIMEOUT` seconds of silence.  A task the swarm
    forgot since it was listed (it keeps a short history of each slot's tasks) has no lines."""
    idle = LOG_IDLE_TIMEOUT if idle is None else idle
    feed: queue.Queue[str | Exception | None] = queue.Queue(maxsize=FEED_BUFFER)

    def read() -> None:
        end: Exception | None = None  # the error that ended the read, handed to the reader
        try:
            with cluster.errors(f"read the logs of {whose}"):
                try:
                    for chunk in task_log_chunks(cluster.api, task_id, options):
                        for raw in chunk.decode("utf-8", "replace").splitlines():
                            feed.put(raw, timeout=idle)
                except Exception as e:
                    if not is_not_found(e):
                        raise
        except queue.Full:
            return  # the reader gave up
        except Exception as e:
            end = e
        with contextlib.suppress(queue.Full):
            feed.put(end, timeout=idle)

    threading.Thread(target=read, daemon=True).start()
    count = 0
    while True:
        try:
            item = feed.get(timeout=idle)
        except queue.Empty:
            raise LainTimeout(
                f"the engine sent {count} line{'' if count == 1 else 's'} of the logs of "
                f"{whose}, then nothing for {idle:g} s without ending them: try again"
            ) from None
        if item is None:
            return
        if isinstance(item, Exception):
            raise item
        count += 1
        yield item
