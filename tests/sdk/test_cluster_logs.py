"""An app's logs: merged by time, each line knowing its proc and instance."""

from __future__ import annotations

import threading
import time

import pytest
from fakes.cluster import REGISTRY, WEB, fake_cluster, release_source, run
from fakes.logs import EngineLogs, tasks_by_instance
from fakes.router import access_line, start_router
from fakes.swarm import Behaviour

import lain_sdk.cluster.logs as logs_module
import lain_sdk.cluster.task_logs as task_logs
from lain_sdk.cluster.deploy import deploy_source
from lain_sdk.cluster.logs import (
    AccessRecord,
    LogLine,
    access_logs,
    app_logs,
    current_tasks,
    parse_access_line,
    parse_log_line,
    parse_since,
)
from lain_sdk.cluster.views import Task
from lain_sdk.errors import InvalidArgument, LainTimeout, NotFound, RouterNotRunning


@pytest.fixture
def cluster():
    session = fake_cluster()
    session.api.script(REGISTRY, Behaviour(logs=("hello", "world")))
    run(deploy_source(session, release_source(WEB), timeout=5))
    return session


def test_lines_come_merged_with_their_proc_and_instance(cluster) -> None:
    lines = list(app_logs("shop", cluster=cluster))
    assert {line.source for line in lines} == {"web.1", "web.2", "mail.1"}
    assert [line.text for line in lines if line.source == "web.1"] == ["hello", "world"]
    stamps = [line.time for line in lines]
    assert stamps == sorted(stamps)
    assert lines[0].to_dict().keys() == {"time", "proc", "instance", "text"}


def test_tail_keeps_the_last_lines_of_each_instance_and_procs_can_be_named(cluster) -> None:
    lines = list(app_logs("shop", cluster=cluster, procs=["mail"], tail=1))
    assert [(line.source, line.text) for line in lines] == [("mail.1", "world")]
    with pytest.raises(NotFound, match="proc cron of shop is not deployed"):
        app_logs("shop", cluster=cluster, procs=["cron"])
    with pytest.raises(InvalidArgument, match="tail must be a whole number"):
        app_logs("shop", cluster=cluster, tail=-1)


def test_following_streams_until_every_service_ends_its_stream(cluster) -> None:
    lines = list(app_logs("shop", cluster=cluster, follow=True))
    assert sorted(line.source for line in lines) == [
        "mail.1",
        "mail.1",
        "web.1",
        "web.1",
        "web.2",
        "web.2",
    ]


def test_since_takes_durations_unix_times_and_iso_times() -> None:
    assert parse_since("90s", now=1000.0) == 910.0
    assert parse_since("2h", now=10_000.0) == 2800.0
    assert parse_since("1700000000") == 1700000000.0
    assert parse_since("2023-11-14T22:13:20Z") == 1700000000.0
    with pytest.raises(InvalidArgument, match="is not a time"):
        parse_since("yesterday")


def test_a_line_without_details_is_all_text() -> None:
    line = parse_log_line("2023-11-14T22:13:20.000Z plain text here", "web", {})
    assert line == LogLine("2023-11-14T22:13:20.000Z", "web", None, "plain text here")
    assert line.source == "web"


def test_logs_of_an_app_that_is_not_deployed() -> None:
    with pytest.raises(NotFound, match="shop is not deployed on cluster fake"):
        app_logs("shop", cluster=fake_cluster())


# -- the engine's logs as it really answers: per task, tail per task, since, follow ------------


@pytest.fixture
def redeployed():
    """shop deployed twice: web (2 instances) and mail (1) each have a task of the earlier
    rollout besides the current one."""
    session = fake_cluster()
    run(deploy_source(session, release_source(WEB), timeout=5))
    run(deploy_source(session, release_source(WEB, n=2), timeout=5))
    return session


def test_tail_gives_the_last_lines_of_each_current_instance_in_time_order(redeployed) -> None:
    logs = EngineLogs(redeployed)
    tasks = tasks_by_instance(redeployed)
    t0 = time.time() - 100
    for name, (old, _current) in tasks.items():
        # The earlier task printed last of all: its lines must not count.
        logs.write(old, f"{name} old", at=t0 + 50)
    logs.write(tasks["web.1"][1], "web.1 a", at=t0 + 1)
    logs.write(tasks["web.2"][1], "web.2 a", at=t0 + 2)
    logs.write(tasks["mail.1"][1], "mail.1 a", at=t0 + 3)
    logs.write(tasks["web.1"][1], "web.1 b", at=t0 + 4)
    logs.write(tasks["web.2"][1], "web.2 b", at=t0 + 5.000000001)
    logs.write(tasks["web.1"][1], "web.1 c", at=t0 + 5.000000002)
    lines = list(app_logs("shop", cluster=redeployed, tail=2))
    assert [(x.source, x.text) for x in lines] == [
        ("web.2", "web.2 a"),
        ("mail.1", "mail.1 a"),
        ("web.1", "web.1 b"),
        ("web.2", "web.2 b"),
        ("web.1", "web.1 c"),
    ]
    assert list(app_logs("shop", cluster=redeployed, tail=0)) == []
    # Without tail, every line there is, the earlier tasks' included, in time order.
    everything = list(app_logs("shop", cluster=redeployed))
    assert len(everything) == 9 and everything[-1].text.endswith(" old")
    assert [x.time for x in everything] == sorted(x.time for x in everything)


