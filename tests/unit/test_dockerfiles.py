"""Dockerfile text, tags, prepare keys and build args: pure functions, nothing running."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from lain_sdk.errors import BuildError
from lain_sdk.images import dockerfiles as df
from lain_sdk.images.buildargs import MASK, is_secret_name, resolve_build_args
from lain_sdk.images.naming import image_tag, parse_tag, prepare_key, version_sort_key

MV = "1700000000-" + "a" * 40


def runs(dockerfile: df.Dockerfile) -> list[str]:
    """The commands of the RUN steps, decoded from their exec form."""
    out = []
    for line in dockerfile.text.splitlines():
        if line.startswith("RUN "):
            argv = json.loads(line[4:])
            assert argv[:2] == ["/bin/sh", "-c"]
            out.append(argv[2])
    return out


# -- Dockerfiles -------------------------------------------------------------------------------


def test_build_dockerfile_has_one_run_per_line_in_app_dir():
    dockerfile = df.build_dockerfile("sha256:abc", ["make", "make install"], ["VERSION"])
    assert dockerfile.text == (
        "FROM sha256:abc AS build\n"
        "ARG VERSION\n"
        "COPY app/ /lain/app/\n"
        "WORKDIR /lain/app\n"
        'RUN ["/bin/sh", "-c", "make"]\n'
        'RUN ["/bin/sh", "-c", "make install"]\n'
    )
    assert dict(dockerfile.step_lines) == {5: "make", 6: "make install"}
    assert dockerfile.line_for_step(6) == "make install"
    assert dockerfile.line_for_step(3) is None


def test_awkward_script_lines_survive_quoting():
    lines = ['echo "a b" \\', "cat <<EOF\nmulti\nEOF", "echo $HOME 'x'", "# not a comment"]
    dockerfile = df.build_dockerfile("base", lines)
    assert runs(dockerfile) == lines
    # Every instruction is one physical line: no line continuation can swallow the next one.
    assert len(dockerfile.text.splitlines()) == 3 + len(lines)


def test_keep_command_works_in_app_dir_by_default():
    # The prepare clean-up: it runs in the prepare container, wherever the exec starts.
    assert df.keep_command(["venv"]).startswith("cd /lain/app && ")


@pytest.mark.parametrize(
    "keep, left",
    [
        (["bundle", ".hidden", "sp ace"], {"bundle", ".hidden", "sp ace"}),
        (["bundle"], {"bundle"}),  # exact names: bundle2 goes (v2's \bbundle\b kept it)
        ([], set()),
        (["*"], set()),  # a glob character in a name is literal
        (["node_modules/"], {"node_modules"}),
    ],
)
def test_keep_command_keeps_exactly_the_named_top_level_entries(tmp_path: Path, keep, left):
    for name in ["bundle", "bundle2", ".hidden", "..dots", "sp ace", "node_modules", "src"]:
        (tmp_path / name).mkdir()
        (tmp_path / name / "file").write_text("x")
    (tmp_path / "top.txt").write_text("x")
    (tmp_path / "link").symlink_to("/nonexistent")
    subprocess.run(["sh", "-c", df.keep_command(keep, str(tmp_path))], check=True)
    assert {p.name for p in tmp_path.iterdir()} == left


def test_script_dockerfile_runs_on_an_image_without_new_sources():
    dockerfile = df.script_dockerfile("myapp:build-x", ["./test.sh"])
    assert (
        dockerfile.text
        == 'FROM myapp:build-x\nWORKDIR /lain/app\nRUN ["/bin/sh", "-c", "./test.sh"]\n'
    )
    assert "COPY" not in dockerfile.text


def test_release_dockerfile_copies_from_the_build_stage_literally():
    dockerfile = df.release_dockerfile(
        "build",
        "sha256:runtime",
        [("/lain/app/www", "/srv/www"), ("/lain/app/$weird\\name", "/bin/x")],
        ["copy /lain/app/www -> /srv/www", "copy ... -> /bin/x"],
    )
    lines = dockerfile.text.splitlines()
    assert lines[0] == "FROM sha256:runtime"
    assert lines[1] == 'COPY --from=build ["/lain/app/www", "/srv/www"]'
    # "$" and "\" are escaped from the builder's variable expansion.
    assert json.loads(lines[2].split(" ", 2)[2]) == ["/lain/app/\\$weird\\\\name", "/bin/x"]
    assert lines[3] == "WORKDIR /lain/app"
    assert dockerfile.line_for_step(2) == "copy /lain/app/www -> /srv/www"


def test_stages_combine_into_one_dockerfile():
    build = df.build_dockerfile("base", ["make"]).with_labels({"lain.phase": "build"})
    script = df.script_dockerfile(df.BUILD_STAGE, ["strip bin"], df.SCRIPT_STAGE)
    release = df.release_dockerfile(df.SCRIPT_STAGE, "runtime", [("/lain/app/bin", "/bin/app")])
    meta = df.meta_dockerfile()
    stages = [
        df.Stage("build", build, "app:build-1"),
        df.Stage("release", script, "app:script_inter-1"),
        df.Stage("release", release, "app:release-1"),
        df.Stage("meta", meta, "app:meta-1"),
    ]
    combined, starts = df.combine(stages)
    assert starts == (1, 6, 9, 12)
    assert combined.text == build.text + script.text + release.text + meta.text
    assert combined.text.splitlines()[5] == "FROM build AS script_inter"
    assert combined.text.splitlines()[9] == 'COPY --from=script_inter ["/lain/app/bin", "/bin/app"]'
    assert dict(combined.step_lines) == {
        4: "make",
        8: "strip bin",
        10: "copy /lain/app/bin -> /bin/app",
    }
    assert combined.step_count == 13


def test_labels_are_one_instruction_and_literal():
    dockerfile = df.meta_dockerfile().with_labels({"lain.app": "a", "x": 'q"$HOME\\'})
    assert dockerfile.text.splitlines()[-1] == 'LABEL "lain.app"="a" "x"="q\\"\\$HOME\\\\"'
    assert dockerfile.step_count == 3
    assert df.meta_dockerfile().with_labels({}) == df.meta_dockerfile()


def test_meta_dockerfile_holds_lain_yaml_alone():
    assert df.meta_dockerfile().text == "FROM scratch\nCOPY lain.yaml /lain.yaml\n"


def test_relabel():
    assert df.relabel_dockerfile("img").text == "FROM img\n"


# -- tags and keys ---------------------------------------------------------------------------


def test_image_tags_keep_v2_grammar():
    assert image_tag("hello", "release", MV) == f"hello:release-{MV}"
    assert image_tag("hello", "meta", MV, "127.0.0.1:5000") == f"127.0.0.1:5000/hello:meta-{MV}"
    assert image_tag("hello", "prepare", "0123abcd") == "hello:prepare-0123abcd"


@pytest.mark.parametrize(
    "reference, expected",
    [
        (f"hello:release-{MV}", (None, "hello", "release", MV)),
        (
            f"reg.example.com:5000/a.b-c:meta-{MV}-dirty-0123456789ab",
            ("reg.example.com:5000", "a.b-c", "meta", f"{MV}-dirty-0123456789ab"),
        ),
        ("hello:prepare-0123abcd", (None, "hello", "prepare", "0123abcd")),
        ("hello:latest", None),
        ("hello:deploy-1", None),
    ],
)
def test_parse_tag(reference, expected):
    parsed = parse_tag(reference)
    assert (
        None if parsed is None else (parsed.registry, parsed.app, parsed.phase, parsed.version)
    ) == expected


def test_version_sort_key_orders_by_commit_time_then_rest():
    versions = ["9-" + "b" * 40, "10-" + "a" * 40, "10-" + "a" * 40 + "-dirty-000000000000"]
    assert sorted(versions, key=version_sort_key)[0] == "9-" + "b" * 40


def test_prepare_key_changes_with_each_input_and_only_then():
    base = dict(
        base_image_id="sha256:1", script=["a"], keep=["k"], version=None, build_args={"X": "1"}
    )
    key = prepare_key(**base)
    assert key == prepare_key(**base)
    assert len(key) == 20 and all(c in "0123456789abcdef" for c in key)
    changed = [
        dict(base, base_image_id="sha256:2"),
        dict(base, script=["a", "b"]),
        dict(base, keep=["k", "j"]),
        dict(base, version="2"),  # bumping an explicit version rebuilds
        dict(base, build_args={"X": "2"}),
        dict(base, secret_arg_names=["TOKEN"]),
    ]
    keys = {prepare_key(**c) for c in changed}
    assert key not in keys and len(keys) == len(changed)


def test_prepare_key_changes_with_the_way_prepare_images_are_made(monkeypatch):
    # Prepare images made before sources were kept out of their layers must not be reused.
    from lain_sdk.images import naming

    inputs = dict(base_image_id="sha256:1", script=["a"], keep=["k"], version="1")
    key = prepare_key(**inputs)
    monkeypatch.setattr(naming, "PREPARE_FORMAT", naming.PREPARE_FORMAT - 1)
    assert prepare_key(**inputs) != key


# -- build args -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, secret",
    [
        ("API_TOKEN", True),
        ("db_password", True),
        ("SSH_KEY", True),
        ("GH_AUTH", True),
        ("MY_SECRET_X", True),
        ("PASSWD", True),
        ("AWS_CREDENTIALS", True),
        ("VERSION", False),
        ("MODE", False),
    ],
)
def test_is_secret_name(name, secret):
    assert is_secret_name(name) is secret


def test_resolve_build_args_reads_variables_and_splits_secrets():
    env = {"TOKEN_SRC": "s3cret-value", "VER": "1.2", "MODE": "fast"}
    args = resolve_build_args(["API_TOKEN=$TOKEN_SRC", "VERSION=${VER}", "MODE", "PLAIN=a$b"], env)
    assert dict(args.public) == {"VERSION": "1.2", "MODE": "fast", "PLAIN": "a$b"}
    assert dict(args.secret) == {"API_TOKEN": "s3cret-value"}
    assert "s3cret" not in repr(args)
    assert args.mask("token is s3cret-value!") == f"token is {MASK}!"


def test_unset_variable_is_named():
    with pytest.raises(BuildError) as caught:
        resolve_build_args(["API_TOKEN=$MISSING_VAR"], {}, phase="prepare")
    assert caught.value.phase == "prepare"
    assert "MISSING_VAR" in str(caught.value) and "API_TOKEN" in str(caught.value)


def test_bad_build_arg_name():
    with pytest.raises(BuildError, match="not a valid variable name"):
        resolve_build_args(["1X=2"], {})


def test_workdir_is_left_out_when_the_start_image_works_in_app_dir():
    # A prepare image works in /lain/app already: a WORKDIR step would only cost a container.
    build = df.build_dockerfile("sha256:abc", ["make"], workdir=False)
    assert "WORKDIR" not in build.text
    assert build.text.splitlines()[1] == "COPY app/ /lain/app/"
    assert dict(build.step_lines) == {3: "make"}
    release = df.release_dockerfile(
        "build", "runtime", [("/lain/app/bin", "/bin/app")], workdir=False
    )
    assert release.text.splitlines() == [
        "FROM runtime",
        'COPY --from=build ["/lain/app/bin", "/bin/app"]',
    ]


def test_meta_archive_holds_lain_yaml_alone_and_is_reproducible():
    import io
    import tarfile

    archive = df.meta_archive(b"appname: a\n")
    assert archive == df.meta_archive(b"appname: a\n")  # the engine names the layer by it
    assert archive != df.meta_archive(b"appname: b\n")
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        (member,) = tar.getmembers()
        assert member.name == "lain.yaml" and member.isfile() and member.mode == 0o644
        assert tar.extractfile(member).read() == b"appname: a\n"


def test_label_instruction_is_the_dockerfile_label_line():
    labels = {"lain.app": "a", "x": 'q"$HOME\\'}
    assert df.meta_dockerfile().with_labels(labels).text.splitlines()[-1] == (
        df.label_instruction(labels)
    )
