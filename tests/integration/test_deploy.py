"""Deploy, upgrade, scale, rollback, failures, locks and interruptions on the real swarm."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from apps import unique_app_name
from swarm_apps import TestApp, cleanup, push_version, wait_http, web_app

import lain_sdk
from lain_cli.exit import ExitStatus
from lain_cli.tables import short_version
from lain_sdk import (
    app_status,
    deploy_app,
    list_releases,
    plan_deploy,
    rollback_app,
    scale_proc,
    undeploy_app,
)
from lain_sdk.cluster.lock import acquire_lock
from lain_sdk.errors import DeployFailed, LockHeld
from lain_sdk.events import LockWaiting, ProcChanged
from lain_sdk.settings import LOCAL_ROUTER_BASE

TIMEOUT = 90


@pytest.fixture
def app(docker_client: Any, registry: Any, base_image: str) -> Iterator[TestApp]:
    made = TestApp(unique_app_name("ld"), registry.host, engine=docker_client)
    yield made
    cleanup(docker_client, made.name, made.images)


@pytest.fixture
def use_cluster(lain: Any, app: TestApp) -> None:
    """Select a cluster with the test registry for the CLI."""
    result = lain(
        "cluster",
        "add",
        "test",
        "--registry",
        app.registry,
        "--publish-ports",
        "--router-base-image",
        LOCAL_ROUTER_BASE,
        "--insecure-registry",
        "--use",
    )
    assert result.exit_code == ExitStatus.OK, result.stderr


def run(operation: Any) -> Any:
    events: list[Any] = []
    result = lain_sdk.drain(operation, on_event=events.append)
    return result, events


def web_spec(client: Any, app: TestApp) -> dict[str, Any]:
    return client.api.inspect_service(f"{app.name}__web")


def addresses(client: Any, app: TestApp) -> list[str]:
    status = app_status(app.name, cluster=app.cluster())
    return [i.address for p in status.procs for i in p.instances if i.desired_state == "running"]


def test_deploy_upgrade_scale_rollback_undeploy(
    docker_client: Any, app: TestApp, lain: Any, use_cluster: None
) -> None:
    cluster = app.cluster()
    v1 = push_version(docker_client, app, web_app(app.name), "page v1")
    v2 = push_version(docker_client, app, web_app(app.name), "page v2")

    # First deploy: the newest version by default (v2 is newer); deploy v1 explicitly.
    result, events = run(deploy_app(app.name, cluster=cluster, version=v1, timeout=TIMEOUT))
    assert result.release.number == 1 and result.release.outcome == "succeeded"
    assert any(isinstance(e, ProcChanged) and e.action == "created" for e in events)
    service = web_spec(docker_client, app)
    spec = service["Spec"]
    assert spec["Mode"]["Replicated"]["Replicas"] == 2
    assert spec["TaskTemplate"]["Resources"]["Limits"] == {
        "NanoCPUs": 1_000_000_000,
        "MemoryBytes": 16 * 1024 * 1024,
    }
    assert spec["EndpointSpec"]["Mode"] == "dnsrr"
    assert "@sha256:" in spec["TaskTemplate"]["ContainerSpec"]["Image"]
    for address in addresses(docker_client, app):
        assert address.startswith("127.0.0.1:")
        wait_http(address, "page v1")

    # The same deploy again changes nothing at all.
    version_before = service["Version"]["Index"]
    result, _ = run(deploy_app(app.name, cluster=cluster, version=v1, timeout=TIMEOUT))
    assert result.release is None and not result.plan.changed
    assert web_spec(docker_client, app)["Version"]["Index"] == version_before

    # --plan says what an upgrade would do and changes nothing (JSON for scripts).
    planned = lain("-o", "json", "deploy", "--plan", "-a", app.name)  # default: newest = v2
    assert planned.exit_code == ExitStatus.OK, planned.stderr
    plan = json.loads(planned.stdout)
    assert plan["meta_version"] == v2 and plan["current_release"] == 1
    web = plan["procs"][0]
    assert web["proc"] == "web" and web["action"] == "update"
    assert v2 in web["changes"]["image"]["to"]
    assert web["changes"]["env"] == {"changed": ["LAIN_APP_RELEASE_VERSION"]}
    assert web_spec(docker_client, app)["Version"]["Index"] == version_before
    releases = list_releases(app.name, cluster=cluster)
    assert [r.number for r in releases] == [1]  # neither an identical deploy nor --plan records

    # Upgrade through the CLI.
    upgraded = lain("deploy", "-a", app.name, "--timeout", str(TIMEOUT))
    assert upgraded.exit_code == ExitStatus.OK, upgraded.stderr
    assert "release 2 (deploy of " + short_version(v2) in upgraded.stdout
    assert "==> web: updated" in upgraded.stderr
    for address in addresses(docker_client, app):
        wait_http(address, "page v2")

    # Scale up with limits, then down; each is a release.
    result, _ = run(
        scale_proc(
            app.name,
            "web",
            cluster=cluster,
            instances=3,
            cpu=0.5,
            memory="24m",
            timeout=TIMEOUT,
        )
    )
    assert result.release.number == 3 and result.release.kind == "scale"
    spec = web_spec(docker_client, app)["Spec"]
    assert spec["Mode"]["Replicated"]["Replicas"] == 3
    assert spec["TaskTemplate"]["Resources"]["Limits"] == {
        "NanoCPUs": 500_000_000,
        "MemoryBytes": 24 * 1024 * 1024,
    }
    assert len(addresses(docker_client, app)) == 3
    scaled = lain("scale", "web", "-n", "1", "-a", app.name, "--timeout", str(TIMEOUT))
    assert scaled.exit_code == ExitStatus.OK, scaled.stderr
    assert web_spec(docker_client, app)["Spec"]["Mode"]["Replicated"]["Replicas"] == 1

    # Deploying the same version keeps the scaled values (lain.yaml did not change them).
    result, _ = run(deploy_app(app.name, cluster=cluster, version=v2, timeout=TIMEOUT))
    assert result.release is None
    # Bad input is refused before anything happens.
    bad = lain("scale", "web", "-n", "-1", "-a", app.name)
    assert bad.exit_code == ExitStatus.USAGE
    bad = lain("scale", "web", "--memory", "1m", "-a", app.name)
    assert bad.exit_code == ExitStatus.USAGE and "at least 6m" in bad.stderr

    # Roll back to release 1: image, instances and limits all come back at once.
    result, _ = run(rollback_app(app.name, 1, cluster=cluster, timeout=TIMEOUT))
    assert result.release.number == 5 and result.release.kind == "rollback"
    assert result.release.rollback_of == 1 and result.meta_version == v1
    spec = web_spec(docker_client, app)["Spec"]
    assert spec["Mode"]["Replicated"]["Replicas"] == 2
    assert spec["TaskTemplate"]["Resources"]["Limits"]["NanoCPUs"] == 1_000_000_000
    for address in addresses(docker_client, app):
        wait_http(address, "page v1")

    listed = lain("-o", "json", "releases", "-a", app.name)
    assert listed.exit_code == ExitStatus.OK
    history = json.loads(listed.stdout)["releases"][::-1]  # listed newest first
    assert [(x["number"], x["kind"], x["outcome"]) for x in history] == [
        (1, "deploy", "succeeded"),
        (2, "deploy", "succeeded"),
        (3, "scale", "succeeded"),
        (4, "scale", "succeeded"),
        (5, "rollback", "succeeded"),
    ]
    assert history[3]["procs"]["web"]["instances"] == 1
    assert "@" in history[0]["user"] and history[0]["meta_version"] == v1
    text = lain("releases", "-a", app.name)
    assert "rollback to 1" in text.stdout

    # The default rollback goes to the last good release before the current one (4).
    result, _ = run(rollback_app(app.name, cluster=cluster, timeout=TIMEOUT))
    assert result.release.rollback_of == 4
    assert web_spec(docker_client, app)["Spec"]["Mode"]["Replicated"]["Replicas"] == 1

    # Undeploy: services and network go, the history stays; --purge removes it too.
    gone = lain("undeploy", "-a", app.name)
    assert gone.exit_code == ExitStatus.OK, gone.stderr
    assert docker_client.api.services(filters={"label": f"lain.app={app.name}"}) == []
    assert not [
        n
        for n in docker_client.api.networks(names=[f"lain_{app.name}"])
        if n["Name"] == f"lain_{app.name}"
    ]
    assert len(list_releases(app.name, cluster=cluster)) == 6
    purged = lain("-o", "json", "undeploy", "--purge", "--yes", "-a", app.name)
    assert purged.exit_code == ExitStatus.OK, purged.stderr
    assert json.loads(purged.stdout)["releases_removed"] == 6
    assert list_releases(app.name, cluster=cluster) == []


def test_failing_healthcheck_keeps_the_old_version_serving(
    docker_client: Any, app: TestApp, lain: Any, use_cluster: None
) -> None:
    good = push_version(docker_client, app, web_app(app.name), "page good")
    broken = push_version(
        docker_client,
        app,
        web_app(app.name, check="wget -q -O /dev/null http://127.0.0.1:80/missing.html"),
        "page broken",
    )
    run(
        deploy_app(
            app.name,
            cluster=app.cluster(),
            version=good,
            timeout=TIMEOUT,
        )
    )
    before = addresses(docker_client, app)

    failed = lain("deploy", "-a", app.name, "-v", broken, "--timeout", str(TIMEOUT))
    assert failed.exit_code == ExitStatus.DEPLOY_FAILED, failed.stderr
    assert "proc web:" in failed.stderr
    assert "rolled the service back" in failed.stderr
    assert "404 Not Found" in failed.stderr  # what the healthcheck said
    assert f"Release 1 ({good}) keeps serving" in failed.stderr
    # Swarm may replace an old task while it rolls back (its restart of the failed
    # new task can take the slot), so the instances are counted, not compared.
    after = addresses(docker_client, app)
    assert len(after) == len(before)
    for address in after:
        assert wait_http(address, "page good")
    history = list_releases(app.name, cluster=app.cluster())
    assert [(x.number, x.outcome) for x in history] == [(1, "succeeded"), (2, "failed")]
    assert "web:" in history[1].reason
    ps = json.loads(lain("-o", "json", "ps", "-a", app.name).stdout)
    assert ps["procs"][0]["version"] == good and ps["healthy"]


def test_first_deploy_that_never_gets_healthy(docker_client: Any, app: TestApp) -> None:
    broken = push_version(
        docker_client, app, web_app(app.name, check="test -f /nope"), "page broken"
    )
    with pytest.raises(DeployFailed) as caught:
        run(
            deploy_app(
                app.name,
                cluster=app.cluster(),
                version=broken,
                timeout=60,
            )
        )
    message = str(caught.value)
    assert "proc web" in message and "keep failing" in message
    assert "first deploy" in message
    # The failed task's last lines come along, read from its own log (a whole service's log
    # may never end on this engine).
    printed = [line for f in caught.value.failures for line in f.logs]
    assert any(line.startswith("web ") and line.endswith(" up") for line in printed), printed
    # Nothing removed: what ran is there to look at.
    assert docker_client.api.services(filters={"name": f"{app.name}__web"})


def test_unreachable_engine_and_missing_version(
    docker_client: Any, app: TestApp, lain: Any, use_cluster: None
) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    mv = push_version(docker_client, app, web_app(app.name), "page")
    added = lain(
        "cluster",
        "add",
        "dead",
        "--docker-host",
        f"tcp://127.0.0.1:{closed}",
        "--registry",
        app.registry,
    )
    assert added.exit_code == ExitStatus.OK
    result = lain("-c", "dead", "deploy", "-a", app.name, "-v", mv)
    assert result.exit_code == ExitStatus.CLUSTER_ERROR
    assert f"tcp://127.0.0.1:{closed}" in result.stderr and "did not answer" in result.stderr
    assert "Traceback" not in result.stderr

    never = "1600000000-" + "0" * 40
    result = lain("deploy", "-a", app.name, "-v", never)
    assert result.exit_code == ExitStatus.NOT_FOUND
    assert f"version {never} of {app.name} is not in registry {app.registry}" in result.stderr
    assert short_version(mv) in result.stderr  # the versions that do exist
    result = lain("deploy", "-a", "ld-never-pushed")
    assert result.exit_code == ExitStatus.NOT_FOUND
    assert f"no version of ld-never-pushed is in registry {app.registry}" in result.stderr


def test_concurrent_deploys_take_turns(
    docker_client: Any, app: TestApp, lain: Any, use_cluster: None
) -> None:
    cluster = app.cluster()
    v1 = push_version(docker_client, app, web_app(app.name), "page v1")
    v2 = push_version(docker_client, app, web_app(app.name), "page v2")
    outcomes: dict[str, Any] = {}

    def deploy(version: str) -> None:
        try:
            outcomes[version] = run(
                deploy_app(
                    app.name,
                    cluster=cluster,
                    version=version,
                    timeout=TIMEOUT,
                )
            )
        except Exception as e:
            outcomes[version] = e

    threads = [threading.Thread(target=deploy, args=(v,)) for v in (v1, v2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=4 * TIMEOUT)
    results = [outcomes[v1], outcomes[v2]]
    assert all(isinstance(x, tuple) for x in results), results
    waited = [events for _, events in results if any(isinstance(e, LockWaiting) for e in events)]
    assert len(waited) == 1  # one proceeded, the other waited for it
    numbers = sorted(result.release.number for result, _ in results)
    assert numbers == [1, 2]
    history = list_releases(app.name, cluster=cluster)
    assert [x.outcome for x in history] == ["succeeded", "succeeded"]

    # A lock that is held for longer than the deploy's timeout: a clear error naming the holder.
    lock = lain_sdk.drain(acquire_lock(docker_client.api, app.name, operation="deploy", wait=0))
    try:
        with pytest.raises(LockHeld) as caught:
            run(deploy_app(app.name, cluster=cluster, version=v1, timeout=2))
        message = str(caught.value)
        assert f"pid {os.getpid()}" in message and "@" in message and "waited 2s" in message
        blocked = lain("scale", "web", "-n", "3", "-a", app.name, "--timeout", "1")
        assert blocked.exit_code == ExitStatus.LOCKED
        assert "waiting up to 1s for the deploy lock" in blocked.stderr
    finally:
        lock.release()


def test_deploy_killed_midway_converges_when_run_again(
    docker_client: Any, app: TestApp, use_cluster: None, isolation: Path
) -> None:
    v1 = push_version(docker_client, app, web_app(app.name, worker=True), "page v1")
    process = subprocess.Popen(
        [sys.executable, "-m", "lain_cli", "-o", "json", "deploy", "-a", app.name, "-v", v1],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 60
        for line in process.stdout:
            if '"proc-changed"' in line or time.monotonic() > deadline:
                break
        # kill -9: no finally runs, the lock stays behind and the release stays pending.
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=10)
    run(
        deploy_app(
            app.name,
            cluster=app.cluster(),
            version=v1,
            timeout=TIMEOUT,
        )
    )
    status = app_status(app.name, cluster=app.cluster())
    assert {p.proc: (p.running, p.desired) for p in status.procs} == {
        "web": (2, 2),
        "ticker": (1, 1),
    }
    assert status.healthy
    history = list_releases(app.name, cluster=app.cluster())
    assert history[-1].outcome == "succeeded"
    # And now the deploy is idempotent again.
    again, _ = run(
        deploy_app(
            app.name,
            cluster=app.cluster(),
            version=v1,
            timeout=TIMEOUT,
        )
    )
    assert again.release is None


def test_plan_and_undeploy_from_python(docker_client: Any, app: TestApp) -> None:
    cluster = app.cluster()
    v1 = push_version(docker_client, app, web_app(app.name, worker=True), "page v1")
    plan = plan_deploy(app.name, cluster=cluster)
    assert plan.create_network and {c.action for c in plan.procs} == {"create"}
    assert docker_client.api.services(filters={"label": f"lain.app={app.name}"}) == []
    run(
        deploy_app(
            app.name,
            cluster=cluster,
            procs=["ticker"],
            timeout=TIMEOUT,
        )
    )
    assert [
        s["Spec"]["Name"]
        for s in docker_client.api.services(filters={"label": f"lain.app={app.name}"})
    ] == [f"{app.name}__ticker"]
    plan = plan_deploy(app.name, cluster=cluster, version=v1)
    assert {c.proc: c.action for c in plan.procs} == {"web": "create", "ticker": "unchanged"}
    # Removing the only deployed proc removes the app, network included.
    result, _ = run(undeploy_app(app.name, cluster=cluster, procs=["ticker"]))
    assert result.removed_procs == ("ticker",) and result.network_removed


def test_restart_replaces_every_instance_and_records_no_release(
    docker_client: Any, app: TestApp, lain: Any, use_cluster: None
) -> None:
    version = push_version(docker_client, app, web_app(app.name), "page restart")
    run(deploy_app(app.name, cluster=app.cluster(), timeout=TIMEOUT))
    status = app_status(app.name, cluster=app.cluster())
    before = {i.task for p in status.procs for i in p.instances}
    assert len(before) == 2

    restarted = lain("-o", "json", "restart", "-a", app.name, "--timeout", str(TIMEOUT))
    assert restarted.exit_code == ExitStatus.OK, restarted.stderr
    assert json.loads(restarted.stdout)["restarted"] == ["web"]

    status = app_status(app.name, cluster=app.cluster())
    web = status.procs[0]
    running = [i for i in web.instances if i.desired_state == "running"]
    assert len(running) == 2 and not {i.task for i in running} & before
    assert status.healthy and web.version == version
    for instance in running:
        assert wait_http(instance.address, "page restart")
    releases = list_releases(app.name, cluster=app.cluster())
    assert [r.number for r in releases] == [1]
    # The next identical deploy still changes nothing.
    again, _ = run(deploy_app(app.name, cluster=app.cluster(), timeout=TIMEOUT))
    assert not again.changed

    ghost = lain("restart", "ghost", "-a", app.name)
    assert ghost.exit_code == ExitStatus.NOT_FOUND and "deployed procs: web" in ghost.stderr
    nothing = lain("restart", "-a", f"{app.name}-not-deployed")
    assert nothing.exit_code == ExitStatus.NOT_FOUND
    assert f"{app.name}-not-deployed is not deployed on cluster test" in nothing.stderr


def test_a_release_not_waited_for_is_settled_and_rollback_says_what_it_chose(
    docker_client: Any, app: TestApp, lain: Any, use_cluster: None
) -> None:
    push_version(docker_client, app, web_app(app.name), "page v1")
    first = lain("deploy", "-a", app.name, "--timeout", str(TIMEOUT))
    assert first.exit_code == ExitStatus.OK, first.stderr
    scaled = lain("scale", "web", "--cpu", "0.5", "-a", app.name, "--no-wait")
    assert scaled.exit_code == ExitStatus.OK, scaled.stderr
    deadline = time.monotonic() + TIMEOUT
    while not app_status(app.name, cluster=app.cluster()).healthy:
        assert time.monotonic() < deadline, "the scale never converged"
        time.sleep(0.5)

    # The next command that reads releases settles it.
    listed = json.loads(lain("-o", "json", "releases", "-a", app.name).stdout)["releases"]
    assert [(r["number"], r["outcome"]) for r in listed] == [(2, "succeeded"), (1, "succeeded")]

    # A later release, then a rollback: back to the CPU change, saying so.
    push_version(docker_client, app, web_app(app.name), "page v2")
    upgraded = lain("deploy", "-a", app.name, "--timeout", str(TIMEOUT))
    assert upgraded.exit_code == ExitStatus.OK, upgraded.stderr
    rolled = lain("rollback", "-a", app.name, "--timeout", str(TIMEOUT))
    assert rolled.exit_code == ExitStatus.OK, rolled.stderr
    assert "going back to release 2, the newest succeeded before 3" in rolled.stderr
    limits = web_spec(docker_client, app)["Spec"]["TaskTemplate"]["Resources"]["Limits"]
    assert limits["NanoCPUs"] == 500_000_000


def test_a_oneshot_runs_once_shows_completed_and_restarts_once_more(
    docker_client: Any, app: TestApp, lain: Any, use_cluster: None
) -> None:
    text = web_app(app.name) + (
        "oneshot.migrate:\n  cmd: [sh, -c, 'echo migrated; exit 0']\n  memory: 8m\n"
    )
    push_version(docker_client, app, text, "page")
    deployed = lain("deploy", "-a", app.name, "--timeout", str(TIMEOUT))
    assert deployed.exit_code == ExitStatus.OK, deployed.stderr
    service = f"{app.name}__migrate"

    def runs() -> list[tuple[str, int | None]]:
        tasks = docker_client.api.tasks(filters={"service": service})
        return sorted(
            (t["Status"]["State"], t["Status"].get("ContainerStatus", {}).get("ExitCode"))
            for t in tasks
        )

    assert runs() == [("complete", 0)]
    status = json.loads(lain("-o", "json", "ps", "-a", app.name).stdout)
    migrate = {p["proc"]: p for p in status["procs"]}["migrate"]
    assert migrate["oneshot"] and (migrate["completed"], migrate["desired"]) == (1, 1)
    assert status["healthy"]
    text_ps = lain("ps", "-a", app.name).stdout
    assert "1/1 completed" in text_ps and "complete (exit 0)" in text_ps

    # Published ports are shown as the engine binds them: on every interface.
    web = {p["proc"]: p for p in status["procs"]}["web"]
    # The running instance's own container: on a loaded machine an instance may have been
    # replaced once, and the one it replaced had another port.
    instance = next(i for i in web["instances"] if i["state"] == "running")
    shown = instance["ports"][0]
    port = shown.rsplit(":", 1)[1]
    (container,) = docker_client.containers.list(
        all=True, filters={"label": f"com.docker.swarm.task.id={instance['task']}"}
    )
    bound = container.attrs["NetworkSettings"]["Ports"]["80/tcp"]
    assert {b["HostIp"] for b in bound} <= {"0.0.0.0", "::"} and port in {
        b["HostPort"] for b in bound
    }
    assert shown == f"80/tcp -> 0.0.0.0:{port}" and "every interface" in text_ps

    # The same version again: nothing runs again. A restart of it: once more, and healthy.
    again = lain("deploy", "-a", app.name, "--timeout", str(TIMEOUT))
    assert again.exit_code == ExitStatus.OK and runs() == [("complete", 0)]
    restarted = lain("restart", "migrate", "-a", app.name, "--timeout", str(TIMEOUT))
    assert restarted.exit_code == ExitStatus.OK, restarted.stderr
    assert runs() == [("complete", 0), ("complete", 0)]
    assert app_status(app.name, cluster=app.cluster()).healthy


def test_a_deploy_stopped_with_sigterm_lets_go_of_its_lock(
    docker_client: Any, app: TestApp, lain: Any, use_cluster: None
) -> None:
    # A deploy that waits (its instances never get healthy) is stopped as a CI timeout does.
    push_version(docker_client, app, web_app(app.name, check="test -f /nope"), "page")
    deploying = subprocess.Popen(
        [sys.executable, "-m", "lain_cli", "deploy", "-a", app.name, "--timeout", "120"],
        stderr=subprocess.PIPE,
        text=True,
    )
    lock = {"name": f"lain-lock-{app.name}"}
    deadline = time.monotonic() + 60
    while not docker_client.api.configs(filters=lock):
        assert time.monotonic() < deadline and deploying.poll() is None, "it never took the lock"
        time.sleep(0.1)
    deploying.send_signal(signal.SIGTERM)
    _, stderr = deploying.communicate(timeout=60)
    assert deploying.returncode == ExitStatus.TERMINATED, stderr
    assert "lain: terminated" in stderr
    # The lock went with it: the next operation does not wait for it.
    held = lain("unlock", "-a", app.name)
    assert held.exit_code == ExitStatus.OK, held.stdout + held.stderr
