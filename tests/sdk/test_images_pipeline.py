"""lain_sdk.images.pipeline (build_app, prepare_app, test_app) on the fake engine, with sample
apps in real git repositories: which images exist afterwards, what they hold, what was reused,
which events were yielded, and what each failure says."""

from __future__ import annotations

import json
import re

import pytest
from fakes.engine import FakeDockerClient, raise_from, run_to_end
from fakes.images import CommandRun, FakeRegistry
from fakes.repos import SIMPLE

from lain_sdk.credentials import ENV_PASSWORD, ENV_USERNAME, Credentials
from lain_sdk.errors import (
    AppConfigError,
    BuildError,
    DirtyTreeError,
    RegistryError,
    TestFailed,
)
from lain_sdk.events import Message, PhaseFinished, PhaseLog, PhaseStarted
from lain_sdk.images import BuildResult, build_app, prepare_app, test_app

MULTI = """\
appname: {name}
build:
  base: {base}
  prepare:
    version: "1"
    keep:
      - deps
    script:
      - install-deps
  script:
    - make
  build_arg:
    - VERSION=7
release:
  dest_base: {base}
  copy:
    - src: /lain/app/dist/bin/app
      dest: /usr/local/bin/app
    - src: /lain/app/dist/share
      dest: /srv/share
test:
  script:
    - run-tests
web:
  cmd: /usr/local/bin/app
"""

MULTI_FILES = {
    "requirements.txt": "dep==1\n",
    "main.sh": "#!/bin/sh\necho hi\n",
    "data/a.txt": "a\n",
    "notes/todo.md": "not for the image\n",
    ".gitignore": "*.log\n",
    ".dockerignore": "notes\n",
}


# The builds see none of the caller's environment (registry credentials included).
ENVIRON: dict[str, str] = {}


def keep_only(*names: str):
    """What prepare's clean-up line does in a container: empty /lain/app but ``names``."""

    def handler(run: CommandRun) -> None:
        for path in list(run.files):
            top = path[len("/lain/app/") :].split("/")[0] if path.startswith("/lain/app/") else None
            if top is not None and top not in names:
                run.remove(path)

    return handler


def script_multi(engine) -> None:
    """The multi-phase app's lines, as they behave in its base image."""

    def install(run: CommandRun) -> None:
        run.write("deps/installed.txt", run.files["/lain/app/requirements.txt"])
        run.print("installed 1 package\n")

    def make(run: CommandRun) -> None:
        assert run.files["/lain/app/deps/installed.txt"] == b"dep==1\n"  # on the prepare image
        run.write("dist/bin/app", run.files["/lain/app/main.sh"])
        run.write("dist/share/a.txt", run.files["/lain/app/data/a.txt"])
        run.print(f"built version {run.env.get('VERSION')}\n")

    engine.on_command("install-deps", handler=install)
    engine.on_command("rm -rf", handler=keep_only("deps"))  # prepare.keep's clean-up
    engine.on_command("make", handler=make)


def finished(events) -> list[tuple[str, bool]]:
    return [(e.phase, e.cached) for e in events if isinstance(e, PhaseFinished)]


def logs(events, phase: str | None = None) -> list[str]:
    return [e.line for e in events if isinstance(e, PhaseLog) and phase in (None, e.phase)]


@pytest.fixture
def multi(make_app, engine, base_image):
    app = make_app(MULTI, MULTI_FILES)
    app.write("debug.log", "ignored by git\n")
    script_multi(engine)
    return app


def test_build_app_makes_prepare_build_release_and_meta(multi, fake_docker, engine, base_image):
    result, events = run_to_end(build_app(multi.path, engine=fake_docker, environ=ENVIRON))
    mv = multi.meta_version
    assert isinstance(result, BuildResult) and result.meta_version == mv and result.app == "hello"
    assert list(result.images) == ["prepare", "build", "release", "meta"]
    assert result.images["build"] == f"hello:build-{mv}"
    assert result.images["release"] == f"hello:release-{mv}"
    assert result.images["meta"] == f"hello:meta-{mv}"
    key = result.images["prepare"].split(":prepare-")[1]
    assert re.fullmatch(r"[0-9a-f]{20}", key)
    assert result.reused == () and result.context_bytes > 0 and result.pushed == ()
    for phase, tag in result.images.items():
        image = engine.image(tag)
        assert image.id == result.image_ids[phase]
        assert image.labels["lain.app"] == "hello" and image.labels["lain.phase"] == phase
        assert image.labels["lain.meta-version"] == mv
        assert image.labels["lain.git-sha"] == mv.split("-", 1)[1]
    assert engine.image(result.images["build"]).labels["lain.prepare-key"] == key
    assert finished(events) == [(p, False) for p in ("prepare", "build", "release", "meta")]
    assert [e.phase for e in events if isinstance(e, PhaseStarted)] == [
        "prepare",
        "build",
        "release",
        "meta",
    ]
    assert "RUN make" in " ".join(logs(events, "build"))
    assert "built version 7" in logs(events, "build")  # the public build arg reached the line
    # Build and release came from one request to the builder: the context was sent once.
    assert len(engine.builds) == 1 and engine.builds[0].buildargs == {"VERSION": "7"}
    assert fake_docker.api.containers(all=True) == []


