"""A client for the Docker registry HTTP API v2: tags, manifests, app versions, image files.

Authentication follows the registry's challenge (:mod:`lain_sdk.registry_auth`); requests go
through :mod:`lain_sdk.registry_http`, which turns connection failures into
:class:`~lain_sdk.errors.RegistryError` naming the registry; whether plain HTTP is used is
decided in :mod:`lain_sdk.registry_hosts`.  Passwords and tokens never appear in messages.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol
from urllib.parse import urljoin

import lain_sdk.arguments as arguments
from lain_sdk.credentials import Credentials, CredentialStore, normalize_registry
from lain_sdk.errors import LainError, NotFound, RegistryAuthError, RegistryError
from lain_sdk.git import parse_meta_version
from lain_sdk.protocols import HttpResponse, HttpSession
from lain_sdk.registry_auth import RegistryAuth
from lain_sdk.registry_hosts import insecure_flag, registry_scheme
from lain_sdk.registry_http import (
    DEFAULT_TIMEOUT,
    RegistryHttp,
    parse_link_next,
    registry_message,
)

# Everything a tag can point at: docker schema 2 image and list, OCI manifest and index.
MANIFEST_ACCEPT = ", ".join(
    (
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    )
)
MAX_PAGES = 10_000
# The largest layer read_image_file downloads: a meta image's layer is a few kilobytes.
MAX_FILE_LAYER = 16 * 1024 * 1024
# The most a layer read_image_file opens may unpack to.  A compressed layer says nothing true
# about its unpacked size (a few kilobytes of gzip can unpack to gigabytes), so it is
# decompressed in steps and given up past this bound.  A meta layer is a tar of one lain.yaml:
# a few kilobytes unpacked.
MAX_UNPACKED_LAYER = 4 * 1024 * 1024

CredentialsSource = Credentials | Callable[[], Credentials | None] | None


def sort_meta_versions(versions: Iterable[str]) -> list[str]:
    """Order meta versions newest first; anything that is not a meta version is dropped.

    The key is the commit time, newest first.  Commits made in the same second are all kept
    (lain v2 keyed a dict by the timestamp and lost all but one); since their order cannot be
    known from the tag, they are ordered by sha so the result is the same on every machine.
    Within one commit, the clean version comes before its ``-dirty-`` builds (a dirty build
    never outranks the commit it was made from), and those are ordered by their digest.
    """
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


class RegistryClient:
    """Talks to one registry through its v2 HTTP API.

    Args:
        host: ``host[:port]`` of the registry (a scheme or path is ignored).
        credentials: user name and password, used only when the registry asks for them; or a
            function returning them, called only then.
        insecure: True for plain HTTP, False to insist on HTTPS, None to decide by the host
            (plain HTTP for loopback only); see
            :func:`~lain_sdk.registry_hosts.insecure_flag` for the user's setting.
        session: an HTTP session to send requests through, such as a ``requests.Session``
            (tests mount a fake transport on one); a new one by default, closed by
            :meth:`close`.
        timeout: seconds to wait for a connection or an answer, per request.

    Raises:
        InvalidArgument: an argument of the wrong kind.
        RegistryError: ``host`` is not a registry address.

    Example::

        with RegistryClient.from_env("registry.example.com") as registry:
            print(registry.app_versions("hello"))
    """

    def __init__(
        self,
        host: str,
        *,
        credentials: CredentialsSource = None,
        insecure: bool | None = None,
        session: HttpSession | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.host = normalize_registry(arguments.text(host, "host"))
        credentials = arguments.instance_or_lookup(credentials, Credentials, "credentials")
        insecure = arguments.optional_flag(insecure, "insecure")
        session = arguments.optional_session(session)
        self.timeout = arguments.seconds(timeout)
        self.url = f"{registry_scheme(self.host, insecure)}://{self.host}"
        self._http = RegistryHttp(self.host, session, self.timeout)
        self._auth = RegistryAuth(self._http, credentials)

    @classmethod
    def from_env(
        cls,
        host: str,
        *,
        environ: Mapping[str, str] | None = None,
        store: CredentialStore | None = None,
        credentials: CredentialsSource = None,
        insecure: bool | None = None,
        session: HttpSession | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> RegistryClient:
        """A client set up from the user's environment.

        Credentials (unless given) come from ``store`` (default: a :class:`CredentialStore`
        over ``environ``), looked up when the registry first asks for them.  Unless
        ``insecure`` is given, the registry is insecure when listed in
        ``LAIN_INSECURE_REGISTRIES``.  The other arguments are the constructor's.

        Raises:
            InvalidArgument: an argument of the wrong kind.
        """
        host = arguments.text(host, "host")
        environ = arguments.environ(environ)
        store = arguments.optional_instance(store, CredentialStore, "store")
        found = store if store is not None else CredentialStore(environ=environ)
        return cls(
            host,
            credentials=credentials if credentials is not None else (lambda: found.get(host)),
            insecure=insecure if insecure is not None else insecure_flag(host, environ),
            session=session,
            timeout=timeout,
        )

    @property
    def credentials(self) -> Credentials | None:
        """The credentials to answer a challenge with (looked up on first use)."""
        return self._auth.credentials

    @property
    def auth_required(self) -> bool:
        """Whether the registry has asked for credentials."""
        return self._auth.required

    def __repr__(self) -> str:
        return f"RegistryClient({self.url!r}, username={self._auth.known_username!r})"

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP session when this client made it."""
        self._http.close()

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

        Raises:
            RegistryError: the registry refused or did not answer.
            InvalidArgument: an argument of the wrong kind.
        """
        repo = arguments.text(repo, "repo")
        if page_size is not None:
            page_size = arguments.whole(page_size, "page_size", minimum=1)
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

        Raises:
            RegistryError: the registry refused or did not answer.
            InvalidArgument: an argument of the wrong kind.
        """
        repo = arguments.text(repo, "repo")
        reference = arguments.text(reference, "reference")
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
        tags = set(self.tags(arguments.text(app, "app")))
        meta = {t[len("meta-") :] for t in tags if t.startswith("meta-")}
        release = {t[len("release-") :] for t in tags if t.startswith("release-")}
        return sort_meta_versions(meta & release)

    def version_exists(self, app: str, meta_version: str) -> bool:
        """True when both ``release-<meta_version>`` and ``meta-<meta_version>`` exist."""
        meta_version = arguments.text(meta_version, "meta_version")
        return self.has_tag(app, f"release-{meta_version}") and self.has_tag(
            app, f"meta-{meta_version}"
        )

    def read_image_file(
        self,
        repo: str,
        reference: str,
        path: str,
        *,
        max_layer_bytes: int = MAX_FILE_LAYER,
        max_unpacked_bytes: int = MAX_UNPACKED_LAYER,
    ) -> bytes | None:
        """The content of file ``path`` in image ``repo:reference``, read from its layers.

        Fetches the manifest (the first one of a list or index) and then, from the top layer
        down, each layer blob until one holds ``path`` (a whiteout in a higher layer means the
        file was removed).  Each blob is checked against its digest.  Meant for small images
        such as an app's meta image: a layer larger than ``max_layer_bytes``, or one that
        unpacks to more than ``max_unpacked_bytes``, is refused.

        Returns:
            The file's bytes, or None when the image does not have it.

        Raises:
            NotFound: no such image.
            RegistryError: the manifest or a layer could not be read, or a layer is too large.
            InvalidArgument: an argument of the wrong kind.
        """
        import io
        import tarfile

        repo = arguments.text(repo, "repo")
        reference = arguments.text(reference, "reference")
        path = arguments.text(path, "path")
        max_layer_bytes = arguments.whole(max_layer_bytes, "max_layer_bytes", minimum=1)
        max_unpacked_bytes = arguments.whole(max_unpacked_bytes, "max_unpacked_bytes", minimum=1)
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
                unpacked = unpack_layer(blob, max_unpacked_bytes)
            except LayerTooLarge:
                raise RegistryError(
                    f"layer {digest} of {repo}:{reference} unpacks to more than "
                    f"{max_unpacked_bytes} bytes; lain reads files only from small images "
                    "(such as an app's meta image, which holds one lain.yaml)"
                ) from None
            except CorruptLayer as e:
                raise RegistryError(
                    f"layer {digest} of {repo}:{reference} is not a compressed archive lain can "
                    f"read ({e})"
                ) from e
            try:
                # Uncompressed ("r:"): unpack_layer did the decompression, within its bound.
                with tarfile.open(fileobj=io.BytesIO(unpacked), mode="r:") as tar:
                    for member in tar:
                        member_name = member.name.removeprefix("./").lstrip("/")
                        if member_name == whiteout:
                            return None
                        if member_name == wanted and member.isfile():
                            extracted = tar.extractfile(member)
                            return extracted.read() if extracted is not None else None
            except tarfile.TarError as e:
                raise RegistryError(
                    f"layer {digest} of {repo}:{reference} is not a tar archive lain can read ({e})"
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
    ) -> HttpResponse:
        """Send a request, answering the registry's auth challenge once if it makes one."""
        url = urljoin(self.url + "/", path)
        for attempt in (1, 2):
            auth = self._auth.headers(scope)
            response = self._http.send(
                method, url, headers={**(headers or {}), **auth}, params=params
            )
            if response.status_code != 401:
                return response
            header = response.headers.get("WWW-Authenticate", "")
            response.close()
            if attempt == 2 or not self._auth.answer(header, scope, bool(auth)):
                break
        raise self._auth.failed(scope)

    def _check(self, response: HttpResponse, what: str) -> None:
        if 200 <= response.status_code < 300:
            return
        detail = registry_message(response)
        if response.status_code == 403:
            username = self.credentials.username if self.credentials else None
            user = f" for user {username!r}" if username else ""
            raise RegistryAuthError(
                f"registry {self.host} denied {what}{user}: {detail or 'forbidden'}",
                registry=self.host,
                username=username,
            )
        raise RegistryError(
            f"registry {self.host} answered {response.status_code} to {what}"
            + (f": {detail}" if detail else "")
        )


