"""Import costs: validating a lain.yaml loads only yaml and jsonschema, and rendering adds jinja2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import EXAMPLES, REPO_ROOT

HEAVY = ["click", "rich", "docker", "git", "requests", "keyring", "jinja2", "yaml", "jsonschema"]


def loaded_after(code: str) -> set[str]:
    """Which of HEAVY a fresh interpreter has imported after running ``code``."""
    script = f"import sys\n{code}\nimport json\nprint(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout
    return set(json.loads(out.splitlines()[-1]))


def test_importing_the_model_is_cheap() -> None:
    assert loaded_after("import lain_sdk.appconfig, lain_sdk.appconfig.model, lain_sdk") == set()


def test_loading_a_lain_yaml_needs_only_yaml_and_jsonschema() -> None:
    code = f"import lain_sdk\nlain_sdk.load_app_config({str(EXAMPLES / 'hello')!r})"
    assert loaded_after(code) == {"yaml", "jsonschema"}
    # The same text again: it passed the schema before, so jsonschema is not even loaded.
    assert loaded_after(code) == {"yaml"}


def test_rendering_a_resource_adds_jinja2() -> None:
    code = (
        "from lain_sdk.appconfig import render_resource_instance\n"
        "render_resource_instance(open('tests/data/redis-resource.yaml').read(), resource='redis',"
        " client='c', context={})"
    )
    assert loaded_after(code) == {"yaml", "jsonschema", "jinja2"}


@pytest.mark.parametrize(
    ("argv", "allowed"),
    [
        (["--help"], {"click"}),
        (["validate", str(EXAMPLES / "hello")], {"click", "yaml", "jsonschema"}),
        (["-o", "json", "validate", str(EXAMPLES / "hello")], {"click", "yaml", "jsonschema"}),
        (["schema"], {"click", "jsonschema"}),
    ],
)
def test_lain_commands_import_only_what_they_use(argv: list[str], allowed: set[str]) -> None:
    code = (
        "import contextlib, io\n"
        "from lain_cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    try:\n        main({argv!r})\n    except SystemExit:\n        pass"
    )
    assert loaded_after(code) <= allowed
