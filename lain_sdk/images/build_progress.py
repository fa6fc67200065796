"""The classic builder's answer to a build, read as it streams: which step runs, which came
from the layer cache, which stage made which image, and the events and errors to report.

:class:`BuildProgress` keeps the state of one build; :meth:`Builder.build_stages
<lain_sdk.images.builder.Builder.build_stages>` feeds it the engine's chunks.
"""

from __future__ import annotations

import bisect
import re
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence

from lain_sdk.errors import BuildError
from lain_sdk.events import Event, PhaseFinished, PhaseLog, PhaseStarted
from lain_sdk.images.dockerfiles import Dockerfile, Stage
from lain_sdk.images.streams import LineSplitter

LOG_TAIL = 30

_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
# Builder chatter that says nothing to a user reading the log.
_NOISE = re.compile(
    r"^( ---> (Running in [0-9a-f]+|[0-9a-f]{12})?|Removing intermediate container [0-9a-f]+"
    r"|Successfully (built|tagged) .*)$"
)

StageResult = tuple[str, bool]  # (image id, every step came from the cache)


class BuildProgress:
    """One build of ``stages`` (combined into ``dockerfile``, stage ``i`` starting at step
    ``starts[i]``), followed chunk by chunk.

    Args:
        announce: yield a :class:`PhaseStarted` and a :class:`PhaseFinished` per phase.
        error_type: the error a failed step raises (:class:`BuildError` or a subclass).
        mask: applied to every log line and error text.
        tag: names an image (id, reference): stages before the last are tagged as they end.
        clock: the clock phase durations are measured with.
    """

    def __init__(
        self,
        stages: Sequence[Stage],
        dockerfile: Dockerfile,
        starts: Sequence[int],
        *,
        announce: bool,
        error_type: type[BuildError],
        mask: Callable[[str], str],
        tag: Callable[[str, str], None],
        clock: Callable[[], float],
    ) -> None:
        self.stages = stages
        self.dockerfile = dockerfile
        self.starts = starts
        self.announce = announce
        self.error_type = error_type
        self.mask = mask
        self.tag = tag
        self.clock = clock
        self.phase = stages[0].phase  # the phase of the step running now
        self.step = 0
        self.results: list[StageResult] = []
        self.tail: deque[str] = deque(maxlen=LOG_TAIL)
        self._lines = LineSplitter()
        self._step_cached: dict[int, bool] = {}
        self._started: dict[str, float] = {}

    @property
    def complete(self) -> bool:
        """Whether the engine named the image of every stage."""
        return len(self.results) == len(self.stages)

    def feed(self, chunk: Mapping[str, object]) -> Iterator[Event]:
        """The events one chunk of the stream means.

        Raises:
            BuildError: the chunk reports a failed step (see :meth:`step_error`).
        """
        aux = chunk.get("aux")
        if isinstance(aux, dict) and "ID" in aux and not self.complete:
            yield from self._stage_done(str(aux["ID"]))
        if "error" in chunk:
            raise self.step_error(chunk)
        stream = chunk.get("stream")
        for line in self._lines.feed(stream if isinstance(stream, str) else ""):
            yield from self._output_line(line)

    def _stage_done(self, image_id: str) -> Iterator[Event]:
        # The classic builder names each stage's image as the stage ends.
        index = len(self.results)
        end = self.starts[index + 1] if index + 1 < len(self.starts) else self.step + 1
        cached = all(self._step_cached.get(n, False) for n in range(self.starts[index], end))
        self.results.append((image_id, cached))
        stage = self.stages[index]
        if stage.tag and index + 1 < len(self.stages):
            self.tag(image_id, stage.tag)
        phase = self.phase
        last_of_phase = index + 1 == len(self.stages) or self.stages[index + 1].phase != phase
        if self.announce and last_of_phase:
            mine = [r for r, s in zip(self.results, self.stages, strict=False) if s.phase == phase]
            started = self._started.get(phase, self.clock())
            yield PhaseFinished(
                phase,
                self._phase_image(phase),
                image_id,
                all(c for _, c in mine),
                round(self.clock() - started, 3),
            )

    def _output_line(self, line: str) -> Iterator[Event]:
        match = _STEP.match(line)
        if match:
            yield from self._step_started(int(match[1]))
            instruction = match[3]
            # FROM is taken as cached: it only names the image to start from.
            self._step_cached[self.step] = instruction.startswith("FROM ")
            source = self.dockerfile.line_for_step(self.step)
            shown = f"RUN {source}" if source and instruction.startswith("RUN ") else instruction
            line = f"[{match[1]}/{match[2]}] {shown}"
        elif line.strip() == "---> Using cache":
            self._step_cached[self.step] = True
        if _NOISE.match(line) or not line.strip():
            return
        line = self.mask(line)
        self.tail.append(line)
        yield PhaseLog(self.phase, line)

    def _step_started(self, step: int) -> Iterator[Event]:
        self.step = step
        self.phase = self.stages[bisect.bisect_right(self.starts, step) - 1].phase
        if self.announce and self.phase not in self._started:
            self._started[self.phase] = self.clock()
            yield PhaseStarted(self.phase, self._phase_image(self.phase))

    def step_error(self, chunk: Mapping[str, object]) -> BuildError:
        """The error for a chunk reporting a failed step: the lain.yaml line behind the step
        when it has one, and the last lines of output."""
        for line in self._lines.flush():
            self.tail.append(self.mask(line))
        detail = chunk.get("errorDetail")
        detail = detail if isinstance(detail, dict) else {}
        source = self.dockerfile.line_for_step(self.step) if self.step else None
        message = self.mask(str(detail.get("message") or chunk.get("error") or "unknown error"))
        code = detail.get("code")
        if source and code:
            reason = f"a {self.phase} script line exited with status {code}"
        else:
            reason = message
        return self.error_type(
            self.phase, reason, list(self.tail), failed_line=self.mask(source) if source else None
        )

    def _phase_image(self, phase: str) -> str:
        """The name a phase is known by in events: the tag of its last stage."""
        tags = [s.tag for s in self.stages if s.phase == phase and s.tag]
        return tags[-1] if tags else ""