def test_what_each_image_holds(multi, fake_docker, engine, base_image):
    result, _ = run_to_end(build_app(multi.path, engine=fake_docker, environ=ENVIRON))
    base = engine.image(base_image)
    # prepare: the base plus one layer (no COPY of the sources), holding only prepare.keep.
    prepare = engine.image(result.images["prepare"])
    assert prepare.layers[:-1] == base.layers
    assert {
        p
        for p in engine.layer_changes(prepare.id)[-1]
        if engine.layer_changes(prepare.id)[-1][p] is not None
    } == {"/lain/app/deps/installed.txt"}
    assert prepare.config["WorkingDir"] == "/lain/app" and prepare.config["Cmd"] == ["sh"]
    # build: on the prepare image, with the sources git and .dockerignore let through.
    build = engine.files(result.images["build"])
    assert engine.image(result.images["build"]).layers[: len(prepare.layers)] == prepare.layers
    app_files = {p[len("/lain/app/") :] for p in build if p.startswith("/lain/app/")}
    assert {
        "main.sh",
        "data/a.txt",
        "lain.yaml",
        ".gitignore",
        ".dockerignore",
        "deps/installed.txt",
        "dist/bin/app",
    } <= app_files
    assert not {"debug.log", "notes/todo.md", "lain.Dockerfile"} & app_files
    assert not any(".git/" in p for p in app_files)
    # release: dest_base plus the copies, no sources, working in /lain/app.
    release = engine.files(result.images["release"])
    assert release == {
        "/bin/sh": b"\x7fELF sh\n",
        "/usr/local/bin/app": b"#!/bin/sh\necho hi\n",
        "/srv/share/a.txt": b"a\n",
    }
    assert engine.image(result.images["release"]).config["WorkingDir"] == "/lain/app"
    # meta: lain.yaml alone, in one layer.
    assert engine.files(result.images["meta"]) == {
        "/lain.yaml": (multi.path / "lain.yaml").read_bytes()
    }
    assert len(engine.image(result.images["meta"]).layers) == 1


def test_a_code_change_reuses_prepare_and_a_prepare_change_rebuilds_it(multi, fake_docker, engine):
    first, _ = run_to_end(build_app(multi.path, engine=fake_docker, environ=ENVIRON))
    multi.write("main.sh", "#!/bin/sh\necho changed\n")
    multi.commit("code only")
    second, events = run_to_end(build_app(multi.path, engine=fake_docker, environ=ENVIRON))
    assert second.meta_version != first.meta_version
    assert second.image_ids["prepare"] == first.image_ids["prepare"]
    assert second.reused == ("prepare",)
    assert finished(events)[0] == ("prepare", True)
    assert logs(events, "prepare") == []  # nothing ran
    assert [r.line for r in engine.ran].count("install-deps") == 1
    assert engine.files(second.images["release"])["/usr/local/bin/app"].endswith(b"changed\n")

    # A prepare script change, the version staying "1", is noticed (v2 ignored it).
    multi.edit("- install-deps", "- install-deps --again")
    multi.commit("prepare change")
    third, events = run_to_end(prepare_app(multi.path, engine=fake_docker, environ=ENVIRON))
    assert list(third.images) == ["prepare"]
    assert third.images["prepare"] != first.images["prepare"]
    assert third.image_ids["prepare"] != first.image_ids["prepare"]
    assert finished(events) == [("prepare", False)]
    assert engine.ran[-2].line == "install-deps --again"


