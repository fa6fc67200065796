"""Resource templates: a resource's lain.yaml rendered with a client's parameters.

lain v2 instantiated ``use_resources: {redis: {memory: 128M, services: [redis]}}`` by rendering
every scalar of redis's lain.yaml with Jinja2 and the parameters (undefined names render
empty, filters like ``default`` work), turning numbers back into integers, and naming the result
``resource.<resource>.<client>``.  The same happens here, in a sandboxed Jinja2 environment
(a template is data from another repository, so it must not reach Python internals).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from lain_sdk.appconfig.keypath import KeyPath
from lain_sdk.appconfig.validation import Found, is_template

_INT_RE = re.compile(r"^\s*[+-]?[0-9]+\s*$")


@functools.cache
def _environment() -> Any:
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment()


def template_error(text: str) -> str | None:
    """Why ``text`` is not a valid Jinja2 template, or None when it is."""
    from jinja2 import TemplateSyntaxError

    try:
        _environment().parse(text)
    except TemplateSyntaxError as e:
        return e.message or "syntax error"
    return None


def _render(text: str, context: Mapping[str, Any]) -> Any:
    rendered = _environment().from_string(text).render(**context)
    # v2 turned every rendered scalar that reads as a number into an int ("3" -> 3), so that
    # num_instances: "{{ n|default(2) }}" is a number again.
    return int(rendered) if _INT_RE.match(rendered) else rendered


def render_data(
    data: Any, context: Mapping[str, Any], path: KeyPath = ()
) -> tuple[Any, list[Found], set[KeyPath]]:
    """Render every template string in ``data`` (values only; keys are kept as written).

    Unlike v2, which passed every scalar through ``str()`` and Jinja, only strings holding a
    template are rendered: ``null``, booleans and plain strings such as an ``env`` line "1234"
    keep their type.

    Returns:
        The rendered copy, the templates that failed, and the paths that held a template.
    """
    problems: list[Found] = []
    templated: set[KeyPath] = set()

    def walk(value: Any, where: KeyPath) -> Any:
        if isinstance(value, dict):
            return {k: walk(v, (*where, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, (*where, i)) for i, v in enumerate(value)]
        if not is_template(value):
            return value
        templated.add(where)
        try:
            return _render(value, context)
        except Exception as e:  # a template may fail in any way: report it
            from jinja2 import TemplateError

            reason = (
                e.message
                if isinstance(e, TemplateError) and e.message
                else f"{type(e).__name__}: {e}"
            )
            problems.append(Found(where, f"the template failed: {reason}"))
            return value

    return walk(data, path), problems, templated


def drop_paths(data: Any, paths: set[KeyPath]) -> Any:
    """A copy of ``data`` without the values at ``paths`` (defaults then apply)."""

    def walk(value: Any, where: KeyPath) -> Any:
        if isinstance(value, dict):
            return {k: walk(v, (*where, k)) for k, v in value.items() if (*where, k) not in paths}
        if isinstance(value, list):
            return [walk(v, (*where, i)) for i, v in enumerate(value) if (*where, i) not in paths]
        return value

    return walk(data, ())
