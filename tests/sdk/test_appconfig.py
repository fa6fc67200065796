"""lain_sdk.appconfig as a whole, through its public entry points: real lain.yaml files (every
public one validates; lain-sdk's fixtures are pinned file by file), what importing and loading
cost, and the flat public API."""

from __future__ import annotations

import re

import pytest

import lain_sdk
from lain_sdk.appconfig import check_app_config, load_app_config, parse_app_config
from tests.conftest import CORPUS, EXAMPLES, corpus_dir, corpus_names, loaded_after

# -- the corpus (tests/data/corpus) ------------------------------------------------------------

SECTIONS = (
    "a proc section is web[.NAME], worker[.NAME], oneshot[.NAME], proc.NAME, portal.NAME or "
    "service.NAME; the other top-level keys are listed in the lain.yaml schema and the "
    "README's lain.yaml "
    "reference"
)
PUBLISH = f"publish: unknown section 'publish': {SECTIONS}"
COPY_INT = "release.copy[3]: expected a path, or {src, dest}, got 1"
NO_APPNAME = "missing required key 'appname'"


def _mountpoint(section: str, name: str) -> str:
    return (
        f"{section}: web proc '{name}' needs its own mountpoint: only the proc named web gets the "
        f"default domains; add mountpoint: [/{name}] (a path on the app's domains) or a domain of "
        "its own"
    )


@pytest.mark.parametrize("name", corpus_names("lain-yaml"))
def test_every_public_lain_yaml_validates(name: str) -> None:
    path = corpus_dir("lain-yaml") / name
    assert check_app_config(path) == []
    config = load_app_config(path)
    assert config.source == path.read_text(encoding="utf-8")
    assert config.path == str(path)