def test_a_second_build_of_the_same_version_reuses_everything(multi, fake_docker, engine):
    first, _ = run_to_end(build_app(multi.path, engine=fake_docker, environ=ENVIRON))
    again, events = run_to_end(build_app(multi.path, engine=fake_docker, environ=ENVIRON))
    assert again.image_ids == first.image_ids
    assert again.reused == ("prepare", "build", "release", "meta")
    assert all(cached for _, cached in finished(events))

    fresh, _ = run_to_end(build_app(multi.path, engine=fake_docker, environ=ENVIRON, no_cache=True))
    assert fresh.reused == ()
    assert not set(fresh.image_ids.values()) & set(first.image_ids.values())
    assert engine.image(fresh.images["release"]).id == fresh.image_ids["release"]


def test_prepare_app(make_app, fake_docker, engine, base_image):
    app = make_app(SIMPLE)
    result, events = run_to_end(prepare_app(app.path, engine=fake_docker))
    assert events == [Message("lain.yaml has no build.prepare: nothing to prepare")]
    assert result.images == {} and engine.calls == []

    app.write("lain.yaml", MULTI.replace("{name}", "hello").replace("{base}", base_image))
    app.write("uncommitted.txt", "a dirty tree is fine for prepare\n")
    result, events = run_to_end(prepare_app(app.path, engine=fake_docker, environ=ENVIRON))
    assert list(result.images) == ["prepare"]
    assert engine.image(result.images["prepare"]).labels["lain.phase"] == "prepare"
    assert "RUN install-deps" in logs(events, "prepare")


def test_a_failing_build_line_is_named_and_nothing_after_it_is_made(
    make_app, fake_docker, engine, base_image
):
    app = make_app(
        SIMPLE.replace(
            "echo built > built.txt", "echo one\n    - echo boom; exit 3\n    - echo never"
        )
    )
    engine.on_command("exit 3", output="boom-output\n", exit_code=3)
    events: list = []
    with pytest.raises(BuildError) as caught:
        raise_from(build_app(app.path, engine=fake_docker), events)
    error = caught.value
    assert type(error) is BuildError and error.phase == "build"
    assert error.failed_line == "echo boom; exit 3"
    assert "status 3" in error.reason and "boom-output" in error.log
    assert "never" not in str(error) and "echo never" not in [r.line for r in engine.ran]
    assert engine.tags() == [base_image]  # no build, release or meta image
    assert not any(isinstance(e, PhaseFinished) for e in events)


def test_a_failing_prepare_line_leaves_no_prepare_image_and_no_container(
    multi, fake_docker, engine, base_image
):
    engine.on_command("install-deps", output="resolving\nno such package: dep\n", exit_code=2)
    with pytest.raises(BuildError) as caught:
        run_to_end(build_app(multi.path, engine=fake_docker, environ=ENVIRON))
    error = caught.value
    assert (error.phase, error.failed_line) == ("prepare", "install-deps")
    assert error.log == ["resolving", "no such package: dep"]
    assert engine.tags() == [base_image]
    assert fake_docker.api.containers(all=True) == []


def test_test_app_runs_the_tests_every_time(multi, fake_docker, engine):
    engine.on_command("run-tests", output="3 passed\n")
    result, events = run_to_end(test_app(multi.path, engine=fake_docker, environ=ENVIRON))
    mv = multi.meta_version
    assert result.images["test"] == f"hello:test-{mv}"
    assert list(result.images) == ["prepare", "build", "test"]
    assert "3 passed" in result.test_log and "RUN run-tests" in " ".join(result.test_log)
    assert engine.image(result.images["test"]).labels["lain.phase"] == "test"
    assert ("test", False) in finished(events)
    # Never from the cache: a second run runs the line again.
    again, _ = run_to_end(test_app(multi.path, engine=fake_docker, environ=ENVIRON))
    assert "test" not in again.reused and "3 passed" in again.test_log
    assert [r.line for r in engine.ran].count("run-tests") == 2
    assert again.image_ids["test"] != result.image_ids["test"]


def test_a_failing_test_is_test_failed(multi, fake_docker, engine):
    engine.on_command("run-tests", output="1 passed\nFAILED test_x\n", exit_code=1)
    with pytest.raises(TestFailed) as caught:
        run_to_end(test_app(multi.path, engine=fake_docker, environ=ENVIRON))
    assert (caught.value.phase, caught.value.failed_line) == ("test", "run-tests")
    assert caught.value.log[-2:] == ["1 passed", "FAILED test_x"]
    assert engine.find_image(f"hello:test-{multi.meta_version}") is None


