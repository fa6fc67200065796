"""The image pipeline of an app: prepare, build, release, test and meta, on one engine.

The public functions are generators: iterate them for progress events, and take their return
value (``lain_sdk.drain`` does both)::

    import lain_sdk

    result = lain_sdk.drain(lain_sdk.build_app("examples/hello"), on_event=print)
    print(result.images["release"])
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Generator, Mapping, Sequence

from lain_sdk.errors import BuildError, LainError, RegistryError, TestFailed
from lain_sdk.events import Event, Message, PhaseFinished, PhaseLog, PhaseStarted
from lain_sdk.images import dockerfiles as df
from lain_sdk.images.buildargs import BuildArgs, resolve_build_args
from lain_sdk.images.builder import PHASE_TIMEOUT, Builder
from lain_sdk.images.context import BuildContext, archive_of
from lain_sdk.images.naming import (
    LABEL_APP,
    LABEL_GIT_SHA,
    LABEL_META_VERSION,
    LABEL_PHASE,
    LABEL_PREPARE_KEY,
    image_tag,
    prepare_key,
)
from lain_sdk.images.push import PushedImage, credentials_for, push_images, registry_host

if TYPE_CHECKING:
    import docker

    from lain_sdk.appconfig.model import AppConfig, CopySpec
    from lain_sdk.credentials import Credentials
    from lain_sdk.git import GitInfo

Events = Generator[Event, None, "BuildResult"]

# Expands release copy sources inside the build image, as v2's `cp` in a container did: "$VAR"
# from the image's environment, then shell globs.  Prints each match NUL-terminated and an empty
# record after each source; exits 3 naming a source that matches nothing.
_EXPAND_COPY = r"""IFS=''
for spec in "$@"; do
  case $spec in *'$'*) eval "spec=\"$spec\"" ;; esac
  found=''
  for m in $spec; do
    if [ -e "$m" ] || [ -L "$m" ]; then printf '%s\0' "$m"; found=1; fi
  done
  [ -n "$found" ] || { printf '%s\n' "$spec" >&2; exit 3; }
  printf '\0'
