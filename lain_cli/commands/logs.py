"""``lain logs``: what an app's procs print, merged by time; with ``--access``, the requests the
cluster's router answered for it."""

from __future__ import annotations

from collections.abc import Iterable

import click

from lain_cli.context import Context
from lain_cli.options import app_name, app_options, pass_context, selected_cluster
from lain_sdk.cluster.logs import AccessRecord, LogLine, access_logs, app_logs, parse_since
from lain_sdk.errors import InvalidArgument


def access_text(record: AccessRecord) -> str:
    """``TIME STATUS METHOD HOST URI DURATION UPSTREAM``: one request a line."""
    duration = f"{record.duration * 1000:.0f}ms"
    return " ".join(
        [
            record.time or "-",
            str(record.status),
            record.method or "-",
            record.host or "-",
            record.uri or "-",
            duration,
            record.upstream or "-",
        ]
    )


@click.command()
@click.argument("procs", metavar="[PROC]...", nargs=-1)
@click.option(
    "-p",
    "--proc",
    "more_procs",
    metavar="PROC",
    multiple=True,
    help="Only this proc (repeat for more); the same as naming it as an argument.",
)
@click.option(
    "--access",
    is_flag=True,
    help="The requests the cluster's router answered for the app, not what its procs print.",
)
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines.")
@click.option(
    "-t",
    "--timestamps",
    is_flag=True,
    help="Begin each line with the time the engine read it (RFC 3339, UTC, in nanoseconds); "
    "access records begin with theirs anyway.",
)
@click.option(
    "--tail",
    type=click.IntRange(min=0),
    metavar="N",
    help="Only the last N lines of each instance, from its current container "
    "(with --access: the last N requests).",
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
    more_procs: tuple[str, ...],
    access: bool,
    follow: bool,
    timestamps: bool,
    tail: int | None,
    since: str | None,
    app: str | None,
    app_dir: str,
) -> None:
    """Print the logs of the app's procs, merged by time.

    Each line is prefixed with <proc>.<instance> (with -t, after the time the engine read
    it, as docker service logs --timestamps does); name PROCs to see only those.  With -o
    json, one object a line: time, proc, instance, text.  Without
    --tail, every line the engine keeps is printed, those of containers that earlier rollouts
    or restarts replaced included; with --tail N, the last N lines of each instance's current
    container.  With -f, those lines come first, in time order, then new lines as they are
    written, each once.

    With --access, the app's access log instead: the requests the cluster's router answered
    for it, on every node, one a line (TIME STATUS METHOD HOST URI DURATION UPSTREAM; with
    -o json, the router's records as it wrote them).  UPSTREAM is the instance that answered
    ("-" when none did, as in a 503 with no instance ready).  --tail N looks for the last N
    requests in the last 100,000 lines the router wrote on each node; --since without --tail
    reads all there is since then.  The log lives as long as the router's containers: the
    swarm keeps the last few of each node.
    """
    start = None
    if since:
        try:
            start = parse_since(since)
        except InvalidArgument as e:
            raise click.BadParameter(str(e), param_hint="--since") from None
    name = app_name(app, app_dir)
    named = [*procs, *more_procs] or None
    if access:
        _access(obj, name, named, follow, tail, start)
        return
    lines: Iterable[LogLine] = app_logs(
        name,
        cluster=selected_cluster(obj),
        procs=named,
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
            stamp = f"{line.time or '-'} " if timestamps else ""
            click.echo(f"{stamp}{line.source.ljust(width)} | {line.text}")


def _access(
    obj: Context,
    app: str,
    procs: list[str] | None,
    follow: bool,
    tail: int | None,
    since: float | None,
) -> None:
    records = access_logs(
        app, cluster=selected_cluster(obj), procs=procs, follow=follow, tail=tail, since=since
    )
    printed = 0
    for record in records:
        printed += 1
        if obj.json:
            obj.emit_line(record.to_dict())
        else:
            click.echo(access_text(record))
    if not printed and not follow:
        which = f" ({', '.join(procs)})" if procs else ""
        obj.info(f"the router's log has no request for {app}{which}")


COMMANDS = [logs]
