"""Checks of the arguments SDK entry points are called with, so a wrong one is a clear
:class:`~lain_sdk.errors.InvalidArgument` naming it instead of an AttributeError deep inside."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar

from lain_sdk.errors import InvalidArgument
from lain_sdk.protocols import EngineClient, HttpSession

T = TypeVar("T")

# lain.yaml's name rule (the schema's ``name``): letters and digits with single dashes.
NAME_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9]*(-[a-zA-Z0-9]+)*$")
# An app on a cluster: an appname, or a resource instance ``resource.<res>.<client>``.
APP_RE = re.compile(
    r"^([a-zA-Z][a-zA-Z0-9]*(-[a-zA-Z0-9]+)*)(\.[a-zA-Z][a-zA-Z0-9]*(-[a-zA-Z0-9]+)*){0,2}$"
)


def app_name(value: object, what: str = "app") -> str:
    """An app's name on a cluster (``resource.<res>.<client>`` included)."""
    if not isinstance(value, str) or not APP_RE.match(value):
        raise InvalidArgument(
            f"{what} must be an app name (letters and digits with single dashes, like my-app), "
            f"not {value!r}"
        )
    return value


def proc_name(value: object, what: str = "proc") -> str:
    if not isinstance(value, str) or not NAME_RE.match(value):
        raise InvalidArgument(
            f"{what} must be a proc name (letters and digits with single dashes, like web), "
            f"not {value!r}"
        )
    return value


def proc_names(value: Iterable[str] | None, what: str = "procs") -> list[str] | None:
    """A list of proc names, or None; a single string is refused (it would be read letter by
    letter)."""
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise InvalidArgument(f"{what} must be a list of proc names, not {value!r}")
    return [proc_name(v, what) for v in value]


def optional_text(value: object, what: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise InvalidArgument(f"{what} must be a string or None, not {value!r}")
    return value or None


def seconds(value: object, what: str = "timeout") -> float:
    """A positive, finite number of seconds."""
    # Compared with the largest float, not with infinity: a bigger int has no float value.
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not 0 < value <= sys.float_info.max
    ):
        raise InvalidArgument(f"{what} must be a positive number of seconds, not {short(value)}")
    return float(value)


