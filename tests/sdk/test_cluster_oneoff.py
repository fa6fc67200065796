"""One-off tasks: a proc's live release run once with its env, secrets and networks, its output
and exit status, nothing routed to it or counted as a proc, and nothing left behind."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import pytest
from fakes.cluster import REGISTRY, SHOP, WEB, publish, release_source, run
from fakes.swarm import Behaviour, Printed

import lain_sdk.cluster.oneoff as oneoff
from lain_sdk.cluster.deploy import deploy_app, deploy_source
from lain_sdk.cluster.names import LABEL_APP, LABEL_ONEOFF, network_name
from lain_sdk.cluster.oneoff import OneOffSession, remove_stale_oneoffs, run_oneoff
from lain_sdk.cluster.secrets import add_secret
from lain_sdk.cluster.spec import SLOT_TEMPLATE
from lain_sdk.cluster.status import app_status
from lain_sdk.cluster.swarm import app_services
from lain_sdk.cluster.undeploy import undeploy_app
from lain_sdk.errors import ClusterError, InvalidArgument, LainTimeout, NotFound

SECRET = "/lain/app/config.json"
APP = WEB.replace(
    "  memory: 64m\n",
    "  memory: 64m\n  env:\n    - GREETING=hello\n  secret_files: [config.json]\n",
    1,
)


def program(container: Mapping[str, Any], mounted: Mapping[str, bytes]) -> Printed:
    """The release's programs: ``report VAR FILE`` prints a variable and a secret file,
    ``exit N`` exits with N; anything else (the procs' own commands) keeps running."""
    args = list(container.get("Args") or [])
    env = dict(item.partition("=")[::2] for item in container.get("Env") or [])
    if args[:1] == ["report"]:
        return [f"{args[1]}={env.get(args[1], '')}", mounted[args[2]].decode()]
    if args[:1] == ["exit"]:
        return ["bye"], int(args[1])
    return None


@pytest.fixture
def deployed(cluster, registry, fake_docker):
    """shop deployed with an env var and version 1 of a secret file; its release image runs
    :func:`program`."""
    fake_docker.api.script(f"{REGISTRY}/shop:release", Behaviour(program=program))
    publish(registry, APP)
    run(add_secret("shop", "web", "config.json", b'{"db": 1}', cluster=cluster))
    run(deploy_app("shop", cluster=cluster, timeout=5))
    return cluster


def output_of(session: OneOffSession) -> str:
    return b"".join(data for _, data in session.output()).decode()


def service_names(cluster: Any) -> set[str]:
    return {s["Spec"]["Name"] for s in cluster.api.services()}


def test_it_runs_the_procs_release_with_its_env_and_secrets_and_exits_with_its_status(
    deployed,
) -> None:
    before = service_names(deployed)
    session = run_oneoff("shop", "web", ["report", "GREETING", SECRET], cluster=deployed)
    try:
        assert output_of(session) == 'GREETING=hello\n{"db": 1}\n'
        assert session.exit_code() == 0
    finally:
        session.close()
    assert session.oneoff.image == app_services(deployed, "shop")["web"].image
    assert session.oneoff.service.startswith("shop__web-oneoff-")

    failing = run_oneoff("shop", "web", ["exit", "3"], cluster=deployed)
    try:
        assert output_of(failing) == "bye\n"
        assert failing.exit_code() == 3
    finally:
        failing.close()
    assert service_names(deployed) == before  # nothing left behind


def test_nothing_routes_to_it_and_ps_and_deploys_do_not_count_it(deployed, fake_docker) -> None:
    fake_docker.api.attach_hangs = True  # it stays "attached" while the test looks
    live = app_services(deployed, "shop")
    session = run_oneoff("shop", "web", ["report", "GREETING", SECRET], cluster=deployed)
    try:
        assert set(app_services(deployed, "shop")) == {"web", "mail"}
        assert [p.proc for p in app_status("shop", cluster=deployed).procs] == ["mail", "web"]
        spec = fake_docker.api.service_named(session.oneoff.service)["Spec"]
        assert set(spec["Labels"]) == {LABEL_APP, LABEL_ONEOFF}  # no router, proc or use labels
        assert spec["Mode"] == {"ReplicatedJob": {"MaxConcurrent": 1, "TotalCompletions": 1}}
        assert spec["EndpointSpec"] == {"Mode": "dnsrr"}  # no published port
        template = spec["TaskTemplate"]
        assert template["RestartPolicy"] == {"Condition": "none"}
        # On the app's network, answering to none of the proc's names.
        assert template["Networks"] == [{"Target": network_name("shop")}]
        container = template["ContainerSpec"]
        assert container["Healthcheck"] == {"Test": ["NONE"]}
        assert container["Secrets"] == live["web"].container["Secrets"]
        assert "LAIN_INSTANCE_NO=0" in container["Env"]
        assert not container["OpenStdin"] and not container["TTY"]
        # A second deploy of the same release changes nothing and leaves it alone.
        result = run(deploy_app("shop", cluster=deployed, timeout=5))[0]
        assert session.oneoff.service in service_names(deployed)
        assert not result.changed
    finally:
        session.close()
    assert session.oneoff.service not in service_names(deployed)


def test_without_a_command_it_runs_the_procs_own(deployed, fake_docker) -> None:
    live = app_services(deployed, "shop")["web"]
    spec, unmounted = oneoff.oneoff_spec(live, "x", {}, None, networks=())
    assert spec["TaskTemplate"]["ContainerSpec"]["Args"] == ["httpd", "-f", "-p", "80"]
    assert spec["TaskTemplate"]["Networks"] == [] and unmounted == ()


def test_per_instance_data_is_not_mounted_and_shared_volumes_are(cluster, fake_docker) -> None:
    run(deploy_source(cluster, release_source(SHOP), timeout=5))
    live = app_services(cluster, "shop")["web"]
    spec, unmounted = oneoff.oneoff_spec(live, "x", {}, ["true"], networks=(), node="n1")
    mounts = spec["TaskTemplate"]["ContainerSpec"]["Mounts"]
    assert unmounted == ("/data",)
    assert [m["Target"] for m in mounts] == ["/lain/logs"]
    assert not any(SLOT_TEMPLATE in m["Source"] for m in mounts)
    # The constraint keeping instances with their data goes; the node asked for is added.
    assert spec["TaskTemplate"]["Placement"]["Constraints"] == ["node.id==n1"]


def test_interactive_sessions_get_stdin_and_a_terminal(deployed, fake_docker) -> None:
    session = run_oneoff("shop", "web", ["exit", "0"], cluster=deployed, stdin=True, tty=True)
    try:
        assert output_of(session) == "bye\n"  # printed before lain attached: read from its log
        session.close_input()  # does nothing: the engine would end the output instead
    finally:
        session.close()
    container = fake_docker.api.created_services[-1]["TaskTemplate"]["ContainerSpec"]
    assert container["OpenStdin"] and container["TTY"]
    _, params, _ = fake_docker.api.attached[-1]
    assert params == {"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}


def test_a_stream_left_open_after_its_task_ended_is_closed(
    deployed, fake_docker, monkeypatch
) -> None:
    monkeypatch.setattr(oneoff, "ENDED_GRACE", 0.05)
    fake_docker.api.attach_hangs = True
    session = run_oneoff("shop", "web", ["exit", "4"], cluster=deployed)
    try:
        started = time.monotonic()
        assert output_of(session) == "bye\n"
        assert time.monotonic() - started < 5
        assert session.cut and session.exit_code() == 4
    finally:
        session.close()


def test_unknown_procs_and_apps_not_deployed_are_refused(deployed) -> None:
    with pytest.raises(NotFound, match=r"proc nope .*\(deployed procs: mail, web\)"):
        run_oneoff("shop", "nope", ["true"], cluster=deployed)
    with pytest.raises(NotFound, match="other is not deployed on cluster fake: deploy it first"):
        run_oneoff("other", "web", ["true"], cluster=deployed)
    with pytest.raises(InvalidArgument, match="command must be a list of strings"):
        run_oneoff("shop", "web", "ls -l", cluster=deployed)  # type: ignore[arg-type]


def test_a_task_that_cannot_start_is_reported_and_removed(deployed, fake_docker) -> None:
    before = service_names(deployed)
    fake_docker.api.script(
        f"{REGISTRY}/shop:release",
        Behaviour(fails="starting container failed: exec: nope: executable file not found"),
    )
    with pytest.raises(ClusterError, match="its task failed: starting container failed"):
        run_oneoff("shop", "web", ["nope"], cluster=deployed)
    fake_docker.api.script(f"{REGISTRY}/shop:release", Behaviour(starts_after=10**6))
    with pytest.raises(LainTimeout, match=r"did not start within 0.2 s \(last state: starting"):
        run_oneoff("shop", "web", ["true"], cluster=deployed, timeout=0.2)
    assert service_names(deployed) == before


def test_an_interrupted_start_removes_the_service(deployed, fake_docker) -> None:
    before = service_names(deployed)
    fake_docker.api.fail_next["tasks"] = KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt):
        run_oneoff("shop", "web", ["true"], cluster=deployed)
    assert service_names(deployed) == before


def add_oneoff(cluster: Any, app: str, until: float | str, name: str, *, runs: bool) -> None:
    """A one-off service as a lain killed meanwhile left it (the fake runs a job's task to its
    end: one that ``runs`` is a service of one replica)."""
    image = "busybox" if runs else f"{REGISTRY}/shop:release-x"
    job = {"ReplicatedJob": {"MaxConcurrent": 1, "TotalCompletions": 1}}
    cluster.api.create_service(
        {
            "ContainerSpec": {"Image": image, "Args": ["exit", "0"]},
            "RestartPolicy": {"Condition": "none"},
        },
        name=name,
        labels={LABEL_APP: app, LABEL_ONEOFF: str(until)},
        mode=None if runs else job,
    )


def test_one_offs_left_behind_are_removed_and_undeploy_removes_all(deployed) -> None:
    now = time.time()
    past = int(now - oneoff.STALE_MARGIN - 5)
    add_oneoff(deployed, "shop", past, "shop__web-oneoff-ended", runs=False)
    add_oneoff(deployed, "shop", past, "shop__web-oneoff-running", runs=True)
    add_oneoff(deployed, "shop", int(now + 60), "shop__web-oneoff-starting", runs=False)
    add_oneoff(deployed, "other", past, "other__web-oneoff-ended", runs=False)
    deployed.api.tasks()  # a look: the tasks start (and end)

    assert remove_stale_oneoffs(deployed, "shop") == ["shop__web-oneoff-ended"]
    names = service_names(deployed)
    assert {"shop__web-oneoff-running", "shop__web-oneoff-starting"} <= names
    run(undeploy_app("shop", cluster=deployed, timeout=5))
    assert service_names(deployed) == {"other__web-oneoff-ended"}
