"""The phases of an app's images, run on one engine: prepare, build, release, meta, test, push.

:class:`Pipeline` holds one run: the app's config and git state, the engine, and what each
phase made.  The public functions that drive it are in :mod:`lain_sdk.images.pipeline`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Generator, Mapping
from dataclasses import dataclass

from lain_sdk.appconfig.loader import load_app_config
from lain_sdk.appconfig.model import AppConfig
from lain_sdk.credentials import Credentials, normalize_registry
from lain_sdk.engine import EngineClient, connected
from lain_sdk.errors import BuildError, LainError, RegistryError, TestFailed
from lain_sdk.events import Event, Message, PhaseFinished, PhaseLog, PhaseStarted
from lain_sdk.git import GitInfo
from lain_sdk.images import dockerfiles as df
from lain_sdk.images.buildargs import BuildArgs, masker, resolve_build_args
from lain_sdk.images.builder import Builder
from lain_sdk.images.context import BuildContext, archive_of
from lain_sdk.images.copies import expand_copies, needs_expansion
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
from lain_sdk.registry import RegistryClient


@dataclass(frozen=True)
class BuildOptions:
    """What a caller asked of a build, checked (see :func:`lain_sdk.images.pipeline.build_app`
    for each)."""

    app_dir: str | os.PathLike[str]
    registry: str | None
    no_cache: bool
    engine: EngineClient | None
    environ: Mapping[str, str] | None
    credentials: Credentials | None
    timeout: float


class Pipeline:
    """One run of the phases over one app: its config, git state, engine and results."""

    def __init__(self, options: BuildOptions) -> None:
        # git runs while lain.yaml is read and checked; a lain.yaml problem is still the one
        # reported first.
        pending = GitInfo.start(options.app_dir, context_files=True)
        try:
            self.config: AppConfig = load_app_config(options.app_dir)
        except BaseException:
            pending.cancel()
            raise
        self.git: GitInfo = pending.result()
        self.app = self.config.appname
        environ = options.environ
        self.environ: Mapping[str, str] = os.environ if environ is None else environ
        # One spelling of the registry, so that the tags made and the ones looked for agree.
        self.registry = normalize_registry(options.registry) if options.registry else None
        self.credentials = options.credentials
        self.no_cache = options.no_cache
        # Resolved up front, so a missing $VAR is reported before any engine work.
        prepare = self.config.build.prepare
        self.prepare_args = resolve_build_args(
            prepare.build_arg if prepare else (), self.environ, phase="prepare"
        )
        self.build_args = resolve_build_args(
            self.config.build.build_arg, self.environ, phase="build"
        )
        # Applied to every log line and error text of every phase.
        self._mask = masker([*self.prepare_args.secret.values(), *self.build_args.secret.values()])
        self._engine = options.engine
        self._timeout = options.timeout
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
            engine = connected(self._engine)
            self._builder = Builder(engine, timeout=self._timeout, mask=self._mask)
        return self._builder

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
        if release.dest_base is not None and needs_expansion(release.copy):
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
        copies, sources = expand_copies(self.builder, source, release.copy)
        return df.release_dockerfile(
            source, dest_id, copies, sources, workdir=self._needs_workdir(dest_id)
        )

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