# lain-sdk's own fixtures.  The yaml_lua_parser_test_* files are its parser's tests, several of
# them invalid on purpose; the rmrf fork adds a `publish` section, which lain does not know.
# Each entry: file -> the problems (position, key path and message), or [] when valid.
SDK_FIXTURES: dict[str, list[str]] = {
    "ein-plus__lain-sdk__fixtures_data_fulltest.yaml": [],
    "ein-plus__lain-sdk__fixtures_data_new_prepare.yaml": [],
    "ein-plus__lain-sdk__fixtures_data_old_prepare.yaml": [],
    "ein-plus__lain-sdk__fixtures_data_release.yaml": [],
    "ein-plus__lain-sdk__tests_lain.yaml": [],
    # v2's schema allowed an integer copy entry and its parser silently dropped it
    "laincloud__lain-sdk__fixtures_data_for_validate.yaml": [f"27:7: {COPY_INT}"],
    "laincloud__lain-sdk__fixtures_data_fulltest.yaml": [],
    "laincloud__lain-sdk__fixtures_data_healthcheck.yaml": [],
    "laincloud__lain-sdk__fixtures_data_new_prepare.yaml": [],
    "laincloud__lain-sdk__fixtures_data_old_prepare.yaml": [],
    "laincloud__lain-sdk__fixtures_data_release.yaml": [],
    "laincloud__lain-sdk__lain_sdk_yaml_lua_parser_test_1.yaml": [f"1:21: {NO_APPNAME}"],
    "laincloud__lain-sdk__lain_sdk_yaml_lua_parser_test_2.yaml": [],
    "laincloud__lain-sdk__lain_sdk_yaml_lua_parser_test_3.yaml": [],  # cmd: (empty) = the image's
    "laincloud__lain-sdk__lain_sdk_yaml_lua_parser_test_4.yaml": [],
    "laincloud__lain-sdk__lain_sdk_yaml_lua_parser_test_5.yaml": [],
    "laincloud__lain-sdk__lain_sdk_yaml_lua_parser_test_6.yaml": [],
    "laincloud__lain-sdk__lain_sdk_yaml_lua_parser_test_7.yaml": [],
    "laincloud__lain-sdk__lain_sdk_yaml_lua_parser_test_8.yaml": [],
    "laincloud__lain-sdk__lain_sdk_yaml_lua_parser_test_9.yaml": [
        (
            "29:21: proc.web: proc name 'web' is already taken by section 'web' (line 20); proc "
            "names must be unique, so rename one of them"
        )
    ],
    "laincloud__lain-sdk__lain_sdk_yaml_lua_parser_test_10.yaml": [],
    "laincloud__lain-sdk__lain_sdk_yaml_lua_parser_test_11.yaml": [],
    "laincloud__lain-sdk__lain_sdk_yaml_lua_parser_test_12.yaml": [
        f"29:21: {_mountpoint('proc.iii', 'iii')}"
    ],
    "laincloud__lain-sdk__lain_sdk_yaml_lua_parser_test_13.yaml": [
        "22:31: web.port: expected a port like 80, '80:tcp', '53:udp' or {80: ['type:tcp']}, got "
        "'uu80:udp'"
    ],
    "laincloud__lain-sdk__lain_sdk_yaml_lua_parser_test_14.yaml": [
        "22:31: web.port: expected a port like 80, '80:tcp', '53:udp' or {80: ['type:tcp']}, got "
        "'80:udpaaaaa'"
    ],
    "laincloud__lain-sdk__lain_sdk_yaml_lua_parser_test_15.yaml": [],  # {80: ['type:udp']}
    "laincloud__lain-sdk__lain_sdk_yaml_lua_parser_test_16.yaml": [
        "14:30: web.web1.cpu: expected an integer, got '1a'"
    ],
    "laincloud__lain-sdk__lain_sdk_yaml_lua_parser_test_17.yaml": [
        f"29:21: {_mountpoint('proc.asdf', 'asdf')}"
    ],
    "laincloud__lain-sdk__lain_sdk_yaml_lua_parser_test_18.yaml": [
        "1:1: the file is empty; a lain.yaml needs at least appname and build"
    ],
    # worker.foo's `type: web` is ignored
    "laincloud__lain-sdk__lain_sdk_yaml_lua_parser_test_19.yaml": [],
    "laincloud__lain-sdk__lain_sdk_yaml_lua_parser_test_20.yaml": [
        (
            "6:1: secret_files: unknown section 'secret_files': secret_files is a proc key; "
            "indent it under a proc section (like web:) with spaces"
        ),
        (
            "14:3: proc.mysqld.num_instance: unknown key 'num_instance' (did you mean "
            "'num_instances'?); proc.mysqld takes 29 keys, listed in the lain.yaml schema and the "
            "README's lain.yaml reference"
        ),
    ],
    "laincloud__lain-sdk__lain_sdk_yaml_lua_parser_test_21.yaml": [
        "26:33: service.echo.portal.allow_clients: expected a string, got a list"
    ],
    "laincloud__lain-sdk__lain_sdk_yaml_lua_parser_test_22.yaml": [
        (
            "20:21: service.echo: missing required key 'portal': service.NAME expands to proc "
            "NAME and portal portal-NAME; add a portal: mapping (portal: {} for defaults)"
        )
    ],
    "laincloud__lain-sdk__lain_sdk_yaml_lua_parser_test_23.yaml": [],
    "laincloud__lain-sdk__lain_sdk_yaml_lua_parser_test_24.yaml": [],
    "laincloud__lain-sdk__lain_sdk_yaml_lua_parser_test_25.yaml": [
        (
            "26:21: portal.portal-echo: missing required key 'service_name': name the proc this "
            "portal fronts, like service_name: my-proc"
        ),
        "28:29: portal.portal-echo.allow_clients: expected a string, got a list",
    ],
    "laincloud__lain-sdk__lain_sdk_yaml_lua_parser_test_26.yaml": [f"1:21: {NO_APPNAME}"],
    "laincloud__lain-sdk__tests_lain.yaml": [],
    "rmrf__lain-sdk__fixtures_data_for_validate.yaml": [f"27:7: {COPY_INT}", f"33:1: {PUBLISH}"],
    "rmrf__lain-sdk__fixtures_data_fulltest.yaml": [f"19:1: {PUBLISH}"],
    "rmrf__lain-sdk__fixtures_data_healthcheck.yaml": [f"21:1: {PUBLISH}"],
    "rmrf__lain-sdk__fixtures_data_new_prepare.yaml": [f"23:1: {PUBLISH}"],
    "rmrf__lain-sdk__fixtures_data_old_prepare.yaml": [f"19:1: {PUBLISH}"],
    "rmrf__lain-sdk__fixtures_data_release.yaml": [f"30:1: {PUBLISH}"],
    "rmrf__lain-sdk__tests_lain.yaml": [f"18:1: {PUBLISH}"],
}


