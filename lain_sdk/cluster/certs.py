"""The router's TLS certificates: add (or replace), list and remove them.

A certificate is checked (:mod:`lain_sdk.cluster.cert_check`) before anything is stored, kept
as Swarm secrets (:mod:`lain_sdk.cluster.cert_store`) and mounted into the router, which
serves it by SNI for its domain, or for every host one level below a wildcard's domain, with
HTTP/2 on TLS.  Swarm mounts a secret only into a new container, so adding, replacing or
removing a certificate restarts the router's tasks, one node at a time; each operation waits
until every router task runs with the change, then removes what no task mounts any more.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from lain_router.labels import ROUTER_SERVICE
from lain_sdk.cluster.cert_check import CheckedCertificate, certificate_domain, check_certificate
from lain_sdk.cluster.cert_store import (
    LABEL_CERT_BY,
    LABEL_CERT_FINGERPRINT,
    LABEL_CERT_ISSUER,
    LABEL_CERT_NAMES,
    LABEL_CERT_NOT_AFTER,
    LABEL_CERT_NOT_BEFORE,
    LABEL_CERT_SUBJECT,
    CertStore,
    StoredCertificate,
    mark_leaving,
    read_store,
    remove_secrets,
    store_certificate,
)
from lain_sdk.cluster.engine_calls import parse_time
from lain_sdk.cluster.identity import current_user
from lain_sdk.cluster.router import find_router, refresh_router, router_status, wait_updated
from lain_sdk.cluster.session import Cluster, ClusterLike
from lain_sdk.cluster.views import Service
from lain_sdk.errors import ClusterError, InvalidArgument, LainTimeout, NotFound
from lain_sdk.events import Event, Message

CERT_TIMEOUT = 180.0
# How long to wait, once the router's tasks run, for the watcher next to the engine lain talks
# to to say it applied its first configuration (nginx serves from then on); past that, a
# warning.  A new task's watcher applies within a second.
WATCHER_WAIT = 20.0
# Two commands that change the router at once: the second's update is refused as out of
# sequence, and a fresh look at the router settles it.
_REFRESH_TRIES = 3


@dataclass(frozen=True)
class CertificateInfo:
    """A stored certificate, as ``lain cert ls`` shows it (nothing secret).

    Attributes:
        domain: the domain it is served for (``*.example.com``: every host one level below).
        not_after: until when it is valid (ISO 8601, UTC; "" when unknown).
        not_before: from when it is valid.
        subject: its subject (RFC 4514).
        issuer: who issued it (RFC 4514).
        names: the DNS names it is for.
        fingerprint: SHA-256 of the certificate (hex).
        added: when it was stored (the manager's clock, ISO 8601).
        by: ``user@host`` of whoever stored it.
        secrets: the names of its two Swarm secrets.
        served: whether the router's service mounts it (None: no router runs).
    """

    domain: str
    not_after: str = ""
    not_before: str = ""
    subject: str = ""
    issuer: str = ""
    names: tuple[str, ...] = ()
    fingerprint: str = ""
    added: str = ""
    by: str = ""
    secrets: tuple[str, ...] = ()
    served: bool | None = None

    @classmethod
    def of(cls, stored: StoredCertificate, router: Service | None) -> CertificateInfo:
        labels = stored.labels
        names = labels.get(LABEL_CERT_NAMES, "")
        return cls(
            domain=stored.domain,
            not_after=labels.get(LABEL_CERT_NOT_AFTER, ""),
            not_before=labels.get(LABEL_CERT_NOT_BEFORE, ""),
            subject=labels.get(LABEL_CERT_SUBJECT, ""),
            issuer=labels.get(LABEL_CERT_ISSUER, ""),
            names=tuple(n for n in names.split(",") if n),
            fingerprint=labels.get(LABEL_CERT_FINGERPRINT, ""),
            added=stored.created_at,
            by=labels.get(LABEL_CERT_BY, ""),
            secrets=stored.secret_names,
            served=None if router is None else set(stored.secret_ids) <= _mounted(router),
        )

    def days_left(self, now: datetime | None = None) -> int | None:
        """Whole days until it expires (negative once it has; None when unknown)."""
        if not self.not_after:
            return None
        try:
            expires = datetime.fromtimestamp(parse_time(self.not_after), timezone.utc)
        except ValueError:
            return None
        return (expires - (now or datetime.now(timezone.utc))).days

    def to_dict(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "not_after": self.not_after,
            "days_left": self.days_left(),
            "not_before": self.not_before,
            "subject": self.subject,
            "issuer": self.issuer,
            "names": list(self.names),
            "fingerprint": self.fingerprint,
            "added": self.added,
            "by": self.by,
            "secrets": list(self.secrets),
            "served": self.served,
        }


@dataclass(frozen=True)
class CertificateAdded:
    """What :func:`add_certificate` did.

    Attributes:
        certificate: the certificate now stored for the domain.
        replaced: an older certificate for the domain was replaced (and removed).
        router: ``restarted`` (its tasks run with the certificate), ``not running`` (it
            serves the certificate once started) or ``unchanged`` (the same certificate was
            stored and mounted already: nothing was done).
        seconds: how long the router took to run with it everywhere (0 when it did not run).
        warnings: what the check found worth knowing (it expires soon, ...).
    """

    certificate: CertificateInfo
    replaced: bool
    router: str
    seconds: float = 0.0
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.certificate.to_dict(),
            "replaced": self.replaced,
            "router": self.router,
            "seconds": round(self.seconds, 1),
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class CertificateRemoved:
    """What :func:`remove_certificate` did: the domain, its secrets that were removed, and
    ``restarted`` or ``not running`` for the router."""

    domain: str
    secrets: tuple[str, ...]
    router: str
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "removed_secrets": list(self.secrets),
            "router": self.router,
            "seconds": round(self.seconds, 1),
        }


# -- listing -----------------------------------------------------------------------------------


def list_certificates(cluster: ClusterLike) -> list[CertificateInfo]:
    """The certificate stored for each domain, by domain: its dates, names, issuer, who added
    it and whether the router mounts it.  Nothing secret is read.

    Raises:
        InvalidArgument: ``cluster`` is not a cluster.
        EngineError, ClusterError: the engine does not answer, or refused.
    """
    session = Cluster.of(cluster)
    router = _router(session)
    return [CertificateInfo.of(s, router) for s in read_store(session).served()]


# -- adding ------------------------------------------------------------------------------------


def add_certificate(
    cluster: ClusterLike,
    domain: str,
    cert_pem: bytes,
    key_pem: bytes,
    *,
    timeout: float = CERT_TIMEOUT,
    cert_name: str = "the certificate",
    key_name: str = "the key",
) -> Generator[Event, None, CertificateAdded]:
    """Store the certificate for ``domain`` and have the router serve it (a certificate the
    domain has already is replaced: the rotation of a renewed certificate).

    The certificate and key are checked first (see
    :func:`~lain_sdk.cluster.cert_check.check_certificate`); then they are stored as two new
    Swarm secrets, the router is given them (its tasks restart, one node at a time), and once
    every router task runs with them, the domain's previous certificate is removed.

    Args:
        cluster: the cluster (a session, its settings or its name).
        domain: ``shop.example.com``, or ``*.example.com`` for every host one level below.
        cert_pem: the certificate (PEM), the domain's first, then its chain.
        key_pem: its private key (PEM, without a passphrase).
        timeout: how long to wait until every router task runs with it.
        cert_name, key_name: what messages call the two (the files they came from, say).

    Yields:
        Message events: warnings of the check (``warning: ...``) and what is being done.

    Raises:
        InvalidArgument: the domain, certificate or key is refused (nothing was stored).
        ClusterError: the engine refused; whatever this call stored is removed again.
        LainTimeout: the router did not run with it within ``timeout``: the certificate is
            stored and the router keeps restarting with it; the previous one stays stored
            until an add or remove for the domain runs to its end.
    """
    if not isinstance(timeout, (int, float)) or timeout <= 0:
        raise InvalidArgument(f"timeout must be a positive number of seconds, not {timeout!r}")
    checked = check_certificate(domain, cert_pem, key_pem, cert_name=cert_name, key_name=key_name)
    session = Cluster.of(cluster)
    return (yield from _add(session, checked, timeout))


def _add(
    session: Cluster, checked: CheckedCertificate, timeout: float
) -> Generator[Event, None, CertificateAdded]:
    started = time.monotonic()
    domain = checked.domain
    for warning in checked.warnings:
        yield Message(f"warning: {warning}")
    before = read_store(session)
    same = _same_served(session, before, checked)
    if same is not None:
        yield Message(f"the certificate for {domain} is stored and served already: no change")
        return same
    stored = store_certificate(session, checked, current_user())
    yield Message(f"stored the certificate for {domain} ({', '.join(stored.secret_names)})")
    try:
        router = _refresh(session)
    except BaseException:
        remove_secrets(session, stored.secret_ids, f"the new certificate for {domain}")
        raise
    seconds = 0.0
    if router is None:
        state = "not running"
        yield Message(f"no router runs on cluster {session.name}: it serves {domain} once started")
    else:
        state = "restarted"
        yield Message("restarting the router's tasks with it, one node at a time")
        yield from _wait_router(session, router, started + timeout, timeout, domain)
        seconds = time.monotonic() - started
        yield Message(f"the router runs with the certificate for {domain} ({seconds:.1f} s)")
    older = before.of(domain)
    stale = [m for m in before.markers if m.domain == domain]
    if older or stale:
        ids = [i for s in older for i in s.secret_ids] + [m.secret_id for m in stale]
        remove_secrets(session, ids, f"the previous certificate for {domain}")
    after = read_store(session)
    mine = next(s for s in after.of(domain) if s.set_id == stored.set_id)
    return CertificateAdded(
        CertificateInfo.of(mine, _router(session)),
        replaced=any(s.complete and not s.leaving for s in older),
        router=state,
        seconds=seconds,
        warnings=checked.warnings,
    )


def _same_served(
    session: Cluster, store: CertStore, checked: CheckedCertificate
) -> CertificateAdded | None:
    """What adding a certificate stored already for its domain did: nothing, when the router
    (if any) mounts it; None when there is something to do."""
    current = [s for s in store.served() if s.domain == checked.domain]
    if not current or current[0].labels.get(LABEL_CERT_FINGERPRINT) != checked.facts.fingerprint:
        return None
    router = _router(session)
    if router is not None and not set(current[0].secret_ids) <= _mounted(router):
        return None  # stored by an add that did not finish: this one finishes it
    return CertificateAdded(
        CertificateInfo.of(current[0], router),
        replaced=False,
        router="unchanged",
        warnings=checked.warnings,
    )


# -- removing ----------------------------------------------------------------------------------


def remove_certificate(
    cluster: ClusterLike, domain: str, *, timeout: float = CERT_TIMEOUT
) -> Generator[Event, None, CertificateRemoved]:
    """Stop serving the certificate for ``domain`` and remove it: the router is given every
    certificate but this one (its tasks restart, one node at a time); once every router task
    runs so, its secrets are removed.  Its hosts are then served over plain HTTP only (an
    HTTPS handshake for them is refused).

    Raises:
        InvalidArgument: ``domain`` is not a domain.
        NotFound: no certificate is stored for it (the message lists those that are).
        ClusterError: the engine refused.
        LainTimeout: the router did not run without it within ``timeout``; it is not served
            any more, and running this again removes its secrets.
    """
    if not isinstance(timeout, (int, float)) or timeout <= 0:
        raise InvalidArgument(f"timeout must be a positive number of seconds, not {timeout!r}")
    domain = certificate_domain(domain)
    session = Cluster.of(cluster)
    started = time.monotonic()
    store = read_store(session)
    sets = store.of(domain)
    if not sets:
        raise NotFound(_not_stored(domain, session, store))
    marker = mark_leaving(session, domain, sets)
    try:
        router = _refresh(session)
    except BaseException:
        remove_secrets(session, [marker.secret_id], f"the marker of the certificate for {domain}")
        raise
    seconds = 0.0
    if router is None:
        state = "not running"
    else:
        state = "restarted"
        yield Message("restarting the router's tasks without it, one node at a time")
        yield from _wait_router(session, router, started + timeout, timeout, domain)
        seconds = time.monotonic() - started
    names = tuple(n for s in sets for n in s.secret_names)
    ids = [i for s in sets for i in s.secret_ids]
    remove_secrets(session, ids, f"the certificate for {domain}")
    markers = [m.secret_id for m in read_store(session).markers if m.domain == domain]
    remove_secrets(session, markers, f"the marker of the certificate for {domain}")
    return CertificateRemoved(domain, names, state, seconds)


def _not_stored(domain: str, session: Cluster, store: CertStore) -> str:
    stored = ", ".join(s.domain for s in store.served()) or "none"
    return f"no certificate for {domain} is stored on cluster {session.name} (stored: {stored})"


# -- the router --------------------------------------------------------------------------------


def _router(session: Cluster) -> Service | None:
    return find_router(session)


def _mounted(router: Service) -> set[str]:
    container = (router.spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}
    return {str(s.get("SecretID")) for s in container.get("Secrets") or ()}


def _refresh(session: Cluster) -> Service | None:
    """Give the router today's certificates; the router's service (None: no router)."""
    for attempt in range(_REFRESH_TRIES):
        try:
            refresh_router(session)
            break
        except ClusterError:
            if attempt == _REFRESH_TRIES - 1:
                raise
            time.sleep(session.poll_interval)
    return _router(session)


def _wait_router(
    session: Cluster, router: Service, deadline: float, timeout: float, domain: str
) -> Generator[Event, None, int]:
    """Wait until every task of the router runs its service's current spec (so mounts the
    certificates it names); how many run."""
    try:
        count = yield from wait_updated(session, ROUTER_SERVICE, deadline, timeout)
    except LainTimeout as e:
        raise LainTimeout(
            f"the router did not restart with the change for {domain} within {timeout:.0f} s "
            f"({e}); it goes on restarting: look at the router's status, and run the command "
            "again to finish"
        ) from None
    yield from _wait_watcher(session, deadline)
    return count


def _wait_watcher(session: Cluster, deadline: float) -> Generator[Event, None, None]:
    """Wait until the watcher of the router's new task on this engine's node has applied a
    configuration (the task's status file appears then), for at most :data:`WATCHER_WAIT`."""
    until = min(deadline, time.monotonic() + WATCHER_WAIT)
    while True:
        watcher = router_status(session).watcher
        if watcher.get("applied_at"):
            return
        if time.monotonic() >= until:
            said = watcher.get("last_error")
            yield Message(
                "warning: the router's tasks run, but its watcher on this node has not said "
                "that it serves their configuration yet"
                + (f" (it says: {said})" if said else "")
                + "; look at the router's status"
            )
            return
        yield from ()
        time.sleep(max(session.poll_interval, 0.1))
