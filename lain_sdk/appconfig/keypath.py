"""Key paths: where a value sits in a lain.yaml, as a tuple and as text."""

from __future__ import annotations

KeyPath = tuple[str | int, ...]


def format_key_path(path: KeyPath) -> str:
    """``("build", "script", 2)`` -> ``build.script[2]``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text
