"""Secret files: their paths, the proc names they belong to, and how a version is mounted."""

from __future__ import annotations

import pytest
from fakes.cluster import fake_cluster, secret_version

from lain_sdk.cluster.secret_store import (
    MAX_SECRET_BYTES,
    check_proc_name,
    check_secret_value,
    secret_path,
    store_secret,
)
from lain_sdk.errors import InvalidArgument


def test_paths_are_normalised_like_secret_files() -> None:
    assert secret_path("config/db.json") == "/lain/app/config/db.json"
    assert secret_path(" /etc/token ") == "/etc/token"
    assert secret_path("../etc/x") == "/lain/etc/x"
    assert secret_path("a/./b/../c") == "/lain/app/a/c"
    for bad in ("", "  ", "/", "/lain", "/lain/app", "..", "config/"):
        with pytest.raises(InvalidArgument) as caught:
            secret_path(bad)
        assert isinstance(caught.value, ValueError)  # what callers caught before


def test_proc_names() -> None:
    assert check_proc_name("web") == "web" and check_proc_name("portal-x1") == "portal-x1"
    for bad in ("", "1web", "web_x", "web--x", "web.mail", "-web"):
        with pytest.raises(InvalidArgument) as caught:
            check_proc_name(bad)
        assert isinstance(caught.value, ValueError)


def test_mounts_are_read_only_files_owned_by_root_or_the_numeric_user() -> None:
    v = secret_version("web", "/etc/token", 2)
    assert v.mount() == {
        "SecretID": "id-web-2",
        "SecretName": v.name,
        "File": {"Name": "/etc/token", "UID": "0", "GID": "0", "Mode": 0o400},
    }
    assert v.mount("1000")["File"]["UID"] == "1000" and v.mount("1000")["File"]["GID"] == "1000"
    assert (v.mount("1000:50")["File"]["UID"], v.mount("1000:50")["File"]["GID"]) == (
        "1000",
        "50",
    )
    assert v.mount("nobody")["File"]["UID"] == "0"  # a name cannot be resolved without the image


def test_a_value_over_swarms_limit_is_refused_before_anything_is_sent() -> None:
    assert MAX_SECRET_BYTES == 500 * 1024  # Swarm's own limit on a secret's data
    assert check_secret_value("/etc/token", b"x" * MAX_SECRET_BYTES) == b"x" * MAX_SECRET_BYTES
    cluster = fake_cluster()
    sent = list(cluster.api.calls)
    with pytest.raises(InvalidArgument) as caught:
        store_secret(cluster, "shop", "web", "/etc/token", b"x" * (600 * 1024))
    assert str(caught.value) == (
        "the value of secret file /etc/token has more than 512000 bytes; Swarm stores at most "
        "500 KiB per secret"
    )
    assert cluster.api.calls == sent and cluster.api.swarm_secrets == {}
