"""The router's certificates: checked before they are stored, kept as Swarm secrets, mounted
into the router, replaced and removed once the router no longer uses them."""

from __future__ import annotations

import re
import subprocess
from datetime import datetime, timedelta, timezone

import pytest
from fakes.cluster import run
from fakes.engine import raise_from
from fakes.swarm import Behaviour
from tls_certs import make_cert

import lain_sdk.cluster.certs as certs_module
from lain_sdk.cluster.cert_check import (
    MAX_PEM_BYTES,
    certificate_domain,
    check_certificate,
    covers,
)
from lain_sdk.cluster.cert_store import (
    LABEL_CERT,
    LABEL_CERT_LEAVING,
    LABEL_CERT_PART,
    MAX_NAME,
    certificate_mounts,
    read_store,
    secret_name,
    store_certificate,
)
from lain_sdk.cluster.certs import add_certificate, list_certificates, remove_certificate
from lain_sdk.cluster.router import RouterStatus, router_spec
from lain_sdk.cluster.swarm import create_service
from lain_sdk.errors import ClusterError, InvalidArgument, LainTimeout, NotFound

DOMAIN = "shop.example.com"
ROUTER_IMAGE = "registry.example.com/lain/router:test"
# What Swarm takes as an object's name.
SWARM_NAME = re.compile(r"^[a-zA-Z0-9]+(?:[a-zA-Z0-9-_.]*[a-zA-Z0-9])?$")


@pytest.fixture(autouse=True)
def watcher(monkeypatch):
    """The router's watcher says it applied its configuration (the fake runs no watcher);
    ``watcher.update(...)`` changes what it says."""
    said = {"applied_at": 1.0, "generation": 1}
    monkeypatch.setattr(
        certs_module, "router_status", lambda cluster: RouterStatus(True, watcher=dict(said))
    )
    return said


@pytest.fixture(scope="module")
def pem():
    return make_cert(DOMAIN, "www.example.com")


@pytest.fixture
def router(cluster):
    """A router service on the fake swarm (as ``lain router up`` leaves it)."""
    create_service(cluster, router_spec(cluster.settings, ROUTER_IMAGE))
    return cluster


def router_secrets(cluster) -> list[dict]:
    service = cluster.api.services(filters={"name": "lain-router"})[0]
    return service["Spec"]["TaskTemplate"]["ContainerSpec"].get("Secrets") or []


def mounted_files(cluster) -> dict[str, bytes]:
    return {
        m["File"]["Name"]: cluster.api.secret_value(m["SecretID"]) for m in router_secrets(cluster)
    }


def stored_names(cluster) -> list[str]:
    return sorted(s["Spec"]["Name"] for s in cluster.api.secrets())


# -- the domain and the check (pure) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "domain"),
    [
        ("shop.example.com", "shop.example.com"),
        ("Shop.Example.COM.", "shop.example.com"),
        ("*.example.com", "*.example.com"),
        ("localhost", "localhost"),
    ],
)
def test_a_domain_is_a_host_name_or_a_wildcard(given: str, domain: str) -> None:
    assert certificate_domain(given) == domain


@pytest.mark.parametrize(
    ("given", "said"),
    [
        ("shop.example.com/api", "not a path; give shop.example.com"),
        ("shop.example.com/", "not a path"),
        ("a.*.example.com", "is not a host name"),
        ("shop_1.example.com", "is not a host name"),
        ("", "is not a host name"),
        ("ex ample.com", "is not a host name"),
    ],
)
def test_a_bad_domain_is_refused_with_what_a_domain_looks_like(given: str, said: str) -> None:
    with pytest.raises(InvalidArgument, match=re.escape(said)):
        certificate_domain(given)


def test_a_domain_must_be_a_string() -> None:
    with pytest.raises(InvalidArgument, match="a string"):
        certificate_domain(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "domain", "covered"),
    [
        ("shop.example.com", "shop.example.com", True),
        ("SHOP.example.com.", "shop.example.com", True),
        ("*.example.com", "shop.example.com", True),
        ("*.example.com", "a.shop.example.com", False),
        ("*.example.com", "example.com", False),
        ("*.example.com", "*.example.com", True),
        ("shop.example.com", "*.example.com", False),
        ("*.shop.example.com", "*.example.com", False),
        ("other.example.com", "shop.example.com", False),
    ],
)
def test_which_names_cover_a_domain(name: str, domain: str, covered: bool) -> None:
    assert covers(name, domain) is covered


