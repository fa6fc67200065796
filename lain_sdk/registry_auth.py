"""Answering a registry's auth challenge, as the docker CLI does.

A request goes out without credentials (or with what worked before); on ``401`` the
``WWW-Authenticate`` header says ``Basic`` (send the user name and password) or
``Bearer realm=...,service=...,scope=...`` (fetch a token from the realm, with the user name and
password when there are some, then send it).  Tokens are cached per scope until they expire.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from lain_sdk.credentials import Credentials
from lain_sdk.errors import RegistryAuthError, RegistryError
from lain_sdk.registry_http import RegistryHttp, registry_message, url_host

# Token lifetime when the token service does not say (the token spec's default).
DEFAULT_TOKEN_LIFETIME = 60


@dataclass(frozen=True)
class Challenge:
    """One challenge of a ``WWW-Authenticate`` header: a scheme and its parameters.

    ``scheme`` is lower-case; parameter names are lower-case, values are unquoted.
    """

    scheme: str
    params: dict[str, str] = field(default_factory=dict)


_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_QUOTED = r'"(?:[^"\\]|\\.)*"'
_PARAM_RE = re.compile(rf"\s*({_TOKEN})\s*=\s*({_QUOTED}|{_TOKEN})\s*")
_SCHEME_RE = re.compile(rf"\s*({_TOKEN})(?:\s+|$)")
_TOKEN68_RE = re.compile(r"\s*([A-Za-z0-9\-._~+/]+=*)\s*(?:,|$)")


def parse_www_authenticate(header: str) -> list[Challenge]:
    """Parse a ``WWW-Authenticate`` header (RFC 9110, section 11.6.1) into its challenges.

    Handles several challenges in one header, quoted values holding commas or escaped quotes,
    and token68 credentials (kept under the parameter name ``""``).  Unparseable text ends the
    parse; what was read before it is returned.

    Example::

        >>> parse_www_authenticate('Bearer realm="https://a/t",scope="x:y:pull,push"')
        [Challenge(scheme='bearer', params={'realm': 'https://a/t', 'scope': 'x:y:pull,push'})]
    """
    challenges: list[Challenge] = []
    pos, end = 0, len(header)
    while pos < end:
        while pos < end and header[pos] in " \t,":  # empty list elements are allowed
            pos += 1
        scheme = _SCHEME_RE.match(header, pos)
        if scheme is None:
            break
        params: dict[str, str] = {}
        challenges.append(Challenge(scheme.group(1).lower(), params))
        pos = scheme.end()
        token68 = _TOKEN68_RE.match(header, pos)
        if token68 and not _PARAM_RE.match(header, pos):
            params[""] = token68.group(1)
            pos = token68.end()
            continue
        while pos < end:
            param = _PARAM_RE.match(header, pos)
            if param is None:
                break  # the next challenge's scheme, or junk
            name, value = param.group(1).lower(), param.group(2)
            if value.startswith('"'):
                value = re.sub(r"\\(.)", r"\1", value[1:-1])
            params.setdefault(name, value)
            pos = param.end()
            if pos < end and header[pos] == ",":
                pos += 1
            else:
                break
    return challenges


class RegistryAuth:
    """What one client knows about a registry's auth: the credentials, whether the registry
    asked for them, the scheme that worked and the tokens it handed out, per scope.

    Args:
        http: where token requests go.
        credentials: the user name and password, or a function returning them, called only
            when the registry first challenges (most registries a developer uses never do, and
            keyring lookups are slow).
    """

    def __init__(
        self,
        http: RegistryHttp,
        credentials: Credentials | Callable[[], Credentials | None] | None,
    ) -> None:
        self.http = http
        self.host = http.host
        self._credentials = credentials
        self.required = False  # the registry has asked for credentials
        self._basic = False  # the registry asked for Basic: send it up front from now on
        self._tokens: dict[str, tuple[str, float]] = {}  # scope -> (token, expiry)

    @property
    def credentials(self) -> Credentials | None:
        """The credentials to answer a challenge with (looked up on first use)."""
        if callable(self._credentials):
            self._credentials = self._credentials()
        return self._credentials

    @property
    def known_username(self) -> str | None:
        """The user name, when the credentials were given rather than still to be looked up."""
        creds = self._credentials if isinstance(self._credentials, Credentials) else None
        return creds.username if creds else None

    def headers(self, scope: str) -> dict[str, str]:
        """The ``Authorization`` header to send for ``scope``, if anything worked before."""
        token = self._tokens.get(scope)
        if token is not None and token[1] > time.monotonic():
            return {"Authorization": f"Bearer {token[0]}"}
        if self._basic and self.credentials is not None:
            pair = f"{self.credentials.username}:{self.credentials.password}".encode()
            return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
        return {}

    def answer(self, header: str, scope: str, sent_auth: bool) -> bool:
        """Prepare credentials for the challenge in a ``WWW-Authenticate`` header; False when a
        retry cannot help."""
        self.required = True
        challenges = parse_www_authenticate(header)
        by_scheme = {c.scheme: c for c in challenges}
        if "bearer" in by_scheme:
            if not by_scheme["bearer"].params.get("realm"):
                raise RegistryAuthError(
                    f"registry {self.host} asks for a Bearer token but names no realm to get "
                    "it from; the registry's auth configuration is broken",
                    registry=self.host,
                )
            self._tokens[scope] = self._fetch_token(by_scheme["bearer"], scope)
            return True
        if "basic" in by_scheme:
            if self.credentials is None or (sent_auth and self._basic):
                return False
            self._basic = True
            return True
        if challenges:
            offered = ", ".join(sorted(by_scheme))
            raise RegistryAuthError(
                f"registry {self.host} asks for {offered} authentication, which lain does not "
                "support (only Basic and Bearer tokens)",
                registry=self.host,
            )
        return False

    def _fetch_token(self, challenge: Challenge, scope: str) -> tuple[str, float]:
        """Get a token from the challenge's realm (the docker token protocol)."""
        realm = challenge.params["realm"]
        params = {}
        if challenge.params.get("service"):
            params["service"] = challenge.params["service"]
        wanted = challenge.params.get("scope") or scope
        if wanted:
            params["scope"] = wanted
        auth = None
        if self.credentials is not None:
            params["account"] = self.credentials.username
            auth = (self.credentials.username, self.credentials.password)
        response = self.http.send("GET", realm, params=params, auth=auth, token_service=True)
        if response.status_code in (401, 403):
            raise self.failed(scope)
        if response.status_code != 200:
            raise RegistryError(
                f"the token service of registry {self.host} ({url_host(realm)}) answered "
                f"{response.status_code} {registry_message(response)}".rstrip()
            )
        try:
            body = response.json()
            token = body.get("token") or body.get("access_token")
            lifetime = float(body.get("expires_in") or DEFAULT_TOKEN_LIFETIME)
        except (ValueError, AttributeError, TypeError):
            token, lifetime = None, 0.0
        if not token or not isinstance(token, str):
            raise RegistryError(
                f"the token service of registry {self.host} ({url_host(realm)}) "
                "answered without a token"
            )
        # Renew a little early, so a token never expires between the check and its use.
        return token, time.monotonic() + max(lifetime - 5, 1)

    def failed(self, scope: str) -> RegistryAuthError:
        """The error for a registry that still refuses after its challenge was answered."""
        what = f" for {scope}" if scope else ""
        if self.credentials is None:
            return RegistryAuthError(
                f"registry {self.host} needs credentials{what}: log in to it first",
                registry=self.host,
            )
        username = self.credentials.username
        return RegistryAuthError(
            f"registry {self.host} rejected the credentials for user {username!r}{what}: check "
            "the user name and password, then log in again",
            registry=self.host,
            username=username,
        )
