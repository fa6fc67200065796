"""YAML text to plain data, remembering where every key and value was written.

PyYAML's composer (the C one when libyaml is present) gives a node tree with marks; this module
turns it into dicts, lists and scalars and keeps the tree, so a problem found later at a key
path (``("web", "memory")``) can be placed at its line and column.  Anchors, aliases and merge
keys (``<<: *base``) work as in ``yaml.safe_load``.  Nothing here raises for a bad file: every
difficulty becomes a :class:`~lain_sdk.errors.Problem`.
"""

from __future__ import annotations

from typing import Any

import yaml

from lain_sdk.appconfig.keypath import KeyPath, format_key_path
from lain_sdk.errors import Problem

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Expanded size (counting every alias use) above which a file is refused: a few aliases of
# aliases can otherwise expand into billions of values (the "billion laughs" file).
MAX_EXPANDED_NODES = 200_000
_STANDARD_TAG = "tag:yaml.org,2002:"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_SAFE_TAGS = frozenset(
    _STANDARD_TAG + t
    for t in (
        "str",
        "int",
        "float",
        "bool",
        "null",
        "map",
        "seq",
        "set",
        "omap",
        "pairs",
        "timestamp",
        "binary",
        "merge",
        "value",
    )
)


class Document:
    """A loaded lain.yaml: its data, the problems met while reading it, and its node tree.

    Attributes:
        data: the document as plain Python data (None when nothing usable was read).
        problems: YAML-level problems (syntax, duplicate keys, several documents, ...).
        path: the file name used in problems.
    """

    def __init__(self, text: str, path: str) -> None:
        self.path = path
        self.text = text
        self.data: Any = None
        self.problems: list[Problem] = []
        self._root: yaml.Node | None = None
        self._memo: dict[int, Any] = {}
        self._loader: Any = None
        self._read()

    # -- positions -------------------------------------------------------------------------

    def problem(self, path: KeyPath, message: str, *, at: str = "value") -> Problem:
        """A problem at ``path``: at the key itself (``at="key"``) or at its value."""
        line, column = self.position(path, at=at)
        return Problem(line, column, format_key_path(path), message, self.path)

    def position(self, path: KeyPath, *, at: str = "value") -> tuple[int, int]:
        """1-based (line, column) of the key or value at ``path``; the nearest known place."""
        node = self._root
        if node is None:
            return (1, 1)
        mark = node.start_mark
        for i, part in enumerate(path):
            last = i == len(path) - 1
            if isinstance(node, yaml.MappingNode):
                pair = None
                for key_node, value_node in node.value:  # the last one wins, as in the data
                    if isinstance(key_node, yaml.ScalarNode) and key_node.value == part:
                        pair = (key_node, value_node)
                if pair is None:
                    break
                mark = pair[0].start_mark if (last and at == "key") else pair[1].start_mark
                node = pair[1]
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if not 0 <= part < len(node.value):
                    break
                node = node.value[part]
                mark = node.start_mark
            else:
                break
        return (mark.line + 1, mark.column + 1)

    # -- reading ---------------------------------------------------------------------------

    def _add(self, line: int, column: int, key_path: str, message: str) -> None:
        self.problems.append(Problem(line, column, key_path, message, self.path))

    def _read(self) -> None:
        loader = _Loader(self.text)
        self._loader = loader
        documents: list[yaml.Node] = []
        try:
            while loader.check_node():
                node = loader.get_node()
                if node is not None:
                    documents.append(node)
        except yaml.MarkedYAMLError as e:
            self._yaml_error(e)
            return
        except yaml.YAMLError as e:  # a ReaderError: a character YAML does not allow
            self._reader_error(e)
            return
        finally:
            loader.dispose()
        if not documents:
            self._add(1, 1, "", "the file is empty; a lain.yaml needs at least appname and build")
            return
        if len(documents) > 1:
            mark = documents[1].start_mark
            self._add(
                mark.line + 1,
                mark.column + 1,
                "",
                f"found {len(documents)} YAML documents; a lain.yaml holds one "
                "(remove the '---' line that starts the next one)",
            )
        root = documents[0]
        self._root = root
        if isinstance(root, yaml.ScalarNode) and root.tag == _STANDARD_TAG + "null":
            self._add(1, 1, "", "the file is empty; a lain.yaml needs at least appname and build")
            return
        if not isinstance(root, yaml.MappingNode):
            kind = "a list" if isinstance(root, yaml.SequenceNode) else f"{root.value!r}"
            mark = root.start_mark
            self._add(
                mark.line + 1,
                mark.column + 1,
                "",
                "expected a mapping of keys (appname, build, web, ...) at the top level, "
                f"got {kind}",
            )
            return
        try:
            if not self._check_tree(root):
                return
            self.data = self._construct(root, ())
        except RecursionError:
            self.data = None
            self._add(1, 1, "", "the file is nested too deeply to be a lain.yaml")

    def _yaml_error(self, e: yaml.MarkedYAMLError) -> None:
        mark = e.problem_mark or e.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        if self._is_tab(line, column) or "tab" in str(e.problem or ""):
            self._add(line, column, "", self._tab_message(line))
            return
        what = e.problem or "not valid YAML"
        if e.context and e.context_mark and e.context_mark.line != (mark.line if mark else -1):
            what += f" ({e.context} at line {e.context_mark.line + 1})"
        elif e.context:
            what = f"{what} ({e.context})"
        self._add(line, column, "", f"invalid YAML: {what}")

    def _is_tab(self, line: int, column: int) -> bool:
        lines = self.text.split("\n")
        return 0 < line <= len(lines) and lines[line - 1][column - 1 : column] == "\t"

    def _tab_message(self, line: int) -> str:
        """PyYAML's words for a tab never say "tab"; these do, and name every line to fix."""
        others = [
            str(n)
            for n, text in enumerate(self.text.split("\n"), 1)
            if n != line and "\t" in text[: len(text) - len(text.lstrip(" \t"))]
        ]
        more = ""
        if others:
            shown = ", ".join(others[:5]) + (", ..." if len(others) > 5 else "")
            lines = (
                f"lines {shown} also indent" if len(others) > 1 else f"line {shown} also indents"
            )
            more = f"; {lines} with tabs"
        return (
            "invalid YAML: found a tab character where YAML needs spaces (YAML indents with "
            f"spaces only); replace it with spaces{more}"
        )

    def _reader_error(self, e: yaml.YAMLError) -> None:
        position = getattr(e, "position", 0) or 0
        before = self.text[:position]
        line = before.count("\n") + 1
        column = position - (before.rfind("\n") + 1) + 1
        character = getattr(e, "character", None)
        if isinstance(character, str) and character:
            character = ord(character[0])
        shown = f" U+{character:04X}" if isinstance(character, int) else ""
        self._add(
            line, column, "", f"invalid YAML: the character{shown} is not allowed in YAML text"
        )

    def _check_tree(self, root: yaml.Node) -> bool:
        """Duplicate keys, unknown tags and oversized alias expansion, before construction.

        Runs on the raw tree, before merge keys are flattened, so that a key overriding a merged
        one is not taken for a duplicate.  Returns False when the tree cannot be constructed at
        all (an alias of itself, or too big an expansion).
        """
        sizes: dict[int, int] = {}
        paths: dict[int, KeyPath] = {id(root): ()}
        stack: list[tuple[yaml.Node, bool]] = [(root, False)]
        on_stack: set[int] = set()
        while stack:
            node, done = stack.pop()
            if done:
                on_stack.discard(id(node))
                children = _children(node)
                sizes[id(node)] = 1 + sum(sizes.get(id(c), 1) for c in children)
                if sizes[id(node)] > MAX_EXPANDED_NODES:
                    mark = node.start_mark
                    self._add(
                        mark.line + 1,
                        mark.column + 1,
                        format_key_path(paths.get(id(node), ())),
                        "aliases here expand into too many values to be a lain.yaml",
                    )
                    return False
                continue
            if id(node) in sizes:
                continue
            if id(node) in on_stack:
                mark = node.start_mark
                self._add(mark.line + 1, mark.column + 1, "", "an alias refers to itself")
                return False
            on_stack.add(id(node))
            stack.append((node, True))
            path = paths.get(id(node), ())
            self._check_node(node, path)
            if isinstance(node, yaml.MappingNode):
                for key_node, value_node in node.value:
                    if isinstance(key_node, yaml.ScalarNode):
                        paths.setdefault(id(value_node), (*path, key_node.value))
                    stack.append((value_node, False))
                    if not isinstance(key_node, yaml.ScalarNode):
                        stack.append((key_node, False))
            elif isinstance(node, yaml.SequenceNode):
                for i, child in enumerate(node.value):
                    paths.setdefault(id(child), (*path, i))
                    stack.append((child, False))
        return True

    def _check_node(self, node: yaml.Node, path: KeyPath) -> None:
        if node.tag not in _SAFE_TAGS:
            mark = node.start_mark
            tag = node.tag.replace(_STANDARD_TAG, "!!")
            message = f"unsupported YAML tag {tag!r}; remove it"
            self._add(mark.line + 1, mark.column + 1, format_key_path(path), message)
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, yaml.Node] = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE_TAG:
                    continue
                if not isinstance(key_node, yaml.ScalarNode):
                    mark = key_node.start_mark
                    self._add(
                        mark.line + 1,
                        mark.column + 1,
                        format_key_path(path),
                        "a key must be plain text, not a list or a mapping",
                    )
                    continue
                first = seen.get(key_node.value)
                if first is not None:
                    mark = key_node.start_mark
                    self._add(
                        mark.line + 1,
                        mark.column + 1,
                        format_key_path((*path, key_node.value)),
                        f"duplicate key {key_node.value!r} (first at line "
                        f"{first.start_mark.line + 1}, column {first.start_mark.column + 1}); "
                        "YAML keeps only the last one, so remove or merge one of them",
                    )
                else:
                    seen[key_node.value] = key_node

    def _construct(self, node: yaml.Node, path: KeyPath) -> Any:
        if isinstance(node, yaml.ScalarNode):
            if node.tag not in _SAFE_TAGS:  # reported by _check_node
                return node.value
            try:
                value = self._loader.construct_object(node, deep=True)
            except yaml.YAMLError as e:
                mark = node.start_mark
                reason = getattr(e, "problem", None) or "cannot be read"
                self._add(
                    mark.line + 1,
                    mark.column + 1,
                    format_key_path(path),
                    f"invalid value: {reason}",
                )
                return node.value
            # Dates, timestamps and binary data stay the text that was written: lain.yaml values
            # are strings, numbers and booleans.
            if value is not None and not isinstance(value, (str, int, float, bool)):
                return node.value
            return value
        key = id(node)
        if key in self._memo:  # an alias: the same value again, as yaml.safe_load shares it
            return self._memo[key]
        if isinstance(node, yaml.SequenceNode):
            result: Any = [self._construct(c, (*path, i)) for i, c in enumerate(node.value)]
        else:
            try:
                self._loader.flatten_mapping(node)
            except yaml.MarkedYAMLError as e:
                self._yaml_error(e)
                node.value = [(k, v) for k, v in node.value if k.tag != _MERGE_TAG]
            result = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    continue  # reported by _check_node
                result[key_node.value] = self._construct(value_node, (*path, key_node.value))
        self._memo[key] = result
        return result


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def load_yaml(text: str, path: str = "lain.yaml") -> Document:
    """Read YAML text into a :class:`Document`; never raises for bad text."""
    return Document(text, path)
