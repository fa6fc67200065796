"""lain_router.watch: a round renders the configuration as few times as it can (1,000 routes
take tens of milliseconds each time)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from swarm_docs import service, task

import lain_router.watch as watch
from lain_router.render import Listen
from lain_router.watch import Options, Watcher


class Engine:
    def __init__(self) -> None:
        self.services_: list[dict[str, Any]] = []
        self.tasks_: list[dict[str, Any]] = []

    def services(self, label: str) -> list[dict[str, Any]]:
        return self.services_

    def tasks(self) -> list[dict[str, Any]]:
        return self.tasks_


class Nginx:
    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.live: str | None = None

    def stage(self, text: str, generation: int) -> Path:
        path = self.run_dir / f"gen-{generation}.conf"
        path.write_text(text)
        return path

    def test(self, staged: Path) -> str | None:
        return None

    def swap_in(self, staged: Path) -> None:
        self.live = staged.read_text()

    def running(self) -> bool:
        return self.live is not None


def test_a_round_renders_its_model_once_and_once_more_with_its_generation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real = watch.render

    def counted(*args: Any, **kwargs: Any) -> str:
        calls.append(kwargs.get("generation", 0))
        return real(*args, **kwargs)

    monkeypatch.setattr(watch, "render", counted)
    engine, nginx = Engine(), Nginx(tmp_path)
    options = Options(
        settle=0, listen=Listen(run_dir=str(tmp_path)), certs_dir=str(tmp_path / "none")
    )
    watcher = Watcher(engine, nginx, options)  # type: ignore[arg-type]
    web = service("shop")
    engine.services_, engine.tasks_ = [web], [task(web, "10.0.1.2")]

    assert watcher.step()
    assert calls == [0, 1]  # compared and tried (one text), then staged with its generation
    assert nginx.live is not None and "server 10.0.1.2:80" in nginx.live

    calls.clear()
    assert not watcher.step()  # nothing changed: rendered once, to compare
    assert calls == [0]

    calls.clear()
    engine.tasks_ = [task(web, "10.0.1.3")]
    assert watcher.step()
    assert calls == [0, 2]
    assert "server 10.0.1.3:80" in nginx.live and "10.0.1.2" not in nginx.live
