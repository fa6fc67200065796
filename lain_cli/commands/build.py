"""``lain prepare``, ``build``, ``test``, ``push`` and ``clean``: the app's images.

Each command makes one SDK call, draws its progress events (rich on a terminal, plain lines
on stderr otherwise, JSON lines with ``-o json``) and then reports what it made: one image
reference per line on stdout, or with ``-o json`` a last line
``{"event": "result", "images": {...}, "pushed": [...], ...}``.
"""

from __future__ import annotations

from typing import Any, Iterable

import click

from lain_cli.context import Context
from lain_cli.options import app_dir_option, registry_option, resolve_registry

pass_context = click.make_pass_decorator(Context)

no_cache_option = click.option(
    "--no-cache", is_flag=True, help="Use no cached layer and no existing prepare image."
)
allow_dirty_option = click.option(
    "--allow-dirty",
    is_flag=True,
    help="Build uncommitted changes too; the version then says -dirty-.",
)


def _optional_registry(obj: Context, value: str | None) -> str | None:
    # Without --push the registry is only where an existing prepare image may come from.
    return resolve_registry(obj, value) if value and value.strip() else None


def _report(obj: Context, summary: dict[str, Any], lines: Iterable[str]) -> None:
    """The last word of a command: a JSON summary line, or one image reference per line."""
    if obj.json:
        obj.emit_line({"event": "result", **summary})
    else:
        for line in lines:
            click.echo(line)


def _build_summary(result: Any) -> tuple[dict[str, Any], list[str]]:
    summary = result.to_dict()
    lines = [*result.images.values(), *(p.reference for p in result.pushed)]
    return summary, lines


@click.command()
@app_dir_option
@registry_option
@no_cache_option
@pass_context
def prepare(obj: Context, app_dir: str, registry: str | None, no_cache: bool) -> None:
    """Build the app's prepare image, or reuse the one that matches.

    The prepare image holds what build.prepare installs (slow dependency steps).  It is named
    after everything it depends on (base image id, prepare scripts, keep list, version), so it
    is rebuilt exactly when one of them changes.  An image with that name on this engine is
    reused; with --registry, one in the registry is pulled.
    """
    from lain_sdk.images import prepare_app

    result = obj.show_events(
        prepare_app(app_dir, registry=_optional_registry(obj, registry), no_cache=no_cache)
    )
    _report(obj, *_build_summary(result))


@click.command()
@app_dir_option
@click.option("--push", "push", is_flag=True, help="Push the release and meta images afterwards.")
@no_cache_option
@allow_dirty_option
@registry_option
@pass_context
def build(
    obj: Context, app_dir: str, push: bool, no_cache: bool, allow_dirty: bool, registry: str | None
) -> None:
    """Build the app's images: prepare, build, release and meta.

    The images are tagged <app>:<phase>-<meta version>, the version being the commit's
    (see `lain meta`).  The build context is what git would commit (tracked files plus
    untracked files git does not ignore), filtered by .dockerignore; nothing is written into
    the repository.  With --push, the release and meta images go to the registry
    (--registry or LAIN_REGISTRY).
    """
    from lain_sdk.images import build_app

    host = resolve_registry(obj, registry) if push else _optional_registry(obj, registry)
    result = obj.show_events(
        build_app(app_dir, registry=host, allow_dirty=allow_dirty, no_cache=no_cache, push=push)
    )
    _report(obj, *_build_summary(result))


@click.command(name="test")
@app_dir_option
@allow_dirty_option
@registry_option
@pass_context
def test_command(obj: Context, app_dir: str, allow_dirty: bool, registry: str | None) -> None:
    """Run test.script on the app's build image.

    The build image is built (or reused) first; the test lines then run on it, never from the
    cache.  A failing line ends lain with the test-failed exit status, naming the line and the
    last lines of its output.
    """
    from lain_sdk.images import test_app

    result = obj.show_events(
        test_app(app_dir, registry=_optional_registry(obj, registry), allow_dirty=allow_dirty)
    )
    if "test" in result.images:
        obj.info(f"tests passed ({result.images['test']})")
    summary, _ = _build_summary(result)
    passed = True if "test" in result.images else None  # None: there was nothing to test
    _report(
        obj, {**summary, "passed": passed, "log": list(result.test_log)}, result.images.values()
    )


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
    from lain_sdk.images import push_app

    host = resolve_registry(obj, registry)
    result = obj.show_events(push_app(app_dir, meta_version, registry=host))
    _report(obj, result.to_dict(), result.references)


@click.command()
@app_dir_option
@click.option(
    "--keep",
    type=click.IntRange(min=0),
    default=2,
    show_default=True,
    metavar="N",
    help="How many of the newest versions to keep.",
)
@pass_context
def clean(obj: Context, app_dir: str, keep: int) -> None:
    """Remove the app's local images except those of the newest N versions.

    Every phase counts, with or without a registry prefix.  The newest prepare image stays, and
    so does any image a container uses.  Prints the removed image references.
    """
    from lain_sdk.images import clean_app

    result = clean_app(app_dir, keep=keep)
    obj.emit(result.to_dict(), "\n".join(result.removed) if result.removed else None)
    obj.info(
        f"removed {len(result.removed)} image tag(s) and {len(result.untagged)} untagged "
        f"image(s) of {result.app}; kept {len(result.kept_versions)} version(s)"
    )
    for reference in result.in_use:
        obj.info(f"kept {reference}: a container uses it")
    for reference, reason in result.failed:
        obj.warn(f"could not remove {reference}: {reason}")


COMMANDS = [prepare, build, test_command, push, clean]
