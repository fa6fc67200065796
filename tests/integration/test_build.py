"""The image pipeline against the real engine: phases, tags, labels, reuse, secrets, failures."""

from __future__ import annotations

import io
import json
import tarfile
import time
from typing import Any

import docker.errors
import pytest
from apps import make_app, remove_app_images
from fakes.repos import SIMPLE
from leaks import (
    FAILING_LINE,
    LEAKY_APP,
    app_images,
    failing,
    history,
    leaks,
    leaky_values,
    secret_pieces,
)

from lain_sdk.errors import BuildError, DirtyTreeError, LainTimeout, TestFailed
from lain_sdk.events import Event, PhaseFinished, PhaseLog, drain
from lain_sdk.images import BuildResult, build_app, clean_app, prepare_app, test_app

MULTI_PHASE = """\
appname: {name}
build:
  base: {base}
  prepare:
    version: "1"
    keep:
      - deps
    script:
      - mkdir -p deps && cp requirements.txt deps/installed.txt
      - mkdir -p /opt && echo prepared > /opt/prepared
  script:
    - test -f deps/installed.txt && test ! -e requirements.txt.orig
    - mkdir -p dist/bin dist/share && cp main.sh dist/bin/app && chmod 750 dist/bin/app
    - cp -r data/* dist/share/ && chmod 640 dist/share/a.txt
    - echo "v=$VERSION" "a  b" 'c$d' > dist/version.txt && cp dist/version.txt dist/other.txt
  build_arg:
    - VERSION=7
release:
  dest_base: {base}
  copy:
    - src: /lain/app/dist/bin/app
      dest: /usr/local/bin/app
    - src: /lain/app/dist/share
      dest: /srv/share
    - src: /lain/app/dist/*.txt
      dest: /srv/txt/
test:
  script:
    - test -x dist/bin/app
web:
  cmd: /usr/local/bin/app
"""

# In one source file of the multi-phase app: no layer of its prepare image may hold it.
SOURCE_MARKER = "lain-test-source-not-for-prepare-5b0c2e"

MULTI_FILES = {
    "requirements.txt": "dep==1\n",
    "main.sh": ("#!/bin/sh\necho hi\n", 0o755),
    "data/a.txt": "a\n",
    "data/sub/b.txt": "b\n",
    "notes/todo.md": "not for the image\n",
    "src/app.py": f"SOURCE_MARKER = {SOURCE_MARKER!r}\n",
    ".gitignore": "*.log\n",
    ".dockerignore": "notes\n",
}


def run(client: Any, image: str, command: str) -> str:
    return client.containers.run(image, ["/bin/sh", "-c", command], remove=True).decode()


def collect(operation) -> tuple[Any, list[Event]]:
    events: list[Event] = []
    return drain(operation, on_event=events.append), events


def file_in_image(client: Any, image: str, path: str) -> bytes:
    """Read a file of an image that cannot run (the meta image is FROM scratch)."""
    container = client.containers.create(image, command=["none"])
    try:
        stream, _ = container.get_archive(path)
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            member = tar.getmembers()[0]
            return tar.extractfile(member).read()
    finally:
        container.remove(force=True)


def saved_layers(client: Any, image: str) -> list[dict[str, bytes | None]]:
    """Each layer of ``image`` as `docker save` writes it, base first: path -> content (None
    for what is not a regular file)."""
    saved = io.BytesIO(b"".join(client.api.get_image(image)))
    layers = []
    with tarfile.open(fileobj=saved) as archive:
        manifest = json.load(archive.extractfile("manifest.json"))
        for name in manifest[0]["Layers"]:
            with tarfile.open(fileobj=archive.extractfile(name)) as layer:
                layers.append(
                    {
                        member.name: layer.extractfile(member).read() if member.isfile() else None
                        for member in layer.getmembers()
                    }
                )
    return layers


def containers_of(client: Any, image: str) -> list[dict[str, Any]]:
    """Every container (running or not) made from ``image``."""
    return client.api.containers(all=True, filters={"ancestor": image})


def private_base(client: Any, base_image: str, name: str) -> str:
    """A base image only this test uses (so that containers made from it are this test's)."""
    client.images.build(
        fileobj=io.BytesIO(f"FROM {base_image}\nLABEL lain-test.owner={name}\n".encode()),
        tag=f"{name}:private-base",
        rm=True,
    )
    return f"{name}:private-base"


