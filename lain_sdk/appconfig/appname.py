"""The app name of a lain.yaml, read without validating the rest of the file.

Commands that work on images already built (push, clean) need only the name the images are
tagged with; the file was fully validated when they were built.  Reading one top-level key from
PyYAML's node tree costs a fraction of building the JSON Schema validator and the model.  The
name is still checked against the schema's own ``name`` pattern, so both paths agree on what a
valid app name is.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import lain_sdk.arguments as arguments
from lain_sdk.errors import AppConfigError, AppConfigMissing, Problem

FILE_NAME = "lain.yaml"
_SCHEMA = Path(__file__).with_name("lain.schema.json")


def read_appname(path: str | os.PathLike[str] = ".") -> str:
    """Return the ``appname`` of a lain.yaml without validating the rest of it.

    Args:
        path: a lain.yaml file, or a directory holding one (default: the current directory).

    Raises:
        AppConfigMissing: there is no such file.
        AppConfigError: the file is unreadable, is not YAML, or has no valid top-level
            ``appname`` (the problem says which, with its line).
        InvalidArgument: ``path`` is not a path.
    """
    import yaml

    given = Path(arguments.path(path, "path"))
    if given.is_dir() or (not given.exists() and given.suffix not in (".yaml", ".yml")):
        given = given / FILE_NAME
    shown = os.path.normpath(str(given))

    def fail(message: str, line: int = 0, column: int = 0, key: str = "") -> AppConfigError:
        return AppConfigError([Problem(line, column, key, message, shown)], shown)

    try:
        text = given.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise AppConfigMissing(shown) from None
    except IsADirectoryError:
        raise fail("is a directory, not a lain.yaml") from None
    except OSError as e:
        raise fail(f"cannot read it: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise fail("not UTF-8 text; save the file as UTF-8") from None
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        root = yaml.compose(text, Loader=loader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        what = ", ".join(str(part) for part in (e.context, e.problem) if part) or str(e)
        raise fail(f"not valid YAML: {what}", line, column) from None
    except yaml.YAMLError as e:
        raise fail(f"not valid YAML: {e}") from None
    if not isinstance(root, yaml.MappingNode):
        raise fail("the file must be a mapping of keys, starting with appname", 1, 1)
    for key, value in root.value:
        if isinstance(key, yaml.ScalarNode) and key.value == "appname":
            where = (value.start_mark.line + 1, value.start_mark.column + 1)
            name = value.value if isinstance(value, yaml.ScalarNode) else None
            rule = _name_rule()
            if (
                not isinstance(name, str)
                or value.tag != "tag:yaml.org,2002:str"
                or not re.match(rule["pattern"], name)
            ):
                shown_name = repr(name) if isinstance(name, str) else "a list or mapping"
                expected = rule.get("x-expected", "a valid app name")
                raise fail(f"expected {expected}, not {shown_name}", *where, "appname")
            return name
    raise fail("appname is required", 1, 1, "appname")


def _name_rule() -> dict[str, str]:
    """The schema's definition of a name: its ``pattern`` and ``x-expected`` wording."""
    return dict(json.loads(_SCHEMA.read_text(encoding="utf-8"))["definitions"]["name"])
