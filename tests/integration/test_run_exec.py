"""`lain run` (a proc of a built release in a local container) and `lain exec` (a command in a
running instance), on the real engine and swarm."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from apps import unique_app_name
from docker.errors import APIError
from swarm_apps import TestApp, cleanup, push_version, wait_http
from test_secrets import SECRET_PATH, secret_app

from lain_cli.exit import ExitStatus
from lain_cli.tables import short_version
from lain_sdk import exec_in_instance
from lain_sdk.cluster.names import volume_name
from lain_sdk.cluster.session import Cluster
from lain_sdk.engine import connect

TIMEOUT = "90"


@pytest.fixture
def app(docker_client: Any, registry: Any, base_image: str, lain: Any) -> Iterator[TestApp]:
    made = TestApp(unique_app_name("lr"), registry.host, engine=docker_client)
    added = lain("cluster", "add", "test", "--registry", made.registry, "--publish-ports", "--use")
    assert added.exit_code == ExitStatus.OK, added.stderr
    try:
        yield made
    finally:
        for container in docker_client.containers.list(
            all=True, filters={"label": f"lain.app={made.name}"}
        ):
            container.remove(force=True, v=True)
        cleanup(docker_client, made.name, made.images)


def test_run_a_proc_locally(docker_client: Any, app: TestApp, lain: Any, tmp_path: Path) -> None:
    lain_yaml = secret_app(app.name, extra="  persistent_dirs: [/data]\n")
    mv = push_version(docker_client, app, lain_yaml, "page run")
    (tmp_path / "lain.yaml").write_text(lain_yaml)
    local = tmp_path / "dev.conf"
    local.write_bytes(b"dev value")
    app_dir = str(tmp_path)

    # Offline: the secret file comes from a local file; detached, name and address printed.
    started = lain(
        "-o",
        "json",
        "run",
        "web",
        "-v",
        mv,
        "--app-dir",
        app_dir,
        "--secret-file",
        f"config/app.conf={local}",
    )
    assert started.exit_code == ExitStatus.OK, started.stderr
    result = json.loads(started.stdout)
    name = f"{app.name}.web.web"
    assert result["name"] == name and result["address"].startswith("127.0.0.1:")
    assert result["secret_files"] == [SECRET_PATH]
    wait_http(result["address"], "page run")
    container = docker_client.containers.get(name)
    code, output = container.exec_run(
        ["sh", "-c", f"cat {SECRET_PATH}; stat -c ' %a %u' {SECRET_PATH}"]
    )
    assert (code, output) == (0, b"dev value 400 0\n")
    env = dict(item.split("=", 1) for item in container.attrs["Config"]["Env"])
    assert {k: env[k] for k in ("LAIN_APPNAME", "LAIN_PROCNAME", "LAIN_APP_RELEASE_VERSION")} == {
        "LAIN_APPNAME": app.name,
        "LAIN_PROCNAME": "web",
        "LAIN_APP_RELEASE_VERSION": mv,
    }
    assert env["LAIN_INSTANCE_NO"] == "1" and env["LAIN_DOMAIN"] == "lain.local"
    assert container.attrs["HostConfig"]["Memory"] == 16 * 1024 * 1024
    # The persistent dir (and /lain/logs, as on the cluster) is a volume of the run's own,
    # labelled as the app's.
    volume = f"{volume_name(app.name, 'web', '/data')}.run"
    logs = f"{volume_name(app.name, 'web', '/lain/logs')}.run"
    assert sorted(result["volumes"]) == sorted([f"{volume}:/data", f"{logs}:/lain/logs"])
    labels = docker_client.api.inspect_volume(volume)["Labels"]
    assert labels["lain.app"] == app.name and labels["lain.run"] == "1"
    assert container.exec_run(["sh", "-c", "echo kept > /data/note"])[0] == 0

    # Once it has stopped, nothing reads the value back: docker cp finds no file, and no
    # file under the engine's data dir holds it.
    container.stop(timeout=2)
    try:  # the mount point stays, an empty file in the container's layer
        copied = b"".join(docker_client.api.get_archive(container.id, SECRET_PATH)[0])
    except APIError:
        copied = b""
    assert b"dev value" not in copied
    root = docker_client.info()["DockerRootDir"]
    held = subprocess.run(["grep", "-rl", "dev value", root], capture_output=True, text=True)
    assert held.returncode == 1, held.stdout

    offline = ("-v", mv, "--app-dir", app_dir, "--secret-file", f"{SECRET_PATH}={local}")
    # The stopped container is replaced without asking; a running one only with --replace.
    again = lain("run", "web", *offline)
    assert again.exit_code == ExitStatus.OK, again.stderr
    assert f"replaced the exited container {name} of an earlier run" in again.stderr
    busy = lain("run", "web", *offline)
    assert busy.exit_code == ExitStatus.ERROR and "--replace" in busy.stderr and name in busy.stderr
    text = lain("run", "web", "--replace", *offline)
    assert text.exit_code == ExitStatus.OK, text.stderr
    assert name in text.stdout and "127.0.0.1:" in text.stdout and "dev value" not in text.stdout
    assert f"volume: {volume}:/data" in text.stdout
    # A new container, the same data.
    assert docker_client.containers.get(name).exec_run(["cat", "/data/note"]) == (0, b"kept\n")

    # The secret read from the cluster; in the foreground, with the command's exit status.
    stored = lain("secret", "add", "web", SECRET_PATH, "--value", "cluster value", "-a", app.name)
    assert stored.exit_code == ExitStatus.OK, stored.stderr
    ran = lain(
        "run",
        "--rm",
        "--replace",
        "web",
        "-v",
        mv,
        "--app-dir",
        app_dir,
        "--",
        "sh",
        "-c",
        f"cat {SECRET_PATH}; echo; echo to-stderr >&2; exit 3",
    )
    assert ran.exit_code == 3, ran.stderr
    assert "cluster value\n" in ran.stdout and "to-stderr" in ran.stderr
    assert not docker_client.containers.list(all=True, filters={"name": name})

    # -i passes standard input; -i and -t imply --rm.
    fed = lain("run", "-i", "web", *offline, "--", "sh", "-c", "cat; exit 2", input="typed input\n")
    assert fed.exit_code == 2, fed.stderr
    assert fed.stdout == "typed input\n"
    assert not docker_client.containers.list(all=True, filters={"name": name})
    output, status = _in_terminal(
        ["run", "-it", "web", *offline, "--", "sh"],
        keys=b"tty; stty size; exit 6\n",
        rows=21,
        columns=77,
    )
    assert status == 6, output
    assert b"/dev/pts/" in output and b"21 77" in output
    assert not docker_client.containers.list(all=True, filters={"name": name})

    missing = lain("run", "web", "-v", "1600000000-" + "0" * 40, "--app-dir", app_dir)
    assert missing.exit_code == ExitStatus.NOT_FOUND and "`lain build`" in missing.stderr
    assert short_version(mv) in missing.stderr  # the versions there are


def test_exec_in_a_running_instance(docker_client: Any, app: TestApp, lain: Any) -> None:
    push_version(docker_client, app, secret_app(app.name), "page exec")
    added = lain("secret", "add", "web", SECRET_PATH, "--value", "exec value", "-a", app.name)
    assert added.exit_code == ExitStatus.OK, added.stderr
    deployed = lain("deploy", "-a", app.name, "--timeout", TIMEOUT)
    assert deployed.exit_code == ExitStatus.OK, deployed.stderr

    ran = lain(
        "exec",
        "web",
        "-a",
        app.name,
        "--",
        "sh",
        "-c",
        f"echo $LAIN_INSTANCE_NO; cat {SECRET_PATH}; echo oops >&2; exit 4",
    )
    assert ran.exit_code == 4
    assert ran.stdout == "1\nexec value" and ran.stderr == "oops\n"
    assert lain("exec", "web", "1", "-a", app.name, "--", "true").exit_code == ExitStatus.OK

    absent = lain("exec", "web", "2", "-a", app.name, "--", "true")
    assert absent.exit_code == ExitStatus.NOT_FOUND
    assert "instance 2" in absent.stderr and "running: 1" in absent.stderr
    ghost = lain("exec", "ghost", "-a", app.name, "--", "true")
    assert ghost.exit_code == ExitStatus.NOT_FOUND and "deployed procs: web" in ghost.stderr

    # -i: standard input goes to the command, and its end is the command's end of file.
    piped = lain(
        "exec",
        "-i",
        "web",
        "-a",
        app.name,
        "--",
        "sh",
        "-c",
        "cat; echo done >&2",
        input="first line\nsecond line\n",
    )
    assert piped.exit_code == ExitStatus.OK, piped.stderr
    assert piped.stdout == "first line\nsecond line\n" and piped.stderr == "done\n"
    refused = lain("exec", "-it", "web", "-a", app.name, "--", "sh")
    assert refused.exit_code == ExitStatus.USAGE and "use -i alone" in refused.stderr

    # A session with stdin is not bound by the client's timeout: input may wait for a command
    # that reads it late (and a shell may sit idle).
    session = exec_in_instance(
        app.name,
        "web",
        ["sh", "-c", "sleep 3; wc -c"],
        cluster=Cluster(app.settings(), engine=connect(timeout=1)),
        stdin=True,
    )
    session.send(b"x" * 8_000_000)
    session.close_input()
    assert list(session.output()) == [("stdout", b"8000000\n")]
    assert session.exit_code() == 0
    session.close()

    # -it: an interactive shell on a terminal of this terminal's size.
    output, status = _in_terminal(
        ["exec", "-it", "web", "-a", app.name, "--", "sh"],
        keys=b"stty size; tty; echo $((6 * 7)); exit 5\n",
        rows=33,
        columns=101,
    )
    assert status == 5, output
    assert b"33 101" in output and b"/dev/pts/" in output and b"42" in output

    # No command: a shell, interactive on a terminal without -it; piped, it reads the script.
    output, status = _in_terminal(
        ["exec", "web", "-a", app.name], keys=b"tty; exit 7\n", rows=24, columns=80
    )
    assert status == 7, output
    assert b"/dev/pts/" in output
    script = lain("exec", "web", "-a", app.name, input="echo $LAIN_INSTANCE_NO; exit 3\n")
    assert script.exit_code == 3 and script.stdout == "1\n", script.stderr


def _in_terminal(
    args: list[str], *, keys: bytes, rows: int, columns: int, timeout: float = 60
) -> tuple[bytes, int]:
    """Run lain on a pseudo-terminal of the given size, type ``keys``, return all it wrote and
    its exit status."""
    import fcntl
    import os
    import pty
    import select
    import struct
    import subprocess
    import sys
    import termios
    import time

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "lain_cli", *args],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        close_fds=True,
    )
    os.close(follower)
    output = b""
    typed = False
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(leader, 4096)
                except OSError:  # EIO: every writer has closed the terminal
                    break
                if not chunk:
                    break
                output += chunk
                if not typed and (b"# " in output or b"$ " in output):  # the shell's prompt
                    os.write(leader, keys)
                    typed = True
            elif process.poll() is not None:
                break
        status = process.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(leader)
    return output, status
