"""The image pipeline of an app: prepare, build, release, test and meta, on one engine.

The public functions check their arguments when called and return a generator: iterate it for
progress events, and take its return value (``lain_sdk.drain`` does both)::

    import lain_sdk

    result = lain_sdk.drain(lain_sdk.build_app("examples/hello"), on_event=print)
    print(result.images["release"])

The phases themselves are in :mod:`lain_sdk.images.phases`.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import lain_sdk.arguments as arguments
from lain_sdk.credentials import Credentials
from lain_sdk.engine import EngineClient
from lain_sdk.errors import RegistryError
from lain_sdk.events import Event, Message
from lain_sdk.images.builder import PHASE_TIMEOUT
from lain_sdk.images.phases import BuildOptions, Pipeline
from lain_sdk.images.push import PushedImage

Events = Generator[Event, None, "BuildResult"]


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


def _result(
    pipeline: Pipeline, pushed: Sequence[PushedImage] = (), test_log: Sequence[str] = ()
) -> BuildResult:
    return BuildResult(
        app=pipeline.app,
        meta_version=pipeline.meta_version,
        images=MappingProxyType(dict(pipeline.images)),
        image_ids=MappingProxyType(dict(pipeline.ids)),
        context_bytes=pipeline.context_bytes,
        reused=tuple(pipeline.reused),
        pushed=tuple(pushed),
        test_log=tuple(test_log),
    )


def _options(
    app_dir: object,
    registry: object,
    no_cache: object,
    engine: object,
    environ: object,
    credentials: object,
    timeout: object,
) -> BuildOptions:
    """The arguments every public function here takes, checked."""
    return BuildOptions(
        app_dir=arguments.path(app_dir, "app_dir"),
        registry=arguments.optional_text(registry, "registry"),
        no_cache=arguments.flag(no_cache, "no_cache"),
        engine=arguments.engine_client(engine),
        environ=arguments.environ(environ),
        credentials=arguments.optional_instance(credentials, Credentials, "credentials"),
        timeout=arguments.seconds(timeout),
    )


# -- public API --------------------------------------------------------------------------------


def build_app(
    app_dir: str | os.PathLike[str] = ".",
    *,
    registry: str | None = None,
    allow_dirty: bool = False,
    no_cache: bool = False,
    push: bool = False,
    engine: EngineClient | None = None,
    environ: Mapping[str, str] | None = None,
    credentials: Credentials | None = None,
    timeout: float = PHASE_TIMEOUT,
) -> Events:
    """Build the prepare, build, release and meta images of the app in ``app_dir``.

    Returns a generator: it yields progress events (:mod:`lain_sdk.events`) and returns a
    :class:`BuildResult`.

    Args:
        app_dir: the directory holding lain.yaml (inside a git checkout).
        registry: ``HOST[:PORT]`` of the registry; a prepare image it holds is pulled rather
            than rebuilt, and ``push`` pushes there.
        allow_dirty: build a tree with uncommitted changes, under a ``-dirty-`` meta version.
        no_cache: use no cached layers and no existing prepare image.
        push: push the release and meta images (and a prepare image the registry lacks).
        engine: the Docker engine to use, a ``docker.DockerClient`` (default: the local one,
            see :func:`lain_sdk.engine.connect`).
        environ: where ``$VAR`` build arg values and credentials come from (``os.environ``).
        credentials: for ``registry`` (default: looked up in the credential store).
        timeout: seconds each phase may take.

    Raises:
        InvalidArgument: an argument of the wrong kind (raised by the call itself).
        AppConfigError: lain.yaml is invalid.
        GitError: not a git checkout, no commit, or a dirty tree without ``allow_dirty``.
        BuildError: a phase failed (phase, failing script line, last lines of the log).
        RegistryError: the push failed.
        EngineError: the engine did not answer.
    """
    options = _options(app_dir, registry, no_cache, engine, environ, credentials, timeout)
    allow_dirty = arguments.flag(allow_dirty, "allow_dirty")
    push = arguments.flag(push, "push")
    return _build(options, allow_dirty=allow_dirty, push=push)


def _build(options: BuildOptions, *, allow_dirty: bool, push: bool) -> Events:
    pipeline = Pipeline(options)
    pipeline.git.require_clean(allow_dirty)
    if push and not options.registry:
        raise RegistryError("no registry given to push to")
    yield from pipeline.prepare()
    yield from pipeline.build_release_meta()
    pushed: tuple[PushedImage, ...] = ()
    if push:
        pushed = yield from pipeline.push(include_prepare=True)
    return _result(pipeline, pushed)


def prepare_app(
    app_dir: str | os.PathLike[str] = ".",
    *,
    registry: str | None = None,
    no_cache: bool = False,
    engine: EngineClient | None = None,
    environ: Mapping[str, str] | None = None,
    credentials: Credentials | None = None,
    timeout: float = PHASE_TIMEOUT,
) -> Events:
    """Make sure the prepare image of the app exists: reuse it, pull it, or build it.

    A dirty tree is fine here: the prepare image holds no sources (only ``prepare.keep``) and
    is named after its inputs, not after a commit.  Same arguments as :func:`build_app`.
    """
    options = _options(app_dir, registry, no_cache, engine, environ, credentials, timeout)
    return _prepare(options)


def _prepare(options: BuildOptions) -> Events:
    pipeline = Pipeline(options)
    if pipeline.config.build.prepare is None:
        yield Message("lain.yaml has no build.prepare: nothing to prepare")
        return _result(pipeline)
    yield from pipeline.prepare()
    return _result(pipeline)


def test_app(
    app_dir: str | os.PathLike[str] = ".",
    *,
    registry: str | None = None,
    allow_dirty: bool = False,
    no_cache: bool = False,
    engine: EngineClient | None = None,
    environ: Mapping[str, str] | None = None,
    credentials: Credentials | None = None,
    timeout: float = PHASE_TIMEOUT,
) -> Events:
    """Build (or reuse) the build image and run test.script on it, never from the cache.

    Returns a generator whose result is a :class:`BuildResult`; its ``test_log`` holds the test
    output.  Same arguments as :func:`build_app`.

    Raises:
        TestFailed: a test line failed (``failed_line`` and ``log`` say which and how).
    """
    options = _options(app_dir, registry, no_cache, engine, environ, credentials, timeout)
    return _test(options, allow_dirty=arguments.flag(allow_dirty, "allow_dirty"))


def _test(options: BuildOptions, *, allow_dirty: bool) -> Events:
    pipeline = Pipeline(options)
    pipeline.git.require_clean(allow_dirty)
    yield from pipeline.prepare()
    yield from pipeline.build()
    log = yield from pipeline.test()
    return _result(pipeline, test_log=log)


test_app.__test__ = False  # type: ignore[attr-defined]  # not a pytest test
