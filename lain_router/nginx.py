"""Running nginx, and replacing its configuration only with one that passed ``nginx -t``.

Each configuration is written to a directory of its own (``gen-<N>``); ``current`` is a
symlink to the live one, which is what the nginx master reads on a reload.  A configuration
that fails its test never becomes ``current``: the last good one stays live.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

CONF = "nginx.conf"
TEST_TIMEOUT = 30.0
KEEP_GENERATIONS = 3


class Nginx:
    """One nginx master, started and reloaded by the watcher."""

    def __init__(self, run_dir: str, binary: str = "nginx") -> None:
        self.run_dir = Path(run_dir)
        self.binary = binary
        self.process: subprocess.Popen[bytes] | None = None
        self.run_dir.mkdir(parents=True, exist_ok=True)

    @property
    def current(self) -> Path:
        return self.run_dir / "current"

    def stage(self, text: str, generation: int) -> Path:
        """Write a configuration to its own directory; its path."""
        directory = self.run_dir / f"gen-{generation}"
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir()
        (directory / CONF).write_text(text)
        return directory

    def test(self, directory: Path) -> str | None:
        """None when ``nginx -t`` accepts the staged configuration, else what it said."""
        try:
            done = subprocess.run(
                [self.binary, "-t", "-q", "-c", str(directory / CONF)],
                capture_output=True,
                timeout=TEST_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return f"nginx -t took more than {TEST_TIMEOUT:.0f} s"
        if done.returncode == 0:
            return None
        said = done.stderr.decode("utf-8", "replace").strip()
        return said.replace(str(directory), "<config>") or f"nginx -t exited {done.returncode}"

    def swap_in(self, directory: Path) -> None:
        """Make ``directory`` the live configuration and reload (or start) nginx."""
        link = self.run_dir / "current.new"
        link.unlink(missing_ok=True)
        link.symlink_to(directory.name)
        os.replace(link, self.current)  # atomic: nginx never sees a missing file
        if self.running():
            assert self.process is not None
            self.process.send_signal(signal.SIGHUP)
        else:
            self.process = subprocess.Popen(
                [self.binary, "-c", str(self.current / CONF), "-g", "daemon off;"]
            )
        self._forget_old(keep=directory)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """A graceful stop: in-flight requests finish (within ``timeout``)."""
        if not self.running():
            return
        assert self.process is not None
        self.process.send_signal(signal.SIGQUIT)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def _forget_old(self, keep: Path) -> None:
        staged = sorted(
            (d for d in self.run_dir.glob("gen-*") if d.is_dir() and d != keep),
            key=lambda d: d.stat().st_mtime,
        )
        for directory in staged[: max(0, len(staged) - KEEP_GENERATIONS)]:
            shutil.rmtree(directory, ignore_errors=True)
