"""Build args (lain_sdk.images.buildargs): values read from the environment, secrets kept apart."""

from __future__ import annotations

import pytest

from lain_sdk.errors import BuildError
from lain_sdk.images.buildargs import (
    MASK,
    environment_source,
    is_secret_name,
    masker,
    resolve_build_args,
)

PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"


@pytest.mark.parametrize(
    "name",
    [
        "API_TOKEN",
        "db_password",
        "SSH_KEY",
        "GH_AUTH",
        "MY_SECRET_X",
        "PASSWD",
        "AWS_CREDENTIALS",
        # what the old list missed
        "DB_PASS",
        "GH_PAT",
        "DB_PWD",
        "TLS_CERT",
        "SIGNING_PEM",
        "GPG_PRIVATE",
        "SENTRY_DSN",
        "SESSION_SALT",
        "dbPass",
        "githubToken",
        "GITHUBTOKEN",
        "MYAPIKEY",
        "KEY_PASSPHRASE",
    ],
)
def test_secret_looking_names(name):
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "VERSION",
        "MODE",
        # short secret words inside innocent words
        "PATH",
        "PATTERN",
        "GOPATH",
        "MONKEY",
        "KEYBOARD",
        "AUTHOR",
        "BYPASS_CACHE",
        "CONCERT_HALL",
        # the shell's working directory, and names of where a secret is, or of its public half
        "PWD",
        "OLDPWD",
        "PASSWORD_FILE",
        "SSH_KEY_PATH",
        "CERT_DIR",
        "PUBLIC_KEY",
    ],
)
def test_public_looking_names(name):
    assert not is_secret_name(name)


def test_values_from_the_environment_are_secret_whatever_their_name():
    env = {"X": "hunter2", "Y": "ghp_abc", "VER": "1.2", "MODE": "fast"}
    entries = ["DB_PASS=$X", "GH_PAT=${Y}", "VERSION=${VER}", "MODE", "PLAIN=a$b", "TAG=v1"]
    args = resolve_build_args(entries, env)
    assert dict(args.public) == {"PLAIN": "a$b", "TAG": "v1"}
    assert dict(args.secret) == {
        "DB_PASS": "hunter2",
        "GH_PAT": "ghp_abc",
        "VERSION": "1.2",
        "MODE": "fast",
    }
    assert "hunter2" not in repr(args) and "ghp_abc" not in repr(args)
    assert args.mask("pass hunter2, pat ghp_abc!") == f"pass {MASK}, pat {MASK}!"


def test_literal_values_are_secret_only_under_a_secret_looking_name():
    args = resolve_build_args(["API_TOKEN=s3cret-value", "DB_PASS=pw", "MODE=fast"], {})
    assert dict(args.public) == {"MODE": "fast"}
    assert dict(args.secret) == {"API_TOKEN": "s3cret-value", "DB_PASS": "pw"}
    assert args.mask("token is s3cret-value!") == f"token is {MASK}!"


@pytest.mark.parametrize("value", ["$VAR", "${VAR}", " $VAR "])
def test_environment_source(value):
    assert environment_source(value) == "VAR"


@pytest.mark.parametrize("value", ["VAR", "$VAR/x", "a$VAR", "${VAR", "$1", ""])
def test_not_an_environment_source(value):
    assert environment_source(value) is None


def test_each_line_of_a_multi_line_value_is_masked():
    mask = masker([PEM])
    # As `echo "$PEM"` prints it: one output line per line of the value.
    for line in PEM.splitlines():
        assert mask(f"  {line}  ") == f"  {MASK}  "
    # As `echo $PEM` prints it: trimmed, its lines joined with single spaces.
    assert mask("got " + " ".join(PEM.split()) + ".") == f"got {MASK}."
    assert mask(PEM) == MASK


def test_json_credential_lines_are_masked_but_not_its_braces():
    value = '{\n  "type": "service_account",\n  "private_key":   "abc123def456"\n}\n'
    mask = masker([value])
    assert mask('  "private_key":   "abc123def456"') == f"  {MASK}"
    assert mask('"private_key": "abc123def456"') == MASK  # as `echo $VALUE` prints it
    # Lines too short to say anything are left alone, or every brace in the log would go.
    assert mask("{") == "{" and mask("}") == "}"


def test_masking_takes_the_longest_value_first():
    mask = masker(["abc", "abcdef", ""])
    assert mask("x abcdef y abc") == f"x {MASK} y {MASK}"
    assert masker([])("nothing to hide") == "nothing to hide"


def test_a_short_value_is_masked_whole_wherever_it_appears():
    # Short or not, a value from the environment is hidden; a log may look odd for it.
    assert masker(["42"])("answer: 42, 142") == f"answer: {MASK}, 1{MASK}"


def test_unset_variable_is_named():
    with pytest.raises(BuildError) as caught:
        resolve_build_args(["API_TOKEN=$MISSING_VAR"], {}, phase="prepare")
    assert caught.value.phase == "prepare"
    assert "MISSING_VAR" in str(caught.value) and "API_TOKEN" in str(caught.value)


def test_bad_build_arg_name():
    with pytest.raises(BuildError, match="not a valid variable name"):
        resolve_build_args(["1X=2"], {})
