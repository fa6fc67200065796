"""Running build steps on a Docker engine, reported as progress events.

:class:`Builder` wraps one docker client.  Its long operations are generators: they yield
:mod:`lain_sdk.events` and *return* the image id they made, so a phase reads
``image_id = yield from builder.build(...)``.

Two ways of running script lines:

* the classic builder (``POST /build`` with an in-memory context), one ``RUN`` per line, with
  its layer cache; used by the build phase whenever no secret build arg is involved;
* :meth:`Builder.run_lines`: a container made from the starting image, the sources put into
  /lain/app through the archive API, the lines run as ``exec``s one by one, and the container
  committed with the starting image's config (plus labels) as one new layer.  Used by

  - the prepare phase: its sources are removed (all but ``prepare.keep``) before the commit, and
    since the only layer made is the committed one, no layer of the prepare image ever held
    them (with the builder, the ``COPY`` layer under the clean-up kept every source file and
    was pushed with the image);
  - phases given secret build args: the classic builder writes every ``ARG`` value into
    ``docker history`` ("|1 NAME=value /bin/sh -c ..."), while an exec's environment belongs
    to the exec, not to the container, so it never reaches the committed image's config,
    history or labels.

  Such phases get no layer cache (prepare is reused whole, by its key).
"""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import io
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from typing import Any

from lain_sdk.credentials import Credentials
from lain_sdk.errors import BuildError, EngineError, LainTimeout
from lain_sdk.events import Event, Message, PhaseLog
from lain_sdk.images.build_progress import LOG_TAIL, BuildProgress
from lain_sdk.images.dockerfiles import (
    APP_DIR,
    DOCKERFILE_NAME,
    Dockerfile,
    Stage,
    combine,
    label_instruction,
)
from lain_sdk.images.streams import ExecOutput, LineSplitter, imported_id, transport_errors
from lain_sdk.protocols import EngineClient

# One phase may take this long before lain gives up on it (reads from the engine included).
PHASE_TIMEOUT = 3600.0
# Short helper containers (expanding release copy paths) must be done within this.
HELPER_TIMEOUT = 120.0

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


