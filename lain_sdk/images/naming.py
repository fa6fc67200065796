"""Image names and the prepare key: pure functions, no engine.

Tags keep lain v2's grammar, so registries already full of v2 images keep listing::

    <app>:build-<mv>   <app>:release-<mv>   <app>:test-<mv>   <app>:meta-<mv>
    <app>:prepare-<key>                      (key: see :func:`prepare_key`)
    <registry>/<app>:release-<mv>            (and meta, prepare) once pushed

``<mv>`` is the meta version, ``<commit unix time>-<40-hex sha>`` (``-dirty-<12 hex>`` appended
for a build of a dirty tree).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import lain_sdk.arguments as arguments
from lain_sdk.errors import InvalidArgument

PHASES = ("prepare", "build", "release", "test", "meta")
# Phases whose tag ends in the meta version (prepare's ends in its key instead).
VERSIONED_PHASES = ("build", "release", "test", "meta", "script_inter")

# Labels every image lain makes carries; ``clean`` and ``versions`` find images through them.
LABEL_APP = "lain.app"
LABEL_META_VERSION = "lain.meta-version"
LABEL_PHASE = "lain.phase"
LABEL_GIT_SHA = "lain.git-sha"
LABEL_PREPARE_KEY = "lain.prepare-key"

_KEY_LENGTH = 20
# How prepare images are made, hashed into every prepare key: a change to it (such as making
# prepare images without a layer of sources) must not reuse images made the old way.
PREPARE_FORMAT = 2
_NAME = re.compile(
    r"^(?P<app>[a-z0-9][a-z0-9._-]*):"
    r"(?P<phase>prepare|build|release|test|meta|script_inter)-(?P<version>[A-Za-z0-9._-]+)$"
)


def image_tag(app: str, phase: str, version: str, registry: str | None = None) -> str:
    """Return the image reference of ``phase`` of ``app`` at ``version``.

    ``version`` is the meta version, or the prepare key for the prepare phase.

    Example:
        >>> image_tag("hello", "release", "1700000000-" + "a" * 40, "reg.example.com:5000")
        'reg.example.com:5000/hello:release-1700000000-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'

    Raises:
        InvalidArgument: an argument of the wrong kind, or an unknown phase.
    """
    app = arguments.app_name(app)
    if phase not in PHASES and phase not in VERSIONED_PHASES:
        raise InvalidArgument(f"phase must be one of {', '.join(PHASES)}, not {phase!r}")
    version = arguments.text(version, "version")
    registry = arguments.optional_text(registry, "registry")
    name = f"{app}:{phase}-{version}"
    return f"{registry}/{name}" if registry else name


@dataclass(frozen=True)
class ParsedTag:
    """The parts of a reference made by :func:`image_tag`."""

    registry: str | None
    app: str
    phase: str
    version: str


def parse_tag(reference: str) -> ParsedTag | None:
    """Split a reference made by :func:`image_tag`; None for anything else."""
    # App names have no "/", so whatever comes before the last one is the registry.
    registry, _, name = reference.rpartition("/")
    match = _NAME.match(name)
    if match is None:
        return None
    return ParsedTag(registry or None, match["app"], match["phase"], match["version"])


def version_sort_key(meta_version: str) -> tuple[int, str]:
    """Order meta versions by commit time (then by the rest, so same-second ones stay apart)."""
    head, _, rest = meta_version.partition("-")
    return (int(head) if head.isdigit() else -1, rest)


def prepare_key(
    *,
    base_image_id: str,
    script: Iterable[str],
    keep: Iterable[str],
    version: str | None,
    build_args: Mapping[str, str] | None = None,
    secret_arg_names: Iterable[str] = (),
) -> str:
    """Return the key that names a prepare image: a hash of everything prepare depends on.

    The base image *id* (not its name) is hashed, so a re-pulled or re-made base gives a new key;
    the scripts and keep list are hashed, so a change to them is never silently ignored (v2
    ignored it whenever an explicit version was set); an explicit ``prepare.version`` is hashed
    too, so bumping it forces a rebuild.  Secret build args count by name only: their values
    must not end up anywhere, not even hashed into a tag.  :data:`PREPARE_FORMAT` is hashed
    too, so that images made by an older way of preparing are not reused.
    """
    material = {
        "format": PREPARE_FORMAT,
        "base": base_image_id,
        "script": list(script),
        "keep": list(keep),
        "version": version,
        "args": dict(sorted((build_args or {}).items())),
        "secret_args": sorted(secret_arg_names),
    }
    digest = hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()
    return digest[:_KEY_LENGTH]
