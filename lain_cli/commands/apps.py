"""``lain apps``: the apps on a cluster at a glance."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import zip_longest

import click

from lain_cli.context import Context
from lain_cli.options import pass_context, selected_cluster
from lain_cli.tables import short_version, table
from lain_sdk.cluster.apps import AppSummary, ProcSummary, list_apps

# A PROCS cell holds this many characters a line before it goes on to the next, so that a
# row of an app with many procs stays narrow enough for its URLs to fit.
PROCS_WIDTH = 22
HEADER = ("APP", "RELEASE", "VERSION", "PROCS", "HEALTH", "URLS")


def _proc_text(proc: ProcSummary) -> str:
    if proc.oneshot:  # a oneshot runs to completion: how many of its runs did
        return f"{proc.proc} {proc.completed}/{proc.desired} done"
    return f"{proc.proc} {proc.running}/{proc.desired}"


def _proc_lines(procs: Sequence[ProcSummary]) -> list[str]:
    """``web 2/2, mail 1/1``, going on to another line before it grows wider than
    :data:`PROCS_WIDTH`."""
    lines: list[str] = []
    for text in map(_proc_text, procs):
        if lines and len(lines[-1]) + len(text) + 2 <= PROCS_WIDTH:
            lines[-1] += f", {text}"
        else:
            lines.append(text)
    return lines


def _rows(summary: AppSummary, under_client: bool) -> list[tuple[str, ...]]:
    """An app's rows: its first line, then its other procs and URLs, one line each."""
    name = f"  {summary.app}" if under_client else summary.app
    procs = _proc_lines(summary.procs) or ["-"]
    urls = list(summary.urls) or ["-"]
    first = (
        name,
        str(summary.release) if summary.release is not None else "-",
        short_version(summary.version) if summary.version else "-",
        procs[0],
        summary.health,
        urls[0],
    )
    more = [
        ("", "", "", proc or "", "", url or "") for proc, url in zip_longest(procs[1:], urls[1:])
    ]
    return [first, *more]


def _apps_text(found: Sequence[AppSummary], cluster: str, undeployed: bool) -> str:
    if not found:
        history = " and no release history" if undeployed else ""
        return f"no apps on cluster {cluster}{history}"
    rows: list[tuple[str, ...]] = [HEADER]
    listed: set[str] = set()
    for summary in found:
        rows += _rows(summary, under_client=summary.client in listed)
        listed.add(summary.app)
    return table(rows)


@click.command()
@click.option(
    "--all",
    "undeployed",
    is_flag=True,
    help="Also list undeployed apps that still have release history (health: undeployed).",
)
@pass_context
def apps(obj: Context, undeployed: bool) -> None:
    """List the apps on the cluster: release, version, procs, health and URLs.

    PROCS gives each proc's running/desired instances (a oneshot's: runs done of wanted);
    HEALTH is what `lain ps` says: healthy, not healthy, or updating while a rollout is under
    way.  URLS are where the cluster's router serves the app.  A resource instance
    (resource.<res>.<app>) is listed, indented, under the app it serves.  With -o json:
    {"cluster": NAME, "apps": [...]}, full versions and every proc's own.
    """
    cluster = selected_cluster(obj)
    found = list_apps(cluster=cluster, include_undeployed=undeployed)
    obj.emit(
        {"cluster": cluster.name, "apps": [a.to_dict() for a in found]},
        lambda: _apps_text(found, cluster.name, undeployed),
    )


COMMANDS = [apps]
