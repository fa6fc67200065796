"""lain_sdk.images.builder (:class:`Builder`) on the fake engine: image lookups and pulls, the
classic builder (a step and a layer per line, its cache, multi-stage builds), script lines run in
a container and committed, helper containers, and how each failure is reported."""

from __future__ import annotations

import json
import time

import pytest
import requests
import urllib3.exceptions
from fakes.base import engine_error
from fakes.engine import raise_from, run_to_end
from fakes.images import FakeRegistry

from lain_sdk.credentials import Credentials
from lain_sdk.errors import BuildError, EngineError, LainTimeout, TestFailed
from lain_sdk.events import Message, PhaseFinished, PhaseLog, PhaseStarted
from lain_sdk.images import Builder
from lain_sdk.images.buildargs import masker
from lain_sdk.images.context import archive_of
from lain_sdk.images.dockerfiles import (
    DOCKERFILE_NAME,
    Stage,
    build_dockerfile,
    keep_command,
    meta_archive,
    release_dockerfile,
    script_dockerfile,
)

SOURCES = {"app/main.sh": b"echo hi\n", "app/data/a.txt": b"a\n"}


def context(dockerfile, files=SOURCES) -> bytes:
    return archive_of({DOCKERFILE_NAME: dockerfile.text.encode(), **files})


def logs(events) -> list[str]:
    return [e.line for e in events if isinstance(e, PhaseLog)]


def history(fake_docker, reference: str) -> str:
    """What `docker history --no-trunc` lists: every step's command and comment."""
    return json.dumps(fake_docker.api.history(reference))


# -- images --------------------------------------------------------------------------------------


def test_image_id_and_config_of_present_and_absent_images(fake_docker, engine, base_image):
    builder = Builder(fake_docker)
    assert builder.image_id(base_image) == engine.image(base_image).id
    assert builder.image_id("absent:1") is None
    assert builder.image_config(base_image)["Cmd"] == ["sh"]
    with pytest.raises(EngineError, match="the engine has no image absent:1"):
        builder.image_config("absent:1")


def test_an_engine_refusing_to_inspect_is_an_engine_error(fake_docker, engine, base_image):
    engine.fail_call("inspect_image", engine_error(500, "layer store is corrupt"))
    with pytest.raises(EngineError) as caught:
        Builder(fake_docker).image_id(base_image)
    assert str(caught.value) == (
        f"the engine could not inspect image {base_image}: layer store is corrupt"
    )


def test_tag_names_an_image_and_moves_the_name(fake_docker, engine, base_image):
    builder = Builder(fake_docker)
    other = engine.add_image("other:1")
    builder.tag(base_image, "hello:release-1")
    assert engine.image("hello:release-1").id == engine.image(base_image).id
    builder.tag(other, "hello:release-1")
    assert engine.image("hello:release-1").id == other
    assert "hello:release-1" not in engine.image(base_image).tags
    with pytest.raises(EngineError, match="could not tag Not/Valid:1: invalid reference format"):
        builder.tag(other, "Not/Valid:1")


# -- bases: present, or pulled -------------------------------------------------------------------


def test_a_present_base_is_used_as_it_is_and_looked_up_once(fake_docker, engine, base_image):
    builder = Builder(fake_docker)
    asked = []
    found, events = run_to_end(builder.ensure_image(base_image, "build", lambda: asked.append(1)))
    again, _ = run_to_end(builder.ensure_image(base_image, "build"))
    assert found == again == engine.image(base_image).id
    assert events == [] and asked == []  # no pull, no credential lookup
    assert len(engine.calls_to("inspect_image")) == 1
    assert engine.calls_to("pull") == []


def test_a_missing_base_is_pulled_with_credentials_looked_up_then(fake_docker, engine, registries):
    registry = engine.add_registry(
        FakeRegistry("registry.example.com", username="ci", password="pw")
    )
    pushed = registry.add_image("library/base:1", files={"/bin/sh": b"sh"})
    asked = []

    def lookup():
        asked.append(1)
        return Credentials("ci", "pw")

    reference = "registry.example.com/library/base:1"
    found, events = run_to_end(Builder(fake_docker).ensure_image(reference, "build", lookup))
    assert found == pushed == engine.image(reference).id
    assert asked == [1]
    assert engine.calls_to("pull")[0].details["auth_config"] == {"username": "ci", "password": "pw"}
    assert events[0] == Message(f"pulling {reference} (not on this engine)")
    lines = logs(events)
    layer = engine.image(reference).layers[0].split(":")[1][:12]
    # One line per state change of a layer, not one per progress tick.
    assert lines.count(f"{layer}: Downloading") == 1
    assert f"{layer}: Pull complete" in lines
    assert lines[-1] == f"Status: Downloaded newer image for {reference}"


