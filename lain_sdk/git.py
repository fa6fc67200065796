"""Git identity of an app: commit, commit time, dirty files, meta version, build-context files.

git is run as a program (a handful of short commands per build, each with a timeout), so
importing this module costs nothing and no git library is needed.

A meta version names one state of an app's source, as lain v2 did:
``<commit unix time>-<40-hex sha>`` for a clean tree.  A dirty tree (which lain builds only when
asked to) gets ``<commit unix time>-<40-hex sha>-dirty-<12 hex>``, the 12 hex digits being a
digest of the uncommitted changes: two different dirty states get two different versions, and
no clean build can ever produce such a tag.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import stat
import subprocess
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import lain_sdk.arguments as arguments
from lain_sdk.errors import DirtyTreeError, GitError, InvalidArgument

# Un-anchored so it can be embedded (``rf"meta-(?:{META_VERSION_RE.pattern})"``); match a whole
# string with ``META_VERSION_RE.fullmatch(text)``.  Groups: time, sha, dirty.
META_VERSION_RE = re.compile(
    r"(?P<time>[0-9]+)-(?P<sha>[0-9a-f]{40})(?:-dirty-(?P<dirty>[0-9a-f]{12}))?"
)

_DIRTY_DIGEST_LENGTH = 12
# Reading state must not take the index lock a concurrent git command of the user may need.
_GIT_ENV = {"GIT_OPTIONAL_LOCKS": "0"}
# The longest reading an app's git state may take (a status of a huge repository on a slow
# disk), per command or for the commands run side by side.
GIT_TIMEOUT = 300.0
_REV_PARSE = ("rev-parse", "--show-toplevel", "--verify", "-q", "HEAD")
_COMMIT = ("log", "-1", "--format=%H %ct", "HEAD", "--")
# Run in the app's directory with pathspec "." so that only the app's files count; porcelain
# output still names them relative to the root.
_STATUS = (
    "status",
    "--porcelain=v2",
    "-z",
    "--untracked-files=all",
    "--no-renames",  # a rename is its deletion plus its addition
    "--",
    ".",
)
# Run in the app's directory: git then prints paths relative to it.
_LS_FILES = ("ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", ".")
# A lookup of one commit or of commit subjects: quick, so a stuck git is given up on sooner.
LOOKUP_TIMEOUT = 30.0
_INSTALL_HINT = "install git (Debian: apt-get install git)"
_NOT_A_REPO_HINT = "lain tags images by commit; run `git init` and commit the app"


def parse_meta_version(text: str) -> tuple[int, str, str | None]:
    """Split a meta version into its parts.

    Args:
        text: ``<commit unix time>-<40-hex sha>`` or ``<time>-<sha>-dirty-<12 hex>``.

    Returns:
        ``(commit_time, sha, dirty_digest)``; ``dirty_digest`` is None for a clean version.

    Raises:
        InvalidArgument: ``text`` is not a meta version (also a ``ValueError``).
    """
    match = META_VERSION_RE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise InvalidArgument(
            f"not a meta version: {text!r} "
            "(expected <commit unix time>-<40-hex sha>, optionally followed by -dirty-<12 hex>)"
        )
    return int(match["time"]), match["sha"], match["dirty"]


def short_version(meta_version: str) -> str:
    """A meta version as a person reads it: commit time (UTC, to the minute) and 7-character
    sha, ``+dirty`` for a dirty tree: ``2026-12-06 04:37 b8443f8``.  Anything that is not a
    meta version is shown as it is."""
    try:
        commit_time, sha, dirty = parse_meta_version(meta_version)
    except ValueError:
        return meta_version
    when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(commit_time))
    return f"{when} {sha[:7]}" + ("+dirty" if dirty else "")


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
        prefetched_context: the build-context files git listed along with the rest, unfiltered
            (see :meth:`start`); None when they were not asked for.
    """

    root: Path
    app_dir: Path
    sha: str
    commit_time: int
    dirty_files: tuple[str, ...] = ()
    dirty_digest: str = ""
    prefetched_context: tuple[str, ...] | None = field(default=None, compare=False, repr=False)

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
            InvalidArgument: ``path`` is not a path.
        """
        return cls.start(path).result()

    @classmethod
    def start(
        cls, path: str | os.PathLike[str] = ".", *, context_files: bool = False
    ) -> PendingGitInfo:
        """Start reading the git state of the app at ``path``, and return at once.

        The git commands (the working tree and HEAD, HEAD's commit and time, the app folder's
        status, and with ``context_files`` the files of the build context) run side by side,
        while the caller does something else; :meth:`PendingGitInfo.result` collects them.
        Errors, ``path`` not existing included, are raised by ``result``; an argument of the
        wrong kind (:class:`~lain_sdk.errors.InvalidArgument`) at once.
        """
        path = arguments.path(path, "path")
        return PendingGitInfo(path, arguments.flag(context_files, "context_files"))

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
            InvalidArgument: ``allow_dirty`` is not a bool.
        """
        if self.dirty and not arguments.flag(allow_dirty, "allow_dirty"):
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
        names: Iterable[str] | None = self.prefetched_context
        if names is None:
            done = _git(self.app_dir, *_LS_FILES)
            if done.returncode != 0:
                raise _failed(self.root, done)
            names = _ls_files_names(done.stdout)
        return sorted(n for n in names if os.path.lexists(self.app_dir / n))


