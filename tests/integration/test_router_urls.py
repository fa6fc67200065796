"""Addresses users can use, on the real swarm: `lain deploy` and `lain ps` show an app's URLs,
they answer through the cluster's router (on this machine, *.localhost needs no hosts entry),
and `lain logs --access` shows the requests just made, of this app only.

Two apps are deployed once for the module, publishing no host port: the router is the only way
in.  ``shown`` is ``ru-<id>``; ``neighbour`` is the same name with one more letter, so that a
record of one can never pass for the other's.
"""

from __future__ import annotations

import json
import secrets
import select
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import IO, Any, NoReturn
from urllib.parse import urlsplit

import pytest
from apps import unique_app_name
from routed import get, wait_answer
from swarm_apps import TestApp, cleanup, push_version

import lain_sdk
from lain_cli.exit import ExitStatus
from lain_sdk import deploy_app
from lain_sdk.cluster.session import Cluster
from lain_sdk.settings import LOCAL_DOMAINS, LOCAL_ROUTER_BASE, ClusterSettings, RouterSettings

pytestmark = pytest.mark.docker

TIMEOUT = 120
# How long a request takes to reach the router's log as the engine serves it.
LOG_TIMEOUT = 20.0


def lain_yaml(name: str, *, api: bool) -> str:
    """web on the app's default domains; with ``api``, web.api on /api of them."""
    proc = """\
  cmd: [sh, -c, 'trap "exit 0" TERM; httpd -f -p 80 -h /www & wait']
  memory: 16m
  container_healthcheck:
    cmd: wget -q -O /dev/null http://127.0.0.1:80/index.html
    options: {interval: 1, timeout: 1, retries: 1}
"""
    text = f"appname: {name}\nbuild:\n  base: lain-local/busybox:latest\nweb:\n{proc}"
    return text + (f"web.api:\n{proc}  mountpoint: [/api]\n" if api else "")


def settings(registry: str) -> ClusterSettings:
    """The local cluster's domains on the test registry; no published ports."""
    return ClusterSettings(
        name="test",
        registry=registry,
        domains=LOCAL_DOMAINS,
        insecure_registry=True,
        router=RouterSettings(base_image=LOCAL_ROUTER_BASE),
    )


@pytest.fixture(scope="module")
def apps(docker_client: Any, registry: Any, router: Any) -> Iterator[tuple[TestApp, TestApp]]:
    shown = TestApp(unique_app_name("ru"), registry.host, engine=docker_client)
    neighbour = TestApp(shown.name + "x", registry.host, engine=docker_client)
    cluster = Cluster(settings(registry.host), engine=docker_client, poll_interval=0.2)
    try:
        for app, api in ((shown, True), (neighbour, False)):
            push_version(docker_client, app, lain_yaml(app.name, api=api), "page one", echo=True)
            lain_sdk.drain(deploy_app(app.name, cluster=cluster, timeout=TIMEOUT))
        yield shown, neighbour
    finally:
        for app in (neighbour, shown):
            cleanup(docker_client, app.name, app.images)


@pytest.fixture
def cli(lain: Any, registry: Any) -> Any:
    """``lain`` with the test cluster in use (the same settings the apps were deployed with)."""
    added = lain(
        "cluster", "add", "test", "--registry", registry.host, "--insecure-registry",
        "--domain", LOCAL_DOMAINS[0], "--domain", LOCAL_DOMAINS[1],
        "--router-base-image", LOCAL_ROUTER_BASE, "--use",
    )  # fmt: skip
    assert added.exit_code == ExitStatus.OK, added.stderr
    return lain


def urls_of(name: str) -> list[str]:
    host, local = (f"{name}.{domain}" for domain in LOCAL_DOMAINS)
    return [f"http://{host}/", f"http://{local}/", f"http://{host}/api", f"http://{local}/api"]


def test_deploy_and_ps_show_urls_that_answer_through_the_router(
    docker_client: Any, apps: tuple[TestApp, TestApp], cli: Any
) -> None:
    shown, _ = apps
    push_version(docker_client, shown, lain_yaml(shown.name, api=True), "page two", echo=True)
    deployed = cli("deploy", "-a", shown.name, "--timeout", str(TIMEOUT))
    assert deployed.exit_code == ExitStatus.OK, deployed.stderr
    first, *more = urls_of(shown.name)
    assert deployed.stdout.splitlines()[-4:] == [f"urls: {first}", *(f"      {u}" for u in more)]
    assert "no router runs" not in deployed.stderr

    status = cli("-o", "json", "ps", "-a", shown.name)
    assert status.exit_code == ExitStatus.OK, status.stderr
    data = json.loads(status.stdout)
    assert data["urls"] == urls_of(shown.name)
    procs = {p["proc"]: p for p in data["procs"]}
    assert procs["api"]["urls"] == urls_of(shown.name)[2:]
    # No instance publishes a host port: the router is the way in.
    assert all(not i["ports"] for p in data["procs"] for i in p["instances"])
    assert f"urls: {first}" in cli("ps", "-a", shown.name).stdout.splitlines()

    for url in data["urls"]:
        parts = urlsplit(url)
        answer = wait_answer(parts.netloc, parts.path, lambda a: "page two" in a.body)
        assert answer.status == 200 and answer.body == "page two\n", (url, answer)
    echo = wait_answer(urlsplit(first).netloc, "/api/cgi-bin/echo")
    assert "proc=api" in echo.body, echo


