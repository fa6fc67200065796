"""The app name read on its own (lain_sdk.appconfig.appname), for commands that need nothing
else."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_the_app_name_is_read_without_the_schema_validator(tmp_path: Path):
    # push and clean work on images built from a validated file: they need its name only.
    (tmp_path / "lain.yaml").write_text("appname: quick\nbuild:\n  nonsense: 1\n")
    code = (
        "import sys\n"
        "from lain_sdk.appconfig.appname import read_appname\n"
        f"assert read_appname({str(tmp_path)!r}) == 'quick'\n"
        "bad = [m for m in ('jsonschema', 'lain_sdk.appconfig.validation') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
