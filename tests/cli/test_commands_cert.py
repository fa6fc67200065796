"""`lain cert add|ls|rm`: certificates checked before they are stored, errors with their exit
status and no traceback, -o json."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from tls_certs import make_cert

from lain_cli.exit import ExitStatus
from lain_sdk.cluster.router import RouterStatus, router_spec
from lain_sdk.cluster.swarm import create_service

DOMAIN = "shop.example.com"


@pytest.fixture(autouse=True)
def watcher(monkeypatch):
    """The router's watcher says it applied its configuration (the fake runs no watcher)."""
    monkeypatch.setattr(
        "lain_sdk.cluster.certs.router_status",
        lambda cluster: RouterStatus(True, watcher={"applied_at": 1.0}),
    )


@pytest.fixture
def router(cli_cluster):
    create_service(cli_cluster, router_spec(cli_cluster.settings, "registry.example.com/r:1"))
    return cli_cluster


@pytest.fixture
def files(tmp_path: Path):
    """``files(pem)``: the certificate and key of ``pem`` written to shop.crt and shop.key."""

    def write(pem, stem: str = "shop") -> tuple[str, str]:
        cert, key = tmp_path / f"{stem}.crt", tmp_path / f"{stem}.key"
        cert.write_bytes(pem.cert)
        key.write_bytes(pem.key)
        return str(cert), str(key)

    return write


def stored(cluster) -> list[str]:
    return sorted(s["Spec"]["Name"] for s in cluster.api.secrets())


def test_add_then_ls_then_rm(lain, router, files) -> None:
    cert, key = files(make_cert(DOMAIN, "www.example.com"))

    added = lain("cert", "add", DOMAIN, "--cert", cert, "--key", key)
    assert added.exit_code == ExitStatus.OK, added.stderr
    lines = added.stdout.splitlines()
    assert lines[0].startswith(
        f"added the certificate for {DOMAIN}: {DOMAIN}, www.example.com; expires "
    )
    assert lines[0].endswith("(89 days); issuer self-signed")
    assert len(lines) == 1  # that the router serves it is progress, said once on stderr
    assert f"the router runs with the certificate for {DOMAIN} (" in added.stderr
    assert f"stored the certificate for {DOMAIN}" in added.stderr

    listed = lain("cert", "ls")
    assert listed.exit_code == ExitStatus.OK
    header, row = listed.stdout.splitlines()
    assert header.split() == ["DOMAIN", "EXPIRES", "LEFT", "ISSUER", "ADDED", "BY", "SERVED"]
    assert row.startswith(DOMAIN) and "89 days" in row and "self-signed" in row
    assert row.endswith("yes")

    removed = lain("cert", "rm", DOMAIN)
    assert removed.exit_code == ExitStatus.OK, removed.stderr
    assert removed.stdout.startswith(f"removed the certificate for {DOMAIN}; the router runs")
    assert stored(router) == []
    assert lain("cert", "ls").stdout.startswith("no certificates: add one with `lain cert add")


def test_json_output(lain, router, files) -> None:
    cert, key = files(make_cert(DOMAIN))
    added = lain("-o", "json", "cert", "add", DOMAIN, "--cert", cert, "--key", key)
    assert added.exit_code == ExitStatus.OK, added.stderr
    # stdout is the one result document; the progress went to stderr as JSON lines
    result = json.loads(added.stdout)
    assert result["domain"] == DOMAIN and "event" not in result
    assert result["served"] is True and result["router"] == "restarted"
    assert result["replaced"] is False and result["warnings"] == []
    events = [json.loads(line) for line in added.stderr.splitlines()]
    assert events and all(event["event"] == "message" for event in events)

    (listed,) = json.loads(lain("-o", "json", "cert", "ls").stdout)["certificates"]
    assert listed["domain"] == DOMAIN and listed["days_left"] == 89
    assert set(listed) >= {"not_after", "issuer", "subject", "names", "added", "by", "served"}

    removed = lain("-o", "json", "cert", "rm", DOMAIN)
    assert len(json.loads(removed.stdout)["removed_secrets"]) == 2


def test_a_wildcard_and_a_replacement(lain, router, files) -> None:
    cert, key = files(make_cert("*.example.com"), "wild")
    assert lain("cert", "add", "*.example.com", "--cert", cert, "--key", key).exit_code == 0
    renewed, renewed_key = files(make_cert("*.example.com", days=200), "wild2")
    again = lain("cert", "add", "*.example.com", "--cert", renewed, "--key", renewed_key)
    assert again.exit_code == ExitStatus.OK, again.stderr
    assert again.stdout.startswith("replaced the certificate for *.example.com")
    assert len(stored(router)) == 2


