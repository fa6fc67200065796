"""`lain validate`, `lain schema` and `lain init`: output, exit statuses and what they import."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fakes.repos import SIMPLE, make_app

from lain_cli.exit import ExitStatus
from lain_sdk.appconfig import load_app_config, schema
from lain_sdk.git import GitInfo
from lain_sdk.images.context import BuildContext
from tests.conftest import DATA, EXAMPLES, loaded_after

HELLO = EXAMPLES / "hello"


def test_validate_prints_a_summary(lain) -> None:
    result = lain("validate", str(HELLO))
    assert result.exit_code == ExitStatus.OK
    assert result.stdout == (
        f"{HELLO}/lain.yaml: valid\nappname     hello\napptype     app\nbuild base  "
        "lain-local/busybox:latest\nprocs:\n  PROC            TYPE    INSTANCES  MEMORY  PORT     "
        " CMD\n  web             web     2          32 MiB  80/tcp    httpd -f -v -p 80 -h "
        "/lain/app/www\n  greeter         worker  1          16 MiB  8080/tcp  httpd -f -v -p "
        "8080 -h /lain/app/www\n  portal-greeter  portal  1          32 MiB  -         (the "
        "image's command)\n"
        "web:\n"
        "  urls          http://hello.lain.local/\n"
        "  healthcheck   GET /index.html every 10s, timeout 5s, 3 retries\n"
        "greeter:\n"
        "  healthcheck   wget -q -O /dev/null http://127.0.0.1:8080/index.html every 2s, timeout "
        "2s, 3 retries\n"
        "  secret files  /lain/app/greeting.txt\n"
    )
    assert result.stderr == ""


def test_validate_shows_the_urls_on_the_domains_given(lain) -> None:
    result = lain("validate", str(HELLO), "--domain", "example.com", "--domain", "b.test")
    assert result.exit_code == ExitStatus.OK
    assert "  urls          http://hello.example.com/, http://hello.b.test/\n" in result.stdout
    assert "lain.local" not in result.stdout


def test_validate_defaults_to_the_current_directory(lain, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(HELLO)
    result = lain("validate")
    assert result.exit_code == ExitStatus.OK
    assert result.stdout.startswith("lain.yaml: valid\nappname     hello\n")


def test_validate_lists_dependencies_and_every_proc(lain) -> None:
    result = lain("validate", str(DATA / "full.yaml"))
    assert result.exit_code == ExitStatus.OK
    lines = result.stdout.splitlines()
    assert lines[4:7] == [
        "uses        service mysql-service: mysql-master",
        "uses        resource redis: redis",
        "procs:",
    ]
    assert lines[7].split() == ["PROC", "TYPE", "INSTANCES", "MEMORY", "PORT", "CMD"]
    assert lines[8].split() == [
        "web",
        "web",
        "3",
        "64",
        "MiB",
        "8080/tcp",
        "./full-app",
        "serve",
        "--name",
        "'full",
        "app'",
    ]
    assert lines[13].split()[:6] == ["stats", "web", "1", "32", "MiB", "8125/udp"]
    assert lines[13].endswith("(the image's command)")
    # Each proc's addresses, healthcheck, kept directories and secret file paths (never values).
    assert lines[18:] == [
        "web:",
        "  urls          https://full.example.com/, https://full-app.lain.local/, "
        "https://full-app.lain.local/api",
        "  healthcheck   GET /ping every 10s, timeout 5s, 3 retries",
        "  volumes       /lain/app/data, /var/lib/full-app",
        "  secret files  /lain/app/config/secret.json, /etc/full-app/key.pem, "
        "/lain/app/config/other.json (may run without them)",
        "admin:",
        "  urls          http://admin.example.com/, http://full-app.lain.local/admin",
        "  healthcheck   curl -f http://127.0.0.1:9000/ every 30s, timeout 3s, 5 retries",
        "queue:",
        "  healthcheck   disabled (cmd: none)",
        "oneshot:",
        "  volumes       /tmp/cache",
        "stats:",
        "  urls          http://stats.example.com/",
        "  healthcheck   /bin/check --fast every 10s, timeout 5s, 3 retries",
    ]


def test_an_invalid_file_lists_every_problem_on_stderr(lain) -> None:
    path = DATA / "broken.yaml"
    result = lain("validate", str(path))
    assert result.exit_code == ExitStatus.CONFIG_INVALID
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == f"lain: error: {path}: 10 problems"
    # Ten problems, then the hint for the unknown key among them.
    assert len(lines) == 12
    assert lines[11] == "hint: `lain schema` prints the lain.yaml schema, with every key described"
    assert lines[1] == (
        f"{path}:1:10: appname: expected a name of letters and digits, with single dashes between "
        "words, starting with a letter (like my-app), got 'my_app'"
    )
    assert lines[10] == (
        f"{path}:20:10: worker.queue.logs[0]: must be a path relative to /lain/logs, "
        "like 'queue.log'"
    )
    assert "Traceback" not in result.stderr


def test_a_yaml_syntax_error(lain, tmp_path: Path) -> None:
    (tmp_path / "lain.yaml").write_text("appname: a\nbuild: [\n")
    result = lain("validate", str(tmp_path))
    assert result.exit_code == ExitStatus.CONFIG_INVALID
    assert result.stderr == (
        f"lain: error: {tmp_path}/lain.yaml: 1 problem\n"
        f"{tmp_path}/lain.yaml:3:1: invalid YAML: did not find expected node content "
        "(while parsing a flow node)\n"
    )


def test_a_missing_file(lain, tmp_path: Path) -> None:
    result = lain("validate", str(tmp_path))
    assert result.exit_code == ExitStatus.CONFIG_INVALID
    assert result.stderr == (
        f"lain: error: {tmp_path}/lain.yaml: 1 problem\n"
        f"{tmp_path}/lain.yaml: no such file; create one\n"
        f"hint: write a starter lain.yaml with `lain init {tmp_path}`\n"
    )


def test_a_missing_file_here(lain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = lain("validate")
    assert result.exit_code == ExitStatus.CONFIG_INVALID
    assert result.stderr.endswith(
        "lain.yaml: no such file; create one\nhint: write a starter lain.yaml with `lain init`\n"
    )


def test_validate_json(lain) -> None:
    result = lain("-o", "json", "validate", str(HELLO))
    assert result.exit_code == ExitStatus.OK
    data = json.loads(result.stdout)
    assert data == {**load_app_config(HELLO).to_dict(), "warnings": []}
    assert (data["appname"], data["apptype"]) == ("hello", "app")
    assert data["use_services"] == {} and data["use_resources"] == {}
    web, greeter, portal = data["procs"]
    assert (greeter["name"], greeter["secret_files"]) == ("greeter", ["/lain/app/greeting.txt"])
    assert (portal["type"], portal["service_name"]) == ("portal", "greeter")
    for key in ("name", "type", "image", "cmd", "port", "memory", "cpu", "num_instances", "env",
                "mountpoints", "secret_files", "healthcheck", "service_name"):  # fmt: skip
        assert key in web
    assert web["cmd"] == ["httpd", "-f", "-v", "-p", "80", "-h", "/lain/app/www"]
    assert (web["port"], web["memory"], web["num_instances"]) == (80, 32 * 1024 * 1024, 2)
    assert web["mountpoints"] == ["hello.lain.local", "hello.lain"]
    assert web["healthcheck"]["cmd"] == [
        "CMD-SHELL",
        "wget -q -O /dev/null http://127.0.0.1:80/index.html || exit 1",
    ]


def test_validate_json_portals_have_a_service_name(lain) -> None:
    data = json.loads(lain("-o", "json", "validate", str(DATA / "full.yaml")).stdout)
    portals = {p["name"]: p["service_name"] for p in data["procs"] if p["type"] == "portal"}
    assert portals == {"portal-queue": "queue", "portal-cache": "cache"}


def test_validate_json_of_an_invalid_file(lain, tmp_path: Path) -> None:
    (tmp_path / "lain.yaml").write_text("appname: a\nbuild: {base: x}\nweb: {cpu: x}\n")
    result = lain("--output", "json", "validate", str(tmp_path))
    assert result.exit_code == ExitStatus.CONFIG_INVALID
    error = json.loads(result.stdout)["error"]  # lain's JSON error object, problems listed
    assert (error["type"], error["exit_status"]) == ("AppConfigError", 3)
    assert error["path"] == f"{tmp_path}/lain.yaml"
    assert error["problems"] == [
        {
            "path": f"{tmp_path}/lain.yaml",
            "line": 3,
            "column": 12,
            "key": "web.cpu",
            "message": "expected an integer, got 'x'",
        }
    ]
    assert result.stderr.startswith(f"lain: error: {tmp_path}/lain.yaml: 1 problem\n")


SECRETS_WRITTEN_OUT = """\
appname: shop
build:
  base: x
  build_arg:
    - GH_PAT=ghp_abc123
    - DB_PASS=$DB_PASS
