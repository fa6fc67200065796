"""Bad input on the real swarm: refused with a usage error before anything is sent.

Values out of lain's bounds (instances, CPU, memory, a secret's size) are exit 2 with nothing
sent to the engine and no release recorded; resource templates that would run forever or build
a huge string are stopped within seconds.  While a bad value is tried, every request this
process sends is seen by ``requests_sent``, which refuses it before it leaves: even if a check
failed, no huge scale could reach the swarm.
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from swarm_apps import CHECK, WEB_CMD, TestApp, push_version

from lain_cli.exit import ExitStatus
from lain_sdk.cluster.scale import scale_proc
from lain_sdk.errors import InvalidArgument
from lain_sdk.events import drain

TIMEOUT = "90"
REPO = Path(__file__).resolve().parents[2]

APP = f"""\
appname: {{name}}
build:
  base: lain-local/busybox:latest
web:
  cmd: {WEB_CMD}
  memory: 16m
  container_healthcheck:
    cmd: {CHECK}
    options: {{{{interval: 1, timeout: 1, retries: 1}}}}
"""


@pytest.fixture
def deployed(new_app: Any, lain: Any, docker_client: Any) -> TestApp:
    """A one-instance web app deployed with `lain deploy` on the test cluster."""
    app = new_app("bd")
    added = lain("cluster", "add", "test", "--registry", app.registry, "--publish-ports", "--use")
    assert added.exit_code == ExitStatus.OK, added.stderr
    push_version(docker_client, app, APP.format(name=app.name), "page")
    done = lain("deploy", "-a", app.name, "--timeout", TIMEOUT)
    assert done.exit_code == ExitStatus.OK, done.stderr
    return app


@contextlib.contextmanager
def requests_sent(*, reads: bool) -> Iterator[list[str]]:
    """``METHOD path`` of every HTTP request this process sends inside the block (the engine
    and the registries are reached through requests, over its socket adapter too).  Each one
    is refused before it leaves, or, with ``reads``, each one that is not a GET: even if a check
    failed, nothing out of bounds could reach the swarm."""
    seen: list[str] = []
    send = requests.Session.send

    def guarded(self: requests.Session, request: requests.PreparedRequest, **kw: Any) -> Any:
        seen.append(f"{request.method} {request.path_url}")
        if not reads or request.method != "GET":
            raise AssertionError(f"a request was sent: {seen[-1]}")
        return send(self, request, **kw)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(requests.Session, "send", guarded)
        yield seen


def web_version(client: Any, app: TestApp) -> int:
    return int(client.api.inspect_service(f"{app.name}__web")["Version"]["Index"])


def releases(lain: Any, app: TestApp) -> list[tuple[int, str]]:
    listed = lain("-o", "json", "releases", "-a", app.name)
    assert listed.exit_code == ExitStatus.OK, listed.stderr
    return [(r["number"], r["kind"]) for r in json.loads(listed.stdout)["releases"][::-1]]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["-n", "1001"], "instances must be a whole number from 0 to 1000, not 1001"),
        (["-n", "100000000000"], "instances must be a whole number from 0 to 1000"),
        (["-n", "99999999999999999999999"], "instances must be a whole number from 0 to 1000"),
        (["--cpu", "inf"], "cpu must be a number of CPUs from 0.01 to 1024, not inf"),
        (["--cpu", "nan"], "cpu must be a number of CPUs from 0.01 to 1024, not nan"),
        (["--cpu", "1e30"], "cpu must be a number of CPUs from 0.01 to 1024"),
        (["--memory", "999999999999999999999g"], "memory must be at most 1024g (1 TiB"),
    ],
)
def test_scale_out_of_bounds_is_exit_2_with_nothing_sent_and_no_release(
    deployed: TestApp, docker_client: Any, lain: Any, args: list[str], says: str
) -> None:
    before = web_version(docker_client, deployed)
    assert releases(lain, deployed) == [(1, "deploy")]
    with requests_sent(reads=False) as seen:
        for env in ({}, {"LAIN_DEBUG": "1"}):  # a traceback does not change the status
            result = lain("scale", "web", *args, "-a", deployed.name, env=env)
            assert result.exit_code == ExitStatus.USAGE, result.stderr
            assert says in result.stderr
    assert seen == []  # not one request: the value was refused while reading the command line
    assert web_version(docker_client, deployed) == before
    assert releases(lain, deployed) == [(1, "deploy")]


@pytest.mark.parametrize(
    "values",
    [{"instances": 1001}, {"cpu": float("inf")}, {"memory": "999999999999999999999g"}],
)
def test_scale_proc_refuses_the_same_before_the_engine(
    deployed: TestApp, docker_client: Any, lain: Any, values: dict[str, Any]
) -> None:
    before = web_version(docker_client, deployed)
    with requests_sent(reads=False) as seen, pytest.raises(InvalidArgument):
        drain(scale_proc(deployed.name, "web", cluster=deployed.cluster(), **values))
    assert seen == [] and web_version(docker_client, deployed) == before
    assert releases(lain, deployed) == [(1, "deploy")]


def test_a_secret_over_500_kib_is_exit_2_naming_the_file_and_the_limit(
    deployed: TestApp, docker_client: Any, lain: Any
) -> None:
    value = io.BytesIO(b"x" * (600 * 1024))
    with requests_sent(reads=True) as seen:
        result = lain("secret", "add", "web", "/etc/big.conf", "-a", deployed.name, input=value)
    assert result.exit_code == ExitStatus.USAGE, result.stderr
    assert result.stderr == (
        "lain: error: the value of secret file /etc/big.conf has more than 512000 bytes; Swarm "
        "stores at most 500 KiB per secret\n"
    )
    assert not [r for r in seen if "/secrets" in r]
    assert docker_client.api.secrets(filters={"label": f"lain.app={deployed.name}"}) == []
    assert releases(lain, deployed) == [(1, "deploy")]


# -- resource templates --------------------------------------------------------------------------

ATTACKS = {
    "nested-loops": (
        "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
        "range() of 100000 items is over the limit of 10000",
    ),
    "huge-string": (
        "{{ 'A' * 300000000 }}",
        "repeating a value would be larger than 65536 characters or items",
    ),
}


def resource_text(name: str, template: str) -> str:
    return f"""\
