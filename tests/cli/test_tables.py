"""Plain-text tables and the short form of versions they show."""

from __future__ import annotations

from lain_cli.tables import ago, short_version, table

SHA = "b8443f8" + "0" * 33


def test_table_pads_columns_to_the_widest_cell() -> None:
    assert table([("A", "BB"), ("ccc", "d")]).split("\n") == ["A    BB", "ccc  d"]


def test_short_version_is_commit_time_and_seven_characters_of_the_sha() -> None:
    assert short_version(f"1733460000-{SHA}") == "2024-12-06 04:40 b8443f8"


def test_short_version_marks_a_dirty_tree() -> None:
    assert short_version(f"1733460000-{SHA}-dirty-{'c' * 12}") == "2024-12-06 04:40 b8443f8+dirty"


def test_short_version_leaves_other_text_alone() -> None:
    assert short_version("latest") == "latest"


def test_ago_says_how_long_ago_in_one_unit() -> None:
    now = 1_800_000_000
    day = 86400
    assert [ago(now - s, now) for s in (5, 125, 3 * 3600, 47 * 3600, 9 * day, 100 * day)] == [
        "5s ago",
        "2m ago",
        "3h ago",
        "47h ago",
        "9d ago",
        "3mo ago",
    ]
    assert ago(now - 1117 * day, now) == "3y ago"
    assert ago(now + 30, now) == "0s ago"  # a clock ahead of this one
