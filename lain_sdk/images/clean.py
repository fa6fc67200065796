"""Removing an app's old local images."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lain_sdk.errors import EngineError
from lain_sdk.images.naming import LABEL_APP, LABEL_PREPARE_KEY, parse_tag, version_sort_key

if TYPE_CHECKING:
    import docker

_UNTAGGED_ROUNDS = 5


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
    docker_client: docker.DockerClient | None = None,
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
        docker_client: the engine (default: :func:`lain_sdk.engine.connect`).

    Raises:
        ValueError: ``keep`` is negative.
        EngineError: the engine did not answer.
    """
    from docker.errors import APIError

    if keep < 0:
        raise ValueError("keep must be 0 or more")
    if app is None:
        # The images were built from a validated lain.yaml: the name is all that is needed.
        from lain_sdk.appconfig.appname import read_appname

        app = read_appname(app_dir)
    if docker_client is None:
        from lain_sdk.engine import connect

        docker_client = connect()
    api = docker_client.api
    try:
        images = {i["Id"]: i for i in api.images(filters={"label": f"{LABEL_APP}={app}"})}
        # Images v2 (or anything else) made without labels still carry the app's tags.  Only
        # new ones: this listing shows just the tags matching the name, not all of an image's.
        for image in api.images(name=app):
            images.setdefault(image["Id"], image)
        used = {c.get("ImageID") for c in api.containers(all=True)}
    except APIError as e:
        raise EngineError(f"the engine could not list images: {e.explanation}") from e

    # reference -> (image id, phase, version); only tags of this app in lain's grammar count.
    tags: dict[str, tuple[str, str, str]] = {}
    for image_id, image in images.items():
        for reference in image.get("RepoTags") or []:
            parsed = parse_tag(reference)
            if parsed is not None and parsed.app == app:
                tags[reference] = (image_id, parsed.phase, parsed.version)

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

    removed: list[str] = []
    in_use: list[str] = []
    failed: list[tuple[str, str]] = []
    for reference, (image_id, phase, version) in sorted(tags.items()):
        if (phase == "prepare" and version in kept_keys) or (
            phase != "prepare" and version in kept_versions
        ):
            continue
        if image_id in used:
            in_use.append(reference)
            continue
        try:
            api.remove_image(reference)
        except APIError as e:
            failed.append((reference, str(e.explanation or e)))
        else:
            removed.append(reference)

    # Rebuilding a version moves its tags to the new images; the old ones stay, untagged.
    # Removing one can leave its parent untagged and childless in turn, hence the rounds.
    untagged: list[str] = []
    for _ in range(_UNTAGGED_ROUNDS):
        try:
            dangling = api.images(filters={"label": f"{LABEL_APP}={app}", "dangling": True})
        except APIError as e:
            raise EngineError(f"the engine could not list images: {e.explanation}") from e
        progress = False
        for image in dangling:
            if image["Id"] in used or image["Id"] in untagged:
                continue
            try:
                api.remove_image(image["Id"])
            except APIError:
                continue  # still a parent of another image, or in use since: not garbage yet
            untagged.append(image["Id"])
            progress = True
        if not progress:
            break
    return CleanResult(
        app, tuple(removed), tuple(kept_versions), tuple(in_use), tuple(failed), tuple(untagged)
    )
