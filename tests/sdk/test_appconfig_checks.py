"""The rules a JSON Schema cannot say (lain_sdk.appconfig.checks), each with the exact message a
user sees; they run on what the schema accepted and leave what it rejected alone."""

from __future__ import annotations

import pytest

from lain_sdk.appconfig import parse_app_config
from lain_sdk.errors import AppConfigError

HEAD = "appname: hello\nbuild:\n  base: golang\n"  # three lines: the body starts on line 4


def problems(text: str) -> list[str]:
    with pytest.raises(AppConfigError) as e:
        parse_app_config(text)
    return [str(p) for p in e.value.problems]


def body_problems(body: str) -> list[str]:
    return problems(HEAD + body)


# -- top level ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["service", "resource", "portal"])
def test_reserved_appnames(name: str) -> None:
    assert problems(f"appname: {name}\nbuild: {{base: x}}\n") == [
        (
            f"lain.yaml:1:10: appname: '{name}' is reserved (service, resource and portal name "
            "lain's own objects); choose another appname"
        )
    ]


def test_build_volumes_rule_out_release_script() -> None:
    assert problems(
        "appname: a\nbuild:\n  base: x\n  volumes: [/cache]\nrelease:\n  script: [strip a]\n"
    ) == [
        (
            "lain.yaml:6:3: release.script: release.script is not supported when build.volumes is "
            "set (that build is committed from a container); remove one of them"
        )
    ]


# -- proc keys ---------------------------------------------------------------------------------


def test_memory_minimum() -> None:
    assert body_problems("worker: {memory: 4m}\nworker.b: {memory: 128}\n") == [
        "lain.yaml:4:18: worker.memory: must be at least 6m (Docker refuses less), got 4m",
        (
            "lain.yaml:5:20: worker.b.memory: must be at least 6m (Docker refuses less), got 128; "
            "a number without a unit is bytes, did you mean 128m?"
        ),
    ]


def test_a_port_number_written_as_text_is_in_range() -> None:
    # The schema accepts the form '70000:tcp'; the number in it is checked here.
    assert body_problems("worker: {port: '70000:tcp'}\n") == [
        "lain.yaml:4:16: worker.port: must be between 1 and 65535, got 70000"
    ]


def test_stream_ports() -> None:
    assert body_problems(
        "web: {ports: ['9501:80', '80', '9502:70000']}\nworker: {ports: '9501'}\nworker.x: "
        "{ports: [a]}\n"
    ) == [
        "lain.yaml:4:26: web.ports[1]: the source port must be between 9500 and 10000, got 80",
        "lain.yaml:4:32: web.ports[2]: the destination port must be between 1 and 65535, got 70000",
        (
            "lain.yaml:5:17: worker.ports: source port 9501 is already used (line 4); each source "
            "port maps to one proc"
        ),
        (
            "lain.yaml:6:20: worker.x.ports[0]: expected a stream-router mapping "
            "'SRC[:DST][/tcp|udp]' (SRC in 9500-10000), got 'a'"
        ),
    ]


def test_command_quotes() -> None:
    assert body_problems('worker: {cmd: "run \'a b"}\n') == [
        "lain.yaml:4:15: worker.cmd: cannot split this command line (no closing quotation); check "
        "its quotes"
    ]


def test_healthcheck_only_on_web_procs() -> None:
    assert body_problems("worker: {healthcheck: /ping}\n") == [
        (
            "lain.yaml:4:10: worker.healthcheck: healthcheck only works on web procs (worker is a "
            "worker); use container_healthcheck, or make the proc a web proc"
        )
    ]


def test_logs_are_relative() -> None:
    assert body_problems("web:\n  logs: [/lain/logs/a.log, /var/log/b.log, c.log]\n") == [
        "lain.yaml:5:10: web.logs[0]: must be a path relative to /lain/logs, like 'a.log'",
        "lain.yaml:5:28: web.logs[1]: must be a path relative to /lain/logs, like 'b.log'",
    ]


