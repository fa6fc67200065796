"""Versions as people type them: whole, short form, sha prefix, HEAD and git refs, resolved
against the versions of a registry or of the local engine."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes.cluster import WEB, publish
from fakes.engine import FakeDockerClient
from fakes.images import FakeRegistry, ImageEngine
from fakes.repos import SIMPLE, SampleApp, make_app

from lain_sdk.cluster.session import Cluster
from lain_sdk.cluster.source import resolve_version as resolve_in_registry
from lain_sdk.errors import AmbiguousVersion, GitError, ImageNotFound, VersionNotFound
from lain_sdk.git import short_version
from lain_sdk.versions import (
    GIVEN,
    NEWEST_IN_REGISTRY,
    VersionPool,
    checkout_of,
    choose_registry_version,
    local_pool,
    registry_pool,
    resolve_version,
    version_subjects,
)

B844 = "1733460000-b8443f8" + "0" * 33
B845 = "1733460100-b8445aa" + "1" * 33
OLD = "1733000000-" + "c" * 40
DIRTY = f"{B844}-dirty-{'d' * 12}"
POOL = VersionPool("shop", (B845, B844, DIRTY, OLD), "registry r.example.com", "r.example.com")


@pytest.mark.parametrize(
    ("given", "found"),
    [
        (B844, B844),
        (DIRTY, DIRTY),
        ("b8443f8", B844),
        ("b8445", B845),
        ("B8443F8", B844),
        ("cccc", OLD),
        ("c" * 40, OLD),
        ("2024-12-06 04:40 b8443f8", B844),
        ("2024-12-06 04:40 b8443f8+dirty", DIRTY),
    ],
)
def test_a_version_is_found_by_what_people_type(given: str, found: str) -> None:
    assert resolve_version(given, POOL) == found


def test_a_commit_with_only_dirty_builds_stands_for_its_one_build() -> None:
    pool = VersionPool("shop", (DIRTY, OLD), "this engine")
    assert resolve_version("b8443f8", pool) == DIRTY


def test_an_ambiguous_prefix_names_every_candidate_and_how_to_choose() -> None:
    with pytest.raises(AmbiguousVersion) as caught:
        resolve_version("b844", POOL)
    error = caught.value
    assert error.candidates == (B845, B844, DIRTY)
    text = str(error)
    assert "b844 matches 3 versions of shop in registry r.example.com" in text
    assert f"2024-12-06 04:41 b8445aa  {B845}" in text
    assert "give more characters of the commit sha, or the whole version" in text


def test_two_dirty_builds_of_one_commit_are_ambiguous_when_asked_for_dirty() -> None:
    other = f"{B844}-dirty-{'e' * 12}"
    pool = VersionPool("shop", (B844, DIRTY, other), "this engine")
    assert resolve_version("b8443f8", pool) == B844
    with pytest.raises(AmbiguousVersion, match="matches 2 versions"):
        resolve_version("2024-12-06 04:40 b8443f8+dirty", pool)


@pytest.mark.parametrize("given", ["deadbeef", "1733460000-" + "e" * 40, "b84", "main"])
def test_no_match_names_the_versions_there_are_in_short(given: str) -> None:
    with pytest.raises(VersionNotFound) as caught:
        resolve_version(given, POOL)
    text = str(caught.value)
    assert f"version {given} of shop is not in registry r.example.com" in text
    assert "newest versions there: 2024-12-06 04:41 b8445aa, 2024-12-06 04:40 b8443f8," in text
    assert caught.value.newest == POOL.versions  # the full versions, for programs


def test_no_match_on_the_engine_is_an_image_not_found() -> None:
    pool = VersionPool("shop", (B844,), "this engine")
    with pytest.raises(ImageNotFound, match="release versions here: 2024-12-06 04:40 b8443f8"):
        resolve_version("abcdef", pool)


# -- git refs, in a real repository -------------------------------------------------------------


@pytest.fixture
def app(tmp_path: Path) -> SampleApp:
    found = make_app(tmp_path, SIMPLE, name="shop")
    found.git("tag", "v1")
    found.commit("second")
    return found


def test_head_and_refs_resolve_through_git(app: SampleApp) -> None:
    second = app.meta_version
    first = f"{app.commit_time - 1}-{app.git('rev-parse', 'HEAD~1')}"
    pool = VersionPool("shop", (second, first), "this engine")
    assert resolve_version("HEAD", pool, app_dir=app.path) == second
    assert resolve_version("HEAD~1", pool, app_dir=app.path) == first
    assert resolve_version("v1", pool, app_dir=app.path) == first
    assert resolve_version("master", pool, app_dir=app.path) in (second, first)


def test_a_ref_whose_commit_has_no_version_there_is_not_found(app: SampleApp) -> None:
    pool = registry_like((f"{app.commit_time - 1}-{app.git('rev-parse', 'HEAD~1')}",))
    with pytest.raises(VersionNotFound) as caught:
        resolve_version("HEAD", pool, app_dir=app.path)
    assert f"version HEAD ({short_version(app.meta_version)}) of shop" in str(caught.value)


def test_a_ref_outside_a_checkout_says_git_cannot_resolve_it(tmp_path: Path) -> None:
    with pytest.raises(GitError, match=r"main is not a version of shop in registry r\.example"):
        resolve_version("main", POOL, app_dir=tmp_path)


def test_a_sha_prefix_matching_nothing_there_is_looked_up_in_git(app: SampleApp) -> None:
    head = app.git("rev-parse", "HEAD")
    with pytest.raises(VersionNotFound, match=rf"version {head[:8]} \("):
        resolve_version(head[:8], registry_like((OLD,)), app_dir=app.path)


def registry_like(versions: tuple[str, ...]) -> VersionPool:
    return VersionPool("shop", versions, "registry r.example.com", "r.example.com")


# -- choosing a deploy's version ----------------------------------------------------------------


def test_the_newest_is_chosen_and_where_head_stands_is_said(app: SampleApp) -> None:
    head = app.git("rev-parse", "HEAD")
    choice = choose_registry_version(registry_like((OLD,)), None, app_dir=app.path)
    assert (choice.meta_version, choice.source) == (OLD, NEWEST_IN_REGISTRY)
    assert choice.why == f"the newest version in r.example.com (HEAD is {head[:7]}, not pushed)"
    pushed = choose_registry_version(registry_like((app.meta_version, OLD)), None, app_dir=app.path)
    assert pushed.why == "the newest version in r.example.com, which is HEAD"
    older = choose_registry_version(registry_like((B845, app.meta_version)), None, app_dir=app.path)
    assert (
        older.why == f"the newest version in r.example.com (HEAD is {head[:7]}, an older version)"
    )
    assert choose_registry_version(registry_like((OLD,)), None).why.endswith("r.example.com")


def test_a_given_version_is_chosen_as_given() -> None:
    choice = choose_registry_version(POOL, "b8445")
    assert (choice.meta_version, choice.source, choice.given) == (B845, GIVEN, "b8445")


def test_an_empty_registry_has_no_version_to_choose() -> None:
    with pytest.raises(VersionNotFound, match=r"no version of shop is in registry r\.example\.com"):
        choose_registry_version(registry_like(()), None)


def test_checkout_of_is_the_folder_of_that_app_only(app: SampleApp, tmp_path: Path) -> None:
    assert checkout_of("shop", app.path) == app.path
    assert checkout_of("other", app.path) is None
    assert checkout_of("shop", tmp_path / "nowhere") is None


def test_subjects_come_from_the_checkout(app: SampleApp, tmp_path: Path) -> None:
    versions = [app.meta_version, f"{app.meta_version}-dirty-{'a' * 12}", OLD]
    assert version_subjects(versions, app.path) == {versions[0]: "second", versions[1]: "second"}
    assert version_subjects(versions, tmp_path) == {}
    assert version_subjects(versions, None) == {}


# -- where the versions come from ---------------------------------------------------------------


def test_the_registry_pool_lists_pushed_versions_and_deploys_take_prefixes(
    cluster: Cluster, registry: FakeRegistry
) -> None:
    first = publish(registry, WEB, n=1)
    second = publish(registry, WEB, n=2)
    pool = registry_pool(cluster.registry, "shop")
    assert pool.versions == (second, first) and pool.registry == "registry.example.com"
    assert resolve_in_registry(cluster.registry, "shop", first.split("-")[1][:6]) == first
    assert resolve_in_registry(cluster.registry, "shop", None) == second
    assert resolve_in_registry(cluster.registry, "shop", first) == first


def test_the_local_pool_holds_versions_with_every_phase_asked_for(
    engine: ImageEngine, fake_docker: FakeDockerClient
) -> None:
    engine.add_image(f"shop:release-{B844}")
    engine.add_image(f"shop:meta-{B844}")
    engine.add_image(f"shop:release-{B845}")
    engine.add_image(f"r.example.com/shop:release-{OLD}")
    engine.add_image(f"other/shop:release-{DIRTY}")
    client = fake_docker
    assert local_pool(client, "shop").versions == (B845, B844)
    assert local_pool(client, "shop", phases=("release", "meta")).versions == (B844,)
    assert local_pool(client, "shop", registry="r.example.com").versions == (B845, B844, OLD)
