"""lain_router.render: what keeps the router's cost per request low."""

from __future__ import annotations

import re

from swarm_docs import service, task

from lain_router.model import build_model
from lain_router.render import render

PIPE_BUF = 4096  # Linux: a write to a pipe up to this size is never interleaved with another


def test_the_access_log_is_written_in_batches_no_two_workers_can_mix() -> None:
    web = service("shop")
    text = render(build_model([web], [task(web, "10.0.1.2")]))
    logs = [x.strip() for x in text.splitlines() if x.strip().startswith("access_log ")]
    (line,) = [x for x in logs if "lain_stream" not in x]
    found = re.fullmatch(r"access_log /dev/stdout lain buffer=(\d+)k flush=(\d+)ms;", line)
    assert found, line
    assert int(found[1]) * 1024 <= PIPE_BUF  # each write atomic in the container's stdout pipe
    assert int(found[2]) <= 1000  # a line is never more than a moment late


def test_connections_to_instances_are_kept_alive() -> None:
    web = service("shop")
    text = render(build_model([web], [task(web, "10.0.1.2"), task(web, "10.0.1.3")]))
    assert "keepalive 32;" in text.split("upstream shop__web {", 1)[1].split("}", 1)[0]
    assert "proxy_http_version 1.1;" in text