def test_the_key_can_come_from_stdin(lain, router, files) -> None:
    pem = make_cert(DOMAIN)
    cert, _ = files(pem)
    result = lain("cert", "add", DOMAIN, "--cert", cert, "--key", "-", input=io.BytesIO(pem.key))
    assert result.exit_code == ExitStatus.OK, result.stderr
    both = lain("cert", "add", DOMAIN, "--cert", "-", "--key", "-", input="x")
    assert both.exit_code == ExitStatus.USAGE
    assert "only one of --cert and --key can be read from stdin" in both.stderr


def test_a_missing_file_is_a_usage_error(lain, router, files, tmp_path) -> None:
    _, key = files(make_cert(DOMAIN))
    result = lain("cert", "add", DOMAIN, "--cert", str(tmp_path / "nope.crt"), "--key", key)
    assert result.exit_code == ExitStatus.USAGE == 2
    assert "nope.crt" in result.stderr and "No such file or directory" in result.stderr
    assert "Traceback" not in result.stderr and stored(router) == []


def test_without_cert_or_key_is_a_usage_error(lain, router) -> None:
    result = lain("cert", "add", DOMAIN)
    assert result.exit_code == ExitStatus.USAGE
    assert "Missing option '--cert'" in result.stderr


@pytest.mark.parametrize(
    ("case", "said"),
    [
        ("not-pem", "shop.crt is not a PEM certificate"),
        ("swapped", "shop.crt holds a private key, not a certificate"),
        ("other-key", "shop.key does not match"),
        ("wrong-domain", f"is not for {DOMAIN}: it names api.example.com"),
        ("expired", "expired on"),
        ("bad-domain", "is not a host name"),
    ],
)
def test_a_refused_certificate_exits_2_saying_why_and_stores_nothing(
    lain, router, tmp_path, case: str, said: str
) -> None:
    pem = make_cert(DOMAIN)
    cert_pem, key_pem, domain = pem.cert, pem.key, DOMAIN
    if case == "not-pem":
        cert_pem = b"hello"
    elif case == "swapped":
        cert_pem = pem.key
    elif case == "other-key":
        key_pem = make_cert(DOMAIN).key
    elif case == "wrong-domain":
        other = make_cert("api.example.com")
        cert_pem, key_pem = other.cert, other.key
    elif case == "expired":
        from datetime import timedelta

        old = make_cert(DOMAIN, days=-1, not_before=timedelta(days=30))
        cert_pem, key_pem = old.cert, old.key
    elif case == "bad-domain":
        domain = "shop_1.example.com"
    (tmp_path / "shop.crt").write_bytes(cert_pem)
    (tmp_path / "shop.key").write_bytes(key_pem)
    result = lain(
        "cert",
        "add",
        domain,
        "--cert",
        str(tmp_path / "shop.crt"),
        "--key",
        str(tmp_path / "shop.key"),
    )
    assert result.exit_code == ExitStatus.USAGE, result.stderr
    assert result.stderr.startswith("lain: error: ") and said in result.stderr
    assert "Traceback" not in result.stderr and "PRIVATE" not in result.stderr
    assert result.stdout == "" and stored(router) == []


def test_removing_an_unknown_domain_exits_10(lain, router) -> None:
    result = lain("cert", "rm", "nope.example.com")
    assert result.exit_code == ExitStatus.NOT_FOUND == 10
    assert result.stderr.strip() == (
        "lain: error: no certificate for nope.example.com is stored on cluster fake (stored: none)"
    )


def test_a_certificate_expiring_soon_is_marked_in_ls_and_warned_about(lain, router, files) -> None:
    cert, key = files(make_cert(DOMAIN, days=7.5))
    added = lain("cert", "add", DOMAIN, "--cert", cert, "--key", key)
    assert added.exit_code == ExitStatus.OK
    assert f"warning: the certificate for {DOMAIN} expires in 7 days" in added.stderr
    assert "7 days (renew!)" in lain("cert", "ls").stdout


def test_without_a_router_add_says_how_to_start_one(lain, cli_cluster, files) -> None:
    cert, key = files(make_cert(DOMAIN))
    added = lain("cert", "add", DOMAIN, "--cert", cert, "--key", key)
    assert added.exit_code == ExitStatus.OK
    assert added.stdout.splitlines()[-1] == (
        "no router runs on this cluster: `lain router up` starts one that serves it"
    )
    assert lain("cert", "ls").stdout.splitlines()[1].endswith("no router")


def test_adding_the_same_certificate_again_changes_nothing(lain, router, files) -> None:
    cert, key = files(make_cert(DOMAIN))
    assert lain("cert", "add", DOMAIN, "--cert", cert, "--key", key).exit_code == 0
    again = lain("cert", "add", DOMAIN, "--cert", cert, "--key", key)
    assert again.exit_code == ExitStatus.OK
    assert again.stdout.startswith(f"already stored: the certificate for {DOMAIN}: {DOMAIN}; ")
    assert len(again.stdout.splitlines()) == 1
