"""The build context, made in memory from what git would commit.

The files are the ones git knows about (tracked, plus untracked files git does not ignore),
filtered by the app's ``.dockerignore`` when it has one, and never anything inside ``.git``.
They are packed into a tar archive in memory, under ``app/``, with the generated Dockerfile
beside that folder; nothing is written into the user's repository (v2 wrote a Dockerfile and a
``.dockerignore`` into it, and reused ``.gitignore`` as ``.dockerignore`` behind the user's back).
"""

from __future__ import annotations

import io
import os
import stat
import tarfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from lain_sdk.errors import BuildError
from lain_sdk.git import GitInfo
from lain_sdk.images.dockerfiles import CONTEXT_APP_DIR, DOCKERFILE_NAME

DOCKERIGNORE = ".dockerignore"


def read_dockerignore(app_dir: str | os.PathLike[str]) -> list[str]:
    """The patterns of ``app_dir/.dockerignore`` (none when the file is absent).

    Read the way the docker CLI reads it: one pattern per line, blank lines and ``#`` comments
    skipped.
    """
    path = Path(app_dir) / DOCKERIGNORE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as e:
        raise BuildError("build", f"cannot read {path}: {e}") from e
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def filter_files(files: Iterable[str], patterns: list[str]) -> list[str]:
    """Keep the ``files`` (relative POSIX paths) that the ``.dockerignore`` ``patterns`` keep.

    Uses the docker SDK's own matcher (the one ``docker build`` semantics are ported to), so
    ``**``, ``!exceptions`` and directory patterns behave as with the docker CLI.  Anything in a
    ``.git`` directory (or a submodule's ``.git`` file) is dropped whatever the patterns say.
    """
    matcher = None
    if patterns:
        from docker.utils.build import PatternMatcher

        matcher = PatternMatcher(patterns)
    kept = []
    for name in files:
        path = PurePosixPath(name)
        if ".git" in path.parts or name in ("", "."):
            continue
        if matcher is not None and matcher.matches(str(path)):
            continue
        kept.append(str(path))
    return sorted(set(kept))


@dataclass(frozen=True)
class BuildContext:
    """The app's files as the builder sees them.

    Attributes:
        root: the app directory (the one holding lain.yaml).
        files: the files sent, relative POSIX paths under ``root``, sorted.
    """

    root: Path
    files: tuple[str, ...]

    @classmethod
    def from_git(cls, git: GitInfo) -> BuildContext:
        """The context of the app ``git`` describes: its git-visible files, filtered by
        ``.dockerignore``."""
        return cls.from_files(git.app_dir, git.context_files())

    @classmethod
    def from_files(cls, root: str | os.PathLike[str], files: Iterable[str]) -> BuildContext:
        """The context made of ``files`` (relative to ``root``), filtered by ``.dockerignore``."""
        root = Path(root)
        names = [str(name).replace(os.sep, "/") for name in files]
        return cls(root, tuple(filter_files(_expand_dirs(root, names), read_dockerignore(root))))

    def archive(self, dockerfile: str, extra: Mapping[str, bytes] | None = None) -> bytes:
        """Return the tar archive to send to the builder.

        Args:
            dockerfile: the Dockerfile text, stored as ``lain.Dockerfile`` beside ``app/``.
            extra: more files to put at the top of the archive (name -> content).

        Ownership is normalised to root (``COPY`` makes files root-owned anyway, and user ids
        in the archive would only make the layer cache differ between machines); modes and
        modification times are kept.
        """
        top = {DOCKERFILE_NAME: dockerfile.encode(), **(extra or {})}
        return self._tar(top, f"{CONTEXT_APP_DIR}/")

    def sources_archive(self) -> bytes:
        """The app's files alone, at the top of a tar archive: what is unpacked into /lain/app
        of a container (the prepare phase).  Owners, modes and times as in :meth:`archive`."""
        return self._tar({}, "")

    def _tar(self, top: Mapping[str, bytes], prefix: str) -> bytes:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name, content in top.items():
                _add_bytes(tar, name, content)
            directories: set[str] = set()
            for name in self.files:
                for parent in reversed(PurePosixPath(name).parents):
                    text = str(parent)
                    if text != "." and text not in directories:
                        directories.add(text)
                        self._add_path(tar, text, prefix)
                self._add_path(tar, name, prefix)
        return buffer.getvalue()

    def _add_path(self, tar: tarfile.TarFile, name: str, prefix: str) -> None:
        path = self.root / name
        try:
            info = tar.gettarinfo(str(path), arcname=f"{prefix}{name}")
        except OSError as e:
            raise BuildError(
                "build", f"cannot read {path} for the build context: {e.strerror}"
            ) from e
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.mtime = int(info.mtime)
        if info.isfile():
            with open(path, "rb") as f:
                tar.addfile(info, f)
        else:
            tar.addfile(info)


def archive_of(files: Mapping[str, bytes]) -> bytes:
    """A tar archive of ``files`` (name -> content): the context of a phase that needs no
    sources (meta, release, test)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in files.items():
            _add_bytes(tar, name, content)
    return buffer.getvalue()


def _add_bytes(tar: tarfile.TarFile, name: str, content: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(content)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(content))


def _expand_dirs(root: Path, names: list[str]) -> list[str]:
    """Replace directories among ``names`` (a submodule shows as one path) by their files."""
    out: list[str] = []
    for name in names:
        path = root / name
        try:
            mode = path.lstat().st_mode
        except FileNotFoundError:
            continue  # listed by git but deleted on disk: not part of what is built
        if not stat.S_ISDIR(mode):
            out.append(name)
            continue
        for dirpath, dirnames, filenames in os.walk(path):
            rel = Path(dirpath).relative_to(root).as_posix()
            # os.walk lists a symlink to a directory among the directories and does not follow
            # it: it is sent as the link it is.
            links = [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
            dirnames[:] = [d for d in dirnames if d != ".git" and d not in links]
            out.extend(f"{rel}/{f}" for f in [*filenames, *links])
    return out
