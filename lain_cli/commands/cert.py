"""``lain cert add|ls|rm``: the router's TLS certificates, kept as Swarm secrets."""

from __future__ import annotations

from typing import BinaryIO

import click

from lain_cli.context import Context
from lain_cli.options import pass_context, report, selected_cluster, timeout_option
from lain_cli.progress import show_events
from lain_cli.tables import table
from lain_sdk.cluster.cert_check import MAX_PEM_BYTES
from lain_sdk.cluster.certs import (
    CERT_TIMEOUT,
    CertificateAdded,
    CertificateInfo,
    CertificateRemoved,
    add_certificate,
    list_certificates,
    remove_certificate,
)

EXPIRES_SOON = 30  # days: `lain cert ls` marks certificates that expire sooner


@click.group()
def cert() -> None:
    """The router's TLS certificates: served by SNI, with HTTP/2, for their domains.

    A certificate for shop.example.com is served for that host; one for *.example.com for
    every host one level below (a.example.com, not a.b.example.com); a host's own
    certificate wins over a wildcard.  An HTTPS handshake for a host with no certificate is
    refused.  A proc with https_only: true answers plain HTTP with a redirect (308) to HTTPS.

    Certificates are Swarm secrets, encrypted in the managers' Raft log; the router mounts
    them, so adding, replacing or removing one restarts its tasks, one node at a time.

    \b
    Examples:
      lain cert add shop.example.com --cert shop.crt --key shop.key
      lain cert add '*.example.com' --cert wildcard.pem --key wildcard.key
      lain cert ls
      lain cert rm shop.example.com
    """


def _name(file: BinaryIO) -> str:
    """What messages call a file: its path, or ``standard input``."""
    name = getattr(file, "name", None)
    return name if isinstance(name, str) and name not in ("<stdin>", "-") else "standard input"


def _read(file: BinaryIO) -> bytes:
    # One byte past the limit is enough to refuse a file: a huge one is never held whole.
    return file.read(MAX_PEM_BYTES + 1)


@cert.command("add", short_help="Store a certificate for a domain; the router serves it.")
@click.argument("domain")
@click.option(
    "--cert",
    "cert_file",
    required=True,
    metavar="FILE",
    type=click.File("rb"),
    help="The certificate (PEM): the domain's own first, then its chain ('-' for stdin).",
)
@click.option(
    "--key",
    "key_file",
    required=True,
    metavar="FILE",
    type=click.File("rb"),
    help="Its private key (PEM, without a passphrase; '-' for stdin).",
)
@timeout_option(CERT_TIMEOUT, "How long to wait until every router task serves it.")
@pass_context
def add(obj: Context, domain: str, cert_file: BinaryIO, key_file: BinaryIO, timeout: float) -> None:
    """Store the certificate for DOMAIN (example.com, or *.example.com for every host one
    level below) and have the router serve it; one the domain has already is replaced.

    Before anything is stored, lain checks that both files are PEM, that the key is the
    certificate's, that the certificate names DOMAIN and that it has not expired; a problem
    exits with status 2 and stores nothing.  It warns when the certificate expires within
    30 days.  Then the router's tasks restart with it, one node at a time, and the domain's
    previous certificate is removed once no task uses it.  Adding the certificate the
    domain has already changes nothing.
    """
    cert_name, key_name = _name(cert_file), _name(key_file)
    if cert_name == key_name == "standard input":
        raise click.UsageError("only one of --cert and --key can be read from stdin")
    cert_pem, key_pem = _read(cert_file), _read(key_file)
    cluster = selected_cluster(obj)
    added: CertificateAdded = show_events(
        obj,
        add_certificate(
            cluster,
            domain,
            cert_pem,
            key_pem,
            timeout=timeout,
            cert_name=cert_name,
            key_name=key_name,
        ),
    )
    report(obj, added.to_dict(), lambda: _added_text(added))


