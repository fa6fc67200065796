"""The root ``lain`` group, its global options and the one error funnel.

Command modules are imported here, so they must stay light at import time: heavy libraries
(docker, git, requests, rich, keyring) are imported inside the functions that need them.
"""

from __future__ import annotations

import os
import sys

import click

from lain_cli import __version__
from lain_cli.context import Context
from lain_cli.exit import ExitStatus, status_for

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "--version", "-V", prog_name="lain", message="%(prog)s %(version)s")
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
    type=click.Choice(["text", "json"]),
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


def _register() -> None:
    from lain_cli.commands import basics, build, registry, validate

    for module in (validate, basics, build, registry):
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def main(argv: list[str] | None = None) -> None:
    """Run ``lain``; the one place that turns errors into messages and exit statuses."""
    from lain_sdk.errors import LainError

    debug = os.environ.get("LAIN_DEBUG", "") not in ("", "0") or "--traceback" in (
        argv if argv is not None else sys.argv[1:]
    )
    try:
        status = cli.main(args=argv, prog_name="lain", standalone_mode=False)
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
            raise
        click.echo(f"lain: error: {e}", err=True)
        sys.exit(status_for(e))
    except Exception as e:  # a bug in lain: say so briefly unless asked for the traceback
        if debug:
            raise
        click.echo(
            f"lain: internal error: {type(e).__name__}: {e}\n"
            "(run again with --traceback or LAIN_DEBUG=1 for details)",
            err=True,
        )
        sys.exit(ExitStatus.ERROR)
    sys.exit(status if isinstance(status, int) else ExitStatus.OK)
