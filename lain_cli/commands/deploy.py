"""``lain deploy|scale|restart|releases|rollback|undeploy``: changing what runs on a cluster."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

import click

from lain_cli.context import Context
from lain_cli.options import (
    app_name,
    app_options,
    pass_context,
    registry_option,
    report,
    selected_cluster,
    timeout_option,
    wait_options,
)
from lain_cli.progress import show_events
from lain_cli.tables import short_version, table
from lain_sdk.cluster.deploy import DeployResult, deploy_app, plan_deploy
from lain_sdk.cluster.history import list_releases, rollback_app
from lain_sdk.cluster.names import parse_resource_instance
from lain_sdk.cluster.plan import Plan
from lain_sdk.cluster.releases import Release
from lain_sdk.cluster.router import router_status
from lain_sdk.cluster.scale import restart_app, scale_proc
from lain_sdk.cluster.session import Cluster
from lain_sdk.cluster.sizing import (
    MAX_CPU,
    MAX_INSTANCES,
    MIN_CPU,
    check_cpu,
    check_instances,
    parse_memory,
)
from lain_sdk.cluster.status import app_urls
from lain_sdk.cluster.undeploy import undeploy_app
from lain_sdk.errors import InvalidArgument, LainError
from lain_sdk.versions import (
    GIVEN,
    VersionChoice,
    checkout_of,
    choose_registry_version,
    registry_pool,
)

T = TypeVar("T")

# -- deploy ------------------------------------------------------------------------------------


def _plan_text(plan: Plan) -> str:
    # A client's resource instances are deployed first: their plans come first too.
    instances = [_plan_text(i) for i in plan.resource_instances]
    running = f"release {plan.current_release}" if plan.current_release else "nothing deployed"
    version = short_version(plan.meta_version)
    lines = [*instances, f"plan for {plan.app} {version} (now: {running}):"]
    if plan.create_network:
        lines.append(f"  network {plan.network}: create")
    for change in plan.procs:
        summary = change.summary()
        lines.append(f"  {change.proc}: {change.action}" + (f"  ({summary})" if summary else ""))
    lines += [f"  {where.text()}" for where in plan.data_nodes]
    lines += [
        f"  {v.proc}: {v.path} moves from the shared volume {v.shared} to a volume per "
        "instance, which starts empty: copy the data first (see the README), then deploy "
        "with --accept-new-volumes"
        for v in plan.replaced_volumes
    ]
    if not plan.changed:
        lines.append("nothing to change")
    return "\n".join(lines)


def _result_text(result: DeployResult) -> str:
    # A client's resource instances were deployed first: say how each went, then the client.
    instances = [_result_text(i) for i in result.resource_instances]
    if instances:
        return "\n".join([*instances, _result_text(replace(result, resource_instances=()))])
    if result.release is None:
        return f"{result.app} {short_version(result.meta_version)}: nothing changed"
    release = result.release
    what = f"{result.app} release {release.number} ({release.kind} of "
    what += f"{short_version(release.meta_version)})"
    if not result.waited:
        return f"{what} accepted by the cluster; not waited for (see `lain ps`)"
    return f"{what} {release.outcome}"


def _choose_version(
    obj: Context, cluster: Cluster, app: str, given: str | None, app_dir: str
) -> VersionChoice:
    """The version a deploy runs (resolved from what -v gives, else the newest in the
    registry), said on stderr with why before anything starts."""
    # A resource instance runs a version of its resource: those are the versions to look at.
    instance = parse_resource_instance(app)
    repository = instance[0] if instance is not None else app
    pool = registry_pool(cluster.registry, repository)
    choice = choose_registry_version(pool, given, app_dir=checkout_of(repository, app_dir))
    why = choice.why
    if choice.source == GIVEN:
        why = "given with -v" + (f" as {given}" if given != choice.meta_version else "")
    obj.info(f"deploying {app} {short_version(choice.meta_version)}: {why}")
    return choice


def _urls_text(urls: tuple[str, ...]) -> str:
    return "\n".join(("urls: " if n == 0 else "      ") + url for n, url in enumerate(urls))


def _report_urls(obj: Context, cluster: Cluster, app: str) -> tuple[str, ...]:
    """The app's URLs, with a warning when no router serves them."""
    urls = app_urls(app, cluster=cluster)
    if urls and not router_status(cluster, watcher=False).running:
        obj.warn(
            f"no router runs on cluster {cluster.name}: these URLs answer once "
            "`lain router up` started it"
        )
    return urls


