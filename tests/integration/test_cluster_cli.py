"""`lain cluster add|ls|show|use|rm|up|down`, and commands picking the selected cluster."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from apps import unique_app_name
from swarm_apps import TestApp, cleanup, push_version, web_app

from lain_cli.exit import ExitStatus
from lain_sdk.git import short_version


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_add_ls_show_use_rm(lain: Any, isolation: Path) -> None:
    shown = json.loads(lain("-o", "json", "cluster", "show").stdout)
    assert shown["name"] == "local" and shown["registry"] == "127.0.0.1:5000"
    assert shown["docker_host"] is None and shown["domains"] == ["lain.localhost", "lain.local"]

    added = lain(
        "cluster",
        "add",
        "prod",
        "--docker-host",
        "ssh://deploy@manager1",
        "--registry",
        "registry.example.com",
        "--domain",
        "example.com",
        "--domain",
        "example.org",
    )
    assert added.exit_code == ExitStatus.OK, added.stderr
    config = isolation / ".config" / "lain" / "config.yaml"
    assert config.exists() and str(config) in added.stdout
    lain(
        "cluster",
        "add",
        "lab",
        "--docker-host",
        "tcp://10.0.0.5:2376",
        "--registry",
        "10.0.0.5:5000",
        "--insecure-registry",
    )

    listed = json.loads(lain("-o", "json", "cluster", "ls").stdout)
    assert [(c["name"], c["selected"]) for c in listed["clusters"]] == [
        ("lab", False),
        ("local", True),
        ("prod", False),
    ]
    text = lain("cluster", "ls").stdout
    assert [line.split()[1] for line in text.splitlines() if line.startswith("*")] == ["local"]
    assert "ssh://deploy@manager1" in text

    assert lain("cluster", "use", "prod").exit_code == ExitStatus.OK
    assert json.loads(lain("-o", "json", "cluster", "show").stdout)["domains"] == [
        "example.com",
        "example.org",
    ]
    # -c beats LAIN_CLUSTER, which beats the one in use.
    assert (
        json.loads(lain("-o", "json", "cluster", "show", env={"LAIN_CLUSTER": "lab"}).stdout)[
            "name"
        ]
        == "lab"
    )
    shown = lain("-o", "json", "-c", "local", "cluster", "show", env={"LAIN_CLUSTER": "lab"})
    assert json.loads(shown.stdout)["name"] == "local"
    assert "registry:          10.0.0.5:5000" in lain("cluster", "show", "lab").stdout

    unknown = lain("-c", "staging", "cluster", "show")
    assert unknown.exit_code == ExitStatus.NOT_FOUND
    assert "no cluster named 'staging'" in unknown.stderr
    assert lain("cluster", "use", "staging").exit_code == ExitStatus.NOT_FOUND

    assert lain("cluster", "rm", "prod").exit_code == ExitStatus.OK
    assert json.loads(lain("-o", "json", "cluster", "show").stdout)["name"] == "local"
    assert lain("cluster", "rm", "prod").exit_code == ExitStatus.NOT_FOUND
    missing = lain("cluster", "add", "x", "--docker-host", "tcp://h:1")
    assert missing.exit_code == ExitStatus.USAGE  # --registry is required


def test_a_corrupt_settings_file_names_itself(lain: Any, isolation: Path) -> None:
    config = isolation / ".config" / "lain" / "config.yaml"
    config.parent.mkdir(parents=True)
    config.write_text("clusters: [oops\n")
    result = lain("cluster", "ls")
    assert result.exit_code == ExitStatus.SETTINGS_INVALID
    assert str(config) in result.stderr and "Traceback" not in result.stderr
    other = isolation / "other.yaml"
    other.write_text("current: lab\nclusters:\n  lab: {registry: r:5000}\n")
    result = lain("-o", "json", "cluster", "show", env={"LAIN_CONFIG": str(other)})
    assert json.loads(result.stdout)["registry"] == "r:5000"


def test_up_starts_a_registry_once_and_down_stops_it(
    lain: Any, isolation: Path, docker_client: Any
) -> None:
    address = f"127.0.0.1:{free_port()}"
    first = lain("-o", "json", "cluster", "up", "--registry", address, "--no-router")
    try:
        assert first.exit_code == ExitStatus.OK, first.stderr
        result = json.loads(first.stdout)
        assert result["registry"] == address
        assert result["swarm_created"] is False  # this engine is a swarm already
        # No registry:2 image here: Debian's docker-registry, files in the XDG data dir.
        assert result["registry_kind"] == "process"
        home = isolation / ".local" / "share" / "lain" / "registry"
        assert result["registry_dir"] == str(home)
        assert (home / "config.yml").exists() and (home / "registry.pid").exists()
        pid = result["registry_pid"]
        os.kill(pid, 0)  # alive

        again = lain("-o", "json", "cluster", "up", "--registry", address, "--no-router")
        assert json.loads(again.stdout)["registry_kind"] == "existing"
        shown = json.loads(lain("-o", "json", "cluster", "show", "local").stdout)
        assert shown["registry"] == address and not shown["publish_ports"]
    finally:
        down = lain("cluster", "down")
    assert down.exit_code == ExitStatus.OK, down.stderr
    assert f"registry process {pid}" in down.stdout
    assert _gone(pid, timeout=10)


def _gone(pid: int, timeout: float) -> bool:
    """Whether process ``pid`` ends within ``timeout``.  The registry was started from this
    test process, so once it exits it is our zombie until reaped: reap it, then look."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def test_registry_commands_use_the_selected_clusters_registry(
    lain: Any, docker_client: Any, registry: Any, base_image: str, tmp_path: Path
) -> None:
    app = TestApp(unique_app_name("lc"), registry.host, engine=docker_client)
    try:
        mv = push_version(docker_client, app, web_app(app.name), "page")
        (tmp_path / "lain.yaml").write_text(web_app(app.name))
        lain("cluster", "add", "test", "--registry", registry.host, "--use")
        listed = lain("versions", "--app-dir", str(tmp_path))
        assert listed.exit_code == ExitStatus.OK, listed.stderr
        assert short_version(mv) in listed.stdout  # text shows the short form
        listed = lain("-o", "json", "versions", "--app-dir", str(tmp_path))
        assert mv in json.loads(listed.stdout)["versions"]
        # Commands find the app from lain.yaml in --app-dir, too.
        result = lain("-o", "json", "deploy", "--plan", "--app-dir", str(tmp_path))
        assert result.exit_code == ExitStatus.OK, result.stderr
        assert json.loads(result.stdout)["meta_version"] == mv
    finally:
        cleanup(docker_client, app.name, app.images)
