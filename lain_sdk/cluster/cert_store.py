"""TLS certificates of the router, kept as Swarm secrets (a certificate and its key each).

A certificate for ``example.com`` (or ``*.example.com``) is a *set* of two secrets labelled
``lain.router.cert=<domain>``, ``lain.router.cert-part=crt|key`` and
``lain.router.cert-id=<set>``; the router's service mounts them as ``<domain>.crt`` and
``<domain>.key`` (a wildcard's ``*`` written ``_``), which is where its watcher finds them (see
:meth:`lain_router.watch.Watcher.certificates`).

Swarm secrets never change, so a new certificate for a domain is a new set beside the old one:
the router mounts the newest complete set of each domain, and the old set is removed once the
router no longer mounts it.  Removing a domain's certificate first stores a small *marker*
(``lain.router.cert-part=leaving``) naming the sets that go: from then on no refresh of the
router mounts them, so they can be removed once the router has let go of them.

The certificate's secret carries public facts about it in labels (expiry, subject, issuer,
names, fingerprint, who added it); nothing derived from the key is ever written outside its
secret.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import time
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from lain_sdk.cluster.cert_check import CheckedCertificate
from lain_sdk.cluster.engine_calls import is_conflict, is_not_found, is_refusal, unless_missing
from lain_sdk.cluster.session import Cluster
from lain_sdk.errors import ClusterError

LABEL_CERT = "lain.router.cert"
LABEL_CERT_PART = "lain.router.cert-part"
LABEL_CERT_ID = "lain.router.cert-id"
LABEL_CERT_BY = "lain.router.cert-by"
LABEL_CERT_NOT_BEFORE = "lain.router.cert-not-before"
LABEL_CERT_NOT_AFTER = "lain.router.cert-not-after"
LABEL_CERT_SUBJECT = "lain.router.cert-subject"
LABEL_CERT_ISSUER = "lain.router.cert-issuer"
LABEL_CERT_NAMES = "lain.router.cert-names"
LABEL_CERT_FINGERPRINT = "lain.router.cert-fingerprint"
# On a marker: the sets being removed (comma-separated set IDs).
LABEL_CERT_LEAVING = "lain.router.cert-leaving"
PARTS = ("crt", "key")
LEAVING = "leaving"
MAX_NAME = 64  # Swarm's limit on an object's name
_PREFIX = "lain-cert-"
_MAX_NAMES_LABEL = 1000
_MARKER_DATA = b"lain: these certificates are being removed\n"


class StoredCertificate(NamedTuple):
    """One set of a certificate's secrets as the swarm keeps it.

    Attributes:
        domain: the domain it is for (``*.example.com`` for a wildcard).
        secrets: part (``crt``, ``key``) -> (secret ID, secret name); both for a complete set.
        created_at: when its newest secret was made (the manager's clock, ISO 8601).
        set_id: the set's ID (sets of one domain tell apart by it).
        labels: the labels of its certificate's secret (public facts, see the module).
        leaving: a marker says it is being removed: the router no longer mounts it.
    """

    domain: str
    secrets: Mapping[str, tuple[str, str]]
    created_at: str = ""
    set_id: str = ""
    labels: Mapping[str, str] = {}
    leaving: bool = False

    @property
    def complete(self) -> bool:
        return all(part in self.secrets for part in PARTS)

    @property
    def secret_ids(self) -> tuple[str, ...]:
        return tuple(secret_id for secret_id, _ in self.secrets.values())

    @property
    def secret_names(self) -> tuple[str, ...]:
        return tuple(name for _, name in self.secrets.values())


class Marker(NamedTuple):
    """A marker secret: the sets of ``domain`` whose IDs it names are being removed."""

    secret_id: str
    name: str
    domain: str
    set_ids: frozenset[str]


class CertStore(NamedTuple):
    """Every set and marker in the swarm (one engine call)."""

    sets: tuple[StoredCertificate, ...]
    markers: tuple[Marker, ...]

    def of(self, domain: str) -> list[StoredCertificate]:
        """The sets of ``domain``, oldest first."""
        return [s for s in self.sets if s.domain == domain]

    def served(self) -> list[StoredCertificate]:
        """The set the router mounts for each domain: its newest complete set that is not
        leaving, by domain."""
        newest: dict[str, StoredCertificate] = {}
        for found in self.sets:
            if found.complete and not found.leaving:
                newest[found.domain] = found  # sets are sorted oldest first
        return [newest[d] for d in sorted(newest)]


def file_stem(domain: str) -> str:
    """The file name the router reads a domain's certificate under (``*.x`` as ``_.x``)."""
    return "_." + domain[2:] if domain.startswith("*.") else domain


def new_set_id() -> str:
    """A new set ID: the time in milliseconds (hex, so sets sort by age) and a random part."""
    return f"{time.time_ns() // 1_000_000:x}{secrets.token_hex(2)}"


def secret_name(domain: str, set_id: str, part: str) -> str:
    """The Swarm secret name of one part of a set, at most 64 characters: a long domain is
    cut and a hash of it added, so names stay readable and unique."""
    stem = file_stem(domain)
    room = MAX_NAME - len(_PREFIX) - len(set_id) - len(part) - 2
    if len(stem) > room:
        digest = hashlib.sha256(domain.encode()).hexdigest()[:8]
        stem = f"{stem[: room - 9]}-{digest}"
    return f"{_PREFIX}{stem}-{set_id}-{part}"


# -- reading the store -------------------------------------------------------------------------


def read_store(cluster: Cluster) -> CertStore:
    """Every certificate set and marker in the swarm (one engine call)."""
    with cluster.errors("list the router's certificates"):
        found = cluster.api.secrets(filters={"label": LABEL_CERT})
    parts: dict[tuple[str, str], dict[str, tuple[str, str]]] = {}
    created: dict[tuple[str, str], str] = {}
    facts: dict[tuple[str, str], Mapping[str, str]] = {}
    markers: list[Marker] = []
    for secret in found:
        spec = secret.get("Spec") or {}
        labels = spec.get("Labels") or {}
        domain, part = labels.get(LABEL_CERT), labels.get(LABEL_CERT_PART)
        secret_id, name = str(secret.get("ID", "")), str(spec.get("Name", ""))
        if not domain:
            continue
        if part == LEAVING:
            ids = frozenset(i for i in labels.get(LABEL_CERT_LEAVING, "").split(",") if i)
            markers.append(Marker(secret_id, name, domain, ids))
            continue
        if part not in PARTS:
            continue
        # Secrets stored before sets had IDs form one set per domain.
        key = (domain, labels.get(LABEL_CERT_ID, ""))
        parts.setdefault(key, {})[part] = (secret_id, name)
        created[key] = max(created.get(key, ""), str(secret.get("CreatedAt", "")))
        if part == "crt":
            facts[key] = dict(labels)
    leaving = {(m.domain, i) for m in markers for i in m.set_ids}
    sets = [
        StoredCertificate(key[0], pair, created[key], key[1], facts.get(key, {}), key in leaving)
        for key, pair in parts.items()
    ]
    sets.sort(key=lambda s: (s.domain, s.created_at, s.set_id))
    return CertStore(tuple(sets), tuple(markers))


def stored_certificates(cluster: Cluster) -> list[StoredCertificate]:
    """The certificate the router serves for each domain (its newest complete set), by
    domain."""
    return read_store(cluster).served()


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


# -- changing the store ------------------------------------------------------------------------


def fact_labels(checked: CheckedCertificate) -> dict[str, str]:
    """The public facts of a checked certificate, as labels of its certificate's secret."""
    facts = checked.facts
    names = ",".join(facts.names)
    if len(names) > _MAX_NAMES_LABEL:
        names = names[: _MAX_NAMES_LABEL - 4].rsplit(",", 1)[0] + ",..."
    return {
        LABEL_CERT_NOT_BEFORE: facts.not_before,
        LABEL_CERT_NOT_AFTER: facts.not_after,
        LABEL_CERT_SUBJECT: facts.subject,
        LABEL_CERT_ISSUER: facts.issuer,
        LABEL_CERT_NAMES: names,
        LABEL_CERT_FINGERPRINT: facts.fingerprint,
    }


def store_certificate(cluster: Cluster, checked: CheckedCertificate, by: str) -> StoredCertificate:
    """Store a checked certificate and its key as a new set (the router is not told).

    Raises:
        ClusterError: the engine refused; nothing of the set is left behind.
    """
    domain = checked.domain
    for _ in range(10):
        set_id = new_set_id()
        base = {LABEL_CERT: domain, LABEL_CERT_ID: set_id, LABEL_CERT_BY: by}
        values = {
            "crt": (checked.cert_pem, {**base, LABEL_CERT_PART: "crt", **fact_labels(checked)}),
            "key": (checked.key_pem, {**base, LABEL_CERT_PART: "key"}),
        }
        made: dict[str, tuple[str, str]] = {}
        try:
            for part, (data, labels) in values.items():
                name = secret_name(domain, set_id, part)
                doing = f"store the {part} of the certificate for {domain}"
                secret_id = _create(cluster, name, data, labels, doing)
                if secret_id is None:
                    break  # another set took the name in the same millisecond: a new ID
                made[part] = (secret_id, name)
        except BaseException:
            _forget(cluster, made.values())
            raise
        if len(made) == len(PARTS):
            return StoredCertificate(domain, made, "", set_id, values["crt"][1])
        _forget(cluster, made.values())
    raise ClusterError(f"could not find a free name for the certificate for {domain}")


def _create(
    cluster: Cluster, name: str, data: bytes, labels: Mapping[str, str], doing: str
) -> str | None:
    """Create one secret; its ID, or None when its name is taken."""
    with cluster.errors(doing):
        try:
            return str(cluster.api.create_secret(name, data, labels=dict(labels))["ID"])
        except Exception as e:
            if is_conflict(e):
                return None
            raise


def _forget(cluster: Cluster, made: Iterable[tuple[str, str]]) -> None:
    """Remove the secrets of a set that could not be stored whole (best effort: the error
    being raised says more than one of these would)."""
    for secret_id, _ in made:
        with contextlib.suppress(Exception):
            unless_missing(cluster.api.remove_secret, secret_id)


def mark_leaving(cluster: Cluster, domain: str, sets: Iterable[StoredCertificate]) -> Marker:
    """Store a marker saying ``sets`` of ``domain`` are being removed: from now on the router
    is never given them again."""
    ids = sorted({s.set_id for s in sets})
    for _ in range(10):
        marker_id = new_set_id()
        name = secret_name(domain, marker_id, LEAVING)
        labels = {
            LABEL_CERT: domain,
            LABEL_CERT_PART: LEAVING,
            LABEL_CERT_ID: marker_id,
            LABEL_CERT_LEAVING: ",".join(ids),
        }
        doing = f"mark the certificate for {domain} as being removed"
        secret_id = _create(cluster, name, _MARKER_DATA, labels, doing)
        if secret_id is not None:
            return Marker(secret_id, name, domain, frozenset(ids))
    raise ClusterError(f"could not find a free name for a marker of the certificate for {domain}")


def remove_secrets(cluster: Cluster, secret_ids: Iterable[str], what: str) -> int:
    """Remove secrets of the store (one already gone is fine); how many were there.

    Raises:
        ClusterError: a service still mounts one (the message names it), or the engine
            refused otherwise.
    """
    removed = 0
    for secret_id in secret_ids:
        with cluster.errors(f"remove {what}", "run the command again once the router is up"):
            try:
                cluster.api.remove_secret(secret_id)
                removed += 1
            except Exception as e:
                if is_not_found(e):
                    continue
                if is_refusal(e) and "in use" in str(getattr(e, "explanation", "") or e):
                    raise ClusterError(
                        f"{what} is still mounted: "
                        f"{str(getattr(e, 'explanation', '') or e).split('desc = ')[-1]}; "
                        "run the command again once the router has restarted"
                    ) from e
                raise
    return removed