def test_a_pull_that_fails_names_the_image_and_the_reason(fake_docker, engine, registry):
    registry.add_image("library/base:1")
    builder = Builder(fake_docker)
    missing = "registry.example.com/library/base:2"
    with pytest.raises(BuildError) as caught:
        run_to_end(builder.ensure_image(missing, "build"))
    assert caught.value.phase == "build"
    assert caught.value.reason == (
        f"could not pull image {missing}: manifest for registry.example.com/library/base:2 "
        "not found: manifest unknown: manifest unknown"
    )

    registry.fail_pull("library/base:1", "unexpected EOF")
    with pytest.raises(BuildError, match=r"could not pull image .*base:1: unexpected EOF"):
        run_to_end(builder.pull("registry.example.com/library/base:1", "build"))

    registry.reachable = False
    with pytest.raises(BuildError, match="connection refused"):
        run_to_end(builder.pull("registry.example.com/library/base:1", "prepare"))
    assert engine.find_image("registry.example.com/library/base:1") is None


def test_losing_the_engine_during_a_pull_is_a_build_error(fake_docker, engine, registry):
    registry.add_image("library/base:1")
    # docker-py reads the stream through urllib3, which reports a broken connection as its own
    # ProtocolError (neither an OSError nor a requests exception).
    engine.fail_call(
        "pull", urllib3.exceptions.ProtocolError("Connection broken: reset"), after_chunks=2
    )
    with pytest.raises(BuildError) as caught:
        run_to_end(Builder(fake_docker).pull("registry.example.com/library/base:1", "build"))
    assert caught.value.reason.startswith(
        "could not pull image registry.example.com/library/base:1: Connection broken"
    )


def test_a_pull_past_the_timeout_is_stopped(fake_docker, engine, registry, engine_clock):
    registry.add_image("library/base:1", files={"/big": b"x" * 100})
    registry.pull_seconds = 500
    with pytest.raises(LainTimeout, match=r"build: pulling .*base:1 took longer than 300s"):
        run_to_end(
            Builder(fake_docker, timeout=300).pull("registry.example.com/library/base:1", "build")
        )


# -- importing (the meta image) ------------------------------------------------------------------


def test_import_makes_a_one_layer_image_and_reuses_an_identical_one(fake_docker, engine):
    builder = Builder(fake_docker)
    archive = meta_archive(b"appname: hello\n")
    labels = {"lain.app": "hello", "lain.phase": "meta"}
    image_id, reused = builder.import_image("meta", archive, tag="hello:meta-1", labels=labels)
    image = engine.image("hello:meta-1")
    assert (image.id, reused) == (image_id, False)
    assert image.labels == labels
    assert engine.files("hello:meta-1") == {"/lain.yaml": b"appname: hello\n"}
    assert len(image.layers) == 1

    assert builder.import_image("meta", archive, tag="hello:meta-1", labels=labels) == (
        image_id,
        True,
    )
    assert len(engine.calls_to("import_image_from_data")) == 1
    # Other labels, or no reuse asked: a new image takes the name.
    relabelled, reused = builder.import_image(
        "meta", archive, tag="hello:meta-1", labels={**labels, "lain.phase": "other"}
    )
    assert not reused and relabelled != image_id
    assert engine.image("hello:meta-1").id == relabelled
    fresh, reused = builder.import_image(
        "meta", archive, tag="hello:meta-1", labels={**labels, "lain.phase": "other"}, reuse=False
    )
    assert not reused and fresh not in (image_id, relabelled)


