"""Registry addresses: host and port, loopback or not, and plain HTTP or HTTPS.

Plain HTTP is used only for loopback registries (as Docker itself does) or when the user says
the registry is insecure (``LAIN_INSECURE_REGISTRIES``, see :func:`insecure_flag`).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping

from lain_sdk.credentials import normalize_registry

ENV_INSECURE = "LAIN_INSECURE_REGISTRIES"


def split_host_port(host: str) -> tuple[str, int | None]:
    """Split ``host[:port]`` (``[v6]:port`` for IPv6) into the host name and the port."""
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
        return name, int(port) if port.isdigit() else None
    if host.count(":") == 1:
        name, _, port = host.partition(":")
        return name, int(port) if port.isdigit() else None
    return host, None  # a bare name, or a bare IPv6 address


def is_loopback(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ``::1``, with or without a port."""
    name = split_host_port(host)[0].lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def registry_scheme(host: str, insecure: bool | None = None) -> str:
    """Return ``"http"`` or ``"https"`` for a registry.

    Args:
        host: ``host[:port]``.
        insecure: True forces plain HTTP, False forces HTTPS, None (the default) decides like
            Docker: plain HTTP for loopback registries, HTTPS for the rest.
    """
    if insecure is None:
        return "http" if is_loopback(host) else "https"
    return "http" if insecure else "https"


def insecure_registries(environ: Mapping[str, str] | None = None) -> frozenset[str]:
    """The registries listed in ``LAIN_INSECURE_REGISTRIES`` (comma-separated), normalized."""
    env = os.environ if environ is None else environ
    hosts = set()
    for item in env.get(ENV_INSECURE, "").split(","):
        if item.strip():
            hosts.add(normalize_registry(item))
    return frozenset(hosts)


def insecure_flag(host: str, environ: Mapping[str, str] | None = None) -> bool | None:
    """The ``insecure`` argument for :class:`~lain_sdk.registry.RegistryClient`: True when the
    user listed ``host`` in ``LAIN_INSECURE_REGISTRIES``, else None (the loopback rule
    decides)."""
    return True if normalize_registry(host) in insecure_registries(environ) else None
