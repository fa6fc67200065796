"""``lain prepare/build/test/push/clean`` end to end: exit statuses, stdout, stderr, JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from apps import make_app, remove_app_images
from fakes.repos import SIMPLE
from leaks import FAILING_LINE, LEAKY_APP, app_images, failing, leaks, leaky_values, secret_pieces

from lain_cli.exit import ExitStatus
from lain_sdk.git import GitInfo
from lain_sdk.registry import RegistryClient

EXAMPLE_APP = Path(__file__).resolve().parents[2] / "examples" / "hello"

SIMPLE_TESTED = (
    SIMPLE
    + """\
test:
  script:
    - test -f built.txt
"""
)


@pytest.fixture
def cleanup(docker_client: Any):
    names: list[str] = []
    yield names.append
    for name in names:
        remove_app_images(docker_client, name)


def json_lines(stderr: str) -> list[dict]:
    """The progress events -o json writes to stderr (its other lines are messages)."""
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


def test_example_app_builds_and_pushes(lain, docker_client, base_image, registry, request):
    app_dir = str(EXAMPLE_APP)
    info = GitInfo.from_path(app_dir)
    dirty = ["--allow-dirty"] if info.dirty else []  # the example may be mid-edit in a checkout
    mv = info.meta_version
    made = [f"hello:{phase}-{mv}" for phase in ("build", "release", "meta")]
    existed = {ref for ref in made if docker_client.api.images(name=ref)}
    pushed = [f"{registry.host}/hello:{phase}-{mv}" for phase in ("release", "meta")]

    def forget() -> None:  # hello is shared with other tests: remove only what this one made
        for ref in [*pushed, *(set(made) - existed)]:
            if docker_client.api.images(name=ref):
                docker_client.api.remove_image(ref)

    request.addfinalizer(forget)
    built = lain("build", "--app-dir", app_dir, *dirty)
    assert built.exit_code == ExitStatus.OK, built.stderr
    assert built.stdout.splitlines() == made
    assert "==> release: hello:release-" in built.stderr

    result = lain("-o", "json", "push", "--app-dir", app_dir, "--registry", registry.host)
    assert result.exit_code == ExitStatus.OK, result.stderr
    assert any(line["event"] == "layer" for line in json_lines(result.stderr))
    summary = json.loads(result.stdout)  # the one document on stdout
    assert summary["meta_version"] == mv
    assert [p["reference"] for p in summary["pushed"]] == pushed
    with RegistryClient(registry.host) as client:
        assert mv in client.app_versions("hello")

    text = lain("push", "--app-dir", app_dir, "--registry", registry.host)
    assert text.exit_code == ExitStatus.OK, text.stderr
    assert text.stdout.splitlines() == pushed
    assert "Layer already exists" in text.stderr


def test_build_json_ends_with_a_summary(lain, docker_client, base_image, tmp_path, cleanup):
    app = make_app(tmp_path, SIMPLE_TESTED)
    cleanup(app.name)
    result = lain("-o", "json", "build", "--app-dir", str(app.path))
    assert result.exit_code == ExitStatus.OK, result.stderr
    assert json_lines(result.stderr)[0]["event"] == "phase-started"
    summary = json.loads(result.stdout)  # the one document on stdout
    assert "event" not in summary
    assert summary["images"] == {
        p: f"{app.name}:{p}-{app.meta_version}" for p in ("build", "release", "meta")
    }
    assert summary["pushed"] == [] and summary["context_bytes"] > 0


def test_build_volumes_are_reported_as_unused(lain, docker_client, base_image, tmp_path, cleanup):
    app = make_app(tmp_path, SIMPLE_TESTED.replace("build:\n", "build:\n  volumes: [/cache]\n", 1))
    cleanup(app.name)
    result = lain("-o", "json", "build", "--app-dir", str(app.path))
    assert result.exit_code == ExitStatus.OK, result.stderr
    messages = [line["text"] for line in json_lines(result.stderr) if line["event"] == "message"]
    assert messages[0].startswith("build.volumes is not used by lain (v2's compile cache)")
    tested = lain("-o", "json", "test", "--app-dir", str(app.path))
    assert tested.exit_code == ExitStatus.OK, tested.stderr
    assert any(
        line["event"] == "message" and line["text"].startswith("build.volumes is not used")
        for line in json_lines(tested.stderr)
    )


def test_failing_build_line_gives_build_failed(lain, docker_client, base_image, tmp_path, cleanup):
    app = make_app(
        tmp_path, SIMPLE_TESTED.replace("echo built > built.txt", "echo about-to-fail; false")
    )
    cleanup(app.name)
    result = lain("build", "--app-dir", str(app.path))
    assert result.exit_code == ExitStatus.BUILD_FAILED
    assert result.stdout == ""
    assert "build failed" in result.stderr
    assert "failing line: echo about-to-fail; false" in result.stderr
    assert "about-to-fail" in result.stderr.split("last lines of the log:")[1]


def test_test_command_passes_and_fails(lain, docker_client, base_image, tmp_path, cleanup):
    app = make_app(tmp_path, SIMPLE_TESTED)
    cleanup(app.name)
    passed = lain("test", "--app-dir", str(app.path))
    assert passed.exit_code == ExitStatus.OK, passed.stderr
    assert f"{app.name}:test-{app.meta_version}" in passed.stdout.splitlines()
    assert "tests passed" in passed.stderr

    app.write(
        "lain.yaml",
        (app.path / "lain.yaml")
        .read_text()
        .replace("test -f built.txt", "echo checking; test -f nope"),
    )
    app.commit("break it")
    failed = lain("test", "--app-dir", str(app.path))
    assert failed.exit_code == ExitStatus.TEST_FAILED
    assert "failing line: echo checking; test -f nope" in failed.stderr
    assert "checking" in failed.stderr


def test_dirty_tree_refused_then_allowed(lain, docker_client, base_image, tmp_path, cleanup):
    app = make_app(tmp_path, SIMPLE_TESTED)
    cleanup(app.name)
    (app.path / "built.txt").write_text("local edit\n")
    refused = lain("build", "--app-dir", str(app.path))
    assert refused.exit_code == ExitStatus.GIT_ERROR
    assert "built.txt" in refused.stderr and "--allow-dirty" in refused.stderr
    allowed = lain("build", "--app-dir", str(app.path), "--allow-dirty")
    assert allowed.exit_code == ExitStatus.OK, allowed.stderr
    assert all(f"-{app.meta_version}-dirty-" in line for line in allowed.stdout.splitlines())


SECRET = """\
appname: {name}
build:
  base: {base}
  script:
    - echo "token=$API_TOKEN" > /dev/null
    - echo "shown $API_TOKEN"
    - echo "$MODE" > mode.txt
  build_arg:
    - API_TOKEN=$API_TOKEN
    - MODE=$LAIN_TEST_MODE
