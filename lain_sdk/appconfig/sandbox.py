"""The Jinja2 sandbox resource templates render in: bounded in time and in size.

A resource's lain.yaml comes from another repository and is rendered while validating it and
during a client's deploy, so a template must not be able to hang lain or exhaust its memory
(``{% for a in range(100000) %}{% for b in range(100000) %}`` ran until killed, ``{{ 'A' *
300000000 }}`` took 1.5 GB).  Jinja2's own sandbox only keeps templates away from Python's
internals; this one adds bounds that hold for everything a template can do:

- time: one wall-clock budget per document (:data:`RENDER_SECONDS`), checked at every loop
  iteration, every call (functions, methods, macros) and every filter, so nested loops and
  recursive macros stop;
- size: every value a template builds (strings, lists, numbers) is at most :data:`MAX_VALUE`
  characters or items, checked *before* the operations that multiply sizes run (``*``, ``**``,
  ``%`` formatting, ``str.format``, padding and joining methods, the filters ``center``,
  ``indent``, ``join``, ``replace``, ``wordwrap``, ``batch``, ``slice``, ``tojson``) and after
  every other operation, whose results are at most a few times their inputs' size;
- output: all templates of a document render to at most :data:`MAX_OUTPUT` characters;
- ``range()`` has at most :data:`MAX_RANGE` items; ``lipsum`` (random text), ``urlize`` (HTML)
  and the methods ``encode``, ``translate``, ``maketrans`` (strings) and ``to_bytes`` (numbers)
  are not available, and mutating methods are refused as in Jinja2's immutable sandbox.

jinja2 (and inspect) are imported only when a template is parsed or rendered (the environment
is built on first use), so reading an ordinary lain.yaml never loads them.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

# What a document's templates may use, together (each one is checked against what is left).
# The output is what validation reads next (command lines are split with shlex, which takes
# seconds for megabytes), so it stays near the size of a large lain.yaml.
RENDER_SECONDS = 2.0
MAX_OUTPUT = 64 * 1024
# What any one value a template builds may be: characters of a string, items of a list or a
# mapping (counted through nested ones), about bytes of a number.
MAX_VALUE = 64 * 1024
# range() in a template: far more than a lain.yaml needs, few enough to loop over quickly.
MAX_RANGE = 10_000
# tojson's indent: what a person reads, not a way to multiply every line.
MAX_INDENT = 16

# Methods that make a value of a size their arguments choose, with no use in a lain.yaml.
_REFUSED_METHODS = frozenset({"encode", "translate", "maketrans", "to_bytes"})
_REMOVED_FILTERS = ("urlize",)
_REMOVED_GLOBALS = ("lipsum",)
# A %-conversion: %(name)-08.3f; width and precision are what can make it long.  Kept as text
# (re compiles and caches it on first use): reading a lain.yaml without templates never does.
_PERCENT = r"%(?:\([^)]*\))?[-#0 +]*(\*|[0-9]+)?(?:\.(\*|[0-9]+))?"


class TemplateLimit(Exception):
    """A template went past one of the bounds above; the message says which, in words."""


class Budget:
    """What is left for the templates of one document: time and output."""

    __slots__ = ("deadline", "exhausted", "output_left", "seconds")

    def __init__(self, seconds: float, output: int) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.output_left = output
        # Time or output ran out: the document's other templates are not rendered.
        self.exhausted = False

    def spend_output(self, text: str) -> None:
        self.output_left -= len(text)
        if self.output_left < 0:
            self.exhausted = True  # every template after this one would be over too
            raise TemplateLimit(
                f"the rendered templates are longer than {MAX_OUTPUT} characters in all"
            )


_BUDGET: contextvars.ContextVar[Budget | None] = contextvars.ContextVar(
    "lain_template_budget", default=None
)


@contextlib.contextmanager
def budget() -> Iterator[Budget]:
    """The budget of one document's templates, in force for what renders inside the block."""
    spent = Budget(RENDER_SECONDS, MAX_OUTPUT)
    token = _BUDGET.set(spent)
    try:
        yield spent
    finally:
        _BUDGET.reset(token)


def tick() -> None:
    """Stop a template that has used up its document's time.

    Raises:
        TemplateLimit: the time is up.
    """
    spent = _BUDGET.get()
    if spent is not None and time.monotonic() > spent.deadline:
        spent.exhausted = True
        raise TemplateLimit(f"rendering took longer than {spent.seconds:g} seconds")