@pytest.mark.parametrize("name", sorted(SDK_FIXTURES))
def test_sdk_fixture(name: str) -> None:
    path = corpus_dir("sdk-fixtures") / name
    found = [str(p) for p in check_app_config(path)]
    assert found == [f"{path}:{expected}" for expected in SDK_FIXTURES[name]]


def test_the_fixture_table_covers_every_file() -> None:
    assert corpus_names("sdk-fixtures") == sorted(SDK_FIXTURES)


def test_corpus_models() -> None:
    """Spot checks of what real files mean."""
    folder = corpus_dir("lain-yaml")
    console = load_app_config(folder / "laincloud__console__lain.yaml")
    assert [(p.name, p.type) for p in console.procs] == [("web", "web"), ("console", "web")]
    assert console.proc("console").mountpoints == ("console.lain.local/api", "console.lain/api")
    assert console.build.prepare is not None and console.build.prepare.version == "20161215"

    mysql = load_app_config(folder / "zyh226__mysql-service__lain.yaml")
    server = mysql.proc("mysql-server")
    assert server.secret_files == ("/lain/app/conf/secret.conf",)
    assert [v.path for v in server.volumes][:2] == ["/var/lib/mysql", "/var/lib/mysql_log_bin"]
    assert server.volumes[1].backups[0].mode == "increment"
    assert mysql.proc("portal-mysql-master").service_name == "mysql-master"

    hello = load_app_config(folder / "laincloud__hello-world__lain.yaml")
    assert hello.proc("web").section == "proc.web"
    assert hello.proc("web").mountpoints == ("hello-world.lain.local", "hello-world.lain")

    registry = load_app_config(folder / "laincloud__registry__lain.yaml")
    assert registry.proc("web").cloud_volumes == {"single": ("/var/lib/registry",)}
    assert registry.release.copy[1].src == "/lain/app/config.yml"


def test_sources_list_every_corpus_file() -> None:
    """SOURCES.tsv has one row per file of the corpus folders, and each row names a file there,
    the repository and path it was copied from, and the commit."""
    header, *lines = (CORPUS / "SOURCES.tsv").read_text(encoding="utf-8").splitlines()
    assert header.split("\t") == ["file", "repository", "path", "commit"]
    rows = [line.split("\t") for line in lines]
    assert rows and all(len(row) == 4 for row in rows)
    listed = [row[0] for row in rows]
    assert len(listed) == len(set(listed)), "a file is listed twice"
    in_folders = sorted(
        p.relative_to(CORPUS).as_posix()
        for p in CORPUS.rglob("*")
        if p.is_file() and p.parent != CORPUS
    )
    assert sorted(listed) == in_folders
    for file, repository, path, commit in rows:
        owner, name = repository.split("/")
        assert file.split("/")[-1] == f"{owner}__{name}__{path.replace('/', '_')}", file
        assert re.fullmatch(r"[0-9a-f]{40}", commit), file


# -- import costs ------------------------------------------------------------------------------


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


# -- public API --------------------------------------------------------------------------------


def test_public_api_is_flat() -> None:
    assert lain_sdk.load_app_config is load_app_config
    assert lain_sdk.parse_app_config is parse_app_config
    assert lain_sdk.check_app_config is check_app_config
    for name in (
        "render_resource_instance",
        "schema",
        "AppConfig",
        "Proc",
        "Problem",
        "AppConfigError",
    ):
        assert name in lain_sdk.__all__
        assert getattr(lain_sdk, name)
