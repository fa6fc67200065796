"""The JSON Schema of lain.yaml, and its errors in words a person can act on.

``lain.schema.json`` (shipped beside this module) is the one structural truth: editors read it,
``lain schema`` prints it, and every structural problem comes from it.  jsonschema's own
messages quote whole Python objects, so each error is translated here by keyword; the schema's
``x-expected`` annotations say what a value should look like and ``x-hints`` say how to add a
missing key.
"""

from __future__ import annotations

import copy
import difflib
import functools
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lain_sdk._version import __version__
from lain_sdk.appconfig.keypath import KeyPath, format_key_path
from lain_sdk.settings import cache_dir

SCHEMA_FILE = Path(__file__).with_name("lain.schema.json")

NAME_PATTERN = r"[a-zA-Z][a-zA-Z0-9]*(-[a-zA-Z0-9]+)*"
NAME_RE = re.compile(f"^{NAME_PATTERN}$")
SECTION_PREFIXES = ("web", "worker", "oneshot", "proc", "portal", "service")
_SECTION_RE = re.compile(
    rf"^(?:(?P<typed>web|worker|oneshot)(?:\.(?P<typed_name>{NAME_PATTERN}))?"
    rf"|(?P<prefix>proc|portal|service)\.(?P<name>{NAME_PATTERN}))$"
)
SECTION_FORMS = (
    "web, web.NAME, worker, worker.NAME, oneshot, oneshot.NAME, proc.NAME, portal.NAME, "
    "service.NAME"
)
SECTION_FORMS_SHORT = (
    "web[.NAME], worker[.NAME], oneshot[.NAME], proc.NAME, portal.NAME or service.NAME"
)
# Where every key is described, for messages that do not list them all.
MAX_LISTED_KEYS = 8
KEYS_REFERENCE = "the lain.yaml schema and the README's lain.yaml reference"


def parse_section(key: str) -> tuple[str, str] | None:
    """``"web.admin"`` -> ``("web", "admin")``, ``"worker"`` -> ``("worker", "worker")``.

    None when ``key`` is not a proc section.
    """
    m = _SECTION_RE.match(key)
    if not m:
        return None
    if m["typed"]:
        return m["typed"], m["typed_name"] or m["typed"]
    return m["prefix"], m["name"]


def is_template(value: Any) -> bool:
    """True for a string holding a Jinja expression or statement (``{{ ... }}``, ``{% ... %}``).

    An unclosed ``{{`` counts too, so that a broken template is reported as one.
    """
    return isinstance(value, str) and ("{{" in value or "{%" in value)


@functools.cache
def _schema() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return document


def schema() -> dict[str, Any]:
    """The JSON Schema of lain.yaml (a fresh copy the caller may change).

    Returns:
        The schema as loaded from the shipped ``lain.schema.json``.
    """
    return copy.deepcopy(_schema())


def _inline_refs(document: dict[str, Any]) -> dict[str, Any]:
    """The schema with every local ``$ref`` replaced by its target.

    The schema has no recursive references, and following ``$ref`` through jsonschema's
    resolver is most of its validation time.  (In draft-07 keywords beside ``$ref`` are
    ignored, so replacing the whole object keeps the meaning.)
    """

    def target(ref: str) -> Any:
        node: Any = document
        for part in ref.lstrip("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/"):
                return walk(target(node["$ref"]))
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    inlined: dict[str, Any] = walk(document)
    return inlined


@functools.cache
def _validator() -> Any:
    # Built once per process: compiling the validator costs more than validating a file.
    from jsonschema.validators import validator_for

    document = _schema()
    return validator_for(document)(_inline_refs(document))


@dataclass(frozen=True)
class Found:
    """A problem before it is placed in the file.

    ``path`` is where it is reported (``at`` the key or the value); ``bad`` is the part of the
    document it makes untrustworthy, which the semantic checks then leave alone.
    """

    path: KeyPath
    message: str
    at: str = "value"
    bad: KeyPath | None = None

    @property
    def bad_path(self) -> KeyPath:
        return self.path if self.bad is None else self.bad


