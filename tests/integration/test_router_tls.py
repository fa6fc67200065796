"""TLS on the real router: certificates kept as Swarm secrets, served by SNI with HTTP/2, a
wildcard for the hosts one level below, handshakes refused for hosts without one, https_only
procs redirecting plain HTTP, rotation and removal.

One app is deployed for the module.  Every certificate change restarts the router's task
(Swarm mounts secrets only into new containers), so the module makes as few as it can: two
certificates are stored ahead and the first `add` mounts all three; then one rotation, one
removal, and one restart at the end that takes the rest away.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from cryptography import x509
from routed import HTTPS_PORT, get, wait_answer
from swarm_apps import TestApp, push_version
from tls_certs import Pem, make_cert

import lain_sdk
from lain_sdk import deploy_app
from lain_sdk.cluster.cert_check import check_certificate
from lain_sdk.cluster.cert_store import mark_leaving, read_store, store_certificate
from lain_sdk.cluster.certs import add_certificate, list_certificates, remove_certificate

pytestmark = pytest.mark.docker

TIMEOUT = 120
CHECK = "wget -q -O /dev/null http://127.0.0.1:80/index.html"
PROC = f"""\
  cmd: [sh, -c, 'trap "exit 0" TERM; httpd -f -p 80 -h /www & wait']
  memory: 16m
  container_healthcheck:
    cmd: {CHECK}
    options: {{interval: 1, timeout: 1, retries: 1}}
"""


def tls_app(name: str) -> str:
    """web on its default domain, on a host below the wildcard, and on a host no certificate
    covers; web.secure (https_only) on a host of its own."""
    return (
        f"appname: {name}\nbuild:\n  base: lain-local/busybox:latest\n"
        f"web:\n{PROC}  mountpoint: [w.{name}.example.test, nocert-{name}.example.test]\n"
        f"web.secure:\n{PROC}  https_only: true\n  mountpoint: [secure-{name}.example.test]\n"
    )


@dataclass
class Served:
    app: TestApp
    cluster: Any
    certs: dict[str, Pem] = field(default_factory=dict)  # domain -> what was stored
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def host(self) -> str:
        return f"{self.app.name}.lain.local"

    @property
    def wild_host(self) -> str:
        return f"w.{self.app.name}.example.test"

    @property
    def wildcard(self) -> str:
        return f"*.{self.app.name}.example.test"

    @property
    def secure_host(self) -> str:
        return f"secure-{self.app.name}.example.test"

    @property
    def nocert_host(self) -> str:
        return f"nocert-{self.app.name}.example.test"


def handshake(
    host: str, *, trust: Pem | None = None, alpn: tuple[str, ...] = ("h2", "http/1.1")
) -> tuple[x509.Certificate, str | None]:
    """A TLS handshake with the router naming ``host`` by SNI: the certificate it showed and
    the protocol ALPN chose.  With ``trust``, the certificate is verified as a browser would
    (that one as the only root, and the host name against its names)."""
    if trust is not None:
        context = ssl.create_default_context(cadata=trust.cert.decode())
    else:
        context = ssl._create_unverified_context()
    context.set_alpn_protocols(list(alpn))
    with (
        socket.create_connection(("127.0.0.1", HTTPS_PORT), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
        assert der is not None
        return x509.load_der_x509_certificate(der), tls.selected_alpn_protocol()


REFUSED = "refused"


def fingerprint_served(host: str) -> str:
    """The SHA-256 fingerprint of what the router shows for ``host``; ``refused`` when it
    refuses the handshake, "" when nothing answers (the router restarts)."""
    from cryptography.hazmat.primitives import hashes

    try:
        certificate, _ = handshake(host)
    except ssl.SSLError:
        return REFUSED
    except OSError:
        return ""
    return certificate.fingerprint(hashes.SHA256()).hex()


def wait_served(host: str, pem: Pem | None, timeout: float = 60) -> float:
    """Seconds until the router shows ``pem`` for ``host`` (None: refuses the handshake)."""
    from cryptography.hazmat.primitives import hashes

    wanted = pem.certificate.fingerprint(hashes.SHA256()).hex() if pem else REFUSED
    started = time.monotonic()
    while fingerprint_served(host) != wanted:
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{host}: not served as wanted within {timeout} s")
        time.sleep(0.1)
    return time.monotonic() - started


class Outages:
    """Plain HTTP requests to a host every 50 ms in the background: how long the router did
    not answer while it restarted."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.failed: list[float] = []
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sent += 1
            if get(self.host, "/index.html", timeout=2).status != 200:
                self.failed.append(time.monotonic())
            self._stop.wait(0.05)

    def __enter__(self) -> Outages:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    @property
    def seconds(self) -> float:
        return self.failed[-1] - self.failed[0] if self.failed else 0.0


def remove_all(cluster: Any, domains: list[str]) -> None:
    """Take every certificate of ``domains`` away with one restart of the router: all but the
    last are marked leaving first, so the removal of the last leaves them out too."""
    left = [d for d in domains if read_store(cluster).of(d)]
    if not left:
        return
    store = read_store(cluster)
    for domain in left[:-1]:
        mark_leaving(cluster, domain, store.of(domain))
    for domain in reversed(left):
        lain_sdk.drain(remove_certificate(cluster, domain, timeout=TIMEOUT))


