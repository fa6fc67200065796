"""The README's Python examples that need no engine run as written."""

from __future__ import annotations

import re
from importlib import import_module
from pathlib import Path

from readme_examples import readme_examples, run_example  # tests/ is on sys.path (conftest)

from lain_cli.commands import COMMANDS

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_the_readme_has_its_examples() -> None:
    assert {"sdk-validate"} <= set(readme_examples())


def test_sdk_validate_example_runs() -> None:
    out = run_example("sdk-validate").splitlines()
    assert out[0] == (
        "hello [('web', 'web', 2, 33554432), ('greeter', 'worker', 1, 16777216), "
        "('portal-greeter', 'portal', 1, 33554432)]"
    )
    assert out[1].startswith("tests/data/broken.yaml:1:10: appname: expected a name")
    assert out[-1].startswith("missing required key 'build'")


def test_every_command_is_in_the_readme_command_table() -> None:
    table = _command_table()
    missing = []
    for entry in COMMANDS.values():
        command = getattr(import_module(f"lain_cli.commands.{entry.module}"), entry.attribute)
        name = command.name
        subcommands = getattr(command, "commands", {})
        if not subcommands:
            if f"`lain {name}" not in table:
                missing.append(name)
            continue
        for sub in subcommands:
            # `lain node ls` on a row of its own, or `lain cluster up\|down\|...` on one row
            listed = re.search(rf"`lain {name} (\S*\\\|)?{sub}\b", table)
            if listed is None:
                missing.append(f"{name} {sub}")
    assert not missing, f"commands missing from the README's command table: {missing}"


def _command_table() -> str:
    text = (REPO_ROOT / "README.md").read_text()
    section = text.split("\n## Commands\n", 1)[1].split("\n## ", 1)[0]
    return "\n".join(line for line in section.splitlines() if line.startswith("| `lain "))
