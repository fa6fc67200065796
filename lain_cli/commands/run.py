"""``lain run`` and ``lain exec``: a proc in a local container, a command in a running instance."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from lain_cli.context import Context
from lain_cli.options import (
    app_dir_option,
    app_name,
    app_options,
    pass_context,
    selected_cluster,
)
from lain_cli.terminal import attach, check_terminal, interactive_options, relay_and_exit
from lain_sdk.appconfig.loader import load_app_config
from lain_sdk.appconfig.model import Proc
from lain_sdk.cluster.env import proc_env
from lain_sdk.cluster.exec import exec_in_instance
from lain_sdk.cluster.run import RunResult, finish_run, local_release_image, run_proc, stop_run
from lain_sdk.cluster.secret_store import secret_path
from lain_sdk.cluster.secrets import read_proc_secrets
from lain_sdk.cluster.session import Cluster
from lain_sdk.engine import EngineClient, connect
from lain_sdk.errors import InvalidArgument, LainError
from lain_sdk.git import GitInfo, short_version
from lain_sdk.settings import ClusterSettings
from lain_sdk.versions import local_pool, resolve_version


def _secret_files(values: tuple[str, ...]) -> dict[str, bytes]:
    """``--secret-file PATH=FILE`` options as container path -> the local file's bytes."""
    files = {}
    for value in values:
        target, sep, local = value.partition("=")
        if not sep or not target or not local:
            raise click.BadParameter(f"{value!r} is not PATH=FILE", param_hint="--secret-file")
        try:
            files[secret_path(target)] = Path(local).expanduser().read_bytes()
        except InvalidArgument as e:
            raise click.BadParameter(str(e), param_hint="--secret-file") from None
        except OSError as e:
            raise click.BadParameter(
                f"cannot read {local}: {e.strerror}", param_hint="--secret-file"
            ) from None
    return files


# What `lain exec` runs when no command is given: a shell, as `heroku run`'s default is bash.
DEFAULT_EXEC_COMMAND = ("sh",)


def _instance_and_command(args: tuple[str, ...]) -> tuple[int | None, list[str]]:
    """Split ``[INSTANCE] [COMMAND...]``: a leading number is the instance (click has already
    taken away the ``--``)."""
    if args and args[0].isdigit():
        if int(args[0]) < 1:
            raise click.BadParameter("instance numbers start at 1", param_hint="INSTANCE")
        return int(args[0]), list(args[1:])
    return None, list(args)


def _on_a_terminal() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def _run_version(
    client: EngineClient, app: str, given: str | None, app_dir: str, cluster: ClusterSettings
) -> tuple[str, str]:
    """The version `lain run` runs and why: -v's among the release images on the engine, else
    the checkout's (which a deploy does not default to: it takes the registry's newest)."""
    if given:
        pool = local_pool(client, app, registry=cluster.registry)
        found = resolve_version(given, pool, app_dir=app_dir)
        return found, "given with -v" + (f" as {given}" if given != found else "")
    info = GitInfo.from_path(app_dir)
    dirty = " with its uncommitted changes" if info.dirty else ""
    why = f"the checkout's HEAD{dirty} (lain deploy takes the registry's newest)"
    return info.meta_version, why


@click.command()
@click.argument("proc")
@click.argument("command", nargs=-1, metavar="[-- COMMAND...]")
@click.option(
    "-v",
    "--version",
    "version",
    metavar="META_VERSION",
    help="Run this version built here: a commit sha or its first 4+ characters, HEAD or a git "
    "ref, or the whole version (default: the checkout's, uncommitted changes included).",
)
@click.option(
    "--secret-file",
    "secret_files",
    metavar="PATH=FILE",
    multiple=True,
    help="Put local FILE at PATH instead of reading that secret from the cluster (repeat).",
)
@click.option(
    "--rm",
    "remove",
    is_flag=True,
    help="Run in the foreground, print its output, remove it when it ends.",
)
@click.option(
    "--replace",
    is_flag=True,
    help="Replace the proc's container even while it runs (a stopped one always is).",
)
@interactive_options
@app_dir_option
@pass_context
def run(
    obj: Context,
    proc: str,
    command: tuple[str, ...],
    version: str | None,
    secret_files: tuple[str, ...],
    remove: bool,
    replace: bool,
    interactive: bool,
    tty: bool,
    app_dir: str,
) -> None:
    """Run PROC of the app's built release in a local container.

    The container gets what a deploy gives instance 1 of PROC: image, command, entrypoint,
    user, workdir, environment with LAIN_APPNAME, LAIN_PROCNAME, LAIN_APP_RELEASE_VERSION,
    LAIN_DOMAIN (of the selected cluster) and LAIN_INSTANCE_NO=1, limits, healthcheck, and
    its port published on 127.0.0.1.  Secret files PROC declares are put at their paths
    (mode 0400): from --secret-file, else read from the selected cluster.  By default the
    container runs detached and lain prints its name and address; with --rm it runs in the
    foreground and lain exits with its status; -i and -t (as for `lain exec`) imply --rm.
    Persistent dirs get named volumes of their own, kept from one run to the next.
    A COMMAND after -- replaces the proc's.  The container of an earlier run of PROC is
    replaced when it has stopped; while it runs, lain refuses (exit status 1) unless --replace.

    \b
    Examples:
      lain run web
      lain run --rm worker -- sh -c 'ls -l /lain/app'
      lain run -it web -- sh
      lain run web --secret-file config.json=./dev-config.json
    """
    check_terminal(interactive, tty)
    remove = remove or interactive or tty
    config = load_app_config(app_dir)
    found = config.proc(proc)
    cluster = selected_cluster(obj)
    client = connect()
    meta_version, why = _run_version(client, config.appname, version, app_dir, cluster.settings)
    obj.info(f"running {config.appname} {proc} {short_version(meta_version)}: {why}")
    image = local_release_image(client, config.appname, meta_version, cluster.settings.registry)
    files = _run_secret_files(obj, config.appname, found, cluster, _secret_files(secret_files))
    result = run_proc(
        config,
        proc,
        meta_version=meta_version,
        image=image,
        cluster=cluster,
        secret_files=files,
        config_vars=_run_config_vars(obj, config.appname, proc, cluster),
        command=command or None,
        replace_existing=replace,
        follow=remove,
        stdin=interactive,
        tty=tty,
        engine=client,
    )
    if result.replaced:
        obj.info(f"replaced the {result.replaced} container {result.name} of an earlier run")
    if not remove:
        where = f" at {result.address}" if result.address else ""
        obj.emit(
            result.to_dict(),
            f"{result.name} runs {config.appname} {proc} ({short_version(meta_version)}){where}\n"
            f"  logs: docker logs -f {result.name}    stop: docker rm -f {result.name}"
            + "".join(
                f"\n  volume: {volume} (kept after the container)" for volume in result.volumes
            ),
        )
        return
    _foreground(obj, client, result, interactive=interactive, tty=tty)


