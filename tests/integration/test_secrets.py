"""Secret files on the real swarm: versions, rollout, rollback, missing files, and no leaks."""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from in_tasks import task_container
from swarm_apps import CHECK, WEB_CMD, TestApp, app_on_test_cluster, push_version

from lain_cli.exit import ExitStatus
from lain_sdk import read_secret

TIMEOUT = "90"
SECRET_PATH = "/lain/app/config/app.conf"


def secret_app(name: str, secret_files: str = "[config/app.conf]", extra: str = "") -> str:
    """A one-instance web proc that declares ``secret_files`` (lain.yaml text)."""
    return f"""\
appname: {name}
build:
  base: lain-local/busybox:latest
web:
  cmd: {WEB_CMD}
  memory: 16m
  secret_files: {secret_files}
{extra}  container_healthcheck:
    cmd: {CHECK}
    options: {{interval: 1, timeout: 1, retries: 1}}
"""


@pytest.fixture
def app(docker_client: Any, registry: Any, base_image: str, lain: Any) -> Iterator[TestApp]:
    with app_on_test_cluster(docker_client, registry.host, lain, "ls") as made:
        yield made


def in_web(client: Any, app: TestApp, command: str) -> bytes:
    """What ``command`` prints in the running web container (exit status 0 asserted)."""
    code, output = task_container(client, app.name, "web").exec_run(["sh", "-c", command])
    assert code == 0, output
    return bytes(output)


def service_spec(client: Any, app: TestApp) -> dict[str, Any]:
    return client.api.inspect_service(f"{app.name}__web")["Spec"]


def release_config_texts(client: Any, app: TestApp) -> list[str]:
    configs = client.api.configs(filters={"label": f"lain.app={app.name}"})
    return [base64.b64decode(c["Spec"]["Data"]).decode("utf-8", "replace") for c in configs]


