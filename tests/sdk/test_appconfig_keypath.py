"""Key paths as text (lain_sdk.appconfig.keypath): how problems name where they are."""

from __future__ import annotations

from lain_sdk.appconfig.keypath import format_key_path


def test_key_path_format() -> None:
    assert format_key_path(("build", "script", 2)) == "build.script[2]"
    assert format_key_path(("web.admin", "env", 0)) == "web.admin.env[0]"
    assert format_key_path(()) == ""
