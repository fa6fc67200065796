"""``lain logs``: what an app's procs print, merged by time."""

from __future__ import annotations

from collections.abc import Iterable

import click

from lain_cli.context import Context
from lain_cli.options import app_name, app_options, pass_context, selected_cluster
from lain_sdk.cluster.logs import LogLine, app_logs, parse_since
from lain_sdk.errors import InvalidArgument


@click.command()
@click.argument("procs", metavar="[PROC]...", nargs=-1)
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines.")
@click.option(
    "--tail",
    type=click.IntRange(min=0),
    metavar="N",
    help="Only the last N lines of each instance, from its current container.",
)
@click.option(
    "--since",
    metavar="TIME",
    help="Only lines since TIME: a duration (10m, 2h), a Unix time or an ISO time.",
)
@app_options
@pass_context
def logs(
    obj: Context,
    procs: tuple[str, ...],
    follow: bool,
    tail: int | None,
    since: str | None,
    app: str | None,
    app_dir: str,
) -> None:
    """Print the logs of the app's procs, merged by time.

    Each line is prefixed with <proc>.<instance>; name PROCs to see only those.  Without
    --tail, every line the engine keeps is printed, those of containers that earlier rollouts
    or restarts replaced included; with --tail N, the last N lines of each instance's current
    container.  With -f, those lines come first, in time order, then new lines as they are
    written, each once.
    """
    start = None
    if since:
        try:
            start = parse_since(since)
        except InvalidArgument as e:
            raise click.BadParameter(str(e), param_hint="--since") from None
    lines: Iterable[LogLine] = app_logs(
        app_name(app, app_dir),
        cluster=selected_cluster(obj),
        procs=procs or None,
        follow=follow,
        tail=tail,
        since=start,
    )
    if not follow:
        lines = list(lines)  # all there already: align the prefixes on the widest
    width = max((len(line.source) for line in lines), default=0) if not follow else 0
    for line in lines:
        if obj.json:
            obj.emit_line(line.to_dict())
        else:
            width = max(width, len(line.source))
            click.echo(f"{line.source.ljust(width)} | {line.text}")


COMMANDS = [logs]
