"""``lain ps``: what an app runs on a cluster, proc by proc and instance by instance."""

from __future__ import annotations

import click

from lain_cli.context import Context
from lain_cli.options import app_name, app_options, pass_context, selected_cluster
from lain_cli.tables import short_version, table
from lain_sdk.cluster.status import AppStatus, ProcStatus, app_status
from lain_sdk.units import format_bytes


def _fmt_cpu(cpu: float) -> str:
    return f"{cpu:g}" if cpu else "-"


def _fmt_error(error: str, age: float | None) -> str:
    if not error:
        return "-"
    return error[:60] + (f" ({_fmt_age(age)} ago)" if age is not None else "")


def _fmt_age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _fmt_state(state: str, desired: str, exit_code: int | None, oneshot: bool) -> str:
    if oneshot:  # a run of a oneshot ends: say how
        return f"{state} (exit {exit_code})" if exit_code is not None else state
    return state if desired == "running" else f"{state}->{desired}"


def _urls_text(urls: tuple[str, ...]) -> list[str]:
    """``urls: URL``, one URL a line."""
    return [("urls: " if n == 0 else "      ") + url for n, url in enumerate(urls)]


def _held_back(proc: ProcStatus) -> list[str]:
    """A line for each instance that waits for a node, or whose node is down."""
    lines = []
    for i in proc.instances:
        if i.lost:
            lines.append(f"  {proc.proc}.{i.instance}: node {i.node} is down: it is out of reach")
        if i.waiting:
            fix = f" (lain node label NODE {i.needs_label})" if i.needs_label else ""
            lines.append(f"  {proc.proc}.{i.instance}: {i.waiting}{fix}")
    return lines


def _status_text(status: AppStatus) -> str:
    release = f"release {status.release}" if status.release else "no release"
    lines = [
        f"{status.app} on {status.cluster}: {release}, "
        + ("healthy" if status.healthy else "NOT healthy")
    ]
    lines += _urls_text(status.urls)
    lines += [
        f"node {node} is down: what ran there runs elsewhere, or waits for it if it keeps data"
        for node in status.lost_nodes
    ]
    for p in status.procs:
        update = (
            f", update {p.update_state}" if p.update_state and p.update_state != "completed" else ""
        )
        # A oneshot runs to completion: how many of its runs did, not how many run.
        count = (
            f"{p.completed}/{p.desired} completed"
            if p.oneshot
            else f"{p.running}/{p.desired} running"
        )
        lines.append("")
        lines.append(
            f"{p.proc} ({p.proctype})  version {short_version(p.version)}  {count}  "
            f"cpu {_fmt_cpu(p.cpu)}  memory {format_bytes(p.memory)}{update}"
        )
        rows = [("  INSTANCE", "STATE", "HEALTH", "UP", "NODE", "ADDRESS", "LAST ERROR")]
        for i in p.instances:
            rows.append(
                (
                    f"  {p.proc}.{i.instance}",
                    _fmt_state(i.state, i.desired_state, i.exit_code, p.oneshot),
                    i.health,
                    _fmt_age(i.uptime),
                    i.node,
                    i.address or "-",
                    _fmt_error(i.error, i.error_age),
                )
            )
        if len(rows) > 1:
            lines.append(table(rows))
        lines += _held_back(p)
        if any(i.ports for i in p.instances):
            lines.append("  (published ports listen on every interface of their node)")
        if p.update_message and p.update_state not in ("", "completed"):
            lines.append(f"  {p.update_message}")
    if status.resource_instances:
        lines += ["", "resource instances (operate on one with -a NAME):"]
        for instance in status.resource_instances:
            block = _status_text(instance).split("\n")
            lines += ["", *(f"  {line}" if line else "" for line in block)]
    return "\n".join(lines)


@click.command()
@app_options
@pass_context
def ps(obj: Context, app: str | None, app_dir: str) -> None:
    """Show the app's URLs, procs and instances: state, health, address.

    The URLs are where the cluster's router serves the app's web procs, one per mountpoint
    (hosts ending in .lain left out).  For each proc: version, release and desired/running
    instances; for each instance: node, state, health, uptime, address (host:port of a
    published port on the local cluster, else its IP on the app's network) and last error.
    The app's resource instances (resource.<res>.<app>) follow, each the same way.
    """
    status = app_status(app_name(app, app_dir), cluster=selected_cluster(obj))
    obj.emit(status.to_dict(), lambda: _status_text(status))


COMMANDS = [ps]