def test_the_localhost_urls_answer_on_this_machine_as_written(
    apps: tuple[TestApp, TestApp], skip_or_fail: Callable[[str], NoReturn]
) -> None:
    """curl (as browsers do) takes every *.localhost name for this machine: no hosts entry."""
    curl = shutil.which("curl")
    if curl is None:
        skip_or_fail("curl is not installed (it resolves *.localhost without /etc/hosts)")
    shown, _ = apps
    base = f"http://{shown.name}.{LOCAL_DOMAINS[0]}"
    wait_answer(f"{shown.name}.{LOCAL_DOMAINS[0]}", "/cgi-bin/echo")
    for path, proc in (("/cgi-bin/echo", "web"), ("/api/cgi-bin/echo", "api")):
        said = subprocess.run(
            [curl, "-sS", "--fail", "--noproxy", "*", "--max-time", "10", base + path],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert said.returncode == 0, said.stderr
        assert f"proc={proc}" in said.stdout and f"host={shown.name}." in said.stdout


def marked_records(cli: Any, app: str, mark: str, count: int) -> list[dict[str, Any]]:
    """The access records of ``app`` whose URI has ``mark``, once there are ``count``."""
    deadline = time.monotonic() + LOG_TIMEOUT
    while True:
        result = cli("-o", "json", "logs", "--access", "--since", "10m", "-a", app)
        assert result.exit_code == ExitStatus.OK, result.stderr
        records = [json.loads(line) for line in result.stdout.splitlines()]
        assert all(r["app"] == app for r in records), records
        found = [r for r in records if mark in r["uri"]]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def test_access_logs_show_the_requests_just_made_and_only_this_apps(
    apps: tuple[TestApp, TestApp], cli: Any
) -> None:
    shown, neighbour = apps
    host, other = f"{shown.name}.lain.localhost", f"{neighbour.name}.lain.localhost"
    mark = secrets.token_hex(6)
    wait_answer(host, "/index.html")
    wait_answer(other, "/index.html")
    asked = [
        (host, f"/cgi-bin/echo?mark={mark}", 200),
        (host, f"/api/index.html?mark={mark}", 200),
        (host, f"/missing-{mark}", 404),  # the app's own 404: an instance answered it
    ]
    for where, path, status in asked:
        assert get(where, path).status == status
    assert get(other, f"/index.html?mark={mark}").status == 200
    assert get(f"nobody-{mark}.lain.localhost", f"/?mark={mark}").status == 404

    found = marked_records(cli, shown.name, mark, 3)
    assert [(r["host"], r["uri"], r["status"]) for r in found] == asked
    assert [r["proc"] for r in found] == ["web", "api", "web"]
    assert all(r["method"] == "GET" and r["upstream"] and r["duration"] >= 0 for r in found)

    # The last three requests, one a line: TIME STATUS METHOD HOST URI DURATION UPSTREAM.
    text = cli("logs", "--access", "--tail", "3", "-a", shown.name)
    assert text.exit_code == ExitStatus.OK, text.stderr
    lines = [line.split(" ") for line in text.stdout.splitlines()]
    assert [(x[1], x[2], x[3], x[4]) for x in lines] == [
        (str(status), "GET", where, path) for where, path, status in asked
    ]
    assert all(x[0].startswith("20") and x[5].endswith("ms") and ":" in x[6] for x in lines)

    api_only = cli("logs", "--access", "--proc", "api", "--tail", "1", "-a", shown.name)
    assert [x.split(" ")[4] for x in api_only.stdout.splitlines()] == [asked[1][1]]
    # The neighbour's log has its own request, none of the shown app's.
    (theirs,) = marked_records(cli, neighbour.name, mark, 1)
    assert theirs["host"] == other and theirs["proc"] == "web"


def read_lines(stream: IO[str] | None, count: int, timeout: float) -> list[str]:
    """``count`` lines from a child's stdout, all within ``timeout``."""
    assert stream is not None
    deadline = time.monotonic() + timeout
    lines: list[str] = []
    while len(lines) < count:
        left = deadline - time.monotonic()
        assert left > 0, f"only {len(lines)} of {count} lines: {lines}"
        if select.select([stream], [], [], left)[0]:
            line = stream.readline()
            assert line, f"the stream ended after {lines}"
            lines.append(line.rstrip("\n"))
    return lines


def test_following_the_access_log_prints_requests_as_they_come(
    apps: tuple[TestApp, TestApp], cli: Any
) -> None:
    shown, _ = apps
    host = f"{shown.name}.lain.localhost"
    wait_answer(host, "/index.html")
    mark = secrets.token_hex(6)
    command = [sys.executable, "-m", "lain_cli", "-o", "json", "logs", "--access", "-f"]
    child = subprocess.Popen(
        [*command, "--tail", "0", "-a", shown.name], stdout=subprocess.PIPE, text=True, bufsize=1
    )
    stop = threading.Event()

    def ask() -> None:  # one request every 0.3 s until stopped: the first come before lain reads
        n = 0
        while not stop.wait(0.3) and n < 200:
            n += 1
            get(host, f"/index.html?mark={mark}&n={n}")

    asker = threading.Thread(target=ask, daemon=True)
    asker.start()
    try:
        records = [json.loads(line) for line in read_lines(child.stdout, 3, LOG_TIMEOUT)]
    finally:
        stop.set()
        child.kill()
        child.wait(timeout=10)
        asker.join(timeout=10)
    assert all(r["app"] == shown.name and mark in r["uri"] for r in records), records
    numbers = [int(r["uri"].rsplit("=", 1)[1]) for r in records]
    assert numbers == list(range(numbers[0], numbers[0] + 3)), numbers  # each once, in order
