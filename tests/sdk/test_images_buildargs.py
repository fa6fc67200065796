"""Build args (lain_sdk.images.buildargs): values read from the environment, secrets kept apart."""

from __future__ import annotations

import pytest

from lain_sdk.errors import BuildError
from lain_sdk.images.buildargs import MASK, is_secret_name, resolve_build_args


@pytest.mark.parametrize(
    "name, secret",
    [
        ("API_TOKEN", True),
        ("db_password", True),
        ("SSH_KEY", True),
        ("GH_AUTH", True),
        ("MY_SECRET_X", True),
        ("PASSWD", True),
        ("AWS_CREDENTIALS", True),
        ("VERSION", False),
        ("MODE", False),
    ],
)
def test_is_secret_name(name, secret):
    assert is_secret_name(name) is secret


def test_resolve_build_args_reads_variables_and_splits_secrets():
    env = {"TOKEN_SRC": "s3cret-value", "VER": "1.2", "MODE": "fast"}
    args = resolve_build_args(["API_TOKEN=$TOKEN_SRC", "VERSION=${VER}", "MODE", "PLAIN=a$b"], env)
    assert dict(args.public) == {"VERSION": "1.2", "MODE": "fast", "PLAIN": "a$b"}
    assert dict(args.secret) == {"API_TOKEN": "s3cret-value"}
    assert "s3cret" not in repr(args)
    assert args.mask("token is s3cret-value!") == f"token is {MASK}!"


def test_unset_variable_is_named():
    with pytest.raises(BuildError) as caught:
        resolve_build_args(["API_TOKEN=$MISSING_VAR"], {}, phase="prepare")
    assert caught.value.phase == "prepare"
    assert "MISSING_VAR" in str(caught.value) and "API_TOKEN" in str(caught.value)


def test_bad_build_arg_name():
    with pytest.raises(BuildError, match="not a valid variable name"):
        resolve_build_args(["1X=2"], {})