appname: {name}
apptype: resource
build:
  base: lain-local/busybox:latest
service.kv:
  cmd: {json.dumps(template)}
  port: 80
  memory: 16m
  portal: {{}}
"""


# A client of the resource whose parameter n makes the template explode.
CLIENT = """\
appname: {name}
build:
  base: lain-local/busybox:latest
worker:
  cmd: [sleep, "3600"]
  memory: 8m
use_resources:
  {resource}:
    services: [kv]
    n: 300000000
"""


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_validate_of_a_template_attack_ends_within_seconds(tmp_path: Path, attack: str) -> None:
    template, says = ATTACKS[attack]
    (tmp_path / "lain.yaml").write_text(resource_text("attacker", template))
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "lain_cli", "validate", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert time.monotonic() - started < 10
    assert done.returncode == ExitStatus.CONFIG_INVALID, done.stderr
    assert f"service.kv.cmd: the template was stopped: {says}" in done.stderr


def test_a_client_deploy_stops_a_template_that_explodes_with_its_parameters(
    new_app: Any, lain: Any, docker_client: Any
) -> None:
    # Harmless with its defaults (validation renders those); 300 MB with the client's n.
    resource, client = new_app("bt"), new_app("bc")
    added = lain("cluster", "add", "test", "--registry", client.registry, "--use")
    assert added.exit_code == ExitStatus.OK, added.stderr
    text = resource_text(resource.name, "{{ 'A' * (n|default(1)) }}")
    push_version(docker_client, resource, text, "resource")
    uses = CLIENT.format(name=client.name, resource=resource.name)
    push_version(docker_client, client, uses, "client")
    started = time.monotonic()
    result = lain("deploy", "-a", client.name, "--timeout", TIMEOUT)
    assert time.monotonic() - started < 30
    assert result.exit_code == ExitStatus.CONFIG_INVALID, result.stderr
    assert "service.kv.cmd: the template was stopped: repeating a value" in result.stderr
    assert docker_client.api.services(filters={"label": f"lain.app={client.name}"}) == []
