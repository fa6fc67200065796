"""Reading what the engine streams back: text in whole lines, an exec's output with a deadline,
the image id an import names, and the errors a dropped connection raises."""

from __future__ import annotations

import json
import queue
import re
import threading
from collections.abc import Iterator

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class LineSplitter:
    """Turns chunks of text into whole lines (the builder splits lines across chunks)."""

    def __init__(self) -> None:
        self._partial = ""

    def feed(self, text: str) -> list[str]:
        text = self._partial + _ANSI.sub("", text).replace("\r\n", "\n")
        *lines, self._partial = text.split("\n")
        return lines

    def flush(self) -> list[str]:
        rest, self._partial = self._partial, ""
        return [rest] if rest else []


class ExecOutput:
    """The output of an exec, read with a deadline.

    The docker SDK reads an exec's output stream with no timeout at all (it polls the socket
    before each read), so a silent line would hold lain forever: a daemon thread reads the
    stream and hands the chunks over through a queue, which is waited on with a timeout.  When
    the time is up, the caller removes the container, which ends the stream and the thread.
    """

    def __init__(self, stream: Iterator[bytes]) -> None:
        self.expired = False
        # chunks, then an exception if reading failed, then None for the end
        self._chunks: queue.Queue[bytes | BaseException | None] = queue.Queue()
        self._thread = threading.Thread(
            target=self._pump, args=(stream,), name="lain-exec-output", daemon=True
        )
        self._thread.start()

    def _pump(self, stream: Iterator[bytes]) -> None:
        try:
            for chunk in stream:
                self._chunks.put(chunk)
        except BaseException as e:  # handed to the reading thread, which raises it
            self._chunks.put(e)
        finally:
            self._chunks.put(None)

    def next_chunk(self, seconds_left: float) -> bytes | None:
        """The next chunk; None at the end of the output, or when none came within
        ``seconds_left`` (then ``expired`` is set)."""
        try:
            item = self._chunks.get(timeout=max(0.0, seconds_left))
        except queue.Empty:
            self.expired = True
            return None
        if isinstance(item, BaseException):
            raise item
        return None if item is None else bytes(item)


def imported_id(answer: object) -> str | None:
    """The image id in the engine's answer to an import (JSON lines; the last names it)."""
    text = answer.decode("utf-8", "replace") if isinstance(answer, bytes) else str(answer)
    for line in reversed(text.splitlines()):
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict) and "error" in data:
            return None
        status = data.get("status") if isinstance(data, dict) else None
        if isinstance(status, str) and status.startswith("sha256:"):
            return status
    return None


def transport_errors() -> tuple[type[BaseException], ...]:
    """Connection drops and read timeouts while talking to the engine.

    The docker SDK reads streamed answers (build, pull, push) from urllib3 itself, so a read
    timeout or a broken connection in the middle of one is urllib3's error, not a ``requests``
    one (nor an ``OSError``).

    Called where an exception is being matched (an ``except`` expression is evaluated only
    then), so that importing this module does not import ``requests``; by then the docker SDK,
    which depends on it, has loaded it anyway.
    """
    import requests
    import urllib3

    return (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError)
