"""Progress on a terminal: rows that fit its width, byte counts that add up, rows that stop
when what they show is done; plain lines elsewhere."""

from __future__ import annotations

import re

import pytest
from rich.console import Console

from lain_cli.progress import (
    _PlainRenderer,
    _RichRenderer,
    bytes_text,
    elapsed_text,
    layout_for,
    one_line,
    rollout_line,
)
from lain_sdk.events import (
    Event,
    LayerProgress,
    PhaseFinished,
    PhaseLog,
    PhaseStarted,
    ProcProgress,
)

IMAGE = "registry.example.com:5000/shop:release-1767268800-0123456789abcdef0123456789abcdef01234567"
STEP = "Step 3/5 : RUN pip install --no-cache-dir -r requirements.txt && python -m compileall ."

BUILD_AND_PUSH: list[Event] = [
    PhaseStarted("build", "shop:build"),
    PhaseLog("build", STEP),
    PhaseFinished("build", "shop:build", "sha256:" + "b" * 64, False, 12.5),
    PhaseStarted("push", IMAGE),
    LayerProgress(IMAGE, "5f70bf18a086", "Preparing"),
    LayerProgress(IMAGE, "5f70bf18a086", "Layer already exists"),
    LayerProgress(IMAGE, "a3ed95caeb02", "Preparing"),
    LayerProgress(IMAGE, "a3ed95caeb02", "Pushing", 12_000, 38_500),
    LayerProgress(IMAGE, "a3ed95caeb02", "Pushing", 38_500, 38_500),
    LayerProgress(IMAGE, "a3ed95caeb02", "Pushed"),  # docker's last word carries no bytes
    LayerProgress(IMAGE, "c0ffee000001", "Pushing", 5_200_000, 80_100_000),
]


def final_frame(events: list[Event], width: int) -> list[str]:
    """The rows a terminal ``width`` wide shows once ``events`` were drawn."""
    console = Console(width=width, force_terminal=True, record=True, color_system=None)
    renderer = _RichRenderer(console)
    for event in events:
        renderer.show(event)
    console.print(renderer.progress.get_renderable())
    return console.export_text().rstrip("\n").split("\n")


def row(lines: list[str], text: str) -> str:
    return next(line for line in lines if text in line)


@pytest.mark.parametrize("width", [80, 100, 120])
def test_build_and_push_rows_fit_the_terminal_one_line_each(width) -> None:
    lines = final_frame(BUILD_AND_PUSH, width)
    assert len(lines) == 5  # two phases, three layers: none wrapped
    assert all(len(line) <= width for line in lines)
    # A phase is a step, not bytes; it stops with a mark and its time.
    assert not any("bytes" in line for line in lines)
    assert re.fullmatch(r"✓ build: done in 12\.5s +\d+s", row(lines, "build:").rstrip())
    # A layer the registry had stops, without bytes it never counted.
    exists = row(lines, "5f70bf18a086").rstrip()
    assert exists.startswith("✓   5f70bf18a086: Layer already exists") and "?" not in exists
    # A pushed layer shows its whole size, not 0 of it.
    pushed = row(lines, "a3ed95caeb02").rstrip()
    assert pushed.startswith("✓") and re.search(r" 38\.5 kB +\d+s$", pushed)
    assert "0.0/" not in pushed
    # One still going: what went of what there is, sizes and times whole (no "1…", "0:0…").
    going = row(lines, "c0ffee000001").rstrip()
    assert re.search(r" 5\.2/80\.1 MB +\d+s$", going) and not going.startswith("✓")


def test_a_narrow_terminal_cuts_descriptions_not_numbers() -> None:
    lines = final_frame([*BUILD_AND_PUSH, PhaseStarted("release", IMAGE)], 80)
    release = row(lines, "release:").rstrip()
    assert len(release) <= 80 and "…" in release and re.search(r"… +\d+s$", release)
    # Wider, the same row says all of it.
    assert IMAGE in row(final_frame([PhaseStarted("release", IMAGE)], 160), "release:")


def test_columns_go_as_the_terminal_narrows() -> None:
    assert layout_for(120).bar_width > layout_for(80).bar_width > 0
    assert layout_for(70).bar_width == 0 and layout_for(70).sizes
    assert not layout_for(50).sizes and not layout_for(50).elapsed
    lines = final_frame(BUILD_AND_PUSH, 50)
    assert len(lines) == 5 and all(len(line) <= 50 for line in lines)


def rolling(running: int, old: int, state: str = "updating") -> ProcProgress:
    return ProcProgress("shop", "web", running, 2, state, "", old_running=old)


@pytest.mark.parametrize("width", [80, 120])
def test_a_rolling_update_shows_new_instances_and_the_old_ones_that_serve(width) -> None:
    lines = final_frame([rolling(0, 2), rolling(1, 1)], width)
    (only,) = lines
    assert "web: 1/2 new running, 1 old serving, updating" in only and not only.startswith("✓")
    (done,) = final_frame([rolling(1, 1), rolling(2, 0, "converged")], width)
    assert done.startswith("✓ web: 2/2 running, converged")


def test_a_failed_proc_stops_with_a_cross_and_runs_again_when_put_back() -> None:
    failed = ProcProgress("shop", "web", 0, 2, "failed", "task: non-zero exit (1)")
    (line,) = final_frame([failed], 100)
    assert line.startswith("✗ web: 0/2 running, failed: task: non-zero exit (1)")
    (line,) = final_frame([failed, ProcProgress("shop", "web", 1, 2, "starting")], 100)
    assert line[0] not in "✓✗" and "web: 1/2 running, starting" in line


def test_plain_lines_tell_old_and_new_instances_apart(capsys) -> None:
    renderer = _PlainRenderer()
    renderer.show(rolling(1, 1))
    renderer.show(rolling(2, 0, "converged"))
    assert capsys.readouterr().err.splitlines() == [
        "    web: 1/2 new running, 1 old serving, updating",
        "    web: 2/2 running, converged",
    ]
    assert rollout_line(ProcProgress("shop", "web", 0, 2, "starting", "pulling")) == (
        "    web: 0/2 running, starting: pulling"
    )


def test_the_texts_of_a_row() -> None:
    assert bytes_text(12_000, 38_500) == "12.0/38.5 kB"
    assert bytes_text(38_500, 38_500) == "38.5 kB"
    assert bytes_text(0, 0) == "" and bytes_text(512, 900) == "512/900 bytes"
    assert elapsed_text(7.9) == "7s" and elapsed_text(65) == "1m05s"
    assert elapsed_text(3720) == "1h02m"
    assert one_line("50%\r80%\r100%\n") == "100%" and one_line("a\tb") == "a b"
