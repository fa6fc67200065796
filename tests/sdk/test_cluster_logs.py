"""An app's logs: merged by time, each line knowing its proc and instance."""

from __future__ import annotations

import pytest
from fakes.cluster import REGISTRY, WEB, fake_cluster, release_source, run
from fakes.swarm import Behaviour

from lain_sdk.cluster.deploy import deploy_source
from lain_sdk.cluster.logs import LogLine, app_logs, parse_log_line, parse_since
from lain_sdk.errors import InvalidArgument, NotFound


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


def test_tail_keeps_the_last_lines_of_each_proc_and_procs_can_be_named(cluster) -> None:
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
