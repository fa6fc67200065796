"""``lain one-off``: a command run once on the cluster with a proc's current release."""

from __future__ import annotations

import click

from lain_cli.context import Context
from lain_cli.options import app_name, app_options, pass_context, selected_cluster, timeout_option
from lain_cli.tables import short_version
from lain_cli.terminal import check_terminal, interactive_options, relay_and_exit
from lain_sdk.cluster.oneoff import START_TIMEOUT, OneOff, run_oneoff


@click.command("one-off")
@click.argument("proc")
@click.argument("command", nargs=-1, metavar="[-- COMMAND...]")
@interactive_options
@timeout_option(
    START_TIMEOUT,
    "How long the task may take to start (pulling its image included); the command itself "
    "may run as long as it takes.",
)
@app_options
@pass_context
def one_off(
    obj: Context,
    proc: str,
    command: tuple[str, ...],
    interactive: bool,
    tty: bool,
    timeout: float,
    app: str | None,
    app_dir: str,
) -> None:
    """Run PROC's current release once on the cluster and exit with its status.

    The one-off task gets what PROC's instances run now: image, environment, secret files,
    shared volumes, user, workdir, limits, placement filters, and the app's networks (it
    reaches the app's procs and the services it uses).  A COMMAND after -- replaces PROC's
    command (no shell: give sh -c '...' for one); without one, PROC's own command runs.
    LAIN_INSTANCE_NO is 0.  Nothing routes to it, ps and deploys do not count it, and its
    service is removed when it ends, fails or is interrupted.

    A stateful proc's per-instance data (its persistent dirs) belongs to its instances and is
    not mounted: use `lain exec` to work on it.  Output is followed from the start.  With -t
    the command gets a terminal and -it makes an interactive session (what it printed before
    lain attached comes first; a line printed in that moment may show twice); with -i alone
    input is passed, but its end is not (Swarm cannot close a service's standard input):
    pipe files with `lain exec -i`.  The task runs on a node whose engine lain reaches (ssh
    or TCP, as for `lain exec`), else on the node of the cluster's engine.

    \b
    Examples:
      lain one-off web -- ./manage.py migrate
      lain one-off worker -- sh -c 'echo $DATABASE_URL'
      lain one-off -it web -- sh
    """
    check_terminal(interactive, tty)
    session = run_oneoff(
        app_name(app, app_dir),
        proc,
        list(command),
        cluster=selected_cluster(obj),
        stdin=interactive,
        tty=tty,
        timeout=timeout,
    )
    try:
        _describe(obj, session.oneoff)
    except BaseException:
        session.close()
        raise
    relay_and_exit(session, interactive=interactive, tty=tty)


def _describe(obj: Context, started: OneOff) -> None:
    if started.unmounted:
        obj.warn(
            f"{started.proc}'s per-instance data ({', '.join(started.unmounted)}) is not "
            f"mounted: its instances keep it (lain exec {started.proc} reaches it)"
        )
    obj.info(
        f"{started.service} runs {started.app} {started.proc} "
        f"({short_version(started.meta_version)}) on node {started.node}"
    )


COMMANDS = [one_off]
