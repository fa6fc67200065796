"""Reading YAML (lain_sdk.appconfig.yamlpos): every difficulty is a Problem with a position,
never another exception."""

from __future__ import annotations

import pytest

from lain_sdk.appconfig import parse_app_config
from lain_sdk.appconfig.yamlpos import load_yaml
from lain_sdk.errors import AppConfigError, Problem


def problems(text: str) -> list[str]:
    with pytest.raises(AppConfigError) as e:
        parse_app_config(text)
    return [str(p) for p in e.value.problems]


def test_syntax_error_names_its_line() -> None:
    assert problems("appname: a\nbuild:\n  base: x\n script: y\n") == [
        (
            "lain.yaml:4:2: invalid YAML: did not find expected key "
            "(while parsing a block mapping at line 1)"
        )
    ]


def test_mapping_value_in_the_wrong_place() -> None:
    assert problems("appname: a\nbuild: base: x\n") == [
        "lain.yaml:2:12: invalid YAML: mapping values are not allowed in this context"
    ]


TAB = (
    "invalid YAML: found a tab character where YAML needs spaces (YAML indents with spaces "
    "only); replace it with spaces"
)


def test_tab_indentation_says_tab_and_the_fix() -> None:
    assert problems("appname: a\nbuild:\n\tbase: x\n") == [f"lain.yaml:3:1: {TAB}"]


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("appname: a\nbuild:\n  base: x\n\tscript: [y]\n", "4:1"),  # after space indents
        ("appname: a\nbuild:\n  \tbase: x\n", "3:3"),  # spaces, then a tab
        ("appname: a\nbuild:\n  base: x\n  script:\n  - a\n\t- b\n", "6:1"),  # in a list
        ("appname: a\nbuild:\n  base: |\n\tx\n", "4:1"),  # in a block scalar
        ("appname: a\nbuild:\n  script:\n    - \ty\n", "4:7"),  # after a dash
    ],
)
def test_a_tab_anywhere_yaml_needs_spaces_is_named(text: str, place: str) -> None:
    assert problems(text) == [f"lain.yaml:{place}: {TAB}"]


def test_the_other_lines_indented_with_tabs_are_named_too() -> None:
    text = "appname: a\nbuild:\n\tbase: x\n\tscript:\n\t- y\n"
    assert problems(text) == [f"lain.yaml:3:1: {TAB}; lines 4, 5 also indent with tabs"]
    one_more = "appname: a\nbuild:\n\tbase: x\n  \tscript: [y]\n"
    assert problems(one_more) == [f"lain.yaml:3:1: {TAB}; line 4 also indents with tabs"]


def test_a_tab_inside_a_quoted_value_is_no_problem() -> None:
    assert load_yaml("appname: a\nbuild: {base: 'x\ty'}\n").problems == []


def test_duplicate_keys_name_both_positions() -> None:
    assert problems("appname: a\nbuild:\n  base: x\n  base: y\n") == [
        (
            "lain.yaml:4:3: build.base: duplicate key 'base' (first at line 3, column 3); "
            "YAML keeps only the last one, so remove or merge one of them"
        )
    ]


def test_several_documents() -> None:
    assert problems("appname: a\nbuild: {base: x}\n---\nappname: b\n") == [
        (
            "lain.yaml:4:1: found 2 YAML documents; a lain.yaml holds one "
            "(remove the '---' line that starts the next one)"
        )
    ]


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "~\n", "---\n...\n"])
def test_empty_file(text: str) -> None:
    assert problems(text) == [
        "lain.yaml:1:1: the file is empty; a lain.yaml needs at least appname and build"
    ]


@pytest.mark.parametrize(
    ("text", "got"), [("- a\n- b\n", "a list"), ("hello\n", "'hello'"), ("42\n", "'42'")]
)
def test_the_document_must_be_a_mapping(text: str, got: str) -> None:
    assert problems(text) == [
        "lain.yaml:1:1: expected a mapping of keys (appname, build, web, ...) at the top level, "
        f"got {got}"
    ]