def test_import_failures_are_build_errors(fake_docker, engine):
    builder = Builder(fake_docker, mask=lambda text: text.replace("s3cret", "***"))
    archive = meta_archive(b"appname: hello\n")
    engine.fail_call("import_image_from_data", engine_error(500, "no space left (s3cret)"))
    with pytest.raises(BuildError) as caught:
        builder.import_image("meta", archive, tag="hello:meta-1", labels={})
    assert (caught.value.phase, caught.value.reason) == ("meta", "no space left (***)")

    engine.fail_call("import_image_from_data", requests.exceptions.ConnectionError("reset"))
    with pytest.raises(BuildError, match="lost the engine while importing hello:meta-1: reset"):
        builder.import_image("meta", archive, tag="hello:meta-1", labels={})

    with pytest.raises(BuildError, match="did not say which image it made"):
        builder.import_image("meta", b"not a tar archive", tag="hello:meta-1", labels={})
    assert engine.find_image("hello:meta-1") is None


# -- the classic builder -------------------------------------------------------------------------


def build_file(engine, base_image, script, args=("VERSION",)):
    dockerfile = build_dockerfile(engine.image(base_image).id, script, args)
    return dockerfile.with_labels({"lain.app": "hello", "lain.phase": "build"})


def test_each_script_line_is_a_step_and_a_layer(fake_docker, engine, base_image):
    engine.on_command("make", output="compiling\nlinked app\n", writes={"dist/app": "binary"})
    dockerfile = build_file(engine, base_image, ["echo one", "make"])
    image_id, cached = run_to_end(
        Builder(fake_docker).build(
            "build",
            dockerfile,
            context(dockerfile),
            tag="hello:build-1",
            buildargs={"VERSION": "7"},
        )
    )[0]
    image = engine.image("hello:build-1")
    assert (image.id, cached) == (image_id, False)
    assert image.labels == {"lain.app": "hello", "lain.phase": "build"}
    assert image.config["WorkingDir"] == "/lain/app"
    files = engine.files("hello:build-1")
    assert files["/lain/app/main.sh"] == b"echo hi\n" and files["/lain/app/dist/app"] == b"binary"
    assert "/lain/app/lain.Dockerfile" not in files
    # The base's layer, the sources, then one layer per line.
    assert len(image.layers) == 4
    steps = [h["CreatedBy"] for h in fake_docker.api.history("hello:build-1")]
    assert "|1 VERSION=7 /bin/sh -c make" in steps and "|1 VERSION=7 /bin/sh -c echo one" in steps
    assert [r.env["VERSION"] for r in engine.ran] == ["7", "7"]


def test_build_progress_is_the_steps_and_their_output_without_chatter(
    fake_docker, engine, base_image
):
    engine.on_command("make", output="\x1b[32mcompiling\x1b[0m\r\nlinked app\n")
    dockerfile = build_file(engine, base_image, ["echo one", "make"])
    _, events = run_to_end(
        Builder(fake_docker).build("build", dockerfile, context(dockerfile), tag="hello:build-1")
    )
    lines = logs(events)
    base_id = engine.image(base_image).id
    assert lines[:6] == [
        f"[1/7] FROM {base_id} AS build",
        "[2/7] ARG VERSION",
        "[3/7] COPY app/ /lain/app/",
        "[4/7] WORKDIR /lain/app",
        "[5/7] RUN echo one",  # the lain.yaml line, not the exec-form JSON
        "[6/7] RUN make",
    ]
    assert lines[6:8] == ["compiling", "linked app"]  # colours and CRs gone
    assert lines[8].startswith('[7/7] LABEL "lain.app"="hello"')
    assert len(lines) == 9  # no " ---> ...", "Removing intermediate ...", "Successfully ..."
    assert {e.phase for e in events} == {"build"}


def test_an_unchanged_build_comes_from_the_cache_unless_told_not_to(
    fake_docker, engine, base_image
):
    dockerfile = build_file(engine, base_image, ["echo one"])
    builder = Builder(fake_docker)

    def build(**options):
        return run_to_end(
            builder.build("build", dockerfile, context(dockerfile), tag="hello:build-1", **options)
        )[0]

    first = build()
    assert build() == (first[0], True)
    assert len(engine.ran) == 1  # the line did not run again
    fresh = build(nocache=True)
    assert fresh[1] is False and fresh[0] != first[0]
    assert engine.image("hello:build-1").id == fresh[0]
    # Other sources: the COPY step and everything after it are built again.
    changed = run_to_end(
        builder.build(
            "build",
            dockerfile,
            context(dockerfile, {"app/main.sh": b"echo changed\n"}),
            tag="hello:build-1",
        )
    )[0]
    assert changed[1] is False and changed[0] not in (first[0], fresh[0])