def test_follow_with_tail_gives_old_lines_in_order_then_new_ones_each_once(redeployed) -> None:
    logs = EngineLogs(redeployed)
    tasks = tasks_by_instance(redeployed)
    t0 = time.time() - 100
    web1, web2, mail1 = tasks["web.1"][1], tasks["web.2"][1], tasks["mail.1"][1]
    logs.write(tasks["web.1"][0], "earlier rollout", at=t0 + 60)
    logs.write(web1, "web.1 old 1", at=t0 + 1)
    logs.write(web1, "web.1 old 2", at=t0 + 3)
    logs.write(web2, "web.2 old", at=t0 + 2)
    logs.write(mail1, "mail.1 old", at=t0 + 4)

    def write_once() -> None:
        # Written after lain took the time, as it reads the old lines: given once, not twice.
        if len(logs.lines[mail1]) == 1:
            logs.write(mail1, "mail.1 while reading")

    logs.on_read = write_once
    logs.while_following = [(web2, "web.2 new"), (web1, "web.1 new")]
    lines = [(x.source, x.text) for x in app_logs("shop", cluster=redeployed, tail=1, follow=True)]
    assert lines[:3] == [
        ("web.2", "web.2 old"),
        ("web.1", "web.1 old 2"),
        ("mail.1", "mail.1 while reading"),
    ]
    assert sorted(lines[3:]) == [("web.1", "web.1 new"), ("web.2", "web.2 new")]
    # The stream asked for nothing before lain started.
    assert min(logs.follow_since) > t0 + 60


def test_follow_with_tail_zero_gives_only_new_lines(redeployed) -> None:
    logs = EngineLogs(redeployed)
    tasks = tasks_by_instance(redeployed)
    logs.write(tasks["web.1"][1], "old", at=time.time() - 10)
    logs.while_following = [(tasks["web.1"][1], "new")]
    lines = list(app_logs("shop", cluster=redeployed, procs=["web"], tail=0, follow=True))
    assert [(x.source, x.text) for x in lines] == [("web.1", "new")]


def task(id: str, service: str, slot: int, desired: str, created: float, container: str) -> Task:
    return Task(
        id,
        service,
        slot,
        "node-1",
        desired,
        "running",
        created,
        created,
        "",
        "",
        "",
        None,
        container,
    )


def test_the_current_task_of_each_instance() -> None:
    tasks = [
        # web.1: an earlier rollout's task, and the one running now.
        task("w1-old", "web", 1, "shutdown", 1.0, "c1"),
        task("w1", "web", 1, "running", 2.0, "c2"),
        # mail.1 (slot 1 of another service): restarting, the new task has no container yet,
        # so the one that ran last is what it printed.
        task("m1-ran", "mail", 1, "shutdown", 1.0, "c3"),
        task("m1-pending", "mail", 1, "running", 3.0, ""),
        # web.2 was scaled away: nothing of it is current.
        task("w2", "web", 2, "shutdown", 1.0, "c4"),
        # A global service: one instance per node, all in slot 0.
        task("g-a", "agent", 0, "running", 1.0, "c5")._replace(node_id="a"),
        task("g-b", "agent", 0, "running", 1.0, "c6")._replace(node_id="b"),
    ]
    assert current_tasks(tasks) == {"w1", "m1-ran", "g-a", "g-b"}


# -- the router's access log: its stdout, the app's records only ------------------------------


@pytest.fixture
def router():
    """A session whose router runs two instances (two nodes), with its log answered as the
    engine answers; the tests write its lines."""
    session = fake_cluster()
    first, second = start_router(session, instances=2)
    return session, EngineLogs(session), first, second


