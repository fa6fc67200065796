"""Git identity of an app: commit, commit time, dirty files, meta version, build-context files.

This is the only module that imports gitpython, and only inside functions, so importing
lain_sdk (or running ``lain --help``) never loads it.

A meta version names one state of an app's source, as lain v2 did:
``<commit unix time>-<40-hex sha>`` for a clean tree.  A dirty tree (which lain builds only when
asked to) gets ``<commit unix time>-<40-hex sha>-dirty-<12 hex>``, the 12 hex digits being a
digest of the uncommitted changes: two different dirty states get two different versions, and
no clean build can ever produce such a tag.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from lain_sdk.errors import DirtyTreeError, GitError

if TYPE_CHECKING:
    import git

# Un-anchored so it can be embedded (``rf"meta-(?:{META_VERSION_RE.pattern})"``); match a whole
# string with ``META_VERSION_RE.fullmatch(text)``.  Groups: time, sha, dirty.
META_VERSION_RE = re.compile(
    r"(?P<time>[0-9]+)-(?P<sha>[0-9a-f]{40})(?:-dirty-(?P<dirty>[0-9a-f]{12}))?"
)

_DIRTY_DIGEST_LENGTH = 12
# Reading state must not take the index lock a concurrent git command of the user may need.
_GIT_ENV = {"GIT_OPTIONAL_LOCKS": "0"}
_NOT_A_REPO_HINT = "lain tags images by commit; run `git init` and commit the app"


def parse_meta_version(text: str) -> tuple[int, str, str | None]:
    """Split a meta version into its parts.

    Args:
        text: ``<commit unix time>-<40-hex sha>`` or ``<time>-<sha>-dirty-<12 hex>``.

    Returns:
        ``(commit_time, sha, dirty_digest)``; ``dirty_digest`` is None for a clean version.

    Raises:
        ValueError: ``text`` is not a meta version.
    """
    match = META_VERSION_RE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(
            f"not a meta version: {text!r} "
            "(expected <commit unix time>-<40-hex sha>, optionally followed by -dirty-<12 hex>)"
        )
    return int(match["time"]), match["sha"], match["dirty"]


@dataclass(frozen=True)
class GitInfo:
    """What git says about an app's directory at one moment.

    Attributes:
        root: the repository's working tree (its top-level directory).
        app_dir: the app's directory (the one holding lain.yaml), inside ``root``.
        sha: the 40-hex sha of HEAD.
        commit_time: HEAD's committer time, in Unix seconds.
        dirty_files: paths under ``app_dir`` (relative to ``root``, POSIX separators, sorted)
            that differ from HEAD: modified, staged, deleted, or untracked and not ignored.
            Changes elsewhere in the repository do not count, so an app in a subfolder of a
            monorepo is judged by its own folder only.
        dirty_digest: 12 hex digits identifying the uncommitted changes; empty when clean.
    """

    root: Path
    app_dir: Path
    sha: str
    commit_time: int
    dirty_files: tuple[str, ...] = ()
    dirty_digest: str = ""

    @classmethod
    def from_path(cls, path: str | os.PathLike[str] = ".") -> GitInfo:
        """Read the git state of the app at ``path``.

        Args:
            path: the app's directory, or the lain.yaml in it.

        Returns:
            The app's commit, commit time and uncommitted changes.

        Raises:
            GitError: ``path`` does not exist, is not inside a git working tree, the repository
                has no commit yet, or git itself failed.
        """
        app_dir = Path(path).absolute()
        if app_dir.is_file():  # before resolving: a symlinked lain.yaml still means this folder
            app_dir = app_dir.parent
        app_dir = app_dir.resolve()
        if not app_dir.is_dir():
            raise GitError(f"{path} does not exist: give the app's directory or its lain.yaml")

        gitpython = _import_gitpython()
        try:
            repo = gitpython.Repo(app_dir, search_parent_directories=True)
        except (gitpython.InvalidGitRepositoryError, gitpython.NoSuchPathError) as e:
            raise GitError(f"{app_dir} is not inside a git repository: {_NOT_A_REPO_HINT}") from e
        with repo:
            if repo.working_tree_dir is None:
                raise GitError(f"{app_dir} is inside a bare git repository: {_NOT_A_REPO_HINT}")
            root = Path(repo.working_tree_dir).resolve()
            if not repo.head.is_valid():
                raise GitError(
                    f"the git repository at {root} has no commit yet: lain tags images by "
                    "commit; commit the app first"
                )
            # Run in the app's directory with pathspec "." so that only the app's files count;
            # porcelain output still names them relative to the root.
            cmd = gitpython.Git(str(app_dir))
            try:
                sha, commit_time = cmd.log("-1", "--format=%H %ct", "HEAD", env=_GIT_ENV).split()
                status = cmd.status(
                    "--porcelain=v1",
                    "-z",
                    "--untracked-files=all",
                    "--no-renames",  # a rename is its deletion plus its addition
                    "--",
                    ".",
                    stdout_as_string=False,
                    env=_GIT_ENV,
                )
            except gitpython.GitCommandError as e:
                raise _command_error(root, e) from e
        dirty_files = tuple(sorted(set(_status_paths(status))))
        digest = _dirty_digest(root, dirty_files) if dirty_files else ""
        return cls(root, app_dir, sha, int(commit_time), dirty_files, digest)

    @property
    def dirty(self) -> bool:
        """True when the app's directory has uncommitted changes."""
        return bool(self.dirty_files)

    @property
    def meta_version(self) -> str:
        """``<commit unix time>-<sha>``, with ``-dirty-<12 hex>`` appended for a dirty tree."""
        clean = f"{self.commit_time}-{self.sha}"
        return f"{clean}-dirty-{self.dirty_digest}" if self.dirty else clean

    def require_clean(self, allow_dirty: bool = False) -> None:
        """Refuse a dirty tree unless the caller explicitly allows it.

        Args:
            allow_dirty: accept uncommitted changes (the meta version then says ``dirty``).

        Raises:
            DirtyTreeError: the tree is dirty and ``allow_dirty`` is false.
        """
        if self.dirty and not allow_dirty:
            raise DirtyTreeError(list(self.dirty_files))

    def context_files(self) -> list[str]:
        """The files that belong in the app's build context.

        Git-tracked files plus untracked files git does not ignore, under ``app_dir``,
        relative to it (POSIX separators), that exist on disk, sorted.  git lists them, so this
        stays fast on big repositories and honours every ``.gitignore`` and
        ``.git/info/exclude``.

        Raises:
            GitError: git failed.
        """
        gitpython = _import_gitpython()
        try:
            # Run in the app's directory: git then prints paths relative to it.
            out = gitpython.Git(str(self.app_dir)).ls_files(
                "-z",
                "--cached",
                "--others",
                "--exclude-standard",
                "--",
                ".",
                stdout_as_string=False,
            )
        except gitpython.GitCommandError as e:
            raise _command_error(self.root, e) from e
        names = {os.fsdecode(name) for name in out.split(b"\0") if name}
        # --cached still lists tracked files deleted from the working tree, and a conflicted
        # file once per merge stage (hence the set).
        return sorted(n for n in names if os.path.lexists(self.app_dir / n))