def test_a_failing_line_is_named_with_the_end_of_its_output(fake_docker, engine, base_image):
    # The last line has no newline: it still ends up in the log.
    engine.on_command("exit 3", output="step output\nboom-output", exit_code=3)
    dockerfile = build_file(engine, base_image, ["echo one", "echo boom >&2; exit 3", "echo never"])
    with pytest.raises(BuildError) as caught:
        run_to_end(
            Builder(fake_docker).build("build", dockerfile, context(dockerfile), tag="hello:b-1")
        )
    error = caught.value
    assert type(error) is BuildError and error.phase == "build"
    assert error.failed_line == "echo boom >&2; exit 3"
    assert error.reason == "a build script line exited with status 3"
    assert error.log[-3:] == ["[6/8] RUN echo boom >&2; exit 3", "step output", "boom-output"]
    assert [r.line for r in engine.ran] == ["echo one", "echo boom >&2; exit 3"]
    assert fake_docker.api.containers(all=True) == []  # no stopped container left behind
    assert engine.find_image("hello:b-1") is None


def test_a_failing_test_line_raises_the_error_type_asked_for(fake_docker, engine, base_image):
    engine.on_command("test -f missing", exit_code=1)
    dockerfile = script_dockerfile(engine.image(base_image).id, ["test -f missing"])
    with pytest.raises(TestFailed) as caught:
        run_to_end(
            Builder(fake_docker).build(
                "test", dockerfile, context(dockerfile, {}), tag=None, error_type=TestFailed
            )
        )
    assert (caught.value.phase, caught.value.failed_line) == ("test", "test -f missing")


def test_a_copy_of_a_missing_path_names_the_copy(fake_docker, engine, base_image):
    base_id = engine.image(base_image).id
    dockerfile = release_dockerfile(
        base_id, base_id, [("/lain/app/dist", "/srv/dist")], ["copy dist -> /srv/dist"]
    )
    with pytest.raises(BuildError) as caught:
        run_to_end(
            Builder(fake_docker).build("release", dockerfile, context(dockerfile, {}), tag=None)
        )
    assert caught.value.failed_line == "copy dist -> /srv/dist"
    assert "COPY failed: stat /lain/app/dist" in caught.value.reason


def test_a_start_image_the_engine_lacks_is_named(fake_docker, engine):
    dockerfile = script_dockerfile("absent:1", ["true"])
    with pytest.raises(BuildError) as caught:
        run_to_end(
            Builder(fake_docker).build("test", dockerfile, context(dockerfile, {}), tag=None)
        )
    assert caught.value.failed_line is None
    assert "pull access denied for absent:1" in caught.value.reason


def test_build_output_and_errors_are_masked(fake_docker, engine, base_image):
    engine.on_command("echo", output="token s3cret\n")
    engine.on_command("exit 5", output="again s3cret\n", exit_code=5)
    dockerfile = build_file(engine, base_image, ["echo $T", "echo s3cret; exit 5"], args=())
    builder = Builder(fake_docker, mask=lambda text: text.replace("s3cret", "***"))
    events: list = []
    with pytest.raises(BuildError) as caught:
        raise_from(builder.build("build", dockerfile, context(dockerfile), tag=None), events)
    shown = json.dumps([e.to_dict() for e in events]) + str(caught.value)
    assert "token ***" in shown and "again ***" in shown and "s3cret" not in shown
    assert caught.value.failed_line == "echo ***; exit 5"


