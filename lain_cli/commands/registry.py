"""``lain login``, ``lain logout`` and ``lain versions``: the registry, from the command line."""

from __future__ import annotations

import sys

import click

from lain_cli.context import Context
from lain_cli.options import app_name, app_options, registry_option, resolve_registry
from lain_cli.tables import ago, short_version, table
from lain_sdk.credentials import Credentials, CredentialStore
from lain_sdk.registry import RegistryClient, registry_login, registry_logout
from lain_sdk.versions import checkout_of, commit_time, version_subjects

pass_context = click.make_pass_decorator(Context)


def _stdin_is_terminal() -> bool:
    # Prompts only make sense on a terminal; scripts must say --password-stdin.
    return sys.stdin.isatty()


@click.command()
@click.argument("registry", metavar="REGISTRY")
@click.option("-u", "--username", metavar="USER", help="User name (prompted for when omitted).")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from standard input (for scripts and CI).",
)
@pass_context
def login(obj: Context, registry: str, username: str | None, password_stdin: bool) -> None:
    """Log in to a registry and keep the credentials.

    The credentials are checked against REGISTRY (HOST[:PORT]) first and stored only when it
    accepts them: in the system keyring, or where no keyring backend exists, in a file that only
    you can read.  Without --password-stdin the password is asked for on the terminal.

    Commands also take credentials from LAIN_REGISTRY_USERNAME and LAIN_REGISTRY_PASSWORD (for
    CI) and from Docker's own config.  Registries that speak plain HTTP, other than loopback
    ones, must be listed in LAIN_INSECURE_REGISTRIES (comma-separated).

    \b
    Examples:
      lain login registry.example.com -u alice
      echo "$TOKEN" | lain login registry.example.com -u ci --password-stdin
    """
    host = resolve_registry(obj, registry)
    interactive = _stdin_is_terminal()
    if not username:
        if password_stdin or not interactive:
            raise click.UsageError("pass the user name with -u USER")
        username = click.prompt("Username", err=True)
    if password_stdin:
        password = sys.stdin.read().rstrip("\r\n")
    elif interactive:
        password = click.prompt("Password", hide_input=True, err=True)
    else:
        raise click.UsageError(
            "standard input is not a terminal: pass --password-stdin and the password on stdin"
        )
    if not password:
        raise click.UsageError("the password is empty")

    store = CredentialStore()
    stored_in = registry_login(host, Credentials(username, password), store)
    why = store.fallback_reason  # None when the keyring took them
    if stored_in == "keyring":
        where = "in the system keyring"
    else:
        where = f"in {stored_in} ({why}; the file is readable only by you)"
    obj.emit(
        {"registry": host, "username": username, "stored_in": stored_in, "fallback_reason": why},
        f"Login Succeeded: credentials for {host} stored {where}",
    )


@click.command()
@click.argument("registry", metavar="REGISTRY")
@pass_context
def logout(obj: Context, registry: str) -> None:
    """Remove the credentials lain keeps for REGISTRY (HOST[:PORT]).

    Credentials from LAIN_REGISTRY_USERNAME/LAIN_REGISTRY_PASSWORD or Docker's own config are
    not touched; lain says so when they would still be used.
    """
    host = resolve_registry(obj, registry)
    store = CredentialStore()
    removed = registry_logout(host, store)
    obj.emit(
        {"registry": host, "removed": removed},
        f"Removed the credentials for {host}" if removed else f"No credentials stored for {host}",
    )
    remaining = store.find(host)
    if remaining is not None:
        obj.warn(f"credentials for {host} are still found in the {remaining[1]}")


# A commit subject longer than this is cut (with an ellipsis) so a row fits a terminal.
_SUBJECT_WIDTH = 60


def _versions_text(found: list[str], subjects: dict[str, str]) -> str:
    rows = [("VERSION", "AGE", "COMMIT")]
    for meta_version in found:
        subject = subjects.get(meta_version, "-")
        if len(subject) > _SUBJECT_WIDTH:
            subject = subject[: _SUBJECT_WIDTH - 1] + "…"
        made = commit_time(meta_version)
        rows.append((short_version(meta_version), ago(made) if made else "-", subject))
    return table(rows)


@click.command()
@registry_option
@app_options
@pass_context
def versions(obj: Context, registry: str | None, app: str | None, app_dir: str) -> None:
    """List the app's versions in the registry, newest first.

    A version is listed when both its release and meta images were pushed.  The newest is the
    one with the newest commit; commits made in the same second are all listed, ordered by sha.
    Each row shows the version's short form (commit time in UTC and 7-character sha, what -v
    takes, as any unique prefix of the sha does), how long ago it was committed, and its commit
    subject when the checkout in --app-dir has the commit.  With no version pushed yet, the
    list is empty and the exit status is still 0 (a note goes to stderr); -o json prints
    {"app", "registry", "versions": [...]} with the full versions.
    """
    host = resolve_registry(obj, registry)
    name = app_name(app, app_dir)
    with RegistryClient.from_env(host) as client:
        found = client.app_versions(name)
    if found or obj.json:
        obj.emit(
            {"app": name, "registry": host, "versions": found},
            lambda: _versions_text(found, version_subjects(found, checkout_of(name, app_dir))),
        )
    if not found:
        obj.info(f"no version of {name} in {host} yet: build and push one with `lain build --push`")


COMMANDS = [login, logout, versions]