@pytest.fixture
def cleanup(docker_client: Any):
    """Register apps whose images are removed after the test."""
    names: list[str] = []
    yield names.append
    for name in names:
        remove_app_images(docker_client, name)


@pytest.fixture(scope="module")
def multi(docker_client: Any, base_image: str, tmp_path_factory: pytest.TempPathFactory):
    """The multi-phase sample app, built once for the module: (app, result, events)."""
    app = make_app(tmp_path_factory.mktemp("multi"), MULTI_PHASE, MULTI_FILES)
    # Ignored by git and by .dockerignore: neither goes into the context.
    app.write("debug.log", "junk\n")
    try:
        result, events = collect(build_app(app.path, engine=docker_client))
        yield app, result, events
    finally:
        remove_app_images(docker_client, app.name)


def test_multi_phase_images_tags_and_labels(docker_client, multi):
    app, result, events = multi
    mv = app.meta_version
    assert isinstance(result, BuildResult)
    assert result.meta_version == mv
    assert list(result.images) == ["prepare", "build", "release", "meta"]
    assert result.images["build"] == f"{app.name}:build-{mv}"
    assert result.images["release"] == f"{app.name}:release-{mv}"
    assert result.images["meta"] == f"{app.name}:meta-{mv}"
    assert result.images["prepare"].startswith(f"{app.name}:prepare-")
    assert result.context_bytes > 0 and result.reused == ()
    for phase, tag in result.images.items():
        image = docker_client.images.get(tag)
        assert image.id == result.image_ids[phase]
        labels = image.labels
        assert labels["lain.app"] == app.name
        assert labels["lain.phase"] == phase
        assert labels["lain.meta-version"] == mv
        assert labels["lain.git-sha"] == mv.split("-", 1)[1]
    key = result.images["prepare"].split(":prepare-")[1]
    assert docker_client.images.get(result.images["build"]).labels["lain.prepare-key"] == key
    # Progress: a start and an end per phase, and the script lines in the log.
    finished = [e.phase for e in events if isinstance(e, PhaseFinished)]
    assert finished == ["prepare", "build", "release", "meta"]
    lines = [e.line for e in events if isinstance(e, PhaseLog)]
    assert any(
        line.endswith("RUN cp -r data/* dist/share/ && chmod 640 dist/share/a.txt")
        for line in lines
    )


def test_one_layer_per_script_line(docker_client, multi):
    _, result, _ = multi
    created = history(result.images["build"])
    for line in [
        "cp -r data/* dist/share/ && chmod 640 dist/share/a.txt",
        "test -f deps/installed.txt",
    ]:
        assert f"/bin/sh -c {line}" in created


def test_build_image_has_sources_args_and_no_ignored_files(docker_client, multi):
    _, result, _ = multi
    listing = run(docker_client, result.images["build"], "pwd; ls -A /lain/app").split()
    assert listing[0] == "/lain/app"
    assert {"main.sh", "data", "deps", "dist", "lain.yaml", ".gitignore", ".dockerignore"} <= set(
        listing
    )
    assert not {"debug.log", "notes", ".git", "lain.Dockerfile"} & set(listing)
    # The non-secret build arg reached the script; quoting survived the Dockerfile.
    assert run(docker_client, result.images["build"], "cat dist/version.txt") == "v=7 a  b c$d\n"


def test_release_holds_the_copies_with_modes_and_not_the_sources(docker_client, multi):
    _, result, _ = multi
    out = run(
        docker_client,
        result.images["release"],
        "stat -c '%n %a' /usr/local/bin/app /srv/share/a.txt /srv/share/sub/b.txt /srv/txt/*; "
        "ls -A /lain/app; pwd",
    )
    assert out.splitlines() == [
        "/usr/local/bin/app 750",  # a file
        "/srv/share/a.txt 640",  # a directory, modes kept
        "/srv/share/sub/b.txt 644",
        "/srv/txt/other.txt 644",  # a glob, each match under its own name
        "/srv/txt/version.txt 644",
        "/lain/app",  # empty /lain/app: no sources; the working directory
    ]
    config = docker_client.images.get(result.images["release"]).attrs["Config"]
    assert config["WorkingDir"] == "/lain/app"


def test_prepare_image_keeps_only_the_keep_list(docker_client, multi):
    _, result, _ = multi
    out = run(docker_client, result.images["prepare"], "ls -A /lain/app; cat /opt/prepared")
    assert out.split() == ["deps", "prepared"]


