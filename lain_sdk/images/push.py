"""Pushing an app's images to a registry through the engine, with per-layer progress."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import lain_sdk.arguments as arguments
from lain_sdk.appconfig.appname import read_appname
from lain_sdk.credentials import Credentials, CredentialStore, normalize_registry
from lain_sdk.engine import EngineClient, connected
from lain_sdk.errors import (
    EngineError,
    LainTimeout,
    RegistryAuthError,
    RegistryError,
    VersionNotBuilt,
)
from lain_sdk.events import Event, LayerProgress, PhaseFinished, PhaseLog, PhaseStarted
from lain_sdk.git import GitInfo
from lain_sdk.images.naming import image_tag
from lain_sdk.images.streams import transport_errors

PUSH_TIMEOUT = 3600.0
# Layer states that mean "nothing uploaded": the registry had the blob already.
SKIPPED_STATES = ("Layer already exists", "Mounted from")
# Words in an engine push error that mean the registry wants other credentials.
_AUTH_WORDS = (
    "unauthorized",
    "authentication required",
    "no basic auth credentials",
    "denied",
    "forbidden",
)


@dataclass(frozen=True)
class PushedImage:
    """One image pushed: its phase, registry reference and manifest digest."""

    phase: str
    reference: str
    digest: str | None
    skipped_layers: int = 0
    uploaded_layers: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "reference": self.reference,
            "digest": self.digest,
            "skipped_layers": self.skipped_layers,
            "uploaded_layers": self.uploaded_layers,
        }


@dataclass(frozen=True)
class PushResult:
    """What a push did.

    Attributes:
        registry: ``host[:port]`` pushed to.
        app: the app name.
        meta_version: the version pushed.
        images: the images pushed, release first.
    """

    registry: str
    app: str
    meta_version: str
    images: tuple[PushedImage, ...]

    @property
    def references(self) -> list[str]:
        return [image.reference for image in self.images]

    def to_dict(self) -> dict[str, Any]:
        return {
            "registry": self.registry,
            "app": self.app,
            "meta_version": self.meta_version,
            "pushed": [image.to_dict() for image in self.images],
        }


def registry_host(reference: str) -> str | None:
    """The registry part of an image reference, or None for Docker Hub names.

    Docker's rule: the first path component is a registry when it has a "." or a ":" or is
    ``localhost``.
    """
    first, sep, _ = reference.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first
    return None


def credentials_for(
    registry: str | None, environ: Mapping[str, str] | None = None
) -> Credentials | None:
    """Stored credentials for ``registry`` (``host[:port]``); None when there are none."""
    if not registry:
        return None
    return CredentialStore(environ=environ).get(registry)


def push_error(registry: str, reference: str, message: str) -> RegistryError:
    """The error for a push the engine reported as failed."""
    if any(word in message.lower() for word in _AUTH_WORDS):
        return RegistryAuthError(
            f"registry {registry} refused {reference}: {message}; log in to it first",
            registry=registry,
        )
    return RegistryError(f"pushing {reference} to registry {registry} failed: {message}")


def push_images(
    client: EngineClient,
    items: Sequence[tuple[str, str, str]],
    *,
    registry: str,
    credentials: Credentials | Callable[[], Credentials | None] | None = None,
    timeout: float = PUSH_TIMEOUT,
) -> Generator[Event, None, tuple[PushedImage, ...]]:
    """Tag and push images, yielding a :class:`LayerProgress` per layer update.

    Args:
        client: the engine holding the images.
        items: ``(phase, local image id or reference, registry reference)`` triples.
        registry: ``host[:port]``, for error messages.
        credentials: sent to the engine for the push; None lets the engine use Docker's own.
            A function returning them is called only when the registry refuses a push made
            without them (then that push is made again with them): most registries a developer
            pushes to never ask, and looking credentials up (a keyring) is slow.
        timeout: seconds the whole push may take.

    Raises:
        RegistryAuthError: the registry wants other credentials.
        RegistryError: the push failed (the message is the registry's, naming it).
    """
    lookup = credentials if callable(credentials) else None
    auth = _auth_config(None if callable(credentials) else credentials)
    deadline = time.monotonic() + timeout
    pushed: list[PushedImage] = []
    for phase, local, remote in items:
        started = time.monotonic()
        event_phase = f"push {phase}"
        yield PhaseStarted(event_phase, remote)
        while True:
            try:
                layers, digest = yield from _push_one(
                    client,
                    local,
                    remote,
                    auth,
                    event_phase=event_phase,
                    registry=registry,
                    deadline=deadline,
                    timeout=timeout,
                )
                break
            except RegistryAuthError:
                # Credentials are looked up once, when the registry first refuses.
                found, lookup = (lookup() if lookup is not None else None), None
                if found is None:
                    raise
                yield PhaseLog(event_phase, f"{registry} asks for credentials: pushing with them")
                auth = _auth_config(found)
        skipped = sum(1 for s in layers.values() if s.startswith(SKIPPED_STATES))
        uploaded = sum(1 for s in layers.values() if s == "Pushed")
        pushed.append(PushedImage(phase, remote, digest, skipped, uploaded))
        yield PhaseFinished(
            event_phase,
            remote,
            digest or "",
            bool(layers) and uploaded == 0,
            round(time.monotonic() - started, 3),
        )
    return tuple(pushed)


def _auth_config(credentials: Credentials | None) -> dict[str, str] | None:
    if credentials is None:
        return None
    return {"username": credentials.username, "password": credentials.password}


def _push_one(
    client: EngineClient,
    local: str,
    remote: str,
    auth: dict[str, str] | None,
    *,
    event_phase: str,
    registry: str,
    deadline: float,
    timeout: float,
) -> Generator[Event, None, tuple[dict[str, str], str | None]]:
    """Tag ``local`` as ``remote`` and push it; returns (layer id -> last status, digest)."""
    from docker.errors import APIError
    from docker.utils import parse_repository_tag

    repository, tag = parse_repository_tag(remote)
    layers: dict[str, str] = {}
    digest: str | None = None
    try:
        client.api.tag(local, repository, tag, force=True)
        stream = client.api.push(repository, tag=tag, stream=True, decode=True, auth_config=auth)
        for chunk in stream:
            if time.monotonic() > deadline:
                raise LainTimeout(f"pushing to {registry} took longer than {timeout:.0f}s; stopped")
            if "error" in chunk:
                detail = (chunk.get("errorDetail") or {}).get("message") or chunk["error"]
                raise push_error(registry, remote, str(detail))
            aux = chunk.get("aux")
            if isinstance(aux, dict) and aux.get("Digest"):
                digest = str(aux["Digest"])
                continue
            status, layer = chunk.get("status"), chunk.get("id")
            if status and layer:
                layers[layer] = status
                progress = chunk.get("progressDetail") or {}
                yield LayerProgress(
                    remote,
                    layer,
                    status,
                    int(progress.get("current") or 0),
                    int(progress.get("total") or 0),
                )
            elif status:
                yield PhaseLog(event_phase, status)
    except APIError as e:
        raise push_error(registry, remote, str(e.explanation or e)) from e
    except transport_errors() as e:
        raise EngineError(f"lost the engine while pushing {remote}: {e}") from e
    return layers, digest


def push_app(
    app_dir: str | os.PathLike[str] = ".",
    meta_version: str | None = None,
    *,
    registry: str,
    app: str | None = None,
    engine: EngineClient | None = None,
    credentials: Credentials | None = None,
    environ: Mapping[str, str] | None = None,
    timeout: float = PUSH_TIMEOUT,
) -> Generator[Event, None, PushResult]:
    """Push the release and meta images of one version of an app, built before by ``build_app``.

    Returns a generator: it yields progress events and returns a :class:`PushResult`.

    Args:
        app_dir: the directory holding lain.yaml (for the app name and, when ``meta_version``
            is not given, the version of the checkout).
        meta_version: the version to push (default: the checkout's, ``-dirty-`` included).
        registry: ``HOST[:PORT]`` of the registry.
        app: the app name, when lain.yaml should not be read.
        engine: the Docker engine holding the images, a ``docker.DockerClient`` (default: the
            local one, see :func:`lain_sdk.engine.connect`).
        credentials: for the registry (default: looked up in the credential store, and only
            when the registry refuses the push without them).
        environ: the environment credentials are looked up in (default ``os.environ``).
        timeout: seconds the whole push may take.

    Raises:
        InvalidArgument: an argument of the wrong kind (raised by the call itself).
        VersionNotBuilt: the images of that version are not on the engine (build them first).
        RegistryAuthError, RegistryError: the registry refused the push or did not answer.
    """
    app_dir = arguments.path(app_dir, "app_dir")
    meta_version = arguments.optional_text(meta_version, "meta_version")
    registry = arguments.text(registry, "registry")
    app = None if app is None else arguments.app_name(app)
    engine = arguments.engine_client(engine)
    credentials = arguments.optional_instance(credentials, Credentials, "credentials")
    environ = arguments.environ(environ)
    timeout = arguments.seconds(timeout)
    return _push(app_dir, meta_version, registry, app, engine, credentials, environ, timeout)


def _push(
    app_dir: str | os.PathLike[str],
    meta_version: str | None,
    registry: str,
    app: str | None,
    engine: EngineClient | None,
    credentials: Credentials | None,
    environ: Mapping[str, str] | None,
    timeout: float,
) -> Generator[Event, None, PushResult]:
    registry = normalize_registry(registry)
    # The images were built from a validated lain.yaml: the name is all that is needed.
    app = app if app is not None else read_appname(app_dir)
    if meta_version is None:
        meta_version = str(GitInfo.from_path(app_dir).meta_version)
    engine = connected(engine)
    items = []
    for phase in ("release", "meta"):
        image_id = _local_image_id(engine, app, phase, meta_version)
        items.append((phase, image_id, image_tag(app, phase, meta_version, registry)))
    pushed = yield from push_images(
        engine,
        items,
        registry=registry,
        credentials=credentials
        if credentials is not None
        else (lambda: credentials_for(registry, environ)),
        timeout=timeout,
    )
    return PushResult(registry, app, meta_version, pushed)


def _local_image_id(engine: EngineClient, app: str, phase: str, meta_version: str) -> str:
    """The id of the local image of ``phase`` of the version.

    Raises:
        VersionNotBuilt: there is no such image.
    """
    from docker.errors import ImageNotFound

    local = image_tag(app, phase, meta_version)
    try:
        return str(engine.api.inspect_image(local)["Id"])
    except ImageNotFound:
        raise VersionNotBuilt(app, meta_version, local) from None
