"""HTTP to one registry: the session, sending a request, and what went wrong, in words.

``requests`` is imported inside functions so that ``import lain_sdk`` stays cheap.  Every
``requests`` exception is turned into a :class:`~lain_sdk.errors.RegistryError` naming the
registry; passwords and tokens never appear in messages.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator, Mapping
from urllib.parse import urlsplit

from lain_sdk._version import __version__
from lain_sdk.errors import RegistryError
from lain_sdk.protocols import HttpResponse, HttpSession
from lain_sdk.registry_hosts import ENV_INSECURE

DEFAULT_TIMEOUT = 10.0


class RegistryHttp:
    """Sends requests to the registry ``host`` through an HTTP session.

    Args:
        host: ``host[:port]`` of the registry, for messages.
        session: the session to send through (tests mount a fake transport on a
            ``requests.Session``); a new one by default, made on first use and closed by
            :meth:`close`.
        timeout: seconds to wait for a connection or an answer, per request.
    """

    def __init__(self, host: str, session: HttpSession | None, timeout: float) -> None:
        self.host = host
        self.timeout = timeout
        self._own_session = session is None
        self._session = session

    @property
    def session(self) -> HttpSession:
        if self._session is None:
            import requests

            session = requests.Session()
            session.headers["User-Agent"] = f"lain/{__version__}"
            self._session = session
        return self._session

    def close(self) -> None:
        """Close the session when this object made it."""
        if self._own_session and self._session is not None:
            self._session.close()
            self._session = None

    def send(
        self,
        method: str,
        url: str,
        *,
        token_service: bool = False,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> HttpResponse:
        """Send one request; any answer is returned, whatever its status.

        Raises:
            RegistryError: no answer (the message says why: refused, DNS, TLS, timeout).
        """
        import requests

        try:
            return self.session.request(
                method, url, params=params, headers=headers, auth=auth, timeout=self.timeout
            )
        except requests.RequestException as e:
            where = f"registry {self.host}"
            if token_service:
                where = f"the token service of {where}"
            hint = "check the address and that the registry is running"
            reason = describe_connection_error(e, self.timeout)
            if reason.startswith("TLS"):
                hint = (
                    f"if it serves plain HTTP, add it to {ENV_INSECURE}; if it uses a private "
                    "CA, set REQUESTS_CA_BUNDLE"
                )
            raise RegistryError(
                f"{where} is unreachable at {strip_query(url)}: {reason}; {hint}"
            ) from e


def registry_message(response: HttpResponse) -> str:
    """The first error message of a registry error body (``{"errors": [{"code", "message"}]}``)."""
    try:
        errors = response.json().get("errors") or []
        first = errors[0]
        return f"{first.get('code', '')}: {first.get('message', '')}".strip(": ")
    except (ValueError, AttributeError, IndexError, TypeError):
        return (response.reason or "").strip()


_LINK_RE = re.compile(r"<([^>]*)>((?:\s*;\s*[^;,]+)*)")
_REL_RE = re.compile(r"""rel\s*=\s*(?:"([^"]*)"|([^\s;,"]+))""", re.IGNORECASE)


def parse_link_next(header: str | None) -> str | None:
    """Return the target of the ``rel="next"`` link in a ``Link`` header (RFC 8288), or None.

    The target is returned as written (often relative to the registry, e.g.
    ``/v2/app/tags/list?last=x&n=100``); the caller resolves it.
    """
    for match in _LINK_RE.finditer(header or ""):
        for rel in _REL_RE.finditer(match.group(2)):
            if "next" in (rel.group(1) or rel.group(2) or "").lower().split():
                return match.group(1).strip()
    return None


def url_host(url: str) -> str:
    return urlsplit(url).netloc or url


def strip_query(url: str) -> str:
    # Token requests carry the account name in the query; the message needs only the place.
    return url.split("?", 1)[0]


# -- connection errors, in words ---------------------------------------------------------------


def describe_connection_error(error: BaseException, timeout: float) -> str:
    """Say in a few words why a connection failed (refused, DNS, TLS, timeout)."""
    import requests

    causes = list(_causes(error))
    if isinstance(error, requests.exceptions.SSLError):
        import ssl

        tls = [c for c in causes if isinstance(c, ssl.SSLError)]
        reason = getattr(tls[-1], "reason", None) if tls else None
        return f"TLS handshake failed ({reason or _first_line(tls[-1] if tls else error)})"
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return f"connection timed out after {timeout:g}s"
    if isinstance(error, requests.exceptions.Timeout):
        return f"no answer within {timeout:g}s"
    if any(isinstance(c, ConnectionRefusedError) for c in causes):
        return "connection refused"
    import urllib3

    # urllib3 2 wraps the gaierror in NameResolutionError (urllib3 1.26 does not have it)
    dns_errors: tuple[type[BaseException], ...] = (
        socket.gaierror,
        *_optional(urllib3.exceptions, "NameResolutionError"),
    )
    if any(isinstance(c, dns_errors) for c in causes):
        return "cannot resolve the host name"
    if any(isinstance(c, ConnectionResetError) for c in causes):
        return "connection reset by the server"
    innermost = causes[-1] if causes else error
    return _first_line(innermost)


def _causes(error: BaseException) -> Iterator[BaseException]:
    """Every exception inside ``error``: urllib3 hides the interesting one deep in args/reason."""
    seen: set[int] = set()
    todo: list[BaseException] = [error]
    while todo:
        e = todo.pop(0)
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        for inner in (*e.args, getattr(e, "reason", None), e.__cause__, e.__context__):
            if isinstance(inner, BaseException):
                todo.append(inner)


def _first_line(error: BaseException, limit: int = 160) -> str:
    text = str(error).strip()
    return (text.splitlines()[0] if text else type(error).__name__)[:limit]


def _optional(module: object, name: str) -> tuple[type[BaseException], ...]:
    found = getattr(module, name, None)
    return (found,) if isinstance(found, type) and issubclass(found, BaseException) else ()