class Builder:
    """Builds, runs and tags images on one engine.

    Args:
        client: the engine, a ``docker.DockerClient`` (see :func:`lain_sdk.engine.connect`).
        timeout: seconds one phase may take, and the longest the engine may stay silent.
        mask: applied to every log line and error text (hides secret build arg values).
    """

    def __init__(
        self,
        client: EngineClient,
        *,
        timeout: float = PHASE_TIMEOUT,
        mask: Callable[[str], str] = _identity,
    ) -> None:
        self.client = client
        self.api = client.api
        self.timeout = timeout
        self.mask = mask
        # What this builder learnt from the engine: image id -> inspect data (an id names
        # fixed content), and the ids of the images ensure_image found or pulled.
        self._inspected: dict[str, dict[str, Any]] = {}
        self._ensured: dict[str, str] = {}

    # -- images --------------------------------------------------------------------------------

    def image_id(self, reference: str) -> str | None:
        """The id of the local image ``reference``, or None when the engine has no such image."""
        data = self._inspect(reference)
        return None if data is None else str(data["Id"])

    def image_config(self, reference: str) -> dict[str, Any]:
        """The config of the local image ``reference`` (an id or a name).

        Raises:
            EngineError: the engine has no such image, or could not say.
        """
        data = self._inspected.get(reference) or self._inspect(reference)
        if data is None:
            raise EngineError(f"the engine has no image {reference}")
        return dict(data.get("Config") or {})

    def _inspect(self, reference: str) -> dict[str, Any] | None:
        from docker.errors import APIError, ImageNotFound

        try:
            data = dict(self.api.inspect_image(reference))
        except ImageNotFound:
            return None
        except APIError as e:
            raise EngineError(
                f"the engine could not inspect image {reference}: {e.explanation}"
            ) from e
        self._inspected[str(data["Id"])] = data
        return data

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
        self,
        reference: str,
        phase: str,
        credentials: Credentials | Callable[[], Credentials | None] | None = None,
    ) -> Generator[Event, None, str]:
        """Return the id of ``reference``, pulling it only when the engine does not have it.

        A base image that is already present is used as it is: v2 pulled on every build, so
        builds failed offline and with local-only bases.  A reference is looked up once per
        builder (a base that is also the ``dest_base`` costs one round trip).

        Args:
            credentials: for the pull, or a function returning them, called only when a pull
                is needed.

        Raises:
            BuildError: the image is absent and could not be pulled (the message names it).
        """
        found = self._ensured.get(reference) or self.image_id(reference)
        if found is None:
            yield Message(f"pulling {reference} (not on this engine)")
            yield from self.pull(
                reference, phase, credentials() if callable(credentials) else credentials
            )
            found = self.image_id(reference)
            if found is None:
                raise BuildError(phase, f"image {reference} is still missing after pulling it")
        self._ensured[reference] = found
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
        except transport_errors() as e:
            raise BuildError(phase, f"could not pull image {reference}: {e}") from e

    def import_image(
        self,
        phase: str,
        archive: bytes,
        *,
        tag: str,
        labels: Mapping[str, str],
        reuse: bool = True,
    ) -> tuple[str, bool]:
        """Make an image of one layer, ``archive``, with ``labels``, and name it ``tag``.

        No builder and no container: the engine unpacks the tar as the image's only layer
        (what ``FROM scratch`` plus ``COPY`` makes) and the labels come with the import.

        Args:
            reuse: keep the image ``tag`` names when it is exactly this one (the same single
                layer, the same labels), as a build would take it from its cache.

        Returns:
            ``(image id, reused)``.

        Raises:
            BuildError: the engine refused the import.
        """
        from docker.errors import APIError
        from docker.utils import parse_repository_tag

        layer = "sha256:" + hashlib.sha256(archive).hexdigest()
        if reuse:
            found = self._inspect(tag)
            if (
                found is not None
                and (found.get("RootFS") or {}).get("Layers") == [layer]
                and dict((found.get("Config") or {}).get("Labels") or {}) == dict(labels)
            ):
                return str(found["Id"]), True
        repository, name = parse_repository_tag(tag)
        try:
            answer = self.api.import_image_from_data(
                archive, repository=repository, tag=name, changes=[label_instruction(labels)]
            )
        except APIError as e:
            raise BuildError(phase, self.mask(str(e.explanation or e))) from e
        except transport_errors() as e:
            raise BuildError(phase, f"lost the engine while importing {tag}: {e}") from e
        image_id = imported_id(answer)
        if image_id is None:
            raise BuildError(phase, f"the engine did not say which image it made ({answer!r:.200})")
        return image_id, False

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
        progress = BuildProgress(
            stages,
            dockerfile,
            starts,
            announce=announce,
            error_type=error_type,
            mask=self.mask,
            tag=self.tag,
            clock=time.monotonic,
        )
        data = context(dockerfile.text) if callable(context) else context
        deadline = time.monotonic() + self.timeout
        try:
            for chunk in self._build_stream(data, stages[-1].tag, buildargs, nocache):
                self._check_deadline(deadline, progress.phase, "building")
                yield from progress.feed(chunk)
        except APIError as e:
            error = str(e.explanation or e)
            raise error_type(progress.phase, self.mask(error), list(progress.tail)) from e
        except transport_errors() as e:
            if time.monotonic() >= deadline:
                # The read timeout: the engine stayed silent until the phase's time was up.
                raise LainTimeout(
                    f"{progress.phase}: building took longer than {self.timeout:.0f}s; stopped"
                ) from e
            lost = self.mask(f"lost the engine while building: {e}")
            raise error_type(progress.phase, lost, list(progress.tail)) from e
        if not progress.complete:
            raise error_type(
                progress.phase,
                "the engine finished the build without naming every image",
                list(progress.tail),
            )
        return progress.results

    def _build_stream(
        self,
        context: bytes,
        tag: str | None,
        buildargs: Mapping[str, str] | None,
        nocache: bool,
    ) -> Iterator[dict[str, Any]]:
        """The classic builder's answer to building ``context``, decoded chunk by chunk."""
        stream: Iterator[dict[str, Any]] = self.api.build(
            fileobj=io.BytesIO(context),
            custom_context=True,
            dockerfile=DOCKERFILE_NAME,
            buildargs=dict(buildargs or {}),
            nocache=nocache,
            rm=True,
            forcerm=True,  # no stopped container left behind by a failed step
            pull=False,  # bases are pulled by ensure_image, and only when missing
            decode=True,
            timeout=int(self.timeout),
            # The engine names the last image itself, which saves a round trip.
            tag=tag,
        )
        return stream

    # -- script lines in a container -----------------------------------------------------------

    def run_lines(
        self,
        phase: str,
        image: str,
        lines: Sequence[tuple[str, str]],
        *,
        env: Mapping[str, str],
        labels: Mapping[str, str],
        comment: str,
        sources: bytes | None = None,
        cleanup: tuple[str, str] | None = None,
    ) -> Generator[Event, None, str]:
        """Run ``lines`` one by one in a container of ``image`` and commit it as one layer.

        Args:
            image: the image to start from (an id or a reference).
            lines: ``(command, lain.yaml line)`` pairs, each run by ``/bin/sh -c`` in /lain/app;
                the second names the line in the log and in a failure.
            env: given to each line's process only (see the module docstring).
            labels: set on the committed image.
            comment: the commit's history comment.
            sources: a tar archive unpacked into /lain/app before the first line runs.
            cleanup: ``(command, description)`` run after the lines, as root (it is lain's own
                step, whatever user the image runs as), without ``env``.

        Returns:
            The id of the committed image: ``image``'s config with working directory /lain/app
            and ``labels`` added.

        Raises:
            BuildError: a line exited non-zero (``failed_line`` names it, ``log`` holds the last
                lines of its output), or the engine refused a step.
            LainTimeout: the phase took longer than the builder's timeout.
        """
        from docker.errors import APIError

        deadline = time.monotonic() + self.timeout
        conf = _commit_config(self.image_config(image), labels)
        environment = [f"{k}={v}" for k, v in env.items()]
        steps = [(command, source, environment, "") for command, source in lines]
        if cleanup is not None:
            steps.append((cleanup[0], cleanup[1], [], "0"))
        container_id: str | None = None
        try:
            container_id = self._script_container(image, sources, deadline)
            for command, source, step_env, user in steps:
                yield PhaseLog(phase, self.mask(f"RUN {source}"))
                yield from self._exec_line(
                    phase, container_id, command, source, step_env, deadline, user
                )
            with self._long_reads(deadline):
                committed = self.api.commit(container_id, conf=conf, message=comment)["Id"]
        except APIError as e:
            raise BuildError(phase, self.mask(str(e.explanation or e))) from e
        except transport_errors() as e:
            if time.monotonic() >= deadline:
                raise LainTimeout(f"{phase} took longer than {self.timeout:.0f}s; stopped") from e
            lost = self.mask(f"lost the engine while running the {phase} script: {e}")
            raise BuildError(phase, lost) from e
        finally:
            # Also what stops a line still running (past the deadline, or on an interrupt).
            if container_id is not None:
                self._remove_quietly(container_id)
        return str(committed)

    def _script_container(self, image: str, sources: bytes | None, deadline: float) -> str:
        """Start a container of ``image`` to exec script lines in, ``sources`` unpacked in
        /lain/app; its id."""
        # The container idles on an sh reading its (open, never written) stdin, so lines can be
        # exec'd in it.  No labels or env of its own: a commit would keep them.  The engine
        # makes its working directory, so the sources have somewhere to go.
        container_id = str(
            self.api.create_container(
                image, entrypoint=["/bin/sh"], stdin_open=True, working_dir=APP_DIR
            )["Id"]
        )
        try:
            if sources is not None:
                with self._long_reads(deadline):
                    self.api.put_archive(container_id, APP_DIR, sources)
            self.api.start(container_id)
        except BaseException:
            self._remove_quietly(container_id)
            raise
        return container_id

    def _remove_quietly(self, container_id: str) -> None:
        from docker.errors import APIError

        with contextlib.suppress(APIError, *transport_errors()):
            self.api.remove_container(container_id, force=True)

    def _exec_line(
        self,
        phase: str,
        container_id: str,
        command: str,
        source: str,
        environment: list[str],
        deadline: float,
        user: str = "",
    ) -> Generator[Event, None, None]:
        tail: deque[str] = deque(maxlen=LOG_TAIL)
        lines = LineSplitter()
        # A chunk may end inside a character: the engine frames whatever the process wrote.
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        exec_id = self.api.exec_create(
            container_id,
            ["/bin/sh", "-c", command],
            environment=environment,
            workdir=APP_DIR,
            user=user,
        )["Id"]
        output = ExecOutput(self.api.exec_start(exec_id, stream=True))
        while True:
            chunk = output.next_chunk(deadline - time.monotonic())
            if chunk is None:
                break
            for line in lines.feed(decoder.decode(chunk)):
                line = self.mask(line)
                tail.append(line)
                yield PhaseLog(phase, line)
        if output.expired:
            raise LainTimeout(f"{phase} took longer than {self.timeout:.0f}s; stopped")
        for line in [*lines.feed(decoder.decode(b"", final=True)), *lines.flush()]:
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
    def _long_reads(self, deadline: float) -> Iterator[None]:
        # Requests run with the client's timeout (a minute by default), and unpacking a big
        # archive or committing a big layer may take longer: such requests may wait until the
        # phase's deadline, and no longer.
        saved = self.api.timeout
        self.api.timeout = max(1.0, deadline - time.monotonic())
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
            except transport_errors() as e:
                raise LainTimeout(
                    f"{phase}: a helper container did not finish within {timeout:.0f}s"
                ) from e
            out = self.api.logs(container_id, stdout=True, stderr=False)
            err = self.api.logs(container_id, stdout=False, stderr=True).decode("utf-8", "replace")
            return int(status.get("StatusCode", -1)), out, err
        except APIError as e:
            raise BuildError(phase, self.mask(str(e.explanation or e))) from e
        finally:
            if container_id is not None:
                self._remove_quietly(container_id)

    def _check_deadline(self, deadline: float, phase: str, doing: str) -> None:
        if time.monotonic() > deadline:
            raise LainTimeout(f"{phase}: {doing} took longer than {self.timeout:.0f}s; stopped")


def _commit_config(config: Mapping[str, Any], labels: Mapping[str, str]) -> dict[str, Any]:
    """The config to commit a script container with: ``config`` (the starting image's), its
    labels plus ``labels``, working in /lain/app."""
    conf = {key: config[key] for key in _CONFIG_KEYS if config.get(key) is not None}
    conf["Labels"] = {**(conf.get("Labels") or {}), **labels}
    conf["WorkingDir"] = APP_DIR
    # `docker commit` fills whatever the given config lacks from the container's config, and
    # the container's entrypoint is the idle /bin/sh: an explicit empty entrypoint keeps it out
    # of an image whose base had none.  The container has no command, so none can be filled in
    # either.
    conf["Entrypoint"] = config.get("Entrypoint") or []
    return conf
