"""``lain unlock``: who holds an app's deploy lock, and breaking a lock whose holder is gone."""

from __future__ import annotations

import shlex

import click

from lain_cli.context import Context
from lain_cli.exit import ExitStatus
from lain_cli.options import app_name, app_options, pass_context, selected_cluster
from lain_sdk.cluster.lock import break_lock, lock_status
from lain_sdk.cluster.lock_record import LEASE, RENEWALS_PER_LEASE, LockStatus

RENEW_SECONDS = LEASE / RENEWALS_PER_LEASE


def _broken_text(status: LockStatus) -> str:
    if not status.broken_now:
        if status.state == "free":
            return f"the lock of {status.app} is free: nothing to break"
        return status.describe()
    lock = status.lock
    if lock is None:
        return f"broke the lock of {status.app}; the next operation takes it"
    return (
        f"broke it: {status.describe()}.\nIf that {lock.operation} still runs, it fails when it "
        f"next renews the lock (within {RENEW_SECONDS:g} seconds); what it did until then stays "
        "done."
    )


def _cluster_option(obj: Context) -> str:
    return f"-c {shlex.quote(obj.cluster)} " if obj.cluster else ""


@click.command()
@click.option(
    "--force",
    is_flag=True,
    help="Break the lock, recording who broke it and when; its holder's operation fails.",
)
@app_options
@pass_context
def unlock(obj: Context, force: bool, app: str | None, app_dir: str) -> None:
    """Show who holds the app's deploy lock; with --force, break it.

    Without --force, exits with status 12 (LOCKED) while an operation holds the lock, 0 when
    it is free or free for the taking (its lease ran out, its holder is gone, or it was
    broken).  Break a lock only when its holder is gone for good (a lost CI runner): a holder
    that still runs finds the lock broken at its next renewal (within 15 seconds) and fails,
    but what it did until then stays done.
    """
    name = app_name(app, app_dir)
    cluster = selected_cluster(obj)
    if force:
        status = break_lock(name, cluster=cluster)
        obj.emit(status.to_dict(), lambda: _broken_text(status))
        return
    status = lock_status(name, cluster=cluster)
    obj.emit(status.to_dict(), status.describe)
    if status.held:
        again = f"lain {_cluster_option(obj)}unlock -a {name} --force"
        obj.info(f"hint: if that holder is gone for good, break the lock: `{again}`")
        click.get_current_context().exit(ExitStatus.LOCKED)


COMMANDS = [unlock]