def test_secret_versions_roll_out_and_back(docker_client: Any, app: TestApp, lain: Any) -> None:
    first = b"v1-" + secrets.token_hex(8).encode() + b"\x00\xff binary\n"
    second = "v2-" + secrets.token_hex(8)
    values = [first.decode("latin-1")[:19], second]  # the tokens, as any output would show them
    outputs: list[Any] = []

    def cli(*args: str, input: Any = None) -> Any:
        result = lain(*args, input=input)
        outputs.append(result)
        return result

    mv = push_version(docker_client, app, secret_app(app.name), "page")

    # Added before the first deploy, from stdin; a relative path is inside /lain/app.
    added = cli("secret", "add", "web", "config/app.conf", "-a", app.name, input=first)
    assert added.exit_code == ExitStatus.OK, added.stderr
    assert "as version 1" in added.stdout and "not deployed" in added.stdout
    listed = json.loads(cli("-o", "json", "secret", "ls", "-a", app.name).stdout)["secrets"]
    assert [(r["proc"], r["path"], r["newest"], r["in_use"]) for r in listed] == [
        ("web", SECRET_PATH, 1, None)
    ]

    deployed = cli("deploy", "-a", app.name, "--timeout", TIMEOUT)
    assert deployed.exit_code == ExitStatus.OK, deployed.stderr
    assert in_web(docker_client, app, f"cat {SECRET_PATH}") == first
    assert in_web(docker_client, app, f"stat -c '%a %u %g' {SECRET_PATH}") == b"400 0 0\n"
    mounted = service_spec(docker_client, app)["TaskTemplate"]["ContainerSpec"]["Secrets"]
    assert [(m["File"]["Name"], m["File"]["Mode"]) for m in mounted] == [(SECRET_PATH, 0o400)]

    # A new version rolls out to the running proc at once, recorded as a release.
    rotated = cli(
        "-o", "json", "secret", "add", "web", SECRET_PATH, "--value", second, "-a", app.name
    )
    assert rotated.exit_code == ExitStatus.OK, rotated.stderr
    result = json.loads(rotated.stdout)
    assert result["version"] == 2 and result["rollout"]["release"]["number"] == 2
    assert result["rollout"]["release"]["kind"] == "secret"
    assert in_web(docker_client, app, f"cat {SECRET_PATH}") == second.encode()
    history = json.loads(cli("-o", "json", "releases", "-a", app.name).stdout)["releases"]
    assert [(r["number"], r["kind"], r["procs"]["web"]["secrets"]) for r in history] == [
        (2, "secret", {SECRET_PATH: 2}),
        (1, "deploy", {SECRET_PATH: 1}),
    ]

    # Rollback restores the previous secret version with the rest of the release.
    rolled = cli("rollback", "-a", app.name, "--timeout", TIMEOUT)
    assert rolled.exit_code == ExitStatus.OK, rolled.stderr
    assert in_web(docker_client, app, f"cat {SECRET_PATH}") == first
    listed = json.loads(cli("-o", "json", "secret", "ls", "web", "-a", app.name).stdout)["secrets"]
    assert [(r["newest"], r["in_use"]) for r in listed] == [(2, 1)]
    assert [v["version"] for v in listed[0]["versions"]] == [1, 2]
    assert "@" in listed[0]["versions"][0]["by"] and listed[0]["versions"][0]["created"]
    text = cli("secret", "ls", "-a", app.name)
    assert "1,2" in text.stdout and "v1" in text.stdout

    # Only `secret show` prints a value: exactly, binary included.
    old = read_secret(
        app.name,
        "web",
        "config/app.conf",
        cluster=app.cluster(),
        version=1,
    )
    assert (old.version, old.content) == (1, first) and first not in repr(old).encode()
    shown = lain("secret", "show", "web", "config/app.conf", "-a", app.name)
    assert shown.exit_code == ExitStatus.OK, shown.stderr
    assert shown.stdout == second
    shown = lain("-o", "json", "secret", "show", "web", SECRET_PATH, "-a", app.name)
    assert json.loads(shown.stdout) == {
        "app": app.name,
        "proc": "web",
        "path": SECRET_PATH,
        "version": 2,
        "content": second,
    }
    assert not docker_client.api.services(filters={"label": "lain.secret.reader"})

    # A mounted version cannot be removed; an unused one can, and then its release is gone
    # for rollbacks.
    refused = cli("secret", "rm", "web", SECRET_PATH, "-a", app.name)
    assert refused.exit_code == ExitStatus.CLUSTER_ERROR
    assert f"{app.name}__web" in refused.stderr and "nothing was removed" in refused.stderr
    removed = cli("secret", "rm", "web", SECRET_PATH, "--secret-version", "2", "-a", app.name)
    assert removed.exit_code == ExitStatus.OK, removed.stderr
    back_to_2 = cli("rollback", "2", "-a", app.name)
    assert back_to_2.exit_code == ExitStatus.NOT_FOUND
    assert "release 2" in back_to_2.stderr and f"{SECRET_PATH} version 2" in back_to_2.stderr
    # Version numbers are never given twice while the history remembers them.
    again = cli(
        "secret", "add", "web", SECRET_PATH, "--value", second, "--no-rollout", "-a", app.name
    )
    assert "as version 3" in again.stdout and "not rolled out" in again.stdout

    # No value anywhere but in the mounted file: outputs, specs, containers, release records.
    cli("ps", "-a", app.name)
    cli("-o", "json", "ps", "-a", app.name)
    cli("deploy", "--plan", "-a", app.name, "-v", mv)
    cli("-o", "json", "deploy", "--plan", "-a", app.name, "-v", mv)
    cli("releases", "-a", app.name)
    web_container = task_container(docker_client, app.name, "web")
    inspected = [
        json.dumps(docker_client.api.inspect_service(f"{app.name}__web")),
        json.dumps(docker_client.api.inspect_container(web_container.id)),
        *release_config_texts(docker_client, app),
        json.dumps(docker_client.api.secrets(filters={"label": f"lain.app={app.name}"})),
    ]
    for value in values:
        for result in outputs:
            assert value not in result.stdout and value not in result.stderr
        for text in inspected:
            assert value not in text

    # Undeploy keeps the secrets; --purge removes them with the history.
    assert cli("undeploy", "-a", app.name).exit_code == ExitStatus.OK
    assert len(docker_client.api.secrets(filters={"label": f"lain.app={app.name}"})) == 2
    purged = cli("-o", "json", "undeploy", "--purge", "--yes", "-a", app.name)
    assert purged.exit_code == ExitStatus.OK, purged.stderr
    assert json.loads(purged.stdout)["secrets_removed"] == 2
    assert docker_client.api.secrets(filters={"label": f"lain.app={app.name}"}) == []


