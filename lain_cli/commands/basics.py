"""``lain meta``, ``lain version`` and ``lain completion``."""

from __future__ import annotations

import click

from lain_cli import __version__
from lain_cli.context import Context
from lain_sdk.errors import DirtyTreeError
from lain_sdk.git import GitInfo

pass_context = click.make_pass_decorator(Context)

PROG_NAME = "lain"
# What click derives from the program name; the completion scripts set it when they call lain.
COMPLETE_VAR = "_LAIN_COMPLETE"
SHELLS = ("bash", "zsh", "fish")
# Changes to click's scripts.  lain's stderr is dropped where they call it: a completion that
# goes wrong (a broken install, say) must not print into the command line being edited.  fish
# splits each answer at its first comma only, so a description may hold commas, and keeps
# lain's order (releases and versions newest first) instead of sorting.
SCRIPT_FIXES = {
    "bash": [("=bash_complete $1)", "=bash_complete $1 2>/dev/null)")],
    "zsh": [("=zsh_complete lain)}", "=zsh_complete lain 2>/dev/null)}")],
    "fish": [
        ("(commandline -t) lain);", "(commandline -t) lain 2>/dev/null);"),
        ('(string split "," $completion)', '(string split -m 1 "," $completion)'),
        ("--command lain --arguments", "--command lain --keep-order --arguments"),
    ],
}


@click.command()
@click.argument("path", default=".", metavar="[PATH]", type=click.Path(path_type=str))
@pass_context
def meta(obj: Context, path: str) -> None:
    """Print the meta version of the app's commit.

    The meta version is what lain tags the app's images with: <commit unix time>-<40-hex sha>
    of the repository's HEAD, as in lain v2.  PATH is the app's directory or its lain.yaml
    (default: the current directory).  Uncommitted changes in the app's directory are listed
    on stderr: `lain build` refuses them unless given --allow-dirty, and then tags the images
    with a version that says dirty.
    """
    info = GitInfo.from_path(path)
    clean = f"{info.commit_time}-{info.sha}"
    obj.emit(
        {
            "meta_version": clean,
            "commit": info.sha,
            "commit_time": info.commit_time,
            "dirty": info.dirty,
            "dirty_files": list(info.dirty_files),
            # the version `lain build --allow-dirty` would tag now
            "dirty_meta_version": info.meta_version if info.dirty else None,
        },
        clean,
    )
    if info.dirty and not obj.json:
        obj.warn(str(DirtyTreeError(list(info.dirty_files))))


@click.command()
@pass_context
def version(obj: Context) -> None:
    """Print lain's version and the Python it runs on."""
    import platform

    python = platform.python_version()
    obj.emit({"lain": __version__, "python": python}, f"lain {__version__} (Python {python})")


@click.command()
@click.argument("shell", type=click.Choice(SHELLS))
@click.pass_context
def completion(ctx: click.Context, shell: str) -> None:
    """Print the shell completion script for SHELL.

    \b
    Load it in the current shell:
      bash:  eval "$(lain completion bash)"
      zsh:   eval "$(lain completion zsh)"
      fish:  lain completion fish | source

    Besides commands and options, values complete: procs (from lain.yaml), clusters, versions
    (short shas), release numbers, secret files and nodes; those the cluster or registry
    knows are given up on after 2 seconds.

    \b
    Or install it once:
      lain completion bash > ~/.local/share/bash-completion/completions/lain
      lain completion zsh > "${fpath[1]}/_lain"
      lain completion fish > ~/.config/fish/completions/lain.fish
    """
    click.echo(completion_script(ctx.find_root().command, shell))


def completion_script(cli: click.Command, shell: str) -> str:
    """The completion script click generates for ``lain`` in ``shell`` (bash, zsh or fish)."""
    from click.shell_completion import get_completion_class

    cls = get_completion_class(shell)
    if cls is None:  # pragma: no cover - SHELLS only lists shells click supports
        raise click.BadParameter(f"no completion for {shell}")
    comp = cls(cli, {}, PROG_NAME, COMPLETE_VAR)
    # Not comp.source(): for bash it first runs `bash --version` in a subprocess to warn about
    # bash < 4.4, which would make the output depend on the machine that generates it.
    source = comp.source_template % comp.source_vars()
    for old, new in SCRIPT_FIXES[shell]:
        source = source.replace(old, new)
    return source


COMMANDS = [meta, version, completion]