@pytest.mark.parametrize("path", ["/", "/lain", "/lain/app", "/lain/app/", ".", "./x/.."])
def test_reserved_persistent_dirs(path: str) -> None:
    assert body_problems(f"worker:\n  persistent_dirs: ['{path}']\n") == [
        (
            f"lain.yaml:5:21: worker.persistent_dirs[0]: cannot keep '{path}' across restarts: /, "
            "/lain and /lain/app hold the system and the app itself; name a directory inside "
            "them, like /lain/app/data"
        )
    ]


def test_persistent_dirs_and_volumes_are_one_setting() -> None:
    assert body_problems("worker:\n  persistent_dirs: [/a]\n  volumes: [/b]\n") == [
        (
            "lain.yaml:6:3: worker.volumes: persistent_dirs and volumes are the same setting "
            "(lain v2 read only persistent_dirs); keep one of them"
        )
    ]


def test_secret_files() -> None:
    assert body_problems("worker:\n  secret_files: [conf/, a.json, ./a.json, '']\n") == [
        (
            "lain.yaml:5:18: worker.secret_files[0]: secret_files lists files, and 'conf/' is a "
            "directory; name the file"
        ),
        "lain.yaml:5:33: worker.secret_files[2]: /lain/app/a.json is already listed (item 1); "
        "remove one",
        "lain.yaml:5:43: worker.secret_files[3]: must not be empty",
    ]


# -- procs -------------------------------------------------------------------------------------


def test_a_web_proc_not_named_web_needs_a_mountpoint() -> None:
    assert body_problems("web.admin: {cmd: x}\nproc.api: {type: web, mountpoint: []}\n") == [
        (
            "lain.yaml:4:1: web.admin: web proc 'admin' needs its own mountpoint: only the proc "
            "named web gets the default domains; add mountpoint: [/admin] (a path on the app's "
            "domains) or a domain of its own"
        ),
        (
            "lain.yaml:5:1: proc.api: web proc 'api' needs its own mountpoint: only the proc "
            "named web gets the default domains; add mountpoint: [/api] (a path on the app's "
            "domains) or a domain of its own"
        ),
    ]


def test_mountpoints_only_on_web_procs() -> None:
    assert body_problems("worker.queue: {mountpoint: [/queue]}\n") == [
        (
            "lain.yaml:4:16: worker.queue.mountpoint: mountpoint only works on web procs (queue "
            "is a worker); remove it, or make the proc a web proc"
        )
    ]


def test_duplicate_proc_names() -> None:
    assert body_problems("web: {}\nweb.web: {}\nworker.a: {}\nproc.a: {}\n") == [
        (
            "lain.yaml:5:1: web.web: proc name 'web' is already taken by section 'web' (line 4); "
            "proc names must be unique, so rename one of them"
        ),
        (
            "lain.yaml:7:1: proc.a: proc name 'a' is already taken by section 'worker.a' (line "
            "6); proc names must be unique, so rename one of them"
        ),
    ]


def test_service_procs_count_as_names() -> None:
    assert body_problems(
        "portal.portal-echo: {service_name: echo}\nservice.echo: {portal: {}}\n"
    ) == [
        (
            "lain.yaml:5:1: service.echo: service.echo makes procs echo and portal-echo; proc "
            "name 'portal-echo' is already taken by section 'portal.portal-echo' (line 4); proc "
            "names must be unique, so rename one of them"
        )
    ]


# -- dependencies ------------------------------------------------------------------------------


def test_services_and_resources_need_different_names() -> None:
    assert body_problems(
        "use_services: {db: [redis]}\nuse_resources: {redis: {services: [redis]}}\n"
    ) == [
        (
            "lain.yaml:5:36: use_resources.redis.services[0]: 'redis' is also a service of "
            "use_services.db; the services and resources an app uses need different names (lain "
            "v2 rule)"
        )
    ]


def test_a_resource_cannot_use_resources() -> None:
    assert body_problems("apptype: resource\nuse_resources: {redis: {services: [redis]}}\n") == [
        (
            "lain.yaml:5:1: use_resources: a resource cannot use other resources (it may use "
            "services); move them to the apps that use this resource"
        )
    ]


