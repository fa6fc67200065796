"""Images: an app's prepare, build, release, test and meta images, built, pushed and cleaned.

    naming          tags (v2's grammar), labels, the prepare key          pure
    buildargs       build_arg values from the environment; secret names   pure
    dockerfiles     the Dockerfile text of each phase                      pure
    context         the in-memory build context (git files, .dockerignore)
    streams         the engine's streamed answers read: lines, exec output, dropped links
    build_progress  the classic builder's progress stream: steps, cache hits, stage images
    builder         Builder: runs builds and script lines on one engine, as events
    copies          release.copy sources expanded in the build image
    phases          Pipeline: the phases of one app's images on one engine
    pipeline        build_app, prepare_app, test_app -> BuildResult
    push            push_app, push_images -> PushResult
    clean           clean_app -> CleanResult

Names are resolved lazily, so importing a pure module does not load the docker SDK.
"""

from __future__ import annotations

from lain_sdk._lazy import lazy_exports

_EXPORTS = {
    "BuildArgs": "lain_sdk.images.buildargs",
    "BuildContext": "lain_sdk.images.context",
    "BuildResult": "lain_sdk.images.pipeline",
    "Builder": "lain_sdk.images.builder",
    "CleanResult": "lain_sdk.images.clean",
    "PushResult": "lain_sdk.images.push",
    "PushedImage": "lain_sdk.images.push",
    "build_app": "lain_sdk.images.pipeline",
    "clean_app": "lain_sdk.images.clean",
    "image_tag": "lain_sdk.images.naming",
    "is_secret_name": "lain_sdk.images.buildargs",
    "parse_tag": "lain_sdk.images.naming",
    "prepare_app": "lain_sdk.images.pipeline",
    "prepare_key": "lain_sdk.images.naming",
    "push_app": "lain_sdk.images.push",
    "push_images": "lain_sdk.images.push",
    "resolve_build_args": "lain_sdk.images.buildargs",
    "test_app": "lain_sdk.images.pipeline",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
