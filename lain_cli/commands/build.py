"""``lain prepare``, ``build`` and ``test``: the app's images.

Each command makes one SDK call, draws its progress events (rich on a terminal, plain lines
on stderr otherwise, JSON lines with ``-o json``) and then reports what it made: one image
reference per line on stdout, or with ``-o json`` a last line
``{"event": "result", "images": {...}, "pushed": [...], ...}``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import click

from lain_cli.context import Context
from lain_cli.options import app_dir_option, registry_option, report, resolve_registry
from lain_cli.progress import show_events
from lain_sdk.images.pipeline import build_app, prepare_app, test_app

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
    report(obj, summary, lambda: "\n".join(lines))


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
    result = show_events(
        obj, prepare_app(app_dir, registry=_optional_registry(obj, registry), no_cache=no_cache)
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
    host = resolve_registry(obj, registry) if push else _optional_registry(obj, registry)
    result = show_events(
        obj,
        build_app(app_dir, registry=host, allow_dirty=allow_dirty, no_cache=no_cache, push=push),
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
    result = show_events(
        obj, test_app(app_dir, registry=_optional_registry(obj, registry), allow_dirty=allow_dirty)
    )
    if "test" in result.images:
        obj.info(f"tests passed ({result.images['test']})")
    summary, _ = _build_summary(result)
    passed = True if "test" in result.images else None  # None: there was nothing to test
    _report(
        obj, {**summary, "passed": passed, "log": list(result.test_log)}, result.images.values()
    )


COMMANDS = [prepare, build, test_command]