def whole(value: object, what: str, minimum: int = 0, maximum: int | None = None) -> int:
    """A whole number >= ``minimum`` (and <= ``maximum`` when given)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidArgument(f"{what} must be a whole number >= {minimum}, not {short(value)}")
    if maximum is not None and value > maximum:
        raise InvalidArgument(
            f"{what} must be a whole number from {minimum} to {maximum}, not {short(value)}"
        )
    return value


def number(
    value: object, what: str, minimum: float, maximum: float, kind: str = "a number"
) -> float:
    """A finite number from ``minimum`` to ``maximum`` (NaN and infinity are refused); ``kind``
    says what it counts in the message (``a number of CPUs``)."""
    # NaN compares false with everything, and the bounds are finite: inf and NaN fail here.
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not minimum <= value <= maximum
    ):
        raise InvalidArgument(
            f"{what} must be {kind} from {minimum:g} to {maximum:g}, not {short(value)}"
        )
    return float(value)


def flag(value: object, what: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidArgument(f"{what} must be True or False, not {value!r}")
    return value


def optional_texts(value: object, what: str) -> list[str] | None:
    """None, or a list (any iterable) of strings; a single string is refused (it would be read
    letter by letter)."""
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise InvalidArgument(f"{what} must be a list of strings or None, not {value!r}")
    items = list(value)
    if not all(isinstance(item, str) for item in items):
        raise InvalidArgument(f"{what} must be a list of strings or None, not {items!r}")
    return items


def mapping(value: object, what: str) -> Mapping[str, object]:
    """A mapping with string keys (the values are the caller's to check)."""
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise InvalidArgument(f"{what} must be a mapping with string keys, not {_kind(value)}")
    return value


def optional_flag(value: object, what: str) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise InvalidArgument(f"{what} must be True, False or None, not {value!r}")
    return value


def string(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise InvalidArgument(f"{what} must be a string, not {_kind(value)}")
    return value


def text(value: object, what: str) -> str:
    """A string with something in it (a registry address, a version ...)."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgument(f"{what} must be a non-empty string, not {value!r}")
    return value


def path(value: object, what: str = "app_dir") -> str | os.PathLike[str]:
    """A file system path: a string or an ``os.PathLike`` such as ``pathlib.Path``."""
    if isinstance(value, str) or (
        isinstance(value, os.PathLike) and isinstance(os.fspath(value), str)
    ):
        return value
    raise InvalidArgument(f"{what} must be a path (a string or a pathlib.Path), not {value!r}")


def optional_path(value: object, what: str) -> str | os.PathLike[str] | None:
    return None if value is None else path(value, what)


def environ(value: object, what: str = "environ") -> Mapping[str, str] | None:
    """An environment to read instead of ``os.environ``, or None."""
    if value is not None and not isinstance(value, Mapping):
        raise InvalidArgument(
            f"{what} must be a mapping of names to values, like os.environ, or None, "
            f"not {_kind(value)}"
        )
    return value


def instance(value: object, kind: type[T], what: str) -> T:
    """A ``kind``; the message names the type given, never the value (a wrong credential is
    not quoted)."""
    if not isinstance(value, kind):
        raise InvalidArgument(f"{what} must be a {kind.__name__}, not {_kind(value)}")
    return value


def optional_instance(value: object, kind: type[T], what: str) -> T | None:
    """None or a ``kind``; the message names the type given, never the value (a wrong
    credential is not quoted)."""
    if value is not None and not isinstance(value, kind):
        raise InvalidArgument(f"{what} must be a {kind.__name__} or None, not {_kind(value)}")
    return value


def instance_or_lookup(
    value: object, kind: type[T], what: str
) -> T | Callable[[], T | None] | None:
    """None, a ``kind``, or a function called without arguments that returns one (or None)."""
    if value is None or isinstance(value, kind) or callable(value):
        return value
    raise InvalidArgument(
        f"{what} must be a {kind.__name__}, a function returning one, or None, not {_kind(value)}"
    )


def engine_client(value: object, what: str = "engine") -> EngineClient | None:
    """None (lain connects to the local engine) or a client with ``.api`` and ``.close()``,
    like ``docker.DockerClient``."""
    if value is not None and not isinstance(value, EngineClient):
        raise InvalidArgument(
            f"{what} must be a Docker client (a docker.DockerClient, or anything with .api and "
            f".close()) or None, not {_kind(value)}"
        )
    return value


def optional_session(value: object, what: str = "session") -> HttpSession | None:
    """None or an HTTP session with ``.request()`` and ``.close()``, like ``requests.Session``."""
    if value is not None and not isinstance(value, HttpSession):
        raise InvalidArgument(
            f"{what} must be an HTTP session (a requests.Session, or anything with .request() "
            f"and .close()) or None, not {_kind(value)}"
        )
    return value


def optional_function(value: T | None, what: str) -> T | None:
    """None or something callable."""
    if value is not None and not callable(value):
        raise InvalidArgument(f"{what} must be a function or None, not {_kind(value)}")
    return value


def short(value: object, limit: int = 60) -> str:
    """``repr(value)``, cut to ``limit`` characters: a message quotes a huge number or string
    without repeating all of it."""
    if isinstance(value, int) and value.bit_length() > 10_000:
        return "a number of thousands of digits"  # too long for repr() to write out
    shown = repr(value)
    return shown if len(shown) <= limit else f"{shown[: limit - 3]}..."


def _kind(value: object) -> str:
    """``a list``, ``an int``: what a value is, without showing it."""
    name = type(value).__name__
    return f"an {name}" if name[:1].lower() in "aeiou" else f"a {name}"
