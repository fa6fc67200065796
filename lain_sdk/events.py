"""Progress events that long operations (build, push, deploy) yield.

Long operations are generators: they yield events while they work and *return* their result,
so a caller can draw progress and still get the outcome::

    result = lain_sdk.drain(lain_sdk.build_app(...), on_event=print)

Every event has ``to_dict()`` (JSON-ready, with an ``event`` key naming its kind).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, fields
from typing import Any, ClassVar, TypeVar

import lain_sdk.arguments as arguments
from lain_sdk.errors import InvalidArgument

T = TypeVar("T")


@dataclass(frozen=True)
class Event:
    kind: ClassVar[str] = "event"

    def to_dict(self) -> dict[str, Any]:
        return {"event": self.kind, **{f.name: getattr(self, f.name) for f in fields(self)}}


@dataclass(frozen=True)
class PhaseStarted(Event):
    """A build phase (prepare, build, release, test, meta) or a push of one image started."""

    kind: ClassVar[str] = "phase-started"
    phase: str
    image: str


@dataclass(frozen=True)
class PhaseLog(Event):
    """One line of output of a phase (build step output, push status)."""

    kind: ClassVar[str] = "log"
    phase: str
    line: str


@dataclass(frozen=True)
class PhaseFinished(Event):
    """A phase finished; ``cached`` is True when an existing image was reused."""

    kind: ClassVar[str] = "phase-finished"
    phase: str
    image: str
    image_id: str
    cached: bool
    seconds: float


@dataclass(frozen=True)
class LayerProgress(Event):
    """Progress of one layer of an image push; ``total`` is 0 when unknown."""

    kind: ClassVar[str] = "layer"
    image: str
    layer: str
    status: str
    current: int = 0
    total: int = 0


@dataclass(frozen=True)
class Message(Event):
    """Anything else worth telling the user while an operation runs."""

    kind: ClassVar[str] = "message"
    text: str


def drain(
    operation: Generator[Event, None, T], on_event: Callable[[Event], None] | None = None
) -> T:
    """Run a long operation to the end, passing each event to ``on_event``; return its result.

    Raises:
        InvalidArgument: ``operation`` is not a generator (such as what ``build_app`` returns),
            or ``on_event`` is not a function.
        LainError: whatever the operation raises.
    """
    if not isinstance(operation, Iterator):
        kind = type(operation).__name__
        raise InvalidArgument(f"operation must be a generator of events, not a {kind}")
    on_event = arguments.optional_function(on_event, "on_event")
    while True:
        try:
            event = next(operation)
        except StopIteration as stop:
            result: T = stop.value
            return result
        if on_event is not None:
            on_event(event)


@dataclass(frozen=True)
class ProcChanged(Event):
    """The service of a proc was created, updated, removed or restored on the cluster.

    ``action`` is ``created``, ``updated``, ``removed``, ``restored`` (put back to what it was
    after another proc failed) or ``unchanged``; ``detail`` says what changed, in a few words.
    """

    kind: ClassVar[str] = "proc-changed"
    app: str
    proc: str
    action: str
    service: str
    detail: str = ""


@dataclass(frozen=True)
class ProcProgress(Event):
    """Where the rollout of one proc stands: ``running`` healthy instances of ``desired``.

    ``running`` counts instances of the new spec only; ``old_running`` those of the spec
    before that still run (and serve) while a rolling update replaces them.  ``state`` is
    ``starting``, ``updating``, ``converged``, ``rolling-back`` or ``failed``; ``message``
    carries the engine's last word (an update status or a task error).
    """

    kind: ClassVar[str] = "proc-progress"
    app: str
    proc: str
    running: int
    desired: int
    state: str
    message: str = ""
    old_running: int = 0


@dataclass(frozen=True)
class LockWaiting(Event):
    """Another deploy of the app holds its lock; this one waits up to ``wait_seconds`` for it."""

    kind: ClassVar[str] = "lock-waiting"
    app: str
    holder: str
    since: str
    wait_seconds: float
