"""Test certificates, made on the spot: self-signed ones, or ones issued by a test authority.

EC P-256 keys by default (made in a millisecond); ``rsa=True`` for an RSA one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class Pem:
    cert: bytes
    key: bytes = field(repr=False)
    certificate: x509.Certificate
    private_key: object = field(repr=False)


def _key(use_rsa: bool) -> object:
    if use_rsa:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def make_cert(
    *names: str,
    common_name: str | None = None,
    days: float = 90,
    not_before: timedelta = timedelta(days=1),
    issuer: Pem | None = None,
    san: bool = True,
    rsa: bool = False,
    ca: bool = False,
    passphrase: bytes | None = None,
) -> Pem:
    """A certificate for ``names`` valid from ``not_before`` ago for ``days`` from now;
    self-signed unless ``issuer`` signs it."""
    key = _key(rsa)
    subject = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, common_name or (names[0] if names else "x"))]
    )
    now = datetime.now(timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.certificate.subject if issuer else subject)
        .public_key(key.public_key())  # type: ignore[attr-defined]
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - not_before)
        .not_valid_after(now + timedelta(days=days))
    )
    if san and names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
        )
    if ca:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
    signer = issuer.private_key if issuer else key
    certificate = builder.sign(signer, hashes.SHA256())  # type: ignore[arg-type]
    encryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    key_pem = key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, encryption
    )
    return Pem(certificate.public_bytes(serialization.Encoding.PEM), key_pem, certificate, key)
