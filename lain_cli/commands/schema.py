"""``lain schema`` and ``lain init``: the JSON Schema of lain.yaml, and a starter lain.yaml.

Neither reads a lain.yaml, so neither loads a YAML parser.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from lain_cli.context import Context
from lain_sdk.appconfig.starter import (
    APPNAME_RULE,
    EDITOR_GITIGNORE,
    SCHEMA_FILE_NAME,
    default_appname,
    starter_config,
    valid_appname,
)
from lain_sdk.appconfig.validation import schema as load_schema
from lain_sdk.errors import LainError

pass_context = click.make_pass_decorator(Context, ensure=True)


@click.command()
def schema() -> None:
    """Print the JSON Schema of lain.yaml.

    Editors use it for completion and checks: `lain init` makes lain.yaml's first line
    `# yaml-language-server: $schema=.lain/lain.schema.json` and writes the schema there, in a
    folder git ignores (so it is never built into an image); `lain schema >
    .lain/lain.schema.json` writes it again, after a fresh clone or an upgrade of lain.
    """
    click.echo(json.dumps(load_schema(), indent=2, ensure_ascii=False))


def _check_appname(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not valid_appname(value):
        raise click.BadParameter(f"{value!r}: {APPNAME_RULE}")
    return value


@click.command()
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--appname",
    metavar="NAME",
    callback=_check_appname,
    help="The app's name (default: the directory's name, made valid).",
)
@click.option("--force", is_flag=True, help="Overwrite an existing lain.yaml and schema.")
@pass_context
def init(obj: Context, directory: Path, appname: str | None, force: bool) -> None:
    """Write a commented starter lain.yaml (and the schema for editors).

    The lain.yaml points editors at .lain/lain.schema.json, written too, in a folder whose
    .gitignore keeps it out of commits and so out of every build (it never reaches an image);
    commit .lain/.gitignore, and after a fresh clone or an upgrade of lain run
    `lain schema > .lain/lain.schema.json`. Existing files are kept unless --force is given.
    """
    target = directory / "lain.yaml"
    schema_file = directory / SCHEMA_FILE_NAME
    if not force:
        existing = [str(p) for p in (target, schema_file) if p.exists()]
        if existing:
            raise LainError(
                f"{' and '.join(existing)} already exist{'s' if len(existing) == 1 else ''}; "
                "pass --force to overwrite"
            )
    name = appname or default_appname(directory.resolve().name)
    try:
        schema_file.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(starter_config(name), encoding="utf-8")
        ignore = schema_file.parent / ".gitignore"
        if not ignore.exists():  # a .gitignore of the user's own stays
            ignore.write_text(EDITOR_GITIGNORE, encoding="utf-8")
        schema_file.write_text(
            json.dumps(load_schema(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    except OSError as e:
        raise LainError(f"cannot write {e.filename or directory}: {e.strerror or e}") from e
    obj.emit(
        {"lain_yaml": str(target), "schema": str(schema_file), "appname": name},
        f"wrote {target} (appname {name}) and {schema_file} (for editors, git-ignored); "
        "check it with `lain validate`",
    )


COMMANDS = [schema, init]
