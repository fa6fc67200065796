"""lain_sdk.images.clean (clean_app) on the fake engine: which tags and images are left after
keeping the newest versions, images in use, prepare images, untagged leftovers, and errors."""

from __future__ import annotations

import pytest
from fakes.base import engine_error
from fakes.engine import run_to_end
from fakes.repos import SIMPLE, WITH_PREPARE

from lain_sdk.errors import EngineError, InvalidArgument
from lain_sdk.images import CleanResult, build_app, clean_app, prepare_app

SHA = "a" * 40


def build_versions(app, fake_docker, count: int) -> list:
    """Build ``count`` versions of ``app``, one commit each; their results, oldest first."""
    results = []
    for i in range(count):
        if i:
            app.write("version.txt", str(i))
            app.commit(f"version {i}")
        results.append(run_to_end(build_app(app.path, engine=fake_docker))[0])
    return results


def test_clean_keeps_the_newest_versions(make_app, fake_docker, engine, base_image):
    app = make_app(SIMPLE)
    results = build_versions(app, fake_docker, 3)
    versions = [r.meta_version for r in results]
    # Rebuilt without the cache: the tags move to new images; the old ones stay, untagged.
    rebuilt, _ = run_to_end(build_app(app.path, engine=fake_docker, no_cache=True))
    stale = set(results[2].image_ids.values())
    assert not stale & set(rebuilt.image_ids.values())
    api = fake_docker.api
    api.tag(rebuilt.images["release"], "registry.example.com:5999/hello", f"release-{versions[0]}")
    api.tag(rebuilt.images["release"], "hello", "unrelated")
    holder = api.create_container(f"hello:build-{versions[0]}", command=["true"])["Id"]

    cleaned = clean_app(app.path, keep=1, engine=fake_docker)

    assert cleaned.app == "hello" and cleaned.kept_versions == (versions[2],)
    tags = set(engine.tags())
    assert {f"hello:{p}-{versions[2]}" for p in ("build", "release", "meta")} <= tags
    assert "hello:unrelated" in tags  # not in lain's grammar: not lain's to remove
    assert cleaned.in_use == (f"hello:build-{versions[0]}",)  # a container uses it
    assert f"hello:build-{versions[0]}" in tags
    assert set(cleaned.removed) == {
        f"hello:{p}-{v}" for p in ("release", "meta") for v in versions[:2]
    } | {f"hello:build-{versions[1]}", f"registry.example.com:5999/hello:release-{versions[0]}"}
    assert not any(versions[2] in r for r in cleaned.removed if "5999" not in r)
    assert cleaned.failed == ()
    # The images the rebuild left untagged are gone, and their untagged parents with them.
    assert cleaned.untagged and set(cleaned.untagged) <= stale
    assert not stale & set(engine.images)
    assert base_image in tags  # not the app's
    assert api.containers(all=True)[0]["Id"] == holder


def test_prepare_images_of_kept_versions_and_the_newest_stay(
    make_app, fake_docker, engine, base_image
):
    app = make_app(WITH_PREPARE)
    first = run_to_end(build_app(app.path, engine=fake_docker))[0]
    app.edit("echo deps > /deps.txt", "install-deps --v2")
    app.commit("new prepare")
    second = run_to_end(build_app(app.path, engine=fake_docker))[0]
    app.edit("install-deps --v2", "install-deps --v3")
    app.commit("newer prepare, not built yet")
    newest = run_to_end(prepare_app(app.path, engine=fake_docker))[0]
    prepares = [first.images["prepare"], second.images["prepare"], newest.images["prepare"]]
    assert len(set(prepares)) == 3

    cleaned = clean_app(app.path, keep=1, engine=fake_docker)
    tags = set(engine.tags())
    assert cleaned.kept_versions == (second.meta_version,)
    # The kept build was made from the second; the third is the newest (the next build's).
    assert prepares[0] in cleaned.removed and prepares[0] not in tags
    assert {prepares[1], prepares[2]} <= tags

    cleaned = clean_app(app.path, keep=0, engine=fake_docker)
    assert cleaned.kept_versions == ()
    assert set(engine.tags()) == {base_image, prepares[2]}


