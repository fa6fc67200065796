"""Image tags and prepare keys (lain_sdk.images.naming): pure functions, nothing running."""

from __future__ import annotations

import pytest

from lain_sdk.images.naming import image_tag, parse_tag, prepare_key, version_sort_key

MV = "1700000000-" + "a" * 40


def test_image_tags_keep_v2_grammar():
    assert image_tag("hello", "release", MV) == f"hello:release-{MV}"
    assert image_tag("hello", "meta", MV, "127.0.0.1:5000") == f"127.0.0.1:5000/hello:meta-{MV}"
    assert image_tag("hello", "prepare", "0123abcd") == "hello:prepare-0123abcd"


@pytest.mark.parametrize(
    "reference, expected",
    [
        (f"hello:release-{MV}", (None, "hello", "release", MV)),
        (
            f"reg.example.com:5000/a.b-c:meta-{MV}-dirty-0123456789ab",
            ("reg.example.com:5000", "a.b-c", "meta", f"{MV}-dirty-0123456789ab"),
        ),
        ("hello:prepare-0123abcd", (None, "hello", "prepare", "0123abcd")),
        ("hello:latest", None),
        ("hello:deploy-1", None),
    ],
)
def test_parse_tag(reference, expected):
    parsed = parse_tag(reference)
    assert (
        None if parsed is None else (parsed.registry, parsed.app, parsed.phase, parsed.version)
    ) == expected


def test_version_sort_key_orders_by_commit_time_then_rest():
    versions = ["9-" + "b" * 40, "10-" + "a" * 40, "10-" + "a" * 40 + "-dirty-000000000000"]
    assert sorted(versions, key=version_sort_key)[0] == "9-" + "b" * 40


def test_prepare_key_changes_with_each_input_and_only_then():
    base = dict(
        base_image_id="sha256:1", script=["a"], keep=["k"], version=None, build_args={"X": "1"}
    )
    key = prepare_key(**base)
    assert key == prepare_key(**base)
    assert len(key) == 20 and all(c in "0123456789abcdef" for c in key)
    changed = [
        dict(base, base_image_id="sha256:2"),
        dict(base, script=["a", "b"]),
        dict(base, keep=["k", "j"]),
        dict(base, version="2"),  # bumping an explicit version rebuilds
        dict(base, build_args={"X": "2"}),
        dict(base, secret_arg_names=["TOKEN"]),
    ]
    keys = {prepare_key(**c) for c in changed}
    assert key not in keys and len(keys) == len(changed)


def test_prepare_key_changes_with_the_way_prepare_images_are_made(monkeypatch):
    # Prepare images made before sources were kept out of their layers must not be reused.
    from lain_sdk.images import naming

    inputs = dict(base_image_id="sha256:1", script=["a"], keep=["k"], version="1")
    key = prepare_key(**inputs)
    monkeypatch.setattr(naming, "PREPARE_FORMAT", naming.PREPARE_FORMAT - 1)
    assert prepare_key(**inputs) != key
