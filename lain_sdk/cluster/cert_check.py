"""Checking a TLS certificate and its key before the router is given them (pure).

:func:`check_certificate` takes the PEM text of a certificate (the domain's own first, then
the chain up to its root, as nginx wants them) and of its private key, and refuses what the
router could not serve, or would serve to no client's satisfaction: a domain that is not a
host name (``*.example.com`` is a wildcard), text that is not PEM, a key under a passphrase, a
key that is not the certificate's, a certificate that does not name the domain, one that has
expired.  What is worth knowing but still served comes back as warnings: it expires within
30 days, it is not valid yet, its chain is out of order, it has no subjectAltName.

What it returns holds the certificate and the key written anew (only the certificates of the
certificate text, only the key of the key text) and the public facts of the certificate,
which the store writes into labels; the key is never part of a ``repr``, a message or a fact.

The ``cryptography`` package reads the certificate and the key; it is imported when a
certificate is checked, not when lain starts.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from lain_router.model import parse_mountpoint
from lain_sdk.errors import InvalidArgument

if TYPE_CHECKING:
    from cryptography.x509 import Certificate

# Swarm's own limit on a secret's data (a certificate and its chain are a few KiB).
MAX_PEM_BYTES = 500 * 1024
EXPIRY_WARNING = timedelta(days=30)
# Facts longer than this are cut in labels and listings.
MAX_FACT = 200
MAX_NAMES_SHOWN = 10


@dataclass(frozen=True)
class CertificateFacts:
    """What a certificate says of itself (nothing secret).

    Attributes:
        not_before: from when it is valid (ISO 8601, UTC).
        not_after: until when it is valid (ISO 8601, UTC).
        subject: its subject (RFC 4514, cut at 200 characters).
        issuer: who issued it (RFC 4514, cut at 200 characters).
        names: the DNS names it is for (subjectAltName; its common name when it has none).
        fingerprint: SHA-256 of the domain's certificate (DER), in hex.
        self_signed: issued by its own subject.
        chain: how many certificates the certificate text holds (the domain's and its chain).
    """

    not_before: str
    not_after: str
    subject: str
    issuer: str
    names: tuple[str, ...]
    fingerprint: str
    self_signed: bool = False
    chain: int = 1


@dataclass(frozen=True)
class CheckedCertificate:
    """A certificate and key that passed :func:`check_certificate`, ready to store.

    Attributes:
        domain: the domain it is stored for (lower case; ``*.example.com`` for a wildcard).
        cert_pem: the certificates, the domain's first, written anew as PEM.
        key_pem: the private key, written anew as PEM (PKCS #8, no passphrase); never shown.
        facts: what the domain's certificate says of itself.
        warnings: what is worth knowing but does not keep it from being served.
    """

    domain: str
    cert_pem: bytes = field(repr=False)
    key_pem: bytes = field(repr=False)
    facts: CertificateFacts
    warnings: tuple[str, ...] = ()


def certificate_domain(domain: str) -> str:
    """``domain`` as the router names it (lower case, no trailing dot): a host name, or a
    wildcard ``*.`` and a host name.

    Raises:
        InvalidArgument: not a host name, or a host name with a path.
    """
    if not isinstance(domain, str):
        raise InvalidArgument(f"a certificate's domain is a string, not {domain!r}")
    try:
        host, path = parse_mountpoint(domain)
    except ValueError as e:
        raise InvalidArgument(
            f"{e}; a certificate is for a domain such as example.com or *.example.com"
        ) from None
    if path != "/" or "/" in domain.strip():
        raise InvalidArgument(
            f"{domain!r}: a certificate is for a whole domain, not a path; give {host}"
        )
    return host


def covers(name: str, domain: str) -> bool:
    """Whether a certificate naming ``name`` serves ``domain``: the same name, or a wildcard
    one level up; a wildcard domain needs the same wildcard."""
    name = name.strip().lower().rstrip(".")
    if name == domain:
        return True
    if not name.startswith("*.") or domain.startswith("*."):
        return False
    _, dot, parent = domain.partition(".")
    return bool(dot) and parent == name[2:]


def check_certificate(
    domain: str,
    cert_pem: bytes,
    key_pem: bytes,
    *,
    now: datetime | None = None,
    cert_name: str = "the certificate",
    key_name: str = "the key",
) -> CheckedCertificate:
    """Check that ``cert_pem`` and ``key_pem`` can serve ``domain`` (see the module).

    Args:
        domain: ``example.com``, or ``*.example.com`` for a wildcard certificate.
        cert_pem: the certificate (PEM), the domain's first, then its chain.
        key_pem: its private key (PEM, without a passphrase).
        now: the time to check the dates against (default: now).
        cert_name, key_name: what messages call the two (a file name, say).

    Raises:
        InvalidArgument: what is wrong, naming which of the two and how to fix it.
    """
    domain = certificate_domain(domain)
    _check_bytes(cert_pem, cert_name)
    _check_bytes(key_pem, key_name)
    chain = _certificates(cert_pem, cert_name)
    key = _private_key(key_pem, key_name)
    _check_pair(chain, key, cert_name, key_name)
    warnings: list[str] = []
    leaf = chain[0]
    names = _names(leaf, cert_name, warnings)
    if not any(covers(n, domain) for n in names):
        shown = ", ".join(names[:MAX_NAMES_SHOWN]) or "no DNS name"
        more = f" and {len(names) - MAX_NAMES_SHOWN} more" if len(names) > MAX_NAMES_SHOWN else ""
        raise InvalidArgument(
            f"{cert_name} is not for {domain}: it names {shown}{more}; store it for one of "
            f"those, or get a certificate that names {domain}"
        )
    now = now or datetime.now(timezone.utc)
    _check_dates(leaf, domain, cert_name, now.replace(tzinfo=now.tzinfo or timezone.utc), warnings)
    _check_order(chain, cert_name, warnings)
    if b"PRIVATE KEY-----" in cert_pem:
        warnings.append(
            f"{cert_name} also holds a private key: only its certificates were kept (keep "
            "the key in a file of its own)"
        )
    return CheckedCertificate(
        domain,
        _pem_of(chain),
        _key_pem(key),
        _facts(leaf, names, len(chain)),
        tuple(warnings),
    )


# -- the parts ---------------------------------------------------------------------------------


def _check_bytes(value: Any, name: str) -> None:
    if not isinstance(value, bytes):
        raise InvalidArgument(f"{name} must be bytes (PEM text), not {type(value).__name__}")
    if not value.strip():
        raise InvalidArgument(f"{name} is empty")
    if len(value) > MAX_PEM_BYTES:
        raise InvalidArgument(
            f"{name} has more than {MAX_PEM_BYTES // 1024} KiB, more than Swarm keeps in a "
            "secret; a certificate with its chain is a few KiB: is it the right file?"
        )


def _certificates(text: bytes, name: str) -> list[Certificate]:
    from cryptography import x509

    try:
        return list(x509.load_pem_x509_certificates(text))
    except ValueError:
        pass
    if b"PRIVATE KEY-----" in text:
        raise InvalidArgument(
            f"{name} holds a private key, not a certificate: were the certificate and the "
            "key swapped?"
        )
    if b"-----BEGIN CERTIFICATE-----" in text:
        raise InvalidArgument(f"{name} has a PEM certificate block that does not parse")
    raise InvalidArgument(
        f"{name} is not a PEM certificate (text from -----BEGIN CERTIFICATE----- to "
        "-----END CERTIFICATE-----); a DER one converts with `openssl x509 -inform der`"
    )


def _private_key(text: bytes, name: str) -> Any:
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    try:
        return serialization.load_pem_private_key(text, password=None)
    except TypeError:
        raise InvalidArgument(
            f"{name} is protected by a passphrase, which the router cannot type: write it "
            "without one (`openssl pkey -in KEY -out KEY.plain`) and keep that file private"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        pass
    if b"PRIVATE KEY-----" not in text and b"CERTIFICATE-----" in text:
        raise InvalidArgument(
            f"{name} holds a certificate, not a private key: were the certificate and the "
            "key swapped?"
        )
    raise InvalidArgument(
        f"{name} is not a PEM private key (text from -----BEGIN PRIVATE KEY----- to "
        "-----END PRIVATE KEY-----, or an RSA or EC PRIVATE KEY block) that lain can read"
    )


def _public_der(owner: Any) -> bytes | None:
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    try:
        public = owner.public_key()
        return bytes(
            public.public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    except (ValueError, UnsupportedAlgorithm):
        return None


def _check_pair(chain: list[Certificate], key: Any, cert_name: str, key_name: str) -> None:
    mine = _public_der(key)
    if mine is None:
        raise InvalidArgument(f"{key_name} is of a kind of key lain cannot check")
    if _public_der(chain[0]) == mine:
        return
    for place, later in enumerate(chain[1:], start=2):
        if _public_der(later) == mine:
            raise InvalidArgument(
                f"{cert_name} has the certificate of this key in place {place}: put the "
                "domain's own certificate first, then its chain"
            )
    raise InvalidArgument(
        f"{key_name} does not match {cert_name}: it is the key of another certificate (an "
        "older one, or another domain's?)"
    )


def _names(leaf: Certificate, cert_name: str, warnings: list[str]) -> tuple[str, ...]:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    try:
        extension = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        extension = None
    except ValueError as e:
        raise InvalidArgument(f"{cert_name} has extensions that do not parse: {e}") from None
    if extension is not None:
        values = extension.value.get_values_for_type(x509.DNSName)
        return tuple(dict.fromkeys(str(n).lower().rstrip(".") for n in values))
    common = [str(a.value) for a in leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    if common:
        warnings.append(
            f"{cert_name} has no subjectAltName, only a common name: browsers ignore that "
            "name and refuse the certificate"
        )
    return tuple(n.lower().rstrip(".") for n in common)


def _check_dates(
    leaf: Certificate, domain: str, cert_name: str, now: datetime, warnings: list[str]
) -> None:
    not_after = leaf.not_valid_after_utc
    not_before = leaf.not_valid_before_utc
    if not_after <= now:
        days = (now - not_after).days
        raise InvalidArgument(
            f"{cert_name} expired on {not_after:%Y-%m-%d %H:%M} UTC ({days} day"
            f"{'' if days == 1 else 's'} ago); renew it"
        )
    if not_before > now:
        warnings.append(
            f"the certificate for {domain} is valid only from {not_before:%Y-%m-%d %H:%M} "
            "UTC: clients refuse it until then (or is this machine's clock behind?)"
        )
    left = not_after - now
    if left < EXPIRY_WARNING:
        warnings.append(
            f"the certificate for {domain} expires in {left.days} day"
            f"{'' if left.days == 1 else 's'}, on {not_after:%Y-%m-%d %H:%M} UTC: renew it soon"
        )


def _check_order(chain: list[Certificate], cert_name: str, warnings: list[str]) -> None:
    for place, (issued, issuer) in enumerate(itertools.pairwise(chain), start=1):
        if issued.issuer != issuer.subject:
            warnings.append(
                f"{cert_name}: certificate {place} was not issued by certificate {place + 1}, "
                "so clients may fail to build the chain; list the domain's certificate, then "
                "each issuer in turn"
            )
            return


def _short(text: str) -> str:
    return text if len(text) <= MAX_FACT else text[: MAX_FACT - 3] + "..."


def _facts(leaf: Certificate, names: tuple[str, ...], chain: int) -> CertificateFacts:
    from cryptography.hazmat.primitives import hashes

    return CertificateFacts(
        not_before=leaf.not_valid_before_utc.isoformat(timespec="seconds"),
        not_after=leaf.not_valid_after_utc.isoformat(timespec="seconds"),
        subject=_short(leaf.subject.rfc4514_string()),
        issuer=_short(leaf.issuer.rfc4514_string()),
        names=names,
        fingerprint=leaf.fingerprint(hashes.SHA256()).hex(),
        self_signed=leaf.issuer == leaf.subject,
        chain=chain,
    )


def _pem_of(chain: list[Certificate]) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain)


def _key_pem(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