def test_engine_refusals_and_lost_connections_are_build_errors(fake_docker, engine, base_image):
    dockerfile = build_file(engine, base_image, ["echo one", "make"])
    builder = Builder(fake_docker)

    def build():
        return run_to_end(builder.build("build", dockerfile, context(dockerfile), tag=None))

    engine.fail_call("build", engine_error(500, "mkdir /var/lib/docker/tmp: no space left"))
    with pytest.raises(BuildError) as caught:
        build()
    assert caught.value.reason == "mkdir /var/lib/docker/tmp: no space left"

    engine.fail_call("build", requests.exceptions.ConnectionError("connection refused"))
    with pytest.raises(BuildError, match="lost the engine while building: connection refused"):
        build()

    # The engine goes away mid-build: docker-py reads the stream through urllib3.
    engine.fail_call(
        "build", urllib3.exceptions.ProtocolError("Connection broken: reset"), after_chunks=8
    )
    with pytest.raises(BuildError) as caught:
        build()
    assert caught.value.reason.startswith("lost the engine while building: Connection broken")
    assert caught.value.log[-1] == "[3/7] COPY app/ /lain/app/"  # what it had got so far


def test_an_engine_that_names_no_image_is_an_error(fake_docker, engine, base_image):
    engine.send_build_aux = False  # engines before API 1.30
    dockerfile = build_file(engine, base_image, ["echo one"])
    with pytest.raises(BuildError, match="finished the build without naming every image"):
        run_to_end(Builder(fake_docker).build("build", dockerfile, context(dockerfile), tag=None))


def test_a_build_past_the_timeout_is_stopped(fake_docker, engine, base_image, engine_clock):
    engine.on_command("make", takes=7200, output="still compiling\n")
    dockerfile = build_file(engine, base_image, ["make", "echo after"])
    with pytest.raises(LainTimeout, match=r"^build: building took longer than 3600s; stopped$"):
        run_to_end(Builder(fake_docker).build("build", dockerfile, context(dockerfile), tag=None))
    assert [r.line for r in engine.ran] == ["make"]


def test_a_silent_build_step_is_a_timeout(fake_docker, engine, base_image, engine_clock):
    # The engine says nothing for the whole read timeout: docker-py's stream raises urllib3's
    # ReadTimeoutError once the phase's time is up.
    engine.on_command("make", hang=True)
    dockerfile = build_file(engine, base_image, ["make"])
    with pytest.raises(LainTimeout, match="took longer than 600s"):
        run_to_end(
            Builder(fake_docker, timeout=600).build(
                "build", dockerfile, context(dockerfile), tag=None
            )
        )
    assert engine.builds[0].timeout == 600


def test_stages_of_several_phases_in_one_build(fake_docker, engine, base_image):
    base_id = engine.image(base_image).id
    engine.on_command("make", writes={"dist/app": "binary"})
    build = build_dockerfile(base_id, ["make"]).with_labels({"lain.phase": "build"})
    release = release_dockerfile("build", base_id, [("/lain/app/dist/app", "/usr/bin/app")])
    stages = [
        Stage("build", build, "hello:build-1"),
        Stage("release", release.with_labels({"lain.phase": "release"}), "hello:release-1"),
    ]
    seen = []

    def make_context(text: str) -> bytes:
        seen.append(text)
        return archive_of({DOCKERFILE_NAME: text.encode(), **SOURCES})

    builder = Builder(fake_docker)
    results, events = run_to_end(builder.build_stages(stages, make_context))
    assert seen[0] == build.with_labels({}).text + stages[1].dockerfile.text
    assert len(engine.builds) == 1  # one request for both phases
    assert results == [
        (engine.image("hello:build-1").id, False),
        (engine.image("hello:release-1").id, False),
    ]
    assert engine.files("hello:release-1") == {
        "/bin/sh": b"\x7fELF sh\n",
        "/usr/bin/app": b"binary",
    }
    assert engine.image("hello:release-1").labels == {"lain.phase": "release"}
    marks = [(type(e).__name__, e.phase) for e in events if not isinstance(e, PhaseLog)]
    assert marks == [
        ("PhaseStarted", "build"),
        ("PhaseFinished", "build"),
        ("PhaseStarted", "release"),
        ("PhaseFinished", "release"),
    ]
    assert all(
        e.phase == "release"
        for e in events[
            events.index(
                next(e for e in events if isinstance(e, PhaseStarted) and e.phase == "release")
            ) :
        ]
    )

    again, events = run_to_end(builder.build_stages(stages, make_context))
    assert again == [(image_id, True) for image_id, _ in results]
    assert [e.cached for e in events if isinstance(e, PhaseFinished)] == [True, True]


# -- script lines in a container -----------------------------------------------------------------