"""


@pytest.mark.parametrize("output", ["text", "json"])
def test_secret_build_arg_never_shows(lain, docker_client, base_image, tmp_path, cleanup, output):
    app = make_app(tmp_path, SECRET)
    cleanup(app.name)
    token = f"{app.name}-very-secret"
    env = {"API_TOKEN": token, "LAIN_TEST_MODE": "quick"}
    result = lain("-o", output, "build", "--app-dir", str(app.path), env=env)
    assert result.exit_code == ExitStatus.OK, result.stderr
    assert token not in result.stdout + result.stderr
    assert "shown ********" in result.stdout + result.stderr
    image = f"{app.name}:build-{app.meta_version}"
    assert docker_client.containers.run(image, ["cat", "mode.txt"], remove=True) == b"quick\n"


def test_build_arg_values_never_show_in_lain_build_output_or_images(
    lain, docker_client, base_image, tmp_path, cleanup
):
    app = make_app(tmp_path, LEAKY_APP)
    cleanup(app.name)
    env = leaky_values(app.name)
    pieces = secret_pieces(env.values())

    def build(*output: str) -> Any:
        result = lain(*output, "build", "--app-dir", str(app.path), env=env)
        shown = result.stdout + result.stderr
        assert [piece for piece in pieces if piece in shown] == [], (output, shown)
        return result

    passed = build()
    assert passed.exit_code == ExitStatus.OK, passed.stderr
    assert "db ******** pat ********" in passed.stderr
    assert build("-o", "json").exit_code == ExitStatus.OK

    app.write("lain.yaml", failing((app.path / "lain.yaml").read_text()))
    app.commit("fail")
    failed = build()
    assert failed.exit_code == ExitStatus.BUILD_FAILED
    assert f"failing line: {FAILING_LINE}" in failed.stderr
    assert "last words: ********" in failed.stderr.split("last lines of the log:")[1]
    failed_json = build("-o", "json")
    assert failed_json.exit_code == ExitStatus.BUILD_FAILED
    logged = [line["line"] for line in json_lines(failed_json.stderr) if "line" in line]
    assert "last words: ********" in logged
    assert json.loads(failed_json.stdout)["error"]["type"] == "BuildError"

    images = app_images(docker_client, app.name)
    assert {image["Id"] for image in docker_client.api.images(name=app.name)} <= images
    assert leaks(docker_client, images, env.values()) == []


def test_unset_build_arg_variable_is_named(lain, docker_client, base_image, tmp_path, cleanup):
    app = make_app(tmp_path, SECRET)
    cleanup(app.name)
    result = lain(
        "build", "--app-dir", str(app.path), env={"API_TOKEN": "x", "LAIN_TEST_MODE": None}
    )
    assert result.exit_code == ExitStatus.BUILD_FAILED
    assert "LAIN_TEST_MODE" in result.stderr and "not set" in result.stderr


def test_prepare_and_clean_commands(lain, docker_client, base_image, tmp_path, cleanup):
    app = make_app(tmp_path, SIMPLE_TESTED)
    cleanup(app.name)
    no_prepare = lain("prepare", "--app-dir", str(app.path))
    assert no_prepare.exit_code == ExitStatus.OK and "nothing to prepare" in no_prepare.stderr
    first = lain("build", "--app-dir", str(app.path))
    assert first.exit_code == ExitStatus.OK, first.stderr
    old = app.meta_version
    app.write("more.txt", "more\n")
    app.commit("second")
    assert lain("build", "--app-dir", str(app.path)).exit_code == ExitStatus.OK
    cleaned = lain("clean", "--app-dir", str(app.path), "--keep", "1")
    assert cleaned.exit_code == ExitStatus.OK, cleaned.stderr
    assert sorted(cleaned.stdout.splitlines()) == sorted(
        f"{app.name}:{p}-{old}" for p in ("build", "release", "meta")
    )
    as_json = json.loads(
        lain("-o", "json", "clean", "--app-dir", str(app.path), "--keep", "1").stdout
    )
    assert as_json["removed"] == [] and as_json["kept_versions"] == [app.meta_version]