def test_no_layer_of_the_prepare_image_holds_sources(docker_client, base_image, multi):
    app, result, _ = multi
    prepare = docker_client.images.get(result.images["prepare"])
    base_layers = docker_client.images.get(base_image).attrs["RootFS"]["Layers"]
    # The base's layers, then one layer: what the prepare lines made, the kept entries.
    assert prepare.attrs["RootFS"]["Layers"][:-1] == base_layers
    layers = saved_layers(docker_client, result.images["prepare"])
    assert len(layers) == len(base_layers) + 1
    sources = {f"lain/app/{name}" for name in MULTI_FILES} | {"lain/app/lain.yaml"}
    for layer in layers:
        assert not sources & set(layer), sorted(sources & set(layer))
        under_app = {p for p in layer if p.startswith("lain/app/")}
        assert all(p == "lain/app/deps" or p.startswith("lain/app/deps/") for p in under_app)
        for content in layer.values():
            assert content is None or SOURCE_MARKER.encode() not in content
    made = layers[-1]
    assert made["lain/app/deps/installed.txt"] == (app.path / "requirements.txt").read_bytes()
    assert made["opt/prepared"] == b"prepared\n"
    assert "COPY" not in history(result.images["prepare"])
    # Its config is the base's, working in /lain/app, with lain's labels.
    config = prepare.attrs["Config"]
    base_config = docker_client.images.get(base_image).attrs["Config"]
    assert config["Cmd"] == base_config["Cmd"] and not config.get("Entrypoint")
    assert config["Env"] == base_config["Env"] and config["WorkingDir"] == "/lain/app"
    assert prepare.labels["lain.prepare-key"] == result.images["prepare"].split(":prepare-")[1]
    # The build phase stands on it (its script checked that deps/ was there), with the sources.
    build_layers = docker_client.images.get(result.images["build"]).attrs["RootFS"]["Layers"]
    assert build_layers[: len(layers)] == prepare.attrs["RootFS"]["Layers"]
    assert run(docker_client, result.images["build"], "cat src/app.py") == (
        f"SOURCE_MARKER = {SOURCE_MARKER!r}\n"
    )


PREPARE_ONLY = """\
appname: {name}
build:
  base: {base}
  prepare:
    keep:
      - kept
    script:
      - mkdir kept && echo one
      - echo prep-boom-output >&2; exit 5
      - echo never
  script:
    - test -d kept
"""


def test_failing_prepare_line_is_named_and_its_container_removed(
    docker_client, base_image, tmp_path, cleanup
):
    app = make_app(tmp_path, PREPARE_ONLY)
    cleanup(app.name)
    base = private_base(docker_client, base_image, app.name)
    app.write("lain.yaml", (app.path / "lain.yaml").read_text().replace(base_image, base))
    app.commit("private base")
    with pytest.raises(BuildError) as caught:
        drain(build_app(app.path, engine=docker_client))
    error = caught.value
    assert type(error) is BuildError and error.phase == "prepare"
    assert error.failed_line == "echo prep-boom-output >&2; exit 5"
    assert "status 5" in error.reason
    assert "prep-boom-output" in error.log
    assert "never" not in str(error)
    assert containers_of(docker_client, base) == []
    assert docker_client.api.images(name=app.name, filters={"label": "lain.phase=prepare"}) == []


def test_a_prepare_line_past_the_timeout_is_stopped(docker_client, base_image, tmp_path, cleanup):
    app = make_app(tmp_path, PREPARE_ONLY.replace("echo prep-boom-output >&2; exit 5", "sleep 60"))
    cleanup(app.name)
    base = private_base(docker_client, base_image, app.name)
    app.write("lain.yaml", (app.path / "lain.yaml").read_text().replace(base_image, base))
    app.commit("private base")
    started = time.monotonic()
    with pytest.raises(LainTimeout, match="prepare took longer than 3s"):
        drain(build_app(app.path, engine=docker_client, timeout=3))
    assert time.monotonic() - started < 30
    assert containers_of(docker_client, base) == []


def test_meta_image_holds_lain_yaml_alone(docker_client, multi):
    app, result, _ = multi
    meta = docker_client.images.get(result.images["meta"])
    assert len(meta.attrs["RootFS"]["Layers"]) == 1
    assert (
        file_in_image(docker_client, result.images["meta"], "/lain.yaml")
        == (app.path / "lain.yaml").read_bytes()
    )