def test_missing_secret_fails_before_any_change(
    docker_client: Any, app: TestApp, lain: Any
) -> None:
    plain = push_version(docker_client, app, secret_app(app.name, "[]"), "page plain")
    needs = push_version(docker_client, app, secret_app(app.name), "page needs")
    bypass = push_version(
        docker_client,
        app,
        secret_app(app.name, extra="  secret_files_bypass: true\n"),
        "page bypass",
    )

    # Nothing deployed yet: the first deploy fails, creating nothing.
    failed = lain("deploy", "-a", app.name, "-v", needs)
    assert failed.exit_code == ExitStatus.NOT_FOUND, failed.stderr
    assert f"proc web: {SECRET_PATH}" in failed.stderr
    assert f"secret add -a {app.name} web {SECRET_PATH}" in failed.stderr
    assert docker_client.api.services(filters={"label": f"lain.app={app.name}"}) == []
    assert json.loads(lain("-o", "json", "releases", "-a", app.name).stdout)["releases"] == []
    plan = lain("deploy", "--plan", "-a", app.name, "-v", needs)
    assert plan.exit_code == ExitStatus.NOT_FOUND

    # Deployed: the upgrade that needs a missing file leaves the running service alone.
    assert lain("deploy", "-a", app.name, "-v", plain).exit_code == ExitStatus.OK
    before = docker_client.api.inspect_service(f"{app.name}__web")["Version"]["Index"]
    failed = lain("deploy", "-a", app.name, "-v", needs)
    assert failed.exit_code == ExitStatus.NOT_FOUND
    assert "nothing was changed" in failed.stderr
    assert docker_client.api.inspect_service(f"{app.name}__web")["Version"]["Index"] == before
    assert len(json.loads(lain("-o", "json", "releases", "-a", app.name).stdout)["releases"]) == 1

    # secret_files_bypass: deployed without the file, with a warning.
    passed = lain("deploy", "-a", app.name, "-v", bypass, "--timeout", TIMEOUT)
    assert passed.exit_code == ExitStatus.OK, passed.stderr
    assert f"warning: proc web of {app.name} declares secret file {SECRET_PATH}" in passed.stderr
    assert "Secrets" not in service_spec(docker_client, app)["TaskTemplate"]["ContainerSpec"]
    assert in_web(docker_client, app, f"test -e {SECRET_PATH} || echo absent") == b"absent\n"

    # Once added, the bypassing proc gets it rolled out.
    added = lain("secret", "add", "web", SECRET_PATH, "--value", "late", "-a", app.name)
    assert added.exit_code == ExitStatus.OK, added.stderr
    assert "rolled out as release" in added.stdout
    assert in_web(docker_client, app, f"cat {SECRET_PATH}") == b"late"

    # Bad input is refused before the cluster is asked anything.
    bad = lain("secret", "add", "web", "/lain/app", "--value", "x", "-a", app.name)
    assert bad.exit_code == ExitStatus.USAGE and "directory" in bad.stderr
    empty = lain("secret", "add", "web", "x.conf", "-a", app.name, input="")
    assert empty.exit_code == ExitStatus.USAGE
    unknown = lain("secret", "show", "web", "nope.conf", "-a", app.name)
    assert unknown.exit_code == ExitStatus.NOT_FOUND and "/lain/app/nope.conf" in unknown.stderr


def readers(client: Any, app: TestApp) -> list[dict[str, Any]]:
    label = {"label": f"lain.app={app.name}"}
    return [
        s
        for s in client.api.services(filters=label)
        if s["Spec"]["Name"].startswith("lain-secret-read-")
    ]


