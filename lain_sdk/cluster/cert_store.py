"""TLS certificates of the router, kept as Swarm secrets (a certificate and its key each).

A certificate for ``example.com`` (or ``*.example.com``) is two secrets labelled
``lain.router.cert=<domain>`` and ``lain.router.cert-part=crt|key``; the router's service
mounts them as ``<domain>.crt`` and ``<domain>.key`` (a wildcard's ``*`` written ``_``), which
is where its watcher finds them (see :meth:`lain_router.watch.Watcher.certificates`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from lain_sdk.cluster.session import Cluster

LABEL_CERT = "lain.router.cert"
LABEL_CERT_PART = "lain.router.cert-part"
PARTS = ("crt", "key")


class StoredCertificate(NamedTuple):
    """One certificate as the swarm keeps it: its domain and the IDs and names of its two
    secrets."""

    domain: str
    secrets: Mapping[str, tuple[str, str]]  # part ("crt"/"key") -> (secret ID, secret name)
    created_at: str = ""


def file_stem(domain: str) -> str:
    """The file name the router reads a domain's certificate under (``*.x`` as ``_.x``)."""
    return "_." + domain[2:] if domain.startswith("*.") else domain


def stored_certificates(cluster: Cluster) -> list[StoredCertificate]:
    """Every complete certificate in the swarm (both parts there), by domain."""
    with cluster.errors("list the router's certificates"):
        found = cluster.api.secrets(filters={"label": LABEL_CERT})
    parts: dict[str, dict[str, tuple[str, str]]] = {}
    created: dict[str, str] = {}
    for secret in found:
        spec = secret.get("Spec") or {}
        labels = spec.get("Labels") or {}
        domain, part = labels.get(LABEL_CERT), labels.get(LABEL_CERT_PART)
        if not domain or part not in PARTS:
            continue
        parts.setdefault(domain, {})[part] = (str(secret.get("ID", "")), str(spec.get("Name")))
        created[domain] = max(created.get(domain, ""), str(secret.get("CreatedAt", "")))
    return [
        StoredCertificate(domain, pair, created[domain])
        for domain, pair in sorted(parts.items())
        if set(pair) == set(PARTS)
    ]


def certificate_mounts(cluster: Cluster) -> list[dict[str, Any]]:
    """The ``ContainerSpec.Secrets`` entries that give the router every certificate."""
    mounts = []
    for cert in stored_certificates(cluster):
        for part in PARTS:
            secret_id, name = cert.secrets[part]
            mounts.append(
                {
                    "SecretID": secret_id,
                    "SecretName": name,
                    "File": {
                        "Name": f"{file_stem(cert.domain)}.{part}",
                        "UID": "0",
                        "GID": "0",
                        "Mode": 0o400,
                    },
                }
            )
    return mounts
