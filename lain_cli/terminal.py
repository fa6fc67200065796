"""Connecting this terminal (or standard input) to a command running in a container."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def interactive_options(command: F) -> F:
    """``-i/--interactive`` and ``-t/--tty``, as ``docker exec`` and ``docker run`` have them."""
    command = click.option(
        "-t", "--tty", is_flag=True, help="Give COMMAND a terminal (needs one here)."
    )(command)
    return click.option(
        "-i", "--interactive", is_flag=True, help="Pass standard input to COMMAND."
    )(command)


def check_terminal(interactive: bool, tty: bool) -> None:
    """Refuse -it when standard input is not a terminal (a pipe cannot be put in raw mode)."""
    if interactive and tty and not sys.stdin.isatty():
        raise click.UsageError(
            "-t needs a terminal on standard input; use -i alone to pipe input to COMMAND"
        )


def write_output(stream: str, data: bytes) -> None:
    """Write a command's output bytes to our stdout or stderr, as they come."""
    out = sys.stderr if stream == "stderr" else sys.stdout
    out.flush()  # anything written as text first
    out.buffer.write(data)
    out.buffer.flush()


def attach(session: Any, *, interactive: bool, tty: bool) -> None:
    """Relay ``session`` (a ``lain_sdk`` ``Attachment``) until its output ends.

    With ``interactive`` our standard input goes to the command, and its end ends the
    command's input; with ``tty`` as well, this terminal is put in raw mode meanwhile, so keys
    such as Ctrl-C reach the command, and the command's terminal follows our window's size.
    """
    if interactive:
        threading.Thread(target=_feed, args=(session,), daemon=True).start()
    raw = _raw_mode(sys.stdin) if interactive and tty else contextlib.nullcontext()
    resizing = _follow_window_size(session) if tty else contextlib.nullcontext()
    with raw, resizing:
        for stream, data in session.output():
            write_output(stream, data)


def relay_and_exit(session: Any, *, interactive: bool, tty: bool) -> None:
    """:func:`attach` to ``session`` until it ends, close it whatever happens, and end lain
    with the command's exit status (``lain exec``, ``lain one-off``)."""
    try:
        attach(session, interactive=interactive, tty=tty)
        code = session.exit_code()
    finally:
        session.close()
    click.get_current_context().exit(code)


def _feed(session: Any) -> None:
    # Runs in a daemon thread, so a read of our stdin still blocked when the command has ended
    # does not keep lain from exiting.  It reads the descriptor itself: a daemon thread blocked
    # inside sys.stdin's buffer holds that buffer's lock, and Python aborts at exit over it.
    read = _reader(sys.stdin)
    try:
        while data := read(65536):
            session.send(data)
    except (OSError, ValueError):
        return  # the command ended, or stdin was closed under us
    session.close_input()


def _reader(stream: Any) -> Any:
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):  # not a file (tests give a BytesIO)
        source = getattr(stream, "buffer", stream)
        return getattr(source, "read1", source.read)
    return lambda size: os.read(fd, size)


@contextlib.contextmanager
def _raw_mode(stream: Any) -> Iterator[None]:
    import termios
    import tty

    fd = stream.fileno()
    saved = termios.tcgetattr(fd)
    tty.setraw(fd)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


@contextlib.contextmanager
def _follow_window_size(session: Any) -> Iterator[None]:
    if not sys.stdout.isatty():
        yield
        return

    def resize(*_: object) -> None:
        size = os.get_terminal_size(sys.stdout.fileno())
        session.resize(size.lines, size.columns)

    resize()
    previous = signal.signal(signal.SIGWINCH, resize)
    try:
        yield
    finally:
        signal.signal(signal.SIGWINCH, previous)
