"""Reaching an engine over ssh the way the docker CLI does, without paramiko.

docker-py speaks ``ssh://`` only with paramiko installed (even when it shells out to ``ssh``),
and importing paramiko makes every ``import docker`` about 0.18 s slower.  Instead, an
:class:`SSHTunnel` listens on a private unix socket and joins each connection made to it to a
``ssh [-l USER] [-p PORT] HOST docker system dial-stdio`` process: the remote docker CLI
relays the bytes to the remote engine, wherever its socket is (rootless too).  docker-py then
talks to the local socket as to any engine, streams and attached terminals included.

``ssh`` runs with the user's own configuration, keys and agent, with ``BatchMode`` (it never
asks for a password: there is no one to answer in CI) and a connect timeout.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from lain_sdk.errors import EngineError

CHUNK = 64 * 1024
REMOTE_COMMAND = "docker system dial-stdio"


def ssh_command(url: str, connect_timeout: float) -> list[str]:
    """The ssh command line that opens a stream to the engine at ``url`` (``ssh://[USER@]HOST
    [:PORT]``).

    Raises:
        EngineError: ``url`` names no host.
    """
    parts = urlsplit(url)
    if parts.scheme != "ssh" or not parts.hostname:
        raise EngineError(f"{url} is not an ssh:// address with a host (ssh://user@host)")
    command = [
        "ssh",
        "-o",
        "BatchMode=yes",
        "-o",
        f"ConnectTimeout={max(1, round(connect_timeout))}",
    ]
    if parts.username:
        command += ["-l", parts.username]
    if parts.port:
        command += ["-p", str(parts.port)]
    return [*command, "--", parts.hostname, REMOTE_COMMAND]


class SSHTunnel:
    """A unix socket on this machine whose connections reach the engine at an ``ssh://`` URL.

    Attributes:
        url: the ``unix://`` address to give docker-py.
        last_error: what ssh said when a connection last failed (for error messages).
    """

    def __init__(self, url: str, connect_timeout: float = 30) -> None:
        self.command = ssh_command(url, connect_timeout)
        if shutil.which("ssh") is None:
            raise EngineError(f"reaching {url} needs the ssh program, which is not installed")
        self._dir = Path(tempfile.mkdtemp(prefix="lain-ssh-"))  # 0700: this user's only
        self.path = self._dir / "docker.sock"
        self.url = f"unix://{self.path}"
        self.last_error = ""
        self._processes: set[subprocess.Popen[bytes]] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(self.path))
        self._server.listen(16)
        threading.Thread(target=self._accept, name="lain-ssh-accept", daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._server.accept()
            except OSError:
                return  # closed
            threading.Thread(
                target=self._relay, args=(connection,), name="lain-ssh-relay", daemon=True
            ).start()

    def _relay(self, connection: socket.socket) -> None:
        """Join ``connection`` to a new ssh process until either side ends."""
        try:
            process = subprocess.Popen(
                self.command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        except OSError as e:
            self.last_error = str(e)
            connection.close()
            return
        with self._lock:
            if self._closed:
                process.kill()
            self._processes.add(process)
        upstream = threading.Thread(target=self._pump_up, args=(connection, process), daemon=True)
        upstream.start()
        assert process.stdout is not None
        with contextlib.suppress(OSError):
            while data := os.read(process.stdout.fileno(), CHUNK):
                connection.sendall(data)
        with contextlib.suppress(OSError):
            connection.shutdown(socket.SHUT_WR)
        upstream.join(timeout=5)
        connection.close()
        self._finish(process)

    @staticmethod
    def _pump_up(connection: socket.socket, process: subprocess.Popen[bytes]) -> None:
        assert process.stdin is not None
        with contextlib.suppress(OSError, ValueError):
            while data := connection.recv(CHUNK):
                process.stdin.write(data)
                process.stdin.flush()
        with contextlib.suppress(OSError, ValueError):
            process.stdin.close()

    def _finish(self, process: subprocess.Popen[bytes]) -> None:
        try:
            code = process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
        assert process.stderr is not None
        said = process.stderr.read().decode(errors="replace").strip()
        if code not in (0, -9) and said:
            self.last_error = said.splitlines()[-1][:300]
        with self._lock:
            self._processes.discard(process)

    def failure(self, wait: float = 2.0) -> str:
        """Why connections failed: what ssh said, once its processes ended (waiting at most
        ``wait`` seconds for them: the client may give up before ssh does)."""
        deadline = time.monotonic() + wait
        while self._processes and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.last_error

    def close(self) -> None:
        """Stop listening, end every ssh process, remove the socket (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            processes = list(self._processes)
        with contextlib.suppress(OSError):
            self._server.close()
        for process in processes:
            with contextlib.suppress(OSError):
                process.kill()
        shutil.rmtree(self._dir, ignore_errors=True)
