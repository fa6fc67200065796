"""``lain secret add|ls|show|rm``: the app's secret files, kept as versioned Swarm secrets."""

from __future__ import annotations

import base64
import sys
from collections.abc import Callable, Generator
from typing import Any, BinaryIO

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
from lain_cli.tables import table
from lain_sdk.appconfig.loader import load_app_config
from lain_sdk.appconfig.model import AppConfig
from lain_sdk.cluster.secret_store import MAX_SECRET_BYTES, check_proc_name, secret_path
from lain_sdk.cluster.secrets import (
    SecretAdded,
    add_secret,
    list_secrets,
    read_secret,
    remove_secret,
)
from lain_sdk.errors import ClusterNotFound, InvalidArgument, LainError
from lain_sdk.events import Event, Message
from lain_sdk.settings import Settings


def _local_config(app: str, app_dir: str) -> AppConfig | None:
    """The lain.yaml in ``app_dir`` when it is ``app``'s (for hints), else None."""
    try:
        config = load_app_config(app_dir)
    except LainError:
        return None
    return config if config.appname == app else None


def _path(value: str) -> str:
    try:
        return secret_path(value)
    except InvalidArgument as e:
        raise click.BadParameter(str(e), param_hint="PATH") from None


def _proc(value: str) -> str:
    try:
        return check_proc_name(value)
    except InvalidArgument as e:
        raise click.BadParameter(str(e), param_hint="PROC") from None