def test_a_good_certificate_gives_its_facts_and_pem_written_anew(pem) -> None:
    checked = check_certificate(DOMAIN, pem.cert, pem.key)

    assert checked.domain == DOMAIN and checked.warnings == ()
    facts = checked.facts
    assert facts.names == (DOMAIN, "www.example.com")
    assert facts.subject == f"CN={DOMAIN}" and facts.self_signed and facts.chain == 1
    assert len(facts.fingerprint) == 64
    assert facts.not_after > datetime.now(timezone.utc).isoformat()
    assert checked.cert_pem.startswith(b"-----BEGIN CERTIFICATE-----")
    assert checked.key_pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert b"PRIVATE" not in checked.cert_pem
    # The key is no part of what a repr shows.
    assert b"PRIVATE" not in repr(checked).encode() and "key_pem" not in repr(checked)


def test_an_rsa_key_and_a_wildcard_certificate_pass() -> None:
    wildcard = make_cert("*.example.com", rsa=True)
    assert check_certificate("*.example.com", wildcard.cert, wildcard.key).facts.names == (
        "*.example.com",
    )
    # A wildcard certificate serves a host one level below, stored for that host alone.
    assert check_certificate("a.example.com", wildcard.cert, wildcard.key).domain == "a.example.com"


def test_a_chain_with_the_domains_certificate_first_passes() -> None:
    authority = make_cert(common_name="Test CA", ca=True)
    leaf = make_cert(DOMAIN, issuer=authority)
    checked = check_certificate(DOMAIN, leaf.cert + authority.cert, leaf.key)
    assert checked.facts.chain == 2 and not checked.facts.self_signed
    assert checked.facts.issuer == "CN=Test CA" and checked.warnings == ()
    assert checked.cert_pem.count(b"BEGIN CERTIFICATE") == 2


def test_a_chain_listing_the_domains_certificate_later_says_to_put_it_first() -> None:
    authority = make_cert(common_name="Test CA", ca=True)
    leaf = make_cert(DOMAIN, issuer=authority)
    with pytest.raises(InvalidArgument, match="in place 2: put the domain's own certificate first"):
        check_certificate(DOMAIN, authority.cert + leaf.cert, leaf.key)


def test_a_chain_out_of_order_is_a_warning() -> None:
    authority = make_cert(common_name="Test CA", ca=True)
    other = make_cert(common_name="Other CA", ca=True)
    leaf = make_cert(DOMAIN, issuer=authority)
    checked = check_certificate(DOMAIN, leaf.cert + other.cert, leaf.key, cert_name="full.pem")
    assert len(checked.warnings) == 1
    assert checked.warnings[0].startswith("full.pem: certificate 1 was not issued by certificate 2")


def test_a_key_of_another_certificate_is_refused(pem) -> None:
    other = make_cert(DOMAIN)
    with pytest.raises(InvalidArgument) as caught:
        check_certificate(DOMAIN, pem.cert, other.key, cert_name="shop.crt", key_name="old.key")
    assert str(caught.value).startswith("old.key does not match shop.crt")
    assert b"PRIVATE" not in str(caught.value).encode()


def test_a_certificate_for_other_names_is_refused_naming_them(pem) -> None:
    with pytest.raises(InvalidArgument) as caught:
        check_certificate("api.example.com", pem.cert, pem.key, cert_name="shop.crt")
    assert str(caught.value) == (
        "shop.crt is not for api.example.com: it names shop.example.com, www.example.com; store "
        "it for one of those, or get a certificate that names api.example.com"
    )


def test_a_wildcard_domain_needs_a_wildcard_certificate(pem) -> None:
    with pytest.raises(InvalidArgument, match=r"is not for \*\.example\.com"):
        check_certificate("*.example.com", pem.cert, pem.key)


def test_swapped_files_are_named_as_such(pem) -> None:
    with pytest.raises(InvalidArgument, match="holds a private key, not a certificate: were"):
        check_certificate(DOMAIN, pem.key, pem.key)
    with pytest.raises(InvalidArgument, match="holds a certificate, not a private key: were"):
        check_certificate(DOMAIN, pem.cert, pem.cert)