@click.command()
@click.option(
    "-v",
    "--version",
    "version",
    metavar="META_VERSION",
    help="Version to deploy: a commit sha or its first 4+ characters, HEAD or a git ref, or "
    "the whole version (default: the newest in the registry).",
)
@click.option(
    "-p",
    "--proc",
    "procs",
    metavar="PROC",
    multiple=True,
    help="Deploy only this proc (repeat for more); others are left as they are.",
)
@click.option(
    "--plan", "plan_only", is_flag=True, help="Print what would change, and change nothing."
)
@click.option(
    "--accept-new-volumes",
    is_flag=True,
    help="Let stateful procs move from one shared volume (an earlier lain's) to a volume per "
    "instance, once their data is copied.",
)
@registry_option
@wait_options
@app_options
@pass_context
def deploy(
    obj: Context,
    version: str | None,
    procs: tuple[str, ...],
    plan_only: bool,
    accept_new_volumes: bool,
    registry: str | None,
    timeout: float,
    no_wait: bool,
    app: str | None,
    app_dir: str,
) -> None:
    """Deploy a version of the app and wait until every proc runs healthy.

    The version must be in the registry (`lain build --push`): --registry or LAIN_REGISTRY,
    else the cluster's.  -v takes a commit sha or its first 4+ characters, HEAD or a git ref
    (resolved in --app-dir's checkout), or a whole version; lain says on stderr which version
    it deploys and why (with -o json, the result's "version_source": "given" or
    "newest-in-registry").  Its lain.yaml is the one built into it, and the nodes pull its release
    image from that registry (they must be able to reach it).  Procs whose service would not
    change are left alone, so running the same deploy twice changes nothing.  When a proc
    fails, Swarm rolls it back, the other procs are put back too, and lain exits with the
    deploy-failed status: the previous release keeps serving.  Values set with `lain scale`
    stay until lain.yaml changes them.  The app's URLs come last (with -o json, as the
    result's "urls"): where the cluster's router serves its web procs.

    The apps named in use_services must run and provide the services used, or nothing is
    changed.  Resource instances (use_resources) are deployed first; an instance that runs
    keeps its version.  -a resource.<res>.<client> deploys one instance (-v: a version of the
    resource); -a of a resource app records the version new instances get, and runs nothing.
    """
    name = app_name(app, app_dir)
    cluster = selected_cluster(obj, registry)
    choice = _choose_version(obj, cluster, name, version, app_dir)
    source = {"version_source": choice.source}
    if plan_only:
        plan = plan_deploy(name, cluster=cluster, version=choice.meta_version, procs=procs or None)
        obj.emit({**plan.to_dict(), **source}, lambda: _plan_text(plan))
        return
    result = show_events(
        obj,
        deploy_app(
            name,
            cluster=cluster,
            version=choice.meta_version,
            procs=procs or None,
            timeout=timeout,
            wait=not no_wait,
            accept_new_volumes=accept_new_volumes,
        ),
    )
    urls = _report_urls(obj, cluster, name)
    report(
        obj,
        {**result.to_dict(), **source, "urls": list(urls)},
        lambda: "\n".join(filter(None, [_result_text(result), _urls_text(urls)])),
    )


def _checked(
    check: Callable[[Any], T],
) -> Callable[[click.Context, click.Parameter, Any], T | None]:
    """A click callback that checks an option with the SDK's own check (the same bounds as
    ``scale_proc`` and lain.yaml), so a value out of bounds is a usage error before anything
    is sent."""

    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> T | None:
        if value is None:
            return None
        try:
            return check(value)
        except InvalidArgument as e:
            raise click.BadParameter(str(e), ctx=ctx, param=param) from None

    return callback