def test_images_of_other_apps_and_untagged_v2_images(make_app, fake_docker, engine, base_image):
    app = make_app(SIMPLE)
    current = build_versions(app, fake_docker, 1)[0]
    # An old version made by v2, without labels; another app's image that also carries one of
    # this app's old tags; another app's own old version.
    engine.add_image(f"hello:release-1600000000-{SHA}")
    shared = engine.add_image(f"hello:meta-1600000000-{SHA}", labels={"lain.app": "other"})
    fake_docker.api.tag(shared, "other", f"meta-1600000000-{SHA}")
    engine.add_image(f"other:release-1500000000-{SHA}", labels={"lain.app": "other"})
    engine.add_image(f"helloworld:release-1500000000-{SHA}", labels={"lain.app": "hello"})

    cleaned = clean_app(app="hello", keep=1, engine=fake_docker)
    assert cleaned.kept_versions == (current.meta_version,)
    assert set(cleaned.removed) == {
        f"hello:release-1600000000-{SHA}",
        f"hello:meta-1600000000-{SHA}",
    }
    assert engine.image(f"other:meta-1600000000-{SHA}").id == shared  # only the tag went
    assert engine.find_image(f"other:release-1500000000-{SHA}") is not None
    assert engine.find_image(f"helloworld:release-1500000000-{SHA}") is not None


def test_removals_the_engine_refuses_are_reported_and_the_rest_goes_on(
    make_app, fake_docker, engine, base_image
):
    app = make_app(SIMPLE)
    old, _ = build_versions(app, fake_docker, 2)
    engine.fail_call("remove_image", engine_error(409, "conflict: image is being used"))
    cleaned = clean_app(app.path, keep=1, engine=fake_docker)
    assert cleaned.failed == ((f"hello:build-{old.meta_version}", "conflict: image is being used"),)
    assert set(cleaned.removed) == {f"hello:{p}-{old.meta_version}" for p in ("meta", "release")}
    assert f"hello:build-{old.meta_version}" in engine.tags()


def test_an_untagged_image_that_cannot_go_yet_is_left(fake_docker, engine):
    dangling = engine.add_image(labels={"lain.app": "hello"})  # no tag
    used = engine.add_image(labels={"lain.app": "hello"})
    fake_docker.api.create_container(used, command=["true"])
    engine.fail_call("remove_image", engine_error(409, "conflict: unable to delete"))
    cleaned = clean_app(app="hello", engine=fake_docker)
    assert cleaned.untagged == () and dangling in engine.images
    assert len(engine.calls_to("remove_image")) == 1  # no endless retrying
    cleaned = clean_app(app="hello", engine=fake_docker)
    assert cleaned.untagged == (dangling,) and dangling not in engine.images
    assert used in engine.images  # a container still uses it


def test_engine_errors_while_listing(fake_docker, engine):
    engine.fail_call("images", engine_error(500, "the daemon is shutting down"))
    with pytest.raises(EngineError) as caught:
        clean_app(app="hello", engine=fake_docker)
    assert str(caught.value) == "the engine could not list images: the daemon is shutting down"
    engine.fail_call("images", engine_error(500, "the daemon is shutting down"), skip=2)
    with pytest.raises(EngineError, match="could not list images: the daemon is shutting down"):
        clean_app(app="hello", engine=fake_docker)


def test_arguments(make_app, fake_docker, engine, base_image, monkeypatch):
    with pytest.raises(InvalidArgument, match="keep must be a whole number >= 0, not -1"):
        clean_app(app="hello", keep=-1, engine=fake_docker)
    app = make_app(SIMPLE)
    monkeypatch.setattr("lain_sdk.engine.connect", lambda: fake_docker)
    cleaned = clean_app(app.path)  # the name from lain.yaml, the default engine
    assert cleaned == CleanResult("hello", (), ())
    assert cleaned.to_dict() == {
        "app": "hello",
        "removed": [],
        "kept_versions": [],
        "in_use": [],
        "failed": [],
        "untagged": [],
    }
    result = CleanResult("hello", ("a",), ("v",), ("b",), (("c", "why"),), ("sha256:1",))
    assert result.to_dict()["failed"] == [{"reference": "c", "reason": "why"}]
