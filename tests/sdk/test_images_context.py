"""The in-memory build context: which files go in, where, and with what metadata."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from lain_sdk.git import GitInfo
from lain_sdk.images.context import BuildContext, archive_of, filter_files, read_dockerignore


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def write(path: Path, text: str = "x", mode: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if mode is not None:
        path.chmod(mode)
    return path


def members(data: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: m for m in tar.getmembers()}


def snapshot(root: Path) -> dict[str, float]:
    return {str(p.relative_to(root)): p.lstat().st_mtime for p in root.rglob("*")}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """An app repo in a subfolder ``app/`` of a git repository, committed, plus untracked and
    ignored files."""
    root = tmp_path / "repo"
    app = root / "svc"
    write(app / "lain.yaml", "appname: ctx\n")
    write(app / "main.sh", "echo hi\n", 0o755)
    write(app / "src" / "lib.txt", "lib\n")
    write(app / "private" / "secret.txt", "no\n", 0o600)
    (app / "private").chmod(0o700)
    write(app / "docs" / "keep.md", "keep\n")
    write(app / "docs" / "drop.md", "drop\n")
    write(app / ".gitignore", "*.log\nbuild/\n")
    write(app / ".dockerignore", "# comment\n\ndocs\n!docs/keep.md\n**/*.tmp\n")
    write(root / "outside.txt", "not in the app\n")
    git(root, "init", "-q")
    git(root, "-c", "user.name=T", "-c", "user.email=t@example.com", "add", ".")
    git(
        root,
        "-c",
        "user.name=T",
        "-c",
        "user.email=t@example.com",
        "-c",
        "commit.gpgsign=false",
        "commit",
        "-q",
        "-m",
        "first",
    )
    write(app / "untracked.txt", "new\n")  # untracked, not ignored: goes in
    write(app / "debug.log", "junk\n")  # ignored by git
    write(app / "build" / "big.bin", "0" * 10000)  # ignored by git
    write(app / "src" / "scratch.tmp", "tmp\n")  # ignored by .dockerignore
    return app


def test_context_is_git_files_filtered_by_dockerignore(repo: Path):
    context = BuildContext.from_git(GitInfo.from_path(repo))
    assert context.root == repo.resolve()
    assert list(context.files) == [
        ".dockerignore",
        ".gitignore",
        "docs/keep.md",
        "lain.yaml",
        "main.sh",
        "private/secret.txt",
        "src/lib.txt",
        "untracked.txt",
    ]


def test_archive_layout_modes_and_owners(repo: Path):
    context = BuildContext.from_git(GitInfo.from_path(repo))
    before = snapshot(repo.parent)
    data = context.archive("FROM scratch\n", {"extra.txt": b"e"})
    assert snapshot(repo.parent) == before  # nothing written into the repository
    found = members(data)
    assert "lain.Dockerfile" in found and "extra.txt" in found
    # The app's files live under app/, so no user file can clash with the Dockerfile.
    app_names = sorted(n for n in found if n.startswith("app/"))
    assert app_names == [
        "app/.dockerignore",
        "app/.gitignore",
        "app/docs",
        "app/docs/keep.md",
        "app/lain.yaml",
        "app/main.sh",
        "app/private",
        "app/private/secret.txt",
        "app/src",
        "app/src/lib.txt",
        "app/untracked.txt",
    ]
    assert not any(".git/" in n or n.endswith("/.git") for n in found)
    assert found["app/main.sh"].mode & 0o777 == 0o755
    assert found["app/private/secret.txt"].mode & 0o777 == 0o600
    assert found["app/private"].isdir() and found["app/private"].mode & 0o777 == 0o700
    assert {(m.uid, m.gid, m.uname, m.gname) for m in found.values()} == {(0, 0, "", "")}
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert tar.extractfile("lain.Dockerfile").read() == b"FROM scratch\n"
        assert tar.extractfile("app/src/lib.txt").read() == b"lib\n"


def test_sources_archive_holds_the_same_files_at_the_top(repo: Path):
    # What the prepare phase unpacks into /lain/app of its container: no Dockerfile, no app/.
    context = BuildContext.from_git(GitInfo.start(repo, context_files=True).result())
    found = members(context.sources_archive())
    in_context = members(context.archive("FROM scratch\n"))
    app_names = [n.removeprefix("app/") for n in in_context if n != "lain.Dockerfile"]
    assert sorted(found) == sorted(app_names)
    for name, member in found.items():
        twin = in_context[f"app/{name}"]
        assert (member.mode, member.mtime, member.type) == (twin.mode, twin.mtime, twin.type)
    assert {(m.uid, m.gid, m.uname, m.gname) for m in found.values()} == {(0, 0, "", "")}
    with tarfile.open(fileobj=io.BytesIO(context.sources_archive())) as tar:
        assert tar.extractfile("src/lib.txt").read() == b"lib\n"


def test_archive_size_does_not_grow_with_ignored_files(repo: Path):
    size = len(BuildContext.from_git(GitInfo.from_path(repo)).archive(""))
    write(repo / "huge.log", "0" * 5_000_000)
    assert len(BuildContext.from_git(GitInfo.from_path(repo)).archive("")) == size


def test_symlinks_go_in_as_links(repo: Path):
    os.symlink("main.sh", repo / "link.sh")
    found = members(BuildContext.from_files(repo, ["main.sh", "link.sh"]).archive(""))
    assert found["app/link.sh"].issym() and found["app/link.sh"].linkname == "main.sh"


def test_a_directory_entry_is_walked_without_its_git(tmp_path: Path):
    write(tmp_path / "sub" / "a.txt")
    write(tmp_path / "sub" / ".git", "gitdir: ../.git/modules/sub\n")  # a submodule's .git file
    write(tmp_path / "sub" / "deep" / "b.txt")
    context = BuildContext.from_files(tmp_path, ["sub", "gone.txt"])  # gone.txt: deleted on disk
    assert list(context.files) == ["sub/a.txt", "sub/deep/b.txt"]


def test_read_dockerignore(tmp_path: Path):
    assert read_dockerignore(tmp_path) == []
    write(tmp_path / ".dockerignore", "# c\n  a  \n\n!b\n")
    assert read_dockerignore(tmp_path) == ["a", "!b"]


@pytest.mark.parametrize(
    "patterns, kept",
    [
        ([], ["a.py", "build/x.o", "docs/a.md", "docs/b.md"]),
        (["build"], ["a.py", "docs/a.md", "docs/b.md"]),
        (["docs", "!docs/b.md"], ["a.py", "build/x.o", "docs/b.md"]),
        (["**/*.o", "*.py"], ["docs/a.md", "docs/b.md"]),
    ],
)
def test_filter_files_uses_docker_semantics(patterns, kept):
    files = [".git/config", "a.py", "build/x.o", "docs/a.md", "docs/b.md", "vendor/.git"]
    assert filter_files(files, patterns) == kept


def test_archive_of():
    found = members(
        archive_of({"lain.Dockerfile": b"FROM scratch\n", "lain.yaml": b"appname: x\n"})
    )
    assert sorted(found) == ["lain.Dockerfile", "lain.yaml"]
