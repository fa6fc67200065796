"""lain_sdk's flat public API: complete, sorted, every name importable, nothing heavy on import."""

from __future__ import annotations

import subprocess
import sys

import lain_sdk


def test_all_is_sorted_and_unique() -> None:
    assert lain_sdk.__all__ == sorted(set(lain_sdk.__all__))


def test_every_public_name_resolves() -> None:
    for name in lain_sdk.__all__:
        assert getattr(lain_sdk, name) is not None, name


def test_dir_lists_the_public_names() -> None:
    assert set(lain_sdk.__all__) <= set(dir(lain_sdk))


def test_errors_share_one_root() -> None:
    error_names = [n for n in lain_sdk.__all__ if n.endswith(("Error", "Failed"))]
    error_names += ["CredentialsMissing", "NotFound", "LainTimeout", "LockHeld"]
    for name in error_names:
        assert issubclass(getattr(lain_sdk, name), lain_sdk.LainError), name


def test_import_loads_no_cli_or_heavy_library() -> None:
    code = (
        "import sys, lain_sdk\n"
        "heavy = ('click', 'rich', 'docker', 'git', 'requests', 'keyring', 'jsonschema', 'yaml')\n"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
