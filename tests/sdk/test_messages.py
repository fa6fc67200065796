"""No command line in the SDK's messages.

The SDK says what is wrong in plain words; only the command line knows its own commands and
flags, and turns the fields an error carries into the command to run (``lain_cli.hints``).  This
test reads every module of lain_sdk and looks at the text that can end up in a message: the
string literals (f-string parts included) passed to an exception class, to ``Message`` or
``PhaseLog`` events, to the ``Problem``/``Found`` a lain.yaml error lists, or to a function that
returns an exception; and, for a variable passed there, the literals assigned or appended to it
in the same function or module.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import lain_sdk
from lain_cli.commands import SECTIONS
from lain_sdk import errors

SDK_DIR = Path(lain_sdk.__file__).parent
COMMANDS = sorted({name for section in SECTIONS.values() for name in section})
CLI_TEXT = re.compile(
    r"`lain |\blain (?:" + "|".join(map(re.escape, COMMANDS)) + r")\b|(?<![\w-])--[a-z][\w-]*"
)
# Other programs' command lines may be quoted, flags and all ("docker swarm leave --force").
OTHER_COMMAND = re.compile(r"\b(?:docker|git|apt-get)(?: [\w./:=@-]+)+")

EXCEPTIONS = {
    name
    for name, value in [*vars(errors).items(), *vars(builtins).items()]
    if inspect.isclass(value) and issubclass(value, BaseException)
}
EVENTS_AND_PROBLEMS = {"Message", "PhaseLog", "Problem", "Found"}


def cli_text(text: str) -> str | None:
    """The command-line text in ``text``, if any."""
    match = CLI_TEXT.search(OTHER_COMMAND.sub("", text))
    return match.group(0) if match else None


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Constant) and isinstance(node.value, str):  # "Error" annotations
        return node.value
    return None


def _is_exception(name: str | None) -> bool:
    return name is not None and (name in EXCEPTIONS or name.endswith(("Error", "Exception")))


class _Module:
    """One parsed module: its message sinks, and where each variable gets its values."""

    def __init__(self, source: str) -> None:
        self.tree = ast.parse(source)
        self.parents: dict[ast.AST, ast.AST] = {}
        for node in ast.walk(self.tree):
            for child in ast.iter_child_nodes(node):
                self.parents[child] = node
        # functions returning an exception: their arguments become its message
        self.error_makers = {
            node.name
            for node in ast.walk(self.tree)
            if isinstance(node, ast.FunctionDef)
            and node.returns is not None
            and _is_exception(_name(node.returns))
        }

    def is_sink(self, call: ast.Call) -> bool:
        name = _name(call.func)
        if name == "__init__":  # super().__init__(message) in an exception class
            owner = self.parents.get(self.scope(call))
            return isinstance(owner, ast.ClassDef) and _is_exception(owner.name)
        return _is_exception(name) or name in EVENTS_AND_PROBLEMS or name in self.error_makers

    def scope(self, node: ast.AST) -> ast.AST:
        """The function ``node`` is in, else the module."""
        parent = self.parents.get(node)
        while parent is not None and not isinstance(parent, (ast.FunctionDef, ast.Lambda)):
            parent = self.parents.get(parent)
        return parent if parent is not None else self.tree

    def values_of(self, name: str, scope: ast.AST) -> Iterator[ast.AST]:
        """What ``name`` is given in ``scope`` and at module level: assignments, and
        ``append``/``extend``/``insert`` arguments."""
        for where in {scope, self.tree}:
            for node in _statements(where):
                if isinstance(node, ast.Assign):
                    targets, value = node.targets, node.value
                elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
                    targets, value = [node.target], node.value
                elif isinstance(node, ast.Call) and _name(node.func) in _ADDING:
                    owner = getattr(node.func, "value", None)
                    if isinstance(owner, ast.Name) and owner.id == name:
                        yield from node.args
                    continue
                else:
                    continue
                if value is not None and any(
                    isinstance(t, ast.Name) and t.id == name for t in targets
                ):
                    yield value

    def message_strings(self) -> Iterator[tuple[int, str]]:
        """``(line, text)`` of every string literal that can end up in a message."""
        seen: set[int] = set()
        todo: list[tuple[ast.AST, ast.AST]] = [
            (argument, self.scope(call))
            for call in ast.walk(self.tree)
            if isinstance(call, ast.Call) and self.is_sink(call)
            for argument in [*call.args, *(k.value for k in call.keywords)]
        ]
        while todo:
            expression, scope = todo.pop()
            if id(expression) in seen:
                continue
            seen.add(id(expression))
            for node in _walk(expression):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    yield node.lineno, node.value
                elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                    todo.extend((value, scope) for value in self.values_of(node.id, scope))


# What adds to a list: lines.append("..."), lines.extend([...])
_ADDING = {"append", "extend", "insert"}
# Calls whose result is made of their arguments' text: ", ".join(lines), str(x) ...
_TEXT_CALLS = {"join", "format", "str", "strip", "rstrip", "lstrip", "replace"}


def _walk(expression: ast.AST) -> Iterator[ast.AST]:
    """The nodes of ``expression`` that make its text: not the inside of other calls than the
    text ones (what a call returns is another function's business)."""
    todo = [expression]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Call) and _name(node.func) not in _TEXT_CALLS:
            continue
        yield node
        todo.extend(ast.iter_child_nodes(node))


