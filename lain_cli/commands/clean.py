"""``lain clean``: the app's local images, but those of its newest versions."""

from __future__ import annotations

import click

from lain_cli.context import Context
from lain_cli.options import app_dir_option
from lain_sdk.images.clean import clean_app

pass_context = click.make_pass_decorator(Context)


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


COMMANDS = [clean]
