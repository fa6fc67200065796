"""The registry client without a network: pure helpers, and auth flows over a fake transport.

HTTP is faked at the requests transport: a ``FakeAdapter`` mounted on the ``Session`` the client
is given answers each ``PreparedRequest`` through a handler, so the client's real code runs.
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import ssl
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import urllib3
from conftest import DictKeyring
from requests.adapters import BaseAdapter

from lain_sdk.credentials import Credentials, CredentialStore
from lain_sdk.errors import RegistryAuthError, RegistryError
from lain_sdk.registry import (
    MANIFEST_ACCEPT,
    MAX_UNPACKED_LAYER,
    RegistryClient,
    registry_login,
    registry_logout,
    sort_meta_versions,
)
from lain_sdk.registry_auth import Challenge, parse_www_authenticate
from lain_sdk.registry_hosts import (
    insecure_flag,
    insecure_registries,
    is_loopback,
    registry_scheme,
    split_host_port,
)
from lain_sdk.registry_http import describe_connection_error, parse_link_next

HOST = "registry.example.com"
SECRET = 'pa55-w0rd,with:odd"chars'
CREDS = Credentials("alice", SECRET)
SHA1 = "1" * 40
SHA2 = "2" * 40
SHA3 = "3" * 40

Handler = Callable[[requests.PreparedRequest], "requests.Response"]


# -- fake transport ----------------------------------------------------------------------------


def response(
    status: int = 200,
    body: Any = None,
    headers: dict[str, str] | None = None,
    *,
    raw: bytes | None = None,
) -> requests.Response:
    r = requests.Response()
    r.status_code = status
    r.reason = {200: "OK", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found"}.get(status, "")
    r._content = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
    r.headers.update(headers or {})
    return r


class FakeAdapter(BaseAdapter):
    """A requests transport that answers with ``handler(request)`` and records every call."""

    def __init__(self, handler: Handler) -> None:
        super().__init__()
        self.handler = handler
        self.requests: list[requests.PreparedRequest] = []
        self.timeouts: list[Any] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.requests.append(request)
        self.timeouts.append(kwargs.get("timeout"))
        answer = self.handler(request)
        answer.request = request
        answer.url = request.url or ""
        return answer

    def close(self) -> None:
        pass


def fake_client(handler: Handler, **kwargs: Any) -> tuple[RegistryClient, FakeAdapter]:
    adapter = FakeAdapter(handler)
    session = requests.Session()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    kwargs.setdefault("credentials", CREDS)
    return RegistryClient(kwargs.pop("host", HOST), session=session, **kwargs), adapter


def basic(creds: Credentials) -> str:
    return "Basic " + base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()


def path_of(request: requests.PreparedRequest) -> str:
    return urlsplit(request.url).path


def query_of(request: requests.PreparedRequest) -> dict[str, list[str]]:
    return parse_qs(urlsplit(request.url).query)


def assert_no_secret(text: str) -> None:
    assert SECRET not in text
    assert "tok-" not in text


# -- scheme and hosts --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("registry.example.com", ("registry.example.com", None)),
        ("registry.example.com:5000", ("registry.example.com", 5000)),
        ("[::1]:5000", ("::1", 5000)),
        ("[::1]", ("::1", None)),
        ("::1", ("::1", None)),
    ],
)
def test_split_host_port(host: str, expected: tuple[str, int | None]) -> None:
    assert split_host_port(host) == expected


@pytest.mark.parametrize(
    "host", ["localhost", "localhost:5000", "127.0.0.1", "127.1.2.3:5000", "[::1]:5000", "::1"]
)
def test_loopback_registries_use_plain_http(host: str) -> None:
    assert is_loopback(host)
    assert registry_scheme(host) == "http"


@pytest.mark.parametrize(
    "host", ["registry.example.com", "10.0.0.5:5000", "128.0.0.1", "[::2]:5000"]
)
def test_other_registries_use_https(host: str) -> None:
    assert not is_loopback(host)
    assert registry_scheme(host) == "https"


def test_insecure_overrides_the_loopback_rule_both_ways() -> None:
    assert registry_scheme("registry.example.com", insecure=True) == "http"
    assert registry_scheme("127.0.0.1:5000", insecure=False) == "https"


def test_insecure_registries_come_from_a_comma_list() -> None:
    env = {"LAIN_INSECURE_REGISTRIES": " reg.lan:5000, HTTP://Other.lan/ ,,"}
    assert insecure_registries(env) == {"reg.lan:5000", "other.lan"}
    assert insecure_flag("reg.lan:5000", env) is True
    assert insecure_flag("reg.lan:5001", env) is None
    assert insecure_flag("reg.lan:5000", {}) is None


def test_client_url_follows_the_scheme_rule() -> None:
    assert RegistryClient("127.0.0.1:5000").url == "http://127.0.0.1:5000"
    assert RegistryClient("https://Reg.Example.com/v2/").url == "https://reg.example.com"
    assert RegistryClient("reg.lan", insecure=True).url == "http://reg.lan"


def test_client_repr_hides_the_password() -> None:
    text = repr(RegistryClient(HOST, credentials=CREDS))
    assert "alice" in text
    assert_no_secret(text)


# -- WWW-Authenticate --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('Basic realm="Registry Realm"', [Challenge("basic", {"realm": "Registry Realm"})]),
        (
            'Bearer realm="https://auth.example.com/token",service="registry.example.com",'
            'scope="repository:app:pull,push"',
            [
                Challenge(
                    "bearer",
                    {
                        "realm": "https://auth.example.com/token",
                        "service": "registry.example.com",
                        "scope": "repository:app:pull,push",
                    },
                )
            ],
        ),
        (
            'BEARER Realm = "https://a/t" , Service=reg , error="insufficient_scope"',
            [
                Challenge(
                    "bearer",
                    {"realm": "https://a/t", "service": "reg", "error": "insufficient_scope"},
                )
            ],
        ),
        (
            'Basic realm="a, \\"quoted\\" b", Bearer realm="https://a/t",scope="x:y:pull"',
            [
                Challenge("basic", {"realm": 'a, "quoted" b'}),
                Challenge("bearer", {"realm": "https://a/t", "scope": "x:y:pull"}),
            ],
        ),
        (
            "Negotiate abc+/=, Basic realm=x",
            [Challenge("negotiate", {"": "abc+/="}), Challenge("basic", {"realm": "x"})],
        ),
        ("Basic", [Challenge("basic", {})]),
        ("", []),
        ('"junk', []),
    ],
)
def test_parse_www_authenticate(header: str, expected: list[Challenge]) -> None:
    assert parse_www_authenticate(header) == expected


# -- Link --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('</v2/app/tags/list?last=b&n=2>; rel="next"', "/v2/app/tags/list?last=b&n=2"),
        (
            "<https://r.example/v2/a/tags/list?last=x>; rel=next",
            "https://r.example/v2/a/tags/list?last=x",
        ),
        ('</first>; rel="prev", </second>; type="a;b"; rel="last next"', "/second"),
        ('</first>; rel="prev"', None),
        ("", None),
        (None, None),
    ],
)
def test_parse_link_next(header: str | None, expected: str | None) -> None:
    assert parse_link_next(header) == expected


# -- version ordering --------------------------------------------------------------------------


def test_versions_newest_commit_first_keeping_same_second_commits() -> None:
    versions = [
        f"1500000000-{SHA3}",
        f"1600000000-{SHA2}",
        f"1600000000-{SHA1}",
        f"1600000000-{SHA1}-dirty-{'a' * 12}",
        f"1700000000-{SHA3}",
    ]
    assert sort_meta_versions(versions) == [
        f"1700000000-{SHA3}",
        f"1600000000-{SHA1}",  # same second: by sha, the clean build before its dirty builds
        f"1600000000-{SHA1}-dirty-{'a' * 12}",
        f"1600000000-{SHA2}",
        f"1500000000-{SHA3}",
    ]


def test_version_order_does_not_depend_on_input_order() -> None:
    versions = [f"1600000000-{sha}" for sha in (SHA3, SHA1, SHA2)]
    assert sort_meta_versions(versions) == sort_meta_versions(reversed(versions))
    assert len(sort_meta_versions(versions)) == 3


def test_sorting_drops_what_is_not_a_meta_version() -> None:
    assert sort_meta_versions(["latest", "1600000000", "x-y", f"1600000000-{SHA1}"]) == [
        f"1600000000-{SHA1}"
    ]


# -- Basic auth --------------------------------------------------------------------------------


def basic_registry(accept: Credentials) -> Handler:
    def handle(request: requests.PreparedRequest) -> requests.Response:
        if request.headers.get("Authorization") != basic(accept):
            return response(401, headers={"WWW-Authenticate": 'Basic realm="registry"'})
        if path_of(request) == "/v2/app/tags/list":
            return response(200, {"name": "app", "tags": ["a", "b"]})
        return response(200, {})

    return handle


def test_basic_challenge_is_answered_and_remembered() -> None:
    client, adapter = fake_client(basic_registry(CREDS))
    client.ping()
    assert client.tags("app") == ["a", "b"]
    # one challenge, then Basic is sent up front
    assert [r.headers.get("Authorization") is not None for r in adapter.requests] == [
        False,
        True,
        True,
    ]
    assert all(t == 10 for t in adapter.timeouts)


def test_basic_without_credentials_says_to_log_in() -> None:
    client, _ = fake_client(basic_registry(CREDS), credentials=None)
    with pytest.raises(RegistryAuthError) as e:
        client.ping()
    assert str(e.value) == f"registry {HOST} needs credentials: log in to it first"
    assert (e.value.registry, e.value.username) == (HOST, None)


def test_basic_with_wrong_credentials_names_the_user_not_the_password() -> None:
    client, adapter = fake_client(basic_registry(Credentials("alice", "other")))
    with pytest.raises(RegistryAuthError) as e:
        client.ping()
    message = str(e.value)
    assert message == (
        f"registry {HOST} rejected the credentials for user 'alice': check the user name and "
        "password, then log in again"
    )
    assert (e.value.registry, e.value.username) == (HOST, "alice")
    assert_no_secret(message)
    assert len(adapter.requests) == 2  # no retry loop


# -- Bearer tokens -----------------------------------------------------------------------------

REALM = "https://auth.example.com/token"


class TokenRegistry:
    """A registry that wants Bearer tokens from a token service at REALM."""

    def __init__(self, accept: Credentials | None = CREDS, token_key: str = "token") -> None:
        self.accept = accept
        self.token_key = token_key
        self.issued: list[str] = []
        self.valid: set[str] = set()
        self.token_queries: list[dict[str, list[str]]] = []

    def __call__(self, request: requests.PreparedRequest) -> requests.Response:
        if request.url.startswith(REALM):
            return self.token(request)
        scope = "repository:app:pull" if path_of(request).startswith("/v2/app/") else ""
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[len("Bearer ") :] not in self.valid:
            challenge = f'Bearer realm="{REALM}",service="registry.example.com"'
            if scope:
                challenge += f',scope="{scope}"'
            return response(
                401, {"errors": [{"code": "UNAUTHORIZED"}]}, {"WWW-Authenticate": challenge}
            )
        return response(200, {"name": "app", "tags": ["t1"]} if scope else {})

    def token(self, request: requests.PreparedRequest) -> requests.Response:
        self.token_queries.append(query_of(request))
        auth = request.headers.get("Authorization")
        if auth is not None and (self.accept is None or auth != basic(self.accept)):
            return response(401, {"details": "bad credentials"})
        token = f"tok-{len(self.issued) + 1}"
        self.issued.append(token)
        if auth is not None:  # anonymous tokens are issued but grant nothing
            self.valid.add(token)
        return response(200, {self.token_key: token, "expires_in": 300})


def test_bearer_token_is_fetched_with_service_scope_and_credentials() -> None:
    registry = TokenRegistry()
    client, adapter = fake_client(registry)
    assert client.tags("app") == ["t1"]
    assert registry.token_queries == [
        {
            "service": ["registry.example.com"],
            "scope": ["repository:app:pull"],
            "account": ["alice"],
        }
    ]
    token_request = adapter.requests[1]
    assert token_request.headers["Authorization"] == basic(CREDS)
    assert adapter.requests[2].headers["Authorization"] == "Bearer tok-1"


def test_bearer_token_is_cached_per_scope() -> None:
    registry = TokenRegistry()
    client, adapter = fake_client(registry)
    client.tags("app")
    client.tags("app")
    client.ping()  # another scope (none): a token of its own
    client.ping()
    assert registry.issued == ["tok-1", "tok-2"]
    assert [path_of(r) for r in adapter.requests].count("/token") == 2


def test_access_token_key_is_accepted() -> None:
    client, _ = fake_client(TokenRegistry(token_key="access_token"))
    client.ping()


def test_an_expired_token_is_renewed_once() -> None:
    registry = TokenRegistry()
    client, _ = fake_client(registry)
    client.tags("app")
    registry.valid.clear()  # the registry no longer takes tok-1
    assert client.tags("app") == ["t1"]
    assert registry.issued == ["tok-1", "tok-2"]


def test_token_service_rejecting_the_credentials() -> None:
    client, _ = fake_client(TokenRegistry(accept=Credentials("alice", "other")))
    with pytest.raises(RegistryAuthError) as e:
        client.tags("app")
    assert "rejected the credentials for user 'alice'" in str(e.value)
    assert_no_secret(str(e.value))


class RejectingRegistry(TokenRegistry):
    """Its token service issues tokens, but the registry takes none of them."""

    def token(self, request: requests.PreparedRequest) -> requests.Response:
        self.issued.append("tok-x")
        return response(200, {"token": "tok-x"})


def test_a_token_the_registry_rejects() -> None:
    client, adapter = fake_client(RejectingRegistry())
    with pytest.raises(RegistryAuthError) as e:
        client.tags("app")
    assert "rejected the credentials for user 'alice' for repository:app:pull" in str(e.value)
    assert_no_secret(str(e.value))
    assert len(adapter.requests) == 3  # request, token, retry with it, and no loop


def test_anonymous_token_without_access_says_to_log_in() -> None:
    client, _ = fake_client(TokenRegistry(), credentials=None)
    with pytest.raises(RegistryAuthError) as e:
        client.tags("app")
    assert str(e.value) == (
        f"registry {HOST} needs credentials for repository:app:pull: log in to it first"
    )
    assert e.value.registry == HOST


def test_bearer_without_realm_is_reported() -> None:
    client, _ = fake_client(
        lambda r: response(401, headers={"WWW-Authenticate": "Bearer service=x"})
    )
    with pytest.raises(RegistryAuthError, match="names no realm"):
        client.ping()


def test_unsupported_challenge_is_named() -> None:
    client, _ = fake_client(lambda r: response(401, headers={"WWW-Authenticate": "Negotiate"}))
    with pytest.raises(RegistryAuthError, match="asks for negotiate authentication"):
        client.ping()


# -- tags, manifests, versions -----------------------------------------------------------------


def test_tags_follow_link_pagination() -> None:
    pages = {
        None: (["a", "b"], '</v2/app/tags/list?last=b&n=2>; rel="next"'),
        "b": (["c", "d"], f'<https://{HOST}/v2/app/tags/list?last=d&n=2>; rel="next"'),
        "d": (["e"], None),
    }

    def handle(request: requests.PreparedRequest) -> requests.Response:
        last = query_of(request).get("last", [None])[0]
        tags, link = pages[last]
        assert query_of(request)["n"] == ["2"]
        return response(200, {"name": "app", "tags": tags}, {"Link": link} if link else {})

    client, adapter = fake_client(handle)
    assert client.tags("app", page_size=2) == ["a", "b", "c", "d", "e"]
    assert len(adapter.requests) == 3


def test_tags_of_an_unknown_repository_are_empty() -> None:
    body = {
        "errors": [{"code": "NAME_UNKNOWN", "message": "repository name not known to registry"}]
    }
    client, _ = fake_client(lambda r: response(404, body))
    assert client.tags("nothing") == []


def test_tags_null_after_every_tag_was_deleted() -> None:
    client, _ = fake_client(lambda r: response(200, {"name": "app", "tags": None}))
    assert client.tags("app") == []


def test_manifest_digest_asks_for_every_manifest_type() -> None:
    digest = "sha256:" + "d" * 64
    client, adapter = fake_client(
        lambda r: response(200, headers={"Docker-Content-Digest": digest})
    )
    assert client.manifest_digest("app", "release-x") == digest
    request = adapter.requests[0]
    assert request.method == "HEAD"
    assert path_of(request) == "/v2/app/manifests/release-x"
    for media_type in (
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    ):
        assert media_type in request.headers["Accept"]
    assert request.headers["Accept"] == MANIFEST_ACCEPT


def test_manifest_digest_computed_when_the_header_is_missing() -> None:
    body = b'{"schemaVersion": 2}'

    def handle(request: requests.PreparedRequest) -> requests.Response:
        return response(200, raw=b"" if request.method == "HEAD" else body)

    client, _ = fake_client(handle)
    assert client.manifest_digest("app", "t") == "sha256:" + hashlib.sha256(body).hexdigest()


def test_absent_manifest() -> None:
    client, _ = fake_client(lambda r: response(404))
    assert client.manifest_digest("app", "nope") is None
    assert not client.has_tag("app", "nope")


def test_app_versions_pair_meta_and_release() -> None:
    tags = [
        f"meta-1600000000-{SHA1}",
        f"release-1600000000-{SHA1}",
        f"meta-1600000000-{SHA2}",
        f"release-1600000000-{SHA2}",
        f"meta-1700000000-{SHA3}",  # no release: not a version
        f"release-1500000000-{SHA3}",  # no meta: not a version
        "latest",
        "meta-latest",
        "release-latest",
    ]
    client, _ = fake_client(lambda r: response(200, {"name": "app", "tags": tags}))
    assert client.app_versions("app") == [f"1600000000-{SHA1}", f"1600000000-{SHA2}"]


def test_version_exists_needs_both_images() -> None:
    present = {f"/v2/app/manifests/release-1-{SHA1}", f"/v2/app/manifests/meta-1-{SHA1}"}
    present.add(f"/v2/app/manifests/release-2-{SHA2}")

    def handle(request: requests.PreparedRequest) -> requests.Response:
        if path_of(request) in present:
            return response(200, headers={"Docker-Content-Digest": "sha256:" + "e" * 64})
        return response(404)

    client, _ = fake_client(handle)
    assert client.version_exists("app", f"1-{SHA1}")
    assert not client.version_exists("app", f"2-{SHA2}")
    assert not client.version_exists("app", f"3-{SHA3}")


# -- errors ------------------------------------------------------------------------------------


def test_server_errors_carry_the_registry_message() -> None:
    body = {"errors": [{"code": "UNKNOWN", "message": "storage is full"}]}
    client, _ = fake_client(lambda r: response(500, body))
    with pytest.raises(RegistryError) as e:
        client.tags("app")
    assert (
        str(e.value) == f"registry {HOST} answered 500 to GET tags of app: UNKNOWN: storage is full"
    )


def test_forbidden_is_an_auth_error() -> None:
    body = {"errors": [{"code": "DENIED", "message": "requested access to the resource is denied"}]}
    client, _ = fake_client(lambda r: response(403, body))
    with pytest.raises(RegistryAuthError, match="denied GET tags of app for user 'alice'"):
        client.tags("app")


def raising(error: Exception) -> Handler:
    def handle(request: requests.PreparedRequest) -> requests.Response:
        raise error

    return handle


def urllib3_error(reason: Exception) -> requests.ConnectionError:
    return requests.ConnectionError(urllib3.exceptions.MaxRetryError(None, "/v2/", reason=reason))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            urllib3_error(
                urllib3.exceptions.NameResolutionError(
                    HOST, None, socket.gaierror(-2, "Name or service not known")
                )  # type: ignore[arg-type]
            ),
            "cannot resolve the host name",
        ),
        (requests.exceptions.ConnectTimeout("connect timeout"), "connection timed out after 10s"),
        (requests.exceptions.ReadTimeout("read timeout"), "no answer within 10s"),
        (urllib3_error(ConnectionResetError(104, "reset")), "connection reset by the server"),
    ],
)
def test_unreachable_registry_says_why_in_one_line(error: Exception, expected: str) -> None:
    client, _ = fake_client(raising(error))
    with pytest.raises(RegistryError) as e:
        client.ping()
    message = str(e.value)
    assert message == (
        f"registry {HOST} is unreachable at https://{HOST}/v2/: {expected}; "
        "check the address and that the registry is running"
    )
    assert isinstance(e.value.__cause__, requests.RequestException)


def test_tls_failure_suggests_the_insecure_setting() -> None:
    tls = ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1000)")
    tls.reason = "WRONG_VERSION_NUMBER"
    client, _ = fake_client(
        raising(
            requests.exceptions.SSLError(urllib3.exceptions.MaxRetryError(None, "/v2/", reason=tls))
        )
    )  # type: ignore[arg-type]
    with pytest.raises(RegistryError) as e:
        client.ping()
    assert "TLS handshake failed (WRONG_VERSION_NUMBER)" in str(e.value)
    assert "LAIN_INSECURE_REGISTRIES" in str(e.value)
    assert "\n" not in str(e.value)


def test_unreachable_token_service_is_named() -> None:
    def handle(request: requests.PreparedRequest) -> requests.Response:
        if request.url.startswith(REALM):
            raise urllib3_error(ConnectionRefusedError(111, "refused"))
        return response(401, headers={"WWW-Authenticate": f'Bearer realm="{REALM}"'})

    client, _ = fake_client(handle)
    with pytest.raises(RegistryError) as e:
        client.ping()
    assert str(e.value).startswith(
        f"the token service of registry {HOST} is unreachable at {REALM}: connection refused"
    )
    assert "alice" not in str(e.value)  # the account in the query string is left out


def test_connection_refused_on_a_real_closed_port() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with (
        RegistryClient(f"127.0.0.1:{port}", timeout=2) as client,
        pytest.raises(RegistryError) as e,
    ):
        client.ping()
    assert str(e.value).startswith(f"registry 127.0.0.1:{port} is unreachable at")
    assert "connection refused" in str(e.value)


def test_describe_falls_back_to_the_innermost_error() -> None:
    error = urllib3_error(OSError("something odd\nsecond line"))
    assert describe_connection_error(error, 1) == "something odd"


# -- files of small images ---------------------------------------------------------------------


def layer(files: dict[str, bytes], *, gzip: bool = True) -> bytes:
    """A layer blob: a tar (gzipped by default) of ``files``."""
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz" if gzip else "w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def digest_of(blob: bytes) -> str:
    return "sha256:" + hashlib.sha256(blob).hexdigest()


def image_registry(layers: list[bytes], *, index: bool = False, corrupt: bool = False) -> Handler:
    """A registry holding ``hello:meta-1`` made of ``layers`` (bottom first)."""
    blobs = {digest_of(b): b for b in layers}
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "layers": [{"digest": digest_of(b), "size": len(b)} for b in layers],
    }
    manifest_digest = digest_of(json.dumps(manifest).encode())

    def handle(request: requests.PreparedRequest) -> requests.Response:
        path = path_of(request)
        if "/manifests/" in path:
            assert request.headers["Accept"] == MANIFEST_ACCEPT
        if path == "/v2/hello/manifests/meta-1":
            if index:
                return response(
                    200,
                    {
                        "manifests": [
                            {"digest": "sha256:" + "0" * 64, "platform": {"os": "unknown"}},
                            {"digest": manifest_digest, "platform": {"os": "linux"}},
                        ]
                    },
                )
            return response(200, manifest)
        if path == f"/v2/hello/manifests/{manifest_digest}":
            return response(200, manifest)
        if path.startswith("/v2/hello/blobs/"):
            blob = blobs[path.rsplit("/", 1)[1]]
            return response(200, raw=blob + (b"x" if corrupt else b""))
        return response(404, {"errors": [{"code": "MANIFEST_UNKNOWN"}]})

    return handle


def test_a_file_is_read_from_the_top_layer_that_has_it() -> None:
    lower = layer({"lain.yaml": b"appname: old\n", "other": b"o"})
    upper = layer({"./lain.yaml": b"appname: hello\n"}, gzip=False)
    registry, adapter = fake_client(image_registry([lower, upper]))
    assert registry.read_image_file("hello", "meta-1", "/lain.yaml") == b"appname: hello\n"
    # Found in the top layer: the lower one is never downloaded.
    assert [path_of(r).split("/")[3] for r in adapter.requests] == ["manifests", "blobs"]
    assert registry.read_image_file("hello", "meta-1", "other") == b"o"
    assert registry.read_image_file("hello", "meta-1", "missing") is None


def test_a_whiteout_above_hides_the_file_below() -> None:
    lower = layer({"lain.yaml": b"appname: old\n"})
    upper = layer({".wh.lain.yaml": b""})
    registry, _ = fake_client(image_registry([lower, upper]))
    assert registry.read_image_file("hello", "meta-1", "lain.yaml") is None


def test_an_index_leads_to_its_first_image_not_an_attestation() -> None:
    registry, _ = fake_client(image_registry([layer({"lain.yaml": b"a"})], index=True))
    assert registry.read_image_file("hello", "meta-1", "lain.yaml") == b"a"


def test_a_blob_that_does_not_match_its_digest_is_refused() -> None:
    registry, _ = fake_client(image_registry([layer({"lain.yaml": b"a"})], corrupt=True))
    with pytest.raises(RegistryError, match="other content than its digest says"):
        registry.read_image_file("hello", "meta-1", "lain.yaml")


def test_large_layers_and_missing_images_are_refused_clearly() -> None:
    from lain_sdk.errors import NotFound

    big = layer({"lain.yaml": b"a" * 4096})
    registry, _ = fake_client(image_registry([big]))
    with pytest.raises(RegistryError, match="lain reads files only from small images"):
        registry.read_image_file("hello", "meta-1", "lain.yaml", max_layer_bytes=100)
    with pytest.raises(NotFound, match=f"hello:meta-2 is not in registry {HOST}"):
        registry.read_image_file("hello", "meta-2", "lain.yaml")


def test_a_layer_that_unpacks_to_more_than_the_bound_is_refused_without_unpacking_it() -> None:
    import gzip
    import tracemalloc

    # 64 MiB of zeros in a tar, gzipped: about 64 KiB on the wire, well under max_layer_bytes.
    bomb = gzip.compress(layer({"lain.yaml": bytes(64 << 20)}, gzip=False), compresslevel=9)
    assert len(bomb) < 100_000
    registry, _ = fake_client(image_registry([bomb]))
    tracemalloc.start()
    try:
        with pytest.raises(RegistryError) as refused:
            registry.read_image_file("hello", "meta-1", "lain.yaml")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert f"unpacks to more than {MAX_UNPACKED_LAYER} bytes" in str(refused.value)
    assert "lain reads files only from small images" in str(refused.value)
    assert peak < 3 * MAX_UNPACKED_LAYER  # never more than the bound (and its copies)


@pytest.mark.parametrize("compress", ["gzip", "bz2", "lzma"])
def test_layers_compressed_every_way_are_read(compress: str) -> None:
    import importlib

    tar = layer({"lain.yaml": b"appname: hello\n"}, gzip=False)
    blob = importlib.import_module(compress).compress(tar)
    registry, _ = fake_client(image_registry([blob]))
    assert registry.read_image_file("hello", "meta-1", "lain.yaml") == b"appname: hello\n"
    with pytest.raises(RegistryError, match="unpacks to more than 100 bytes"):
        registry.read_image_file("hello", "meta-1", "lain.yaml", max_unpacked_bytes=100)


def test_a_truncated_compressed_layer_is_a_registry_error() -> None:
    whole = layer({"lain.yaml": b"appname: hello\n" * 1000})
    registry, _ = fake_client(image_registry([whole[: len(whole) // 2]]))
    with pytest.raises(RegistryError, match="is not a compressed archive lain can read"):
        registry.read_image_file("hello", "meta-1", "lain.yaml")


# -- logging in and out ----------------------------------------------------------------------

LOGIN_HOST = "registry.example.com:5000"
LOGIN_CREDS = Credentials("alice", "s3cret-Pa55")


class CheckingClient:
    """A client factory whose clients accept only ``accept``."""

    def __init__(self, accept: Credentials) -> None:
        self.accept = accept
        self.calls: list[dict[str, Any]] = []
        self.closed = 0

    def __call__(self, host: str, **kwargs: Any) -> CheckingClient:
        self.calls.append({"host": host, **kwargs})
        return self

    def ping(self) -> None:
        if self.calls[-1]["credentials"] != self.accept:
            raise RegistryAuthError(
                f"registry {LOGIN_HOST} rejected the credentials for user 'alice'"
            )

    def close(self) -> None:
        self.closed += 1


def test_login_checks_before_storing(env: dict[str, str], fake_keyring: DictKeyring) -> None:
    factory = CheckingClient(LOGIN_CREDS)
    store = CredentialStore(environ=env)
    stored = registry_login(f"https://{LOGIN_HOST}", LOGIN_CREDS, store, factory, environ=env)
    assert stored == "keyring"
    assert factory.calls == [{"host": LOGIN_HOST, "credentials": LOGIN_CREDS, "insecure": None}]
    assert factory.closed == 1
    assert store.get(LOGIN_HOST) == LOGIN_CREDS


def test_login_with_rejected_credentials_stores_nothing(env: dict[str, str]) -> None:
    store = CredentialStore(environ=env)
    with pytest.raises(RegistryAuthError):
        registry_login(
            LOGIN_HOST,
            Credentials("alice", "wrong"),
            store,
            CheckingClient(LOGIN_CREDS),
            environ=env,
        )
    assert store.get(LOGIN_HOST) is None
    assert not store.path.exists()


def test_login_honours_insecure_registries(env: dict[str, str]) -> None:
    factory = CheckingClient(LOGIN_CREDS)
    env = {**env, "LAIN_INSECURE_REGISTRIES": LOGIN_HOST}
    registry_login(LOGIN_HOST, LOGIN_CREDS, CredentialStore(environ=env), factory, environ=env)
    assert factory.calls[0]["insecure"] is True


def test_registry_logout(env: dict[str, str], fake_keyring: DictKeyring) -> None:
    store = CredentialStore(environ=env)
    store.set(LOGIN_HOST, LOGIN_CREDS)
    assert registry_logout(LOGIN_HOST, store) is True
    assert registry_logout(LOGIN_HOST, store) is False
