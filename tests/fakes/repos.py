"""Sample apps in throwaway git repositories (real git, fixed commit times), for the fast tests
and the integration tests alike."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from fakes.engine import BASE_IMAGE

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

    @property
    def lain_yaml(self) -> str:
        return (self.path / "lain.yaml").read_text()

    def edit(self, old: str, new: str) -> None:
        """Replace ``old`` (which must be there) by ``new`` in lain.yaml."""
        assert old in self.lain_yaml, old
        self.write("lain.yaml", self.lain_yaml.replace(old, new))


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
    app.write("lain.yaml", lain_yaml.replace("{name}", name).replace("{base}", BASE_IMAGE))
    for relative, content in (files or {}).items():
        if isinstance(content, tuple):
            app.write(relative, content[0], content[1])
        else:
            app.write(relative, content)
    if commit:
        app.commit("first")
    return app


# Sample lain.yaml texts ({name} and {base} are filled in by make_app).
SIMPLE = """\
appname: {name}
build:
  base: {base}
  script:
    - echo built > built.txt
"""

# The same, with a release image holding only what the build made.
SIMPLE_WITH_RELEASE = (
    SIMPLE
    + """\
release:
  dest_base: {base}
  copy:
    - built.txt
"""
)

# A prepare phase whose output the build reads.
WITH_PREPARE = """\
appname: {name}
build:
  base: {base}
  prepare:
    script:
      - echo deps > /deps.txt
  script:
    - cat /deps.txt > built.txt
"""