@click.command()
@click.argument("proc")
@click.option(
    "-n",
    "--instances",
    type=int,
    callback=_checked(check_instances),
    metavar="N",
    help=f"Number of instances, 0 to {MAX_INSTANCES}.",
)
@click.option(
    "--cpu",
    type=float,
    callback=_checked(check_cpu),
    metavar="CPUS",
    help=f"CPU limit in CPUs, {MIN_CPU:g} to {MAX_CPU}, decimals allowed (0.5 = half a CPU).",
)
@click.option(
    "--memory",
    callback=_checked(parse_memory),
    metavar="SIZE",
    help="Memory limit with Docker's units (64m, 1g), from 6m to 1024g.",
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
    if instances is None and cpu is None and memory is None:
        raise click.UsageError("give at least one of -n/--instances, --cpu and --memory")
    name = app_name(app, app_dir)
    result = show_events(
        obj,
        scale_proc(
            name,
            proc,
            cluster=selected_cluster(obj),
            instances=instances,
            cpu=cpu,
            memory=memory,
            timeout=timeout,
            wait=not no_wait,
        ),
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
    name = app_name(app, app_dir)
    result = show_events(
        obj,
        restart_app(
            name,
            procs or None,
            cluster=selected_cluster(obj),
            timeout=timeout,
            wait=not no_wait,
        ),
    )
    done = "restarted" if result.waited else "restarting"
    report(obj, result.to_dict(), lambda: f"{name}: {done} {', '.join(result.restarted)}")


# -- releases and rollback ---------------------------------------------------------------------


def _releases_text(app: str, shown: list[Release]) -> str:
    if not shown:
        return f"{app} has no releases yet"
    rows = [("#", "KIND", "OUTCOME", "VERSION", "PROCS", "WHO", "WHEN")]
    for rel in shown:
        kind = rel.kind + (f" to {rel.rollback_of}" if rel.rollback_of else "")
        procs = ", ".join(f"{p}x{v.instances}" for p, v in sorted(rel.procs.items()))
        version = short_version(rel.meta_version)
        rows.append((str(rel.number), kind, rel.outcome, version, procs, rel.user, rel.time))
    return table(rows)


@click.command()
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=20,
    show_default=True,
    metavar="N",
    help="Show the newest N releases (0: all).",
)
@app_options
@pass_context
def releases(obj: Context, limit: int, app: str | None, app_dir: str) -> None:
    """List the app's releases, newest first: who deployed what, when, and whether it worked.

    Text shows short versions; -o json prints {"app", "releases": [...]} with full ones.
    """
    name = app_name(app, app_dir)
    found = list_releases(name, cluster=selected_cluster(obj))
    newest_first = found[::-1]
    shown = newest_first[:limit] if limit else newest_first
    obj.emit(
        {"app": name, "releases": [rel.to_dict() for rel in shown]},
        lambda: _releases_text(name, shown),
    )
    if len(shown) < len(found):
        obj.info(f"the newest {len(shown)} of {len(found)} releases; --limit 0 shows all")


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
    result = show_events(
        obj,
        rollback_app(
            app_name(app, app_dir),
            number,
            cluster=selected_cluster(obj),
            timeout=timeout,
            wait=not no_wait,
        ),
    )
    report(obj, result.to_dict(), lambda: _result_text(result))


@click.command()
@click.option(
    "-p",
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
@click.option(
    "-y", "--yes", is_flag=True, help="Purge without asking (needed where there is no terminal)."
)
@timeout_option(60, "How long to wait for the lock and for the network to free.")
@app_options
@pass_context
def undeploy(
    obj: Context,
    procs: tuple[str, ...],
    purge: bool,
    yes: bool,
    timeout: float,
    app: str | None,
    app_dir: str,
) -> None:
    """Remove the app's services and its network from the cluster.

    The release history and the secrets stay (a later deploy or rollback uses them) unless
    --purge, which deletes them with the volumes: on a terminal lain first asks you to type
    the app's name; scripts pass --yes (without a terminal, --purge needs it).
    """
    name = app_name(app, app_dir)
    cluster = selected_cluster(obj)
    if purge and not yes:
        _confirm_purge(name, procs, cluster.name)
    started = time.monotonic()
    result = show_events(
        obj,
        undeploy_app(name, cluster=cluster, procs=procs or None, purge=purge, timeout=timeout),
    )
    removed = ", ".join(result.removed_procs) or "no procs"
    report(
        obj,
        result.to_dict(),
        lambda: f"undeployed {name}: removed {removed} in {time.monotonic() - started:.1f}s",
    )


def _confirm_purge(app: str, procs: tuple[str, ...], cluster: str) -> None:
    """Ask before --purge deletes what no later deploy can bring back."""
    whose = f"procs {', '.join(procs)} of {app}" if procs else app
    history = "" if procs else "the release history, "
    what = (
        f"undeploy --purge deletes {history}the stored secrets and the volumes (with their data) "
        f"of {whose} on cluster {cluster}"
    )
    if not sys.stdin.isatty():
        raise click.UsageError(f"{what}; to go ahead without a terminal to confirm on, add --yes")
    typed = click.prompt(f"{what}.\nType {app} to go on", default="", show_default=False, err=True)
    if typed.strip() != app:
        raise LainError(f"--purge not confirmed (the app is {app}): nothing was removed")


COMMANDS = [deploy, scale, restart, releases, rollback, undeploy]