def _quiet_cluster(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """``-c`` after ``secret add`` names the cluster, as everywhere.  It used to give the
    value, so a name no cluster has is refused without repeating it: it may be a secret."""
    if value is None:
        return
    try:
        Settings.load().cluster(value)
    except ClusterNotFound:
        raise click.BadParameter(
            "no cluster has the name given (not repeated, in case it is a secret value: "
            "give the value with --value TEXT, -f FILE or on stdin)",
            param=param,
        ) from None
    ctx.ensure_object(Context).cluster = value


def _deprecated(new: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """A hidden old option name that still works, with a warning naming the new one."""

    def warn(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is not None:
            ctx.ensure_object(Context).warn(f"{param.opts[0]} is now {new}")
        return value

    return warn


def _secret_version(old: int | None, new: int | None) -> int | None:
    if old is not None and new is not None and old != new:
        raise click.UsageError("give the version once, with --secret-version N")
    return new if new is not None else old


def _without_stored_message(
    operation: Generator[Event, None, SecretAdded], stored: str
) -> Generator[Event, None, SecretAdded]:
    """add_secret's progress but the message that the version is stored: the result line on
    stdout says that (data once: not on stderr as well)."""
    while True:
        try:
            event = next(operation)
        except StopIteration as stop:
            result: SecretAdded = stop.value
            return result
        if not (isinstance(event, Message) and event.text.startswith(stored)):
            yield event


@click.group()
def secret() -> None:
    """Store, list, read and remove the app's secret files.

    A secret file belongs to a proc and a PATH inside its containers (absolute, or relative to
    /lain/app, as in secret_files in lain.yaml).  Values are Swarm secrets, encrypted in the
    managers' Raft log.  Every `lain secret add` stores a new version; a deploy mounts the
    newest version of each path the proc declares in secret_files (mode 0400), and each
    release records the versions it mounted, so `lain rollback` puts old values back.  Only
    `lain secret show` prints a value.
    """


@secret.command("add", short_help="Store a new version of a secret file; roll it out.")
@click.argument("proc")
@click.argument("path")
@click.option(
    "--value",
    "content",
    metavar="TEXT",
    help="The value (it stays in your shell history: prefer -f or stdin).",
)
@click.option(
    "--content",
    "old_content",
    metavar="TEXT",
    hidden=True,
    callback=_deprecated("--value"),
)
@click.option(
    "-c",
    "--cluster",
    metavar="NAME",
    expose_value=False,
    callback=_quiet_cluster,
    help="Cluster to act on (same as the global -c).",
)
@click.option(
    "-f",
    "--file",
    "file",
    metavar="FILE",
    type=click.File("rb"),
    help="Read the value from FILE ('-' for stdin).",
)
@click.option(
    "--no-rollout",
    is_flag=True,
    help="Only store the new version; the next `lain deploy` mounts it.",
)
@click.option(
    "--undeclared",
    is_flag=True,
    help="Store it even though the app's lain.yaml does not declare it (yet), with a warning.",
)
@registry_option
@wait_options
@app_options
@pass_context
def add(
    obj: Context,
    proc: str,
    path: str,
    content: str | None,
    old_content: str | None,
    file: BinaryIO | None,
    no_rollout: bool,
    undeclared: bool,
    registry: str | None,
    timeout: float,
    no_wait: bool,
    app: str | None,
    app_dir: str,
) -> None:
    """Store a new version of the secret file PATH of PROC, and roll it out.

    The value comes from --value, -f or stdin.  PROC must declare PATH in secret_files in the
    app's lain.yaml: the running release's, or when the app is not deployed yet, the newest
    version's in the registry (--registry or LAIN_REGISTRY, else the cluster's).  Otherwise
    nothing is stored and lain exits with the not-found status, saying what that lain.yaml
    declares; --undeclared stores it anyway, ahead of a lain.yaml that will declare it, with
    a warning.

    When PROC runs and the lain.yaml it runs declares PATH, the new version is rolled out to
    it at once and recorded as a release (kind secret); `lain rollback` goes back to the
    previous value.  Otherwise the next deploy mounts it: secrets may be added before the
    first deploy.

    \b
    Examples:
      lain secret add web config/db.json -f db.json
      printf %s "$TOKEN" | lain secret add worker /etc/app/token
      lain secret add --undeclared web new.json -f new.json
    """
    content = content if content is not None else old_content
    if content is not None and file is not None:
        raise click.UsageError("give the value with --value or with -f, not both")
    if content is not None:
        value = content.encode()
    # One byte past Swarm's limit is enough to refuse a value: a huge file is never held whole.
    elif file is not None:
        value = file.read(MAX_SECRET_BYTES + 1)
    else:
        if sys.stdin is None or sys.stdin.isatty():
            raise click.UsageError("give the value with --value TEXT, -f FILE or on stdin")
        value = sys.stdin.buffer.read(MAX_SECRET_BYTES + 1)
    if not value:
        raise click.UsageError("the value is empty (Swarm stores no empty secret)")
    name, proc, path = app_name(app, app_dir), _proc(proc), _path(path)
    operation = add_secret(
        name,
        proc,
        path,
        value,
        cluster=selected_cluster(obj, registry),
        rollout=not no_rollout,
        allow_undeclared=undeclared,
        timeout=timeout,
        wait=not no_wait,
    )
    result = show_events(obj, _without_stored_message(operation, f"stored {path} of {name} "))
    if not result.declared:
        obj.warn(result.note)
    report(obj, result.to_dict(), lambda: _added_text(result))


def _added_text(result: SecretAdded) -> str:
    s = result.secret
    text = f"stored {s.path} of {s.app} {s.proc} as version {s.version}"
    rollout = result.rollout
    if rollout is None:
        if not result.declared:  # the note went to stderr as a warning already
            return f"{text}; nothing mounts it until a deploy whose lain.yaml declares it"
        return f"{text}; {result.note}" if result.note else text
    if rollout.release is None:
        return f"{text}; {s.proc} already mounts it"
    release = rollout.release
    state = release.outcome if rollout.waited else "accepted, not waited for"
    return f"{text}; rolled out as release {release.number} ({state})"


@secret.command("ls", short_help="List secret files: versions, dates, version in use.")
@click.argument("proc", required=False)
@app_options
@pass_context
def ls(obj: Context, proc: str | None, app: str | None, app_dir: str) -> None:
    """List the app's secret files (of PROC only, if given): versions, dates, version in use.

    Files the lain.yaml in --app-dir declares but that are not stored are listed as missing:
    a deploy would fail on them.  Values are never shown.
    """
    name = app_name(app, app_dir)
    found = list_secrets(name, cluster=selected_cluster(obj), proc=proc)
    config = _local_config(name, app_dir)
    declared = {(p.name, path) for p in (config.procs if config else ()) for path in p.secret_files}
    rows = [{**info.to_dict(), "declared": (info.proc, info.path) in declared} for info in found]
    stored = {(info.proc, info.path) for info in found}
    for p, path in sorted(declared - stored):
        if proc is None or p == proc:
            rows.append(
                {
                    "app": name,
                    "proc": p,
                    "path": path,
                    "newest": None,
                    "in_use": None,
                    "versions": [],
                    "declared": True,
                }
            )
    rows.sort(key=lambda row: (row["proc"], row["path"]))

    def text() -> str:
        if not rows:
            return f"{name} has no secret files" + (f" for {proc}" if proc else "")
        lines = [("PROC", "PATH", "VERSIONS", "IN USE", "NEWEST ADDED", "BY")]
        for row in rows:
            if not row["versions"]:
                lines.append((row["proc"], row["path"], "MISSING", "-", "-", "-"))
                continue
            newest = row["versions"][-1]
            lines.append(
                (
                    row["proc"],
                    row["path"],
                    ",".join(str(v["version"]) for v in row["versions"]),
                    f"v{row['in_use']}" if row["in_use"] else "-",
                    newest["created"][:19].replace("T", " "),
                    newest["by"] or "-",
                )
            )
        return table(lines)

    obj.emit({"app": name, "proc": proc, "secrets": rows}, text)


@secret.command("show")
@click.argument("proc")
@click.argument("path")
@click.option(
    "--secret-version",
    "version",
    type=click.IntRange(min=1),
    metavar="N",
    help="Which version (default: the newest).",
)
@click.option(
    "--version",
    "old_version",
    type=click.IntRange(min=1),
    hidden=True,
    callback=_deprecated("--secret-version"),
)
@click.option(
    "--image",
    metavar="IMAGE",
    help="Image of the task that reads it; needs sleep and cat (default: the proc's image).",
)
@timeout_option(60, "How long the reading task may take.")
@app_options
@pass_context
def show(
    obj: Context,
    proc: str,
    path: str,
    version: int | None,
    old_version: int | None,
    image: str | None,
    timeout: float,
    app: str | None,
    app_dir: str,
) -> None:
    """Print the value of the secret file PATH of PROC, exactly as stored.

    The engine never hands out secret values: lain runs a one-off task that mounts the secret
    like the proc does and prints it, reads it and removes the task at once.
    """
    value = read_secret(
        app_name(app, app_dir),
        _proc(proc),
        _path(path),
        cluster=selected_cluster(obj),
        version=_secret_version(old_version, version),
        image=image,
        timeout=timeout,
    )
    if obj.json:
        data: dict[str, Any] = {
            "app": value.app,
            "proc": value.proc,
            "path": value.path,
            "version": value.version,
        }
        try:
            data["content"] = value.content.decode("utf-8")
        except UnicodeDecodeError:
            data["content_base64"] = base64.b64encode(value.content).decode()
        obj.emit(data)
        return
    sys.stdout.flush()  # anything written as text first
    sys.stdout.buffer.write(value.content)
    sys.stdout.buffer.flush()


@secret.command("rm")
@click.argument("proc")
@click.argument("path")
@click.option(
    "--secret-version",
    "version",
    type=click.IntRange(min=1),
    metavar="N",
    help="Remove only this version (default: all of them).",
)
@click.option(
    "--version",
    "old_version",
    type=click.IntRange(min=1),
    hidden=True,
    callback=_deprecated("--secret-version"),
)
@app_options
@pass_context
def rm(
    obj: Context,
    proc: str,
    path: str,
    version: int | None,
    old_version: int | None,
    app: str | None,
    app_dir: str,
) -> None:
    """Remove the secret file PATH of PROC: every version, or --secret-version N.

    A version a running service mounts is never removed (nothing is, then): take the path out
    of secret_files and deploy, or undeploy the proc, first.  Releases that mounted a removed
    version cannot be rolled back to any more.
    """
    removed = remove_secret(
        app_name(app, app_dir),
        _proc(proc),
        _path(path),
        cluster=selected_cluster(obj),
        version=_secret_version(old_version, version),
    )
    versions = ", ".join(str(v) for v in removed.versions)
    obj.emit(
        removed.to_dict(),
        f"removed version(s) {versions} of {removed.path} of {removed.app} {removed.proc}",
    )


COMMANDS = [secret]
