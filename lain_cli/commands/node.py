"""``lain node ls|add|label|drain|activate|rm``: the nodes of the cluster's swarm."""

from __future__ import annotations

import click

from lain_cli.context import Context
from lain_cli.options import pass_context, report, selected_cluster, timeout_option
from lain_cli.progress import show_events
from lain_cli.tables import table
from lain_sdk.cluster.nodes import (
    DRAIN_TIMEOUT,
    JOIN_TIMEOUT,
    DrainResult,
    NodeInfo,
    activate_node,
    add_node,
    drain_node,
    label_node,
    list_nodes,
    remove_node,
)


@click.group()
def node() -> None:
    """The nodes of the cluster's swarm: list, add, label, drain, activate, remove.

    A NODE is named by its hostname, its ID or a prefix of its ID.

    \b
    Examples:
      lain node ls                            # nodes, their state and the instances on each
      lain node add --docker-host ssh://root@10.0.0.7
      lain node drain worker-2                # move its instances to other nodes
      lain node rm worker-2                   # once it is down
    """


@node.command("ls")
@pass_context
def ls(obj: Context) -> None:
    """List the nodes: role, availability, state, address, labels and lain instances."""
    found = list_nodes(selected_cluster(obj))
    obj.emit({"nodes": [n.to_dict() for n in found]}, lambda: nodes_table(found))


@node.command("add")
@click.option(
    "--docker-host",
    metavar="URL",
    required=True,
    help="The new node's engine: ssh://user@host, tcp://host:2376 or unix:///path.",
)
@click.option("--manager", is_flag=True, help="Join as a manager (default: a worker).")
@click.option(
    "--advertise-addr",
    metavar="ADDR",
    help="The address the other nodes reach it at (default: the engine picks one).",
)
@timeout_option(JOIN_TIMEOUT, "How long to wait until the managers see the node ready.")
@pass_context
def add(
    obj: Context, docker_host: str, manager: bool, advertise_addr: str | None, timeout: float
) -> None:
    """Have the engine at --docker-host join the cluster's swarm, and wait until it is ready.

    An engine in a swarm already is refused (run `docker swarm leave` on it first).
    """
    cluster = selected_cluster(obj)
    operation = add_node(
        cluster, docker_host, manager=manager, advertise_addr=advertise_addr, timeout=timeout
    )
    added = show_events(obj, operation)
    report(obj, added.to_dict(), lambda: f"added {added.role} {added.name} ({added.id[:12]})")


@node.command("label")
@click.argument("name", metavar="NODE")
@click.argument("labels", metavar="KEY=VALUE...", nargs=-1)
@click.option("--rm", "removed", metavar="KEY", multiple=True, help="Remove a label (repeat).")
@click.option(
    "--force", is_flag=True, help="Also change lain.data.* labels (lain sets those itself)."
)
@pass_context
def label(
    obj: Context, name: str, labels: tuple[str, ...], removed: tuple[str, ...], force: bool
) -> None:
    """Set labels on a node (KEY=VALUE) and remove others (--rm KEY).

    Placement constraints (node.labels.KEY==VALUE) pick nodes by them.
    """
    wanted = {}
    for item in labels:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="KEY=VALUE")
        wanted[key] = value
    if not wanted and not removed:
        raise click.UsageError("give a KEY=VALUE to set or a --rm KEY to remove")
    found = label_node(selected_cluster(obj), name, wanted, removed, force=force)
    shown = ", ".join(f"{k}={v}" for k, v in sorted(found.labels.items())) or "none"
    obj.emit(found.to_dict(), f"{found.name}: labels {shown}")


@node.command("drain")
@click.argument("name", metavar="NODE")
@click.option(
    "--force",
    is_flag=True,
    help="Drain a node holding stateful procs' data: their instances stop until it is back.",
)
@timeout_option(DRAIN_TIMEOUT, "How long to wait until its instances run elsewhere.")
@pass_context
def drain(obj: Context, name: str, force: bool, timeout: float) -> None:
    """Move every instance off a node and wait until they run elsewhere.

    Swarm schedules nothing on a drained node until `lain node activate` takes it back.
    """
    result = show_events(obj, drain_node(selected_cluster(obj), name, force=force, timeout=timeout))
    report(obj, result.to_dict(), lambda: drain_text(result))


@node.command("activate")
@click.argument("name", metavar="NODE")
@pass_context
def activate(obj: Context, name: str) -> None:
    """Let Swarm schedule instances on a node again (after a drain)."""
    found = activate_node(selected_cluster(obj), name)
    obj.emit(found.to_dict(), f"{found.name} is active")


@node.command("rm")
@click.argument("name", metavar="NODE")
@click.option(
    "--force",
    is_flag=True,
    help="Remove it even when it is up, holds data, or is a manager needed for quorum.",
)
@pass_context
def rm(obj: Context, name: str, force: bool) -> None:
    """Remove a node from the swarm (a manager is demoted first).

    The node should be down: drain it and stop its engine, or run `docker swarm leave` there.
    """
    removed = remove_node(selected_cluster(obj), name, force=force)
    demoted = " (demoted from manager first)" if removed.demoted else ""
    obj.emit(removed.to_dict(), f"removed node {removed.name}{demoted}")


def nodes_table(found: list[NodeInfo]) -> str:
    rows: list[tuple[str, ...]] = [
        ("NAME", "ID", "ROLE", "MANAGER", "AVAILABILITY", "STATE", "ADDRESS", "ENGINE", "LABELS")
    ]
    for n in found:
        labels = ",".join(f"{k}={v}" for k, v in sorted(n.labels.items()))
        rows.append(
            (
                n.name,
                n.id[:12],
                n.role,
                n.manager_status or "-",
                n.availability,
                n.state,
                n.address,
                n.engine_version or "-",
                labels or "-",
            )
        )
    lines = [table(rows)]
    for n in found:
        if n.instances:
            running = ", ".join(f"{i.app}/{i.proc}.{i.slot}" for i in n.instances)
            lines.append(f"{n.name}: {running}")
    return "\n".join(lines)


def drain_text(result: DrainResult) -> str:
    lines = [f"{result.node.name} is drained"]
    if result.moved:
        lines.append(f"moved: {', '.join(result.moved)} ({result.seconds:.0f}s)")
    if result.stopped:
        lines.append(
            f"stopped: {', '.join(result.stopped)}: they wait for the node's data, until "
            "`lain node activate` takes it back"
        )
    return "\n".join(lines)


COMMANDS = [node]
