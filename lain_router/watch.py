"""The router's loop: read the swarm, render, check, swap in, reload; say how it went.

Every ``poll`` seconds the watcher reads the routed services and their tasks from the engine
(two requests), connects its own container to the networks of the procs it serves, renders the
configuration and, when the text changed, checks it with ``nginx -t``, swaps it in and reloads
nginx gracefully.  Bursts of changes (a scale to ten instances) are folded: reloads are at
least ``settle`` seconds apart.  A configuration that fails its test is never swapped in; the
apps whose change broke it are left out (the others are served) and named in the status.

The status is a JSON file next to the configuration, read by ``lain router status``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from lain_router.engine import SOCKET, Engine, EngineError
from lain_router.labels import LABEL_MOUNTPOINTS, LABEL_NETWORK, LABEL_STREAMS
from lain_router.model import RouterModel, apps_of, build_model, parse_mountpoint, without_apps
from lain_router.nginx import Nginx
from lain_router.render import DEFAULT_LISTEN, Certificate, Listen, render

STATUS_FILE = "status.json"
# The networks the router joins are named so; it leaves one when nothing on it is served.
NETWORK_PREFIX = "lain-router_"
CERT_SUFFIX, KEY_SUFFIX = ".crt", ".key"
EMPTY = RouterModel((), {}, (), (), frozenset())


class Options(NamedTuple):
    poll: float = 0.5
    settle: float = 0.3
    listen: Listen = DEFAULT_LISTEN
    certs_dir: str = "/run/secrets"
    container: str = ""
    node: str = ""
    serves: str = "all"  # http, stream or all: what this router's service serves
    engine_socket: str = SOCKET
    nginx: str = "nginx"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Options:
        return cls(
            poll=float(env.get("LAIN_ROUTER_POLL", "0.5")),
            settle=float(env.get("LAIN_ROUTER_SETTLE", "0.3")),
            listen=Listen(
                http_port=int(env.get("LAIN_ROUTER_HTTP_PORT", "80")),
                https_port=int(env.get("LAIN_ROUTER_HTTPS_PORT", "443")),
                run_dir=env.get("LAIN_ROUTER_RUN_DIR", "/run/lain-router"),
            ),
            certs_dir=env.get("LAIN_ROUTER_CERTS", "/run/secrets"),
            container=env.get("HOSTNAME", ""),
            node=env.get("LAIN_ROUTER_NODE", ""),
            serves=env.get("LAIN_ROUTER_SERVES", "all"),
            engine_socket=env.get("LAIN_ROUTER_ENGINE", SOCKET),
            nginx=env.get("LAIN_ROUTER_NGINX", "nginx"),
        )


class Watcher:
    """Keeps one nginx serving what the swarm says."""

    def __init__(self, engine: Engine, nginx: Nginx, options: Options) -> None:
        self.engine = engine
        self.nginx = nginx
        self.options = options
        self.generation = 0
        self.applied_text = ""
        self.attempted_text = ""  # the last text tried, good or not: not tried again
        self.applied_model: RouterModel | None = None
        self.applied_at = 0.0
        self.status: dict[str, Any] = {"node": options.node, "generation": 0}
        self.refused: dict[str, str] = {}  # app -> why nginx -t refused its last change
        # The last model rendered, its certificates and its text: a round asks for the same
        # model's text up to three times, and 1,000 routes take tens of milliseconds.
        self._rendered: tuple[RouterModel | None, list[Certificate], str] = (None, [], "")

    def read(self) -> RouterModel:
        services = self.engine.services(LABEL_NETWORK)
        if self.options.serves == "stream":
            services = _streams_only(services)
        ids = {s.get("ID") for s in services}
        tasks = [t for t in self.engine.tasks() if t.get("ServiceID") in ids]
        model = build_model(services, tasks)
        if self.options.serves == "http":
            # Stream ports are the stream router's; their problems are still named here,
            # where `lain router status` reads them.
            streamed = {s.upstream.name for s in model.streams}
            upstreams = {k: u for k, u in model.upstreams.items() if k not in streamed}
            model = model._replace(streams=(), upstreams=upstreams)
        return model

    def step(self) -> bool:
        """One round; whether nginx was reloaded."""
        started = time.monotonic()
        try:
            model = self.read()
            # Also with nothing to serve: the router must leave the last app's network, or
            # that app's undeploy cannot remove it.
            self.join(model.networks)
        except EngineError as e:
            if not self.nginx.running():
                # Answer 404 meanwhile, rather than refuse connections, until the engine does.
                self.apply(EMPTY, [], started)
            self.note_error(f"engine: {e}")
            return False
        certificates = self.certificates()
        text = self._render(model, certificates)
        if text in (self.applied_text, self.attempted_text) and self.nginx.running():
            self.status["checked_at"] = time.time()
            # Labels refused whole leave the text as it was: the status still names them.
            if self._problems(model) != self.status.get("problems"):
                self.status["problems"] = self._problems(model)
                self.write_status()
            return False
        wait = self.options.settle - (time.monotonic() - self.applied_at)
        if wait > 0 and self.applied_text:
            time.sleep(wait)  # fold a burst of changes into one reload
            return self.step()
        return self.apply(model, certificates, started)

    def apply(self, model: RouterModel, certificates: list[Certificate], started: float) -> bool:
        refused: dict[str, str] = {}
        self.attempted_text = self._render(model, certificates)
        error = self._try(model, certificates)
        if error is not None:
            # One app's change broke it? Serve everything else (that app keeps nothing).
            before = apps_of(self.applied_model) if self.applied_model else {}
            changed = [a for a, share in apps_of(model).items() if before.get(a) != share]
            for app in changed:
                if self._try(without_apps(model, [app]), certificates) is None:
                    refused[app] = error
                    model = without_apps(model, [app])
                    error = None
                    break
        if error is not None:
            self.note_error(f"configuration refused, the last good one stays: {error}")
            return False
        self.applied_model = model
        self.applied_at = time.monotonic()
        self.refused = refused
        self.status.update(
            generation=self.generation,
            applied_at=time.time(),
            checked_at=time.time(),
            apply_ms=round((time.monotonic() - started) * 1000, 1),
            routes=len(model.routes),
            hosts=len(model.hosts),
            upstreams=len(model.upstreams),
            streams=len(model.streams),
            problems=self._problems(model),
        )
        if not refused:
            self.status.pop("last_error", None)
            self.status.pop("last_error_at", None)
        self.write_status()
        print(
            f"lain-router: generation {self.generation}: {len(model.routes)} routes, "
            f"{len(model.upstreams)} upstreams, applied in {self.status['apply_ms']} ms",
            file=sys.stderr,
            flush=True,
        )
        return True

    def _try(self, model: RouterModel, certificates: list[Certificate]) -> str | None:
        self.generation += 1
        text = self._render(model, certificates)
        staged = self.nginx.stage(
            render(
                model,
                listen=self.options.listen,
                certificates=certificates,
                generation=self.generation,
            ),
            self.generation,
        )
        error = self.nginx.test(staged)
        if error is None:
            self.nginx.swap_in(staged)
            self.applied_text = text
        return error

    def _problems(self, model: RouterModel) -> list[dict[str, Any]]:
        return [p._asdict() for p in model.problems] + [
            {"app": a, "proc": "", "message": e} for a, e in self.refused.items()
        ]

    def _render(self, model: RouterModel, certificates: list[Certificate]) -> str:
        """The configuration of ``model`` without its generation: what tells rounds apart."""
        last, last_certificates, text = self._rendered
        if model is last and certificates == last_certificates:
            return text
        text = render(model, listen=self.options.listen, certificates=certificates)
        self._rendered = (model, list(certificates), text)
        return text

    def join(self, networks: frozenset[str]) -> None:
        """Connect this container to every network it serves procs on; leave the others."""
        container = self.options.container
        if not container:
            return
        joined = set(
            (self.engine.container(container).get("NetworkSettings") or {}).get("Networks") or {}
        )
        for network in sorted(networks - joined):
            try:
                self.engine.connect(network, container)
            except EngineError as e:
                # 403/409: joined meanwhile.  404: a network made a moment ago that this
                # node does not know yet; the next round joins it.  The others are served.
                if e.status not in (403, 404, 409):
                    raise
        for network in sorted(joined - networks):
            if network.startswith(NETWORK_PREFIX):
                # An error: gone already (the app's undeploy removed it).
                with contextlib.suppress(EngineError):
                    self.engine.disconnect(network, container)

    def certificates(self) -> list[Certificate]:
        """The certificates mounted for the router: ``<domain>.crt`` with ``<domain>.key``
        (``_.example.com`` for ``*.example.com``)."""
        directory = Path(self.options.certs_dir)
        found = []
        for cert in sorted(directory.glob(f"*{CERT_SUFFIX}")) if directory.is_dir() else ():
            key = cert.with_name(cert.name[: -len(CERT_SUFFIX)] + KEY_SUFFIX)
            domain = cert.name[: -len(CERT_SUFFIX)]
            domain = "*." + domain[2:] if domain.startswith("_.") else domain
            try:
                parse_mountpoint(domain)
            except ValueError:
                continue
            if key.is_file():
                found.append(Certificate(domain, str(cert), str(key)))
        return found

    def note_error(self, message: str) -> None:
        self.status.update(last_error=message, last_error_at=time.time())
        self.write_status()
        print(f"lain-router: {message}", file=sys.stderr, flush=True)

    def write_status(self) -> None:
        path = Path(self.options.listen.run_dir) / STATUS_FILE
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.status, sort_keys=True))
        os.replace(temporary, path)

    def run(self, stop: threading.Event) -> int:
        """Serve until ``stop`` is set (0) or nginx dies (1)."""
        while not stop.is_set():
            self.step()
            if self.applied_text and not self.nginx.running():
                self.note_error("nginx stopped")
                return 1
            stop.wait(self.options.poll)
        self.nginx.stop()
        return 0


def _streams_only(services: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The services with stream ports, without their mountpoints: what the stream router
    serves (the HTTP router serves the mountpoints)."""
    found = []
    for service in services:
        spec = service.get("Spec") or {}
        labels = dict(spec.get("Labels") or {})
        if LABEL_STREAMS in labels:
            labels.pop(LABEL_MOUNTPOINTS, None)
            found.append({**service, "Spec": {**spec, "Labels": labels}})
    return found


def main() -> int:
    options = Options.from_env(os.environ)
    nginx = Nginx(options.listen.run_dir, binary=options.nginx)
    watcher = Watcher(Engine(options.engine_socket), nginx, options)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    return watcher.run(stop)
