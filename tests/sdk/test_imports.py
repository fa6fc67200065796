"""Imports run one way: no circle among lain's modules, and lain_sdk imports its own modules at
the top (a function may defer a heavy third-party library; a module of lain only where the
table below says why)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("lain_sdk", "lain_cli")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _lain_module(name: str) -> str | None:
    """The module of lain that importing ``name`` runs (``a.b.c`` may be a name in ``a.b``)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str) -> Iterator[tuple[ast.stmt, str, bool]]:
    """``(statement, module of lain, in a function)`` for every import of ``module``, wherever
    it is."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    in_function: set[int] = set()
    for function in ast.walk(tree):
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            in_function.update(id(node) for node in ast.walk(function))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            names = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            target = _lain_module(name) if name.split(".")[0] in PACKAGES else None
            if target is not None and target != module:
                yield node, target, id(node) in in_function


def test_no_import_circle() -> None:
    graph = {module: {target for _, target, _ in _imports(module)} for module in MODULES}
    circles: list[list[str]] = []
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            circles.append([*path[path.index(module) :], module])
            return
        if module in done:
            return
        for target in sorted(graph[module]):
            visit(target, [*path, module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])
    assert not circles, "\n".join(" -> ".join(circle) for circle in circles)


# (module, what it imports in a function): each defers a part of lain that a command may never
# need, for the command's start-up time.
DEFERRED = {
    # the registry client, its auth and HTTP parts: `lain ps`, `logs`, `exec` never reach it
    ("lain_sdk.cluster.session", "lain_sdk.registry"),
}


def test_the_sdk_imports_its_own_modules_at_the_top() -> None:
    inside = [
        f"{MODULES[module].relative_to(REPO)}:{node.lineno}: imports {target} in a function"
        for module in sorted(MODULES)
        if module.startswith("lain_sdk")
        for node, target, in_function in _imports(module)
        if in_function and (module, target) not in DEFERRED
    ]
    assert not inside, "\n".join(inside)
