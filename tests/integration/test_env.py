"""Config vars on the real swarm: set before and after the first deploy, roll out as releases,
merged over lain.yaml's env, hidden in listings, never in labels or records, rolled back."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from in_tasks import task_container
from swarm_apps import CHECK, WEB_CMD, TestApp, app_on_test_cluster, push_version

from lain_cli.exit import ExitStatus

TIMEOUT = "90"


def env_app(name: str) -> str:
    return f"""\
appname: {name}
build:
  base: lain-local/busybox:latest
web:
  cmd: {WEB_CMD}
  memory: 16m
  env: [MODE=yaml, KEEP=1]
  container_healthcheck:
    cmd: {CHECK}
    options: {{interval: 1, timeout: 1, retries: 1}}
"""


@pytest.fixture
def app(docker_client: Any, registry: Any, base_image: str, lain: Any) -> Iterator[TestApp]:
    with app_on_test_cluster(docker_client, registry.host, lain, "env") as made:
        yield made


def web_env(client: Any, app: TestApp, name: str) -> str:
    """The value of ``name`` in the running web container ("-" when unset)."""
    code, output = task_container(client, app.name, "web").exec_run(
        ["sh", "-c", f'echo "${{{name}:--}}"']
    )
    assert code == 0, output
    return bytes(output).decode().strip()


def test_config_vars_roll_out_hide_and_roll_back(
    docker_client: Any, app: TestApp, lain: Any
) -> None:
    token = "tok-" + secrets.token_hex(8)
    outputs: list[Any] = []

    def cli(*args: str) -> Any:
        result = lain(*args)
        if "--show" not in args:
            outputs.append(result)
        assert result.exit_code == ExitStatus.OK, (args, result.stderr)
        return result

    push_version(docker_client, app, env_app(app.name), "page")
    stored = cli("env", "set", "-a", app.name, "MODE=cluster")
    assert "not deployed; its next deploy applies them" in stored.stdout
    cli("deploy", "-a", app.name, "--timeout", TIMEOUT)
    # Config vars win over lain.yaml's env; the rest of it stays.
    assert web_env(docker_client, app, "MODE") == "cluster"
    assert web_env(docker_client, app, "KEEP") == "1"

    changed = cli("-o", "json", "env", "set", "-a", app.name, f"API_TOKEN={token}")
    result = json.loads(changed.stdout)
    assert result["rollout"]["release"]["kind"] == "env" and result["version"] == 2
    assert web_env(docker_client, app, "API_TOKEN") == token

    listed = cli("env", "ls", "-a", app.name)
    assert "API_TOKEN  (hidden)" in listed.stdout and token not in listed.stdout
    assert token in cli("env", "ls", "-a", app.name, "--show").stdout

    # Nowhere but the service's Env: not its labels, the release records or other output.
    spec = docker_client.api.inspect_service(f"{app.name}__web")["Spec"]
    assert token not in json.dumps(spec["Labels"]) and token not in json.dumps(
        spec["TaskTemplate"]["ContainerSpec"].get("Labels") or {}
    )
    configs = docker_client.api.configs(filters={"label": f"lain.app={app.name}"})
    assert configs and all(
        token not in base64.b64decode(c["Spec"]["Data"]).decode() for c in configs
    )
    assert token not in cli("-o", "json", "releases", "-a", app.name).stdout
    secrets_listed = docker_client.api.secrets(filters={"label": f"lain.app={app.name}"})
    assert secrets_listed and token not in json.dumps(secrets_listed)

    # Rollback takes the token out again; unset brings lain.yaml's value back.
    cli("rollback", "-a", app.name, "--timeout", TIMEOUT)
    assert web_env(docker_client, app, "API_TOKEN") == "-"
    assert web_env(docker_client, app, "MODE") == "cluster"
    cli("env", "unset", "-a", app.name, "MODE", "--timeout", TIMEOUT)
    assert web_env(docker_client, app, "MODE") == "yaml"
    kinds = [
        r["kind"]
        for r in json.loads(cli("-o", "json", "releases", "-a", app.name).stdout)["releases"]
    ]
    assert sorted(kinds) == ["deploy", "env", "env", "rollback"]
    assert all(token not in o.stdout + o.stderr for o in outputs)