def find_commit(path: str | os.PathLike[str], ref: str) -> tuple[str, int] | None:
    """The commit ``ref`` (``HEAD``, a branch, a tag, ``HEAD~1``, a sha or its prefix) names
    in the git checkout at ``path``.

    Returns:
        ``(40-hex sha, committer unix time)``, or None when the repository has no such commit
        (or a sha prefix names several).

    Raises:
        GitError: ``path`` is not inside a git working tree, or git failed or took too long.
        InvalidArgument: ``ref`` is empty or starts with ``-`` (git would read an option).
    """
    ref = arguments.text(ref, "ref")
    if not ref.strip() or ref.startswith("-"):
        raise InvalidArgument(f"not a git ref: {ref!r}")
    app_dir = _app_dir(arguments.path(path, "path"))
    done = _git(app_dir, "rev-parse", "--verify", "-q", f"{ref}^{{commit}}", timeout=LOOKUP_TIMEOUT)
    if done.returncode == 1:
        return None
    if done.returncode != 0:
        raise _not_a_work_tree(app_dir, done)
    sha = done.stdout.decode("ascii", "replace").strip()
    done = _git(app_dir, "log", "-1", "--format=%ct", sha, "--", timeout=LOOKUP_TIMEOUT)
    commit_time = done.stdout.decode("ascii", "replace").strip()
    if done.returncode != 0 or not commit_time.isdigit():
        raise _failed(app_dir, done)
    return sha, int(commit_time)


def commit_subjects(path: str | os.PathLike[str], shas: Iterable[str]) -> dict[str, str]:
    """The subject line of each commit of ``shas`` (40 hex) that the checkout at ``path`` has;
    shas it does not have are left out.

    Raises:
        GitError: ``path`` is not inside a git working tree, or git failed or took too long.
    """
    wanted = sorted({sha for sha in shas if re.fullmatch("[0-9a-f]{40}", sha)})
    if not wanted:  # git log with no commit would list HEAD's history
        return {}
    app_dir = _app_dir(arguments.path(path, "path"))
    done = _git(
        app_dir,
        *("log", "--no-walk=unsorted", "--ignore-missing", "--format=%H%x00%s", *wanted, "--"),
        timeout=LOOKUP_TIMEOUT,
    )
    if done.returncode != 0:
        raise _not_a_work_tree(app_dir, done)
    subjects = {}
    for line in done.stdout.decode("utf-8", "replace").splitlines():
        sha, sep, subject = line.partition("\0")
        if sep:
            subjects[sha] = subject
    return subjects


class PendingGitInfo:
    """The git commands of :meth:`GitInfo.start`, running; :meth:`result` waits for them.

    Call :meth:`result` or :meth:`cancel` (``result`` cancels whatever is left when it fails),
    so that no git process outlives the reading.
    """

    def __init__(self, path: str | os.PathLike[str], context_files: bool) -> None:
        self._error: GitError | None = None
        self._processes: dict[str, subprocess.Popen[bytes]] = {}
        self._deadline = time.monotonic() + GIT_TIMEOUT
        commands = {"head": _REV_PARSE, "commit": _COMMIT, "status": _STATUS}
        if context_files:
            commands["files"] = _LS_FILES
        try:
            self.app_dir = _app_dir(path)
            for name, args in commands.items():
                self._processes[name] = _start_git(self.app_dir, args)
        except GitError as e:
            self.cancel()
            self._error = e

    def result(self) -> GitInfo:
        """The app's git state.

        Raises:
            GitError: as :meth:`GitInfo.from_path`.
        """
        try:
            if self._error is not None:
                raise self._error
            return self._collect()
        finally:
            self.cancel()

    def cancel(self) -> None:
        """Stop the git commands still running (nothing is read from them any more)."""
        for process in self._processes.values():
            if process.poll() is None:
                process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.communicate(timeout=5)
        self._processes = {}

    def _done(self, name: str) -> subprocess.CompletedProcess[bytes]:
        return _finish_git(self._processes.pop(name), self._deadline)

    def _collect(self) -> GitInfo:
        app_dir = self.app_dir
        # The working tree and HEAD in one command; -q: an unborn HEAD just prints nothing.
        done = self._done("head")
        if done.returncode not in (0, 1):
            raise _not_a_work_tree(app_dir, done)
        found = os.fsdecode(done.stdout).splitlines()
        if not found:
            raise _failed(app_dir, done)
        root = Path(found[0]).resolve()
        if done.returncode != 0 or len(found) < 2:
            raise GitError(
                f"the git repository at {root} has no commit yet: lain tags images by "
                "commit; commit the app first"
            )
        done = self._done("commit")
        if done.returncode != 0:
            raise _failed(root, done)
        head = done.stdout.decode("ascii", "replace").split()
        if len(head) != 2 or not head[1].isdigit():
            raise _failed(root, done)
        sha, commit_time = head
        done = self._done("status")
        if done.returncode != 0:
            raise _failed(root, done)
        dirty_files = tuple(sorted(set(_status_paths(done.stdout))))
        context: tuple[str, ...] | None = None
        if "files" in self._processes:  # asked for, and not collected yet
            done = self._done("files")
            if done.returncode != 0:
                raise _failed(root, done)
            context = tuple(_ls_files_names(done.stdout))
        digest = _dirty_digest(root, dirty_files) if dirty_files else ""
        return GitInfo(root, app_dir, sha, int(commit_time), dirty_files, digest, context)


