"""The shapes of the third-party clients lain's public functions take, as Protocols.

A caller passes the real thing (a ``docker.DockerClient``, a ``requests.Session``) or a fake of
the same shape; lain's signatures name these Protocols, never the third-party classes, so their
annotations resolve without importing docker or requests.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, TypeAlias, runtime_checkable

# docker-py's low-level client (``docker.APIClient``), which lain sends Engine API documents
# through.  docker-py ships no type information, so to a type checker it is Any anyway; naming
# it here keeps docker out of the imports of every module that passes one around.
EngineAPI: TypeAlias = Any


@runtime_checkable
class EngineClient(Protocol):
    """What lain uses of a docker-py ``DockerClient``: its low-level ``api`` and ``close``.

    ``docker.DockerClient`` is one; tests pass a fake engine of the same shape.  An
    ``isinstance`` check tells whether a value has both (see :mod:`lain_sdk.arguments`).
    """

    @property
    def api(self) -> EngineAPI: ...

    def close(self) -> None: ...


class HttpResponse(Protocol):
    """What lain reads of an HTTP answer (a ``requests.Response``)."""

    status_code: int
    reason: str

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def content(self) -> bytes: ...

    def json(self) -> Any: ...

    def close(self) -> None: ...


@runtime_checkable
class HttpSession(Protocol):
    """What lain uses of a ``requests.Session``: sending a request, and closing."""

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = ...,
        headers: Mapping[str, str] | None = ...,
        auth: tuple[str, str] | None = ...,
        timeout: float | None = ...,
    ) -> HttpResponse: ...

    def close(self) -> None: ...


class LoginCredentials(Protocol):
    """A user name and password (:class:`lain_sdk.credentials.Credentials` is one)."""

    @property
    def username(self) -> str: ...

    @property
    def password(self) -> str: ...


class Registry(Protocol):
    """What the cluster package asks of a registry (:class:`lain_sdk.registry.RegistryClient`
    is one): its versions, the digest of an image, a file of the meta image, and whether it
    wants credentials."""

    host: str

    @property
    def auth_required(self) -> bool: ...

    @property
    def credentials(self) -> LoginCredentials | None: ...

    def ping(self) -> None: ...

    def app_versions(self, app: str) -> list[str]: ...

    def version_exists(self, app: str, meta_version: str) -> bool: ...

    def manifest_digest(self, repo: str, reference: str) -> str | None: ...

    def read_image_file(self, repo: str, reference: str, path: str) -> bytes | None: ...
