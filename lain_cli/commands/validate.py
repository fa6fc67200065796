"""``lain validate``: check a lain.yaml and describe the app it defines."""

from __future__ import annotations

import dataclasses
import shlex
from typing import Any

import click

from lain_cli.context import Context
from lain_cli.tables import table_lines
from lain_sdk.appconfig.loader import load_app_config
from lain_sdk.appconfig.model import LOGS_DIR, AppConfig, Healthcheck, Proc
from lain_sdk.cluster.routing import urls
from lain_sdk.errors import Problem

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
    for p in app.procs:
        lines += _proc_details(app, p)
    return "\n".join(lines)


def _proc_details(app: AppConfig, proc: Proc) -> list[str]:
    """Where ``proc`` is served, how it is checked, what it keeps and which secret files it
    needs (their paths: the values live in the cluster)."""
    details = []
    served = urls(dataclasses.replace(app, procs=(proc,)))
    if served:
        details.append(f"  urls          {', '.join(served)}")
    if proc.healthcheck is not None:
        details.append(f"  healthcheck   {_healthcheck(proc.healthcheck)}")
    kept = [v.path for v in proc.volumes if v.path != LOGS_DIR]
    if kept:
        details.append(f"  volumes       {', '.join(kept)}")
    if proc.secret_files:
        bypass = " (may run without them)" if proc.secret_files_bypass else ""
        details.append(f"  secret files  {', '.join(proc.secret_files)}{bypass}")
    return [f"{proc.name}:", *details] if details else []


def _healthcheck(check: Healthcheck) -> str:
    if check.cmd is None:
        return "disabled (cmd: none)"
    if check.http_path:
        what = f"GET {check.http_path}"
    elif check.cmd[0] == "CMD-SHELL":
        what = " ".join(check.cmd[1:])
    else:
        what = shlex.join(check.cmd[1:])
    every = f"{check.interval:g}s, timeout {check.timeout:g}s, {check.retries} retries"
    return f"{what} every {every}"


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
    configuration is invalid. Warnings (a secret written out in the file) are listed the same
    way and leave the exit status alone. With -o json the normalised model is printed instead,
    with the warnings as a list.
    """

    # An invalid file is an error: with -o json, lain's JSON error object lists its problems.
    app = load_app_config(path, domains=domains or None)
    for warning in app.warnings:
        obj.warn(str(warning))
    obj.emit(
        {**app.to_dict(), "warnings": [_problem(w) for w in app.warnings]}, lambda: summary(app)
    )


def _problem(problem: Problem) -> dict[str, Any]:
    return {
        "path": problem.path,
        "line": problem.line,
        "column": problem.column,
        "key": problem.key_path,
        "message": problem.message,
    }


COMMANDS = [validate]
