"""Sample apps in throwaway git repositories, and cleaning up the images built from them."""

from __future__ import annotations

import contextlib
import os
import subprocess
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lain_sdk.engine import LOCAL_BASE_IMAGE

FIRST_COMMIT_TIME = 1700000000


def unique_app_name(prefix: str = "lt") -> str:
    """An app name no other test (or earlier run) uses, valid as a Docker repository name."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@dataclass
class SampleApp:
    """An app in a git repository of its own (or in a subfolder of one).

    ``commit()`` uses increasing fixed commit times, so versions sort in commit order.
    """

    name: str
    root: Path  # the repository
    path: Path  # the app's directory (holding lain.yaml)
    commit_time: int = FIRST_COMMIT_TIME
    images: list[str] = field(default_factory=list)

    def write(self, relative: str, content: str | bytes, mode: int | None = None) -> Path:
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)
        if mode is not None:
            target.chmod(mode)
        return target

    def git(self, *args: str) -> str:
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": "Test",
            "GIT_AUTHOR_EMAIL": "test@example.com",
            "GIT_COMMITTER_NAME": "Test",
            "GIT_COMMITTER_EMAIL": "test@example.com",
            "GIT_AUTHOR_DATE": f"{self.commit_time} +0000",
            "GIT_COMMITTER_DATE": f"{self.commit_time} +0000",
        }
        done = subprocess.run(
            ["git", "-c", "commit.gpgsign=false", *args],
            cwd=self.root,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        return done.stdout.strip()

    def commit(self, message: str = "change") -> str:
        """Commit everything (one second after the previous commit); return the meta version."""
        self.commit_time += 1
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.meta_version

    @property
    def meta_version(self) -> str:
        return f"{self.commit_time}-{self.git('rev-parse', 'HEAD')}"


def make_app(
    tmp_path: Path,
    lain_yaml: str,
    files: Mapping[str, str | bytes | tuple[str | bytes, int]] | None = None,
    *,
    name: str | None = None,
    subfolder: str | None = None,
    commit: bool = True,
) -> SampleApp:
    """A sample app repository under ``tmp_path``.

    Args:
        lain_yaml: the lain.yaml text; ``{name}`` and ``{base}`` are filled in.
        files: more files (relative path -> content, or (content, mode)).
        name: the app name (default: a unique one).
        subfolder: put the app in this subfolder of the repository (a monorepo).
        commit: make the first commit.
    """
    name = name or unique_app_name()
    root = tmp_path / f"repo-{name}"
    path = root / subfolder if subfolder else root
    path.mkdir(parents=True)
    app = SampleApp(name, root, path)
    app.git("init", "-q")
    app.write("lain.yaml", lain_yaml.replace("{name}", name).replace("{base}", LOCAL_BASE_IMAGE))
    for relative, content in (files or {}).items():
        if isinstance(content, tuple):
            app.write(relative, content[0], content[1])
        else:
            app.write(relative, content)
    if commit:
        app.commit("first")
    return app


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