def test_code_change_reuses_prepare_and_prepare_change_rebuilds_it(docker_client, multi, tmp_path):
    app, first, _ = multi
    app.write("main.sh", "#!/bin/sh\necho changed\n")
    app.commit("code only")
    second, events = collect(build_app(app.path, engine=docker_client))
    assert second.meta_version != first.meta_version
    assert second.image_ids["prepare"] == first.image_ids["prepare"]
    assert "prepare" in second.reused
    assert [e.cached for e in events if isinstance(e, PhaseFinished) and e.phase == "prepare"] == [
        True
    ]
    assert not any(isinstance(e, PhaseLog) and e.phase == "prepare" for e in events)  # nothing ran
    assert second.image_ids["build"] != first.image_ids["build"]
    assert run(docker_client, second.images["release"], "cat /usr/local/bin/app").endswith(
        "changed\n"
    )

    # A prepare script change (the version stays "1") is noticed: v2 silently ignored it.
    app.write(
        "lain.yaml", (app.path / "lain.yaml").read_text().replace("echo prepared", "echo prepared2")
    )
    app.commit("prepare change")
    third, _ = collect(prepare_app(app.path, engine=docker_client))
    assert third.images["prepare"] != first.images["prepare"]
    assert third.image_ids["prepare"] != first.image_ids["prepare"]
    assert list(third.images) == ["prepare"]
    assert run(docker_client, third.images["prepare"], "cat /opt/prepared") == "prepared2\n"


def test_failing_build_line_is_named_with_its_log(docker_client, base_image, tmp_path, cleanup):
    app = make_app(
        tmp_path,
        SIMPLE.replace(
            "    - echo built > built.txt\n",
            "    - echo one\n    - echo boom-output >&2; exit 3\n    - echo never\n",
        ),
    )
    cleanup(app.name)
    with pytest.raises(BuildError) as caught:
        drain(build_app(app.path, engine=docker_client))
    error = caught.value
    assert type(error) is BuildError and error.phase == "build"
    assert error.failed_line == "echo boom-output >&2; exit 3"
    assert "status 3" in error.reason
    assert "boom-output" in error.log
    assert "never" not in str(error)


def test_test_phase_passes_and_fails(docker_client, base_image, tmp_path, cleanup):
    app = make_app(
        tmp_path, SIMPLE + "test:\n  script:\n    - cat built.txt\n    - test -f built.txt\n"
    )
    cleanup(app.name)
    result, _events = collect(test_app(app.path, engine=docker_client))
    assert result.images["test"] == f"{app.name}:test-{app.meta_version}"
    assert "built" in result.test_log
    assert docker_client.images.get(result.images["test"]).labels["lain.phase"] == "test"
    # Never from the cache: running it again runs the lines again.
    again, _ = collect(test_app(app.path, engine=docker_client))
    assert "test" not in again.reused and "built" in again.test_log

    app.write(
        "lain.yaml",
        (app.path / "lain.yaml").read_text().replace("test -f built.txt", "test -f missing.txt"),
    )
    app.commit("break the test")
    with pytest.raises(TestFailed) as caught:
        drain(test_app(app.path, engine=docker_client))
    assert caught.value.phase == "test"
    assert caught.value.failed_line == "test -f missing.txt"
    assert "built" in caught.value.log  # the lines before the failure are in the log


def test_dirty_tree_is_refused_unless_allowed(docker_client, base_image, tmp_path, cleanup):
    app = make_app(tmp_path, SIMPLE)
    cleanup(app.name)
    app.write("new-file.txt", "uncommitted\n")
    with pytest.raises(DirtyTreeError, match=r"new-file\.txt"):
        drain(build_app(app.path, engine=docker_client))
    assert docker_client.api.images(name=app.name) == []  # refused before building anything
    result, _ = collect(build_app(app.path, engine=docker_client, allow_dirty=True))
    assert result.meta_version.startswith(app.meta_version + "-dirty-")
    assert result.images["release"] == f"{app.name}:release-{result.meta_version}"
    assert run(docker_client, result.images["build"], "cat new-file.txt") == "uncommitted\n"