def run_prepare(fake_docker, base_image, *, builder=None, lines=("mkdir deps", "echo $TOKEN")):
    builder = builder or Builder(fake_docker)
    return run_to_end(
        builder.run_lines(
            "prepare",
            base_image,
            [(line, line) for line in lines],
            env={"TOKEN": "s3cret-value", "MODE": "fast"},
            labels={"lain.phase": "prepare"},
            comment="lain prepare: 2 script lines",
            sources=archive_of({"main.sh": b"echo hi\n", "src/app.py": b"code\n"}),
            cleanup=(keep_command(["deps"]), "(remove everything in /lain/app but prepare.keep)"),
        )
    )


def test_lines_run_one_by_one_in_a_container_committed_as_one_layer(
    fake_docker, engine, base_image
):
    engine.on_command("mkdir deps", writes={"deps/lib.txt": "lib"}, output="made deps")
    image_id, events = run_prepare(fake_docker, base_image)
    image, base = engine.image(image_id), engine.image(base_image)
    lines, cleanup = engine.ran[:2], engine.ran[2]
    assert [r.line for r in lines] == ["mkdir deps", "echo $TOKEN"]
    assert cleanup.line == keep_command(["deps"])
    # The sources were in /lain/app for the lines; the build args went to the lines only.
    assert lines[0].files["/lain/app/src/app.py"] == b"code\n"
    assert all(r.workdir == "/lain/app" and r.env["TOKEN"] == "s3cret-value" for r in lines)
    assert cleanup.user == "0" and "TOKEN" not in cleanup.env and "MODE" not in cleanup.env
    assert logs(events) == [
        "RUN mkdir deps",
        "made deps",
        "RUN echo $TOKEN",
        "RUN (remove everything in /lain/app but prepare.keep)",
    ]
    # One new layer on the base's; the base's config, working in /lain/app, with the labels.
    assert image.layers[:-1] == base.layers and len(image.layers) == len(base.layers) + 1
    assert engine.layer_changes(image_id)[-1]["/lain/app/deps/lib.txt"] == b"lib"
    assert image.config["Cmd"] == ["sh"] and image.config["Env"] == base.config["Env"]
    assert image.config["Entrypoint"] == []  # not the idle container's /bin/sh
    assert image.config["WorkingDir"] == "/lain/app"
    assert image.labels == {"lain.phase": "prepare"}
    assert fake_docker.api.history(image_id)[0]["Comment"] == "lain prepare: 2 script lines"
    everything = json.dumps(fake_docker.api.inspect_image(image_id)) + history(
        fake_docker, image_id
    )
    assert "s3cret-value" not in everything and "MODE" not in everything
    assert fake_docker.api.containers(all=True) == []


def test_long_requests_may_wait_until_the_deadline(fake_docker, engine, base_image):
    run_prepare(fake_docker, base_image, builder=Builder(fake_docker, timeout=3600))
    assert engine.calls_to("put_archive")[0].timeout > 3000
    assert engine.calls_to("commit")[0].timeout > 3000
    assert engine.calls_to("exec_create")[0].timeout == 60
    assert fake_docker.api.timeout == 60  # the client's own timeout is back


def test_a_failing_line_stops_the_lines_and_leaves_nothing(fake_docker, engine, base_image):
    engine.on_command("exit 4", output="leak s3cret-value\n", exit_code=4)
    builder = Builder(fake_docker, mask=lambda text: text.replace("s3cret-value", "********"))
    with pytest.raises(BuildError) as caught:
        run_prepare(
            fake_docker,
            base_image,
            builder=builder,
            lines=("echo one", "echo leak $TOKEN; exit 4", "echo never"),
        )
    error = caught.value
    assert (error.phase, error.failed_line) == ("prepare", "echo leak $TOKEN; exit 4")
    assert error.reason == "a prepare script line exited with status 4"
    assert error.log == ["leak ********"]
    assert [r.line for r in engine.ran] == ["echo one", "echo leak $TOKEN; exit 4"]
    assert engine.calls_to("commit") == [] and fake_docker.api.containers(all=True) == []


