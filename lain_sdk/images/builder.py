"""Running build steps on a Docker engine, reported as progress events.

:class:`Builder` wraps one docker client.  Its long operations are generators: they yield
:mod:`lain_sdk.events` and *return* the image id they made, so a phase reads
``image_id = yield from builder.build(...)``.

Two ways of running script lines:

* the classic builder (``POST /build`` with an in-memory context), one ``RUN`` per line, with
  its layer cache; used whenever no secret build arg is involved;
* :meth:`Builder.run_lines`, for phases given secret build args: the classic builder writes
  every ``ARG`` value into ``docker history`` ("|1 NAME=value /bin/sh -c ..."), so there the
  lines run as ``exec``s in a container made from the staged sources, each exec getting the
  values in its own environment, and the container is committed with the image's original
  config.  An exec's environment belongs to the exec, not to the container, so it never
  reaches the committed image's config, history or labels.  (Such phases get no layer cache.)
"""

from __future__ import annotations

import bisect
import contextlib
import io
import re
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Callable, Generator, Iterator, Mapping, Sequence

from lain_sdk.errors import BuildError, EngineError, LainTimeout
from lain_sdk.events import Event, Message, PhaseFinished, PhaseLog, PhaseStarted
from lain_sdk.images.dockerfiles import (
    APP_DIR,
    DOCKERFILE_NAME,
    Dockerfile,
    Stage,
    combine,
    reset_command_dockerfile,
)

if TYPE_CHECKING:
    import docker

    from lain_sdk.credentials import Credentials

# One phase may take this long before lain gives up on it (reads from the engine included).
PHASE_TIMEOUT = 3600.0
# Short helper containers (expanding release copy paths) must be done within this.
HELPER_TIMEOUT = 120.0
LOG_TAIL = 30

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
# Builder chatter that says nothing to a user reading the log.
_NOISE = re.compile(
    r"^( ---> (Running in [0-9a-f]+|[0-9a-f]{12})?|Removing intermediate container [0-9a-f]+"
    r"|Successfully (built|tagged) .*)$"
)
# Keys of an image config that `docker commit` must carry over unchanged.
_CONFIG_KEYS = (
    "User",
    "ExposedPorts",
    "Env",
    "Cmd",
    "Healthcheck",
    "Volumes",
    "WorkingDir",
    "Entrypoint",
    "OnBuild",
    "Labels",
    "StopSignal",
    "Shell",
)


def _identity(text: str) -> str:
    return text


class _Lines:
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


