"""The object every command receives: global options plus the one place that writes output.

Data goes to stdout, once; progress and diagnostics to stderr.  With ``-o json`` stdout holds
one JSON document (the result, or an error object), and progress events go to stderr as JSON
lines.  rich is imported only when a terminal needs drawing, so plain and JSON output (and
start-up) stay cheap.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import click


class Context:
    def __init__(
        self,
        cluster: str | None = None,
        output: str = "text",
        traceback: bool = False,
        app: str | None = None,
    ) -> None:
        self.cluster = cluster
        self.output = output
        self.traceback = traceback
        self.app = app  # the global -a/--app (LAIN_APP); a command's own -a wins over it
        # Whether a JSON document went to stdout: the error funnel adds no second one.
        self.emitted = False
        # The innermost command being run, for usage errors raised inside it.
        self.command_context: click.Context | None = None

    @property
    def json(self) -> bool:
        return self.output == "json"

    # -- data (stdout) -------------------------------------------------------------------------

    def emit(self, data: Any, text: str | Callable[[], str] | None = None) -> None:
        """Print a command's result: ``data`` as JSON with ``-o json``, else ``text``."""
        if self.json:
            import json

            click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))
            self.emitted = True
        elif text is not None:
            click.echo(text() if callable(text) else text)

    def emit_line(self, data: Any) -> None:
        """One JSON line of a stream that is the data itself (``lain logs -o json``)."""
        import json

        click.echo(json.dumps(data, separators=(",", ":"), default=str))

    def emit_event(self, data: Any) -> None:
        """One progress event as a JSON line on stderr (``-o json``): stdout keeps the one
        result document, so ``lain -o json deploy > result.json`` parses as it is."""
        import json

        click.echo(json.dumps(data, separators=(",", ":"), default=str), err=True)

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
