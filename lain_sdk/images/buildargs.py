"""``build.build_arg``: values from the caller's environment, and which ones are secret.

A value read from the environment (``NAME=$VAR``) is secret whatever its name: lain cannot know
what it holds, and the reason to keep a value out of lain.yaml is usually that it must not be
seen.  A value written in lain.yaml is public, unless its name looks secret.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from lain_sdk.errors import BuildError

# Names are read as words (split at "_", "-", digits and camelCase humps: DB_PASS, dbPass).
# A false positive costs the phase its layer cache (and a warning from validation); a false
# negative puts a credential into every image pushed.  So the lists err on the side of secret.
#
# Found anywhere in a name, even inside a word (GITHUBTOKEN, DBPASSWORD, MYAPIKEY): long
# enough not to turn up inside innocent words.
SECRET_WORDS = (
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "PASSPHRASE",
    "CREDENTIAL",
    "APIKEY",
    "PRIVATEKEY",
)
# Found only as a whole word of a name: short ones, which hide inside innocent words as
# substrings (PAT in PATH, KEY in MONKEY, AUTH in AUTHOR, PASS in BYPASS, CERT in CONCERT).
# PASS/PWD: passwords; PAT: personal access tokens; CERT/PEM/PRIVATE: TLS and signing keys;
# DSN: connection strings that carry a password (SENTRY_DSN, DB_DSN); SALT/COOKIE/JWT: keys
# of their own.
SECRET_NAME_WORDS = frozenset(
    {
        "PASS",
        "PWD",
        "PAT",
        "KEY",
        "KEYS",
        "AUTH",
        "CRED",
        "CREDS",
        "CERT",
        "CERTS",
        "PEM",
        "PRIVATE",
        "DSN",
        "SALT",
        "COOKIE",
        "JWT",
    }
)
# A name holding one of these words says where a secret is, or names a public half, not the
# secret itself: PASSWORD_FILE, SSH_KEY_PATH, CERT_DIR, PUBLIC_KEY.
NOT_SECRET_NAME_WORDS = frozenset({"FILE", "PATH", "DIR", "PUBLIC", "PUB"})
# Shell variables that merely look like a secret word (PWD is the working directory).
NOT_SECRET_NAMES = frozenset({"PWD", "OLDPWD"})

MASK = "********"
# A line of a multi-line secret value (a PEM key, a JSON credential) shorter than this is not
# masked on its own: masking every "{", "}," or "==" would garble the log and hide next to nothing.
MIN_MASKED_LINE = 4

_VARIABLE = re.compile(
    r"^\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))$"
)
_NAME_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+")


def name_words(name: str) -> list[str]:
    """The words of a variable name, upper-cased: ``"gh_PAT2"`` -> ``["GH", "PAT"]``,
    ``"dbPass"`` -> ``["DB", "PASS"]``."""
    return [word.upper() for word in _NAME_WORDS.findall(name)]


def is_secret_name(name: str) -> bool:
    """True when a value called ``name`` looks like a secret: a word of :data:`SECRET_NAME_WORDS`
    or a part of :data:`SECRET_WORDS` in it, and no word of :data:`NOT_SECRET_NAME_WORDS`."""
    upper = name.upper()
    words = set(name_words(name))
    if upper in NOT_SECRET_NAMES or words & NOT_SECRET_NAME_WORDS:
        return False
    return bool(words & SECRET_NAME_WORDS) or any(word in upper for word in SECRET_WORDS)


def environment_source(value: str) -> str | None:
    """The environment variable a build_arg value reads (``$VAR`` or ``${VAR}``), else None."""
    match = _VARIABLE.match(value.strip())
    return (match["braced"] or match["plain"]) if match else None


def secret_fragments(value: str) -> set[str]:
    """What to mask for a secret ``value``: the whole value, and each line of a multi-line one.

    Output comes in lines, so a multi-line value never appears whole in one; and a shell that
    expands ``$VAR`` unquoted (``echo $PEM``) trims it and joins its lines with single spaces.
    """
    whole = {value, value.strip(), " ".join(value.split())}
    lines = value.splitlines()
    parts = {form for line in lines for form in (line.strip(), " ".join(line.split()))}
    long_parts = {p for p in parts if len(p) >= MIN_MASKED_LINE} if len(lines) > 1 else set()
    return {f for f in whole if f} | long_parts


def masker(values: Iterable[str]) -> Callable[[str], str]:
    """A function that replaces each of the secret ``values`` in a text with :data:`MASK`
    (see :func:`secret_fragments`)."""
    fragments = set().union(*(secret_fragments(v) for v in values if v))
    if not fragments:
        return _unchanged
    # Longest first: the alternation takes the first that matches, so a value holding another
    # one is masked whole.
    pattern = re.compile("|".join(re.escape(f) for f in sorted(fragments, key=len, reverse=True)))
    return functools.partial(pattern.sub, MASK)


def _unchanged(text: str) -> str:
    return text


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

    @functools.cached_property
    def mask(self) -> Callable[[str], str]:
        """Return a text with every secret value (and each line of a multi-line one) replaced
        by :data:`MASK`."""
        return masker(self.secret.values())


def resolve_build_args(
    entries: Iterable[str], environ: Mapping[str, str], *, phase: str = "build"
) -> BuildArgs:
    """Turn ``build_arg`` entries into values.

    Each entry is ``NAME=VALUE``; a value that is exactly ``$VAR`` or ``${VAR}`` is read from
    ``environ``, and a bare ``NAME`` reads ``NAME`` from it (as ``docker build --build-arg NAME``
    does).  Any other value is used as written.  A value read from ``environ`` is secret, and
    so is one written out under a name that looks secret (:func:`is_secret_name`).

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
        source = environment_source(value) if sep else name
        if source is not None:
            if source not in environ:
                raise BuildError(
                    phase,
                    f"build_arg {name} needs the environment variable {source}, which is not set",
                )
            value = environ[source]
        (secret if source is not None or is_secret_name(name) else public)[name] = value
    return BuildArgs(MappingProxyType(public), MappingProxyType(secret))