class Builder:
    """Builds, runs and tags images on one engine.

    Args:
        client: a ``docker.DockerClient`` (see :func:`lain_sdk.engine.connect`).
        timeout: seconds one phase may take, and the longest the engine may stay silent.
        mask: applied to every log line and error text (hides secret build arg values).
    """

    def __init__(
        self,
        client: docker.DockerClient,
        *,
        timeout: float = PHASE_TIMEOUT,
        mask: Callable[[str], str] = _identity,
    ) -> None:
        self.client = client
        self.api = client.api
        self.timeout = timeout
        self.mask = mask

    # -- images --------------------------------------------------------------------------------

    def image_id(self, reference: str) -> str | None:
        """The id of the local image ``reference``, or None when the engine has no such image."""
        from docker.errors import APIError, ImageNotFound

        try:
            return str(self.api.inspect_image(reference)["Id"])
        except ImageNotFound:
            return None
        except APIError as e:
            raise EngineError(
                f"the engine could not inspect image {reference}: {e.explanation}"
            ) from e

    def image_config(self, reference: str) -> dict[str, Any]:
        return dict(self.api.inspect_image(reference).get("Config") or {})

    def tag(self, image: str, reference: str) -> None:
        """Give ``image`` (an id or reference) the name ``reference``."""
        from docker.errors import APIError
        from docker.utils import parse_repository_tag

        repository, tag = parse_repository_tag(reference)
        try:
            self.api.tag(image, repository, tag, force=True)
        except APIError as e:
            raise EngineError(f"the engine could not tag {reference}: {e.explanation}") from e

    def ensure_image(
        self, reference: str, phase: str, credentials: Credentials | None = None
    ) -> Generator[Event, None, str]:
        """Return the id of ``reference``, pulling it only when the engine does not have it.

        A base image that is already present is used as it is: v2 pulled on every build, so
        builds failed offline and with local-only bases.

        Raises:
            BuildError: the image is absent and could not be pulled (the message names it).
        """
        found = self.image_id(reference)
        if found is not None:
            return found
        yield Message(f"pulling {reference} (not on this engine)")
        yield from self.pull(reference, phase, credentials)
        found = self.image_id(reference)
        if found is None:
            raise BuildError(phase, f"image {reference} is still missing after pulling it")
        return found

    def pull(
        self, reference: str, phase: str, credentials: Credentials | None = None
    ) -> Generator[Event, None, None]:
        """Pull ``reference``; progress as log lines.

        Raises:
            BuildError: the pull failed; the message names the image and says why.
        """
        from docker.errors import APIError
        from docker.utils import parse_repository_tag

        repository, tag = parse_repository_tag(reference)
        auth = (
            {"username": credentials.username, "password": credentials.password}
            if credentials
            else None
        )
        deadline = time.monotonic() + self.timeout
        last_status: dict[str, str] = {}
        try:
            stream = self.api.pull(
                repository, tag or "latest", stream=True, decode=True, auth_config=auth
            )
            for chunk in stream:
                self._check_deadline(deadline, phase, f"pulling {reference}")
                if "error" in chunk:
                    detail = (chunk.get("errorDetail") or {}).get("message") or chunk["error"]
                    raise BuildError(phase, f"could not pull image {reference}: {detail}")
                status, layer = chunk.get("status"), chunk.get("id")
                # A line per layer state change, not per progress tick.
                if status and last_status.get(layer or "") != status:
                    last_status[layer or ""] = status
                    yield PhaseLog(phase, f"{layer}: {status}" if layer else status)
        except APIError as e:
            raise BuildError(phase, f"could not pull image {reference}: {e.explanation}") from e
        except _TRANSPORT_ERRORS as e:
            raise BuildError(phase, f"could not pull image {reference}: {e}") from e

    # -- the classic builder -------------------------------------------------------------------

    def build(
        self,
        phase: str,
        dockerfile: Dockerfile,
        context: bytes,
        *,
        tag: str | None,
        buildargs: Mapping[str, str] | None = None,
        nocache: bool = False,
        error_type: type[BuildError] = BuildError,
    ) -> Generator[Event, None, tuple[str, bool]]:
        """Build ``dockerfile`` with ``context`` (a tar holding it as ``lain.Dockerfile``).

        Returns:
            ``(image id, cached)``: cached is True when every step came from the layer cache.

        Raises:
            BuildError (or ``error_type``): a step failed; ``failed_line`` is the lain.yaml line
                behind it when the step has one, ``log`` the last lines of output.
            LainTimeout: the phase took longer than the builder's timeout.
        """
        results = yield from self.build_stages(
            [Stage(phase, dockerfile, tag)],
            context,
            buildargs=buildargs,
            nocache=nocache,
            error_type=error_type,
            announce=False,
        )
        return results[-1]

    def build_stages(
        self,
        stages: Sequence[Stage],
        context: bytes | Callable[[str], bytes],
        *,
        buildargs: Mapping[str, str] | None = None,
        nocache: bool = False,
        error_type: type[BuildError] = BuildError,
        announce: bool = True,
    ) -> Generator[Event, None, list[tuple[str, bool]]]:
        """Build several stages (of one or more phases) in one go, as one multi-stage build.

        One request instead of one per phase: the context is sent once and the engine's
        per-build overhead is paid once.

        Args:
            stages: the stages, in order; each stage's image gets its ``tag``.
            context: the build context, or a function making it from the whole Dockerfile.
            announce: yield :class:`PhaseStarted`/:class:`PhaseFinished` for each phase as its
                first stage starts and its last stage is done.

        Returns:
            ``(image id, cached)`` of each stage.
        """
        from docker.errors import APIError

        dockerfile, starts = combine(stages)
        data = context(dockerfile.text) if callable(context) else context
        deadline = time.monotonic() + self.timeout
        tail: deque[str] = deque(maxlen=LOG_TAIL)
        lines = _Lines()
        step = 0
        step_cached: dict[int, bool] = {}
        results: list[tuple[str, bool]] = []
        started: dict[str, float] = {}
        phase = stages[0].phase
        try:
            stream = self.api.build(
                fileobj=io.BytesIO(data),
                custom_context=True,
                dockerfile=DOCKERFILE_NAME,
                buildargs=dict(buildargs or {}),
                nocache=nocache,
                rm=True,
                forcerm=True,  # no stopped container left behind by a failed step
                pull=False,  # bases are pulled by ensure_image, and only when missing
                decode=True,
                timeout=int(self.timeout),
            )
            for chunk in stream:
                self._check_deadline(deadline, phase, "building")
                aux = chunk.get("aux")
                if isinstance(aux, dict) and "ID" in aux and len(results) < len(stages):
                    # The classic builder names each stage's image as the stage ends.
                    index = len(results)
                    end = starts[index + 1] if index + 1 < len(starts) else step + 1
                    cached = all(step_cached.get(n, False) for n in range(starts[index], end))
                    results.append((str(aux["ID"]), cached))
                    stage = stages[index]
                    if stage.tag:
                        self.tag(str(aux["ID"]), stage.tag)
                    last_of_phase = index + 1 == len(stages) or stages[index + 1].phase != phase
                    if announce and last_of_phase:
                        phase_results = [
                            r for r, s in zip(results, stages, strict=False) if s.phase == phase
                        ]
                        yield PhaseFinished(
                            phase,
                            _phase_image(stages, phase),
                            str(aux["ID"]),
                            all(c for _, c in phase_results),
                            round(time.monotonic() - started.get(phase, time.monotonic()), 3),
                        )
                if "error" in chunk:
                    for line in lines.flush():
                        tail.append(self.mask(line))
                    detail = chunk.get("errorDetail") or {}
                    raise self._step_error(error_type, phase, dockerfile, step, detail, chunk, tail)
                for line in lines.feed(chunk.get("stream") or ""):
                    match = _STEP.match(line)
                    if match:
                        step = int(match[1])
                        phase = stages[bisect.bisect_right(starts, step) - 1].phase
                        if announce and phase not in started:
                            started[phase] = time.monotonic()
                            yield PhaseStarted(phase, _phase_image(stages, phase))
                        # FROM is taken as cached: it only names the image to start from.
                        step_cached[step] = match[3].startswith("FROM ")
                        source = dockerfile.line_for_step(step)
                        shown = (
                            f"RUN {source}" if source and match[3].startswith("RUN ") else match[3]
                        )
                        line = f"[{match[1]}/{match[2]}] {shown}"
                    elif line.strip() == "---> Using cache":
                        step_cached[step] = True
                    if _NOISE.match(line) or not line.strip():
                        continue
                    line = self.mask(line)
                    tail.append(line)
                    yield PhaseLog(phase, line)
        except APIError as e:
            raise error_type(phase, self.mask(str(e.explanation or e)), list(tail)) from e
        except _TRANSPORT_ERRORS as e:
            raise error_type(phase, f"lost the engine while building: {e}", list(tail)) from e
        if len(results) != len(stages):
            raise error_type(
                phase, "the engine finished the build without naming every image", list(tail)
            )
        return results

    def _step_error(
        self,
        error_type: type[BuildError],
        phase: str,
        dockerfile: Dockerfile,
        step: int,
        detail: Mapping[str, Any],
        chunk: Mapping[str, Any],
        tail: deque[str],
    ) -> BuildError:
        source = dockerfile.line_for_step(step) if step else None
        message = self.mask(str(detail.get("message") or chunk.get("error") or "unknown error"))
        code = detail.get("code")
        if source and code:
            reason = f"a {phase} script line exited with status {code}"
        else:
            reason = message
        return error_type(
            phase, reason, list(tail), failed_line=self.mask(source) if source else None
        )

    # -- script lines in a container (secret build args) ---------------------------------------

    def run_lines(
        self,
        phase: str,
        image: str,
        lines: Sequence[tuple[str, str]],
        *,
        env: Mapping[str, str],
        labels: Mapping[str, str],
        comment: str,
    ) -> Generator[Event, None, str]:
        """Run ``lines`` one by one in a container of ``image`` and commit the result.

        Args:
            lines: ``(command, lain.yaml line)`` pairs; the second names a failure.
            env: given to each line's process only (see the module docstring).
            labels: set on the committed image.
            comment: the commit's history comment.

        Returns:
            The id of the committed image, whose config is ``image``'s (plus ``labels``).
        """
        from docker.errors import APIError

        config = self.image_config(image)
        original = {key: config[key] for key in _CONFIG_KEYS if config.get(key) is not None}
        original["Labels"] = {**(original.get("Labels") or {}), **labels}
        # The container idles on an sh reading its (open, never written) stdin, so lines can be
        # exec'd in it.  No labels, env or workdir of its own: `docker commit` fills anything the
        # given config lacks from the container's config.
        keep_alive: dict[str, Any] = (
            {"entrypoint": ["/bin/sh"]} if config.get("Entrypoint") else {"command": ["/bin/sh"]}
        )
        deadline = time.monotonic() + self.timeout
        environment = [f"{k}={v}" for k, v in env.items()]
        container_id: str | None = None
        try:
            container_id = self.api.create_container(image, stdin_open=True, **keep_alive)["Id"]
            self.api.start(container_id)
            for command, source in lines:
                yield PhaseLog(phase, self.mask(f"RUN {source}"))
                yield from self._exec_line(
                    phase, container_id, command, source, environment, deadline
                )
            committed = self.api.commit(container_id, conf=original, message=comment)["Id"]
        except APIError as e:
            raise BuildError(phase, self.mask(str(e.explanation or e))) from e
        except _TRANSPORT_ERRORS as e:
            raise BuildError(phase, f"lost the engine while running the {phase} script: {e}") from e
        finally:
            if container_id is not None:
                with contextlib.suppress(APIError, *_TRANSPORT_ERRORS):
                    self.api.remove_container(container_id, force=True)
        if not config.get("Cmd") and not config.get("Entrypoint"):
            # The commit gave the image the container's /bin/sh as its command; take it back.
            reset = reset_command_dockerfile(committed)
            committed, _ = yield from self.build(
                phase, reset, _dockerfile_only(reset.text), tag=None
            )
        return str(committed)

    def _exec_line(
        self,
        phase: str,
        container_id: str,
        command: str,
        source: str,
        environment: list[str],
        deadline: float,
    ) -> Generator[Event, None, None]:
        tail: deque[str] = deque(maxlen=LOG_TAIL)
        lines = _Lines()
        exec_id = self.api.exec_create(
            container_id, ["/bin/sh", "-c", command], environment=environment, workdir=APP_DIR
        )["Id"]
        with self._long_reads():
            for chunk in self.api.exec_start(exec_id, stream=True):
                if time.monotonic() > deadline:
                    raise LainTimeout(f"{phase} took longer than {self.timeout:.0f}s; stopped")
                for line in lines.feed(chunk.decode("utf-8", "replace")):
                    line = self.mask(line)
                    tail.append(line)
                    yield PhaseLog(phase, line)
        for line in lines.flush():
            tail.append(self.mask(line))
            yield PhaseLog(phase, self.mask(line))
        code = self.api.exec_inspect(exec_id).get("ExitCode")
        if code != 0:
            raise BuildError(
                phase,
                f"a {phase} script line exited with status {code}",
                list(tail),
                failed_line=self.mask(source),
            )

    @contextlib.contextmanager
    def _long_reads(self) -> Iterator[None]:
        # exec_start() reads with the client's timeout (a minute by default), and a script line
        # may be silent for longer (a compile); the phase deadline still bounds the wait.
        saved = self.api.timeout
        self.api.timeout = max(saved, int(self.timeout))
        try:
            yield
        finally:
            self.api.timeout = saved

    # -- helper containers ---------------------------------------------------------------------

    def capture(
        self, image: str, argv: Sequence[str], *, phase: str, timeout: float = HELPER_TIMEOUT
    ) -> tuple[int, bytes, str]:
        """Run ``argv`` (entrypoint replaced) in a throwaway container of ``image``.

        Returns:
            ``(exit status, stdout bytes, stderr text)``.
        """
        from docker.errors import APIError

        container_id: str | None = None
        try:
            container_id = self.api.create_container(
                image, entrypoint=list(argv[:1]), command=list(argv[1:]), working_dir=APP_DIR
            )["Id"]
            self.api.start(container_id)
            try:
                status = self.api.wait(container_id, timeout=timeout)
            except _TRANSPORT_ERRORS as e:
                raise LainTimeout(
                    f"{phase}: a helper container did not finish within {timeout:.0f}s"
                ) from e
            out = self.api.logs(container_id, stdout=True, stderr=False)
            err = self.api.logs(container_id, stdout=False, stderr=True).decode("utf-8", "replace")
            return int(status.get("StatusCode", -1)), out, err
        except APIError as e:
            raise BuildError(phase, str(e.explanation or e)) from e
        finally:
            if container_id is not None:
                with contextlib.suppress(APIError, *_TRANSPORT_ERRORS):
                    self.api.remove_container(container_id, force=True)

    def _check_deadline(self, deadline: float, phase: str, doing: str) -> None:
        if time.monotonic() > deadline:
            raise LainTimeout(f"{phase}: {doing} took longer than {self.timeout:.0f}s; stopped")


def _phase_image(stages: Sequence[Stage], phase: str) -> str:
    """The name a phase is known by in events: the tag of its last stage."""
    tags = [s.tag for s in stages if s.phase == phase and s.tag]
    return tags[-1] if tags else ""


def _dockerfile_only(text: str) -> bytes:
    """A build context holding nothing but a Dockerfile."""
    from lain_sdk.images.context import archive_of

    return archive_of({DOCKERFILE_NAME: text.encode()})


def _transport_errors() -> tuple[type[BaseException], ...]:
    import requests  # a dependency of docker, which this module drives anyway

    return (requests.exceptions.RequestException, OSError)


# Connection drops and read timeouts while talking to the engine.
_TRANSPORT_ERRORS = _transport_errors()