@pytest.mark.parametrize(
    "text", [b"hello", b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"]
)
def test_text_that_is_no_pem_certificate_is_refused(pem, text: bytes) -> None:
    with pytest.raises(InvalidArgument, match=r"^c.pem (is not a PEM certificate|has a PEM)"):
        check_certificate(DOMAIN, text, pem.key, cert_name="c.pem")


def test_text_that_is_no_pem_key_is_refused(pem) -> None:
    with pytest.raises(InvalidArgument, match=r"^k.pem is not a PEM private key"):
        check_certificate(DOMAIN, pem.cert, b"-----BEGIN PRIVATE KEY-----\nxx\n", key_name="k.pem")


def test_a_key_under_a_passphrase_is_refused_with_how_to_write_it_without() -> None:
    locked = make_cert(DOMAIN, passphrase=b"hunter22")
    with pytest.raises(InvalidArgument, match=r"passphrase.*openssl pkey"):
        check_certificate(DOMAIN, locked.cert, locked.key)


def test_an_expired_certificate_is_refused() -> None:
    old = make_cert(DOMAIN, days=-2, not_before=timedelta(days=90))
    with pytest.raises(
        InvalidArgument, match=r"expired on \d{4}-\d\d-\d\d .* \(2 days ago\); renew"
    ):
        check_certificate(DOMAIN, old.cert, old.key)


def test_one_expiring_within_30_days_is_a_warning(pem) -> None:
    soon = make_cert(DOMAIN, days=10.5)
    (warning,) = check_certificate(DOMAIN, soon.cert, soon.key).warnings
    assert warning.startswith(f"the certificate for {DOMAIN} expires in 10 days, on ")
    later = datetime.now(timezone.utc) + timedelta(days=70)
    assert "expires in" in check_certificate(DOMAIN, pem.cert, pem.key, now=later).warnings[0]


def test_one_not_valid_yet_is_a_warning() -> None:
    future = make_cert(DOMAIN, not_before=timedelta(days=-2))
    (warning,) = check_certificate(DOMAIN, future.cert, future.key).warnings
    assert "is valid only from" in warning and "clock" in warning


def test_without_a_subject_alt_name_the_common_name_counts_with_a_warning() -> None:
    plain = make_cert(DOMAIN, san=False)
    checked = check_certificate(DOMAIN, plain.cert, plain.key)
    assert checked.facts.names == (DOMAIN,)
    assert "no subjectAltName" in checked.warnings[0]


def test_a_key_in_the_certificate_file_is_not_kept(pem) -> None:
    checked = check_certificate(DOMAIN, pem.cert + pem.key, pem.key)
    assert b"PRIVATE" not in checked.cert_pem
    assert "also holds a private key" in checked.warnings[0]


def test_values_must_be_bytes_within_swarms_limit(pem) -> None:
    with pytest.raises(InvalidArgument, match="must be bytes"):
        check_certificate(DOMAIN, pem.cert.decode(), pem.key)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="the key is empty"):
        check_certificate(DOMAIN, pem.cert, b"  \n")
    with pytest.raises(InvalidArgument, match="more than 500 KiB"):
        check_certificate(DOMAIN, pem.cert + b"\n" * MAX_PEM_BYTES, pem.key)


# -- names -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "domain", ["a.io", "*.example.com", "x" * 60 + ".example.com", "*." + "a" * 63 + ".b" * 90]
)
def test_secret_names_are_swarm_names_of_at_most_64_characters(domain: str) -> None:
    names = {secret_name(domain, "18c6f2a3b4d5e6f", part) for part in ("crt", "key", "leaving")}
    assert len(names) == 3
    for name in names:
        assert len(name) <= MAX_NAME and SWARM_NAME.match(name), name


def test_long_domains_that_share_a_beginning_get_different_names() -> None:
    one, two = ("a" * 40 + ".one.example.com"), ("a" * 40 + ".two.example.com")
    assert secret_name(one, "1", "crt") != secret_name(two, "1", "crt")


# -- adding ------------------------------------------------------------------------------------


def test_add_stores_two_labelled_secrets_and_the_router_mounts_them(router, pem) -> None:
    result, events = run(add_certificate(router, "Shop.Example.com", pem.cert, pem.key, timeout=5))

    assert result.router == "restarted" and not result.replaced
    info = result.certificate
    assert info.domain == DOMAIN and info.served is True
    assert info.names == (DOMAIN, "www.example.com") and info.subject == f"CN={DOMAIN}"
    assert info.not_after and info.by and info.added
    files = mounted_files(router)
    assert set(files) == {f"{DOMAIN}.crt", f"{DOMAIN}.key"}
    assert files[f"{DOMAIN}.crt"].startswith(b"-----BEGIN CERTIFICATE-----")
    assert files[f"{DOMAIN}.key"].startswith(b"-----BEGIN PRIVATE KEY-----")
    assert all(m["File"]["Mode"] == 0o400 for m in router_secrets(router))
    texts = [e.to_dict()["text"] for e in events]
    assert texts[0].startswith(f"stored the certificate for {DOMAIN}")
    assert "one node at a time" in texts[1] and "the router runs with" in texts[-1]