done
"""
_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class BuildResult:
    """What a build (or prepare, or test) made.

    Attributes:
        app: the app name.
        meta_version: the version the images are tagged with.
        images: phase -> local image reference (``hello:release-<mv>`` ...), in phase order.
        image_ids: phase -> image id.
        context_bytes: size of the build context sent to the engine (0 when none was sent).
        reused: phases whose image existed already (or came from the layer cache entirely).
        pushed: the images pushed, when the build was asked to push.
        test_log: the output of test.script (``test_app`` only).
    """

    app: str
    meta_version: str
    images: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    image_ids: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    context_bytes: int = 0
    reused: tuple[str, ...] = ()
    pushed: tuple[PushedImage, ...] = ()
    test_log: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "meta_version": self.meta_version,
            "images": dict(self.images),
            "image_ids": dict(self.image_ids),
            "context_bytes": self.context_bytes,
            "reused": list(self.reused),
            "pushed": [p.to_dict() for p in self.pushed],
        }


class _Pipeline:
    """One run of the pipeline over one app: its config, git state, engine and results."""

    def __init__(
        self,
        app_dir: str | os.PathLike[str],
        *,
        docker_client: docker.DockerClient | None,
        environ: Mapping[str, str] | None,
        registry: str | None,
        credentials: Credentials | None,
        no_cache: bool,
        timeout: float,
    ) -> None:
        from lain_sdk.appconfig import load_app_config
        from lain_sdk.git import GitInfo

        # git runs while lain.yaml is read and checked; a lain.yaml problem is still the one
        # reported first.
        pending = GitInfo.start(app_dir, context_files=True)
        try:
            self.config: AppConfig = load_app_config(app_dir)
        except BaseException:
            pending.cancel()
            raise
        self.git: GitInfo = pending.result()
        self.app = self.config.appname
        self.environ: Mapping[str, str] = os.environ if environ is None else environ
        self.registry: str | None = None
        if registry:
            from lain_sdk.credentials import normalize_registry

            # One spelling of the registry, so that the tags made and the ones looked for agree.
            self.registry = normalize_registry(registry)
        self.credentials = credentials
        self.no_cache = no_cache
        # Resolved up front, so a missing $VAR is reported before any engine work.
        prepare = self.config.build.prepare
        self.prepare_args = resolve_build_args(
            prepare.build_arg if prepare else (), self.environ, phase="prepare"
        )
        self.build_args = resolve_build_args(
            self.config.build.build_arg, self.environ, phase="build"
        )
        self._client = docker_client
        self._timeout = timeout
        self._builder: Builder | None = None
        self._context: BuildContext | None = None
        self.images: dict[str, str] = {}
        self.ids: dict[str, str] = {}
        self.reused: list[str] = []
        self.context_bytes = 0
        self.base_id = ""
        self.prepare_key: str | None = None
        self.fresh_prepare = False

    @property
    def meta_version(self) -> str:
        return str(self.git.meta_version)

    @property
    def builder(self) -> Builder:
        # Connected on first use, so config, git and build-arg errors come before engine ones.
        if self._builder is None:
            from lain_sdk.engine import connect

            client = self._client if self._client is not None else connect()
            self._builder = Builder(client, timeout=self._timeout, mask=self._mask)
        return self._builder

    def _mask(self, text: str) -> str:
        return self.build_args.mask(self.prepare_args.mask(text))

    @property
    def context(self) -> BuildContext:
        if self._context is None:
            self._context = BuildContext.from_git(self.git)
        return self._context

    def labels(self, phase: str, **extra: str) -> dict[str, str]:
        return {
            LABEL_APP: self.app,
            LABEL_META_VERSION: self.meta_version,
            LABEL_PHASE: phase,
            LABEL_GIT_SHA: str(self.git.sha),
            **extra,
        }

    def result(
        self, pushed: Sequence[PushedImage] = (), test_log: Sequence[str] = ()
    ) -> BuildResult:
        return BuildResult(
            app=self.app,
            meta_version=self.meta_version,
            images=MappingProxyType(dict(self.images)),
            image_ids=MappingProxyType(dict(self.ids)),
            context_bytes=self.context_bytes,
            reused=tuple(self.reused),
            pushed=tuple(pushed),
            test_log=tuple(test_log),
        )

    def _finished(self, phase: str, tag: str, image_id: str, cached: bool, started: float) -> Event:
        self.images[phase] = tag
        self.ids[phase] = image_id
        if cached:
            self.reused.append(phase)
        return PhaseFinished(phase, tag, image_id, cached, round(time.monotonic() - started, 3))

    def _sources_archive(self) -> bytes:
        data = self.context.sources_archive()
        self.context_bytes = len(data)
        return data

    def _app_archive(self, dockerfile: df.Dockerfile | str) -> bytes:
        text = dockerfile if isinstance(dockerfile, str) else dockerfile.text
        data = self.context.archive(text)
        self.context_bytes = len(data)
        return data

    # -- phases --------------------------------------------------------------------------------

    def base(self) -> Generator[Event, None, str]:
        base = self.config.build.base
        self.base_id = yield from self.builder.ensure_image(
            base,
            "prepare" if self.config.build.prepare else "build",
            lambda: self._credentials(base),
        )
        return self.base_id

    def prepare(self) -> Generator[Event, None, None]:
        """Reuse the prepare image whose inputs match (here, else the registry's), or build it."""
        prepare = self.config.build.prepare
        if prepare is None:
            return
        if not self.base_id:
            yield from self.base()
        key = prepare_key(
            base_image_id=self.base_id,
            script=prepare.script,
            keep=prepare.keep,
            version=prepare.version,
            build_args=self.prepare_args.public,
            secret_arg_names=self.prepare_args.secret,
        )
        self.prepare_key = key
        tag = image_tag(self.app, "prepare", key)
        started = time.monotonic()
        yield PhaseStarted("prepare", tag)
        if not self.no_cache:
            found = self.builder.image_id(tag)
            if found is None and self.registry:
                found = yield from self._prepare_from_registry(key, tag)
            if found is not None:
                yield self._finished("prepare", tag, found, True, started)
                return
        # Not the builder: its COPY layer would hold every source file under the clean-up
        # (see lain_sdk.images.builder).  One container, one committed layer.
        args = self.prepare_args
        image_id = yield from self.builder.run_lines(
            "prepare",
            self.base_id,
            [(line, line) for line in prepare.script],
            env={**args.public, **args.secret},
            labels=self.labels("prepare", **{LABEL_PREPARE_KEY: key}),
            comment=f"lain prepare: {len(prepare.script)} script lines, then all but "
            f"prepare.keep removed from {df.APP_DIR}",
            sources=self._sources_archive(),
            cleanup=(
                df.keep_command(prepare.keep),
                "(remove everything in /lain/app but prepare.keep)",
            ),
        )
        self.builder.tag(image_id, tag)
        self.fresh_prepare = True
        yield self._finished("prepare", tag, image_id, False, started)

    def _prepare_from_registry(self, key: str, tag: str) -> Generator[Event, None, str | None]:
        from lain_sdk.registry import RegistryClient

        assert self.registry is not None
        remote = image_tag(self.app, "prepare", key, self.registry)
        try:
            with RegistryClient.from_env(self.registry, environ=self.environ) as registry:
                if not registry.has_tag(self.app, f"prepare-{key}"):
                    return None
        except RegistryError as e:
            yield Message(
                f"could not look for a prepare image in {self.registry} ({e}); building it here"
            )
            return None
        yield Message(f"pulling the prepare image {remote}")
        try:
            yield from self.builder.pull(remote, "prepare", self._credentials(remote))
        except BuildError as e:
            yield Message(f"{e.reason}; building it here")
            return None
        image_id = self.builder.image_id(remote)
        if image_id is not None:
            self.builder.tag(image_id, tag)
        return image_id

    def _start_from(self) -> Generator[Event, None, str]:
        """The image the build phase starts from: the prepare image, else the base."""
        if self.config.build.volumes:
            # v2 mounted these host directories into the build as a compile cache; lain keeps
            # slow dependency work in the prepare image instead, and says so, on every path
            # that builds (build, test), rather than ignore the setting.
            yield Message(
                "build.volumes is not used by lain (v2's compile cache): move slow dependency "
                "steps to build.prepare, whose image is reused until its inputs change"
            )
        if not self.base_id:
            yield from self.base()
        if self.config.build.prepare is not None and "prepare" not in self.ids:
            yield from self.prepare()
        return self.ids.get("prepare", self.base_id)

    def _needs_workdir(self, image: str) -> bool:
        """Whether a stage starting from ``image`` must set WORKDIR /lain/app (a prepare image,
        for one, works there already)."""
        return self.builder.image_config(image).get("WorkingDir") != df.APP_DIR

    def _build_labels(self) -> dict[str, str]:
        extra = {LABEL_PREPARE_KEY: self.prepare_key} if self.prepare_key else {}
        return self.labels("build", **extra)

    def build(self) -> Generator[Event, None, None]:
        """The build image: the sources on the prepare image (or base), then build.script."""
        start_from = yield from self._start_from()
        tag = image_tag(self.app, "build", self.meta_version)
        started = time.monotonic()
        yield PhaseStarted("build", tag)
        script = self.config.build.script
        args = self.build_args
        dockerfile = df.build_dockerfile(
            start_from, script, args.public, workdir=self._needs_workdir(start_from)
        )
        lines = [(line, line) for line in script]
        image_id, cached = yield from self._script_phase(
            "build", start_from, dockerfile, lines, tag, self._build_labels(), args
        )
        yield self._finished("build", tag, image_id, cached, started)

    def build_release_meta(self) -> Generator[Event, None, None]:
        """The build, release and meta images, in as few engine builds as can be.

        Usually one multi-stage build makes build and release (the context goes to the engine
        once); the meta image is imported, without the builder (see :meth:`meta`).  Secret
        build args need the build phase on its own (see :meth:`_script_phase`), and
        release copy sources with globs or variables need the build image to exist before the
        release Dockerfile can be written; then the phases run one by one.
        """
        release = self.config.release
        needs_expansion = release.dest_base is not None and any(
            "$" in spec.src or _GLOB_CHARS & set(spec.src) for spec in release.copy
        )
        if needs_expansion:
            yield from self.build()
            yield from self.release()
            yield from self.meta()
            return
        mv = self.meta_version
        stages: list[df.Stage] = []
        if self.build_args.secret:
            yield from self.build()
            source = self.ids["build"]
        else:
            start_from = yield from self._start_from()
            dockerfile = df.build_dockerfile(
                start_from,
                self.config.build.script,
                self.build_args.public,
                workdir=self._needs_workdir(start_from),
            )
            stages.append(
                df.Stage(
                    "build",
                    dockerfile.with_labels(self._build_labels()),
                    image_tag(self.app, "build", mv),
                )
            )
            source = df.BUILD_STAGE
        if release.script:
            script = df.script_dockerfile(source, release.script, df.SCRIPT_STAGE)
            stages.append(
                df.Stage(
                    "release",
                    script.with_labels(self.labels("script_inter")),
                    image_tag(self.app, "script_inter", mv),
                )
            )
            source = df.SCRIPT_STAGE
        dockerfile = yield from self._release_dockerfile(source)
        release_tag = image_tag(self.app, "release", mv)
        stages.append(
            df.Stage("release", dockerfile.with_labels(self.labels("release")), release_tag)
        )

        def context(text: str) -> bytes:
            if stages[0].phase == "build":
                return self._app_archive(text)
            return archive_of({df.DOCKERFILE_NAME: text.encode()})

        results = yield from self.builder.build_stages(
            stages, context, buildargs=self.build_args.public, nocache=self.no_cache
        )
        for phase in ("build", "release"):
            mine = [r for r, s in zip(results, stages, strict=True) if s.phase == phase]
            tags = [s.tag for s in stages if s.phase == phase and s.tag]
            if mine:
                self.images[phase] = tags[-1]
                self.ids[phase] = mine[-1][0]
                if all(cached for _, cached in mine):
                    self.reused.append(phase)
        yield from self.meta()

    def _script_phase(
        self,
        phase: str,
        start_from: str,
        dockerfile: df.Dockerfile,
        lines: list[tuple[str, str]],
        tag: str,
        labels: dict[str, str],
        args: BuildArgs,
    ) -> Generator[Event, None, tuple[str, bool]]:
        if not args.secret:
            dockerfile = dockerfile.with_labels(labels)
            return (
                yield from self.builder.build(
                    phase,
                    dockerfile,
                    self._app_archive(dockerfile),
                    tag=tag,
                    buildargs=args.public,
                    nocache=self.no_cache,
                )
            )
        # Secret build args: the lines run in a container, outside the builder.
        yield Message(
            f"{phase}: secret build args ({', '.join(sorted(args.secret))}) are given to the "
            "script lines only; this phase is not layer-cached"
        )
        image_id = yield from self.builder.run_lines(
            phase,
            start_from,
            lines,
            env={**args.public, **args.secret},
            labels=labels,
            comment=f"lain {phase}: the sources and {len(lines)} script lines "
            "(secret build args withheld)",
            sources=self._sources_archive(),
        )
        self.builder.tag(image_id, tag)
        return image_id, False

    def release(self) -> Generator[Event, None, None]:
        """The release image: release.script on the build image, then dest_base plus copies."""
        if "build" not in self.ids:
            yield from self.build()
        release = self.config.release
        tag = image_tag(self.app, "release", self.meta_version)
        started = time.monotonic()
        yield PhaseStarted("release", tag)
        source = self.ids["build"]
        all_cached = True
        if release.script:
            dockerfile = df.script_dockerfile(source, release.script).with_labels(
                self.labels("script_inter")
            )
            source, all_cached = yield from self.builder.build(
                "release",
                dockerfile,
                archive_of({df.DOCKERFILE_NAME: dockerfile.text.encode()}),
                tag=image_tag(self.app, "script_inter", self.meta_version),
                nocache=self.no_cache,
            )
        dockerfile = yield from self._release_dockerfile(source)
        dockerfile = dockerfile.with_labels(self.labels("release"))
        image_id, cached = yield from self.builder.build(
            "release",
            dockerfile,
            archive_of({df.DOCKERFILE_NAME: dockerfile.text.encode()}),
            tag=tag,
            nocache=self.no_cache,
        )
        yield self._finished("release", tag, image_id, cached and all_cached, started)

    def _release_dockerfile(self, source: str) -> Generator[Event, None, df.Dockerfile]:
        """The release image on top of ``source`` (the build or script image): dest_base plus
        the copies, or ``source`` itself, relabelled, when there is no dest_base."""
        release = self.config.release
        if release.dest_base is None:
            return df.relabel_dockerfile(source)
        dest_base = release.dest_base
        dest_id = yield from self.builder.ensure_image(
            dest_base, "release", lambda: self._credentials(dest_base)
        )
        copies, sources = self._expand_copies(source, release.copy)
        return df.release_dockerfile(
            source, dest_id, copies, sources, workdir=self._needs_workdir(dest_id)
        )

    def _expand_copies(
        self, image: str, specs: Sequence[CopySpec]
    ) -> tuple[list[tuple[str, str]], list[str]]:
        """Turn ``release.copy`` into concrete ``(source, destination)`` pairs.

        Like v2's ``cp -r SRC DEST``: a destination ending in "/", or a glob matching several
        paths, receives each match under its own name; otherwise the match becomes DEST.
        Sources with ``$`` or glob characters are expanded inside the build image.
        """
        names = [f"copy {spec.src} -> {spec.dest}" for spec in specs]
        if not any("$" in s.src or _GLOB_CHARS & set(s.src) for s in specs):
            matches = [[spec.src] for spec in specs]
        else:
            argv = ["/bin/sh", "-c", _EXPAND_COPY, "lain-copy", *(_eval_safe(s.src) for s in specs)]
            code, out, err = self.builder.capture(image, argv, phase="release")
            if code != 0:
                missing = err.strip().splitlines()[-1:] or ["?"]
                failed = next(
                    (
                        n
                        for n, s in zip(names, specs, strict=True)
                        if _eval_safe(s.src) == missing[0]
                    ),
                    None,
                )
                raise BuildError(
                    "release",
                    f"copy source {missing[0]} matches nothing in the build image",
                    err.strip().splitlines()[-10:],
                    failed_line=failed,
                )
            matches = _split_groups(out.decode("utf-8", "surrogateescape"))
        copies: list[tuple[str, str]] = []
        sources: list[str] = []
        for spec, found, name in zip(specs, matches, names, strict=True):
            into = spec.dest.endswith("/") or len(found) > 1 or bool(_GLOB_CHARS & set(spec.src))
            for path in found:
                dest = f"{spec.dest.rstrip('/')}/{PurePosixPath(path).name}" if into else spec.dest
                copies.append((path, dest))
                sources.append(name)
        return copies, sources

    def meta(self) -> Generator[Event, None, None]:
        """The meta image: lain.yaml alone, at /lain.yaml, so a release carries its config."""
        tag = image_tag(self.app, "meta", self.meta_version)
        started = time.monotonic()
        yield PhaseStarted("meta", tag)
        # Imported, not built: the same image (one layer holding /lain.yaml, FROM scratch, the
        # labels) without the builder's FROM, COPY and LABEL steps and their containers.
        image_id, cached = self.builder.import_image(
            "meta",
            df.meta_archive(self.config.source.encode()),
            tag=tag,
            labels=self.labels("meta"),
            reuse=not self.no_cache,
        )
        yield self._finished("meta", tag, image_id, cached, started)

    def test(self) -> Generator[Event, None, list[str]]:
        """test.script on the build image, never from the cache; returns its output."""
        script = self.config.test.script
        if not script:
            yield Message("lain.yaml has no test.script: nothing to test")
            return []
        if "build" not in self.ids:
            yield from self.build()
        tag = image_tag(self.app, "test", self.meta_version)
        started = time.monotonic()
        yield PhaseStarted("test", tag)
        dockerfile = df.script_dockerfile(self.ids["build"], script).with_labels(
            self.labels("test")
        )
        log: list[str] = []
        steps = self.builder.build(
            "test",
            dockerfile,
            archive_of({df.DOCKERFILE_NAME: dockerfile.text.encode()}),
            tag=tag,
            nocache=True,  # a test that passed once must run again, as in v2
            error_type=TestFailed,
        )
        while True:
            try:
                event = next(steps)
            except StopIteration as stop:
                image_id, _ = stop.value
                break
            if isinstance(event, PhaseLog):
                log.append(event.line)
            yield event
        yield self._finished("test", tag, image_id, False, started)
        return log

    def push(self, include_prepare: bool) -> Generator[Event, None, tuple[PushedImage, ...]]:
        if not self.registry:
            raise RegistryError("no registry given to push to")
        items: list[tuple[str, str, str]] = []
        if include_prepare and "prepare" in self.images:
            remote = image_tag(self.app, "prepare", self.prepare_key or "", self.registry)
            if self.fresh_prepare or not self._registry_has(f"prepare-{self.prepare_key}"):
                items.append(("prepare", self.ids["prepare"], remote))
        for phase in ("release", "meta"):
            items.append(
                (
                    phase,
                    self.ids[phase],
                    image_tag(self.app, phase, self.meta_version, self.registry),
                )
            )
        return (
            yield from push_images(
                self.builder.client,
                items,
                registry=self.registry,
                # Looked up only if the registry refuses the push without them.
                credentials=self.credentials
                if self.credentials is not None
                else (lambda: self._credentials(self.registry or "")),
                timeout=self._timeout,
            )
        )

    def _registry_has(self, tag: str) -> bool:
        from lain_sdk.registry import RegistryClient

        assert self.registry is not None
        try:
            with RegistryClient.from_env(self.registry, environ=self.environ) as registry:
                return registry.has_tag(self.app, tag)
        except LainError:
            return False  # push it: the push itself will say what is wrong with the registry

    def _credentials(self, reference: str) -> Credentials | None:
        """Credentials for the registry an image ``reference`` (or a registry) lives on."""
        host = reference if reference == self.registry else registry_host(reference)
        if self.credentials is not None and host and host == self.registry:
            return self.credentials
        return credentials_for(host, self.environ)


def _eval_safe(src: str) -> str:
    # The expansion script evaluates sources holding "$" inside double quotes: escape what
    # double quotes would otherwise interpret, so only variables are expanded.
    if "$" not in src:
        return src
    return src.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`")


def _split_groups(output: str) -> list[list[str]]:
    groups: list[list[str]] = [[]]
    for record in output.split("\0")[:-1]:
        if record:
            groups[-1].append(record)
        else:
            groups.append([])
    return groups[:-1]


# -- public API --------------------------------------------------------------------------------


def build_app(
    app_dir: str | os.PathLike[str] = ".",
    *,
    registry: str | None = None,
    allow_dirty: bool = False,
    no_cache: bool = False,
    push: bool = False,
    docker_client: docker.DockerClient | None = None,
    environ: Mapping[str, str] | None = None,
    credentials: Credentials | None = None,
    timeout: float = PHASE_TIMEOUT,
) -> Events:
    """Build the prepare, build, release and meta images of the app in ``app_dir``.

    A generator: it yields progress events (:mod:`lain_sdk.events`) and returns a
    :class:`BuildResult`.

    Args:
        app_dir: the directory holding lain.yaml (inside a git checkout).
        registry: ``HOST[:PORT]`` of the registry; a prepare image it holds is pulled rather
            than rebuilt, and ``push`` pushes there.
        allow_dirty: build a tree with uncommitted changes, under a ``-dirty-`` meta version.
        no_cache: use no cached layers and no existing prepare image.
        push: push the release and meta images (and a prepare image the registry lacks).
        docker_client: the engine to use (default: :func:`lain_sdk.engine.connect`).
        environ: where ``$VAR`` build arg values and credentials come from (``os.environ``).
        credentials: for ``registry`` (default: looked up in the credential store).
        timeout: seconds each phase may take.

    Raises:
        AppConfigError: lain.yaml is invalid.
        GitError: not a git checkout, no commit, or a dirty tree without ``allow_dirty``.
        BuildError: a phase failed (phase, failing script line, last lines of the log).
        RegistryError: the push failed.
        EngineError: the engine did not answer.
    """
    pipeline = _Pipeline(
        app_dir,
        docker_client=docker_client,
        environ=environ,
        registry=registry,
        credentials=credentials,
        no_cache=no_cache,
        timeout=timeout,
    )
    pipeline.git.require_clean(allow_dirty)
    if push and not registry:
        raise RegistryError("no registry given to push to")
    yield from pipeline.prepare()
    yield from pipeline.build_release_meta()
    pushed: tuple[PushedImage, ...] = ()
    if push:
        pushed = yield from pipeline.push(include_prepare=True)
    return pipeline.result(pushed)


def prepare_app(
    app_dir: str | os.PathLike[str] = ".",
    *,
    registry: str | None = None,
    no_cache: bool = False,
    docker_client: docker.DockerClient | None = None,
    environ: Mapping[str, str] | None = None,
    credentials: Credentials | None = None,
    timeout: float = PHASE_TIMEOUT,
) -> Events:
    """Make sure the prepare image of the app exists: reuse it, pull it, or build it.

    A dirty tree is fine here: the prepare image holds no sources (only ``prepare.keep``) and
    is named after its inputs, not after a commit.  Same arguments as :func:`build_app`.
    """
    pipeline = _Pipeline(
        app_dir,
        docker_client=docker_client,
        environ=environ,
        registry=registry,
        credentials=credentials,
        no_cache=no_cache,
        timeout=timeout,
    )
    if pipeline.config.build.prepare is None:
        yield Message("lain.yaml has no build.prepare: nothing to prepare")
        return pipeline.result()
    yield from pipeline.prepare()
    return pipeline.result()


def test_app(
    app_dir: str | os.PathLike[str] = ".",
    *,
    registry: str | None = None,
    allow_dirty: bool = False,
    no_cache: bool = False,
    docker_client: docker.DockerClient | None = None,
    environ: Mapping[str, str] | None = None,
    credentials: Credentials | None = None,
    timeout: float = PHASE_TIMEOUT,
) -> Events:
    """Build (or reuse) the build image and run test.script on it, never from the cache.

    Returns a :class:`BuildResult` whose ``test_log`` holds the test output.  Same arguments as
    :func:`build_app`.

    Raises:
        TestFailed: a test line failed (``failed_line`` and ``log`` say which and how).
    """
    pipeline = _Pipeline(
        app_dir,
        docker_client=docker_client,
        environ=environ,
        registry=registry,
        credentials=credentials,
        no_cache=no_cache,
        timeout=timeout,
    )
    pipeline.git.require_clean(allow_dirty)
    yield from pipeline.prepare()
    yield from pipeline.build()
    log = yield from pipeline.test()
    return pipeline.result(test_log=log)


test_app.__test__ = False  # type: ignore[attr-defined]  # not a pytest test