def structural_problems(
    data: Any, *, templates: bool = False, text: str | None = None
) -> list[Found]:
    """Everything the schema rejects in ``data``.

    Args:
        data: the document as plain data.
        templates: a resource template: a string holding a Jinja expression is accepted
            wherever a value is expected (it is checked again once rendered).
        text: the YAML text ``data`` was read from.  A text that passed this schema before is
            remembered in lain's cache directory and not checked again: loading jsonschema and
            building its validator costs more than everything else a lain.yaml needs.
    """
    key = _passed_key(text, templates) if text is not None else None
    if key is not None and _passed_before(key):
        return []
    found: list[Found] = []
    for error in _validator().iter_errors(data):
        found.extend(_translate(error, templates, None))
    if key is not None and not found:
        _remember_passed(key)
    return found


# -- texts that passed the schema ----------------------------------------------------------------


def _passed_key(text: str, templates: bool) -> str:
    digest = hashlib.sha256()
    for part in (__version__, _schema_digest(), str(templates), text):
        digest.update(part.encode("utf-8", "surrogatepass") + b"\0")
    return digest.hexdigest()


@functools.cache
def _schema_digest() -> str:
    return hashlib.sha256(SCHEMA_FILE.read_bytes()).hexdigest()


def _passed_dir() -> Path:
    return cache_dir() / "schema-passed"


def _passed_before(key: str) -> bool:
    try:
        return (_passed_dir() / key).is_file()
    except OSError:
        return False


def _remember_passed(key: str) -> None:
    # A cache: where it cannot be written (a read-only home), lain simply checks every time.
    try:
        folder = _passed_dir()
        folder.mkdir(parents=True, exist_ok=True)
        (folder / key).touch()
    except OSError:
        pass


# -- translation -------------------------------------------------------------------------------

_TYPE_WORDS = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "object": "a mapping",
    "null": "nothing",
}


def describe(value: Any) -> str:
    """A short description of a value for messages, never a dump of a whole structure."""
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return repr(shown)
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "a value of another kind"


def _expected(schema: Any, inherited: str | None) -> str | None:
    if isinstance(schema, dict) and schema.get("x-expected"):
        return str(schema["x-expected"])
    return inherited


def _types_words(types: Any) -> str:
    if isinstance(types, str):
        types = [types]
    return " or ".join(_TYPE_WORDS.get(t, t) for t in types)


def _translate(error: Any, templates: bool, inherited: str | None) -> list[Found]:
    if templates and is_template(error.instance):
        return []
    path = tuple(error.absolute_path)
    keyword = error.validator
    schema = error.schema if isinstance(error.schema, dict) else {}
    instance = error.instance

    if "propertyNames" in error.absolute_schema_path and isinstance(instance, str):
        expected = _expected(schema, inherited) or "another name"
        return [
            Found((*path, instance), f"invalid key {instance!r}: expected {expected}", at="key")
        ]
    if keyword in ("anyOf", "oneOf"):
        return _translate_choice(error, templates, _expected(schema, inherited))
    if keyword == "required":
        hints = schema.get("x-hints", {})
        out = []
        for name in error.validator_value:
            if isinstance(instance, dict) and name not in instance:
                hint = f": {hints[name]}" if name in hints else ""
                out.append(
                    Found(path, f"missing required key {name!r}{hint}", at="key", bad=(*path, name))
                )
        return out
    if keyword == "additionalProperties" and isinstance(instance, dict):
        return [
            Found((*path, key), _unknown_key(path, key, schema), at="key")
            for key in _extra_keys(instance, schema)
        ]
    got = describe(instance)
    if keyword == "type":
        expected = _expected(schema, inherited) or _types_words(error.validator_value)
        return [Found(path, f"expected {expected}, got {got}")]
    if keyword == "enum":
        choices = ", ".join(str(c) for c in error.validator_value)
        return [Found(path, f"expected one of {choices}, got {got}")]
    if keyword in ("minimum", "maximum"):
        low, high = schema.get("minimum"), schema.get("maximum")
        if low is not None and high is not None:
            return [Found(path, f"must be between {low} and {high}, got {got}")]
        if low is not None:
            return [Found(path, f"must be at least {low}, got {got}")]
        return [Found(path, f"must be at most {high}, got {got}")]
    if keyword == "exclusiveMinimum":
        return [Found(path, f"must be more than {error.validator_value}, got {got}")]
    if keyword == "minLength":
        return [Found(path, "must not be empty")]
    if keyword == "minItems":
        return [Found(path, "must not be empty")]
    described = _expected(schema, inherited)
    if described:
        return [Found(path, f"expected {described}, got {got}")]
    return [Found(path, f"{got} is not valid here")]


