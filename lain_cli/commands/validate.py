"""``lain validate``, ``lain schema`` and ``lain init``: the lain.yaml commands.

Loaded by every ``lain`` run, so lain_sdk.appconfig (yaml, jsonschema) is imported inside the
commands, never at module level.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from lain_cli.context import Context
from lain_cli.tables import table_lines

if TYPE_CHECKING:  # pragma: no cover
    from lain_sdk.appconfig.model import AppConfig, Proc

pass_context = click.make_pass_decorator(Context, ensure=True)


def human_size(size: int) -> str:
    """Bytes as Docker's binary units: 33554432 -> "32 MiB"."""
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= factor:
            value = size / factor
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{size} B"


def _port(proc: Proc) -> str:
    return f"{proc.port.port}/{proc.port.protocol}" if proc.port else "-"


def _cmd(proc: Proc) -> str:
    return shlex.join(proc.cmd) if proc.cmd is not None else "(the image's command)"


def summary(app: AppConfig) -> str:
    """The short text ``lain validate`` prints for a valid app."""
    lines = [
        f"{app.path}: valid",
        f"appname     {app.appname}",
        f"apptype     {app.apptype}",
        f"build base  {app.build.base}",
    ]
    for name, procs in app.use_services.items():
        lines.append(f"uses        service {name}: {', '.join(procs)}")
    for name, use in app.use_resources.items():
        lines.append(f"uses        resource {name}: {', '.join(use.services)}")
    if not app.procs:
        lines.append("procs       none")
        return "\n".join(lines)
    rows = [["PROC", "TYPE", "INSTANCES", "MEMORY", "PORT", "CMD"]]
    for p in app.procs:
        rows.append([p.name, p.type, str(p.num_instances), human_size(p.memory), _port(p), _cmd(p)])
    lines.append("procs:")
    lines += [f"  {row}" for row in table_lines(rows)]
    return "\n".join(lines)


@click.command()
@click.argument("path", default=".", type=click.Path(path_type=str))
@click.option(
    "--domain",
    "domains",
    multiple=True,
    metavar="DOMAIN",
    help="A cluster domain to render web mountpoints for (repeatable; default lain.local).",
)
@pass_context
def validate(obj: Context, path: str, domains: tuple[str, ...]) -> None:
    """Check a lain.yaml and describe the app it defines.

    PATH is a lain.yaml or a directory holding one (default: the current directory). Every
    problem is listed at once, as FILE:LINE:COLUMN: KEY: MESSAGE, and the exit status says the
    configuration is invalid. With -o json the normalised model is printed instead.
    """
    from lain_sdk.appconfig import load_app_config
    from lain_sdk.errors import AppConfigError

    try:
        app = load_app_config(path, domains=domains or None)
    except AppConfigError as e:
        if obj.json:
            obj.emit(
                {"path": e.path, "valid": False, "problems": [_problem(p) for p in e.problems]}
            )
        raise
    obj.emit(app.to_dict(), lambda: summary(app))


def _problem(problem: Any) -> dict[str, Any]:
    return {
        "path": problem.path,
        "line": problem.line,
        "column": problem.column,
        "key": problem.key_path,
        "message": problem.message,
    }


@click.command()
def schema() -> None:
    """Print the JSON Schema of lain.yaml.

    Editors use it for completion and checks: save it beside lain.yaml with
    `lain schema > lain.schema.json` and start lain.yaml with
    `# yaml-language-server: $schema=lain.schema.json`.
    """
    from lain_sdk.appconfig import schema as load_schema

    click.echo(json.dumps(load_schema(), indent=2, ensure_ascii=False))


def _check_appname(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from lain_sdk.appconfig.starter import APPNAME_RULE, valid_appname

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
@click.option("--force", is_flag=True, help="Overwrite an existing lain.yaml and lain.schema.json.")
@pass_context
def init(obj: Context, directory: Path, appname: str | None, force: bool) -> None:
    """Write a commented starter lain.yaml (and lain.schema.json beside it).

    The lain.yaml points editors at lain.schema.json; `lain schema > lain.schema.json`
    refreshes that copy after lain is upgraded. Existing files are kept unless --force is given.
    """
    from lain_sdk.appconfig import schema as load_schema
    from lain_sdk.appconfig.starter import SCHEMA_FILE_NAME, default_appname, starter_config
    from lain_sdk.errors import LainError

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
        directory.mkdir(parents=True, exist_ok=True)
        target.write_text(starter_config(name), encoding="utf-8")
        schema_file.write_text(
            json.dumps(load_schema(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    except OSError as e:
        raise LainError(f"cannot write {e.filename or directory}: {e.strerror or e}") from e
    obj.emit(
        {"lain_yaml": str(target), "schema": str(schema_file), "appname": name},
        f"wrote {target} (appname {name}) and {schema_file}; check it with `lain validate`",
    )


COMMANDS = [validate, schema, init]