def test_test_app_without_a_test_script(make_app, fake_docker, engine, base_image):
    app = make_app(SIMPLE)
    result, events = run_to_end(test_app(app.path, engine=fake_docker))
    assert Message("lain.yaml has no test.script: nothing to test") in events
    assert result.test_log == () and list(result.images) == ["build"]


def test_a_release_without_dest_base_is_the_build_image_relabelled(
    make_app, fake_docker, engine, base_image
):
    app = make_app(SIMPLE + "release:\n  script:\n    - echo released > released.txt\n")
    engine.on_command("echo built", writes={"built.txt": "built\n"})
    engine.on_command("echo released", writes={"released.txt": "released\n"})
    result, events = run_to_end(build_app(app.path, engine=fake_docker))
    release, build = engine.image(result.images["release"]), engine.image(result.images["build"])
    assert release.labels["lain.phase"] == "release"
    files = engine.files(release.id)
    assert files["/lain/app/built.txt"] == b"built\n"
    assert files["/lain/app/released.txt"] == b"released\n"
    # release.script made one layer on the build image; the relabelling adds none.
    assert release.layers[:-1] == build.layers
    script_image = engine.image(f"hello:script_inter-{app.meta_version}")
    assert script_image.labels["lain.phase"] == "script_inter"
    assert script_image.layers == release.layers
    assert [p for p, _ in finished(events)] == ["build", "release", "meta"]

    again, _ = run_to_end(build_app(app.path, engine=fake_docker))
    assert again.image_ids == result.image_ids
    assert set(again.reused) == {"build", "release", "meta"}


GLOB_APP = """\
appname: {name}
build:
  base: {base}
  script:
    - make
release:
  dest_base: {base}
  copy:
    - src: $DIST/*.txt
      dest: /srv/txt/
    - src: /lain/app/dist/bin
      dest: /srv/bin
  script:
    - strip-binaries
"""


def expand_like_sh(run: CommandRun) -> None:
    """What lain's copy-expansion script prints in a container: for each source its "$VAR"s
    from the environment, then its glob matches, each NUL-terminated, then an empty record;
    status 3, naming the source on stderr, when one matches nothing."""
    paths = set(run.files)
    for name in list(paths):
        while name != "/":
            name = name.rsplit("/", 1)[0] or "/"
            paths.add(name)
    for spec in run.argv[4:]:
        spec = re.sub(r"\$\{?(\w+)\}?", lambda m: run.env.get(m[1], ""), spec)
        pattern = re.escape(spec).replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        found = sorted(p for p in paths if re.fullmatch(pattern, p))
        if not found:
            run.print(spec + "\n", stderr=True)
            run.exit_code = 3
            return
        for path in found:
            run.print(path.encode() + b"\0")
        run.print(b"\0")


def test_release_copies_with_globs_and_variables_are_expanded_in_the_build_image(
    make_app, fake_docker, engine
):
    engine.add_image(
        "lain-local/busybox:latest",
        files={"/bin/sh": b"sh"},
        config={"Cmd": ["sh"], "Env": ["PATH=/bin", "DIST=/lain/app/dist"]},
    )
    app = make_app(GLOB_APP)
    engine.on_command(
        "make",
        writes={"dist/a.txt": "a", "dist/b.txt": "b", "dist/c.bin": "c", "dist/bin/app": "app"},
    )
    engine.on_command("strip-binaries", writes={"dist/bin/app": "stripped"})
    engine.on_command("lain-copy", handler=expand_like_sh)
    result, events = run_to_end(build_app(app.path, engine=fake_docker))
    files = engine.files(result.images["release"])
    assert files == {
        "/bin/sh": b"sh",
        "/srv/txt/a.txt": b"a",
        "/srv/txt/b.txt": b"b",
        "/srv/bin/app": b"stripped",  # copied from the release.script image
    }
    # The expansion ran in the image release.script made, the build phase on its own.
    expansion = next(r for r in engine.ran if "lain-copy" in r.argv)
    assert expansion.image == engine.image(f"hello:script_inter-{app.meta_version}").id
    assert expansion.argv[4:] == ["$DIST/*.txt", "/lain/app/dist/bin"]
    assert [p for p, _ in finished(events)] == ["build", "release", "meta"]
    assert fake_docker.api.containers(all=True) == []


