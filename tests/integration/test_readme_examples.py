"""The README's Python example that builds, pushes and deploys runs as written."""

from __future__ import annotations

import os
import re

from readme_examples import run_example

import lain_sdk


def test_sdk_deploy_example_runs(docker_client) -> None:
    env = dict(os.environ)
    try:
        out = run_example("sdk-deploy", env=env, timeout=600)
        lines = out.splitlines()
        built = next(line for line in lines if line.startswith("built "))
        assert re.fullmatch(r"built \d+-[0-9a-f]{40}", built)
        assert "phase-started" in out and "phase-finished" in out
        env = next(line for line in lines if line.startswith("env "))
        assert "('GREETING', 'hi')" in env, env
        status_line = next(line for line in lines if line.startswith("release "))
        assert status_line.endswith("healthy True")
        urls = next(line for line in lines if line.startswith("urls "))
        assert "'http://hello.lain.localhost/'" in urls, urls
        web = next(line for line in lines if line.startswith("web "))
        assert web == "web 2/2 ['running', 'running']", web
        assert any(line.startswith("greeter 1/1 ") for line in lines)
        assert "'succeeded')]" in lines[-1]
    finally:
        cluster = lain_sdk.Settings.load().cluster()
        lain_sdk.drain(lain_sdk.undeploy_app("hello", cluster=cluster, purge=True))
        # The registry the example's cluster_up started keeps its storage in this test's
        # temporary home, which pytest deletes later: a registry left running there would
        # serve a local cluster whose images are gone.
        lain_sdk.cluster_down()