def _translate_choice(error: Any, templates: bool, expected: str | None) -> list[Found]:
    """anyOf: explain the one alternative whose type fits, else say what is expected."""
    branches: dict[Any, list[Any]] = {}
    for sub in error.context or ():
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    fitting = [
        errors
        for errors in branches.values()
        if not any(e.validator == "type" and not e.relative_path for e in errors)
    ]
    if len(fitting) == 1:
        out: list[Found] = []
        for sub in fitting[0]:
            out.extend(_translate(sub, templates, None if sub.relative_path else expected))
        if out or templates:
            return out
    path = tuple(error.absolute_path)
    return [
        Found(
            path, f"expected {expected or 'another kind of value'}, got {describe(error.instance)}"
        )
    ]


def _extra_keys(instance: dict[str, Any], schema: dict[str, Any]) -> Iterator[str]:
    properties = schema.get("properties", {})
    patterns = schema.get("patternProperties", {})
    for key in instance:
        if key in properties:
            continue
        if isinstance(key, str) and any(re.search(p, key) for p in patterns):
            continue
        yield key


def _did_you_mean(key: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(str(key), candidates, n=2, cutoff=0.7)
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""


def _unknown_key(path: KeyPath, key: str, schema: dict[str, Any]) -> str:
    allowed = list(schema.get("properties", {}))
    if path:
        where = format_key_path(path)
        # A long list repeated under every unknown key hides the problem: suggest, and point
        # to where the keys are described.
        takes = ", ".join(allowed) if len(allowed) <= MAX_LISTED_KEYS else f"{len(allowed)} keys"
        rest = "" if len(allowed) <= MAX_LISTED_KEYS else f", listed in {KEYS_REFERENCE}"
        return f"unknown key {key!r}{_did_you_mean(key, allowed)}; {where} takes {takes}{rest}"
    prefix = str(key).split(".", 1)[0]
    if prefix in SECTION_PREFIXES:
        if "." not in str(key) and prefix in ("proc", "portal", "service"):
            return f"{key!r} needs a name: write {prefix}.NAME, like {prefix}.my-{prefix}"
        return (
            f"invalid proc section {key!r}: after {prefix + '.'!r} comes a proc name of letters "
            "and digits, with single dashes between words, starting with a letter "
            f"(like {prefix}.my-proc)"
        )
    proc_keys = _schema().get("definitions", {}).get("procKeys", {}).get("properties", {})
    if key in proc_keys:
        return (
            f"unknown section {key!r}: {key} is a proc key; indent it under a proc section "
            "(like web:) with spaces"
        )
    forms = [*allowed, *[f.strip() for f in SECTION_FORMS.split(",") if "NAME" not in f]]
    return (
        f"unknown section {key!r}{_did_you_mean(key, forms)}: a proc section is "
        f"{SECTION_FORMS_SHORT}; the other top-level keys are listed in {KEYS_REFERENCE}"
    )
