"""The shipped JSON Schema: valid, self-describing, and the one source of the structural rules."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest

from lain_sdk.appconfig import schema
from lain_sdk.appconfig.validation import SCHEMA_FILE, _inline_refs


def _walk(node: Any, path: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{path}/{i}")


def test_the_schema_is_a_valid_draft_7_schema() -> None:
    document = schema()
    assert document["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(document)


def test_the_file_is_what_schema_returns() -> None:
    assert json.loads(SCHEMA_FILE.read_text(encoding="utf-8")) == schema()


def test_schema_returns_a_copy() -> None:
    schema()["title"] = "changed"
    assert schema()["title"] == "lain.yaml"


def test_every_pattern_and_choice_says_what_it_expects() -> None:
    """Messages quote x-expected, never a regular expression."""
    document = schema()
    for path, node in _walk(document):
        if "pattern" in node and "propertyNames" not in path:
            owner = _owner(document, path)
            assert "x-expected" in node or "x-expected" in owner, path
        if "anyOf" in node:
            assert "x-expected" in node, path


def _owner(document: dict[str, Any], path: str) -> dict[str, Any]:
    """The anyOf schema a branch belongs to."""
    parts = path.split("/")[1:]
    node: Any = document
    owner: dict[str, Any] = {}
    for part in parts:
        if isinstance(node, dict) and "anyOf" in node:
            owner = node
        node = node[int(part)] if isinstance(node, list) else node[part]
    return owner


def test_references_all_resolve() -> None:
    inlined = json.dumps(_inline_refs(schema()))
    assert '"$ref"' not in inlined


def test_defaults_are_documented() -> None:
    document = schema()
    keys = document["definitions"]["procKeys"]["properties"]
    assert document["definitions"]["memory"]["default"] == "32m"
    assert keys["num_instances"]["default"] == 1
    assert keys["cpu"]["default"] == 0
    assert keys["setup_time"] == {**keys["setup_time"], "minimum": 0, "maximum": 120, "default": 0}
    assert keys["kill_timeout"] == {
        **keys["kill_timeout"],
        "minimum": 10,
        "maximum": 60,
        "default": 10,
    }
    assert document["properties"]["apptype"]["default"] == "app"
    assert document["definitions"]["portal"]["properties"]["allow_clients"]["default"] == "**"
    for name, node in keys.items():
        target = (
            node
            if "description" in node
            else document["definitions"].get(node.get("$ref", "").split("/")[-1], {})
        )
        assert "description" in target, name


@pytest.mark.parametrize(
    "key",
    [
        "appname",
        "giturl",
        "apptype",
        "build",
        "release",
        "test",
        "notify",
        "use_services",
        "use_resources",
    ],
)
def test_every_v2_top_level_key(key: str) -> None:
    assert key in schema()["properties"]


def test_every_v2_proc_key() -> None:
    keys = set(schema()["definitions"]["procKeys"]["properties"])
    assert keys == {
        "image", "cmd", "entrypoint", "user", "workdir", "working_dir", "num_instances", "cpu", "memory",
        "port", "ports", "env", "mountpoint", "https_only", "healthcheck", "container_healthcheck",
        "secret_files", "secret_files_bypass", "persistent_dirs", "volumes", "cloud_volumes", "logs",
        "setup_time", "kill_timeout", "stateful", "labels", "filters", "dns_search",
    }  # fmt: skip
    definitions = schema()["definitions"]
    assert set(definitions["portal"]["properties"]) == keys | {"service_name", "allow_clients"}
    assert set(definitions["service"]["properties"]) == keys | {"type", "portal"}
    assert set(definitions["proc"]["properties"]) == keys | {"type"}
    assert set(definitions["typedProc"]["properties"]) == keys | {"type"}


def test_list_fields_are_arrays() -> None:
    """v2 declared lists as {"items": ...} without a type, so any string passed."""
    for path, node in _walk(schema()):
        if "items" in node:
            assert node.get("type") == "array", path