def test_nothing_secret_leaves_the_key_secret(router, pem) -> None:
    result, events = run(add_certificate(router, DOMAIN, pem.cert, pem.key, timeout=5))
    key_text = check_certificate(DOMAIN, pem.cert, pem.key).key_pem
    body = key_text.split(b"\n")[1].decode()  # a line of the key's base64
    said = repr(result) + str(result.to_dict()) + "".join(str(e.to_dict()) for e in events)
    labels = str([s["Spec"]["Labels"] for s in router.api.secrets()])
    services = str(router.api.services())
    for place in (said, labels, services):
        assert body not in place and "PRIVATE" not in place


def test_a_wildcard_is_mounted_under_an_underscore(router) -> None:
    wildcard = make_cert("*.example.com")
    run(add_certificate(router, "*.example.com", wildcard.cert, wildcard.key, timeout=5))
    assert set(mounted_files(router)) == {"_.example.com.crt", "_.example.com.key"}
    assert all(SWARM_NAME.match(n) for n in stored_names(router))


def test_adding_again_replaces_the_certificate_and_removes_the_old_secrets(router, pem) -> None:
    first, _ = run(add_certificate(router, DOMAIN, pem.cert, pem.key, timeout=5))
    renewed = make_cert(DOMAIN, days=365)
    second, _ = run(add_certificate(router, DOMAIN, renewed.cert, renewed.key, timeout=5))

    assert second.replaced and second.router == "restarted"
    assert second.certificate.fingerprint != first.certificate.fingerprint
    assert stored_names(router) == sorted(second.certificate.secrets)
    expected = check_certificate(DOMAIN, renewed.cert, renewed.key).cert_pem
    assert mounted_files(router)[f"{DOMAIN}.crt"] == expected
    assert [c.fingerprint for c in list_certificates(router)] == [second.certificate.fingerprint]


def test_certificates_of_several_domains_are_all_mounted(router, pem) -> None:
    other = make_cert("api.example.com")
    run(add_certificate(router, DOMAIN, pem.cert, pem.key, timeout=5))
    run(add_certificate(router, "api.example.com", other.cert, other.key, timeout=5))
    assert len(mounted_files(router)) == 4
    assert [c.domain for c in list_certificates(router)] == ["api.example.com", DOMAIN]


def test_without_a_router_the_certificate_is_stored_for_when_one_starts(cluster, pem) -> None:
    result, events = run(add_certificate(cluster, DOMAIN, pem.cert, pem.key, timeout=5))
    assert result.router == "not running" and result.certificate.served is None
    assert "no router runs on cluster fake" in events[-1].to_dict()["text"]
    assert {m["File"]["Name"] for m in certificate_mounts(cluster)} == {
        f"{DOMAIN}.crt",
        f"{DOMAIN}.key",
    }
    # Replaced with no router: the old secrets go at once.
    renewed = make_cert(DOMAIN)
    run(add_certificate(cluster, DOMAIN, renewed.cert, renewed.key, timeout=5))
    assert len(stored_names(cluster)) == 2


def test_a_refused_certificate_stores_nothing_and_asks_the_engine_nothing(router, pem) -> None:
    other = make_cert(DOMAIN)
    calls = len(router.api.calls)
    with pytest.raises(InvalidArgument, match="does not match"):
        run(add_certificate(router, DOMAIN, pem.cert, other.key, timeout=5))
    assert router.api.calls[calls:] == [] and stored_names(router) == []


def test_warnings_of_the_check_come_as_events(router) -> None:
    soon = make_cert(DOMAIN, days=5.5)
    result, events = run(add_certificate(router, DOMAIN, soon.cert, soon.key, timeout=5))
    assert events[0].to_dict()["text"].startswith("warning: the certificate for")
    assert result.warnings and "expires in 5 days" in result.warnings[0]


def test_a_router_that_does_not_refresh_leaves_nothing_stored(router, pem, monkeypatch) -> None:
    def refused(cluster):
        raise ClusterError("update service lain-router: refused")

    monkeypatch.setattr(certs_module, "refresh_router", refused)
    with pytest.raises(ClusterError, match="refused"):
        run(add_certificate(router, DOMAIN, pem.cert, pem.key, timeout=5))
    assert stored_names(router) == []


