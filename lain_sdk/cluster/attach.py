"""The streams of a command running in a container: its output, and its input and terminal
when attached with them (for a local run and for an exec into an instance)."""

# No ``from __future__ import annotations``: a subclass made elsewhere (an exec session)
# inherits these fields, and their annotations must resolve without this module's names.
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol


class OutputStream(Protocol):
    """The demultiplexed output the docker SDK streams: (stdout, stderr) chunks."""

    def __iter__(self) -> Iterator[tuple[bytes | None, bytes | None]]: ...

    def close(self) -> None: ...


class Connection(Protocol):
    """The raw connection the docker SDK hands out for an attachment with stdin (a socket, a
    SocketIO over one, or an ssh channel)."""

    def close(self) -> None: ...


@dataclass(kw_only=True)
class Attachment:
    """The streams of a command in a container: read :meth:`output` until it ends.

    Attached with stdin, it also takes input: :meth:`send` it, then :meth:`close_input` (the
    command sees end of file).  With ``tty`` the command has a terminal: its output comes as
    one stream and :meth:`resize` sets the terminal's size.
    """

    tty: bool = False
    # demultiplexed (stdout, stderr) chunks, when attached without stdin
    stream: OutputStream | None = field(default=None, repr=False)
    # the raw connection, when attached with stdin
    connection: Connection | None = field(default=None, repr=False)
    resizer: Callable[[int, int], None] | None = field(default=None, repr=False)

    def output(self) -> Iterator[tuple[str, bytes]]:
        """The command's output as ``("stdout"|"stderr", bytes)`` until it ends."""
        if self.connection is not None:
            from docker.utils.socket import STDERR, frames_iter

            for kind, data in frames_iter(self.connection, self.tty):
                yield ("stderr" if kind == STDERR else "stdout"), data
            return
        for out, err in self.stream or ():
            if out:
                yield "stdout", out
            if err:
                yield "stderr", err

    def send(self, data: bytes) -> None:
        """Write ``data`` to the command's standard input."""
        raw_socket(self._input()).sendall(data)

    def close_input(self) -> None:
        """End the command's standard input; its output can still be read."""
        raw = raw_socket(self._input())
        try:
            if hasattr(raw, "shutdown_write"):  # a paramiko channel (ssh://)
                raw.shutdown_write()
            else:
                raw.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the command has ended already

    def resize(self, rows: int, columns: int) -> None:
        """Set the size of the command's terminal (attached with ``tty``)."""
        if self.resizer is not None:
            self.resizer(rows, columns)

    def close(self) -> None:
        """Close the connection to the engine (the command may still be running)."""
        for connection in (self.connection, self.stream):
            if connection is not None:
                connection.close()

    def _input(self) -> Connection:
        if self.connection is None:
            raise ValueError("attached without stdin")
        return self.connection


def without_timeout(sock: Any) -> Any:  # docker-py's socket objects are untyped
    """``sock`` without the client's timeout, which would otherwise end a session whose input
    waits longer than that for a command to read it (the docker SDK lifts the timeout for its
    output streams, not for the raw sockets it hands out)."""
    for layer in (sock, getattr(sock, "_sock", None)):
        settimeout = getattr(layer, "settimeout", None)
        if settimeout is not None:
            settimeout(None)
    return sock


def raw_socket(sock: Any) -> Any:
    """The socket under what the docker SDK hands out: a SocketIO over the unix or TCP socket
    (whose socket is its private ``_sock``), the socket itself for TLS, or a paramiko channel
    for ssh://."""
    return getattr(sock, "_sock", sock)
