"""Versions as people type them, resolved to the meta versions lain tags images with.

A meta version (``<commit unix time>-<40-hex sha>``, see :mod:`lain_sdk.git`) is 51 characters;
nobody types one.  What a person may give instead:

- the whole meta version (``-dirty-<12 hex>`` included);
- the short form tables show (``2026-12-06 04:37 b8443f8``, ``...+dirty`` for a dirty build);
- a commit sha, or any prefix of it at least :data:`MIN_PREFIX` characters long;
- ``HEAD``, a branch, a tag, ``HEAD~1``: anything git resolves to a commit in the app's
  checkout.

Each is matched against the versions that exist where the command looks (the registry for a
deploy, the local engine for ``lain run`` and ``lain push``).  A commit stands for its clean
version; a dirty build of it is chosen only when it is the one build of that commit there.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import lain_sdk.arguments as arguments
from lain_sdk.appconfig.appname import read_appname
from lain_sdk.cluster.engine_calls import engine_errors
from lain_sdk.errors import (
    AmbiguousVersion,
    GitError,
    ImageNotFound,
    InvalidArgument,
    LainError,
    VersionNotFound,
)
from lain_sdk.git import (
    META_VERSION_RE,
    commit_subjects,
    find_commit,
    parse_meta_version,
    short_version,
)
from lain_sdk.images.naming import parse_tag, version_sort_key
from lain_sdk.protocols import EngineClient, Registry

# Shorter prefixes match too much to mean one commit (git's own minimum is 4 as well).
MIN_PREFIX = 4
_SHA_PREFIX = re.compile(rf"[0-9a-f]{{{MIN_PREFIX},40}}")
# What :func:`short_version` prints, pasted back: the sha part is what identifies it.
_SHORT_FORM = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2} (?P<sha>[0-9a-f]{7,40})(?P<dirty>\+dirty)?"
)

# Why a command runs the version it does (``version_source`` in JSON results).
GIVEN = "given"
NEWEST_IN_REGISTRY = "newest-in-registry"
HEAD = "head"


@dataclass(frozen=True)
class VersionPool:
    """The versions of an app in one place, newest first.

    Attributes:
        app: the app.
        versions: its meta versions there, newest first.
        where: the place, for messages: ``registry HOST`` or ``this engine``.
        registry: the registry's ``HOST[:PORT]`` when that is the place, else empty.
    """

    app: str
    versions: tuple[str, ...]
    where: str
    registry: str = ""

    def not_found(self, given: str) -> LainError:
        """The error for ``given`` matching none of the versions, naming those there are."""
        shown = [short_version(v) for v in self.versions[:5]]
        if self.registry:
            return VersionNotFound(self.app, given, self.registry, self.versions, shown=shown)
        return ImageNotFound(self.app, f"{self.app}:release-{given}", self.versions, shown=shown)


@dataclass(frozen=True)
class VersionChoice:
    """The version a command runs, and why.

    Attributes:
        meta_version: the version.
        source: :data:`GIVEN`, :data:`NEWEST_IN_REGISTRY` or :data:`HEAD`.
        given: the version as typed (``source`` GIVEN), else None.
        why: why it was chosen, in words (for ``source`` GIVEN, what the typed text named).
    """

    meta_version: str
    source: str
    given: str | None = None
    why: str = ""


def registry_pool(registry: Registry, app: str) -> VersionPool:
    """The versions of ``app`` in ``registry`` (both its release and meta images pushed).

    Raises:
        RegistryError: the registry did not answer or refused.
    """
    return VersionPool(
        app, tuple(registry.app_versions(app)), f"registry {registry.host}", registry.host
    )


def local_pool(
    engine: EngineClient, app: str, *, registry: str = "", phases: Sequence[str] = ("release",)
) -> VersionPool:
    """The versions of ``app`` whose images of every phase of ``phases`` are on the engine,
    as ``lain build`` tags them (or, with ``registry``, as pulled from or pushed to it).

    Raises:
        EngineError: the engine did not answer.
    """
    api = engine.api
    with engine_errors(api, f"list the images of {app}"):
        found = api.images(name=app) + (api.images(name=f"{registry}/{app}") if registry else [])
    tagged: dict[str, set[str]] = {}
    for image in found:
        for tag in image.get("RepoTags") or []:
            parsed = parse_tag(tag)
            if parsed is not None and parsed.app == app and parsed.registry in (None, registry):
                tagged.setdefault(parsed.version, set()).add(parsed.phase)
    complete = [v for v, have in tagged.items() if set(phases) <= have]
    newest_first = sorted(complete, key=version_sort_key, reverse=True)
    return VersionPool(app, tuple(newest_first), "this engine")


def resolve_version(
    given: str, pool: VersionPool, *, app_dir: str | os.PathLike[str] | None = None
) -> str:
    """The meta version of ``pool`` that ``given`` names (see the module's docstring).

    A sha prefix is matched against the pool first; what matches nothing there (or is no sha)
    is resolved by git in ``app_dir``, when given, to a commit and then to its version.

    Raises:
        AmbiguousVersion: ``given`` matches several versions (they are named).
        VersionNotFound, ImageNotFound: it matches none (those there are are named).
        GitError: ``given`` is no version nor sha, and git cannot resolve it in ``app_dir``.
        InvalidArgument: ``given`` is empty.
    """
    given = arguments.text(given, "version").strip()
    if not given:
        raise InvalidArgument(f"an empty version names no version of {pool.app}")
    if META_VERSION_RE.fullmatch(given):
        if given in pool.versions:
            return given
        raise pool.not_found(given)
    short = _SHORT_FORM.fullmatch(given)
    sha, dirty = (short["sha"], bool(short["dirty"])) if short else (given.lower(), False)
    if _SHA_PREFIX.fullmatch(sha):
        found = _pick(given, pool, _with_sha_prefix(pool.versions, sha), dirty=dirty)
        if found is not None:
            return found
        if short or app_dir is None:
            raise pool.not_found(given)
    elif app_dir is None:
        raise pool.not_found(given)
    return _from_git(given, pool, app_dir)


def _with_sha_prefix(versions: Iterable[str], prefix: str) -> list[str]:
    return [v for v in versions if v.partition("-")[2].startswith(prefix)]


def _pick(given: str, pool: VersionPool, candidates: list[str], *, dirty: bool) -> str | None:
    """The one version ``candidates`` (matches of one text) stand for; None for no match.

    One commit stands for its clean version, else for its one dirty build; asked for a dirty
    build (``+dirty``), only dirty builds count.
    """
    if dirty:
        candidates = [v for v in candidates if "-dirty-" in v]
    if not candidates:
        return None
    commits = {v.split("-")[1] for v in candidates}
    if len(commits) == 1:
        clean = [v for v in candidates if "-dirty-" not in v]
        if clean:
            return clean[0]
        if len(candidates) == 1:
            return candidates[0]
    raise AmbiguousVersion(pool.app, given, pool.where, [(v, short_version(v)) for v in candidates])


def _from_git(given: str, pool: VersionPool, app_dir: str | os.PathLike[str]) -> str:
    """The version of the commit git resolves ``given`` to in ``app_dir``."""
    try:
        commit = find_commit(app_dir, given)
    except (GitError, ValueError) as e:
        raise GitError(
            f"{given} is not a version of {pool.app} in {pool.where} nor the start of one's "
            f"commit sha, and git cannot resolve it in {app_dir}: {e}"
        ) from e
    if commit is None:
        raise pool.not_found(given)
    sha, commit_time = commit
    found = _pick(given, pool, _with_sha_prefix(pool.versions, sha), dirty=False)
    if found is None:
        raise pool.not_found(f"{given} ({short_version(f'{commit_time}-{sha}')})")
    return found


def checkout_of(app: str, app_dir: str | os.PathLike[str]) -> str | os.PathLike[str] | None:
    """``app_dir`` when its lain.yaml is ``app``'s (so its git history is the app's), else
    None: git refs and HEAD mean nothing for another app."""
    try:
        return app_dir if read_appname(app_dir) == app else None
    except LainError:
        return None


def choose_registry_version(
    pool: VersionPool, given: str | None, *, app_dir: str | os.PathLike[str] | None = None
) -> VersionChoice:
    """The version a deploy runs: ``given`` resolved (see :func:`resolve_version`), else the
    newest in the registry, with why (and, from ``app_dir``'s checkout, where HEAD stands).

    Raises:
        VersionNotFound: no version there at all, or none that ``given`` names.
        AmbiguousVersion, GitError: see :func:`resolve_version`.
    """
    if given:
        found = resolve_version(given, pool, app_dir=app_dir)
        return VersionChoice(found, GIVEN, given, f"given as {given}")
    if not pool.versions:
        raise VersionNotFound(pool.app, None, pool.registry, ())
    newest = pool.versions[0]
    why = f"the newest version in {pool.where.removeprefix('registry ')}"
    return VersionChoice(newest, NEWEST_IN_REGISTRY, None, why + _head_note(pool, app_dir))


def _head_note(pool: VersionPool, app_dir: str | os.PathLike[str] | None) -> str:
    """Where the checkout's HEAD stands against the newest version: '' when unknown."""
    try:
        head = find_commit(app_dir, "HEAD") if app_dir is not None else None
    except (GitError, ValueError):
        return ""
    if head is None:
        return ""
    sha = head[0]
    if pool.versions and pool.versions[0].split("-")[1] == sha:
        return ", which is HEAD"
    if _with_sha_prefix(pool.versions, sha):
        return f" (HEAD is {sha[:7]}, an older version)"
    return f" (HEAD is {sha[:7]}, not pushed)"


def version_subjects(
    versions: Iterable[str], app_dir: str | os.PathLike[str] | None
) -> dict[str, str]:
    """The commit subject of each version whose commit the checkout at ``app_dir`` has; empty
    when there is no checkout there (a subject is a help to read, not something to fail on)."""
    by_sha: dict[str, list[str]] = {}
    for version in versions:
        if META_VERSION_RE.fullmatch(version):
            by_sha.setdefault(version.split("-")[1], []).append(version)
    if app_dir is None or not by_sha:
        return {}
    try:
        subjects = commit_subjects(app_dir, by_sha)
    except GitError:
        return {}
    return {v: subject for sha, subject in subjects.items() for v in by_sha.get(sha, [])}


def commit_time(meta_version: str) -> int | None:
    """The commit time a meta version carries (unix seconds); None for anything else."""
    try:
        return parse_meta_version(meta_version)[0]
    except ValueError:
        return None
