"""The starter lain.yaml of `lain init` (lain_sdk.appconfig.starter) and its default appname."""

from __future__ import annotations

import pytest

from lain_sdk.appconfig import parse_app_config
from lain_sdk.errors import AppConfigError


@pytest.mark.parametrize(
    ("directory", "appname"),
    [("My Shop_2", "my-shop-2"), ("hello", "hello"), ("2fast", "fast"), ("123", "app"),
     ("--a--b--", "a-b"), ("service", "service-app"), ("Ünïcode app", "n-code-app")],
)  # fmt: skip
def test_default_appname_from_a_directory(directory: str, appname: str) -> None:
    from lain_sdk.appconfig.starter import default_appname, starter_config

    assert default_appname(directory) == appname
    assert parse_app_config(starter_config(appname)).appname == appname


def test_starter_refuses_an_invalid_appname() -> None:
    from lain_sdk.appconfig.starter import starter_config

    with pytest.raises(AppConfigError, match="invalid appname 'a_b'"):
        starter_config("a_b")
