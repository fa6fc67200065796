"""Resource templates: a resource's lain.yaml rendered with a client's parameters.

lain v2 instantiated ``use_resources: {redis: {memory: 128M, services: [redis]}}`` by rendering
every scalar of redis's lain.yaml with Jinja2 and the parameters (undefined names render
empty, filters like ``default`` work), turning numbers back into integers, and naming the result
``resource.<resource>.<client>``.  The same happens here, in a sandboxed Jinja2 environment
(a template is data from another repository, so it must not reach Python internals).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from lain_sdk.appconfig.keypath import KeyPath
from lain_sdk.appconfig.sandbox import (
    MAX_VALUE,
    Budget,
    TemplateLimit,
    budget,
    environment,
    size_of,
)
from lain_sdk.appconfig.validation import Found, is_template

# A number has at most this many digits to be read back as one (Python reads no more than 4300
# digits as an int; a lain.yaml number has a handful).
_INT_RE = re.compile(r"^\s*[+-]?[0-9]{1,100}\s*$")


def template_error(text: str) -> str | None:
    """Why ``text`` is not a valid Jinja2 template, or None when it is."""
    from jinja2 import TemplateSyntaxError

    try:
        environment().parse(text)
    except TemplateSyntaxError as e:
        return e.message or "syntax error"
    except RecursionError:
        return "nested too deeply"
    return None


def _render(text: str, context: Mapping[str, Any], spent: Budget) -> Any:
    rendered = environment().from_string(text).render(**context)
    spent.spend_output(rendered)
    # v2 turned every rendered scalar that reads as a number into an int ("3" -> 3), so that
    # num_instances: "{{ n|default(2) }}" is a number again.
    return int(rendered) if _INT_RE.match(rendered) else rendered


class Rendered(NamedTuple):
    """What :func:`render_data` made of a document.

    Attributes:
        data: the rendered copy.
        failed: the templates that failed (or were stopped at a bound), with why.
        templated: the paths that held a template.
        skipped: the templates left as written, unreported, because the time or the output
            was used up.
    """

    data: Any
    failed: list[Found]
    templated: set[KeyPath]
    skipped: set[KeyPath]


def render_data(data: Any, context: Mapping[str, Any], path: KeyPath = ()) -> Rendered:
    """Render every template string in ``data`` (values only; keys are kept as written).

    Unlike v2, which passed every scalar through ``str()`` and Jinja, only strings holding a
    template are rendered: ``null``, booleans and plain strings such as an ``env`` line "1234"
    keep their type.

    Templates render within bounds (:mod:`lain_sdk.appconfig.sandbox`): the document's
    templates share a time budget and an output budget, and no value a template builds may be
    huge.  A template past a bound is reported like a failing one; once the time or the output
    is used up, the document's other templates are left as written without another report.

    Returns:
        The rendered copy, the templates that failed, the paths that held a template, and
        those left unrendered once the time or the output was used up.
    """
    problems: list[Found] = []
    templated: set[KeyPath] = set()
    skipped: set[KeyPath] = set()
    if size_of(context) > MAX_VALUE:
        message = f"the parameters given to the template are larger than {MAX_VALUE} characters"
        return Rendered(data, [Found(path, message)], templated, skipped)

    def walk(value: Any, where: KeyPath, spent: Budget) -> Any:
        if isinstance(value, dict):
            return {k: walk(v, (*where, k), spent) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, (*where, i), spent) for i, v in enumerate(value)]
        if not is_template(value):
            return value
        templated.add(where)
        if spent.exhausted:
            skipped.add(where)
            return value
        try:
            return _render(value, context, spent)
        except TemplateLimit as e:
            problems.append(Found(where, f"the template was stopped: {e}"))
        except Exception as e:  # a template may fail in any way: report it
            problems.append(Found(where, f"the template failed: {_reason(e)}"))
        return value

    with budget() as spent:
        return Rendered(walk(data, path, spent), problems, templated, skipped)


def _reason(error: Exception) -> str:
    from jinja2 import TemplateError

    if isinstance(error, TemplateError) and error.message:
        return error.message
    return f"{type(error).__name__}: {error}"


def drop_paths(data: Any, paths: set[KeyPath]) -> Any:
    """A copy of ``data`` without the values at ``paths`` (defaults then apply)."""

    def walk(value: Any, where: KeyPath) -> Any:
        if isinstance(value, dict):
            return {k: walk(v, (*where, k)) for k, v in value.items() if (*where, k) not in paths}
        if isinstance(value, list):
            return [walk(v, (*where, i)) for i, v in enumerate(value) if (*where, i) not in paths]
        return value

    return walk(data, ())