def test_a_copy_source_that_matches_nothing_is_named(make_app, fake_docker, engine, base_image):
    app = make_app(GLOB_APP.replace("$DIST/*.txt", "/lain/app/out/*.txt"))
    engine.on_command("lain-copy", handler=expand_like_sh)
    with pytest.raises(BuildError) as caught:
        run_to_end(build_app(app.path, engine=fake_docker))
    error = caught.value
    assert error.phase == "release"
    assert error.reason == "copy source /lain/app/out/*.txt matches nothing in the build image"
    assert error.failed_line == "copy /lain/app/out/*.txt -> /srv/txt/"


SECRET_APP = """\
appname: {name}
build:
  base: {base}
  prepare:
    script:
      - fetch-deps --token "$PREP_TOKEN"
    build_arg:
      - PREP_TOKEN=$LAIN_TEST_PREP_TOKEN
  script:
    - echo "$MODE" > mode.txt
    - deploy-key-check "$API_TOKEN"
  build_arg:
    - API_TOKEN=$LAIN_TEST_API_TOKEN
    - MODE=fast
"""

SECRETS = {"LAIN_TEST_API_TOKEN": "tok-s3cret-value", "LAIN_TEST_PREP_TOKEN": "prep-s3cret-value"}


def test_secret_build_args_reach_the_lines_and_nothing_else(
    make_app, fake_docker, engine, base_image
):
    app = make_app(SECRET_APP)
    engine.on_command(
        "fetch-deps", handler=lambda run: run.print(f"prep saw {run.env['PREP_TOKEN']}\n")
    )
    engine.on_command(
        "deploy-key-check",
        handler=lambda run: run.print(
            f"using token {run.env['API_TOKEN']} in mode {run.env['MODE']}\n"
        ),
    )
    result, events = run_to_end(build_app(app.path, engine=fake_docker, environ=SECRETS))
    # The lines got the values...
    by_line = {r.line: r for r in engine.ran}
    assert by_line['deploy-key-check "$API_TOKEN"'].env["API_TOKEN"] == "tok-s3cret-value"
    assert by_line['fetch-deps --token "$PREP_TOKEN"'].env["PREP_TOKEN"] == "prep-s3cret-value"
    # ...but no image, no history, no builder request and no event holds them.
    shown = json.dumps([e.to_dict() for e in events]) + repr(result)
    assert "using token ******** in mode fast" in shown and "prep saw ********" in shown
    assert (
        Message(
            "build: secret build args (API_TOKEN) are given to the script lines only; this phase "
            "is not layer-cached"
        )
        in events
    )
    for phase, tag in result.images.items():
        everything = (
            json.dumps(fake_docker.api.inspect_image(tag))
            + json.dumps(fake_docker.api.history(tag))
            + json.dumps(engine.layer_changes(tag), default=repr)
        )
        for secret in SECRETS.values():
            assert secret not in everything, phase
        assert engine.image(tag).labels["lain.phase"] == phase
    assert all("API_TOKEN" not in b.buildargs and "MODE" in b.buildargs for b in engine.builds)
    config = engine.image(result.images["build"]).config
    assert not any(e.startswith(("API_TOKEN", "PREP_TOKEN", "MODE")) for e in config["Env"])
    assert config["Cmd"] == ["sh"] and config["WorkingDir"] == "/lain/app"
    assert fake_docker.api.containers(all=True) == []


def test_a_failing_secret_line_is_masked(make_app, fake_docker, engine, base_image):
    app = make_app(SECRET_APP)
    engine.on_command(
        "deploy-key-check",
        exit_code=4,
        handler=lambda run: run.print(f"leak {run.env['API_TOKEN']}\n"),
    )
    with pytest.raises(BuildError) as caught:
        run_to_end(build_app(app.path, engine=fake_docker, environ=SECRETS))
    assert caught.value.failed_line == 'deploy-key-check "$API_TOKEN"'
    assert caught.value.log == ["leak ********"]
    assert "tok-s3cret-value" not in str(caught.value)
    assert fake_docker.api.containers(all=True) == []


ENV_ARGS_APP = """\
appname: {name}
build:
  base: {base}
  script:
    - show-args
  build_arg:
    - DB_PASS=$LAIN_TEST_X
    - GH_PAT=${LAIN_TEST_Y}
    - PEM=$LAIN_TEST_Z
    - MODE=fast
"""

