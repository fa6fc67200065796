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
from typing import Any, NoReturn

import click
from click.core import ParameterSource

from lain_cli import __version__
from lain_cli.commands import COMMANDS, SECTIONS
from lain_cli.completion import attach_completers
from lain_cli.context import Context
from lain_cli.exit import ExitStatus, status_for
from lain_cli.hints import hints_for
from lain_sdk.errors import AppConfigError, LainError

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
        _accept_global_options(command)
        attach_completers(command)  # procs, clusters, versions... complete by parameter role
        return command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        # -a typed before a command that does not take it would be ignored: say so instead
        # (LAIN_APP set for a whole CI job is not refused).
        typed = ctx.get_parameter_source("app") is ParameterSource.COMMANDLINE
        if typed and command is not None and not _acts_on_app(command):
            raise click.UsageError(
                f"lain {name} does not act on an app named by -a/--app: leave it out", ctx=ctx
            )
        return name, command, rest

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        for section, entries in SECTIONS.items():
            with formatter.section(f"Commands ({section})"):
                formatter.write_dl([(name, entry.summary) for name, entry in entries.items()])


def _acts_on_app(command: click.Command) -> bool:
    if isinstance(command, click.Group):
        return any(_acts_on_app(sub) for sub in command.commands.values())
    return any(param.name == "app" for param in command.params)


def _set_output(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    obj = ctx.ensure_object(Context)
    # Called for every command run, given or not: the innermost one names usage errors.
    obj.command_context = ctx
    if value is not None:
        obj.output = value
    return value


def _set_cluster(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.ensure_object(Context).cluster = value


def _accept_global_options(command: click.Command) -> None:
    """Let ``-o/--output`` and ``-c/--cluster`` also follow the command (``lain ps -o json``,
    ``lain secret add ... -c prod``), as users type them: -c is the cluster everywhere."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _accept_global_options(sub)
    taken = {param.name for param in command.params}
    if "output" not in taken:
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
    if "cluster" not in taken:
        command.params.append(
            click.Option(
                ["-c", "--cluster"],
                metavar="NAME",
                expose_value=False,
                callback=_set_cluster,
                help="Cluster to act on (same as the global -c).",
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
    "-a",
    "--app",
    envvar="LAIN_APP",
    show_envvar=True,
    metavar="NAME",
    help="App to act on (default: the appname of ./lain.yaml); a command's own -a wins.",
)
@click.option(
    "-o",
    "--output",
    type=OUTPUT_FORMATS,
    default="text",
    show_default=True,
    is_eager=True,  # known before any usage error, which is then a JSON error object too
    callback=_set_output,
    help="Output format; json prints one JSON document on stdout (progress: JSON lines on stderr).",
)
@click.option(
    "--traceback",
    is_flag=True,
    envvar="LAIN_DEBUG",
    help="Show the Python traceback of an error (or set LAIN_DEBUG=1).",
)
@click.pass_context
def cli(
    ctx: click.Context, cluster: str | None, app: str | None, output: str, traceback: bool
) -> None:
    """Ship an app described by one lain.yaml: validate, build, push, deploy, scale.

    Run commands in the directory that holds lain.yaml (or pass its path, or -a APP to the
    commands that act on a deployed app).
    """
    obj = ctx.ensure_object(Context)  # main() made it, so that its error funnel knows -o
    obj.cluster, obj.app, obj.output, obj.traceback = cluster, app, output, traceback


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
    args = argv if argv is not None else sys.argv[1:]
    debug = os.environ.get("LAIN_DEBUG", "").strip().lower() not in OFF or "--traceback" in args
    context = Context()
    try:
        status = cli.main(args=argv, prog_name="lain", standalone_mode=False, obj=context)
    except Terminated:
        _fail(context, args, ExitStatus.TERMINATED, "Terminated", "lain: terminated")
    except (click.exceptions.Abort, KeyboardInterrupt):
        _fail(context, args, ExitStatus.INTERRUPTED, "Interrupted", "lain: interrupted")
    except click.UsageError as e:
        _usage_error(context, args, e)
    except click.ClickException as e:
        _fail(context, args, ExitStatus.ERROR, type(e).__name__, e.format_message())
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except LainError as e:
        if debug:
            _show_traceback()
        _fail(context, args, status_for(e), type(e).__name__, str(e), hints_for(e), _details(e))
    except Exception as e:  # a bug in lain: say so briefly unless asked for the traceback
        if debug:
            _show_traceback()
        said = f"internal error: {type(e).__name__}: {e}"
        shown = f"lain: {said}" + (
            "" if debug else "\n(run again with --traceback or LAIN_DEBUG=1 for details)"
        )
        _fail(context, args, ExitStatus.ERROR, "InternalError", said, shown=shown)
    sys.exit(status if isinstance(status, int) else ExitStatus.OK)


def _fail(
    context: Context,
    args: list[str],
    status: int,
    kind: str,
    message: str,
    hints: list[str] | None = None,
    details: dict[str, Any] | None = None,
    shown: str | None = None,
) -> NoReturn:
    """Say what failed on stderr (``lain: error: ...`` unless ``shown`` says it otherwise, then
    ``hint:`` lines) and, with -o json, as one JSON error object on stdout (unless the command
    printed its document already); exit with ``status``."""
    click.echo(shown if shown is not None else f"lain: error: {message}", err=True)
    for hint in hints or []:
        click.echo(f"hint: {hint}", err=True)
    if (context.json or _json_asked(args)) and not context.emitted:
        import json

        error = {"message": message, "exit_status": int(status), "type": kind}
        error.update(hints=hints or [], **(details or {}))
        click.echo(json.dumps({"error": error}, default=str))
    sys.exit(status)


def _details(error: LainError) -> dict[str, Any]:
    """What a JSON error object carries besides the message: a lain.yaml's problems."""
    if not isinstance(error, AppConfigError):
        return {}
    return {
        "path": error.path,
        "problems": [
            {"path": p.path, "line": p.line, "column": p.column, "key": p.key_path,
             "message": p.message}
            for p in error.problems
        ]
    }  # fmt: skip


def _usage_error(context: Context, args: list[str], error: click.UsageError) -> NoReturn:
    """A bad command line, said as every other error is (``lain: error: ...``), with the
    usage line and where the help is; exit 2."""
    ctx = error.ctx or context.command_context
    message = error.format_message()
    shown = None
    if type(error).__name__ == "NoArgsIsHelpError":  # a group without its command (click 8.2+)
        message, shown = "missing command", message
    if ctx is None:
        _fail(context, args, ExitStatus.USAGE, "UsageError", message, shown=shown)
    usage = f"{ctx.command_path} {' '.join(ctx.command.collect_usage_pieces(ctx))}"
    said = shown if shown is not None else f"lain: error: {message}\nusage: {usage}"
    hints = [f"see `{ctx.command_path} -h`"] if shown is None else []
    details = {"usage": usage}
    _fail(context, args, ExitStatus.USAGE, "UsageError", message, hints, details, shown=said)


def _json_asked(args: list[str]) -> bool:
    """Whether the command line asks for -o json: for an error found before -o was read."""
    for i, arg in enumerate(args):
        if arg == "--":
            return False
        if arg in ("-o", "--output") and args[i + 1 : i + 2] == ["json"]:
            return True
        if arg in ("-ojson", "--output=json"):
            return True
    return False


def _show_traceback() -> None:
    """The traceback of the error being handled, on stderr.  The exit status stays the one the
    error maps to: scripts that set LAIN_DEBUG=1 to log details still read the same statuses."""
    import traceback

    click.echo(traceback.format_exc().rstrip("\n"), err=True)
