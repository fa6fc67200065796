"""The Dockerfile of each phase, as text: pure functions, no engine, no files.

Every script line becomes its own ``RUN`` so that the builder caches a layer per line and a
failure points at the line that failed (v2 joined a whole phase into one ``RUN (a) && (b)``).
Each ``RUN`` is written in exec form, ``RUN ["/bin/sh", "-c", "<line>"]``: that is exactly what
the shell form runs, but JSON quoting survives anything a line can hold (newlines from YAML
block scalars, a trailing backslash the Dockerfile parser would take as a continuation,
quotes).

The build context these files travel in (see :mod:`lain_sdk.images.context`) holds the app's
files under ``app/`` and the Dockerfile beside that folder, so no user file can clash with it.

The prepare phase has no Dockerfile: it runs in a container and is committed (see
:meth:`lain_sdk.images.builder.Builder.run_lines`), so that its sources never sit in a layer;
:func:`keep_command` is its clean-up.
"""

from __future__ import annotations

import io
import json
import shlex
import tarfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

APP_DIR = "/lain/app"
CONTEXT_APP_DIR = "app"  # the app's files inside the build context
DOCKERFILE_NAME = "lain.Dockerfile"  # beside app/, never among the user's files
META_FILE = "lain.yaml"  # the one file of the meta context
BUILD_STAGE = "build"  # stage names, for a later stage of the same build to refer to
SCRIPT_STAGE = "script_inter"


@dataclass(frozen=True)
class Dockerfile:
    """A generated Dockerfile and what each of its steps is for.

    Attributes:
        text: the Dockerfile.
        step_lines: for the steps that run or copy something the user wrote, the step number
            (1-based, counted the way the classic builder counts ``Step N/M``) mapped to the
            lain.yaml line it comes from: a script line, or ``copy SRC -> DEST``.
    """

    text: str
    step_lines: Mapping[int, str] = field(default_factory=lambda: MappingProxyType({}))

    def line_for_step(self, step: int) -> str | None:
        """The lain.yaml line behind ``step``, when it has one."""
        return self.step_lines.get(step)

    @property
    def step_count(self) -> int:
        """How many steps the builder counts: every instruction is one line."""
        return len(self.text.splitlines())

    def with_labels(self, labels: Mapping[str, str]) -> Dockerfile:
        """This Dockerfile with one ``LABEL`` instruction setting ``labels`` appended.

        One instruction for all labels: the builder's own ``labels`` option adds a step (and
        an intermediate container) per label.
        """
        if not labels:
            return self
        return Dockerfile(f"{self.text}{label_instruction(labels)}\n", self.step_lines)


def label_instruction(labels: Mapping[str, str]) -> str:
    """One ``LABEL`` instruction setting ``labels`` (for a Dockerfile or an import's changes)."""
    return "LABEL " + " ".join(f"{_label_word(k)}={_label_word(v)}" for k, v in labels.items())


def _label_word(text: str) -> str:
    # A double-quoted Dockerfile word: JSON's escaping of quotes and backslashes is the same,
    # and "$" must not be expanded.
    return json.dumps(text).replace("$", "\\$")


class _Writer:
    def __init__(self) -> None:
        self._lines: list[str] = []
        self._steps: dict[int, str] = {}

    def add(self, instruction: str, source: str | None = None) -> None:
        self._lines.append(instruction)
        if source is not None:
            self._steps[len(self._lines)] = source

    def run(self, line: str, source: str | None = None) -> None:
        self.add("RUN " + json.dumps(["/bin/sh", "-c", line]), line if source is None else source)

    def done(self) -> Dockerfile:
        return Dockerfile("\n".join(self._lines) + "\n", MappingProxyType(dict(self._steps)))


def _from(writer: _Writer, image: str, args: Iterable[str] = (), stage: str | None = None) -> None:
    writer.add(f"FROM {image} AS {stage}" if stage else f"FROM {image}")
    # ARG after FROM: declared here, the value is visible to the RUN steps of this stage only.
    for name in args:
        writer.add(f"ARG {name}")


def keep_command(keep: Iterable[str], directory: str = APP_DIR) -> str:
    """The shell command that empties ``directory`` except the top-level names in ``keep``.

    Names match exactly (v2 matched ``\\bNAME\\b`` as a regular expression, so ``keep: [bundle]``
    also kept ``bundle2``), dot files included, and only ``sh`` and ``rm`` are needed (no
    ``find``), since base images differ in what they ship.
    """
    names = [name.strip("/") for name in keep if name.strip("/")]
    pattern = "|".join(shlex.quote(name) for name in names)
    # The three globs cover every top-level entry, dot files included but not . and ..;
    # a glob matching nothing stays literal, hence the existence test.
    body = 'for f in ./* ./.[!.]* ./..?*; do [ -e "$f" ] || [ -L "$f" ] || continue; '
    if pattern:
        body += f'case "${{f#./}}" in {pattern}) ;; *) rm -rf "$f" ;; esac; done'
    else:
        body += 'rm -rf "$f"; done'
    return f"cd {shlex.quote(directory)} && {body}"