ENV_ARGS = {
    "LAIN_TEST_X": "db-pass-5f1d",
    "LAIN_TEST_Y": "ghp_pat_77c2",
    "LAIN_TEST_Z": (
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0B\n-----END PRIVATE KEY-----\n"
    ),
}
# What must not show anywhere: each value, and each line of the multi-line one.
ENV_ARG_SECRETS = {v for value in ENV_ARGS.values() for v in (value, *value.splitlines())}


def show_args(run: CommandRun) -> None:
    """A script line that prints its build args, the PEM quoted and then unquoted, in chunks
    cut inside the values."""
    for name in ("DB_PASS", "GH_PAT", "PEM"):
        value = run.env[name]
        run.print(f"{name}={value[:5]}")
        run.print(f"{value[5:]}\n")
    run.print(" ".join(run.env["PEM"].split()) + "\n")
    run.print(f"mode {run.env['MODE']}\n")


def test_build_args_from_the_environment_are_secret_whatever_their_name(
    make_app, fake_docker, engine, base_image
):
    app = make_app(ENV_ARGS_APP)
    engine.on_command("show-args", handler=show_args)
    result, events = run_to_end(build_app(app.path, engine=fake_docker, environ=ENV_ARGS))
    ran = next(r for r in engine.ran if r.line == "show-args")
    assert {name: ran.env[name] for name in ("DB_PASS", "GH_PAT", "MODE")} == {
        "DB_PASS": "db-pass-5f1d",
        "GH_PAT": "ghp_pat_77c2",
        "MODE": "fast",
    }
    assert ran.env["PEM"] == ENV_ARGS["LAIN_TEST_Z"]
    assert logs(events, "build") == [
        "RUN show-args",
        "DB_PASS=********",
        "GH_PAT=********",
        "PEM=********",
        "********",
        "********",
        "",  # the value's own last newline
        "********",
        "mode fast",
    ]
    assert (
        Message(
            "build: secret build args (DB_PASS, GH_PAT, PEM) are given to the script lines only; "
            "this phase is not layer-cached"
        )
        in events
    )
    shown = json.dumps([e.to_dict() for e in events]) + repr(result)
    requests = json.dumps([b.buildargs for b in engine.builds])
    for phase, tag in result.images.items():
        everything = (
            json.dumps(fake_docker.api.inspect_image(tag))
            + json.dumps(fake_docker.api.history(tag))
            + json.dumps(engine.layer_changes(tag), default=repr)
        )
        for secret in ENV_ARG_SECRETS:
            assert secret not in everything + shown + requests, (phase, secret)


def test_a_failing_line_hides_every_line_of_a_multi_line_value(
    make_app, fake_docker, engine, base_image
):
    app = make_app(ENV_ARGS_APP)
    engine.on_command("show-args", handler=show_args, exit_code=3)
    events: list = []
    with pytest.raises(BuildError) as caught:
        raise_from(build_app(app.path, engine=fake_docker, environ=ENV_ARGS), events)
    assert caught.value.failed_line == "show-args"
    assert caught.value.log[-5:] == ["********", "********", "", "********", "mode fast"]
    shown = str(caught.value) + json.dumps([e.to_dict() for e in events])
    assert not any(secret in shown for secret in ENV_ARG_SECRETS)
    assert fake_docker.api.containers(all=True) == []


def test_a_missing_build_arg_variable_is_reported_before_any_engine_work(
    make_app, fake_docker, engine
):
    app = make_app(SECRET_APP)
    with pytest.raises(BuildError) as caught:
        run_to_end(build_app(app.path, engine=fake_docker, environ={}))
    assert caught.value.reason == (
        "build_arg PREP_TOKEN needs the environment variable LAIN_TEST_PREP_TOKEN, which is not set"
    )
    assert engine.calls == []


def test_lain_yaml_problems_come_before_the_engine(make_app, fake_docker, engine):
    app = make_app("appname: hello\nbuild: {}\n")
    with pytest.raises(AppConfigError):
        run_to_end(build_app(app.path, engine=fake_docker))
    assert engine.calls == []


def test_a_dirty_tree_is_refused_unless_allowed(make_app, fake_docker, engine, base_image):
    app = make_app(SIMPLE)
    app.write("new-file.txt", "uncommitted\n")
    with pytest.raises(DirtyTreeError, match=r"new-file\.txt"):
        run_to_end(build_app(app.path, engine=fake_docker))
    assert engine.calls == []
    result, _ = run_to_end(build_app(app.path, engine=fake_docker, allow_dirty=True))
    assert result.meta_version.startswith(app.meta_version + "-dirty-")
    assert result.images["release"] == f"hello:release-{result.meta_version}"
    assert engine.files(result.images["build"])["/lain/app/new-file.txt"] == b"uncommitted\n"