def _statements(scope: ast.AST) -> Iterator[ast.AST]:
    """The nodes of a function, or of a module outside its functions and classes."""
    todo = [scope]
    while todo:
        node = todo.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if not isinstance(scope, ast.Module) or not isinstance(
                child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
            ):
                todo.append(child)


def find_cli_text(source: str) -> list[tuple[int, str]]:
    """``(line, command-line text)`` of each message string in ``source`` that has some."""
    found = []
    for line, text in _Module(source).message_strings():
        bad = cli_text(text)
        if bad is not None:
            found.append((line, bad))
    return sorted(found)


def test_the_check_finds_command_lines_and_flags() -> None:
    assert cli_text("run `lain login reg.example.com` again") == "`lain "
    assert cli_text("build it first (lain build)") == "lain build"
    assert cli_text("pass --allow-dirty to build it") == "--allow-dirty"
    assert cli_text("set LAIN_INSECURE_REGISTRIES, or apt-get install git") is None
    assert cli_text("fix it (docker swarm leave --force), then try again") is None
    assert cli_text("lain tags images by commit; a -dirty- version, 64m--128m") is None


SAMPLE = """
HINT = "create one with `lain init`"

def f(path, registry):
    hint = "pass --registry HOST" if registry else "check the path"
    lines = ["the first line"]
    lines.append("then `lain build --push`")
    if path:
        raise NotFound(f"no such file {path}; {hint}")
    yield Message("lain deploy says hello")
    yield PhaseLog("build", "a plain line")
    raise DeployFailed("\\n".join(lines))

def g(reason) -> RegistryError:
    return RegistryError(reason)

def h():
    raise g("denied: run lain login again")

class DirtyError(Exception):
    def __init__(self, files):
        super().__init__(f"{files} changed: pass --allow-dirty")

def i():  # nothing here is a message
    problems = [Problem(0, 0, "", HINT)]
    ok = "docs say `lain init`, but this is never a message"
    raise ValueError("no --flag in plain " + "text")
"""


def test_the_check_follows_variables_lists_and_error_functions() -> None:
    assert find_cli_text(SAMPLE) == [
        (2, "`lain "),  # a module constant, through a Problem
        (5, "--registry"),  # a variable, through an f-string
        (7, "`lain "),  # appended to a list joined into the message
        (10, "lain deploy"),  # an event
        (18, "lain login"),  # a function returning an error
        (22, "--allow-dirty"),  # an exception's own message
        (27, "--flag"),  # concatenated
    ]


@pytest.mark.parametrize(
    "module", sorted(p.relative_to(SDK_DIR).as_posix() for p in SDK_DIR.rglob("*.py"))
)
def test_sdk_messages_name_no_command_line(module: str) -> None:
    found = find_cli_text((SDK_DIR / module).read_text(encoding="utf-8"))
    assert not found, "\n".join(f"lain_sdk/{module}:{line}: {text!r}" for line, text in found)
