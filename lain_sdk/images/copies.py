"""``release.copy`` made concrete: each source matched in the build image, paired with where it
goes in the release image (v2's ``cp -r SRC DEST``, run in a container)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath

from lain_sdk.appconfig.model import CopySpec
from lain_sdk.errors import BuildError
from lain_sdk.images.builder import Builder

# Expands release copy sources inside the build image, as v2's `cp` in a container did: "$VAR"
# from the image's environment, then shell globs.  Prints each match NUL-terminated and an empty
# record after each source; exits 3 naming a source that matches nothing.
_EXPAND_COPY = r"""IFS=''
for spec in "$@"; do
  case $spec in *'$'*) eval "spec=\"$spec\"" ;; esac
  found=''
  for m in $spec; do
    if [ -e "$m" ] || [ -L "$m" ]; then printf '%s\0' "$m"; found=1; fi
  done
  [ -n "$found" ] || { printf '%s\n' "$spec" >&2; exit 3; }
  printf '\0'
done
"""
_GLOB_CHARS = frozenset("*?[")


def needs_expansion(specs: Sequence[CopySpec]) -> bool:
    """Whether a source holds a variable or a glob, and so must be expanded in the build image
    before the release Dockerfile can be written."""
    return any("$" in spec.src or _GLOB_CHARS & set(spec.src) for spec in specs)


def expand_copies(
    builder: Builder, image: str, specs: Sequence[CopySpec]
) -> tuple[list[tuple[str, str]], list[str]]:
    """Turn ``release.copy`` into concrete ``(source, destination)`` pairs, and name the
    lain.yaml entry each comes from.

    Like v2's ``cp -r SRC DEST``: a destination ending in "/", or a glob matching several
    paths, receives each match under its own name; otherwise the match becomes DEST.
    Sources with ``$`` or glob characters are expanded inside ``image`` (the build image).

    Raises:
        BuildError: a source matches nothing in the build image.
    """
    names = [f"copy {spec.src} -> {spec.dest}" for spec in specs]
    if needs_expansion(specs):
        matches = _matches_in_image(builder, image, specs, names)
    else:
        matches = [[spec.src] for spec in specs]
    copies: list[tuple[str, str]] = []
    sources: list[str] = []
    for spec, found, name in zip(specs, matches, names, strict=True):
        into = spec.dest.endswith("/") or len(found) > 1 or bool(_GLOB_CHARS & set(spec.src))
        for path in found:
            dest = f"{spec.dest.rstrip('/')}/{PurePosixPath(path).name}" if into else spec.dest
            copies.append((path, dest))
            sources.append(name)
    return copies, sources


def _matches_in_image(
    builder: Builder, image: str, specs: Sequence[CopySpec], names: Sequence[str]
) -> list[list[str]]:
    """What each source matches in ``image``, expanded by its shell."""
    argv = ["/bin/sh", "-c", _EXPAND_COPY, "lain-copy", *(_eval_safe(s.src) for s in specs)]
    code, out, err = builder.capture(image, argv, phase="release")
    if code != 0:
        missing = err.strip().splitlines()[-1:] or ["?"]
        failed = next(
            (n for n, s in zip(names, specs, strict=True) if _eval_safe(s.src) == missing[0]),
            None,
        )
        raise BuildError(
            "release",
            f"copy source {missing[0]} matches nothing in the build image",
            err.strip().splitlines()[-10:],
            failed_line=failed,
        )
    return _split_groups(out.decode("utf-8", "surrogateescape"))


def _eval_safe(src: str) -> str:
    # The expansion script evaluates sources holding "$" inside double quotes: escape what
    # double quotes would otherwise interpret, so only variables are expanded.
    if "$" not in src:
        return src
    return src.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`")


def _split_groups(output: str) -> list[list[str]]:
    groups: list[list[str]] = [[]]
    for record in output.split("\0")[:-1]:
        if record:
            groups[-1].append(record)
        else:
            groups.append([])
    return groups[:-1]
