"""`lain one-off` on the real swarm: a proc's release run once with its env and secret files,
its exit status, an interactive shell, and nothing left behind or counted as a proc."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from swarm_apps import TestApp, app_on_test_cluster, push_version
from test_run_exec import _in_terminal
from test_secrets import SECRET_PATH, secret_app

from lain_cli.exit import ExitStatus
from lain_sdk.cluster.names import LABEL_ONEOFF
from lain_sdk.cluster.oneoff import run_oneoff
from lain_sdk.cluster.session import Cluster
from lain_sdk.cluster.status import app_status

TIMEOUT = "90"


@pytest.fixture
def app(docker_client: Any, registry: Any, base_image: str, lain: Any) -> Iterator[TestApp]:
    with app_on_test_cluster(docker_client, registry.host, lain, "lo") as made:
        yield made


def oneoffs(client: Any, app: TestApp) -> list[str]:
    services = client.api.services(filters={"label": [f"lain.app={app.name}", LABEL_ONEOFF]})
    return [s["Spec"]["Name"] for s in services]


def test_a_oneoff_runs_the_release_and_leaves_nothing(
    docker_client: Any, app: TestApp, lain: Any
) -> None:
    lain_yaml = secret_app(app.name, extra="  env:\n    - GREETING=hello\n")
    push_version(docker_client, app, lain_yaml, "page one-off")
    added = lain("secret", "add", "web", SECRET_PATH, "--value", "one-off value", "-a", app.name)
    assert added.exit_code == ExitStatus.OK, added.stderr
    deployed = lain("deploy", "-a", app.name, "--timeout", TIMEOUT)
    assert deployed.exit_code == ExitStatus.OK, deployed.stderr

    # The proc's env and secret file; stdout and stderr apart; the command's exit status.
    script = f"echo $GREETING $LAIN_INSTANCE_NO; cat {SECRET_PATH}; echo; echo oops >&2; exit 3"
    ran = lain("one-off", "-a", app.name, "web", "--timeout", "60", "--", "sh", "-c", script)
    assert ran.exit_code == 3, ran.stderr
    assert ran.stdout == "hello 0\none-off value\n"
    assert "oops\n" in ran.stderr and f"{app.name}__web-oneoff-" in ran.stderr
    assert oneoffs(docker_client, app) == []

    # While one runs, ps does not count it; closing the session stops it and removes it.
    cluster = Cluster(app.settings(), engine=docker_client)
    session = run_oneoff(app.name, "web", ["sleep", "60"], cluster=cluster, timeout=60)
    try:
        assert oneoffs(docker_client, app) == [session.oneoff.service]
        assert [p.proc for p in app_status(app.name, cluster=cluster).procs] == ["web"]
        ps = lain("-o", "json", "ps", "-a", app.name)
        assert ps.exit_code == ExitStatus.OK, ps.stderr
        assert [p["proc"] for p in json.loads(ps.stdout)["procs"]] == ["web"]
    finally:
        session.close()
    assert oneoffs(docker_client, app) == []

    # An interactive shell on a terminal.
    output, status = _in_terminal(
        ["one-off", "-it", "-a", app.name, "web", "--", "sh"],
        keys=b"tty; echo $GREETING; exit 5\n",
        rows=24,
        columns=80,
    )
    assert status == 5, output
    assert b"/dev/pts/" in output and b"hello" in output
    assert oneoffs(docker_client, app) == []

    ghost = lain("one-off", "-a", app.name, "ghost", "--", "true")
    assert ghost.exit_code == ExitStatus.NOT_FOUND and "deployed procs: web" in ghost.stderr
