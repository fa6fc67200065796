"""``lain router up|status|down``: the cluster's web and stream router."""

from __future__ import annotations

import time

import click

from lain_cli.context import Context
from lain_cli.options import pass_context, report, selected_cluster, timeout_option
from lain_cli.progress import show_events
from lain_cli.tables import table
from lain_sdk.cluster.router import (
    ROUTER_TIMEOUT,
    RouterStatus,
    router_down,
    router_status,
    router_up,
)


@click.group()
def router() -> None:
    """The cluster's router: nginx serving web procs by mountpoint, and stream ports.

    \b
    Examples:
      lain router up          # start it (lain cluster up does on the local cluster)
      lain router status      # its nodes, configuration generation, last reload and errors
    """


@router.command("up")
@timeout_option(ROUTER_TIMEOUT, "How long to wait until the router runs on every node.")
@pass_context
def up(obj: Context, timeout: float) -> None:
    """Start the router, or bring it to this lain's version and the cluster's settings.

    It runs on the nodes the cluster's router.constraint picks (managers by default) and
    listens on router.http_port and router.https_port of each.
    """
    cluster = selected_cluster(obj)
    status = show_events(obj, router_up(cluster, timeout=timeout))
    report(obj, status.to_dict(), lambda: status_text(status))


@router.command("status")
@pass_context
def status(obj: Context) -> None:
    """Show the router's nodes, its configuration's generation, last reload and errors."""
    found = router_status(selected_cluster(obj))
    obj.emit(found.to_dict(), lambda: status_text(found))


@router.command("down")
@pass_context
def down(obj: Context) -> None:
    """Remove the router's service: apps stop being served by their mountpoints."""
    removed = router_down(selected_cluster(obj))
    obj.emit({"removed": removed}, "removed the router" if removed else "no router was running")


def status_text(status: RouterStatus) -> str:
    if not status.running:
        return "no router runs on this cluster: start it with `lain router up`"
    lines = [f"router: {status.image}", f"nodes:  {status.constraint}", ""]
    lines.append(
        table(
            [("NODE", "STATE", "ERROR")]
            + [
                (t.node, t.state, t.error or "-")
                for t in status.tasks
                if t.desired_state == "running"
            ]
        )
    )
    streams = [t for t in status.stream_tasks if t.desired_state == "running"]
    if streams:
        running = sum(1 for t in streams if t.state == "running")
        lines.append(f"\nstream router: running on {running} of {len(streams)} node(s)")
    watcher = status.watcher
    if watcher:
        applied = watcher.get("applied_at")
        ago = f"{time.time() - applied:.0f}s ago" if isinstance(applied, (int, float)) else "never"
        lines += [
            "",
            f"configuration: generation {watcher.get('generation')}, applied {ago} in "
            f"{watcher.get('apply_ms')} ms on {watcher.get('node') or 'this node'}",
            f"serving: {watcher.get('routes', 0)} routes on {watcher.get('hosts', 0)} hosts, "
            f"{watcher.get('upstreams', 0)} upstreams, {watcher.get('streams', 0)} stream ports",
        ]
        for problem in watcher.get("problems") or ():
            lines.append(
                f"not served: {problem.get('app')} {problem.get('proc')}: {problem.get('message')}"
            )
        if watcher.get("last_error"):
            lines.append(f"last error: {watcher['last_error']}")
    return "\n".join(lines)


COMMANDS = [router]
