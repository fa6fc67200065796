"""The README's Python examples that need no engine run as written."""

from __future__ import annotations

from readme_examples import readme_examples, run_example  # tests/ is on sys.path (conftest)


def test_the_readme_has_its_examples() -> None:
    assert {"sdk-validate"} <= set(readme_examples())


def test_sdk_validate_example_runs() -> None:
    out = run_example("sdk-validate").splitlines()
    assert out[0] == (
        "hello [('web', 'web', 2, 33554432), ('greeter', 'worker', 1, 16777216), "
        "('portal-greeter', 'portal', 1, 33554432)]"
    )
    assert out[1].startswith("tests/data/broken.yaml:1:10: appname: expected a name")
    assert out[-1].startswith("missing required key 'build'")
