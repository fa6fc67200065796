"""lain_router.watch: the loop that reads the swarm and keeps nginx serving it (a fake engine
and a fake nginx; lain_router.nginx has its own tests)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from swarm_docs import service, task

from lain_router.engine import EngineError
from lain_router.render import Listen
from lain_router.watch import Options, Watcher


class FakeEngine:
    def __init__(self) -> None:
        self.services_: list[dict[str, Any]] = []
        self.tasks_: list[dict[str, Any]] = []
        self.joined: set[str] = {"lain-router_gone", "bridge"}
        self.fail: EngineError | None = None
        self.calls: list[tuple[str, str]] = []

    def services(self, label: str) -> list[dict[str, Any]]:
        if self.fail:
            raise self.fail
        return [s for s in self.services_ if label in s["Spec"]["Labels"]]

    def tasks(self) -> list[dict[str, Any]]:
        return self.tasks_

    def container(self, container: str) -> dict[str, Any]:
        return {"NetworkSettings": {"Networks": {n: {} for n in self.joined}}}

    def connect(self, network: str, container: str) -> None:
        self.calls.append(("connect", network))
        if network == "lain-router_new":
            raise EngineError("not yet", 404)
        self.joined.add(network)

    def disconnect(self, network: str, container: str) -> None:
        self.calls.append(("disconnect", network))
        self.joined.discard(network)


class FakeNginx:
    """Refuses any configuration that serves a host named broken.* or loads a certificate
    (as a certificate file nginx cannot read would be)."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.live: str | None = None
        self.reloads = 0

    def stage(self, text: str, generation: int) -> Path:
        directory = self.run_dir / f"gen-{generation}"
        directory.mkdir()
        (directory / "nginx.conf").write_text(text)
        return directory

    def test(self, directory: Path) -> str | None:
        text = (directory / "nginx.conf").read_text()
        if "ssl_certificate " in text:
            return "cannot load certificate"
        return "unknown directive" if "server_name broken." in text else None

    def swap_in(self, directory: Path) -> None:
        self.live = (directory / "nginx.conf").read_text()
        self.reloads += 1

    def running(self) -> bool:
        return self.live is not None

    def stop(self) -> None:
        self.live = None


@pytest.fixture
def parts(tmp_path: Path) -> tuple[FakeEngine, FakeNginx, Watcher]:
    engine, nginx = FakeEngine(), FakeNginx(tmp_path)
    certs = tmp_path / "certs"
    certs.mkdir()
    options = Options(
        poll=0.01,
        settle=0,
        listen=Listen(run_dir=str(tmp_path)),
        certs_dir=str(certs),
        container="c1",
        node="node-1",
    )
    return engine, nginx, Watcher(engine, nginx, options)  # type: ignore[arg-type]


def status(tmp_path: Path) -> dict[str, Any]:
    return dict(json.loads((tmp_path / "status.json").read_text()))


def test_a_change_is_applied_once_and_the_same_swarm_reloads_nothing(parts, tmp_path) -> None:
    engine, nginx, watcher = parts
    web = service("shop")
    engine.services_, engine.tasks_ = [web], [task(web, "10.0.1.2")]
    assert watcher.step() and nginx.reloads == 1
    assert "server 10.0.1.2:80" in (nginx.live or "")
    assert not watcher.step() and nginx.reloads == 1
    engine.tasks_.append(task(web, "10.0.1.3", slot=2))
    assert watcher.step() and "server 10.0.1.3:80" in (nginx.live or "")
    said = status(tmp_path)
    assert (said["routes"], said["upstreams"], said["node"]) == (1, 1, "node-1")
    assert said["generation"] >= 2 and "last_error" not in said


def test_the_router_joins_served_networks_and_leaves_its_old_ones(parts) -> None:
    engine, _, watcher = parts
    shop, new = service("shop"), service("new")
    engine.services_ = [shop, new]
    watcher.step()
    # A network this node does not know yet is retried next round; the others are served.
    assert ("connect", "lain-router_shop") in engine.calls
    assert ("connect", "lain-router_new") in engine.calls
    assert ("disconnect", "lain-router_gone") in engine.calls
    assert "bridge" in engine.joined  # not a router network: left alone


def test_the_router_leaves_the_last_network_when_nothing_is_served_any_more(parts) -> None:
    engine, _, watcher = parts
    engine.services_ = [service("shop")]
    watcher.step()
    assert "lain-router_shop" in engine.joined
    engine.services_ = []  # the last routed app was undeployed
    watcher.step()
    assert "lain-router_shop" not in engine.joined and "bridge" in engine.joined


