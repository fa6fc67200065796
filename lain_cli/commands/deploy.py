"""``lain deploy|scale|ps|logs|releases|rollback|undeploy``: running an app on a cluster."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any, TypeVar

import click

from lain_cli.commands.cluster import selected_cluster
from lain_cli.context import Context
from lain_cli.options import app_dir_option, timeout_option
from lain_cli.tables import table

pass_context = click.make_pass_decorator(Context)
F = TypeVar("F", bound=Callable[..., Any])


def app_options(f: F) -> F:
    """``-a/--app NAME`` and ``--app-dir DIR``: which app (default: lain.yaml's appname)."""
    f = app_dir_option(f)
    return click.option(
        "-a",
        "--app",
        metavar="NAME",
        envvar="LAIN_APP",
        show_envvar=True,
        help="The app (default: appname of the lain.yaml in --app-dir).",
    )(f)


def wait_options(f: F) -> F:
    f = click.option(
        "--no-wait", is_flag=True, help="Return once the cluster accepted the change."
    )(f)
    return timeout_option(300, "How long to wait for another deploy's lock, then for the rollout.")(f)


def app_name(app: str | None, app_dir: str) -> str:
    """The app a cluster command acts on: -a/--app, else the appname of the local lain.yaml
    (read alone: the deployed config comes from the version's meta image, not from here)."""
    if app:
        return app
    from lain_sdk.appconfig.appname import read_appname

    return read_appname(app_dir)


def report(obj: Context, data: dict[str, Any], text: Callable[[], str]) -> None:
    """The last word of a command that streamed progress: with -o json one more JSON line
    (``"event": "result"``), so stdout stays JSON lines throughout; else the text."""
    if obj.json:
        obj.emit_line({"event": "result", **data})
    else:
        click.echo(text())


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


# -- deploy ------------------------------------------------------------------------------------


def _plan_text(plan: Any) -> str:
    # A client's resource instances are deployed first: their plans come first too.
    instances = [_plan_text(i) for i in plan.resource_instances]
    running = f"release {plan.current_release}" if plan.current_release else "nothing deployed"
    lines = [*instances, f"plan for {plan.app} {plan.meta_version} (now: {running}):"]
    if plan.create_network:
        lines.append(f"  network {plan.network}: create")
    for change in plan.procs:
        summary = change.summary()
        lines.append(f"  {change.proc}: {change.action}" + (f"  ({summary})" if summary else ""))
    if not plan.changed:
        lines.append("nothing to change")
    return "\n".join(lines)


def _result_text(result: Any) -> str:
    # A client's resource instances were deployed first: say how each went, then the client.
    instances = [_result_text(i) for i in getattr(result, "resource_instances", ())]
    if instances:
        return "\n".join([*instances, _result_text(replace(result, resource_instances=()))])
    if result.release is None:
        return f"{result.app} {result.meta_version}: nothing changed"
    release = result.release
    if not result.waited:
        return (
            f"{result.app} release {release.number} ({release.kind} of {release.meta_version}) "
            "accepted by the cluster; not waited for (see `lain ps`)"
        )
    return (
        f"{result.app} release {release.number} ({release.kind} of {release.meta_version}) "
        f"{release.outcome}"
    )


@click.command()
@click.option(
    "-v",
    "--version",
    "version",
    metavar="META_VERSION",
    help="Version to deploy (default: the newest in the cluster's registry).",
)
@click.option(
    "--proc",
    "procs",
    metavar="PROC",
    multiple=True,
    help="Deploy only this proc (repeat for more); others are left as they are.",
)
@click.option(
    "--plan", "plan_only", is_flag=True, help="Print what would change, and change nothing."
)
@wait_options
@app_options
@pass_context
def deploy(
    obj: Context,
    version: str | None,
    procs: tuple[str, ...],
    plan_only: bool,
    timeout: float,
    no_wait: bool,
    app: str | None,
    app_dir: str,
) -> None:
    """Deploy a version of the app and wait until every proc runs healthy.

    The version must be in the cluster's registry (`lain build --push`); its lain.yaml is the
    one built into it.  Procs whose service would not change are left alone, so running the
    same deploy twice changes nothing.  When a proc fails, Swarm rolls it back, the other procs
    are put back too, and lain exits with the deploy-failed status: the previous release keeps
    serving.  Values set with `lain scale` stay until lain.yaml changes them.

    The apps named in use_services must run and provide the services used, or nothing is
    changed.  Resource instances (use_resources) are deployed first; an instance that runs
    keeps its version.  -a resource.<res>.<client> deploys one instance (-v: a version of the
    resource); -a of a resource app records the version new instances get, and runs nothing.
    """
    from lain_sdk.cluster.operations import deploy_app, plan_deploy

    name = app_name(app, app_dir)
    cluster = selected_cluster(obj)
    if plan_only:
        plan = plan_deploy(name, cluster=cluster, version=version, procs=procs or None)
        obj.emit(plan.to_dict(), lambda: _plan_text(plan))
        return
    result = obj.show_events(
        deploy_app(
            name,
            cluster=cluster,
            version=version,
            procs=procs or None,
            timeout=timeout,
            wait=not no_wait,
        )
    )
    report(obj, result.to_dict(), lambda: _result_text(result))


class _Memory(click.ParamType):
    name = "SIZE"

    def convert(self, value: Any, param: Any, ctx: Any) -> int:
        from lain_sdk.cluster.operations import parse_memory

        try:
            return parse_memory(value if isinstance(value, int) else str(value))
        except ValueError as e:
            self.fail(str(e), param, ctx)


@click.command()
@click.argument("proc")
@click.option(
    "-n", "--instances", type=click.IntRange(min=0), metavar="N", help="Number of instances."
)
@click.option(
    "--cpu",
    type=click.FloatRange(min=0, min_open=True),
    metavar="CPUS",
    help="CPU limit in CPUs, decimals allowed (0.5 = half a CPU).",
)
@click.option(
    "--memory",
    type=_Memory(),
    metavar="SIZE",
    help="Memory limit with Docker's units (64m, 1g), at least 6m.",
)
@wait_options
@app_options
@pass_context
def scale(
    obj: Context,
    proc: str,
    instances: int | None,
    cpu: float | None,
    memory: int | None,
    timeout: float,
    no_wait: bool,
    app: str | None,
    app_dir: str,
) -> None:
    """Change the instances, CPU or memory of PROC, and wait until it runs so.

    Scaled values win over lain.yaml until lain.yaml itself changes them: a later deploy keeps
    them unless the new lain.yaml has another value than the previous deploy's.
    """
    from lain_sdk.cluster.operations import scale_proc

    if instances is None and cpu is None and memory is None:
        raise click.UsageError("give at least one of -n/--instances, --cpu and --memory")
    name = app_name(app, app_dir)
    result = obj.show_events(
        scale_proc(
            name,
            proc,
            cluster=selected_cluster(obj),
            instances=instances,
            cpu=cpu,
            memory=memory,
            timeout=timeout,
            wait=not no_wait,
        )
    )
    report(obj, result.to_dict(), lambda: _result_text(result))


@click.command()
@click.argument("procs", nargs=-1, metavar="[PROC]...")
@wait_options
@app_options
@pass_context
def restart(
    obj: Context,
    procs: tuple[str, ...],
    timeout: float,
    no_wait: bool,
    app: str | None,
    app_dir: str,
) -> None:
    """Replace every instance of the app's procs (default: all) with a fresh one, and wait.

    Instances are replaced one at a time, each new one healthy before the old one stops, so
    the app keeps serving.  Version, scale and secrets stay; no release is recorded.
    """
    from lain_sdk.cluster.operations import restart_app

    name = app_name(app, app_dir)
    result = obj.show_events(
        restart_app(
            name,
            procs or None,
            cluster=selected_cluster(obj),
            timeout=timeout,
            wait=not no_wait,
        )
    )
    done = "restarted" if result.waited else "restarting"
    report(obj, result.to_dict(), lambda: f"{name}: {done} {', '.join(result.restarted)}")


# -- ps and logs -------------------------------------------------------------------------------


def _status_text(status: Any) -> str:
    from lain_sdk.cluster.desired import format_bytes

    release = f"release {status.release}" if status.release else "no release"
    lines = [
        f"{status.app} on {status.cluster}: {release}, "
        + ("healthy" if status.healthy else "NOT healthy")
    ]
    for p in status.procs:
        update = (
            f", update {p.update_state}" if p.update_state and p.update_state != "completed" else ""
        )
        lines.append("")
        lines.append(
            f"{p.proc} ({p.proctype})  version {p.version}  {p.running}/{p.desired} running  "
            f"cpu {_fmt_cpu(p.cpu)}  memory {format_bytes(p.memory)}{update}"
        )
        rows = [("  INSTANCE", "STATE", "HEALTH", "UP", "NODE", "ADDRESS", "LAST ERROR")]
        for i in p.instances:
            rows.append(
                (
                    f"  {p.proc}.{i.instance}",
                    i.state if i.desired_state == "running" else f"{i.state}->{i.desired_state}",
                    i.health,
                    _fmt_age(i.uptime),
                    i.node,
                    i.address or "-",
                    _fmt_error(i.error, i.error_age),
                )
            )
        if len(rows) > 1:
            lines.append(table(rows))
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
    """Show the app's procs and instances: state, health, address.

    For each proc: version, release and desired/running instances; for each instance: node,
    state, health, uptime, address (host:port of a published port on the local cluster, else
    its IP on the app's network) and last error.  The app's resource instances
    (resource.<res>.<app>) follow, each the same way.
    """
    from lain_sdk.cluster.status import app_status

    status = app_status(app_name(app, app_dir), cluster=selected_cluster(obj))
    obj.emit(status.to_dict(), lambda: _status_text(status))


@click.command()
@click.argument("procs", metavar="[PROC]...", nargs=-1)
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines.")
@click.option(
    "--tail", type=click.IntRange(min=0), metavar="N", help="Only the last N lines of each proc."
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

    Each line is prefixed with <proc>.<instance>; name PROCs to see only those.
    """
    from lain_sdk.cluster.status import app_logs, parse_since

    start = None
    if since:
        try:
            start = parse_since(since)
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="--since") from None
    lines: Iterable[Any] = app_logs(
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


# -- releases and rollback ---------------------------------------------------------------------


@click.command()
@app_options
@pass_context
def releases(obj: Context, app: str | None, app_dir: str) -> None:
    """List the app's releases, oldest first: who deployed what, when, and whether it worked."""
    from lain_sdk.cluster.operations import list_releases

    name = app_name(app, app_dir)
    found = list_releases(name, cluster=selected_cluster(obj))

    def text() -> str:
        if not found:
            return f"{name} has no releases yet"
        rows = [("#", "KIND", "OUTCOME", "VERSION", "PROCS", "WHO", "WHEN")]
        for rel in found:
            kind = rel.kind + (f" to {rel.rollback_of}" if rel.rollback_of else "")
            procs = ", ".join(f"{p}x{v.instances}" for p, v in sorted(rel.procs.items()))
            rows.append(
                (str(rel.number), kind, rel.outcome, rel.meta_version, procs, rel.user, rel.time)
            )
        return table(rows)

    obj.emit([rel.to_dict() for rel in found], text)


@click.command()
@click.argument("number", type=click.IntRange(min=1), required=False)
@wait_options
@app_options
@pass_context
def rollback(
    obj: Context,
    number: int | None,
    timeout: float,
    no_wait: bool,
    app: str | None,
    app_dir: str,
) -> None:
    """Go back to release NUMBER (default: the last good one before the current release).

    Images, instances and resources of that release are restored at once, and the rollback is
    recorded as a new release.
    """
    from lain_sdk.cluster.operations import rollback_app

    result = obj.show_events(
        rollback_app(
            app_name(app, app_dir),
            number,
            cluster=selected_cluster(obj),
            timeout=timeout,
            wait=not no_wait,
        )
    )
    report(obj, result.to_dict(), lambda: _result_text(result))


@click.command()
@click.option(
    "--proc",
    "procs",
    metavar="PROC",
    multiple=True,
    help="Remove only this proc (repeat for more).",
)
@click.option(
    "--purge",
    is_flag=True,
    help="Also delete the release history, the secrets and the app's volumes on this engine.",
)
@timeout_option(60, "How long to wait for the lock and for the network to free.")
@app_options
@pass_context
def undeploy(
    obj: Context,
    procs: tuple[str, ...],
    purge: bool,
    timeout: float,
    app: str | None,
    app_dir: str,
) -> None:
    """Remove the app's services and its network from the cluster.

    The release history and the secrets stay (a later deploy or rollback uses them) unless
    --purge.
    """
    from lain_sdk.cluster.operations import undeploy_app

    name = app_name(app, app_dir)
    started = time.monotonic()
    result = obj.show_events(
        undeploy_app(
            name, cluster=selected_cluster(obj), procs=procs or None, purge=purge, timeout=timeout
        )
    )
    removed = ", ".join(result.removed_procs) or "no procs"
    report(
        obj,
        result.to_dict(),
        lambda: f"undeployed {name}: removed {removed} in {time.monotonic() - started:.1f}s",
    )


COMMANDS = [deploy, scale, restart, ps, logs, releases, rollback, undeploy]
