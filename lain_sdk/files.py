"""Writing lain's own files (settings, credentials, caches) so that a failure leaves nothing.

A file is written beside its target and renamed over it, so a reader never sees half a file;
and whatever fails on the way (a full disk, a read-only directory, a rename refused), the
temporary file is removed before the error goes on, so failures leave no ``*.tmp`` files behind.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

# Not following a symbolic link at the temporary name: lain writes its own file or none.
_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)


def temporary_name(path: Path) -> Path:
    """The name ``path`` is written under before the rename: hidden, beside it, per process."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def replace_file(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Make ``path`` hold ``data`` at once, created with ``mode`` (only the owner reads it by
    default: never readable by others, not even for a moment).

    Raises:
        OSError: the file could not be written; no temporary file is left.
    """
    tmp = temporary_name(path)
    fd = os.open(tmp, _FLAGS, mode)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        os.chmod(tmp, mode)  # the mode of os.open is filtered by the umask
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