# -- sizes -------------------------------------------------------------------------------------


def size_of(value: object, limit: int = MAX_VALUE) -> int:
    """How big ``value`` is: characters of strings, items of containers (nested ones counted
    again wherever they appear), about bytes of integers.  Counting stops once past ``limit``,
    so it costs at most ``limit`` steps, even for a structure that contains itself."""
    total = 0
    pending = [value]
    while pending and total <= limit:
        item = pending.pop()
        if isinstance(item, (str, bytes, bytearray)):
            total += len(item)
        elif isinstance(item, int):
            total += item.bit_length() // 8 + 1
        elif isinstance(item, Mapping):
            total += 1 + len(item)
            if total <= limit:
                pending.extend(item.keys())
                pending.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            total += 1 + len(item)
            if total <= limit:
                pending.extend(item)
        else:
            total += 1
    return total


def check_size(value: Any, what: str = "a value") -> Any:
    """``value``, when it is within :data:`MAX_VALUE`.

    Raises:
        TemplateLimit: it is not.
    """
    if size_of(value) > MAX_VALUE:
        raise TemplateLimit(f"{what} would be larger than {MAX_VALUE} characters or items")
    return value


def _within(estimate: int, what: str) -> None:
    if estimate > MAX_VALUE:
        raise TemplateLimit(f"{what} would be larger than {MAX_VALUE} characters or items")


def _count(value: Any, what: str) -> int:
    """A width or count argument, bounded: it may not ask for more than MAX_VALUE of anything."""
    if isinstance(value, int) and value > MAX_VALUE:
        raise TemplateLimit(f"{what} of {value} is over the limit of {MAX_VALUE}")
    return value if isinstance(value, int) else 0


def bounded_range(*args: int) -> range:
    """``range()`` for templates: at most :data:`MAX_RANGE` items."""
    numbers = range(*args)
    try:
        items: int | None = len(numbers)
    except OverflowError:  # more items than a Python length can say
        items = None
    if items is None or items > MAX_RANGE:
        shown = "so many" if items is None else items
        raise TemplateLimit(f"range() of {shown} items is over the limit of {MAX_RANGE}")
    return numbers


def iterate(_context: Any, iterable: Iterable[Any]) -> Iterator[Any]:
    """What every ``{% for %}`` loops over: ``iterable``, stopped when the time is up."""
    for item in iterable:
        tick()
        yield item


def items_of(iterable: Any) -> list[Any]:
    """The items of an iterable a template joins, counted as they come (at most MAX_VALUE)."""
    items: list[Any] = []
    for item in iterable:
        tick()
        items.append(item)
        if len(items) > MAX_VALUE:
            raise TemplateLimit(f"joining more than {MAX_VALUE} items")
    return items


def join_text(pieces: Iterable[Any]) -> str:
    """``"".join()`` of what a template outputs (its body, a macro's, a block's): stopped as
    soon as it is longer than :data:`MAX_VALUE`."""
    parts: list[str] = []
    length = 0
    for piece in pieces:
        tick()
        text = str(piece)
        length += len(text)
        if length > MAX_VALUE:
            raise TemplateLimit(f"the output would be longer than {MAX_VALUE} characters")
        parts.append(text)
    return "".join(parts)


def concat(_context: Any, pieces: list[Any]) -> str:
    """The ``~`` operator: its operands joined, within the bound."""
    return join_text(pieces)


# -- operations that multiply sizes, checked before they run -----------------------------------


