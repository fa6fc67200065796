"""Cleaning up the images built from sample apps; the sample apps themselves are shared with
the fast tests (fakes.repos)."""

from __future__ import annotations

import contextlib
from typing import Any

from fakes.repos import FIRST_COMMIT_TIME, SampleApp, make_app, unique_app_name

__all__ = ["FIRST_COMMIT_TIME", "SampleApp", "make_app", "remove_app_images", "unique_app_name"]


def remove_app_images(client: Any, app: str) -> None:
    """Remove every image of ``app`` (all phases, with or without a registry prefix), and the
    containers left on them."""
    from docker.errors import APIError

    api = client.api
    found = {i["Id"]: i for i in api.images(filters={"label": f"lain.app={app}"})}
    for image in api.images(name=app):
        found.setdefault(image["Id"], image)
    for container in api.containers(all=True):
        if container.get("ImageID") in found:
            with contextlib.suppress(APIError):
                api.remove_container(container["Id"], force=True)
    # Children first (newest first): a parent image cannot go while a child needs it.
    for image in sorted(found.values(), key=lambda i: i.get("Created", 0), reverse=True):
        tags = [t for t in image.get("RepoTags") or [] if t != "<none>:<none>"]
        for reference in tags or [image["Id"]]:
            with contextlib.suppress(APIError):
                api.remove_image(reference, force=True)
