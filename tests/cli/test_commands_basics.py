"""``lain meta``, ``lain version``, ``lain completion``, and what the CLI imports to start."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lain_cli import __version__
from lain_cli.exit import ExitStatus

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPLETIONS = REPO_ROOT / "completions"
COMPLETION_FILES = {"bash": "lain.bash", "zsh": "_lain", "fish": "lain.fish"}
T = 1600000000


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_DATE": f"{T} +0000", "GIT_COMMITTER_DATE": f"{T} +0000"}
    done = subprocess.run(
        ["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


@pytest.fixture
def app(tmp_path: Path) -> Path:
    """An app repository with one commit made at T."""
    root = tmp_path / "app"
    root.mkdir()
    git(root, "init", "-q")
    git(root, "config", "user.name", "Test")
    git(root, "config", "user.email", "test@example.com")
    git(root, "config", "commit.gpgsign", "false")
    (root / "lain.yaml").write_text("appname: hello\n")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "first")
    return root


# -- lain meta -------------------------------------------------------------------------------


def test_meta_of_a_clean_tree(lain: Any, app: Path) -> None:
    sha = git(app, "rev-parse", "HEAD")

    result = lain("meta", str(app))

    assert (result.exit_code, result.stdout, result.stderr) == (ExitStatus.OK, f"{T}-{sha}\n", "")


def test_meta_defaults_to_the_current_directory(
    lain: Any, app: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(app)

    result = lain("meta")

    assert result.stdout == f"{T}-{git(app, 'rev-parse', 'HEAD')}\n"


def test_meta_of_a_dirty_tree_says_so_on_stderr(lain: Any, app: Path) -> None:
    (app / "lain.yaml").write_text("appname: changed\n")
    (app / "new.py").write_text("")

    result = lain("meta", str(app / "lain.yaml"))

    assert result.exit_code == ExitStatus.OK
    assert result.stdout == f"{T}-{git(app, 'rev-parse', 'HEAD')}\n"
    warning = "lain: warning: the working tree has uncommitted changes (lain.yaml, new.py); "
    assert result.stderr.startswith(warning)
    assert result.stderr.count("\n") == 1 and result.stderr.endswith(" as dirty\n")


def test_meta_json(lain: Any, app: Path) -> None:
    sha = git(app, "rev-parse", "HEAD")
    clean = json.loads(lain("-o", "json", "meta", str(app)).stdout)
    (app / "new.py").write_text("")

    result = lain("-o", "json", "meta", str(app))
    dirty = json.loads(result.stdout)

    assert clean == {
        "meta_version": f"{T}-{sha}",
        "commit": sha,
        "commit_time": T,
        "dirty": False,
        "dirty_files": [],
        "dirty_meta_version": None,
    }
    assert result.stderr == ""
    assert dirty.pop("dirty_meta_version").startswith(f"{T}-{sha}-dirty-")
    assert dirty == {
        "meta_version": f"{T}-{sha}",
        "commit": sha,
        "commit_time": T,
        "dirty": True,
        "dirty_files": ["new.py"],
    }


def test_meta_outside_git(lain: Any, tmp_path: Path) -> None:
    result = lain("meta", str(tmp_path))

    assert result.exit_code == ExitStatus.GIT_ERROR
    assert result.stdout == ""
    assert result.stderr == (
        f"lain: error: {tmp_path.resolve()} is not inside a git repository: "
        "lain tags images by commit; run `git init` and commit the app\n"
    )


def test_meta_before_the_first_commit(lain: Any, tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")

    result = lain("meta", str(tmp_path))

    assert result.exit_code == ExitStatus.GIT_ERROR
    assert "has no commit yet" in result.stderr


# -- lain version ----------------------------------------------------------------------------


def test_version(lain: Any) -> None:
    result = lain("version")

    assert result.exit_code == ExitStatus.OK
    assert result.stdout == f"lain {__version__} (Python {platform.python_version()})\n"


def test_version_json(lain: Any) -> None:
    result = lain("-o", "json", "version")

    assert json.loads(result.stdout) == {"lain": __version__, "python": platform.python_version()}


def test_version_option(lain: Any) -> None:
    assert lain("--version").stdout == f"lain {__version__}\n"


# -- lain completion -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shell", "marker"),
    [
        ("bash", "complete -o nosort -F _lain_completion lain"),
        ("zsh", "#compdef lain"),
        ("fish", "complete --no-files --command lain"),
    ],
)
def test_completion_scripts(lain: Any, shell: str, marker: str) -> None:
    result = lain("completion", shell)

    assert result.exit_code == ExitStatus.OK
    assert marker in result.stdout
    assert "_LAIN_COMPLETE" in result.stdout


def test_completion_of_an_unknown_shell(lain: Any) -> None:
    result = lain("completion", "tcsh")

    assert result.exit_code == ExitStatus.USAGE
    assert "'tcsh' is not one of 'bash', 'zsh', 'fish'" in result.stderr


def test_committed_completions_are_up_to_date(lain: Any) -> None:
    stale = [
        name
        for shell, name in COMPLETION_FILES.items()
        if not (COMPLETIONS / name).is_file()
        or (COMPLETIONS / name).read_text() != lain("completion", shell).stdout
    ]

    assert not stale, f"completions/{', '.join(stale)} out of date: run scripts/update-completions"


def test_completion_scripts_call_back_into_lain(lain: Any) -> None:
    # What the bash script does when the user presses TAB after "lain comp".
    env = {"_LAIN_COMPLETE": "bash_complete", "COMP_WORDS": "lain comp", "COMP_CWORD": "1"}

    result = lain(env=env)

    assert (result.exit_code, result.stdout) == (0, "plain,completion\n")


def test_completion_offers_the_node_commands_and_cluster_status(lain: Any) -> None:
    def complete(words: str) -> list[str]:
        count = len(words.split()) - (0 if words.endswith(" ") else 1)
        env = {"_LAIN_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": str(count)}
        return lain(env=env).stdout.split()

    assert complete("lain node ") == [
        f"plain,{c}" for c in ("activate", "add", "drain", "label", "ls", "rm")
    ]
    assert complete("lain cluster st") == ["plain,status"]


# -- start-up cost ---------------------------------------------------------------------------

HEAVY = {"docker", "git", "requests", "rich", "keyring"}


def imported(*args: str) -> set[str]:
    """Top-level names of the modules ``python -X importtime ARGS`` imports."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *args],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    return {
        line.rsplit("|", 1)[1].strip().split(".")[0]
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


@pytest.mark.parametrize("args", [["--help"], ["--version"]], ids=["help", "version"])
def test_cli_start_imports_nothing_heavy(args: list[str]) -> None:
    modules = imported("-m", "lain_cli", *args)

    assert "click" in modules  # the probe works
    assert not modules & HEAVY, f"lain {args[0]} imports {sorted(modules & HEAVY)}"


def test_sdk_import_is_light_and_click_free() -> None:
    modules = imported("-c", "import lain_sdk")

    assert "lain_sdk" in modules
    assert not modules & (HEAVY | {"click"}), sorted(modules & (HEAVY | {"click"}))
