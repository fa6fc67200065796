"""``lain push``: the app's release and meta images to the registry."""

from __future__ import annotations

import click

from lain_cli.context import Context
from lain_cli.options import app_dir_option, registry_option, report, resolve_registry
from lain_cli.progress import show_events
from lain_sdk.appconfig.appname import read_appname
from lain_sdk.engine import EngineClient, connect
from lain_sdk.images.push import push_app
from lain_sdk.versions import local_pool, resolve_version

pass_context = click.make_pass_decorator(Context)


def _built_version(engine: EngineClient, given: str, app_dir: str) -> str:
    """The version ``given`` names among the versions built on the engine."""
    pool = local_pool(engine, read_appname(app_dir), phases=("release", "meta"))
    return resolve_version(given, pool, app_dir=app_dir)


@click.command()
@app_dir_option
@registry_option
@click.option(
    "-v",
    "--version",
    "version",
    metavar="META_VERSION",
    help="Version to push: a commit sha or its first 4+ characters, HEAD or a git ref, or the "
    "whole version (default: the checkout's, as `lain build` tagged it).",
)
# The option's earlier name, kept working for scripts.
@click.option("--meta-version", "meta_version", hidden=True)
@pass_context
def push(
    obj: Context, app_dir: str, registry: str | None, version: str | None, meta_version: str | None
) -> None:
    """Push the app's release and meta images to the registry.

    The images must have been built first (`lain build`).  A version given with -v is looked
    for among those built on this engine.  Layers the registry already has are not sent again.
    Credentials come from `lain login`.
    """
    if version and meta_version and version != meta_version:
        raise click.UsageError("give the version once, with -v/--version")
    given = version or meta_version
    host = resolve_registry(obj, registry)
    # Only a version to look for needs the engine here; else push_app connects itself.
    engine = connect() if given else None
    try:
        chosen = _built_version(engine, given, app_dir) if engine and given else None
        result = show_events(obj, push_app(app_dir, chosen, registry=host, engine=engine))
    finally:
        if engine is not None:
            engine.close()
    report(obj, result.to_dict(), lambda: "\n".join(result.references))


COMMANDS = [push]