def test_the_access_log_gives_the_apps_requests_from_every_router_instance_in_order(
    router,
) -> None:
    session, logs, first, second = router
    t0 = time.time() - 100
    logs.write(first, access_line("shop", "/one"), at=t0 + 1)
    logs.write(second, access_line("shop", "/two", proc="api"), at=t0 + 2)
    logs.write(first, access_line("other", "/not-ours"), at=t0 + 3)
    logs.write(first, access_line("", "/no-app-here", status=404, upstream=""), at=t0 + 4)
    logs.write(first, access_line("shop-admin", "/a-longer-name"), at=t0 + 5)
    logs.write(second, "not json at all", at=t0 + 6)
    # A stream port's record has no app.
    logs.write(second, '{"time":"x","port":9500,"status":200,"duration":0.1}', at=t0 + 7)
    logs.write(first, access_line("shop", "/three?x=1", status=503, upstream=""), at=t0 + 8)
    records = list(access_logs("shop", cluster=session))
    assert [(r.uri, r.proc, r.status) for r in records] == [
        ("/one", "web", 200),
        ("/two", "api", 200),
        ("/three?x=1", "web", 503),
    ]
    first_record = records[0]
    assert (first_record.method, first_record.host, first_record.upstream) == (
        "GET",
        "shop.example.com",
        "10.0.1.5:80",
    )
    assert first_record.duration == 0.002 and first_record.bytes == 12
    # The record as the router wrote it, every key.
    assert first_record.to_dict()["agent"] == "curl/8.5.0" and len(first_record.to_dict()) == 13
    only_api = list(access_logs("shop", cluster=session, procs=["api"]))
    assert [r.uri for r in only_api] == ["/two"]
    since = list(access_logs("shop", cluster=session, since=t0 + 1.5))
    assert [r.uri for r in since] == ["/two", "/three?x=1"]


def test_tail_gives_the_last_requests_looking_further_back_until_it_has_them(
    router, monkeypatch
) -> None:
    session, logs, first, second = router
    monkeypatch.setattr(logs_module, "ACCESS_FIRST_SCAN", 4)
    t0 = time.time() - 1000
    logs.write(first, access_line("shop", "/oldest"), at=t0)
    logs.write(second, access_line("shop", "/old"), at=t0 + 1)
    for n in range(30):  # other apps' requests since: more than the first look reads
        logs.write(first, access_line("other", f"/{n}"), at=t0 + 10 + n)
        logs.write(second, access_line("other", f"/{n}"), at=t0 + 10 + n)
    logs.write(second, access_line("shop", "/new"), at=t0 + 100)
    calls = []
    logs.on_read = lambda: calls.append(1)
    records = list(access_logs("shop", cluster=session, tail=2))
    assert [r.uri for r in records] == ["/old", "/new"]
    # Each task's last 8 lines (4 a request asked for), then its last 32: all the first has,
    # and the second's last two requests of shop among them.
    assert len(calls) == 4
    assert [r.uri for r in access_logs("shop", cluster=session, tail=5)] == [
        "/oldest",
        "/old",
        "/new",
    ]
    read = len(calls)
    assert list(access_logs("shop", cluster=session, tail=0)) == [] and len(calls) == read
    # Never further back than the limit: an app not served for that long shows less.
    monkeypatch.setattr(logs_module, "ACCESS_SCAN_LIMIT", 16)
    assert [r.uri for r in access_logs("shop", cluster=session, tail=2)] == ["/new"]


def test_a_nodes_earlier_router_task_is_read_only_when_the_newer_has_too_few(
    monkeypatch,
) -> None:
    session = fake_cluster()
    (earlier,) = start_router(session)
    (service,) = session.api.swarm_services.values()
    service.tasks[0].doc["DesiredState"] = "shutdown"  # the router updated: stopped first,
    service.tasks[0].set_state("shutdown")
    session.api.services()  # then a new task started on the same node
    (newer,) = [t.id for t in service.tasks if t.doc["DesiredState"] == "running"]
    logs = EngineLogs(session)
    t0 = time.time() - 100
    logs.write(earlier, access_line("shop", "/a"), at=t0)
    logs.write(newer, access_line("shop", "/b"), at=t0 + 10)
    logs.write(newer, access_line("shop", "/c"), at=t0 + 11)
    calls: list[int] = []
    logs.on_read = lambda: calls.append(1)
    assert [r.uri for r in access_logs("shop", cluster=session, tail=2)] == ["/b", "/c"]
    assert len(calls) == 1  # the newer task had both
    assert [r.uri for r in access_logs("shop", cluster=session, tail=3)] == ["/a", "/b", "/c"]
    assert [r.uri for r in access_logs("shop", cluster=session)] == ["/a", "/b", "/c"]
    # The limit is the node's: the newer task's lines count against the earlier one's.
    for n in range(5):
        logs.write(newer, access_line("other", f"/{n}"), at=t0 + 20 + n)
    monkeypatch.setattr(logs_module, "ACCESS_SCAN_LIMIT", 7)  # all the newer task has
    assert [r.uri for r in access_logs("shop", cluster=session, tail=3)] == ["/b", "/c"]


