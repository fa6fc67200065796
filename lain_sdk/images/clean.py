"""Removing an app's old local images."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import lain_sdk.arguments as arguments
from lain_sdk.appconfig.appname import read_appname
from lain_sdk.engine import EngineClient, connected
from lain_sdk.errors import EngineError
from lain_sdk.images.naming import LABEL_APP, LABEL_PREPARE_KEY, parse_tag, version_sort_key
from lain_sdk.protocols import EngineAPI

_UNTAGGED_ROUNDS = 5
# An image as the engine lists it (``GET /images/json``): Id, RepoTags, Labels, Created ...
Image = Mapping[str, Any]


@dataclass(frozen=True)
class CleanResult:
    """What ``clean_app`` did.

    Attributes:
        app: the app name.
        removed: image references (tags) removed.
        kept_versions: the meta versions kept, newest first.
        in_use: references kept because a container uses the image.
        failed: ``(reference, reason)`` for removals the engine refused.
        untagged: ids of the app's untagged images removed (left behind when a rebuild moved
            a tag to a new image).
    """

    app: str
    removed: tuple[str, ...]
    kept_versions: tuple[str, ...]
    in_use: tuple[str, ...] = ()
    failed: tuple[tuple[str, str], ...] = ()
    untagged: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "removed": list(self.removed),
            "kept_versions": list(self.kept_versions),
            "in_use": list(self.in_use),
            "failed": [{"reference": r, "reason": why} for r, why in self.failed],
            "untagged": list(self.untagged),
        }


def clean_app(
    app_dir: str | os.PathLike[str] = ".",
    *,
    keep: int = 2,
    app: str | None = None,
    engine: EngineClient | None = None,
) -> CleanResult:
    """Remove the app's local images except those of its newest ``keep`` meta versions.

    Every phase counts, with and without a registry prefix.  Prepare images stay when a kept
    build was made from them, and the newest prepare image always stays (the next build reuses
    it).  An image any container uses (running or stopped) is never removed.  Tags are removed,
    not image ids, so an image that another app's tag also names survives.

    Args:
        app_dir: the directory holding lain.yaml (read for the app name).
        keep: how many meta versions to keep, newest commit first.
        app: the app name, when lain.yaml should not be read.
        engine: the Docker engine, a ``docker.DockerClient`` (default: the local one, see
            :func:`lain_sdk.engine.connect`).

    Raises:
        InvalidArgument: an argument of the wrong kind, or ``keep`` is negative.
        EngineError: the engine did not answer.
    """
    app_dir = arguments.path(app_dir, "app_dir")
    keep = arguments.whole(keep, "keep")
    app = None if app is None else arguments.app_name(app)
    engine = arguments.engine_client(engine)
    # The images were built from a validated lain.yaml: the name is all that is needed.
    app = app if app is not None else read_appname(app_dir)
    api = connected(engine).api
    with _listing_errors():
        images = _app_images(api, app)
        used = {c.get("ImageID") for c in api.containers(all=True)}
    tags = _app_tags(app, images)
    kept_versions, kept_keys = _kept(images, tags, keep)
    removed: list[str] = []
    in_use: list[str] = []
    failed: list[tuple[str, str]] = []
    for reference, (image_id, phase, version) in sorted(tags.items()):
        kept = kept_keys if phase == "prepare" else kept_versions
        if version in kept:
            continue
        if image_id in used:
            in_use.append(reference)
            continue
        problem = _remove(api, reference)
        if problem is None:
            removed.append(reference)
        else:
            failed.append((reference, problem))
    untagged = _remove_untagged(api, app, used)
    return CleanResult(
        app, tuple(removed), tuple(kept_versions), tuple(in_use), tuple(failed), tuple(untagged)
    )


@contextmanager
def _listing_errors() -> Iterator[None]:
    from docker.errors import APIError

    try:
        yield
    except APIError as e:
        raise EngineError(f"the engine could not list images: {e.explanation}") from e


def _app_images(api: EngineAPI, app: str) -> dict[str, Image]:
    """The app's local images by id: those labelled as the app's, and those tagged with its
    name."""
    images = {i["Id"]: i for i in api.images(filters={"label": f"{LABEL_APP}={app}"})}
    # Images v2 (or anything else) made without labels still carry the app's tags.  Only new
    # ones: this listing shows just the tags matching the name, not all of an image's.
    for image in api.images(name=app):
        images.setdefault(image["Id"], image)
    return images


def _app_tags(app: str, images: Mapping[str, Image]) -> dict[str, tuple[str, str, str]]:
    """reference -> (image id, phase, version); only tags of this app in lain's grammar count."""
    tags: dict[str, tuple[str, str, str]] = {}
    for image_id, image in images.items():
        for reference in image.get("RepoTags") or []:
            parsed = parse_tag(reference)
            if parsed is not None and parsed.app == app:
                tags[reference] = (image_id, parsed.phase, parsed.version)
    return tags


def _kept(
    images: Mapping[str, Image], tags: Mapping[str, tuple[str, str, str]], keep: int
) -> tuple[list[str], set[str]]:
    """The newest ``keep`` versions, and the prepare keys to keep: those the kept builds were
    made from, and the newest prepare image's."""
    versions = sorted(
        {version for _, phase, version in tags.values() if phase != "prepare"},
        key=version_sort_key,
        reverse=True,
    )
    kept_versions = versions[:keep]
    kept_keys = {
        (images[image_id].get("Labels") or {}).get(LABEL_PREPARE_KEY)
        for image_id, phase, version in tags.values()
        if phase != "prepare" and version in kept_versions
    }
    prepares = [(images[i].get("Created", 0), v) for i, p, v in tags.values() if p == "prepare"]
    if prepares:
        kept_keys.add(max(prepares)[1])
    return kept_versions, {key for key in kept_keys if isinstance(key, str)}


def _remove(api: EngineAPI, reference: str) -> str | None:
    """Remove a tag; None when done, else why the engine refused."""
    from docker.errors import APIError

    try:
        api.remove_image(reference)
    except APIError as e:
        return str(e.explanation or e)
    return None


def _remove_untagged(api: EngineAPI, app: str, used: set[object]) -> list[str]:
    """Remove the app's untagged images no container uses; their ids.

    Rebuilding a version moves its tags to the new images; the old ones stay, untagged.
    Removing one can leave its parent untagged and childless in turn, hence the rounds.
    """
    untagged: list[str] = []
    for _ in range(_UNTAGGED_ROUNDS):
        with _listing_errors():
            dangling = api.images(filters={"label": f"{LABEL_APP}={app}", "dangling": True})
        progress = False
        for image in dangling:
            if image["Id"] in used or image["Id"] in untagged:
                continue
            if _remove(api, image["Id"]) is not None:
                continue  # still a parent of another image, or in use since: not garbage yet
            untagged.append(image["Id"])
            progress = True
        if not progress:
            break
    return untagged