def test_build_volumes_are_not_used_and_it_says_so(make_app, fake_docker, base_image):
    app = make_app(SIMPLE + "  volumes:\n    - /root/.m2\n")
    _, events = run_to_end(build_app(app.path, engine=fake_docker))
    assert any(isinstance(e, Message) and "build.volumes is not used" in e.text for e in events)


def test_a_base_the_engine_lacks_is_pulled_and_a_missing_one_named(
    make_app, fake_docker, engine, registry
):
    base_id = registry.add_image("library/busybox:1", files={"/bin/sh": b"sh"})
    app = make_app(SIMPLE.replace("{base}", "registry.example.com/library/busybox:1"))
    result, events = run_to_end(build_app(app.path, engine=fake_docker))
    assert Message("pulling registry.example.com/library/busybox:1 (not on this engine)") in events
    assert engine.image("registry.example.com/library/busybox:1").id == base_id
    assert engine.image(result.images["build"]).layers[0] == engine.image(base_id).layers[0]

    app.edit("busybox:1", "busybox:2")
    app.commit("a base nobody has")
    with pytest.raises(BuildError) as caught:
        run_to_end(build_app(app.path, engine=fake_docker))
    assert "registry.example.com/library/busybox:2" in str(caught.value)


def test_the_default_engine_is_connected_only_when_needed(
    make_app, fake_docker, engine, base_image, monkeypatch
):
    connected = []

    def connect():
        connected.append(1)
        return fake_docker

    monkeypatch.setattr("lain_sdk.engine.connect", connect)
    app = make_app(SIMPLE)
    with pytest.raises(RegistryError, match="no registry given to push to"):
        run_to_end(build_app(app.path, push=True))
    assert connected == []
    result, _ = run_to_end(build_app(app.path))
    assert connected == [1] and engine.image(result.images["release"]).id


def test_build_result_as_a_dict(make_app, fake_docker, base_image):
    app = make_app(SIMPLE)
    result, _ = run_to_end(build_app(app.path, engine=fake_docker))
    data = result.to_dict()
    assert data["app"] == "hello" and data["meta_version"] == app.meta_version
    assert data["images"] == dict(result.images) and data["image_ids"] == dict(result.image_ids)
    assert data["reused"] == [] and data["pushed"] == [] and data["context_bytes"] > 0
    json.dumps(data)


# -- with a registry -----------------------------------------------------------------------------

SHARED_BASE = "registry.example.com/library/busybox:1"


@pytest.fixture
def shared(make_app, engine, registry):
    """The multi-phase app on a base that engines pull from the registry (so that on every
    engine it is the same image, and prepare keys agree)."""
    registry.add_image("library/busybox:1", files={"/bin/sh": b"sh"}, config={"Cmd": ["sh"]})
    app = make_app(MULTI.replace("{base}", SHARED_BASE), MULTI_FILES)
    script_multi(engine)
    return app


def another_engine(registry) -> FakeDockerClient:
    other = FakeDockerClient()
    other.engine.add_registry(registry)
    script_multi(other.engine)
    return other


def build_and_push(app, client):
    return run_to_end(
        build_app(
            app.path,
            engine=client,
            registry="registry.example.com",
            push=True,
            environ=ENVIRON,
        )
    )


def test_build_and_push_sends_prepare_and_another_engine_pulls_it(shared, fake_docker, registry):
    built, events = build_and_push(shared, fake_docker)
    key = built.images["prepare"].split(":prepare-")[1]
    assert [p.phase for p in built.pushed] == ["prepare", "release", "meta"]
    assert registry.tags("hello") == sorted(
        [f"prepare-{key}", f"release-{built.meta_version}", f"meta-{built.meta_version}"]
    )
    assert [e.phase for e in events if isinstance(e, PhaseFinished)][-3:] == [
        "push prepare",
        "push release",
        "push meta",
    ]

    # On another engine, the next build takes the registry's prepare image instead of
    # building it.
    other = another_engine(registry)
    shared.write("code.txt", "new\n")
    shared.commit("code change")
    again, events = run_to_end(
        build_app(shared.path, engine=other, registry="registry.example.com", environ=ENVIRON)
    )
    assert again.images["prepare"] == built.images["prepare"]
    assert again.image_ids["prepare"] == built.image_ids["prepare"]
    assert "prepare" in again.reused
    remote = f"registry.example.com/{built.images['prepare']}"
    assert Message(f"pulling the prepare image {remote}") in events
    assert "install-deps" not in [r.line for r in other.engine.ran]
    assert other.engine.image(again.images["prepare"]).id == other.engine.image(remote).id
    assert other.engine.files(again.images["release"])["/usr/local/bin/app"] == (
        b"#!/bin/sh\necho hi\n"
    )


