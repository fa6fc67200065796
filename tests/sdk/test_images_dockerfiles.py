"""Dockerfile text (lain_sdk.images.dockerfiles): pure functions, nothing running."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from lain_sdk.images import dockerfiles as df


def runs(dockerfile: df.Dockerfile) -> list[str]:
    """The commands of the RUN steps, decoded from their exec form."""
    out = []
    for line in dockerfile.text.splitlines():
        if line.startswith("RUN "):
            argv = json.loads(line[4:])
            assert argv[:2] == ["/bin/sh", "-c"]
            out.append(argv[2])
    return out


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