def test_an_app_that_breaks_the_configuration_is_left_out_and_named(parts, tmp_path) -> None:
    engine, nginx, watcher = parts
    good = service("good")
    engine.services_, engine.tasks_ = [good], [task(good, "10.0.0.2")]
    watcher.step()
    broken = service("broken", "web", ["broken.example.test"])
    engine.services_.append(broken)
    engine.tasks_.append(task(broken, "10.0.0.3"))
    assert watcher.step()
    assert "server_name good.example.test;" in (nginx.live or "")
    assert "broken" not in (nginx.live or "")
    (problem,) = status(tmp_path)["problems"]
    assert problem["app"] == "broken" and "unknown directive" in problem["message"]
    # Nothing changed since: nginx -t is not run again every round.
    reloads = nginx.reloads
    assert not watcher.step() and nginx.reloads == reloads


def test_when_nothing_passes_the_last_good_configuration_stays(parts, tmp_path) -> None:
    engine, nginx, watcher = parts
    good = service("good")
    engine.services_, engine.tasks_ = [good], [task(good, "10.0.0.2")]
    watcher.step()
    live = nginx.live
    # A certificate nginx cannot load: no app changed, none can be left out to fix it.
    (tmp_path / "certs" / "good.example.test.crt").write_text("not a certificate")
    (tmp_path / "certs" / "good.example.test.key").write_text("not a key")
    assert not watcher.step()
    assert nginx.live == live
    said = status(tmp_path)["last_error"]
    assert "the last good one stays" in said and "cannot load certificate" in said


def test_an_engine_error_keeps_serving_and_is_reported(parts, tmp_path) -> None:
    engine, nginx, watcher = parts
    good = service("good")
    engine.services_, engine.tasks_ = [good], [task(good, "10.0.0.2")]
    watcher.step()
    live = nginx.live
    engine.fail = EngineError("GET /services: connection refused")
    assert not watcher.step()
    assert nginx.live == live and "connection refused" in status(tmp_path)["last_error"]


def test_certificates_are_read_by_domain_and_wildcards_by_their_underscore(parts, tmp_path) -> None:
    _, _, watcher = parts
    certs = tmp_path / "certs"
    for stem in ("a.example.test", "_.example.test", "lonely.example.test", "bad name"):
        (certs / f"{stem}.crt").write_text("cert")
    for stem in ("a.example.test", "_.example.test", "bad name"):
        (certs / f"{stem}.key").write_text("key")
    assert [c.domain for c in watcher.certificates()] == ["*.example.test", "a.example.test"]


def test_run_stops_nginx_gracefully_when_told(parts) -> None:
    engine, nginx, watcher = parts
    engine.services_ = [service("shop")]
    stop = threading.Event()
    thread = threading.Thread(target=lambda: setattr(thread, "code", watcher.run(stop)))
    thread.start()
    while nginx.reloads == 0:
        stop.wait(0.01)
    stop.set()
    thread.join(5)
    assert thread.code == 0 and nginx.live is None  # type: ignore[attr-defined]


def test_the_http_and_the_stream_routers_each_serve_their_part(tmp_path) -> None:
    from lain_router.labels import StreamPort

    both = service("db", "web", ["db.example.test"], streams=[StreamPort(9501, 5432)])
    web_only, stream_only = service("shop"), service("q", "main", [], streams=[StreamPort(9502, 1)])
    engine = FakeEngine()
    engine.services_ = [both, web_only, stream_only]
    engine.tasks_ = [
        task(both, "10.0.0.2"),
        task(web_only, "10.0.0.3"),
        task(stream_only, "10.0.0.4"),
    ]
    models = {}
    for serves in ("http", "stream", "all"):
        options = Options(listen=Listen(run_dir=str(tmp_path)), serves=serves)
        models[serves] = Watcher(engine, FakeNginx(tmp_path), options).read()  # type: ignore[arg-type]
    assert {r.app for r in models["http"].routes} == {"db", "shop"} and not models["http"].streams
    assert models["stream"].routes == () and [s.port for s in models["stream"].streams] == [
        9501,
        9502,
    ]
    # The stream router joins only the networks of procs with stream ports; the HTTP router
    # leaves their ports alone but still names what is wrong with them.
    assert models["stream"].networks == {"lain-router_db", "lain-router_q"}
    assert set(models["http"].upstreams) == {"db__web", "shop__web"}
    assert len(models["all"].routes) == 2 and len(models["all"].streams) == 2
