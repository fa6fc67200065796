"""``build.build_arg``: values from the caller's environment, and which ones are secret."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from lain_sdk.errors import BuildError

# A name holding any of these words is treated as a secret: its value never goes into an image
# (layer, history, config, label), an event or an error.
SECRET_WORDS = ("TOKEN", "SECRET", "PASSWORD", "PASSWD", "KEY", "CREDENTIAL", "AUTH")
MASK = "********"
_VARIABLE = re.compile(
    r"^\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))$"
)


def is_secret_name(name: str) -> bool:
    """True when a build arg called ``name`` must be kept out of images and output."""
    upper = name.upper()
    return any(word in upper for word in SECRET_WORDS)


@dataclass(frozen=True)
class BuildArgs:
    """Resolved build args, split into those that may be seen and those that may not.

    Public args are passed to the builder as ordinary ``--build-arg`` values (they show in
    ``docker history``, as Docker always shows them).  Secret args are given only to the
    processes that run the script lines (see :mod:`lain_sdk.images.builder`).
    """

    public: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    secret: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def __repr__(self) -> str:  # the secret values must not leak through a repr either
        return f"BuildArgs(public={dict(self.public)!r}, secret={sorted(self.secret)!r})"

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.public) + tuple(self.secret)

    def mask(self, text: str) -> str:
        """Return ``text`` with every secret value replaced by a mask."""
        # Longest first, so a value containing another one is masked whole.
        for value in sorted(self.secret.values(), key=len, reverse=True):
            if value:
                text = text.replace(value, MASK)
        return text


def resolve_build_args(
    entries: Iterable[str], environ: Mapping[str, str], *, phase: str = "build"
) -> BuildArgs:
    """Turn ``build_arg`` entries into values.

    Each entry is ``NAME=VALUE``; a value that is exactly ``$VAR`` or ``${VAR}`` is read from
    ``environ``, and a bare ``NAME`` reads ``NAME`` from it (as ``docker build --build-arg NAME``
    does).  Any other value is used as written.

    Raises:
        BuildError: an entry names an environment variable that is not set, or is malformed.
    """
    public: dict[str, str] = {}
    secret: dict[str, str] = {}
    for entry in entries:
        name, sep, value = entry.partition("=")
        name = name.strip()
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise BuildError(
                phase, f"build_arg {entry.split('=')[0]!r} is not a valid variable name"
            )
        source = name if not sep else None
        match = _VARIABLE.match(value.strip()) if sep else None
        if match:
            source = match["braced"] or match["plain"]
        if source is not None:
            if source not in environ:
                raise BuildError(
                    phase,
                    f"build_arg {name} needs the environment variable {source}, which is not set",
                )
            value = environ[source]
        (secret if is_secret_name(name) else public)[name] = value
    return BuildArgs(MappingProxyType(public), MappingProxyType(secret))