def _run_secret_files(
    obj: Context, app: str, found: Proc, cluster: Cluster, given: dict[str, bytes]
) -> dict[str, bytes]:
    """The secret files a local run mounts: those given, and the rest read from the cluster."""
    if all(path in given for path in found.secret_files):
        return given
    read, warnings = read_proc_secrets(app, found, cluster=cluster, skip=list(given))
    for warning in warnings:
        obj.warn(warning)
    return {**read, **given}


def _run_config_vars(obj: Context, app: str, proc: str, cluster: Cluster) -> dict[str, str]:
    """The cluster's config vars for a local run of ``proc``; none, with a warning, when the
    cluster cannot be read (a local run need not reach it)."""
    try:
        return proc_env(app, proc, cluster=cluster)
    except LainError as e:
        obj.warn(f"running without the config vars of {app} on {cluster.name}: {e}")
        return {}


def _foreground(
    obj: Context, client: EngineClient, result: RunResult, *, interactive: bool, tty: bool
) -> None:
    assert result.attached is not None  # run_proc attaches when asked to follow
    obj.info(f"{result.name} started" + (f" at {result.address}" if result.address else ""))
    try:
        attach(result.attached, interactive=interactive, tty=tty)
    except KeyboardInterrupt:
        stop_run(client, result.container, remove=True)
        raise
    finally:
        result.attached.close()
    code = finish_run(client, result.container, remove=True)
    click.get_current_context().exit(code)


@click.command("exec")
@click.argument("proc")
@click.argument("args", nargs=-1, metavar="[INSTANCE] [-- COMMAND...]")
@interactive_options
@app_options
@pass_context
def exec_command(
    obj: Context,
    proc: str,
    args: tuple[str, ...],
    interactive: bool,
    tty: bool,
    app: str | None,
    app_dir: str,
) -> None:
    """Run COMMAND in a running instance of PROC and exit with its status.

    INSTANCE is the instance number `lain ps` shows (default: the lowest running one).  The
    command runs without a shell (give sh -c '...' for one); its output is streamed.  With -i
    it reads lain's standard input; with -t it gets a terminal, and -it makes an interactive
    session in which keys such as Ctrl-C go to the command.  Without COMMAND, a shell (sh)
    reads lain's standard input: interactive (as with -it) when standard input and output
    are a terminal.  An instance on another node is reached through that node's engine, the
    way the cluster's engine is (same ssh user, or same TCP port and certificates).

    \b
    Examples:
      lain exec web
      lain exec web -- ls -l /lain/app
      lain exec worker 2 -- sh -c 'echo $LAIN_INSTANCE_NO'
      lain exec -i web -- sh -c 'cat > /tmp/dump.sql' < dump.sql
    """
    instance, command = _instance_and_command(args)
    if not command:
        command = list(DEFAULT_EXEC_COMMAND)
        interactive = True
        tty = tty or _on_a_terminal()
    check_terminal(interactive, tty)
    session = exec_in_instance(
        app_name(app, app_dir),
        proc,
        list(command),
        cluster=selected_cluster(obj),
        instance=instance,
        stdin=interactive,
        tty=tty,
    )
    relay_and_exit(session, interactive=interactive, tty=tty)


COMMANDS = [run, exec_command]
