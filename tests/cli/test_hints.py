"""The command lines shown under an error, made from the fields the SDK's errors carry."""

from __future__ import annotations

import pytest

from lain_cli.hints import hints_for
from lain_sdk.errors import (
    AppConfigError,
    AppConfigMissing,
    ClusterNotFound,
    CredentialsFileError,
    LainError,
    NoDataNode,
    Problem,
    RegistryAuthError,
    VersionNotBuilt,
)


@pytest.mark.parametrize(
    ("error", "hints"),
    [
        (AppConfigMissing("lain.yaml"), ["write a starter lain.yaml with `lain init`"]),
        (
            AppConfigMissing("apps/my app/lain.yaml"),
            ["write a starter lain.yaml with `lain init 'apps/my app'`"],
        ),
        (AppConfigMissing("apps/other.yaml"), []),
        (
            AppConfigError(
                [Problem(6, 3, "web.memroy", "web takes 29 keys, listed in the lain.yaml schema")]
            ),
            ["`lain schema` prints the lain.yaml schema, with every key described"],
        ),
        (AppConfigError([Problem(1, 1, "appname", "required")]), []),
        (
            NoDataNode("shop", "db", ["node.labels.disk==ssd"]),
            ["label a node with what the proc's filters ask: `lain node label NODE KEY=VALUE`"],
        ),
        (
            RegistryAuthError("needs credentials", registry="reg.example.com"),
            ["log in with `lain login reg.example.com`"],
        ),
        (
            RegistryAuthError("rejected", registry="reg.example.com", username="alice"),
            ["log in again with `lain login reg.example.com`"],
        ),
        (RegistryAuthError("refused, registry unknown"), []),
        (
            CredentialsFileError("/home/a/.config/lain/credentials.json", "corrupt"),
            ["then log in to each registry again: `lain login REGISTRY`"],
        ),
        (
            VersionNotBuilt("hello", "1-" + "a" * 40, "hello:release-1-" + "a" * 40),
            ["`lain build` builds the version checked out (`lain meta` names it)"],
        ),
        (
            ClusterNotFound("staging", "/home/a/.config/lain/config.yaml", ["local"]),
            ["lain cluster add staging --docker-host URL --registry HOST"],
        ),
    ],
)
def test_hints(error: LainError, hints: list[str]) -> None:
    assert hints_for(error) == hints