def test_a_multi_line_secret_split_across_chunks_is_masked_line_by_line(
    fake_docker, engine, base_image
):
    pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0B\n-----END PRIVATE KEY-----"
    # The engine's frames cut the value anywhere: inside a line of it, and between its lines.
    engine.on_command(
        "exit 4",
        output=[
            "key: -----BEGIN PRIV",
            "ATE KEY-----\nMIIEvQIB",
            "ADANBgkqhkiG9w0B\n-----END ",
            "PRIVATE KEY-----\n",
            "joined: " + " ".join(pem.split()),
            " (end)",
        ],
        exit_code=4,
    )
    builder = Builder(fake_docker, mask=masker([pem]))
    events: list = []
    with pytest.raises(BuildError) as caught:
        raise_from(
            builder.run_lines(
                "build",
                base_image,
                [("show; exit 4", "show; exit 4")],
                env={"PEM": pem},
                labels={},
                comment="",
            ),
            events,
        )
    assert logs(events) == [
        "RUN show; exit 4",
        "key: ********",
        "********",
        "********",
        "joined: ******** (end)",
    ]
    assert caught.value.log == logs(events)[1:]
    shown = json.dumps([e.to_dict() for e in events]) + str(caught.value)
    assert not any(line in shown for line in pem.splitlines())


def test_exec_output_split_inside_a_character_is_read_whole(fake_docker, engine, base_image):
    # The engine frames what a process writes, and a write may end inside a UTF-8 sequence.
    engine.on_command("mkdir deps", output=[b"caf\xc3", b"\xa9 ", "ready\n"])
    _, events = run_prepare(fake_docker, base_image)
    assert "café ready" in logs(events)


def test_engine_refusals_while_running_lines_are_build_errors(fake_docker, engine, base_image):
    engine.fail_call("commit", engine_error(500, "no space left on device"))
    with pytest.raises(BuildError) as caught:
        run_prepare(fake_docker, base_image)
    assert (caught.value.phase, caught.value.reason) == ("prepare", "no space left on device")
    assert fake_docker.api.containers(all=True) == []

    engine.fail_call(
        "exec_start", ConnectionResetError(104, "Connection reset by peer"), after_chunks=0
    )
    with pytest.raises(BuildError, match="lost the engine while running the prepare script"):
        run_prepare(fake_docker, base_image)
    assert fake_docker.api.containers(all=True) == []


def test_a_line_past_the_timeout_is_stopped(fake_docker, engine, base_image):
    engine.on_command("sleep 600", hang=True, output="started\n")
    started = time.monotonic()
    with pytest.raises(LainTimeout, match=r"^prepare took longer than 0s; stopped$"):
        run_prepare(
            fake_docker,
            base_image,
            builder=Builder(fake_docker, timeout=0.2),
            lines=("sleep 600", "echo never"),
        )
    assert time.monotonic() - started < 5
    assert fake_docker.api.containers(all=True) == []  # which is what stopped the line
    assert [r.line for r in engine.ran] == ["sleep 600"]


def test_a_commit_that_times_out_past_the_deadline_is_a_timeout(
    fake_docker, engine, base_image, engine_clock
):
    engine.fail_call("commit", requests.exceptions.ReadTimeout("Read timed out."), takes=4000)
    with pytest.raises(LainTimeout, match="prepare took longer than 3600s"):
        run_prepare(fake_docker, base_image)
    assert fake_docker.api.containers(all=True) == []


# -- helper containers ---------------------------------------------------------------------------


def test_capture_runs_a_throwaway_container(fake_docker, engine, base_image):
    engine.on_command("list-things", output=b"a\0b\0", stderr="warning\n", exit_code=3)
    builder = Builder(fake_docker)
    assert builder.capture(base_image, ["/bin/sh", "-c", "list-things"], phase="release") == (
        3,
        b"a\0b\0",
        "warning\n",
    )
    assert engine.ran[0].argv == ["/bin/sh", "-c", "list-things"]
    assert engine.ran[0].workdir == "/lain/app"
    assert fake_docker.api.containers(all=True) == []


def test_capture_failures(fake_docker, engine, base_image):
    builder = Builder(fake_docker)
    engine.on_command("forever", hang=True)
    with pytest.raises(LainTimeout, match="release: a helper container did not finish within 7s"):
        builder.capture(base_image, ["forever"], phase="release", timeout=7)
    assert fake_docker.api.containers(all=True) == []
    with pytest.raises(BuildError, match="No such image: absent:1"):
        builder.capture("absent:1", ["true"], phase="release")
