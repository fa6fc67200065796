"""GitInfo against real throwaway repositories (no mocks of git)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from lain_sdk.errors import DirtyTreeError, GitError
from lain_sdk.git import (
    META_VERSION_RE,
    GitInfo,
    commit_subjects,
    find_commit,
    parse_meta_version,
)

COMMIT_TIME = 1600000000


def git(repo: Path, *args: str, time: int = COMMIT_TIME) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_DATE": f"{time} +0000",
        "GIT_COMMITTER_DATE": f"{time} +0000",
    }
    done = subprocess.run(
        ["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with one commit: lain.yaml, app.py, .gitignore (ignores *.log) and a
    subfolder app ``sub/`` with its own lain.yaml."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    git(root, "config", "user.name", "Test")
    git(root, "config", "user.email", "test@example.com")
    git(root, "config", "commit.gpgsign", "false")
    write(root / "lain.yaml", "appname: hello\n")
    write(root / "app.py", "print('hello')\n")
    write(root / ".gitignore", "*.log\n")
    write(root / "sub" / "lain.yaml", "appname: sub\n")
    write(root / "sub" / "main.py", "print('sub')\n")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "first")
    return root


def head(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD")


def install_git(folder: Path, monkeypatch: pytest.MonkeyPatch, program: str) -> None:
    """Put a ``git`` first on PATH that runs the Python ``program`` (its arguments in
    ``sys.argv``; ``REAL_GIT`` names the real git)."""
    folder.mkdir()
    script = folder / "git.py"
    script.write_text(f"REAL_GIT = {shutil.which('git')!r}\n{program}")
    launcher = folder / "git"
    launcher.write_text(
        f'#!/bin/sh\nexec {shlex.quote(sys.executable)} {shlex.quote(str(script))} "$@"\n'
    )
    launcher.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"still waiting after {timeout:.0f}s"
        time.sleep(0.01)


# -- meta versions ---------------------------------------------------------------------------


def test_clean_tree(repo: Path) -> None:
    info = GitInfo.from_path(repo)

    assert info.root == repo.resolve()
    assert info.app_dir == repo.resolve()
    assert info.sha == head(repo)
    assert info.commit_time == COMMIT_TIME
    assert not info.dirty
    assert info.dirty_files == ()
    assert info.meta_version == f"{COMMIT_TIME}-{head(repo)}"
    info.require_clean()


def test_lain_yaml_path_means_its_directory(repo: Path) -> None:
    assert GitInfo.from_path(repo / "sub" / "lain.yaml").app_dir == (repo / "sub").resolve()


def test_a_symlinked_lain_yaml_means_the_folder_holding_the_link(repo: Path) -> None:
    shared = write(repo.parent / "shared" / "lain.yaml", "appname: shared\n")
    (repo / "linked").mkdir()
    (repo / "linked" / "lain.yaml").symlink_to(shared)

    assert GitInfo.from_path(repo / "linked" / "lain.yaml").app_dir == (repo / "linked").resolve()


def test_commit_time_is_the_committers(repo: Path) -> None:
    write(repo / "app.py", "print('two')\n")
    git(repo, "commit", "-q", "-am", "second", time=1700000000)

    info = GitInfo.from_path(repo)

    assert info.commit_time == 1700000000
    assert info.meta_version == f"1700000000-{head(repo)}"


@pytest.mark.parametrize(
    "change",
    ["modified", "staged", "untracked", "deleted", "staged deletion", "mode"],
)
def test_dirty_tree(repo: Path, change: str) -> None:
    path = "new.py" if change == "untracked" else "app.py"
    if change == "modified":
        write(repo / "app.py", "print('changed')\n")
    elif change == "staged":
        write(repo / "app.py", "print('changed')\n")
        git(repo, "add", "app.py")
    elif change == "untracked":
        write(repo / "new.py", "x = 1\n")
    elif change == "deleted":
        (repo / "app.py").unlink()
    elif change == "staged deletion":
        git(repo, "rm", "-q", "app.py")
    else:
        (repo / "app.py").chmod(0o755)

    info = GitInfo.from_path(repo)

    assert info.dirty
    assert info.dirty_files == (path,)
    assert re.fullmatch(rf"{COMMIT_TIME}-{head(repo)}-dirty-[0-9a-f]{{12}}", info.meta_version)
    with pytest.raises(DirtyTreeError) as caught:
        info.require_clean()
    assert tuple(caught.value.files) == (path,)
    # The files are git's; the advice after them is lain_sdk.errors' wording.
    assert str(caught.value).startswith(f"the working tree has uncommitted changes ({path}); ")
    info.require_clean(allow_dirty=True)


def test_ignored_files_are_not_dirty(repo: Path) -> None:
    write(repo / "debug.log", "noise\n")
    write(repo / "sub" / "deep" / "trace.log", "noise\n")

    assert not GitInfo.from_path(repo).dirty


def test_files_in_untracked_directories_are_listed_one_by_one(repo: Path) -> None:
    write(repo / "pkg" / "a.py", "")
    write(repo / "pkg" / "b.py", "")

    assert GitInfo.from_path(repo).dirty_files == ("pkg/a.py", "pkg/b.py")


def test_a_rename_is_a_deletion_and_an_addition(repo: Path) -> None:
    git(repo, "mv", "app.py", "main.py")

    assert GitInfo.from_path(repo).dirty_files == ("app.py", "main.py")


def test_app_in_a_subfolder_is_judged_by_its_folder_only(repo: Path) -> None:
    write(repo / "app.py", "print('changed elsewhere')\n")
    write(repo / "other.txt", "untracked elsewhere\n")

    sub = GitInfo.from_path(repo / "sub")

    assert sub.root == repo.resolve()
    assert not sub.dirty
    assert sub.meta_version == f"{COMMIT_TIME}-{head(repo)}"

    write(repo / "sub" / "main.py", "print('changed')\n")
    assert GitInfo.from_path(repo / "sub").dirty_files == ("sub/main.py",)
    assert GitInfo.from_path(repo).dirty_files == ("app.py", "other.txt", "sub/main.py")


def test_a_merge_conflict_is_dirty(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "other")
    write(repo / "app.py", "print('other')\n")
    git(repo, "commit", "-q", "-am", "other")
    git(repo, "checkout", "-q", "-")
    write(repo / "app.py", "print('mine')\n")
    git(repo, "commit", "-q", "-am", "mine")
    with pytest.raises(subprocess.CalledProcessError):
        git(repo, "merge", "-q", "other")

    assert GitInfo.from_path(repo).dirty_files == ("app.py",)


def test_status_records_of_every_kind(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # git status --porcelain=v2 -z: changed, renamed (with its origin), unmerged, untracked,
    # headers and ignored entries; names may hold spaces.  A git that answers `status` with
    # these records, and is the real git for every other command.
    sha = "0" * 40
    output = b"\0".join(
        [
            b"# branch.oid " + sha.encode(),
            b"1 .M N... 100644 100644 100644 " + f"{sha} {sha}".encode() + b" a b.txt",
            b"2 R. N... 100644 100644 100644 " + f"{sha} {sha}".encode() + b" R100 new name",
            b"old name",
            b"u UU N... 100644 100644 100644 100644 " + f"{sha} {sha} {sha}".encode() + b" c",
            b"? dir/untracked file",
            b"? nested/",
            b"! ignored.log",
            b"",
        ]
    )
    (tmp_path / "status.out").write_bytes(output)
    install_git(
        tmp_path / "bin",
        monkeypatch,
        "import os, sys\n"
        "if sys.argv[1] == 'status':\n"
        f"    sys.stdout.buffer.write(open({str(tmp_path / 'status.out')!r}, 'rb').read())\n"
        "else:\n"
        "    os.execv(REAL_GIT, [REAL_GIT, *sys.argv[1:]])\n",
    )

    assert GitInfo.from_path(repo).dirty_files == (
        "a b.txt",
        "c",
        "dir/untracked file",
        "nested",
        "new name",
        "old name",
    )


def test_started_reading_gives_the_same_state_and_the_context_files(repo: Path) -> None:
    write(repo / "new.py", "")
    write(repo / "debug.log", "")

    pending = GitInfo.start(repo, context_files=True)
    started = pending.result()

    assert started == GitInfo.from_path(repo)  # the prefetched files are not part of equality
    assert started.prefetched_context is not None
    assert started.context_files() == GitInfo.from_path(repo).context_files()
    assert "new.py" in started.context_files() and "debug.log" not in started.context_files()


def test_started_reading_reports_errors_when_collected(tmp_path: Path) -> None:
    pending = GitInfo.start(tmp_path / "nowhere", context_files=True)  # no error yet

    with pytest.raises(GitError, match="does not exist"):
        pending.result()


def test_a_cancelled_reading_leaves_no_git_running(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A git that writes down its process id, then waits until it is killed.
    started = tmp_path / "started"
    started.mkdir()
    install_git(
        tmp_path / "bin",
        monkeypatch,
        "import os, signal\n"
        f"open(os.path.join({str(started)!r}, str(os.getpid())), 'w').close()\n"
        "signal.pause()\n",
    )
    pending = GitInfo.start(repo, context_files=True)
    try:
        # The working tree and HEAD, the commit, the status and the context files, side by side.
        wait_until(lambda: len(list(started.iterdir())) == 4)
    finally:
        pending.cancel()

    for pid in (int(p.name) for p in started.iterdir()):
        with pytest.raises(ProcessLookupError):  # killed, and collected: not even a zombie
            os.kill(pid, 0)


def test_reading_git_state_needs_no_git_library(repo: Path) -> None:
    code = (
        "import sys\n"
        "from lain_sdk.git import GitInfo\n"
        f"info = GitInfo.from_path({str(repo)!r})\n"
        "info.context_files()\n"
        "print(sorted(m for m in sys.modules if m == 'git' or m.startswith('git.')))\n"
    )

    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )

    assert done.stdout == "[]\n"


def test_dirty_digest_follows_the_content(repo: Path) -> None:
    write(repo / "app.py", "print('one')\n")
    one = GitInfo.from_path(repo).meta_version
    write(repo / "app.py", "print('two')\n")
    two = GitInfo.from_path(repo).meta_version
    write(repo / "app.py", "print('one')\n")
    again = GitInfo.from_path(repo).meta_version
    write(repo / "new.py", "")
    with_new = GitInfo.from_path(repo).meta_version
    write(repo / "new.py", "x")
    new_changed = GitInfo.from_path(repo).meta_version

    assert len({one, two, with_new, new_changed}) == 4
    assert again == one  # the same uncommitted state, the same version


def test_dirty_meta_version_is_a_valid_docker_tag(repo: Path) -> None:
    write(repo / "app.py", "changed\n")

    version = GitInfo.from_path(repo).meta_version

    for tag in (f"release-{version}", f"meta-{version}"):
        assert re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", tag)


# -- errors ----------------------------------------------------------------------------------


def test_outside_a_repository(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()

    with pytest.raises(GitError) as caught:
        GitInfo.from_path(plain)

    assert str(caught.value) == (
        f"{plain.resolve()} is not inside a git repository: "
        "lain tags images by commit; run `git init` and commit the app"
    )


def test_before_the_first_commit(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")

    with pytest.raises(GitError) as caught:
        GitInfo.from_path(tmp_path)

    assert str(caught.value) == (
        f"the git repository at {tmp_path.resolve()} has no commit yet: "
        "lain tags images by commit; commit the app first"
    )


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(GitError, match=r"does not exist: give the app's directory or its lain"):
        GitInfo.from_path(tmp_path / "nowhere")


def test_a_bare_repository(tmp_path: Path) -> None:
    bare = tmp_path / "bare.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))

    with pytest.raises(GitError) as caught:
        GitInfo.from_path(bare)

    assert str(caught.value) == (
        f"{bare.resolve()} is inside a bare git repository: "
        "lain tags images by commit; run `git init` and commit the app"
    )


def test_git_failures_become_git_errors(repo: Path) -> None:
    (repo / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (repo / ".git" / "refs" / "heads" / "main").write_text("0" * 40 + "\n")

    with pytest.raises(GitError, match=r"^git failed in .*: fatal: "):
        GitInfo.from_path(repo)


def test_without_git_installed(repo: Path) -> None:
    code = (
        "from lain_sdk.git import GitInfo\n"
        "from lain_sdk.errors import GitError\n"
        "try:\n"
        f"    GitInfo.from_path({str(repo)!r})\n"
        "except GitError as e:\n"
        "    print(e)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_PYTHON")}
    env["PATH"] = str(repo / "no-bin")

    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )

    assert done.stdout.startswith("git is not usable (")
    assert done.stdout.endswith("); install git (Debian: apt-get install git)\n")


# -- build context files ---------------------------------------------------------------------


def test_context_files(repo: Path) -> None:
    write(repo / "new.py", "")  # untracked, not ignored: in
    write(repo / "debug.log", "")  # ignored: out
    write(repo / "build" / "out.log", "")  # ignored: out
    (repo / "app.py").unlink()  # tracked but deleted: out

    assert GitInfo.from_path(repo).context_files() == [
        ".gitignore",
        "lain.yaml",
        "new.py",
        "sub/lain.yaml",
        "sub/main.py",
    ]


def test_context_files_of_an_app_in_a_subfolder_are_relative_to_it(repo: Path) -> None:
    write(repo / "sub" / "static" / "index.html", "")
    write(repo / "sub" / "static" / "x.log", "")

    files = GitInfo.from_path(repo / "sub").context_files()

    assert files == ["lain.yaml", "main.py", "static/index.html"]


def test_context_files_honour_nested_gitignores(repo: Path) -> None:
    write(repo / "sub" / ".gitignore", "cache/\n")
    write(repo / "sub" / "cache" / "big.bin", "")
    git(repo, "add", "sub/.gitignore")

    assert GitInfo.from_path(repo / "sub").context_files() == [".gitignore", "lain.yaml", "main.py"]


# -- parsing meta versions -------------------------------------------------------------------

SHA = "a46ef7afcbbc18c1c1248bcbb84fa770d0758005"


def test_parse_meta_version() -> None:
    assert parse_meta_version(f"1496631978-{SHA}") == (1496631978, SHA, None)
    assert parse_meta_version(f"1496631978-{SHA}-dirty-0123456789ab") == (
        1496631978,
        SHA,
        "0123456789ab",
    )


@pytest.mark.parametrize(
    "text",
    [
        "",
        "latest",
        "1496631978",
        f"release-1496631978-{SHA}",
        f"1496631978-{SHA[:-1]}",
        f"1496631978-{SHA.upper()}",
        f"1496631978-{SHA}-dirty",
        f"1496631978-{SHA}-dirty-0123",
        f"1496631978-{SHA}-extra",
        f"x1496631978-{SHA}",
    ],
)
def test_parse_meta_version_rejects_what_is_not_one(text: str) -> None:
    with pytest.raises(ValueError, match=r"^not a meta version: "):
        parse_meta_version(text)


def test_meta_version_re_embeds_in_tag_patterns() -> None:
    tag = re.compile(rf"meta-(?:{META_VERSION_RE.pattern})")

    match = tag.fullmatch(f"meta-1496631978-{SHA}-dirty-0123456789ab")

    assert match and match["sha"] == SHA and match["dirty"] == "0123456789ab"
    assert tag.fullmatch(f"release-1496631978-{SHA}") is None


def test_round_trip(repo: Path) -> None:
    write(repo / "app.py", "changed\n")
    info = GitInfo.from_path(repo)

    assert parse_meta_version(info.meta_version) == (info.commit_time, info.sha, info.dirty_digest)


# -- find_commit and commit_subjects: what a typed version's git ref names ----------------------


def test_find_commit_resolves_head_a_ref_and_a_prefix(repo: Path) -> None:
    first = git(repo, "rev-parse", "HEAD")
    git(repo, "tag", "v1")
    git(repo, "commit", "-q", "--allow-empty", "-m", "second", time=COMMIT_TIME + 60)
    second = git(repo, "rev-parse", "HEAD")
    assert find_commit(repo, "HEAD") == (second, COMMIT_TIME + 60)
    assert find_commit(repo, "HEAD~1") == (first, COMMIT_TIME)
    assert find_commit(repo, "v1") == (first, COMMIT_TIME)
    assert find_commit(repo / "sub", first[:8]) == (first, COMMIT_TIME)


def test_find_commit_of_an_unknown_ref_is_none(repo: Path) -> None:
    assert find_commit(repo, "no-such-branch") is None
    assert find_commit(repo, "0" * 40) is None


def test_find_commit_refuses_what_git_would_read_as_an_option(repo: Path) -> None:
    with pytest.raises(ValueError, match="not a git ref: '--all'"):
        find_commit(repo, "--all")


def test_find_commit_outside_a_repository_is_a_git_error(tmp_path: Path) -> None:
    with pytest.raises(GitError, match="not inside a git repository"):
        find_commit(tmp_path, "HEAD")


def test_commit_subjects_leave_out_unknown_commits(repo: Path) -> None:
    first = git(repo, "rev-parse", "HEAD")
    git(repo, "commit", "-q", "--allow-empty", "-m", "Fix the login page", time=COMMIT_TIME + 1)
    second = git(repo, "rev-parse", "HEAD")
    unknown = "f" * 40
    assert commit_subjects(repo, [second, unknown, first]) == {
        first: "first",
        second: "Fix the login page",
    }
    assert commit_subjects(repo, []) == {}