@pytest.fixture(scope="module")
def served(docker_client: Any, registry: Any, router: Any) -> Iterator[Served]:
    from apps import unique_app_name
    from swarm_apps import cleanup

    app = TestApp(unique_app_name("tls"), registry.host, engine=docker_client)
    push_version(docker_client, app, tls_app(app.name), "tls page", echo=True)
    cluster = app.cluster()
    lain_sdk.drain(deploy_app(app.name, cluster=cluster, timeout=TIMEOUT))
    found = Served(app, cluster)
    try:
        found.certs = {
            found.host: make_cert(found.host),
            found.wildcard: make_cert(found.wildcard, rsa=True),
            found.secure_host: make_cert(found.secure_host),
        }
        # Two stored ahead; the add mounts all three with one restart of the router.
        for domain in (found.wildcard, found.secure_host):
            pem = found.certs[domain]
            store_certificate(cluster, check_certificate(domain, pem.cert, pem.key), "test")
        assert wait_answer(found.host, "/index.html").status == 200
        pem = found.certs[found.host]
        started = time.monotonic()
        with Outages(found.host) as outages:
            result = lain_sdk.drain(
                add_certificate(cluster, found.host, pem.cert, pem.key, timeout=TIMEOUT)
            )
            found.timings["add_returned"] = time.monotonic() - started
            found.timings["add_served"] = found.timings["add_returned"] + wait_served(
                found.host, pem
            )
            time.sleep(0.5)
        found.timings["add_outage"] = outages.seconds
        assert result.router == "restarted" and result.certificate.served
        yield found
    finally:
        try:
            remove_all(cluster, [found.host, found.wildcard, found.secure_host])
        finally:
            cleanup(docker_client, app.name, app.images)
            print(f"\nTLS timings (seconds): {found.timings}")


def test_a_host_gets_its_own_certificate_by_sni_with_http2(served: Served) -> None:
    pem = served.certs[served.host]
    certificate, protocol = handshake(served.host, trust=pem)  # verified: chain and host name
    assert certificate == pem.certificate
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert names.value.get_values_for_type(x509.DNSName) == [served.host]
    assert protocol == "h2"
    # Without h2 on offer, HTTP/1.1 over TLS serves the page, telling the app it was HTTPS.
    _, fallback = handshake(served.host, alpn=("http/1.1",))
    assert fallback == "http/1.1"
    answer = get(served.host, "/cgi-bin/echo", https=True)
    assert answer.status == 200 and "proto=https" in answer.body, answer
    # Plain HTTP is still served for a proc that is not https_only.
    assert get(served.host, "/index.html").body == "tls page\n"


def test_a_wildcard_certificate_serves_a_host_one_level_below(served: Served) -> None:
    pem = served.certs[served.wildcard]
    certificate, protocol = handshake(served.wild_host, trust=pem)
    assert certificate == pem.certificate and protocol == "h2"
    assert get(served.wild_host, "/index.html", https=True).body == "tls page\n"


def test_a_host_without_a_certificate_is_refused_at_the_handshake(served: Served) -> None:
    with pytest.raises(ssl.SSLError) as refused:
        handshake(served.nocert_host)
    assert "UNRECOGNIZED_NAME" in str(refused.value).upper() or "ALERT" in str(refused.value)
    # Over plain HTTP it is served as before.
    assert get(served.nocert_host, "/index.html").status == 200


def test_an_https_only_proc_redirects_plain_http_and_serves_https(served: Served) -> None:
    host = served.secure_host
    plain = get(host, "/cgi-bin/echo?a=1&b=2")
    assert plain.status == 308, plain
    assert plain.headers["location"] == f"https://{host}/cgi-bin/echo?a=1&b=2"
    answer = get(host, "/cgi-bin/echo?a=1", https=True, context=_trusting(served.certs[host]))
    assert (
        answer.status == 200
        and "proto=https" in answer.body
        and "uri=/cgi-bin/echo?a=1" in (answer.body)
    )


def test_list_shows_the_certificates_served(served: Served) -> None:
    listed = {c.domain: c for c in list_certificates(served.cluster)}
    for domain in (served.host, served.wildcard, served.secure_host):
        assert listed[domain].served is True
        assert listed[domain].days_left() in (88, 89)


def test_adding_again_rotates_the_certificate(served: Served) -> None:
    renewed = make_cert(served.host, days=365)
    started = time.monotonic()
    with Outages(served.host) as outages:
        result = lain_sdk.drain(
            add_certificate(served.cluster, served.host, renewed.cert, renewed.key, timeout=TIMEOUT)
        )
        returned = time.monotonic() - started
        served.timings["rotate_served"] = returned + wait_served(served.host, renewed)
        time.sleep(0.5)
    served.timings["rotate_returned"] = returned
    served.timings["rotate_outage"] = outages.seconds
    assert result.replaced
    served.certs[served.host] = renewed
    certificate, _ = handshake(served.host, trust=renewed)
    assert certificate == renewed.certificate
    # Only the new set is left in the swarm.
    (stored,) = read_store(served.cluster).of(served.host)
    assert stored.set_id and set(stored.secret_names) == set(result.certificate.secrets)
    # The other certificates were served all along, and still are.
    assert handshake(served.wild_host)[0] == served.certs[served.wildcard].certificate


def test_removing_a_certificate_refuses_its_handshakes(served: Served) -> None:
    started = time.monotonic()
    removed = lain_sdk.drain(remove_certificate(served.cluster, served.host, timeout=TIMEOUT))
    served.timings["rm_returned"] = time.monotonic() - started
    assert removed.router == "restarted" and len(removed.secrets) == 2
    served.timings["rm_refused"] = served.timings["rm_returned"] + wait_served(served.host, None)
    assert read_store(served.cluster).of(served.host) == []
    assert get(served.host, "/index.html").body == "tls page\n"
    assert handshake(served.secure_host)[0] == served.certs[served.secure_host].certificate


def _trusting(pem: Pem) -> ssl.SSLContext:
    return ssl.create_default_context(cadata=pem.cert.decode())