@cert.command("ls", short_help="List the certificates: expiry, issuer, whether served.")
@pass_context
def ls(obj: Context) -> None:
    """List the certificates: expiry, issuer, who added them, whether served.

    LEFT says "(renew!)" for a certificate that expires within 30 days; SERVED says whether
    the router's tasks mount it ("no router" when none runs).
    """
    found = list_certificates(selected_cluster(obj))
    obj.emit({"certificates": [c.to_dict() for c in found]}, lambda: _list_text(found))


@cert.command("rm", short_help="Stop serving a domain's certificate and remove it.")
@click.argument("domain")
@timeout_option(CERT_TIMEOUT, "How long to wait until every router task runs without it.")
@pass_context
def rm(obj: Context, domain: str, timeout: float) -> None:
    """Stop serving the certificate for DOMAIN and remove it.

    The router's tasks restart without it, one node at a time; then its secrets are
    removed.  Its hosts are served over plain HTTP only afterwards (an HTTPS handshake for
    them is refused, and https_only procs redirect to HTTPS all the same).  A DOMAIN with no
    certificate exits with status 10 (NOT_FOUND).
    """
    cluster = selected_cluster(obj)
    removed: CertificateRemoved = show_events(
        obj, remove_certificate(cluster, domain, timeout=timeout)
    )
    report(obj, removed.to_dict(), lambda: _removed_text(removed))


# -- text --------------------------------------------------------------------------------------


def describe_days(days: int | None) -> str:
    """``12 days``, ``expired``, or ``?``: how long a certificate has left."""
    if days is None:
        return "?"
    if days < 0:
        return "expired"
    return f"{days} day{'' if days == 1 else 's'}"


def _issuer(info: CertificateInfo) -> str:
    if info.issuer and info.issuer == info.subject:
        return "self-signed"
    return _name_part(info.issuer, "CN") or _name_part(info.issuer, "O") or info.issuer or "?"


def _name_part(name: str, attribute: str) -> str:
    """One attribute of an RFC 4514 name (simple values only: good enough for a listing)."""
    for part in name.split(","):
        key, equals, value = part.partition("=")
        if equals and key.strip().upper() == attribute:
            return value.strip()
    return ""


def _served(info: CertificateInfo) -> str:
    if info.served is None:
        return "no router"
    return "yes" if info.served else "not yet"


def _list_text(found: list[CertificateInfo]) -> str:
    if not found:
        return "no certificates: add one with `lain cert add DOMAIN --cert FILE --key FILE`"
    rows: list[tuple[str, ...]] = [("DOMAIN", "EXPIRES", "LEFT", "ISSUER", "ADDED", "BY", "SERVED")]
    for info in found:
        days = info.days_left()
        left = describe_days(days)
        if days is not None and 0 <= days < EXPIRES_SOON:
            left += " (renew!)"
        rows.append(
            (
                info.domain,
                info.not_after[:10] or "?",
                left,
                _issuer(info),
                info.added[:19].replace("T", " ") or "?",
                info.by or "?",
                _served(info),
            )
        )
    return table(rows)


def _added_text(added: CertificateAdded) -> str:
    info = added.certificate
    verb = "replaced" if added.replaced else "added"
    lines = [
        f"{verb} the certificate for {info.domain}: {', '.join(info.names)}; expires "
        f"{info.not_after[:10]} ({describe_days(info.days_left())}); issuer {_issuer(info)}"
    ]
    if added.router == "unchanged":
        lines[0] = lines[0].replace(f"{verb} the", "already stored: the", 1)
    elif added.router != "restarted":  # restarted: said on stderr with its time (data once)
        lines.append("no router runs on this cluster: `lain router up` starts one that serves it")
    return "\n".join(lines)


def _removed_text(removed: CertificateRemoved) -> str:
    text = f"removed the certificate for {removed.domain}"
    if removed.router == "restarted":
        return f"{text}; the router runs without it ({removed.seconds:.1f} s)"
    return text


COMMANDS = [cert]
