"""The root ``lain`` group, its global options and the one error funnel.

A command's module is imported only when that command runs (lain_cli.commands has the table),
and command modules import heavy libraries (docker, git, requests, rich, keyring) inside the
functions that need them, so start-up stays close to click's own.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from importlib import import_module

import click

from lain_cli import __version__
from lain_cli.commands import COMMANDS, SECTIONS
from lain_cli.completion import attach_completers
from lain_cli.context import Context
from lain_cli.exit import ExitStatus, status_for
from lain_cli.hints import hints_for
from lain_sdk.errors import LainError

# LAIN_DEBUG values that leave it off (as click reads the --traceback flag from it).
OFF = ("", "0", "false", "no", "off", "n", "f")
CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


OUTPUT_FORMATS = click.Choice(["text", "json"])


class LainGroup(click.Group):
    """The root group: commands are imported on first use, listed by section in --help."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        entry = COMMANDS.get(name)
        if entry is None:
            return None
        command: click.Command = getattr(
            import_module(f"lain_cli.commands.{entry.module}"), entry.attribute
        )
        _accept_output_option(command)
        attach_completers(command)  # procs, clusters, versions... complete by parameter role
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        for section, entries in SECTIONS.items():
            with formatter.section(f"Commands ({section})"):
                formatter.write_dl([(name, entry.summary) for name, entry in entries.items()])


def _set_output(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.ensure_object(Context).output = value


def _accept_output_option(command: click.Command) -> None:
    """Let ``-o/--output`` also follow the command (``lain ps -o json``), as users type it."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _accept_output_option(sub)
    if any(param.name == "output" for param in command.params):
        return
    command.params.append(
        click.Option(
            ["-o", "--output"],
            type=OUTPUT_FORMATS,
            expose_value=False,
            is_eager=True,
            callback=_set_output,
            help="Output format (same as the global -o).",
        )
    )


@click.group(cls=LainGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(
    __version__, "--version", "-V", prog_name="lain", message="%(prog)s %(version)s"
)
@click.option(
    "-c",
    "--cluster",
    envvar="LAIN_CLUSTER",
    show_envvar=True,
    metavar="NAME",
    help="Cluster to act on (default: the one marked in use, else the local engine).",
)
@click.option(
    "-o",
    "--output",
    type=OUTPUT_FORMATS,
    default="text",
    show_default=True,
    help="Output format; json prints one object (or JSON lines for progress) on stdout.",
)
@click.option(
    "--traceback",
    is_flag=True,
    envvar="LAIN_DEBUG",
    help="Show the Python traceback of an error (or set LAIN_DEBUG=1).",
)
@click.pass_context
def cli(ctx: click.Context, cluster: str | None, output: str, traceback: bool) -> None:
    """Ship an app described by one lain.yaml: validate, build, push, deploy, scale.

    Run commands in the directory that holds lain.yaml (or pass its path).
    """
    ctx.obj = Context(cluster=cluster, output=output, traceback=traceback)


attach_completers(cli)  # the global options (-c) complete as the commands' do


class Terminated(BaseException):
    """SIGTERM (a CI job's timeout, ``docker stop``, ``kill``) as an exception, so that what a
    command holds (its deploy lock, a secret reader, a run's secret files) is let go on the way
    out, as on Ctrl-C."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


def main(argv: list[str] | None = None) -> None:
    """Run ``lain``; the one place that turns errors into messages and exit statuses."""
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None
    try:
        _run(argv)
    finally:
        if previous is not None:  # as it was: lain may run inside another program
            signal.signal(signal.SIGTERM, previous)


def _run(argv: list[str] | None) -> None:
    debug = os.environ.get("LAIN_DEBUG", "").strip().lower() not in OFF or "--traceback" in (
        argv if argv is not None else sys.argv[1:]
    )
    try:
        status = cli.main(args=argv, prog_name="lain", standalone_mode=False)
    except Terminated:
        click.echo("lain: terminated", err=True)
        sys.exit(ExitStatus.TERMINATED)
    except click.exceptions.Abort:
        click.echo("lain: interrupted", err=True)
        sys.exit(ExitStatus.INTERRUPTED)
    except click.ClickException as e:
        e.show()
        sys.exit(ExitStatus.USAGE if isinstance(e, click.UsageError) else ExitStatus.ERROR)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        click.echo("lain: interrupted", err=True)
        sys.exit(ExitStatus.INTERRUPTED)
    except LainError as e:
        if debug:
            _show_traceback()
        click.echo(f"lain: error: {e}", err=True)
        for hint in hints_for(e):
            click.echo(f"hint: {hint}", err=True)
        sys.exit(status_for(e))
    except Exception as e:  # a bug in lain: say so briefly unless asked for the traceback
        if debug:
            _show_traceback()
            click.echo(f"lain: internal error: {type(e).__name__}: {e}", err=True)
        else:
            click.echo(
                f"lain: internal error: {type(e).__name__}: {e}\n"
                "(run again with --traceback or LAIN_DEBUG=1 for details)",
                err=True,
            )
        sys.exit(ExitStatus.ERROR)
    sys.exit(status if isinstance(status, int) else ExitStatus.OK)


def _show_traceback() -> None:
    """The traceback of the error being handled, on stderr.  The exit status stays the one the
    error maps to: scripts that set LAIN_DEBUG=1 to log details still read the same statuses."""
    import traceback

    click.echo(traceback.format_exc().rstrip("\n"), err=True)
