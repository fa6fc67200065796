"""Drawing SDK progress events: JSON lines, rich on a terminal, plain lines elsewhere."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

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
        return f"    {event.proc}: {event.running}/{event.desired} running, {event.state}{message}"
    return (
        f"waiting up to {event.wait_seconds:g}s for the deploy lock of {event.app}, "
        f"held by {event.holder}"
    )


def _size_column() -> Any:
    """Bytes for pushed layers; nothing for tasks that count instances (``counts=True``)."""
    from rich.progress import DownloadColumn
    from rich.text import Text

    class SizeColumn(DownloadColumn):
        def render(self, task: Any) -> Any:
            if task.fields.get("counts"):
                return Text("")
            return super().render(task)

    return SizeColumn()


class _RichRenderer(_Renderer):
    """A spinner line per phase, the last log line under it, and a bar per pushed layer."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self.console = Console(stderr=True, markup=False, highlight=False)
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            _size_column(),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )
        self._phases: dict[str, Any] = {}
        self._layers: dict[tuple[str, str], Any] = {}
        self._procs: dict[str, Any] = {}

    def __enter__(self) -> _RichRenderer:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def show(self, event: Event) -> None:
        p = self.progress
        if isinstance(event, PhaseStarted):
            self._phases[event.phase] = p.add_task(f"{event.phase}: {event.image}", total=None)
        elif isinstance(event, PhaseLog):
            task = self._phases.get(event.phase)
            if task is not None:
                line = event.line.strip()[:70]
                p.update(task, description=f"{event.phase}: {line}")
        elif isinstance(event, PhaseFinished):
            task = self._phases.pop(event.phase, None)
            how = "reused" if event.cached else f"done in {event.seconds:.1f}s"
            if task is not None:
                p.update(task, description=f"{event.phase}: {how}", total=1, completed=1)
        elif isinstance(event, LayerProgress):
            key = (event.image, event.layer)
            task = self._layers.get(key)
            if task is None:
                task = self._layers[key] = p.add_task(f"  {event.layer}", total=event.total or None)
            p.update(
                task,
                description=f"  {event.layer}: {event.status}",
                completed=event.current,
                total=event.total or None,
            )
        elif isinstance(event, Message):
            self.console.print(event.text)
        elif isinstance(event, ProcProgress):
            # One line per proc, redrawn as its rollout moves on.
            message = f": {event.message[:60]}" if event.message else ""
            text = f"{event.proc}: {event.running}/{event.desired} running, {event.state}{message}"
            task = self._procs.get(event.proc)
            if task is None:
                task = self._procs[event.proc] = p.add_task(
                    text, total=event.desired or 1, counts=True
                )
            done = event.state == "converged"
            p.update(
                task,
                description=text,
                total=max(event.desired, 1),
                completed=max(event.desired, 1) if done else min(event.running, event.desired),
            )
        elif isinstance(event, (ProcChanged, LockWaiting)):
            self.console.print(rollout_line(event))
