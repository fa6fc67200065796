"""Drawing SDK progress events: JSON lines, rich on a terminal, plain lines elsewhere."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, NamedTuple

import click

from lain_cli.context import Context
from lain_sdk.events import (
    Event,
    LayerProgress,
    LockWaiting,
    Message,
    PhaseFinished,
    PhaseLog,
    PhaseStarted,
    ProcChanged,
    ProcProgress,
)


def show_events(ctx: Context, operation: Generator[Event, None, Any]) -> Any:
    """Draw the progress events of an SDK operation and return the operation's result.

    The SDK's long operations are generators that yield events and return a result; this
    drains one, drawing each event as JSON lines on stderr (-o json), rich progress (terminal)
    or plain lines (anything else).
    """
    if ctx.json:
        renderer: _Renderer = _JsonRenderer(ctx)
    elif ctx.interactive:
        renderer = _RichRenderer()
    else:
        renderer = _PlainRenderer()
    with renderer:
        while True:
            try:
                event = next(operation)
            except StopIteration as stop:
                return stop.value
            renderer.show(event)


class _Renderer:
    def __enter__(self) -> _Renderer:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def show(self, event: Event) -> None:
        raise NotImplementedError


class _JsonRenderer(_Renderer):
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def show(self, event: Event) -> None:
        self.ctx.emit_event(event.to_dict())


class _PlainRenderer(_Renderer):
    """One line per event on stderr; push progress only when a layer changes state."""

    def __init__(self) -> None:
        self._layer_status: dict[tuple[str, str], str] = {}

    def show(self, event: Event) -> None:
        if isinstance(event, PhaseStarted):
            click.echo(f"==> {event.phase}: {event.image}", err=True)
        elif isinstance(event, PhaseLog):
            click.echo(f"    {event.line}", err=True)
        elif isinstance(event, PhaseFinished):
            how = "reused" if event.cached else f"done in {event.seconds:.1f}s"
            click.echo(f"==> {event.phase}: {how} ({event.image_id[:19]})", err=True)
        elif isinstance(event, LayerProgress):
            key = (event.image, event.layer)
            if self._layer_status.get(key) != event.status:
                self._layer_status[key] = event.status
                click.echo(f"    {event.layer}: {event.status}", err=True)
        elif isinstance(event, Message):
            click.echo(event.text, err=True)
        elif isinstance(event, (ProcChanged, ProcProgress, LockWaiting)):
            click.echo(rollout_line(event), err=True)


def rollout_line(event: ProcChanged | ProcProgress | LockWaiting) -> str:
    """One line for a deploy event (plain output, and the rich renderer's log)."""
    if isinstance(event, ProcChanged):
        detail = f" ({event.detail})" if event.detail else ""
        return f"==> {event.proc}: {event.action}{detail}"
    if isinstance(event, ProcProgress):
        message = f": {event.message}" if event.message else ""
        return f"    {proc_text(event)}{message}"
    return (
        f"waiting up to {event.wait_seconds:g}s for the deploy lock of {event.app}, "
        f"held by {event.holder}"
    )


def proc_text(event: ProcProgress) -> str:
    """``web: 2/2 running, converged``; while a rolling update replaces instances, the old
    ones that still serve are told apart: ``web: 1/2 new running, 1 old serving, updating``."""
    if event.old_running:
        count = f"{event.running}/{event.desired} new running, {event.old_running} old serving"
    else:
        count = f"{event.running}/{event.desired} running"
    return f"{event.proc}: {count}, {event.state}"


# Push statuses after which a layer is in the registry (docker's words).
LAYER_DONE = ("Pushed", "Layer already exists", "Already exists", "Pull complete")
# Proc states after which its row stops (another rollout of it may start it again).
PROC_ENDED = ("converged", "failed", "completed")


def layer_done(status: str) -> bool:
    return status in LAYER_DONE or status.startswith("Mounted from")


def bytes_text(current: int, total: int) -> str:
    """``12.3/38.5 kB`` while a layer goes, ``38.5 kB`` once all of it went; "" unknown."""
    if total <= 0:
        return ""
    unit, suffix = 1, "bytes"
    for power, name in enumerate(("kB", "MB", "GB", "TB"), start=1):
        if total >= 1000**power:
            unit, suffix = 1000**power, name
    precision = 0 if unit == 1 else 1
    whole = f"{total / unit:,.{precision}f} {suffix}"
    if current >= total:
        return whole
    return f"{current / unit:,.{precision}f}/{whole}"


def elapsed_text(seconds: float | None) -> str:
    """``7s``, ``1m05s``, ``1h02m``: short, so that a row keeps room for what it says."""
    if seconds is None:
        return ""
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def one_line(text: str) -> str:
    """The last thing a progress line wrote (after any carriage return), tabs and other
    control characters as spaces, so that a row stays one row."""
    last = text.rstrip("\r\n").rsplit("\r", 1)[-1]
    return "".join(c if c.isprintable() else " " for c in last).strip()


class _Layout(NamedTuple):
    """Which columns a terminal this wide gets besides the description (which takes the rest,
    cut with an ellipsis): a bar, sizes, elapsed time."""

    bar_width: int  # 0: no bar
    sizes: bool
    elapsed: bool


def layout_for(width: int) -> _Layout:
    if width >= 100:
        return _Layout(20, True, True)
    if width >= 80:
        return _Layout(10, True, True)
    if width >= 60:
        return _Layout(0, True, True)
    return _Layout(0, False, False)


def _columns(width: int) -> list[Any]:
    """The progress columns for a console ``width`` wide.  Each row says which it shows
    through its task's fields: ``bar`` (a phase is a step, not bytes: it has none), ``size``
    (the text of its bytes) and ``failed`` (a ✗ instead of a ✓ once it stopped)."""
    from rich.progress import BarColumn, ProgressColumn, SpinnerColumn, TextColumn
    from rich.table import Column
    from rich.text import Text

    class StatusColumn(SpinnerColumn):
        def render(self, task: Any) -> Any:
            if task.finished:
                return Text("✗" if task.fields.get("failed") else "✓")
            return super().render(task)

    class RowBarColumn(BarColumn):
        def render(self, task: Any) -> Any:
            return super().render(task) if task.fields.get("bar") else Text("")

    class ElapsedColumn(ProgressColumn):
        def render(self, task: Any) -> Any:
            seconds = task.finished_time if task.finished else task.elapsed
            return Text(elapsed_text(seconds), style="progress.elapsed")

    fits = layout_for(width)
    description = Column(ratio=1, no_wrap=True, overflow="ellipsis")
    columns: list[Any] = [
        StatusColumn(),
        TextColumn("{task.description}", markup=False, table_column=description),
    ]
    if fits.bar_width:
        columns.append(RowBarColumn(bar_width=fits.bar_width))
    if fits.sizes:
        columns.append(
            TextColumn(
                "{task.fields[size]}", markup=False, justify="right", style="progress.download"
            )
        )
    if fits.elapsed:
        columns.append(ElapsedColumn(table_column=Column(no_wrap=True, justify="right")))
    return columns


class _RichRenderer(_Renderer):
    """A row per phase (spinner, its last log line, time), per pushed layer (status, bar,
    bytes) and per proc being rolled out (instances, old and new); rows stop (✓, ✗) when what
    they show is done, and fit the terminal's width: narrower terminals drop the bar, then
    the sizes and times, and descriptions end in an ellipsis rather than wrap."""

    def __init__(self, console: Any = None) -> None:
        from rich.console import Console
        from rich.progress import Progress

        self.console = console or Console(stderr=True, markup=False, highlight=False)
        self.progress = Progress(
            *_columns(self.console.width),
            console=self.console,
            transient=False,
            expand=True,
        )
        self._phases: dict[str, Any] = {}
        self._layers: dict[tuple[str, str], Any] = {}
        self._layer_totals: dict[tuple[str, str], int] = {}
        self._procs: dict[str, Any] = {}
        self._ended: dict[str, bool] = {}  # procs whose row stopped

    def __enter__(self) -> _RichRenderer:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def show(self, event: Event) -> None:
        p = self.progress
        if isinstance(event, PhaseStarted):
            self._phases[event.phase] = p.add_task(
                f"{event.phase}: {event.image}", total=None, size="", bar=False
            )
        elif isinstance(event, PhaseLog):
            task = self._phases.get(event.phase)
            if task is not None:
                p.update(task, description=f"{event.phase}: {one_line(event.line)[:200]}")
        elif isinstance(event, PhaseFinished):
            task = self._phases.pop(event.phase, None)
            how = "reused" if event.cached else f"done in {event.seconds:.1f}s"
            if task is not None:
                p.update(task, description=f"{event.phase}: {how}", total=1, completed=1)
        elif isinstance(event, LayerProgress):
            self._show_layer(event)
        elif isinstance(event, Message):
            self.console.print(event.text)
        elif isinstance(event, ProcProgress):
            self._show_proc(event)
        elif isinstance(event, (ProcChanged, LockWaiting)):
            self.console.print(rollout_line(event))

    def _show_layer(self, event: LayerProgress) -> None:
        """A layer's row: its bytes while they go, its whole size once pushed (docker's last
        word on a layer carries no bytes), a ✓ for one the registry had."""
        p = self.progress
        key = (event.image, event.layer)
        total = max(event.total, self._layer_totals.get(key, 0))
        self._layer_totals[key] = total
        description = f"  {event.layer}: {one_line(event.status)}"
        task = self._layers.get(key)
        if task is None:
            task = self._layers[key] = p.add_task(description, total=None, size="", bar=True)
        if layer_done(event.status):
            done = total or 1
            size = bytes_text(total, total)
            p.update(task, description=description, total=done, completed=done, size=size)
        elif total:
            current = min(event.current, total)
            size = bytes_text(current, total)
            p.update(task, description=description, total=total, completed=current, size=size)
        else:
            p.update(task, description=description)

    def _show_proc(self, event: ProcProgress) -> None:
        """One row per proc, redrawn as its rollout moves on: new instances fill its bar."""
        p = self.progress
        message = f": {one_line(event.message)}" if event.message else ""
        text = f"{proc_text(event)}{message}"
        total = max(event.desired, 1)
        ended = event.state in PROC_ENDED
        completed = total if ended else min(event.running, total)
        fields: dict[str, Any] = {"size": "", "bar": True, "failed": event.state == "failed"}
        task = self._procs.get(event.proc)
        if task is None:
            task = self._procs[event.proc] = p.add_task(text, total=total, **fields)
        if self._ended.get(event.proc) and not ended:
            # Started again (a proc put back after another failed): a row that runs again.
            p.reset(task, total=total, completed=completed, description=text, **fields)
        else:
            p.update(task, description=text, total=total, completed=completed, **fields)
        self._ended[event.proc] = ended