def test_release_without_dest_base_is_the_build_image_relabelled(
    docker_client, base_image, tmp_path, cleanup
):
    app = make_app(tmp_path, SIMPLE + "release:\n  script:\n    - echo released > released.txt\n")
    cleanup(app.name)
    result, _ = collect(build_app(app.path, engine=docker_client))
    release = docker_client.images.get(result.images["release"])
    build = docker_client.images.get(result.images["build"])
    assert release.labels["lain.phase"] == "release"
    # release.script ran on the build image; the release adds no layer of its own.
    assert (
        run(docker_client, result.images["release"], "cat built.txt released.txt")
        == "built\nreleased\n"
    )
    assert (
        release.attrs["RootFS"]["Layers"][: len(build.attrs["RootFS"]["Layers"])]
        == build.attrs["RootFS"]["Layers"]
    )
    assert len(release.attrs["RootFS"]["Layers"]) == len(build.attrs["RootFS"]["Layers"]) + 1
    # Building again changes nothing.
    again, _ = collect(build_app(app.path, engine=docker_client))
    assert again.image_ids == result.image_ids
    assert set(again.reused) == {"build", "release", "meta"}


def test_missing_base_image_is_named(docker_client, base_image, tmp_path, cleanup):
    app = make_app(tmp_path, SIMPLE.replace("{base}", "127.0.0.1:9/lain-test/absent:1"))
    cleanup(app.name)
    with pytest.raises(BuildError) as caught:
        drain(build_app(app.path, engine=docker_client))
    assert "127.0.0.1:9/lain-test/absent:1" in str(caught.value)


SECRET_APP = """\
appname: {name}
build:
  base: {base}
  prepare:
    script:
      - test -n "$PREP_TOKEN" && echo "prep saw $PREP_TOKEN" && echo ok > /prep-ok
    build_arg:
      - PREP_TOKEN=$LAIN_TEST_PREP_TOKEN
  script:
    - test "${#API_TOKEN}" -gt 10
    - echo "$MODE" > mode.txt
    - echo "using token $API_TOKEN"
  build_arg:
    - API_TOKEN=$LAIN_TEST_API_TOKEN
    - MODE=fast
"""


def test_secret_build_args_stay_out_of_images_and_events(
    docker_client, base_image, tmp_path, cleanup
):
    app = make_app(tmp_path, SECRET_APP)
    cleanup(app.name)
    token, prep_token = f"tok-{app.name}-s3cret", f"prep-{app.name}-s3cret"
    environ = {"LAIN_TEST_API_TOKEN": token, "LAIN_TEST_PREP_TOKEN": prep_token}
    result, events = collect(build_app(app.path, engine=docker_client, environ=environ))
    # The secret reached the scripts, and the non-secret arg works alongside it.
    assert run(docker_client, result.images["build"], "cat mode.txt; cat /prep-ok") == "fast\nok\n"
    shown = json.dumps([e.to_dict() for e in events]) + repr(result)
    assert "using token ********" in shown and "prep saw ********" in shown
    assert leaks(docker_client, app_images(docker_client, app.name), [token, prep_token]) == []
    for phase, tag in result.images.items():
        assert docker_client.images.get(tag).labels["lain.phase"] == phase
    config = docker_client.images.get(result.images["build"]).attrs["Config"]
    base_config = docker_client.images.get(base_image).attrs["Config"]
    assert config["Cmd"] == base_config["Cmd"] and config["WorkingDir"] == "/lain/app"
    assert not config.get("Entrypoint")
    assert not any(e.startswith(("API_TOKEN", "PREP_TOKEN", "MODE")) for e in config["Env"])

    # A failing line: the error names it, and the secret is masked in the log.
    app.write(
        "lain.yaml",
        SECRET_APP.replace("{name}", app.name)
        .replace("{base}", base_image)
        .replace('echo "using token $API_TOKEN"', 'echo "leak $API_TOKEN"; exit 4'),
    )
    app.commit("fail")
    with pytest.raises(BuildError) as caught:
        drain(build_app(app.path, engine=docker_client, environ=environ))
    assert caught.value.failed_line == 'echo "leak $API_TOKEN"; exit 4'
    assert "leak ********" in caught.value.log and token not in str(caught.value)
    assert (
        docker_client.api.containers(all=True, filters={"ancestor": result.image_ids["prepare"]})
        == []
    )