def _pull_scope(repo: str) -> str:
    return f"repository:{repo}:pull"


class LayerTooLarge(Exception):
    """A layer unpacks to more than it may (see :func:`unpack_layer`)."""


class CorruptLayer(Exception):
    """A layer's compressed data cannot be decompressed (see :func:`unpack_layer`)."""


def unpack_layer(blob: bytes, limit: int) -> bytes:
    """A layer's tar: ``blob`` decompressed (gzip, bzip2 or xz, told by their magic bytes) or
    as it is, never more than ``limit`` bytes of it.

    Decompression goes in steps of at most ``limit + 1`` bytes of output, so a layer that is
    small but unpacks to gigabytes costs no more memory than ``limit``.

    Raises:
        LayerTooLarge: the layer unpacks to more than ``limit`` bytes.
        CorruptLayer: the compressed data is corrupt or ends early.
    """
    if blob[:2] == b"\x1f\x8b":
        import zlib

        # 16 + MAX_WBITS: a gzip header and trailer around the deflate stream.
        return _unpack(blob, limit, lambda: zlib.decompressobj(16 + zlib.MAX_WBITS), zlib.error)
    if blob[:3] == b"BZh":
        import bz2

        return _unpack(blob, limit, bz2.BZ2Decompressor, OSError)
    if blob[:6] == b"\xfd7zXZ\x00":
        import lzma

        return _unpack(blob, limit, lzma.LZMADecompressor, lzma.LZMAError)
    if len(blob) > limit:
        raise LayerTooLarge
    return blob


