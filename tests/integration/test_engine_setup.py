"""scripts/setup-engine: idempotent on a ready machine, and able to bring up a fresh engine."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
SETUP_ENGINE = REPO_ROOT / "scripts" / "setup-engine"
READY = (
    "setup-engine: engine ready: swarm manager, lain-local/busybox:latest and "
    "lain-local/router-base:latest present\n"
)
READY_WITHOUT_ROUTER_BASE = (
    "setup-engine: engine ready: swarm manager, lain-local/busybox:latest present "
    "(lain-local/router-base:latest left out)"
)


def run_setup(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SETUP_ENGINE)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_second_run_changes_nothing_and_is_quick(docker_client: Any) -> None:
    first = run_setup()  # sets up whatever is missing (normally scripts/test did already)
    assert first.returncode == 0, first.stderr
    image_id = docker_client.images.get("lain-local/busybox:latest").id

    started = time.monotonic()
    second = run_setup()
    took = time.monotonic() - started

    assert (second.returncode, second.stdout, second.stderr) == (0, READY, "")
    assert docker_client.images.get("lain-local/busybox:latest").id == image_id
    # Aimed at well under 2 s; the bound only catches a run that redoes work.
    assert took < 10, f"a no-op run took {took:.1f}s"


def test_router_base_image_has_nginx_with_streams_and_python(docker_client: Any) -> None:
    script = (
        "nginx -V 2>&1 | tr ' ' '\\n' | grep -E '^--with-(http_v2_module|stream=dynamic)$'; "
        "ls /etc/nginx/modules-enabled/ | grep -c stream; "
        "python3 -c 'import http.client, json, socket, ssl; print(\"python ok\")'"
    )
    found = run_in(docker_client, "lain-local/router-base:latest", script).split()
    assert found == ["--with-http_v2_module", "--with-stream=dynamic", "1", "python", "ok"]


def test_engine_is_a_swarm_manager(docker_client: Any) -> None:
    swarm = docker_client.info()["Swarm"]

    assert swarm["LocalNodeState"] == "active"
    assert swarm["ControlAvailable"] is True


def run_in(docker_client: Any, image: str, script: str, user: str = "") -> str:
    output = docker_client.containers.run(
        image, ["sh", "-c", script], user=user, remove=True, stdout=True, stderr=True
    )
    return output.decode()


def test_base_image_has_the_tools_tests_use(docker_client: Any, base_image: str) -> None:
    script = "which sh httpd wget nc env; wget --help 2>&1 | head -n 1"

    found = run_in(docker_client, base_image, script).splitlines()

    assert found[:5] == [
        "/bin/sh",
        "/usr/sbin/httpd",
        "/usr/bin/wget",
        "/usr/bin/nc",
        "/usr/bin/env",
    ]
    assert found[5].startswith("BusyBox v")


def test_base_image_serves_and_fetches(docker_client: Any, base_image: str) -> None:
    script = (
        "mkdir /tmp/www && echo hello > /tmp/www/index.html"
        " && httpd -p 127.0.0.1:8080 -h /tmp/www && wget -qO- http://127.0.0.1:8080/"
        " && (nc -l -p 9000 > /tmp/got &) && sleep 0.3 && echo ping | nc -w 1 127.0.0.1 9000"
        "; sleep 0.3; cat /tmp/got"
    )

    assert run_in(docker_client, base_image, script) == "hello\nping\n"


def test_base_image_users(docker_client: Any, base_image: str) -> None:
    script = "id -un; id -gn; ls -ld /tmp | cut -c1-10; touch /tmp/x && echo writable"

    assert run_in(docker_client, base_image, script, user="nobody") == (
        "nobody\nnogroup\ndrwxrwxrwt\nwritable\n"
    )
    config = docker_client.images.get(base_image).attrs["Config"]
    assert config["Cmd"] == ["/bin/sh"]
    assert "/bin" in config["Env"][0]


# -- a fresh engine --------------------------------------------------------------------------

# Runs as pid 1 of private pid, mount and network namespaces: /run, /var/log, /var/lib/docker
# and /etc/docker are private there, so setup-engine sees a machine where no engine runs, and
# the engine it starts dies with the namespace, leaving the machine's own engine untouched.
FRESH_ENGINE = r"""
set -u
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /var/log
mount -t tmpfs tmpfs /etc/docker 2>/dev/null || true
mount --bind "$DATA_ROOT" /var/lib/docker
ip link set lo up
echo "== fresh"
"$SETUP_ENGINE" || exit 1
echo "== killed"
kill -9 "$(cat /run/docker.pid)"
sleep 0.2
"$SETUP_ENGINE" || exit 1
echo "== again"
"$SETUP_ENGINE" || exit 1
docker info --format 'swarm: {{.Swarm.LocalNodeState}} {{.Swarm.NodeAddr}}'
kill "$(cat /run/docker.pid)"
"""


def test_fresh_engine_is_started_and_a_killed_one_restarted(
    tmp_path: Path, skip_or_fail: Callable[[str], None]
) -> None:
    if os.geteuid() != 0:
        skip_or_fail("starting a private dockerd needs root")
    for tool in ("unshare", "ip", "dockerd"):
        if shutil.which(tool) is None:
            skip_or_fail(f"{tool} is not installed")
    data_root = tmp_path / "docker"
    data_root.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    # The private engine has no network to fetch Debian's packages from: its router base
    # image is left out (the machine's own engine has one: see the test above).
    env.update(
        SETUP_ENGINE=str(SETUP_ENGINE), DATA_ROOT=str(data_root), LAIN_SKIP_ROUTER_BASE="1"
    )

    done = subprocess.run(
        [
            "unshare",
            "--pid",
            "--fork",
            "--mount-proc",
            "--mount",
            "--net",
            "--propagation",
            "private",
            "bash",
            "-c",
            FRESH_ENGINE,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    fresh, killed, again = done.stdout.split("== ")[1:]
    assert fresh.splitlines()[1:] == [
        "setup-engine: starting dockerd (log: /var/log/dockerd.log)",
        "setup-engine: turning the engine into a one-node swarm",
        "setup-engine: making lain-local/busybox:latest from busybox-static",
        READY_WITHOUT_ROUTER_BASE,
    ]
    # The pid file of the killed daemon is stale; the swarm and the image survive the restart.
    stale, *rest = killed.splitlines()[1:]
    assert re.fullmatch(
        r"setup-engine: removing stale /var/run/docker.pid \(pid \d+ is not a running dockerd\)",
        stale,
    )
    assert rest == [
        "setup-engine: starting dockerd (log: /var/log/dockerd.log)",
        READY_WITHOUT_ROUTER_BASE,
    ]
    assert again.splitlines()[1:] == [READY_WITHOUT_ROUTER_BASE, "swarm: active 127.0.0.1"]