def _app_dir(path: str | os.PathLike[str]) -> Path:
    app_dir = Path(path).absolute()
    if app_dir.is_file():  # before resolving: a symlinked lain.yaml still means this folder
        app_dir = app_dir.parent
    app_dir = app_dir.resolve()
    if not app_dir.is_dir():
        raise GitError(f"{path} does not exist: give the app's directory or its lain.yaml")
    return app_dir


def _ls_files_names(out: bytes) -> set[str]:
    # --cached still lists tracked files deleted from the working tree, and a conflicted file
    # once per merge stage (hence the set).
    return {os.fsdecode(name) for name in out.split(b"\0") if name}


def _git(cwd: Path, *args: str, timeout: float = GIT_TIMEOUT) -> subprocess.CompletedProcess[bytes]:
    """Run ``git ARGS`` in ``cwd``; output as bytes, whatever the exit status.

    Raises:
        GitError: git is not installed (or cannot be run), or took longer than ``timeout``.
    """
    return _finish_git(_start_git(cwd, args), time.monotonic() + timeout, timeout)


def _start_git(cwd: Path, args: tuple[str, ...]) -> subprocess.Popen[bytes]:
    try:
        return subprocess.Popen(
            ["git", *args],
            cwd=cwd,
            env={**os.environ, **_GIT_ENV},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    except FileNotFoundError as e:
        raise GitError(f"git is not usable (no git executable on PATH); {_INSTALL_HINT}") from e
    except PermissionError as e:
        raise GitError(f"git is not usable ({e.strerror or e}); {_INSTALL_HINT}") from e


def _finish_git(
    process: subprocess.Popen[bytes], deadline: float, timeout: float = GIT_TIMEOUT
) -> subprocess.CompletedProcess[bytes]:
    try:
        out, err = process.communicate(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired as e:
        process.kill()
        process.communicate()
        command = " ".join(str(a) for a in process.args[:2])  # type: ignore[index]
        raise GitError(f"{command} took longer than {timeout:.0f}s; stopped") from e
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def _stderr(done: subprocess.CompletedProcess[bytes]) -> str:
    # git's own words, on one line.
    return " ".join(os.fsdecode(done.stderr or b"").split())


def _failed(root: Path, done: subprocess.CompletedProcess[bytes]) -> GitError:
    detail = _stderr(done) or f"exit status {done.returncode}"
    return GitError(f"git failed in {root}: {detail}")


def _not_a_work_tree(app_dir: Path, done: subprocess.CompletedProcess[bytes]) -> GitError:
    """The error for ``rev-parse --show-toplevel`` failing: outside a repository, in a bare
    one, or git failing for another reason."""
    bare = _git(app_dir, "rev-parse", "--is-bare-repository")
    if bare.returncode == 0:
        if bare.stdout.strip() == b"true":
            return GitError(f"{app_dir} is inside a bare git repository: {_NOT_A_REPO_HINT}")
        return _failed(app_dir, done)  # a repository, but git failed for another reason
    return GitError(f"{app_dir} is not inside a git repository: {_NOT_A_REPO_HINT}")


def _status_paths(porcelain: bytes) -> Iterator[str]:
    """The paths in ``git status --porcelain=v2 -z`` output, relative to the repository root.

    Records: ``1 XY sub mH mI mW hH hI path`` (changed), ``2 ... path NUL origPath`` (renamed
    or copied: both paths count), ``u XY sub m1 m2 m3 mW h1 h2 h3 path`` (unmerged),
    ``? path`` (untracked); ``#`` headers and ``!`` (ignored) records name nothing dirty.
    """
    records = iter(porcelain.split(b"\0"))
    for record in records:
        kind = record[:2]
        if kind == b"1 ":
            fields = record.split(b" ", 8)
        elif kind == b"2 ":
            fields = record.split(b" ", 9)
            orig = next(records, b"")
            if orig:
                yield os.fsdecode(orig).rstrip("/")
        elif kind == b"u ":
            fields = record.split(b" ", 10)
        elif kind == b"? ":
            fields = [record[2:]]
        else:
            continue
        if fields[-1]:
            yield os.fsdecode(fields[-1]).rstrip("/")


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