def test_build_args_from_the_environment_reach_no_image_event_or_error(
    docker_client, base_image, tmp_path, cleanup
):
    app = make_app(tmp_path, LEAKY_APP)
    cleanup(app.name)
    environ = leaky_values(app.name)
    pieces = secret_pieces(environ.values())
    result, events = collect(build_app(app.path, engine=docker_client, environ=environ))
    assert run(docker_client, result.images["build"], "cat built.txt") == "built\n"
    shown = json.dumps([e.to_dict() for e in events]) + repr(result)
    assert "db ******** pat ********" in shown and "prepare ******** ********" in shown
    assert not [piece for piece in pieces if piece in shown]
    assert leaks(docker_client, app_images(docker_client, app.name), environ.values()) == []

    # The failing line prints them again: its error and its log hide them as well.
    app.write("lain.yaml", failing((app.path / "lain.yaml").read_text()))
    app.commit("fail")
    events = []
    with pytest.raises(BuildError) as caught:
        drain(build_app(app.path, engine=docker_client, environ=environ), on_event=events.append)
    assert caught.value.failed_line == FAILING_LINE
    assert "last words: ********" in caught.value.log
    shown = str(caught.value) + json.dumps([e.to_dict() for e in events])
    assert not [piece for piece in pieces if piece in shown]
    assert leaks(docker_client, app_images(docker_client, app.name), environ.values()) == []
    assert containers_of(docker_client, result.image_ids["prepare"]) == []


def test_secret_phase_on_a_base_without_command(docker_client, base_image, tmp_path, cleanup):
    # `docker commit` would give the image the idle container's command; lain takes it back.
    app = make_app(
        tmp_path,
        SIMPLE.replace("{base}", "{name}:nocmd-base")
        + "  build_arg:\n    - GH_TOKEN=abc123secret\n",
    )
    cleanup(app.name)
    docker_client.images.build(
        fileobj=io.BytesIO(f"FROM {base_image}\nCMD []\n".encode()),
        tag=f"{app.name}:nocmd-base",
        rm=True,
    )
    result, _ = collect(build_app(app.path, engine=docker_client))
    config = docker_client.images.get(result.images["build"]).attrs["Config"]
    assert not config.get("Cmd") and not config.get("Entrypoint")
    assert "abc123secret" not in history(result.images["build"])
    assert run(docker_client, result.images["build"], "cat built.txt") == "built\n"


def test_clean_keeps_the_newest_versions(docker_client, base_image, tmp_path, cleanup):
    app = make_app(tmp_path, SIMPLE)
    cleanup(app.name)
    versions = []
    for i in range(3):
        if i:
            app.write("built-from.txt", str(i))
            app.commit(f"version {i}")
        result, _ = collect(build_app(app.path, engine=docker_client))
        versions.append(result.meta_version)
    # Rebuilt without the cache: the tags move to new images, the old ones stay untagged.
    rebuilt, _ = collect(build_app(app.path, engine=docker_client, no_cache=True))
    stale = set(result.image_ids.values())
    assert not stale & set(rebuilt.image_ids.values())
    result = rebuilt
    docker_client.api.tag(
        result.images["release"], f"127.0.0.1:5999/{app.name}", f"release-{versions[0]}"
    )
    docker_client.api.tag(result.images["release"], app.name, "unrelated")
    holder = docker_client.containers.create(f"{app.name}:build-{versions[0]}", command=["true"])
    try:
        cleaned = clean_app(app.path, keep=1, engine=docker_client)
    finally:
        holder.remove(force=True)
    assert cleaned.kept_versions == (versions[2],)
    tags = {t for i in docker_client.images.list(name=app.name) for t in i.tags}
    assert {f"{app.name}:{p}-{versions[2]}" for p in ("build", "release", "meta")} <= tags
    assert f"{app.name}:unrelated" in tags  # not lain's grammar: not lain's to remove
    assert cleaned.in_use == (f"{app.name}:build-{versions[0]}",)
    assert cleaned.untagged and set(cleaned.untagged) <= stale
    for image_id in stale:  # removing an image takes its untagged parents with it
        with pytest.raises(docker.errors.ImageNotFound):
            docker_client.api.inspect_image(image_id)
    assert f"127.0.0.1:5999/{app.name}:release-{versions[0]}" in cleaned.removed, cleaned
    assert f"{app.name}:release-{versions[1]}" in cleaned.removed
    assert not any(versions[2] in r for r in cleaned.removed)