# -- with the schema ---------------------------------------------------------------------------


def test_semantic_checks_leave_rejected_values_alone() -> None:
    # mountpoint is not a list: one structural problem, not also "needs its own mountpoint"
    assert body_problems("web.admin: {mountpoint: admin.example.com, memory: 1}\n") == [
        "lain.yaml:4:25: web.admin.mountpoint: expected a list, got 'admin.example.com'",
        (
            "lain.yaml:4:52: web.admin.memory: must be at least 6m (Docker refuses less), got 1; "
            "a number without a unit is bytes, did you mean 1m?"
        ),
    ]


# -- templates ---------------------------------------------------------------------------------


def test_a_resource_template_must_be_valid_jinja() -> None:
    assert body_problems(
        "apptype: resource\nworker: {memory: '{{ memory ', cmd: '{% if %}'}\n"
    ) == [
        (
            "lain.yaml:5:18: worker.memory: invalid template: unexpected end of template, expected "
            "'end of print statement'."
        ),
        "lain.yaml:5:37: worker.cmd: invalid template: Expected an expression, got 'end of "
        "statement block'",
    ]


# -- warnings: secrets written out ---------------------------------------------------------------


def warnings(text: str) -> list[str]:
    return [str(w) for w in parse_app_config(text).warnings]


def test_secret_looking_values_written_out_are_warnings_not_problems() -> None:
    text = HEAD + (
        "  prepare:\n"
        "    script: [make deps]\n"
        "    build_arg: [NPM_TOKEN=npm_abc123]\n"
        "  build_arg:\n"
        "    - DB_PASS=hunter2\n"
        "    - VERSION=1.0\n"
        "web:\n"
        "  env: [DB_PASSWORD=hunter2, MODE=prod]\n"
        "service.s:\n"
        "  portal: {env: [SECRET_KEY=abc]}\n"
    )
    written = "looks like a secret, and its value is written in lain.yaml, which the repository"
    assert warnings(text) == [
        (
            f"lain.yaml:6:17: build.prepare.build_arg[0]: NPM_TOKEN {written} and the images "
            "hold; read it from the build's environment instead: NPM_TOKEN=$NPM_TOKEN"
        ),
        (
            f"lain.yaml:8:7: build.build_arg[0]: DB_PASS {written} and the images hold; read "
            "it from the build's environment instead: DB_PASS=$DB_PASS"
        ),
        (
            f"lain.yaml:11:9: web.env[0]: DB_PASSWORD {written}, the images and the service's "
            "settings hold; keep it in a file listed in secret_files instead"
        ),
        (
            f"lain.yaml:13:18: service.s.portal.env[0]: SECRET_KEY {written}, the images and "
            "the service's settings hold; keep it in a file listed in secret_files instead"
        ),
    ]


def test_no_warning_where_nothing_secret_is_written() -> None:
    text = HEAD + (
        "  build_arg:\n"
        "    - DB_PASS=$DB_PASS\n"  # read from the environment when building
        "    - GH_PAT=${GH_PAT}\n"
        "    - PATH=/usr/bin\n"  # not a secret word: PAT only counts as a word of its own
        "web:\n"
        "  env:\n"
        "    - DB_PASSWORD=\n"  # nothing written
        "    - PASSWORD_FILE=/lain/app/db-password\n"  # where the secret is, not the secret
        "    - PUBLIC_KEY=ssh-ed25519 AAAA\n"
        "    - PWD=/lain/app\n"
    )
    assert warnings(text) == []


def test_no_warning_for_a_resource_parameter() -> None:
    text = HEAD + "apptype: resource\nworker:\n  env: ['PASSWORD={{ password }}']\n"
    assert warnings(text) == []


def test_warnings_are_not_part_of_the_model() -> None:
    config = parse_app_config(HEAD + "web: {env: [API_TOKEN=abc]}\n")
    assert len(config.warnings) == 1 and "warnings" not in config.to_dict()
