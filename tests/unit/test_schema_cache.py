"""Texts that passed the schema are remembered, and only those, and only for this schema."""

from __future__ import annotations

from pathlib import Path

import pytest

from lain_sdk.appconfig import parse_app_config
from lain_sdk.appconfig import validation
from lain_sdk.errors import AppConfigError

VALID = "appname: cached\nbuild:\n  base: busybox\nweb:\n  cmd: httpd -f\n"
# Structurally wrong (the schema's problem, not a semantic one).
INVALID = "appname: cached\nbuild:\n  base: busybox\nweb:\n  num_instances: many\n"


def passed(home: Path) -> list[Path]:
    folder = home / ".cache" / "lain" / "schema-passed"
    return sorted(folder.iterdir()) if folder.is_dir() else []


def count_validator_runs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    runs: list[int] = []
    real = validation._validator

    def counted() -> object:
        runs.append(1)
        return real()

    monkeypatch.setattr(validation, "_validator", counted)
    return runs


def test_a_text_that_passed_is_not_checked_again(
    isolation: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = count_validator_runs(monkeypatch)
    first = parse_app_config(VALID)
    assert len(runs) == 1 and len(passed(isolation)) == 1
    assert parse_app_config(VALID) == first
    assert len(runs) == 1
    # Another text, or the same text under another schema, is checked.
    parse_app_config(VALID + "  port: 8080\n")
    assert len(runs) == 2
    monkeypatch.setattr(validation, "_schema_digest", lambda: "another schema")
    parse_app_config(VALID)
    assert len(runs) == 3 and len(passed(isolation)) == 3


def test_a_text_that_failed_is_never_remembered(
    isolation: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = count_validator_runs(monkeypatch)
    for attempt in (1, 2):
        with pytest.raises(AppConfigError, match="web.num_instances"):
            parse_app_config(INVALID)
        assert len(runs) == attempt
    assert passed(isolation) == []


def test_an_unwritable_cache_only_costs_time(
    isolation: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (isolation / ".cache").write_text("a file where the cache directory would be")
    runs = count_validator_runs(monkeypatch)
    parse_app_config(VALID)
    parse_app_config(VALID)
    assert len(runs) == 2