def build_dockerfile(
    base: str, script: Sequence[str], args: Iterable[str] = (), *, workdir: bool = True
) -> Dockerfile:
    """The build phase: the sources at /lain/app on top of the prepare image (or base), then
    one ``RUN`` per build line.  The stage is called ``build``, so that the release stages of
    the same build can copy from it.

    ``workdir=False`` leaves out the ``WORKDIR`` step, for a ``base`` that works in /lain/app
    already (a prepare image does): on the classic builder even a step that only changes
    metadata costs a container and a commit.
    """
    writer = _Writer()
    _from(writer, base, args, BUILD_STAGE)
    writer.add(f"COPY {CONTEXT_APP_DIR}/ {APP_DIR}/")
    if workdir:
        writer.add(f"WORKDIR {APP_DIR}")
    for line in script:
        writer.run(line)
    return writer.done()


def script_dockerfile(base: str, script: Sequence[str], stage: str | None = None) -> Dockerfile:
    """``script`` run on ``base`` in /lain/app, with no new sources (release.script, test).

    ``stage`` names the stage, for a later stage of the same build to refer to it.
    """
    writer = _Writer()
    _from(writer, base, (), stage)
    writer.add(f"WORKDIR {APP_DIR}")
    for line in script:
        writer.run(line)
    return writer.done()


def _copy_word(path: str) -> str:
    # COPY arguments go through the builder's variable expansion, even in JSON form: escape
    # "\" and "$" so that the paths are taken literally.
    return path.replace("\\", "\\\\").replace("$", "\\$")


def release_dockerfile(
    source: str,
    dest_base: str,
    copies: Sequence[tuple[str, str]],
    sources: Sequence[str] = (),
    *,
    workdir: bool = True,
) -> Dockerfile:
    """The release phase: ``dest_base`` plus paths copied out of the build image.

    Args:
        source: where the files come from: an earlier stage of the same build (``build``) or
            an image (a reference or an id).
        dest_base: the runtime base image.
        copies: ``(path in the build image, destination path)`` pairs, already expanded (no
            globs, no variables): one ``COPY --from`` each, which keeps file modes.
        sources: for error messages, the lain.yaml ``copy`` entry behind each pair.
        workdir: end with ``WORKDIR /lain/app``; False when ``dest_base`` works there already.
    """
    writer = _Writer()
    writer.add(f"FROM {dest_base}")
    for index, (src, dest) in enumerate(copies):
        words = json.dumps([_copy_word(src), _copy_word(dest)])
        line = sources[index] if index < len(sources) else f"copy {src} -> {dest}"
        writer.add(f"COPY --from={source} {words}", line)
    if workdir:
        writer.add(f"WORKDIR {APP_DIR}")
    return writer.done()


def relabel_dockerfile(image: str) -> Dockerfile:
    """``image`` unchanged: built only so that the result carries its own labels.

    A release without ``dest_base`` is the build image; building it this way adds no layer
    (the labels are metadata) but lets it say ``lain.phase=release``.
    """
    writer = _Writer()
    writer.add(f"FROM {image}")
    return writer.done()


@dataclass(frozen=True)
class Stage:
    """One stage of a multi-stage build: its part of the Dockerfile, and what it is for.

    Attributes:
        phase: the phase the stage belongs to (several stages may make up one phase).
        dockerfile: the stage's instructions, starting with its ``FROM``.
        tag: the local name its image gets, if any.
    """

    phase: str
    dockerfile: Dockerfile
    tag: str | None = None


def combine(stages: Sequence[Stage]) -> tuple[Dockerfile, tuple[int, ...]]:
    """One Dockerfile running ``stages`` in order, so that one build makes several phases.

    Returns:
        The Dockerfile (its ``step_lines`` renumbered) and the first step of each stage.
    """
    text = ""
    steps: dict[int, str] = {}
    starts = []
    offset = 0
    for stage in stages:
        starts.append(offset + 1)
        text += stage.dockerfile.text
        steps.update({offset + n: line for n, line in stage.dockerfile.step_lines.items()})
        offset += stage.dockerfile.step_count
    return Dockerfile(text, MappingProxyType(steps)), tuple(starts)


def meta_archive(source: bytes) -> bytes:
    """The one layer of the meta image: a tar holding ``source`` as ``lain.yaml``.

    Imported as an image (``POST /images/create?fromSrc=-``), it makes the meta image without
    the builder: no container, no ``FROM scratch`` stage, the labels set by the import.  The
    tar is the same bytes for the same file (no timestamps, no owner names), and the engine
    names the layer after the tar's digest, so an existing meta image can be recognised as
    holding exactly this file.
    """
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo(META_FILE)
        info.size = len(source)
        info.mode = 0o644
        info.mtime = 0
        tar.addfile(info, io.BytesIO(source))
    return buffer.getvalue()


def meta_dockerfile() -> Dockerfile:
    """The meta phase as a Dockerfile: an image holding lain.yaml alone, at /lain.yaml.

    lain imports :func:`meta_archive` instead; this is the equivalent for reference.
    """
    writer = _Writer()
    writer.add("FROM scratch")
    writer.add(f"COPY {META_FILE} /lain.yaml")
    return writer.done()
