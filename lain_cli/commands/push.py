"""``lain push``: the app's release and meta images to the registry."""

from __future__ import annotations

import click

from lain_cli.context import Context
from lain_cli.options import app_dir_option, registry_option, report, resolve_registry
from lain_cli.progress import show_events
from lain_sdk.images.push import push_app

pass_context = click.make_pass_decorator(Context)


@click.command()
@app_dir_option
@registry_option
@click.option(
    "-v",
    "--meta-version",
    "meta_version",
    metavar="META_VERSION",
    help="Version to push (default: the checkout's, as `lain build` tagged it).",
)
@pass_context
def push(obj: Context, app_dir: str, registry: str | None, meta_version: str | None) -> None:
    """Push the app's release and meta images to the registry.

    The images must have been built first (`lain build`).  Layers the registry already has are
    not sent again.  Credentials come from `lain login`.
    """
    host = resolve_registry(obj, registry)
    result = show_events(obj, push_app(app_dir, meta_version, registry=host))
    report(obj, result.to_dict(), lambda: "\n".join(result.references))


COMMANDS = [push]
