"""The object every command receives: global options plus the one place that writes output.

Data goes to stdout, progress and diagnostics to stderr.  rich is imported only when a
terminal needs drawing, so plain and JSON output (and start-up) stay cheap.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import click


class Context:
    def __init__(
        self, cluster: str | None = None, output: str = "text", traceback: bool = False
    ) -> None:
        self.cluster = cluster
        self.output = output
        self.traceback = traceback

    @property
    def json(self) -> bool:
        return self.output == "json"

    # -- data (stdout) -------------------------------------------------------------------------

    def emit(self, data: Any, text: str | Callable[[], str] | None = None) -> None:
        """Print a command's result: ``data`` as JSON with ``-o json``, else ``text``."""
        if self.json:
            import json

            click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))
        elif text is not None:
            click.echo(text() if callable(text) else text)

    def emit_line(self, data: Any) -> None:
        """One JSON line (for streams of events with ``-o json``)."""
        import json

        click.echo(json.dumps(data, separators=(",", ":"), default=str))

    # -- diagnostics (stderr) ------------------------------------------------------------------

    def info(self, message: str) -> None:
        if not self.json:
            click.echo(message, err=True)

    def warn(self, message: str) -> None:
        click.echo(f"lain: warning: {message}", err=True)

    @property
    def interactive(self) -> bool:
        """True when stderr is a terminal that can be drawn on (and colour is not refused)."""
        return (
            not self.json
            and sys.stderr.isatty()
            and os.environ.get("TERM", "") != "dumb"
            and os.environ.get("CI", "") in ("", "0", "false")
        )