def _unpack(
    blob: bytes, limit: int, decompressor: Callable[[], Any], error: type[Exception]
) -> bytes:
    """``blob`` decompressed stream after stream (gzip and bzip2 allow several in one file),
    at most ``limit`` bytes in all."""
    out = bytearray()
    data = blob
    try:
        while data:
            step = decompressor()
            pending = data
            while not step.eof:
                chunk = step.decompress(pending, limit + 1 - len(out))
                out += chunk
                if len(out) > limit:
                    raise LayerTooLarge
                # zlib hands back the input it did not read yet (bz2 and lzma keep it, and go
                # on from b""); no output and no input read means the data ended early.
                before, pending = pending, getattr(step, "unconsumed_tail", b"")
                if not chunk and len(pending) >= len(before):
                    raise CorruptLayer("the compressed data ends early")
            data = step.unused_data.lstrip(b"\0")  # padding after the last stream is allowed
    except (error, EOFError) as e:
        raise CorruptLayer(str(e)) from e
    return bytes(out)


# -- logging in -------------------------------------------------------------------------------


class LoginCheck(Protocol):
    """What :func:`registry_login` uses of the client it checks credentials with."""

    def ping(self) -> None: ...

    def close(self) -> None: ...


def registry_login(
    registry: str,
    credentials: Credentials,
    store: CredentialStore | None = None,
    client_factory: Callable[..., LoginCheck] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> str:
    """Check ``credentials`` against ``registry`` and, only when it accepts them, store them.

    Args:
        registry: ``HOST[:PORT]`` of the registry.
        credentials: the user name and password to check and keep.
        store: where to keep them (default: a :class:`CredentialStore` over ``environ``).
        client_factory: makes the client used for the check; called as
            ``client_factory(host, credentials=..., insecure=...)`` (default
            :class:`RegistryClient`).
        environ: the environment (default ``os.environ``), read for
            ``LAIN_INSECURE_REGISTRIES``.

    Returns:
        Where they were stored: ``"keyring"`` or the fallback file's path.

    Raises:
        RegistryAuthError: the registry rejected the credentials; nothing was stored.
        RegistryError: the registry could not be reached; nothing was stored.
        InvalidArgument: an argument of the wrong kind.
    """
    host = normalize_registry(arguments.text(registry, "registry"))
    credentials = arguments.instance(credentials, Credentials, "credentials")
    store = arguments.optional_instance(store, CredentialStore, "store")
    factory = arguments.optional_function(client_factory, "client_factory") or RegistryClient
    environ = arguments.environ(environ)
    store = store if store is not None else CredentialStore(environ=environ)
    client = factory(host, credentials=credentials, insecure=insecure_flag(host, environ))
    try:
        client.ping()
    finally:
        client.close()
    return store.set(host, credentials)


def registry_logout(registry: str, store: CredentialStore | None = None) -> bool:
    """Remove lain's stored credentials for ``registry``.

    Returns:
        True when something was removed, False when nothing was stored.

    Raises:
        InvalidArgument: an argument of the wrong kind.
    """
    registry = arguments.text(registry, "registry")
    store = arguments.optional_instance(store, CredentialStore, "store")
    store = store if store is not None else CredentialStore()
    return store.delete(registry)