def test_a_refresh_that_loses_a_race_is_tried_again(router, pem, monkeypatch) -> None:
    real = certs_module.refresh_router
    tries = []

    def racing(cluster):
        tries.append(1)
        if len(tries) == 1:
            raise ClusterError("update out of sequence")
        return real(cluster)

    monkeypatch.setattr(certs_module, "refresh_router", racing)
    result, _ = run(add_certificate(router, DOMAIN, pem.cert, pem.key, timeout=5))
    assert len(tries) == 2 and result.certificate.served


def test_a_router_that_does_not_restart_in_time_is_a_timeout(router, pem) -> None:
    router.api.script(ROUTER_IMAGE, Behaviour(starts_after=10**9))
    events: list = []
    with pytest.raises(LainTimeout) as caught:
        raise_from(add_certificate(router, DOMAIN, pem.cert, pem.key, timeout=0.05), events)
    assert "did not restart with the change for shop.example.com within 0 s" in str(caught.value)
    assert "run the command again" in str(caught.value)
    # Stored and mounted: the router serves it once its task starts.
    assert set(mounted_files(router)) == {f"{DOMAIN}.crt", f"{DOMAIN}.key"}


def test_a_secret_name_taken_at_the_same_millisecond_gets_another(router, pem, monkeypatch) -> None:
    ids = iter(["18c0000000000aa", "18c0000000000aa", "18c0000000000bb"])
    monkeypatch.setattr("lain_sdk.cluster.cert_store.new_set_id", lambda: next(ids))
    run(add_certificate(router, DOMAIN, pem.cert, pem.key, timeout=5))
    renewed = make_cert(DOMAIN)
    result, _ = run(add_certificate(router, DOMAIN, renewed.cert, renewed.key, timeout=5))
    assert result.replaced
    assert stored_names(router) == [
        f"lain-cert-{DOMAIN}-18c0000000000bb-crt",
        f"lain-cert-{DOMAIN}-18c0000000000bb-key",
    ]


def test_invalid_timeouts_are_refused(router, pem) -> None:
    with pytest.raises(InvalidArgument, match="timeout"):
        run(add_certificate(router, DOMAIN, pem.cert, pem.key, timeout=0))
    with pytest.raises(InvalidArgument, match="timeout"):
        run(remove_certificate(router, DOMAIN, timeout=-1))


# -- listing -----------------------------------------------------------------------------------


def test_list_says_what_the_certificate_is_and_when_it_expires(router, pem) -> None:
    run(add_certificate(router, DOMAIN, pem.cert, pem.key, timeout=5))
    (info,) = list_certificates(router)
    data = info.to_dict()
    assert data["domain"] == DOMAIN and data["served"] is True
    assert data["days_left"] in (88, 89)
    assert data["issuer"] == data["subject"] == f"CN={DOMAIN}"
    assert data["names"] == [DOMAIN, "www.example.com"] and len(data["secrets"]) == 2


def test_list_is_empty_without_certificates(cluster) -> None:
    assert list_certificates(cluster) == []


def test_an_incomplete_set_is_neither_listed_nor_mounted(router, pem) -> None:
    router.api.create_secret(
        "lain-cert-half", b"x", labels={LABEL_CERT: "half.example.com", LABEL_CERT_PART: "crt"}
    )
    assert list_certificates(router) == [] and certificate_mounts(router) == []


# -- removing ----------------------------------------------------------------------------------


def test_remove_stops_serving_then_removes_the_secrets(router, pem) -> None:
    run(add_certificate(router, DOMAIN, pem.cert, pem.key, timeout=5))
    removed, events = run(remove_certificate(router, DOMAIN, timeout=5))

    assert removed.domain == DOMAIN and removed.router == "restarted"
    assert len(removed.secrets) == 2 and removed.to_dict()["removed_secrets"] == list(
        removed.secrets
    )
    assert router_secrets(router) == [] and stored_names(router) == []
    assert "without it" in events[0].to_dict()["text"]


def test_remove_without_a_router(cluster, pem) -> None:
    run(add_certificate(cluster, DOMAIN, pem.cert, pem.key, timeout=5))
    removed, _ = run(remove_certificate(cluster, DOMAIN))
    assert removed.router == "not running" and stored_names(cluster) == []


