"""A client for the Docker registry HTTP API v2: tags, manifests, app versions, auth challenges.

Authentication follows the registry's challenge, as the docker CLI does: a request goes out
without credentials (or with what worked before); on ``401`` the ``WWW-Authenticate`` header says
``Basic`` (send the user name and password) or ``Bearer realm=...,service=...,scope=...`` (fetch
a token from the realm, with the user name and password when there are some, then send it).
Tokens are cached per scope until they expire.

Plain HTTP is used only for loopback registries (as Docker itself does) or when the caller says
the registry is insecure (``LAIN_INSECURE_REGISTRIES``, see :func:`insecure_flag`).

``requests`` is imported inside functions so that ``import lain_sdk`` stays cheap.  Every
``requests`` exception is turned into a :class:`~lain_sdk.errors.RegistryError` naming the
registry; passwords and tokens never appear in messages.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
import socket
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping
from urllib.parse import urljoin

from lain_sdk._version import __version__
from lain_sdk.credentials import Credentials, CredentialStore, normalize_registry
from lain_sdk.errors import LainError, NotFound, RegistryAuthError, RegistryError

if TYPE_CHECKING:
    import requests

ENV_INSECURE = "LAIN_INSECURE_REGISTRIES"
DEFAULT_TIMEOUT = 10.0
# Everything a tag can point at: docker schema 2 image and list, OCI manifest and index.
MANIFEST_ACCEPT = ", ".join(
    (
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    )
)
# Token lifetime when the token service does not say (the token spec's default).
DEFAULT_TOKEN_LIFETIME = 60
MAX_PAGES = 10_000
# The largest layer read_image_file downloads: a meta image's layer is a few kilobytes.
MAX_FILE_LAYER = 16 * 1024 * 1024


# -- pure helpers ------------------------------------------------------------------------------


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
    """The ``insecure`` argument for :class:`RegistryClient`: True when the user listed ``host``
    in ``LAIN_INSECURE_REGISTRIES``, else None (the loopback rule decides)."""
    return True if normalize_registry(host) in insecure_registries(environ) else None


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


def sort_meta_versions(versions: Iterable[str]) -> list[str]:
    """Order meta versions newest first; anything that is not a meta version is dropped.

    The key is the commit time, newest first.  Commits made in the same second are all kept
    (lain v2 keyed a dict by the timestamp and lost all but one); since their order cannot be
    known from the tag, they are ordered by sha so the result is the same on every machine.
    Within one commit, the clean version comes before its ``-dirty-`` builds (a dirty build
    never outranks the commit it was made from), and those are ordered by their digest.
    """
    from lain_sdk.git import parse_meta_version

    keyed = []
    for mv in set(versions):
        try:
            parsed = parse_meta_version(mv)
        except (ValueError, TypeError, LainError):
            parsed = None
        if parsed is None:
            continue
        commit_time, sha, dirty = parsed
        keyed.append(((-int(commit_time), sha, dirty is not None, dirty or ""), mv))
    return [mv for _, mv in sorted(keyed)]


# -- errors ------------------------------------------------------------------------------------


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


def _optional(module: Any, name: str) -> tuple[type[BaseException], ...]:
    found = getattr(module, name, None)
    return (found,) if isinstance(found, type) else ()


def _registry_message(response: requests.Response) -> str:
    """The first error message of a registry error body (``{"errors": [{"code", "message"}]}``)."""
    try:
        errors = response.json().get("errors") or []
        first = errors[0]
        return f"{first.get('code', '')}: {first.get('message', '')}".strip(": ")
    except (ValueError, AttributeError, IndexError, TypeError):
        return (response.reason or "").strip()


# -- the client --------------------------------------------------------------------------------


class RegistryClient:
    """Talks to one registry through its v2 HTTP API.

    Args:
        host: ``host[:port]`` of the registry (a scheme or path is ignored).
        credentials: user name and password, used only when the registry asks for them.
        insecure: True for plain HTTP, False to insist on HTTPS, None to decide by the host
            (plain HTTP for loopback only); see :func:`insecure_flag` for the user's setting.
        session: a ``requests.Session`` to send requests through (tests mount a fake transport
            on it); a new one by default, closed by :meth:`close`.
        timeout: seconds to wait for a connection or an answer, per request.

    Example::

        with RegistryClient.from_env("registry.example.com") as registry:
            print(registry.app_versions("hello"))
    """

    def __init__(
        self,
        host: str,
        *,
        credentials: Credentials | Callable[[], Credentials | None] | None = None,
        insecure: bool | None = None,
        session: requests.Session | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.host = normalize_registry(host)
        # A callable is asked only when the registry first challenges: most registries a
        # developer uses (loopback, or pull-open) never do, and keyring lookups are slow.
        self._credentials = credentials
        self.auth_required = False  # the registry has asked for credentials
        self.timeout = timeout
        self.url = f"{registry_scheme(self.host, insecure)}://{self.host}"
        self._own_session = session is None
        self._session = session
        self._basic = False  # the registry asked for Basic: send it up front from now on
        self._tokens: dict[str, tuple[str, float]] = {}  # scope -> (token, expiry)

    @classmethod
    def from_env(
        cls,
        host: str,
        *,
        environ: Mapping[str, str] | None = None,
        store: CredentialStore | None = None,
        **kwargs: Any,
    ) -> RegistryClient:
        """A client set up from the user's environment.

        Credentials come from ``store`` (default: a :class:`CredentialStore` over
        ``environ``), and the registry is insecure when listed in ``LAIN_INSECURE_REGISTRIES``.
        Other keyword arguments go to the constructor.
        """
        store = store if store is not None else CredentialStore(environ=environ)
        kwargs.setdefault("credentials", lambda: store.get(host))
        kwargs.setdefault("insecure", insecure_flag(host, environ))
        return cls(host, **kwargs)

    @property
    def credentials(self) -> Credentials | None:
        """The credentials to answer a challenge with (looked up on first use)."""
        if callable(self._credentials):
            self._credentials = self._credentials()
        return self._credentials

    def __repr__(self) -> str:
        creds = self._credentials if isinstance(self._credentials, Credentials) else None
        return f"RegistryClient({self.url!r}, username={creds.username if creds else None!r})"

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP session when this client made it."""
        if self._own_session and self._session is not None:
            self._session.close()
            self._session = None

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            import requests

            self._session = requests.Session()
            self._session.headers["User-Agent"] = f"lain/{__version__}"
        return self._session

    # -- API -----------------------------------------------------------------------------------

    def ping(self) -> None:
        """Check that the registry answers the v2 API and accepts our credentials (if it asks).

        Raises:
            RegistryAuthError: credentials are needed but missing, or were rejected.
            RegistryError: the registry is unreachable or answered something unexpected.
        """
        response = self._request("GET", "/v2/")
        self._check(response, "GET /v2/")

    def tags(self, repo: str, *, page_size: int | None = None) -> list[str]:
        """Return every tag of ``repo``, following pagination; ``[]`` when the repo is unknown.

        Args:
            repo: repository name, e.g. the app name.
            page_size: ask for pages of this many tags (the registry's default otherwise);
                pages are followed through the ``Link`` header either way.
        """
        params = {"n": str(page_size)} if page_size else None
        url: str | None = f"/v2/{repo}/tags/list"
        tags: list[str] = []
        seen: set[str] = set()
        while url is not None and url not in seen and len(seen) < MAX_PAGES:
            seen.add(url)
            response = self._request("GET", url, scope=_pull_scope(repo), params=params)
            if response.status_code == 404:  # NAME_UNKNOWN: nothing pushed yet
                return []
            self._check(response, f"GET tags of {repo}")
            try:
                tags.extend(response.json().get("tags") or [])  # null once every tag is deleted
            except (ValueError, AttributeError) as e:
                raise RegistryError(
                    f"registry {self.host} sent an unreadable tag list for {repo}"
                ) from e
            url = parse_link_next(response.headers.get("Link"))
            params = None  # the next link carries its own query
        return tags

    def manifest_digest(self, repo: str, reference: str) -> str | None:
        """Return the digest (``sha256:...``) of ``repo:reference``, or None when it is absent.

        Asks with HEAD, accepting docker schema 2 manifests and lists and OCI manifests and
        indexes, and reads ``Docker-Content-Digest``; a registry that omits that header is
        asked with GET and the digest computed from the manifest's bytes.
        """
        path = f"/v2/{repo}/manifests/{reference}"
        headers = {"Accept": MANIFEST_ACCEPT}
        scope = _pull_scope(repo)
        response = self._request("HEAD", path, scope=scope, headers=headers)
        if response.status_code == 404:
            return None
        self._check(response, f"HEAD {repo}:{reference}")
        digest = response.headers.get("Docker-Content-Digest")
        if digest:
            return digest
        response = self._request("GET", path, scope=scope, headers=headers)
        if response.status_code == 404:
            return None
        self._check(response, f"GET {repo}:{reference}")
        return "sha256:" + hashlib.sha256(response.content).hexdigest()

    def has_tag(self, repo: str, tag: str) -> bool:
        """True when ``repo:tag`` exists in the registry."""
        return self.manifest_digest(repo, tag) is not None

    def app_versions(self, app: str) -> list[str]:
        """Return the meta versions of ``app`` that have both a ``meta-`` and a ``release-`` tag.

        Newest commit first; same-second commits are all kept, in the order documented in
        :func:`sort_meta_versions`.  Tags that are not meta versions are ignored.
        """
        tags = set(self.tags(app))
        meta = {t[len("meta-") :] for t in tags if t.startswith("meta-")}
        release = {t[len("release-") :] for t in tags if t.startswith("release-")}
        return sort_meta_versions(meta & release)

    def version_exists(self, app: str, meta_version: str) -> bool:
        """True when both ``release-<meta_version>`` and ``meta-<meta_version>`` exist."""
        return self.has_tag(app, f"release-{meta_version}") and self.has_tag(
            app, f"meta-{meta_version}"
        )

    def read_image_file(
        self, repo: str, reference: str, path: str, *, max_layer_bytes: int = MAX_FILE_LAYER
    ) -> bytes | None:
        """The content of file ``path`` in image ``repo:reference``, read from its layers.

        Fetches the manifest (the first one of a list or index) and then, from the top layer
        down, each layer blob until one holds ``path`` (a whiteout in a higher layer means the
        file was removed).  Each blob is checked against its digest.  Meant for small images
        such as an app's meta image: a layer larger than ``max_layer_bytes`` is refused.

        Returns:
            The file's bytes, or None when the image does not have it.

        Raises:
            NotFound: no such image.
            RegistryError: the manifest or a layer could not be read, or a layer is too large.
        """
        import io
        import tarfile

        manifest = self._manifest(repo, reference)
        wanted = path.strip("/")
        folder, _, name = wanted.rpartition("/")
        whiteout = f"{folder}/.wh.{name}".lstrip("/")
        for layer in reversed(manifest.get("layers") or []):
            digest, size = str(layer.get("digest", "")), int(layer.get("size") or 0)
            if size > max_layer_bytes:
                raise RegistryError(
                    f"{repo}:{reference} has a layer of {size} bytes above {wanted}; lain reads "
                    f"files only from small images (layers up to {max_layer_bytes} bytes)"
                )
            blob = self._blob(repo, digest)
            try:
                with tarfile.open(fileobj=io.BytesIO(blob), mode="r:*") as tar:
                    for member in tar:
                        member_name = member.name.removeprefix("./").lstrip("/")
                        if member_name == whiteout:
                            return None
                        if member_name == wanted and member.isfile():
                            extracted = tar.extractfile(member)
                            return extracted.read() if extracted is not None else None
            except tarfile.TarError as e:
                raise RegistryError(
                    f"layer {digest} of {repo}:{reference} is not a tar archive lain can read "
                    f"({e})"
                ) from e
        return None

    def _manifest(self, repo: str, reference: str) -> dict[str, Any]:
        """The image manifest of ``repo:reference``; of a list or index, its first image's
        (attestations, whose platform is ``unknown``, are not images)."""
        for _ in range(2):  # an index, then the manifest it points at
            response = self._request(
                "GET",
                f"/v2/{repo}/manifests/{reference}",
                scope=_pull_scope(repo),
                headers={"Accept": MANIFEST_ACCEPT},
            )
            if response.status_code == 404:
                raise NotFound(f"{repo}:{reference} is not in registry {self.host}")
            self._check(response, f"GET manifest {repo}:{reference}")
            try:
                manifest = response.json()
            except ValueError as e:
                raise RegistryError(
                    f"registry {self.host} sent a manifest of {repo}:{reference} that is not JSON"
                ) from e
            entries = [
                m
                for m in manifest.get("manifests") or []
                if (m.get("platform") or {}).get("os") != "unknown"
            ]
            if "manifests" not in manifest:
                return dict(manifest)
            if not entries:
                raise NotFound(f"{repo}:{reference} lists no image")
            reference = str(entries[0].get("digest", ""))
        raise RegistryError(f"{repo}:{reference}: an index of indexes is not supported")

    def _blob(self, repo: str, digest: str) -> bytes:
        response = self._request("GET", f"/v2/{repo}/blobs/{digest}", scope=_pull_scope(repo))
        self._check(response, f"GET blob {digest} of {repo}")
        content = response.content
        algorithm, _, expected = digest.partition(":")
        if algorithm != "sha256" or hashlib.sha256(content).hexdigest() != expected:
            raise RegistryError(
                f"registry {self.host} sent blob {digest} of {repo} with other content than its "
                "digest says; try again, or check the registry's storage"
            )
        return content

    # -- HTTP and auth ------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        scope: str = "",
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> requests.Response:
        """Send a request, answering the registry's auth challenge once if it makes one."""
        url = urljoin(self.url + "/", path)
        for attempt in (1, 2):
            auth = self._authorization(scope)
            response = self._send(method, url, headers={**(headers or {}), **auth}, params=params)
            if response.status_code != 401:
                return response
            header = response.headers.get("WWW-Authenticate", "")
            response.close()
            if attempt == 2 or not self._answer(parse_www_authenticate(header), scope, bool(auth)):
                break
        raise self._auth_failed(scope)

    def _authorization(self, scope: str) -> dict[str, str]:
        token = self._tokens.get(scope)
        if token is not None and token[1] > time.monotonic():
            return {"Authorization": f"Bearer {token[0]}"}
        if self._basic and self.credentials is not None:
            import base64

            pair = f"{self.credentials.username}:{self.credentials.password}".encode()
            return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
        return {}

    def _answer(self, challenges: list[Challenge], scope: str, sent_auth: bool) -> bool:
        """Prepare credentials for a challenge; False when a retry cannot help."""
        self.auth_required = True
        by_scheme = {c.scheme: c for c in challenges}
        if "bearer" in by_scheme:
            if not by_scheme["bearer"].params.get("realm"):
                raise RegistryAuthError(
                    f"registry {self.host} asks for a Bearer token but names no realm to get "
                    "it from; the registry's auth configuration is broken"
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
                "support (only Basic and Bearer tokens)"
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
        response = self._send("GET", realm, params=params, auth=auth, what="token service")
        if response.status_code in (401, 403):
            raise self._auth_failed(scope)
        if response.status_code != 200:
            raise RegistryError(
                f"the token service of registry {self.host} ({_url_host(realm)}) answered "
                f"{response.status_code} {_registry_message(response)}".rstrip()
            )
        try:
            body = response.json()
            token = body.get("token") or body.get("access_token")
            lifetime = float(body.get("expires_in") or DEFAULT_TOKEN_LIFETIME)
        except (ValueError, AttributeError, TypeError):
            token, lifetime = None, 0.0
        if not token or not isinstance(token, str):
            raise RegistryError(
                f"the token service of registry {self.host} ({_url_host(realm)}) "
                "answered without a token"
            )
        # Renew a little early, so a token never expires between the check and its use.
        return token, time.monotonic() + max(lifetime - 5, 1)

    def _auth_failed(self, scope: str) -> RegistryAuthError:
        what = f" for {scope}" if scope else ""
        if self.credentials is None:
            return RegistryAuthError(
                f"registry {self.host} needs credentials{what}: run `lain login {self.host}`"
            )
        return RegistryAuthError(
            f"registry {self.host} rejected the credentials for user "
            f"{self.credentials.username!r}{what}: check the user name and password and run "
            f"`lain login {self.host}` again"
        )

    def _send(
        self,
        method: str,
        url: str,
        *,
        what: str = "",
        **kwargs: Any,
    ) -> requests.Response:
        import requests

        try:
            return self.session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.RequestException as e:
            where = (
                f"the token service of registry {self.host}" if what else f"registry {self.host}"
            )
            hint = "check the address and that the registry is running"
            reason = describe_connection_error(e, self.timeout)
            if reason.startswith("TLS"):
                hint = (
                    f"if it serves plain HTTP, add it to {ENV_INSECURE}; if it uses a private "
                    "CA, set REQUESTS_CA_BUNDLE"
                )
            raise RegistryError(
                f"{where} is unreachable at {_strip_query(url)}: {reason}; {hint}"
            ) from e

    def _check(self, response: requests.Response, what: str) -> None:
        if 200 <= response.status_code < 300:
            return
        detail = _registry_message(response)
        if response.status_code == 403:
            user = f" for user {self.credentials.username!r}" if self.credentials else ""
            raise RegistryAuthError(
                f"registry {self.host} denied {what}{user}: {detail or 'forbidden'}"
            )
        raise RegistryError(
            f"registry {self.host} answered {response.status_code} to {what}"
            + (f": {detail}" if detail else "")
        )


def _pull_scope(repo: str) -> str:
    return f"repository:{repo}:pull"


def _url_host(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).netloc or url


def _strip_query(url: str) -> str:
    # Token requests carry the account name in the query; the message needs only the place.
    return url.split("?", 1)[0]