def test_anchors_aliases_and_merge_keys_work() -> None:
    config = parse_app_config(
        "appname: a\n"
        "build: {base: x}\n"
        "worker.a: &common\n"
        "  memory: 64m\n"
        "  env: &env [A=1]\n"
        "worker.b:\n"
        "  <<: *common\n"
        "  memory: 128m\n"  # overrides the merged value: not a duplicate
        "  secret_files: [a]\n"
        "worker.c:\n"
        "  env: *env\n"
    )
    a, b, c = config.procs
    assert (a.memory, b.memory) == (64 * 1024 * 1024, 128 * 1024 * 1024)
    assert dict(b.env) == {"A": "1"} and dict(c.env) == {"A": "1"}


def test_problems_inside_merged_values_point_at_the_anchor() -> None:
    assert problems("appname: a\nbuild: {base: x}\n.base: &b {memory: lots}\nworker:\n  <<: *b\n")[
        1
    ] == ("lain.yaml:3:20: worker.memory: expected a memory size like 64m, 512M or 1g, got 'lots'")


def test_a_merge_of_a_scalar() -> None:
    assert problems("appname: a\nbuild: {base: x}\nworker:\n  <<: 3\n") == [
        (
            "lain.yaml:4:7: invalid YAML: expected a mapping or list of mappings for merging, "
            "but found scalar (while constructing a mapping)"
        )
    ]


def test_unsupported_tags() -> None:
    assert problems("appname: !!python/object:os.system a\nbuild: {base: !local x}\n") == [
        "lain.yaml:1:10: appname: unsupported YAML tag '!!python/object:os.system'; remove it",
        "lain.yaml:2:15: build.base: unsupported YAML tag '!local'; remove it",
    ]


def test_an_alias_of_itself() -> None:
    assert problems("appname: a\nbuild: {base: x}\nworker: &w {env: *w}\n") == [
        "lain.yaml:3:9: an alias refers to itself"
    ]


def test_aliases_that_expand_too_far() -> None:
    lines = ["appname: a", "build: {base: x}", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 7):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    found = problems("\n".join(lines) + "\n")
    assert found == [
        "lain.yaml:8:5: a5: aliases here expand into too many values to be a lain.yaml"
    ]


def test_a_key_must_be_text() -> None:
    assert problems("appname: a\nbuild: {base: x}\n? [a, b]\n: c\n") == [
        "lain.yaml:3:3: a key must be plain text, not a list or a mapping"
    ]


def test_characters_yaml_does_not_allow() -> None:
    assert problems("appname: a\x07\nbuild: {base: x}\n") == [
        "lain.yaml:1:11: invalid YAML: the character U+0007 is not allowed in YAML text"
    ]


def test_dates_stay_text() -> None:
    config = parse_app_config("appname: a\nbuild: {base: x}\nworker: {cmd: 2018-01-01}\n")
    assert config.proc("worker").cmd == ("2018-01-01",)


def test_keys_are_the_text_written() -> None:
    doc = load_yaml("a:\n  80: x\n  yes: y\n  null: z\n")
    assert doc.data == {"a": {"80": "x", "yes": "y", "null": "z"}}


def test_positions_of_keys_and_values() -> None:
    doc = load_yaml("a:\n  b:\n    - x\n    - y: 1\n")
    assert doc.position(("a", "b"), at="key") == (2, 3)
    assert doc.position(("a", "b"), at="value") == (3, 5)
    assert doc.position(("a", "b", 1, "y"), at="key") == (4, 7)
    assert doc.position(("a", "b", 1, "y")) == (4, 10)
    assert doc.position(("a", "missing", "deeper")) == (2, 3)  # the nearest known place
    assert doc.problem(("a", "b", 0), "bad") == Problem(3, 7, "a.b[0]", "bad")