def test_a_prepare_image_that_cannot_be_pulled_is_built_here(shared, fake_docker, registry):
    first, _ = build_and_push(shared, fake_docker)
    key = first.images["prepare"].split(":prepare-")[1]
    other = another_engine(registry)
    registry.fail_pull(f"hello:prepare-{key}", "unexpected EOF")
    again, events = run_to_end(
        build_app(shared.path, engine=other, registry="registry.example.com", environ=ENVIRON)
    )
    assert (
        Message(
            f"could not pull image registry.example.com/hello:prepare-{key}: unexpected EOF; "
            "building it here"
        )
        in events
    )
    assert again.images["prepare"] == first.images["prepare"] and "prepare" not in again.reused
    assert "install-deps" in [r.line for r in other.engine.ran]


def test_a_prepare_image_the_registry_has_is_not_pushed_again(multi, fake_docker, engine, registry):
    def build():
        return run_to_end(
            build_app(
                multi.path,
                engine=fake_docker,
                registry="registry.example.com",
                push=True,
                environ=ENVIRON,
            )
        )[0]

    assert [p.phase for p in build().pushed] == ["prepare", "release", "meta"]
    multi.write("code.txt", "new\n")
    multi.commit("code change")
    second = build()
    assert [p.phase for p in second.pushed] == ["release", "meta"]
    assert all(p.reference.startswith("registry.example.com/hello:") for p in second.pushed)
    assert second.to_dict()["pushed"][0]["reference"] == second.pushed[0].reference

    # When the registry cannot say, prepare is pushed (the push says what is wrong).
    multi.write("code.txt", "newer\n")
    multi.commit("another change")
    registry.reachable = False
    with pytest.raises(RegistryError, match=r"registry\.example\.com"):
        build()


def test_a_registry_that_cannot_be_asked_means_building_prepare_here(
    multi, fake_docker, engine, registry
):
    registry.reachable = False
    result, events = run_to_end(
        build_app(multi.path, engine=fake_docker, registry="registry.example.com", environ=ENVIRON)
    )
    assert any(
        isinstance(e, Message)
        and e.text.startswith("could not look for a prepare image in registry.example.com (")
        and e.text.endswith("); building it here")
        for e in events
    )
    assert result.reused == () and "install-deps" in [r.line for r in engine.ran]


def test_credentials_for_the_registries_of_bases_and_pushes(
    make_app, fake_docker, engine, registries
):
    private = FakeRegistry("private.example.com", username="ci", password="pw")
    registries[private.host] = engine.add_registry(private)
    private.add_image("library/busybox:1", files={"/bin/sh": b"sh"})
    app = make_app(SIMPLE.replace("{base}", "private.example.com/library/busybox:1"))
    with pytest.raises(BuildError, match="no basic auth credentials"):
        run_to_end(build_app(app.path, engine=fake_docker))
    # Credentials given for the registry built for are used for a base there, and to push.
    built, _ = run_to_end(
        build_app(
            app.path,
            engine=fake_docker,
            registry="private.example.com",
            push=True,
            credentials=Credentials("ci", "pw"),
        )
    )
    assert engine.calls_to("pull")[-1].details["auth_config"] == {
        "username": "ci",
        "password": "pw",
    }
    assert [p.phase for p in built.pushed] == ["release", "meta"]
    assert private.tags("hello") == [f"meta-{app.meta_version}", f"release-{app.meta_version}"]
    assert "pw" not in repr(built)
    # Stored credentials (here from the environment) are found for a base's registry.
    other = FakeDockerClient()
    other.engine.add_registry(private)
    environ = {ENV_USERNAME: "ci", ENV_PASSWORD: "pw"}
    run_to_end(build_app(app.path, engine=other, environ=environ))
    assert other.engine.calls_to("pull")[-1].details["auth_config"] == {
        "username": "ci",
        "password": "pw",
    }
