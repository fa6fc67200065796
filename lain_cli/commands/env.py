"""``lain env ls|set|unset``: config vars, set on the cluster and rolled out as releases."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TextIO, TypeVar

import click

from lain_cli.context import Context
from lain_cli.options import (
    app_name,
    app_options,
    pass_context,
    registry_option,
    report,
    selected_cluster,
    wait_options,
)
from lain_cli.progress import show_events
from lain_cli.tables import table
from lain_sdk.cluster.env import HIDDEN, EnvChanged, EnvListing, list_env, set_env

F = TypeVar("F", bound=Callable[..., Any])
_NO_ROLLOUT_HELP = "Only store the change; the next deploy applies it."
_PROC_HELP = "The proc's own vars (over the app's), instead of the whole app's."


def _pairs(values: tuple[str, ...]) -> dict[str, str]:
    """``KEY=VALUE`` arguments as a dict (the value may hold ``=`` and be empty)."""
    found = {}
    for value in values:
        name, sep, text = value.partition("=")
        if not sep or not name:
            raise click.BadParameter(
                f"{value!r} is not KEY=VALUE (to take a var out: lain env unset {value})",
                param_hint="KEY=VALUE",
            )
        found[name] = text
    return found


def _file_pairs(file: TextIO) -> dict[str, str]:
    """The ``KEY=VALUE`` lines of an env file (docker's format: ``#`` comments and blank lines
    skipped, no quoting: the rest of the line is the value)."""
    found = {}
    name = getattr(file, "name", "FILE")
    for number, line in enumerate(file.read().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{name}:{number}: not KEY=VALUE", param_hint="--env-file")
        found[key.strip()] = value
    return found


@click.group()
def env() -> None:
    """Config vars: environment variables set on the cluster, not in lain.yaml.

    A change is stored in the cluster (a Swarm secret: encrypted, never shown by the engine)
    and rolled out at once as a release of kind env, one instance at a time with health
    checks, like a deploy of the running version; `lain rollback` puts the previous values
    back.  Containers get, later winning: lain.yaml's env, the app's config vars, the proc's
    own (--proc), then lain's own LAIN_* and DEPLOYD_* variables.  Values never appear in
    labels or release records; `lain env ls` hides values of secret-looking names unless
    --show.
    """


@env.command("ls")
@click.option("-p", "--proc", metavar="PROC", help="Only the app's vars and this proc's.")
@click.option("--show", is_flag=True, help="Show every value, secret-looking ones too.")
@app_options
@pass_context
def ls(obj: Context, proc: str | None, show: bool, app: str | None, app_dir: str) -> None:
    """List the app's config vars and whether its procs run with them.

    Values of names like *_TOKEN, *_PASSWORD, *SECRET*, *_KEY, and of URLs holding a
    password, are hidden unless --show (in JSON too: "value" is null, "hidden" true).
    """
    listing = list_env(app_name(app, app_dir), cluster=selected_cluster(obj), proc=proc)
    obj.emit(listing.to_dict(show), lambda: _listing_text(listing, show))


def _listing_text(listing: EnvListing, show: bool) -> str:
    if not listing.variables:
        return f"{listing.app} has no config vars (lain env set KEY=VALUE sets one)"
    rows = [("NAME", "VALUE", "PROC")]
    for var in listing.variables:
        value = HIDDEN if var.hidden and not show else var.value
        rows.append((var.name, value.replace("\n", "\\n"), var.proc or "(app)"))
    lines = [table(rows), ""]
    lines.append(f"set {listing.version}" + (f", by {listing.by}" if listing.by else ""))
    if listing.pending:
        lines.append(
            f"not rolled out yet to: {', '.join(listing.pending)} (the next deploy applies it)"
        )
    return "\n".join(lines)


def _change_options(command: F) -> F:
    """The options ``env set`` and ``env unset`` share (what to change, and how to roll it
    out), passed on to :func:`_change` as they are."""
    for option in reversed(
        (
            click.option("-p", "--proc", metavar="PROC", help=_PROC_HELP),
            click.option(
                "--no-rollout",
                is_flag=True,
                help="Only store the change; the next deploy applies it.",
            ),
            registry_option,
            wait_options,
            app_options,
            pass_context,
        )
    ):
        command = option(command)
    return command


@env.command("set")
@click.argument("pairs", nargs=-1, metavar="KEY=VALUE...")
@click.option(
    "--env-file",
    "env_file",
    metavar="FILE",
    type=click.File("r"),
    help="Read KEY=VALUE lines from FILE ('-' for stdin), as docker's --env-file: # comments "
    "and blank lines skipped, the rest of a line is the value. Keeps values out of shell history.",
)
@_change_options
def set_command(
    obj: Context, pairs: tuple[str, ...], env_file: TextIO | None, **change: Any
) -> None:
    """Set config vars and roll them out.

    Each KEY=VALUE sets KEY (VALUE may be empty).  With --proc they are PROC's own and only
    PROC restarts; otherwise they are the whole app's and every proc restarts, one instance
    at a time.  When the app is not deployed, the first deploy applies them.

    \b
    Examples:
      lain env set LOG_LEVEL=debug FEATURE_X=1
      lain env set -p worker CONCURRENCY=8
      lain env set --env-file production.env
    """
    values = {**(_file_pairs(env_file) if env_file is not None else {}), **_pairs(pairs)}
    if not values:
        raise click.UsageError("give KEY=VALUE arguments or --env-file FILE")
    _change(obj, values, (), **change)


@env.command("unset")
@click.argument("names", nargs=-1, required=True, metavar="KEY...")
@_change_options
def unset(obj: Context, names: tuple[str, ...], **change: Any) -> None:
    """Take config vars out and roll the change out (as `lain env set` does)."""
    _change(obj, {}, names, **change)


def _change(
    obj: Context,
    values: dict[str, str],
    names: tuple[str, ...],
    *,
    proc: str | None,
    no_rollout: bool,
    registry: str | None,
    timeout: float,
    no_wait: bool,
    app: str | None,
    app_dir: str,
) -> None:
    operation = set_env(
        app_name(app, app_dir),
        values,
        unset=names,
        proc=proc,
        cluster=selected_cluster(obj, registry),
        rollout=not no_rollout,
        timeout=timeout,
        wait=not no_wait,
    )
    result: EnvChanged = show_events(obj, operation)
    report(obj, result.to_dict(), lambda: _changed_text(result))


def _changed_text(result: EnvChanged) -> str:
    if not result.version:
        return f"{result.app}: {result.note}"
    where = f"{result.app} {result.proc}" if result.proc else result.app
    text = f"{where}: {', '.join(result.changed)} changed (set {result.version})"
    rollout = result.result
    if rollout is None:
        return f"{text}; {result.note}"
    if rollout.release is None:
        return f"{text}; its procs already run with it"
    state = rollout.release.outcome if rollout.waited else "accepted, not waited for"
    return f"{text}; rolled out as release {rollout.release.number} ({state})"


COMMANDS = [env]
