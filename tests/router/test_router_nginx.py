"""lain_router.nginx and lain_router.engine, with a stand-in nginx program and a small
HTTP server on a unix socket in place of the engine."""

from __future__ import annotations

import json
import os
import signal
import socketserver
import sys
import textwrap
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar

import pytest

from lain_router.engine import Engine, EngineError
from lain_router.nginx import Nginx

# Like nginx: -t checks the file named by -c (here: refuses one that says "broken"); without
# -t it runs until SIGQUIT, counting the SIGHUPs (reloads) it gets in a file.
FAKE_NGINX = textwrap.dedent(
    """\
    import signal, sys, time
    args = sys.argv[1:]
    conf = args[args.index("-c") + 1]
    if "-t" in args:
        text = open(conf).read()
        if "broken" in text:
            sys.stderr.write(f"nginx: [emerg] unknown directive in {conf}:1\\n")
            sys.exit(1)
        sys.exit(0)
    reloads = 0
    def hup(*_):
        global reloads
        reloads += 1
        open(conf + ".reloads", "w").write(str(reloads))
    signal.signal(signal.SIGHUP, hup)
    signal.signal(signal.SIGQUIT, lambda *_: sys.exit(0))
    open(conf + ".started", "w").write("yes")
    while True:
        time.sleep(0.05)
    """
)


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[Nginx]:
    program = tmp_path / "nginx"
    program.write_text(f"#!{sys.executable}\n{FAKE_NGINX}")
    program.chmod(0o755)
    started = Nginx(str(tmp_path / "run"), binary=str(program))
    yield started
    started.stop()  # a test that failed midway leaves no stand-in running


def wait_for(path: Path) -> str:
    for _ in range(200):
        if path.exists() and path.read_text():
            return path.read_text()
        threading.Event().wait(0.02)
    raise AssertionError(f"{path} never appeared")


def test_only_a_configuration_that_passed_its_test_goes_live(nginx: Nginx) -> None:
    first = nginx.stage("events {}\n", 1)
    assert nginx.test(first) is None
    nginx.swap_in(first)
    assert nginx.running() and nginx.current.resolve() == first.resolve()
    wait_for(nginx.current / "nginx.conf.started")

    broken = nginx.stage("broken\n", 2)
    error = nginx.test(broken)
    assert error is not None and "unknown directive" in error
    assert str(broken) not in error  # the message names <config>, not a staging path
    assert nginx.current.resolve() == first.resolve()  # never swapped in

    good = nginx.stage("events { }\n", 3)
    nginx.swap_in(good)
    assert nginx.current.resolve() == good.resolve()
    # The running master was told to reload (not restarted): it reads the new file.
    assert wait_for(nginx.current / "nginx.conf.reloads") == "1"
    nginx.stop()
    assert not nginx.running()


def test_old_generations_are_removed(nginx: Nginx) -> None:
    for generation in range(1, 8):
        directory = nginx.stage("events {}\n", generation)
        nginx.swap_in(directory)
    nginx.stop()
    kept = sorted(p.name for p in nginx.run_dir.glob("gen-*"))
    assert "gen-7" in kept and len(kept) <= 4


class _Handler(BaseHTTPRequestHandler):
    answers: ClassVar[dict[tuple[str, str], tuple[int, Any]]] = {}
    seen: ClassVar[list[tuple[str, str, Any]]] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        path = self.path.split("?", 1)[0]
        self.seen.append((self.command, self.path, body))
        status, payload = self.answers.get((self.command, path), (404, {"message": "no such"}))
        data = json.dumps(payload).encode() if payload is not None else b""
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer

    def log_message(self, *args: Any) -> None:
        pass


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def get_request(self) -> tuple[Any, Any]:
        request, _ = super().get_request()
        return request, ("local", 0)  # BaseHTTPRequestHandler wants an address pair


@pytest.fixture
def engine(tmp_path: Path) -> Any:
    path = str(tmp_path / "engine.sock")
    server = _UnixServer(path, _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Handler.seen.clear()
    yield Engine(path, timeout=5)
    server.shutdown()
    server.server_close()


def test_the_engine_client_sends_filters_as_json_and_raises_with_the_engines_message(
    engine: Engine,
) -> None:
    _Handler.answers = {
        ("GET", "/services"): (200, [{"ID": "s1"}]),
        ("POST", "/networks/lain-router_a/connect"): (200, None),
        ("POST", "/networks/gone/connect"): (404, {"message": "network gone not found"}),
    }
    assert engine.services("lain.router.network") == [{"ID": "s1"}]
    method, path, _ = _Handler.seen[-1]
    assert method == "GET" and "filters=%7B%22label%22" in path  # {"label": [...]} as JSON
    engine.connect("lain-router_a", "c1")
    assert _Handler.seen[-1][2] == {"Container": "c1"}
    with pytest.raises(EngineError) as raised:
        engine.connect("gone", "c1")
    assert raised.value.status == 404 and "network gone not found" in str(raised.value)


def test_an_engine_that_does_not_answer_is_an_engine_error(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="GET /tasks"):
        Engine(str(tmp_path / "nothing.sock"), timeout=1).tasks()


def test_the_watcher_process_stops_on_sigterm(tmp_path: Path, nginx: Nginx) -> None:
    """python3 -m lain_router with no engine: it keeps trying (never crashes) until SIGTERM,
    serving an empty configuration meanwhile (here a stand-in nginx)."""
    import subprocess

    env = {
        **os.environ,
        "LAIN_ROUTER_RUN_DIR": str(tmp_path / "run"),
        "LAIN_ROUTER_POLL": "0.05",
        "HOSTNAME": "",
        "LAIN_ROUTER_ENGINE": str(tmp_path / "no-engine.sock"),
        "LAIN_ROUTER_NGINX": nginx.binary,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "lain_router"], env=env, stderr=subprocess.PIPE, text=True
    )
    status = tmp_path / "run" / "status.json"
    wait_for(status)
    wait_for(tmp_path / "run" / "current" / "nginx.conf.started")
    process.send_signal(signal.SIGTERM)
    assert process.wait(10) == 0
    said = json.loads(status.read_text())
    assert "engine:" in said["last_error"] and said["routes"] == 0