def test_a_killed_read_leaves_no_value_anywhere_and_the_next_read_cleans_up(
    docker_client: Any, app: TestApp, lain: Any
) -> None:
    value = "killed-read-" + secrets.token_hex(8)
    push_version(docker_client, app, secret_app(app.name), "page")
    added = lain("secret", "add", "web", "config/app.conf", "-a", app.name, "--value", value)
    assert added.exit_code == ExitStatus.OK, added.stderr

    # A read killed while its reader task runs (a CI job's timeout does this).
    show = ["secret", "show", "web", "config/app.conf", "-a", app.name, "--timeout", "3"]
    reading = subprocess.Popen([sys.executable, "-m", "lain_cli", *show], stdout=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not any(
        t["Status"]["State"] == "running"
        for r in readers(docker_client, app)
        for t in docker_client.api.tasks(filters={"service": r["ID"]})
    ):
        assert time.monotonic() < deadline and reading.poll() is None, "no reader ran"
        time.sleep(0.05)
    reading.kill()
    reading.wait(timeout=10)
    (left,) = readers(docker_client, app)

    # What it left holds no value: no log at all, and no file under the engine's data dir.
    for task in docker_client.api.tasks(filters={"service": left["ID"]}):
        container = task["Status"]["ContainerStatus"]["ContainerID"]
        inspected = docker_client.api.inspect_container(container)
        assert inspected["HostConfig"]["LogConfig"]["Type"] == "none"
        assert not inspected["LogPath"]
    root = docker_client.info()["DockerRootDir"]
    # While the reader runs, only its secrets tmpfs holds the value, as for any proc (and no
    # file holds it encoded, as a log of base64 lines would).
    encoded = base64.b64encode(value.encode()).decode()
    for path in files_holding(value, f"{root}/containers"):
        assert filesystem_of(path) == "tmpfs", path
    assert files_holding(encoded, f"{root}/containers") == []

    # Once it outlived its time it has stopped (nothing holds the value any more), and the
    # next command that reads the app's secrets removes it.
    time.sleep(3 + 5 + 1)
    assert files_holding(value, root) == [] and files_holding(encoded, root) == []
    again = lain("secret", "show", "web", "config/app.conf", "-a", app.name)
    assert again.exit_code == ExitStatus.OK, again.stderr
    assert value in again.stdout
    assert readers(docker_client, app) == []


def files_holding(text: str, directory: str) -> list[str]:
    found = subprocess.run(
        ["grep", "-rl", "--binary-files=text", text, directory], capture_output=True, text=True
    )
    assert found.returncode in (0, 1), found.stderr  # 1: no file holds it
    return found.stdout.split()


def filesystem_of(path: str) -> str:
    found = subprocess.run(
        ["findmnt", "-n", "-o", "FSTYPE", "--target", path], capture_output=True, text=True
    )
    return found.stdout.strip()


def app_secrets(client: Any, app: TestApp) -> list[str]:
    return sorted(
        s["Spec"]["Name"] for s in client.api.secrets(filters={"label": f"lain.app={app.name}"})
    )


def test_secret_add_stores_only_what_lain_yaml_declares(
    docker_client: Any, app: TestApp, lain: Any
) -> None:
    # No version anywhere: refused, saying why; --undeclared stores it ahead of the lain.yaml.
    add = ["secret", "add", "web", "config/app.conf", "-a", app.name]
    nothing = lain(*add, "--value", "early")
    assert nothing.exit_code == ExitStatus.NOT_FOUND, nothing.stderr
    assert (
        f"{app.name} is not deployed on cluster test and registry {app.registry} has no version "
        f"of it, so no lain.yaml says whether proc web declares {SECRET_PATH}" in nothing.stderr
    )
    assert "--undeclared" in nothing.stderr  # the hint
    assert app_secrets(docker_client, app) == []
    ahead = lain(*add, "--value", "early", "--undeclared")
    assert ahead.exit_code == ExitStatus.OK, ahead.stderr
    assert "lain: warning: " in ahead.stderr
    assert len(app_secrets(docker_client, app)) == 1

    # A version in the registry: its lain.yaml decides (the app is not deployed yet).
    mv = push_version(docker_client, app, secret_app(app.name), "page")
    no_proc = lain("secret", "add", "nosuchproc", "a.txt", "--value", "x", "-a", app.name)
    assert no_proc.exit_code == ExitStatus.NOT_FOUND
    assert (
        f"{app.name} has no proc nosuchproc in the lain.yaml of version {mv}, the newest in "
        f"registry {app.registry} (its procs: web); nothing was stored" in no_proc.stderr
    )
    assert len(app_secrets(docker_client, app)) == 1

    # The file stored ahead is what the first deploy mounts.
    deployed = lain("deploy", "-a", app.name, "--timeout", TIMEOUT)
    assert deployed.exit_code == ExitStatus.OK, deployed.stderr
    assert in_web(docker_client, app, f"cat {SECRET_PATH}") == b"early"

    # Deployed: the running release's lain.yaml decides.
    other = lain("secret", "add", "web", "other.conf", "--value", "x", "-a", app.name)
    assert other.exit_code == ExitStatus.NOT_FOUND
    assert (
        f"proc web of {app.name} does not declare /lain/app/other.conf in secret_files in the "
        f"lain.yaml of release 1, version {mv} (it declares: {SECRET_PATH}); nothing was stored"
        in other.stderr
    )
    assert len(app_secrets(docker_client, app)) == 1