def check_binop(operator: str, left: Any, right: Any) -> None:
    """Refuse ``*``, ``**`` and ``%`` whose result would be out of bounds, before computing it."""
    if operator == "*":
        for sequence, times in ((left, right), (right, left)):
            if isinstance(times, int) and not isinstance(sequence, (int, float)):
                _within(size_of(sequence) * max(times, 0), "repeating a value")
        if isinstance(left, int) and isinstance(right, int):
            _within((left.bit_length() + right.bit_length()) // 8, "a product of numbers")
    elif operator == "**" and isinstance(left, int) and isinstance(right, int):
        _within(left.bit_length() * max(right, 0) // 8, "a power of numbers")
    elif operator == "%" and isinstance(left, (str, bytes)):
        check_percent(left if isinstance(left, str) else left.decode("latin-1"), right)


def check_percent(text: str, args: Any) -> None:
    """Refuse ``text % args`` (and the ``format`` filter) when its widths or the number of
    conversions times the arguments' size go past the bound."""
    widest, conversions = 0, 0
    for match in re.finditer(_PERCENT, text):
        conversions += 1
        for number in match.groups():
            if number == "*":
                raise TemplateLimit("a width or precision taken from the arguments (%*d)")
            if number:
                widest = max(widest, _count(int(number[:8]), "a width"))
    _within(len(text) + conversions * max(widest, size_of(args)), "the formatted string")


def check_format(text: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """Refuse ``text.format(...)`` whose fields, widths or arguments go past the bound."""
    import string

    widest, fields = 0, 0
    for _, field, spec, _ in string.Formatter().parse(text):
        if field is None:
            continue
        fields += 1
        if spec and "{" in spec:
            raise TemplateLimit("a format spec taken from the arguments ({:{width}})")
        for number in re.findall(r"[0-9]+", spec or ""):
            widest = max(widest, _count(int(number[:8]), "a width"))
    arguments = size_of((args, dict(kwargs)))
    _within(len(text) + fields * max(widest, arguments), "the formatted string")


def check_method(method: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[Any, ...]:
    """Refuse a call of a string method that would build a value out of bounds; the arguments
    to call it with (an iterable ``join`` consumes is read once, here)."""
    owner = getattr(method, "__self__", None)
    if not isinstance(owner, (str, bytes)):
        return args
    name = getattr(method, "__name__", "")
    given = [*args, *kwargs.values()]
    if name in ("center", "ljust", "rjust", "zfill") and given:
        _count(given[0], f"{name}() to a width")
    elif name == "expandtabs":
        tab = _count(given[0], "a tab size") if given else 8
        tabs = owner.count("\t") if isinstance(owner, str) else owner.count(b"\t")
        _within(len(owner) + tabs * tab, name)
    elif name == "replace" and len(args) >= 2:
        _check_replace(owner, args[0], args[1], args[2] if len(args) > 2 else -1)
    elif name == "join" and args:
        items = items_of(args[0])
        _within(len(owner) * len(items) + sum(size_of(i) for i in items), "the joined string")
        return (items, *args[1:])
    return args


def _check_replace(text: Any, old: Any, new: Any, count: Any) -> None:
    if not isinstance(old, (str, bytes)) or not isinstance(new, (str, bytes)):
        return
    if not isinstance(text, (str, bytes)):
        text = str(text)
    found = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    _within(len(text) + found * max(len(new) - len(old), 0), "the replaced string")


# -- filters -----------------------------------------------------------------------------------


def _filter_checks() -> dict[str, Callable[[dict[str, Any]], None]]:
    """Checks of the filters that multiply sizes, by filter name, on their bound arguments."""

    def join(a: dict[str, Any]) -> None:
        items = a["value"] = items_of(a["value"])
        separator = len(str(a.get("d", "")))
        _within(separator * len(items) + sum(size_of(i) for i in items), "the joined string")

    def indent(a: dict[str, Any]) -> None:
        width = a.get("width", 4)
        per_line = len(width) if isinstance(width, str) else _count(width, "an indent")
        _within(len(str(a["s"])) * (1 + per_line), "the indented string")

    def wordwrap(a: dict[str, Any]) -> None:
        wrap = a.get("wrapstring") or "\n"
        _within(len(str(a["s"])) * (1 + len(str(wrap))), "the wrapped string")

    def tojson(a: dict[str, Any]) -> None:
        indent = a.get("indent")
        if indent is not None and (len(indent) if isinstance(indent, str) else indent) > MAX_INDENT:
            raise TemplateLimit(f"tojson's indent is over the limit of {MAX_INDENT}")

    def total(a: dict[str, Any]) -> None:
        if not isinstance(a.get("start", 0), (int, float)):
            raise TemplateLimit("sum() of strings or lists (it takes quadratic time); use join")

    def counted(key: str, what: str) -> Callable[[dict[str, Any]], None]:
        def check(a: dict[str, Any]) -> None:
            _count(a.get(key), what)

        return check

    return {
        "center": counted("width", "center() to a width"),
        "format": lambda a: check_percent(str(a["value"]), a.get("kwargs") or a.get("args")),
        "join": join,
        "indent": indent,
        "replace": lambda a: _check_replace(a["s"], a["old"], a["new"], a.get("count")),
        "wordwrap": wordwrap,
        "batch": counted("linecount", "batch() of a size"),
        "slice": counted("slices", "slice() into a number of parts"),
        "tojson": tojson,
        "sum": total,
    }


def bounded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` (the filter ``name``), stopped when the time is up, checked before it runs
    when it can multiply sizes, and its result checked after."""
    import inspect  # only here: reading an ordinary lain.yaml never builds the environment

    check = _filter_checks().get(name)
    signature = inspect.signature(function) if check is not None else None
    # The signature is the plain filter's; a filter with an async variant is called with an
    # evaluation context first that the plain one does not take.
    extra = int(
        getattr(function, "jinja_pass_arg", None) is not None
        and getattr(inspect.unwrap(function), "jinja_pass_arg", None) is None
    )

    @functools.wraps(function)  # keeps Jinja2's pass_context and pass_environment marks
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        tick()
        if check is not None and signature is not None:
            bound = signature.bind(*args[extra:], **kwargs)
            bound.apply_defaults()
            check(bound.arguments)
            args, kwargs = (*args[:extra], *bound.args), bound.kwargs
        return check_size(function(*args, **kwargs), f"the result of the filter {name}")

    return wrapper


# -- the environment ---------------------------------------------------------------------------


@functools.cache
def environment() -> Any:
    """The bounded sandbox (built once: jinja2 is imported here)."""
    from jinja2.utils import pass_context

    environment_class, namespace = _classes()
    env = environment_class()
    for name, function in list(env.filters.items()):
        env.filters[name] = bounded_filter(name, function)
    for name in _REMOVED_FILTERS:
        del env.filters[name]
    for name in _REMOVED_GLOBALS:
        del env.globals[name]
    env.filters["lain_iterate"] = pass_context(iterate)
    env.filters["lain_concat"] = pass_context(concat)
    env.globals.update(range=bounded_range, namespace=namespace)
    return env


def _classes() -> tuple[type[Any], type[Any]]:
    """The bounded environment's class, and its ``namespace()``."""
    from jinja2 import nodes
    from jinja2.sandbox import ImmutableSandboxedEnvironment
    from jinja2.utils import Namespace
    from jinja2.visitor import NodeTransformer

    class BoundedNamespace(Namespace):
        """``namespace()``: the one place a template keeps a value across loop iterations, so
        what is stored there is checked (a string doubled at each iteration stops)."""

        def __setitem__(self, name: str, value: Any) -> None:
            super().__setitem__(name, check_size(value, f"namespace attribute {name}"))

    class Bounding(NodeTransformer):
        """Every for loop iterates through :func:`iterate`; every ``~`` joins through
        :func:`concat` (filters marked pass_context are never run at compile time)."""

        def visit_For(self, node: nodes.For) -> nodes.Node:
            self.generic_visit(node)
            node.iter = nodes.Filter(node.iter, "lain_iterate", [], [], None, None)
            return node

        def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
            self.generic_visit(node)
            return nodes.Filter(nodes.List(node.nodes), "lain_concat", [], [], None, None)

    class BoundedEnvironment(ImmutableSandboxedEnvironment):
        # Every arithmetic result is checked; *, ** and % are also checked before they run.
        intercepted_binops = frozenset({"*", "**", "%", "+", "//", "/", "-"})
        concat = staticmethod(join_text)  # what the compiled template joins its output with

        def _parse(self, source: str, name: str | None, filename: str | None) -> Any:
            tree = Bounding().visit(super()._parse(source, name, filename))
            tree.set_environment(self)
            return tree

        def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
            if isinstance(obj, (str, bytes, int)) and attr in _REFUSED_METHODS:
                return False
            return bool(super().is_safe_attribute(obj, attr, value))

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            tick()
            check_binop(operator, left, right)
            return check_size(super().call_binop(context, operator, left, right))

        def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
            tick()
            args = check_method(__obj, args, kwargs)
            return check_size(super().call(__context, __obj, *args, **kwargs))

        def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
            formatter = super().wrap_str_format(value)
            if formatter is None:
                return None
            text, by_map = str(value.__self__), value.__name__ == "format_map"

            def checked(*args: Any, **kwargs: Any) -> str:
                tick()
                check_format(text, args, args[0] if by_map and args else kwargs)
                return str(check_size(formatter(*args, **kwargs), "the formatted string"))

            return checked

    return BoundedEnvironment, BoundedNamespace