def test_removing_a_domain_without_a_certificate_names_those_there_are(router, pem) -> None:
    run(add_certificate(router, DOMAIN, pem.cert, pem.key, timeout=5))
    with pytest.raises(NotFound) as caught:
        run(remove_certificate(router, "api.example.com"))
    assert str(caught.value) == (
        "no certificate for api.example.com is stored on cluster fake (stored: shop.example.com)"
    )


def test_a_removal_cut_short_leaves_the_certificate_unmounted_until_finished(
    router, pem, monkeypatch
) -> None:
    run(add_certificate(router, DOMAIN, pem.cert, pem.key, timeout=5))
    router.api.script(ROUTER_IMAGE, Behaviour(starts_after=10**9))
    with pytest.raises(LainTimeout):
        run(remove_certificate(router, DOMAIN, timeout=0.05))
    # The marker keeps it out of every later refresh of the router ...
    store = read_store(router)
    (marker,) = store.markers
    assert marker.domain == DOMAIN and store.served() == [] and certificate_mounts(router) == []
    labels = router.api.inspect_secret(marker.secret_id)["Spec"]["Labels"]
    assert labels[LABEL_CERT_LEAVING] == store.sets[0].set_id
    # ... and running the removal again finishes it.
    router.api.script(ROUTER_IMAGE, Behaviour())
    run(remove_certificate(router, DOMAIN, timeout=5))
    assert stored_names(router) == []


def test_adding_after_a_removal_cut_short_serves_the_new_one_and_clears_the_rest(
    router, pem
) -> None:
    run(add_certificate(router, DOMAIN, pem.cert, pem.key, timeout=5))
    router.api.script(ROUTER_IMAGE, Behaviour(starts_after=10**9))
    with pytest.raises(LainTimeout):
        run(remove_certificate(router, DOMAIN, timeout=0.05))
    router.api.script(ROUTER_IMAGE, Behaviour())
    result, _ = run(add_certificate(router, DOMAIN, pem.cert, pem.key, timeout=5))
    assert stored_names(router) == sorted(result.certificate.secrets)
    assert set(mounted_files(router)) == {f"{DOMAIN}.crt", f"{DOMAIN}.key"}


def test_a_watcher_that_does_not_apply_in_time_is_a_warning(router, pem, watcher, monkeypatch):
    watcher.clear()
    watcher["last_error"] = "configuration refused, the last good one stays: nginx said no"
    monkeypatch.setattr(certs_module, "WATCHER_WAIT", 0.0)
    result, events = run(add_certificate(router, DOMAIN, pem.cert, pem.key, timeout=5))
    warning = events[-2].to_dict()["text"]
    assert warning.startswith("warning: the router's tasks run, but its watcher on this node")
    assert "(it says: configuration refused, the last good one stays: nginx said no)" in warning
    assert result.certificate.served


@pytest.mark.parametrize(
    "key_options",
    [["-newkey", "rsa:2048"], ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]],
)
def test_what_openssl_writes_passes(tmp_path, key_options: list[str]) -> None:
    cert, key = tmp_path / "shop.crt", tmp_path / "shop.key"
    names = f"subjectAltName=DNS:{DOMAIN},DNS:*.{DOMAIN}"
    request = ["openssl", "req", "-x509", *key_options, "-nodes", "-days", "40"]
    subprocess.run(
        [
            *request,
            "-subj",
            f"/CN={DOMAIN}",
            "-addext",
            names,
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    checked = check_certificate(f"*.{DOMAIN}", cert.read_bytes(), key.read_bytes())
    assert checked.facts.names == (DOMAIN, f"*.{DOMAIN}") and checked.warnings == ()


def test_adding_the_certificate_stored_already_changes_nothing(router, pem) -> None:
    first, _ = run(add_certificate(router, DOMAIN, pem.cert, pem.key, timeout=5))
    updates = router.api.calls.count("update_service")
    again, events = run(add_certificate(router, DOMAIN, pem.cert, pem.key, timeout=5))
    assert again.router == "unchanged" and not again.replaced
    assert again.certificate.secrets == first.certificate.secrets
    assert router.api.calls.count("update_service") == updates
    assert events[-1].to_dict()["text"].endswith("is stored and served already: no change")


def test_a_stored_certificate_the_router_does_not_mount_yet_is_given_to_it(router, pem) -> None:
    checked = check_certificate(DOMAIN, pem.cert, pem.key)
    store_certificate(router, checked, "someone@elsewhere")  # an add cut short
    result, _ = run(add_certificate(router, DOMAIN, pem.cert, pem.key, timeout=5))
    assert result.router == "restarted" and result.certificate.served
    assert len(stored_names(router)) == 2
