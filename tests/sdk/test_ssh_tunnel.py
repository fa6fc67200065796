"""The ssh tunnel to a remote engine, with a stand-in ``ssh`` program on PATH: it relays its
standard input and output to a local echo server instead of a remote ``docker system
dial-stdio`` (the real ssh and engine are in tests/integration/test_multinode.py)."""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from pathlib import Path

import pytest

from lain_sdk.engine import connect
from lain_sdk.errors import EngineError
from lain_sdk.ssh_tunnel import SSHTunnel, ssh_command

RELAY = """#!{python}
import os, socket, sys, threading
with open(os.environ["FAKE_SSH_ARGS"], "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\\n")
if os.environ.get("FAKE_SSH_FAIL"):
    sys.stderr.write(os.environ["FAKE_SSH_FAIL"] + "\\n")
    sys.exit(255)
peer = socket.socket(socket.AF_UNIX)
peer.connect(os.environ["FAKE_SSH_TARGET"])
def up():
    while data := os.read(0, 65536):
        peer.sendall(data)
    peer.shutdown(socket.SHUT_WR)
threading.Thread(target=up, daemon=True).start()
while data := peer.recv(65536):
    os.write(1, data)
"""


@pytest.fixture
def fake_ssh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in ssh on PATH, relaying to an echo server; returns the file of its argv."""
    program = tmp_path / "bin" / "ssh"
    program.parent.mkdir()
    program.write_text(RELAY.format(python=sys.executable))
    program.chmod(0o755)
    target = tmp_path / "echo.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(target))
    server.listen()
    threading.Thread(target=_echo, args=(server,), daemon=True).start()
    monkeypatch.setenv("PATH", f"{program.parent}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SSH_TARGET", str(target))
    monkeypatch.setenv("FAKE_SSH_ARGS", str(tmp_path / "argv"))
    return tmp_path / "argv"


def _echo(server: socket.socket) -> None:
    while True:
        connection, _ = server.accept()
        with connection:
            while data := connection.recv(65536):
                connection.sendall(data.upper())


def exchange(path: Path, data: bytes) -> bytes:
    with socket.socket(socket.AF_UNIX) as client:
        client.settimeout(10)
        client.connect(str(path))
        client.sendall(data)
        client.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := client.recv(65536):
            received += chunk
        return received


def test_the_command_carries_user_port_and_host_and_never_prompts() -> None:
    assert ssh_command("ssh://deploy@manager1:2222", 7) == [
        "ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=7",
        "-l", "deploy", "-p", "2222", "--", "manager1", "docker system dial-stdio",
    ]  # fmt: skip
    assert ssh_command("ssh://manager1", 30)[-3:] == ["--", "manager1", "docker system dial-stdio"]
    with pytest.raises(EngineError, match="not an ssh:// address with a host"):
        ssh_command("ssh://", 30)


def test_each_connection_is_relayed_through_its_own_ssh(fake_ssh: Path) -> None:
    tunnel = SSHTunnel("ssh://deploy@manager1", connect_timeout=5)
    try:
        big = os.urandom(300_000).hex().encode()  # several chunks each way
        assert exchange(tunnel.path, b"hello") == b"HELLO"
        assert exchange(tunnel.path, big) == big.upper()
        assert fake_ssh.read_text().count("-l deploy -- manager1 docker system dial-stdio") == 2
        assert tunnel.url == f"unix://{tunnel.path}"
        assert oct(tunnel.path.parent.stat().st_mode & 0o777) == "0o700"  # this user's only
    finally:
        tunnel.close()
    assert not tunnel.path.parent.exists()
    tunnel.close()  # twice is fine


def test_an_engine_that_ssh_cannot_reach_is_an_error_naming_what_ssh_said(
    fake_ssh: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    said = "ssh: connect to host manager1 port 22: Connection refused"
    monkeypatch.setenv("FAKE_SSH_FAIL", said)
    started = time.monotonic()
    with pytest.raises(EngineError) as failed:
        connect("ssh://deploy@manager1", timeout=5, remember_version=False)
    assert f"the Docker engine at ssh://deploy@manager1 did not answer ({said})" in str(
        failed.value
    )
    assert time.monotonic() - started < 5
