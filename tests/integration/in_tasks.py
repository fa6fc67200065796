"""Running commands inside the task containers of a deployed proc, to test what it can reach.

Busybox's ``wget -T`` crashes in the test image, so every command runs under busybox
``timeout`` instead: an address that does not answer must not hang a test.
"""

from __future__ import annotations

import time
from typing import Any

from lain_sdk.cluster.names import service_name

SLEEPER = "[sh, -c, 'trap \"exit 0\" TERM; while true; do sleep 1; done']"


def task_container(client: Any, app: str, proc: str) -> Any:
    """A running container of the proc's service on this engine."""
    service = service_name(app, proc)
    found = client.containers.list(
        filters={"label": f"com.docker.swarm.service.name={service}", "status": "running"}
    )
    assert found, f"no running container of {service}"
    return found[0]


def run_in(client: Any, app: str, proc: str, command: str, timeout: int = 5) -> tuple[int, str]:
    """Run a shell command in one of the proc's containers; its exit code and output."""
    container = task_container(client, app, proc)
    code, output = container.exec_run(["timeout", str(timeout), "sh", "-c", command])
    return code, output.decode("utf-8", "replace")


def fetch(client: Any, app: str, proc: str, url: str) -> tuple[int, str]:
    """``wget`` a URL from inside the proc's container."""
    return run_in(client, app, proc, f"wget -q -O - {url}")


def wait_fetch(
    client: Any, app: str, proc: str, url: str, expected: str, timeout: float = 20.0
) -> str:
    """Fetch from inside the proc until the answer contains ``expected`` (DNS records of new
    tasks take a moment to reach every container)."""
    deadline = time.monotonic() + timeout
    last = (0, "")
    while time.monotonic() < deadline:
        last = fetch(client, app, proc, url)
        if last[0] == 0 and expected in last[1]:
            return last[1]
        time.sleep(0.5)
    raise AssertionError(
        f"{app} {proc} did not get {expected!r} from {url} within {timeout}s: {last}"
    )