def _import_gitpython() -> Any:
    try:
        import git as gitpython
    except ImportError as e:  # gitpython refuses to import when no git executable is found
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise GitError(
            f"git is not usable ({reason}); install git (Debian: apt-get install git)"
        ) from e
    return gitpython


def _command_error(root: Path, error: git.GitCommandError) -> GitError:
    # gitpython wraps git's stderr as "\n  stderr: '...'"; keep git's own words, on one line.
    stderr = str(error.stderr or "").strip().removeprefix("stderr:").strip(" '\n")
    detail = " ".join(stderr.split()) if stderr else f"exit status {error.status}"
    return GitError(f"git failed in {root}: {detail}")


def _status_paths(porcelain: bytes) -> Iterator[str]:
    """The paths in ``git status --porcelain=v1 -z --no-renames`` output (``XY path`` records)."""
    for record in porcelain.split(b"\0"):
        if len(record) > 3:
            yield os.fsdecode(record[3:]).rstrip("/")


def _dirty_digest(root: Path, dirty_files: tuple[str, ...]) -> str:
    """A digest of the working tree's state at every dirty path.

    HEAD's sha is in the meta version already, so the current content (and executable bit) of
    each path that differs from HEAD, or the fact that it is gone, identifies the uncommitted
    state exactly.  Hashing what is on disk, rather than a diff, does not depend on the user's
    diff settings, and equal trees get equal digests.
    """
    digest = hashlib.sha256()
    for name in dirty_files:
        digest.update(name.encode("utf-8", "surrogateescape") + b"\0")
        path = root / name
        try:
            mode = path.lstat().st_mode
        except FileNotFoundError:
            digest.update(b"deleted\0")
            continue
        if stat.S_ISLNK(mode):
            digest.update(b"link\0" + os.fsencode(os.readlink(path)) + b"\0")
        elif stat.S_ISREG(mode):
            digest.update(b"x\0" if mode & 0o111 else b"f\0")
            digest.update(_file_digest(path))
        else:  # a directory (nested repository or submodule) or something special
            digest.update(b"other\0")
    return digest.hexdigest()[:_DIRTY_DIGEST_LENGTH]


def _file_digest(path: Path) -> bytes:
    file_digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                file_digest.update(chunk)
    except OSError as e:
        raise GitError(
            f"cannot read {path} to version the uncommitted changes: {e.strerror}"
        ) from e
    return file_digest.digest()