def test_since_reads_the_logs_back_to_that_time_only(router, monkeypatch) -> None:
    session, logs, first, second = router
    monkeypatch.setattr(logs_module, "ACCESS_FIRST_SCAN", 4)
    t0 = time.time() - 1000
    for n in range(100):  # old traffic the engine need not send
        logs.write(first, access_line("shop", f"/old-{n}"), at=t0 + n)
    logs.write(first, access_line("shop", "/recent"), at=t0 + 500)
    logs.write(second, access_line("shop", "/recent-too"), at=t0 + 501)
    sent: list[int] = []
    real = logs.service_logs

    def counting(*args, **kwargs):
        found = list(real(*args, **kwargs))
        sent.append(len(found))
        return iter(found)

    monkeypatch.setattr(logs, "service_logs", counting)
    found = list(access_logs("shop", cluster=session, since=t0 + 400))
    assert [r.uri for r in found] == ["/recent", "/recent-too"]
    assert sent == [1, 1]  # one window of each task, which reached back past that time


def test_a_router_task_the_swarm_forgot_once_listed_is_passed_over(router, monkeypatch) -> None:
    session, logs, first, _ = router
    logs.write(first, access_line("shop", "/kept"))
    real = logs_module.tasks_of

    def listed_then_forgotten(*args, **kwargs):
        found = real(*args, **kwargs)
        return [*found, found[0]._replace(id="forgotten0task0id0000000")]

    monkeypatch.setattr(logs_module, "tasks_of", listed_then_forgotten)
    assert [r.uri for r in access_logs("shop", cluster=session)] == ["/kept"]


def test_following_the_access_log_gives_what_is_there_then_new_requests_once(router) -> None:
    session, logs, first, second = router
    t0 = time.time() - 100
    logs.write(first, access_line("shop", "/before"), at=t0)
    logs.write(first, access_line("other", "/others"), at=t0 + 1)
    logs.while_following = [
        (second, access_line("shop", "/after")),
        (first, access_line("other", "/others-after")),
    ]
    records = list(access_logs("shop", cluster=session, follow=True, tail=10))
    assert [r.uri for r in records] == ["/before", "/after"]
    assert min(logs.follow_since) > t0 + 1


def test_a_read_the_engine_leaves_open_gives_up_after_a_while(router, monkeypatch) -> None:
    """The engine may keep a log's stream open with nothing more to send."""
    session, logs, first, _ = router
    logs.write(first, access_line("shop", "/one"))
    released = threading.Event()
    real = task_logs.task_log_chunks

    def hanging(*args, **kwargs):
        yield from real(*args, **kwargs)
        released.wait(30)

    monkeypatch.setattr(task_logs, "task_log_chunks", hanging)
    monkeypatch.setattr(task_logs, "LOG_IDLE_TIMEOUT", 0.2)
    started = time.monotonic()
    try:
        with pytest.raises(
            LainTimeout, match=r"sent 1 line of the logs of the router, then nothing for 0.2 s"
        ):
            access_logs("shop", cluster=session)
    finally:
        released.set()
    assert time.monotonic() - started < 5


def test_access_logs_without_a_router_say_how_to_start_it() -> None:
    session = fake_cluster()
    with pytest.raises(RouterNotRunning, match="no router runs on cluster fake") as raised:
        access_logs("shop", cluster=session)
    assert raised.value.cluster == "fake" and isinstance(raised.value, NotFound)
    assert str(raised.value).endswith(
        "there is no access log: the router keeps it; start the router"
    )
    with pytest.raises(InvalidArgument, match="tail must be a whole number"):
        access_logs("shop", cluster=session, tail=-1)
    with pytest.raises(InvalidArgument, match="procs must be a list of proc names"):
        access_logs("shop", cluster=session, procs="web")


def test_an_access_line_reads_as_a_record_or_none() -> None:
    record = parse_access_line(access_line("shop", "/x", status=302))
    assert isinstance(record, AccessRecord) and (record.app, record.status) == ("shop", 302)
    assert parse_access_line("lain-router: generation 3 applied") is None
    assert parse_access_line('["a list"]') is None
    odd = parse_access_line('{"app":"shop","status":"oops","duration":true}')
    assert odd is not None and (odd.status, odd.duration, odd.host) == (0, 0.0, "")