web:
  env: [DB_PASSWORD=hunter2]
"""


def test_secrets_written_out_are_warnings(lain, tmp_path: Path) -> None:
    (tmp_path / "lain.yaml").write_text(SECRETS_WRITTEN_OUT)
    result = lain("validate", str(tmp_path))
    assert result.exit_code == ExitStatus.OK
    assert result.stdout.startswith(f"{tmp_path}/lain.yaml: valid\n")
    written = "looks like a secret, and its value is written in lain.yaml, which the repository"
    assert result.stderr.splitlines() == [
        (
            f"lain: warning: {tmp_path}/lain.yaml:5:7: build.build_arg[0]: GH_PAT {written} and "
            "the images hold; read it from the build's environment instead: GH_PAT=$GH_PAT"
        ),
        (
            f"lain: warning: {tmp_path}/lain.yaml:8:9: web.env[0]: DB_PASSWORD {written}, the "
            "images and the service's settings hold; keep it in a file listed in secret_files "
            "instead"
        ),
    ]


def test_secrets_written_out_are_listed_in_json(lain, tmp_path: Path) -> None:
    (tmp_path / "lain.yaml").write_text(SECRETS_WRITTEN_OUT)
    result = lain("-o", "json", "validate", str(tmp_path))
    assert result.exit_code == ExitStatus.OK
    data = json.loads(result.stdout)
    assert data["appname"] == "shop"
    assert [(w["line"], w["column"], w["key"]) for w in data["warnings"]] == [
        (5, 7, "build.build_arg[0]"),
        (8, 9, "web.env[0]"),
    ]
    assert data["warnings"][0]["path"] == f"{tmp_path}/lain.yaml"
    assert data["warnings"][0]["message"].startswith("GH_PAT looks like a secret")
    assert len(result.stderr.splitlines()) == 2  # and on stderr, as without -o json
    assert "ghp_abc123" not in result.stderr and "hunter2" not in result.stderr


def test_validate_for_cluster_domains(lain) -> None:
    result = lain(
        "-o", "json", "validate", "--domain", "example.com", "--domain", "example.org", str(HELLO)
    )
    data = json.loads(result.stdout)
    assert data["domains"] == ["example.com", "example.org"]
    assert data["procs"][0]["mountpoints"] == [
        "hello.example.com",
        "hello.example.org",
        "hello.lain",
    ]


def test_validate_a_resource_template(lain) -> None:
    result = lain("validate", str(DATA / "redis-resource.yaml"))
    assert result.exit_code == ExitStatus.OK
    assert "apptype     resource\n" in result.stdout
    assert "  redis         worker  2          64 MiB  3333/tcp  redis -p 3333\n" in result.stdout


def test_schema_prints_the_json_schema(lain) -> None:
    result = lain("schema")
    assert result.exit_code == ExitStatus.OK
    assert json.loads(result.stdout) == schema()


# -- init --------------------------------------------------------------------------------------


def test_init_writes_a_valid_starter_and_the_schema(lain, tmp_path: Path) -> None:
    target = tmp_path / "My Shop_2"
    result = lain("init", str(target))
    assert result.exit_code == ExitStatus.OK
    text = (target / "lain.yaml").read_text()
    assert text.splitlines()[0] == "# yaml-language-server: $schema=.lain/lain.schema.json"
    assert "appname: my-shop-2\n" in text
    assert json.loads((target / ".lain/lain.schema.json").read_text()) == schema()
    assert not (target / "lain.schema.json").exists()
    assert result.stdout == (
        f"wrote {target}/lain.yaml (appname my-shop-2) and {target}/.lain/lain.schema.json "
        "(for editors, git-ignored); check it with `lain validate`\n"
    )
    assert lain("validate", str(target)).exit_code == ExitStatus.OK
    assert load_app_config(target).proc("web").memory == 64 * 1024 * 1024


def test_init_in_the_current_directory(
    lain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "api").mkdir()
    monkeypatch.chdir(tmp_path / "api")
    assert lain("init").exit_code == ExitStatus.OK
    assert load_app_config().appname == "api"


def test_init_takes_an_appname(lain, tmp_path: Path) -> None:
    assert lain("init", str(tmp_path), "--appname", "shop").exit_code == ExitStatus.OK
    assert load_app_config(tmp_path).appname == "shop"


@pytest.mark.parametrize("name", ["my_shop", "service", "1shop"])
def test_init_refuses_an_invalid_appname(lain, tmp_path: Path, name: str) -> None:
    result = lain("init", str(tmp_path), "--appname", name)
    assert result.exit_code == ExitStatus.USAGE
    assert f"Invalid value for '--appname': '{name}': use letters and digits" in result.stderr
    assert not (tmp_path / "lain.yaml").exists()


def test_init_keeps_existing_files_without_force(lain, tmp_path: Path) -> None:
    (tmp_path / "lain.yaml").write_text("appname: mine\n")
    result = lain("init", str(tmp_path))
    assert result.exit_code == ExitStatus.ERROR
    assert (
        result.stderr
        == f"lain: error: {tmp_path}/lain.yaml already exists; pass --force to overwrite\n"
    )
    assert (tmp_path / "lain.yaml").read_text() == "appname: mine\n"
    assert not (tmp_path / ".lain").exists()

    assert lain("init", str(tmp_path), "--force", "--appname", "mine").exit_code == ExitStatus.OK
    assert load_app_config(tmp_path).appname == "mine"


def test_init_json(lain, tmp_path: Path) -> None:
    result = lain("-o", "json", "init", str(tmp_path), "--appname", "shop")
    assert json.loads(result.stdout) == {
        "lain_yaml": f"{tmp_path}/lain.yaml",
        "schema": f"{tmp_path}/.lain/lain.schema.json",
        "appname": "shop",
    }


def test_init_help_says_how_to_refresh_the_schema(lain) -> None:
    result = lain("init", "--help")
    assert result.exit_code == ExitStatus.OK
    assert "`lain schema > .lain/lain.schema.json`" in " ".join(result.stdout.split())


def test_the_schema_init_writes_stays_out_of_commits_and_builds(lain, tmp_path: Path) -> None:
    app = make_app(tmp_path, SIMPLE, commit=False)
    (app.path / "lain.yaml").unlink()
    assert lain("init", str(app.path), "--appname", app.name).exit_code == ExitStatus.OK
    app.commit("first")
    # Committed: lain.yaml and the small .gitignore; the 38 KB schema is neither committed,
    # nor a change that makes the tree dirty, nor in the build context (so never in an image).
    assert app.git("ls-files") == ".lain/.gitignore\nlain.yaml"
    git = GitInfo.from_path(app.path)
    assert not git.dirty
    assert BuildContext.from_git(git).files == (".lain/.gitignore", "lain.yaml")
    # After a fresh clone, the schema written again is ignored all the same.
    (app.path / ".lain/lain.schema.json").unlink()
    schema_text = lain("schema").stdout
    (app.path / ".lain/lain.schema.json").write_text(schema_text)
    assert not GitInfo.from_path(app.path).dirty


def test_init_keeps_a_gitignore_of_the_users_own(lain, tmp_path: Path) -> None:
    (tmp_path / ".lain").mkdir()
    (tmp_path / ".lain/.gitignore").write_text("mine\n")
    assert lain("init", str(tmp_path), "--appname", "shop").exit_code == ExitStatus.OK
    assert (tmp_path / ".lain/.gitignore").read_text() == "mine\n"


# -- import costs ------------------------------------------------------------------------------


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


# -- bounds ------------------------------------------------------------------------------------


def test_validate_refuses_values_past_lains_limits(lain, tmp_path: Path) -> None:
    (tmp_path / "lain.yaml").write_text(
        "appname: big\nbuild:\n  base: busybox\nweb:\n  cmd: serve\n"
        "  num_instances: 100000000000\n  cpu: 1025\n  memory: 2000g\n"
    )
    result = lain("validate", str(tmp_path))
    assert result.exit_code == ExitStatus.CONFIG_INVALID
    assert result.stderr.splitlines()[1:] == [
        f"{tmp_path}/lain.yaml:6:18: web.num_instances: must be between 0 and 1000, got "
        "100000000000",
        f"{tmp_path}/lain.yaml:7:8: web.cpu: must be between 0 and 1024, got 1025",
        f"{tmp_path}/lain.yaml:8:11: web.memory: expected a memory size of at most 1024g (1 TiB), "
        "got '2000g'",
    ]
