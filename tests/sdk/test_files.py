"""lain's own files are replaced whole, private, and a failure leaves no temporary file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from lain_sdk.files import replace_file, temporary_name


def test_a_file_is_replaced_whole_and_private(tmp_path: Path) -> None:
    target = tmp_path / "f.json"
    old = os.umask(0)
    try:
        replace_file(target, b"one")
        replace_file(target, b"two" * 100_000)
    finally:
        os.umask(old)
    assert target.read_bytes() == b"two" * 100_000
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]


@pytest.mark.parametrize("failing", ["write", "replace", "chmod", "close"])
def test_whatever_fails_no_temporary_file_is_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    target = tmp_path / "f.json"
    target.write_bytes(b"before")
    real = getattr(os, failing)

    def fail(*args: object) -> None:
        if failing == "close":
            real(*args)  # the descriptor is closed, then the failure is reported
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patched:
        patched.setattr(os, failing, fail)
        with pytest.raises(OSError, match="No space left on device"):
            replace_file(target, b"after")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.json"]
    assert target.read_bytes() == b"before"


def test_the_temporary_name_is_hidden_and_beside_the_file(tmp_path: Path) -> None:
    assert temporary_name(tmp_path / "f.json") == tmp_path / f".f.json.{os.getpid()}.tmp"


def test_a_symbolic_link_at_the_temporary_name_is_not_followed(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_bytes(b"untouched")
    temporary_name(tmp_path / "f.json").symlink_to(elsewhere)
    with pytest.raises(OSError):
        replace_file(tmp_path / "f.json", b"data")
    assert elsewhere.read_bytes() == b"untouched"
