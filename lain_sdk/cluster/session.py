"""A session with one cluster: the one way lain_sdk reaches a cluster's engine and registry.

A :class:`Cluster` is built from the cluster's settings (like docker-py's ``from_env``) and owns
what every operation needs: the engine client of a swarm manager (connected on first use, its
API version remembered), the registry client, the engine's registry login (done once), and how
long to sleep between two looks at a rollout; the app locks are taken through it
(:func:`lain_sdk.cluster.lock.app_lock`).  Operations take it::

    cluster = lain_sdk.Cluster.from_settings("prod")     # or the selected cluster: no name
    lain_sdk.drain(lain_sdk.deploy_app("hello", cluster=cluster))
    print(lain_sdk.app_status("hello", cluster=cluster).healthy)

They also take a cluster's name or its :class:`~lain_sdk.settings.ClusterSettings`, and make a
session of their own from it.  Tests build a session around a fake engine (``engine=``).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TypeAlias
from urllib.parse import urlsplit, urlunsplit

from lain_sdk.cluster.engine_calls import engine_errors, engine_time
from lain_sdk.credentials import CredentialStore
from lain_sdk.engine import EngineClient, connect
from lain_sdk.errors import InvalidArgument, LainError
from lain_sdk.protocols import EngineAPI, Registry
from lain_sdk.settings import ClusterSettings, Settings

POLL_INTERVAL = 0.5
NODE_CONNECT_TIMEOUT = 15


def node_engine_url(docker_host: str | None, node_address: str) -> str | None:
    """The engine of another node, reached the way the cluster's manager is: the same ssh user
    and port, or the same TCP port (and TLS certificates); None for a local socket.

    Example:
        >>> node_engine_url("ssh://deploy@manager1", "10.0.0.7")
        'ssh://deploy@10.0.0.7'
    """
    if not docker_host or not node_address:
        return None
    parts = urlsplit(docker_host)
    if parts.scheme not in ("ssh", "tcp"):
        return None
    user = f"{parts.username}@" if parts.username else ""
    port = f":{parts.port}" if parts.port else ""
    host = f"[{node_address}]" if ":" in node_address else node_address
    return urlunsplit((parts.scheme, f"{user}{host}{port}", parts.path, "", ""))


class Cluster:
    """A session with one cluster.

    Args:
        settings: the cluster's settings.
        engine: a docker-py client of a swarm manager of the cluster (default: connect to the
            settings' engine on first use).
        registry: a client of the cluster's registry (default: one from the settings, with the
            user's credentials).
        credentials: where registry credentials are looked up (default: the user's store).
        poll_interval: seconds between two looks at a rollout or a lock.
    """

    def __init__(
        self,
        settings: ClusterSettings,
        *,
        engine: EngineClient | None = None,
        registry: Registry | None = None,
        credentials: CredentialStore | None = None,
        poll_interval: float = POLL_INTERVAL,
    ) -> None:
        if not isinstance(settings, ClusterSettings):
            raise InvalidArgument(
                f"a Cluster is made from ClusterSettings, not {type(settings).__name__}"
            )
        self.settings = settings
        self.poll_interval = poll_interval
        self._engine = engine
        self._owns_engine = engine is None
        self._registry = registry
        self._credentials = credentials
        self._logged_in: bool | None = None

    @classmethod
    def from_settings(cls, name: str | None = None, *, settings: Settings | None = None) -> Cluster:
        """A session with the cluster called ``name`` (default: the selected one: LAIN_CLUSTER,
        else the one in use, else the local default).

        Raises:
            NotFound: no cluster of that name is configured.
            SettingsError: the settings file is invalid.
        """
        return cls((settings or Settings.load()).cluster(name))

    @classmethod
    def of(cls, value: ClusterLike) -> Cluster:
        """``value`` itself when it is a session, else a new session with the cluster it names
        (a name, or a cluster's settings).

        Raises:
            InvalidArgument: ``value`` is none of those.
            NotFound: no cluster of that name is configured.
        """
        if isinstance(value, Cluster):
            return value
        if isinstance(value, ClusterSettings):
            return cls(value)
        if isinstance(value, str) and value:
            return cls.from_settings(value)
        raise InvalidArgument(
            f"cluster must be a Cluster, a ClusterSettings or the name of a cluster, not {value!r}"
        )

    def __repr__(self) -> str:
        return f"Cluster({self.name!r}, engine={self.settings.engine!r})"

    @property
    def name(self) -> str:
        return self.settings.name

    # -- clients ---------------------------------------------------------------------------------

    @property
    def engine(self) -> EngineClient:
        """The engine client (connected on first use).

        Raises:
            EngineError: the engine did not answer.
        """
        if self._engine is None:
            self._engine = self.connect_engine()
        return self._engine

    @property
    def api(self) -> EngineAPI:
        """The engine's low-level client (what lain sends Engine API documents through)."""
        return self.engine.api

    def connect_engine(self, url: str | None = None, timeout: float = 60) -> EngineClient:
        """A new client of the engine at ``url`` (default: the cluster's manager), reached the
        way the manager is: a ``tcp://`` engine with the cluster's TLS certificates.  The
        caller closes it.

        Raises:
            EngineError: the engine did not answer.
        """
        url = url or self.settings.docker_host
        cert_path = self.settings.tls_cert_path
        if cert_path and url and url.startswith("tcp://"):
            # The docker SDK reads TLS settings from DOCKER_* variables; hand it ours only.
            environ = {"DOCKER_HOST": url, "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": cert_path}
            client: EngineClient = connect(None, timeout=timeout, environ=environ)
        else:
            client = connect(url, timeout=timeout)
        return client

    def node_engine(self, address: str) -> EngineClient | None:
        """The engine of the node at ``address``, reached the way the manager's is (same ssh
        user, or same TCP port and certificates); None when the cluster's engine is a local
        socket, so other nodes' engines are out of reach.

        Raises:
            EngineError: that engine did not answer.
        """
        url = node_engine_url(self.settings.docker_host, address)
        if url is None:
            return None
        return self.connect_engine(url, timeout=NODE_CONNECT_TIMEOUT)

    @property
    def credentials(self) -> CredentialStore:
        """Where registry credentials are looked up (default: the user's store)."""
        if self._credentials is None:
            self._credentials = CredentialStore()
        return self._credentials

    @property
    def registry(self) -> Registry:
        """The client of the cluster's registry."""
        if self._registry is None:
            # Imported on first use, not with this module: the registry client and its auth
            # and HTTP parts cost about 10 ms to import, which commands that never reach the
            # registry (ps, logs, exec, undeploy) are spared.
            from lain_sdk.registry import RegistryClient

            client = RegistryClient.from_env(
                self.settings.registry,
                store=self.credentials,
                insecure=True if self.settings.insecure_registry else None,
            )
            self._registry = client
            return client
        return self._registry

    def login_engine(self) -> bool:
        """Give the engine the registry credentials lain has, once per session, so that the
        nodes can pull the cluster's images (the engine sends them along with service creates
        and updates).

        Credentials are looked up only when the registry asks for them (one ``/v2/`` request
        tells), which spares the slow keyring lookup for open registries.

        Returns:
            True when the engine was given credentials; False when there were none to give.
        """
        if self._logged_in is not None:
            return self._logged_in
        try:
            self.registry.ping()
            asks = self.registry.auth_required
        except LainError:
            asks = True  # unreachable now: give the nodes what there is, in case it comes back
        creds = None
        if asks:
            try:
                creds = self.registry.credentials or self.credentials.get(self.settings.registry)
            except LainError:
                creds = None
        if creds is not None:
            with self.errors(f"log in to registry {self.settings.registry}"):
                self.api.login(
                    username=creds.username,
                    password=creds.password,
                    registry=self.settings.registry,
                )
        self._logged_in = creds is not None
        return self._logged_in

    # -- helpers for operations ------------------------------------------------------------------

    def errors(self, doing: str, hint: str = "") -> AbstractContextManager[None]:
        """A block whose engine errors become lain errors saying what was being ``doing``."""
        return engine_errors(self.api, doing, hint)

    def clock(self) -> float:
        """The engine's clock now (Unix seconds)."""
        return engine_time(self.api)

    def close(self) -> None:
        """Close the clients this session made (not the ones it was given)."""
        if self._owns_engine and self._engine is not None:
            self._engine.close()
            self._engine = None

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# What an operation takes as its cluster: a session, a cluster's settings, or its name.
ClusterLike: TypeAlias = Cluster | ClusterSettings | str
