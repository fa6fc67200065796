"""One test per rule of lain.yaml, each with the exact message a user sees."""

from __future__ import annotations

from pathlib import Path

import pytest

from lain_sdk.appconfig import check_app_config, parse_app_config
from lain_sdk.errors import AppConfigError

DATA = Path(__file__).resolve().parent.parent / "data"
HEAD = "appname: hello\nbuild:\n  base: golang\n"  # three lines: the body starts on line 4
SECTIONS = "web, web.NAME, worker, worker.NAME, oneshot, oneshot.NAME, proc.NAME, portal.NAME, service.NAME"
TOP_KEYS = "appname, giturl, apptype, build, release, test, notify, use_services, use_resources"
PROC_KEYS = (
    "image, cmd, entrypoint, user, workdir, working_dir, num_instances, cpu, memory, port, ports, env, "
    "mountpoint, https_only, healthcheck, container_healthcheck, secret_files, secret_files_bypass, "
    "persistent_dirs, volumes, cloud_volumes, logs, setup_time, kill_timeout, stateful, labels, "
    "filters, dns_search"
)


def problems(text: str) -> list[str]:
    with pytest.raises(AppConfigError) as e:
        parse_app_config(text)
    return [str(p) for p in e.value.problems]


def body_problems(body: str) -> list[str]:
    return problems(HEAD + body)


# -- top level ---------------------------------------------------------------------------------


def test_appname_and_build_are_required() -> None:
    assert problems("giturl: x\n") == [
        "lain.yaml:1:1: missing required key 'appname'",
        "lain.yaml:1:1: missing required key 'build'",
    ]


def test_build_base_is_required() -> None:
    assert problems("appname: a\nbuild:\n  script: [make]\n") == [
        "lain.yaml:2:1: build: missing required key 'base'"
    ]


def test_appname_pattern() -> None:
    assert problems("appname: my_app\nbuild: {base: x}\n") == [
        (
            "lain.yaml:1:10: appname: expected a name of letters and digits, with single dashes between "
            "words, starting with a letter (like my-app), got 'my_app'"
        )
    ]


@pytest.mark.parametrize("name", ["service", "resource", "portal"])
def test_reserved_appnames(name: str) -> None:
    assert problems(f"appname: {name}\nbuild: {{base: x}}\n") == [
        (
            f"lain.yaml:1:10: appname: '{name}' is reserved (service, resource and portal name lain's own "
            "objects); choose another appname"
        )
    ]


def test_apptype_values() -> None:
    assert body_problems("apptype: service\n") == [
        "lain.yaml:4:10: apptype: expected one of app, resource, got 'service'"
    ]


def test_unknown_section_lists_what_is_allowed() -> None:
    assert body_problems("publish:\n  script: [echo]\n") == [
        (
            f"lain.yaml:4:1: publish: unknown section 'publish': proc sections are {SECTIONS}; "
            f"the other top-level keys are {TOP_KEYS}"
        )
    ]


def test_unknown_section_suggests_a_close_name() -> None:
    assert body_problems("wroker: {}\n") == [
        (
            f"lain.yaml:4:1: wroker: unknown section 'wroker' (did you mean 'worker'?): proc sections are "
            f"{SECTIONS}; the other top-level keys are {TOP_KEYS}"
        )
    ]


def test_invalid_proc_section_names() -> None:
    assert body_problems("web.a.b: {}\nworker.my_q: {}\nportal: {}\n") == [
        (
            "lain.yaml:4:1: web.a.b: invalid proc section 'web.a.b': after 'web.' comes a proc name of "
            "letters and digits, with single dashes between words, starting with a letter (like web.my-proc)"
        ),
        (
            "lain.yaml:5:1: worker.my_q: invalid proc section 'worker.my_q': after 'worker.' comes a proc "
            "name of letters and digits, with single dashes between words, starting with a letter "
            "(like worker.my-proc)"
        ),
        "lain.yaml:6:1: portal: 'portal' needs a name: write portal.NAME, like portal.my-portal",
    ]


def test_notify_takes_any_keys() -> None:
    config = parse_app_config(
        HEAD + "notify: {slack: '#a', email: a@example.com, hook: {url: x}}\n"
    )
    assert config.notify["hook"] == {"url": "x"}


# -- build, release, test ----------------------------------------------------------------------


def test_unknown_key_in_build_lists_the_keys() -> None:
    assert problems("appname: a\nbuild:\n  base: x\n  scripts: [make]\n") == [
        (
            "lain.yaml:4:3: build.scripts: unknown key 'scripts' (did you mean 'script'?); build takes "
            "base, script, prepare, build_arg, volumes"
        )
    ]


def test_script_must_be_a_list() -> None:
    # v2's schema forgot "type": "array", so a string passed and was iterated character by character
    assert problems("appname: a\nbuild:\n  base: x\n  script: make\n") == [
        "lain.yaml:4:11: build.script: expected a list, got 'make'"
    ]


def test_script_lines_are_strings() -> None:
    assert problems("appname: a\nbuild:\n  base: x\n  script: [make, {a: b}]\n") == [
        "lain.yaml:4:18: build.script[1]: expected a shell command line, got a mapping"
    ]


def test_prepare_version_pattern() -> None:
    assert problems("appname: a\nbuild:\n  base: x\n  prepare: {version: '1.0'}\n") == [
        (
            "lain.yaml:4:22: build.prepare.version: expected a version of letters and digits "
            "(like 20180428), got '1.0'"
        )
    ]


def test_prepare_is_validated() -> None:
    # v2's anyOf let any mapping through as the list form, so prepare was never checked
    assert problems("appname: a\nbuild:\n  base: x\n  prepare: {scrip: [a], keep: vendor}\n") == [
        (
            "lain.yaml:4:13: build.prepare.scrip: unknown key 'scrip' (did you mean 'script'?); "
            "build.prepare takes version, script, keep, build_arg"
        ),
        "lain.yaml:4:31: build.prepare.keep: expected a list, got 'vendor'",
    ]


def test_prepare_forms() -> None:
    assert problems("appname: a\nbuild:\n  base: x\n  prepare: make\n") == [
        (
            "lain.yaml:4:12: build.prepare: expected a list of script lines, or {version, script, keep, "
            "build_arg}, got 'make'"
        )
    ]


def test_build_args() -> None:
    assert problems("appname: a\nbuild:\n  base: x\n  build_arg: [VERSION]\n") == [
        "lain.yaml:4:15: build.build_arg[0]: expected KEY=VALUE, got 'VERSION'"
    ]


def test_build_volumes_are_absolute() -> None:
    assert problems("appname: a\nbuild:\n  base: x\n  volumes: [node_modules]\n") == [
        "lain.yaml:4:13: build.volumes[0]: expected an absolute path, got 'node_modules'"
    ]


def test_build_volumes_rule_out_release_script() -> None:
    assert problems(
        "appname: a\nbuild:\n  base: x\n  volumes: [/cache]\nrelease:\n  script: [strip a]\n"
    ) == [
        (
            "lain.yaml:6:3: release.script: release.script is not supported when build.volumes is set "
            "(that build is committed from a container); remove one of them"
        )
    ]


def test_copy_items() -> None:
    assert body_problems("release:\n  copy:\n    - 1\n    - dest: /x\n    - {src: a, to: b}\n") == [
        "lain.yaml:6:7: release.copy[0]: expected a path, or {src, dest}, got 1",
        "lain.yaml:7:7: release.copy[1]: missing required key 'src'",
        "lain.yaml:8:16: release.copy[2].to: unknown key 'to'; release.copy[2] takes src, dest",
    ]


def test_unknown_key_in_test() -> None:
    assert body_problems("test:\n  scripts: [a]\n") == [
        "lain.yaml:5:3: test.scripts: unknown key 'scripts' (did you mean 'script'?); test takes script"
    ]


# -- proc keys ---------------------------------------------------------------------------------


def test_unknown_proc_key_suggests_and_lists() -> None:
    assert body_problems("proc.mysqld:\n  num_instance: 3\n") == [
        (
            "lain.yaml:5:3: proc.mysqld.num_instance: unknown key 'num_instance' (did you mean "
            f"'num_instances'?); proc.mysqld takes {PROC_KEYS}, type"
        )
    ]


def test_v2_backup_key_from_the_docs_is_unknown() -> None:
    assert body_problems(
        "worker:\n  persistent_dirs:\n    - /data:\n        backup: {schedule: x}\n"
    ) == [
        (
            "lain.yaml:7:9: worker.persistent_dirs[0]./data.backup: unknown key 'backup'; "
            "worker.persistent_dirs[0]./data takes backup_full, backup_increment"
        )
    ]


def test_backups_need_a_schedule() -> None:
    assert body_problems("worker:\n  volumes:\n    - /data: {backup_full: {expire: 3d}}\n") == [
        "lain.yaml:6:15: worker.volumes[0]./data.backup_full: missing required key 'schedule'"
    ]


def test_a_volume_mapping_holds_one_directory() -> None:
    assert body_problems("worker:\n  volumes:\n    - {/a: {}, /b: {}}\n") == [
        (
            "lain.yaml:6:7: worker.volumes[0]: expected one directory with its backup settings, like "
            "{/data: {backup_full: {schedule: ...}}}, got a mapping"
        )
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("'1a'", "expected an integer, got '1a'"),
        ("1.5", "expected an integer, got 1.5"),
        ("true", "expected an integer, got true"),
        ("-1", "must be at least 0, got -1"),
    ],
)
def test_integer_keys(value: str, message: str) -> None:
    assert body_problems(f"worker: {{cpu: {value}}}\n") == [
        f"lain.yaml:4:15: worker.cpu: {message}"
    ]


@pytest.mark.parametrize("value", ["lots", "64mb", "1.5g", "-64m", "true"])
def test_memory_format(value: str) -> None:
    assert body_problems(f"worker: {{memory: {value}}}\n") == [
        (
            f"lain.yaml:4:18: worker.memory: expected a memory size like 64m, 512M or 1g, got "
            f"{'true' if value == 'true' else repr(value)}"
        )
    ]


def test_memory_minimum() -> None:
    assert body_problems("worker: {memory: 4m}\nworker.b: {memory: 128}\n") == [
        "lain.yaml:4:18: worker.memory: must be at least 6m (Docker refuses less), got 4m",
        (
            "lain.yaml:5:20: worker.b.memory: must be at least 6m (Docker refuses less), got 128; a number "
            "without a unit is bytes, did you mean 128m?"
        ),
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "uu80:udp",
            "expected a port like 80, '80:tcp', '53:udp' or {80: ['type:tcp']}, got 'uu80:udp'",
        ),
        (
            "80:udpaaaaa",
            "expected a port like 80, '80:tcp', '53:udp' or {80: ['type:tcp']}, got '80:udpaaaaa'",
        ),
        (
            "[80, 81]",
            "expected a port like 80, '80:tcp', '53:udp' or {80: ['type:tcp']}, got a list",
        ),
        ("0", "must be between 1 and 65535, got 0"),
        ("'70000:tcp'", "must be between 1 and 65535, got 70000"),
    ],
)
def test_port_forms(value: str, message: str) -> None:
    assert body_problems(f"worker: {{port: {value}}}\n") == [
        f"lain.yaml:4:16: worker.port: {message}"
    ]


def test_port_mapping_form() -> None:
    assert body_problems("worker: {port: {http: [type:tcp]}}\nweb: {port: {80: [kind:tcp]}}\n") == [
        "lain.yaml:4:17: worker.port.http: invalid key 'http': expected a port number",
        "lain.yaml:5:19: web.port.80[0]: expected 'type:tcp' or 'type:udp', got 'kind:tcp'",
    ]


def test_stream_ports() -> None:
    assert body_problems(
        "web: {ports: ['9501:80', '80', '9502:70000']}\nworker: {ports: '9501'}\nworker.x: {ports: [a]}\n"
    ) == [
        "lain.yaml:4:26: web.ports[1]: the source port must be between 9500 and 10000, got 80",
        "lain.yaml:4:32: web.ports[2]: the destination port must be between 1 and 65535, got 70000",
        (
            "lain.yaml:5:17: worker.ports: source port 9501 is already used (line 4); each source port maps "
            "to one proc"
        ),
        (
            "lain.yaml:6:20: worker.x.ports[0]: expected a stream-router mapping 'SRC[:DST][/tcp|udp]' "
            "(SRC in 9500-10000), got 'a'"
        ),
    ]


def test_env_is_a_list_of_key_value_lines() -> None:
    assert body_problems("web: {env: A=1}\nworker: {env: [A=1, B, 3]}\n") == [
        "lain.yaml:4:12: web.env: expected a list of KEY=VALUE lines, got 'A=1'",
        "lain.yaml:5:21: worker.env[1]: expected KEY=VALUE, got 'B'",
        "lain.yaml:5:24: worker.env[2]: expected KEY=VALUE, got 3",
    ]


def test_labels_and_filters() -> None:
    assert body_problems("worker: {labels: [team], filters: [group==a]}\n") == [
        "lain.yaml:4:19: worker.labels[0]: expected 'key:value', got 'team'",
        (
            "lain.yaml:4:36: worker.filters[0]: expected a filter like 'constraint:KEY==VALUE' or "
            "'affinity:KEY!=VALUE', got 'group==a'"
        ),
    ]


def test_command_quotes() -> None:
    assert body_problems('worker: {cmd: "run \'a b"}\n') == [
        "lain.yaml:4:15: worker.cmd: cannot split this command line (no closing quotation); check its quotes"
    ]


def test_command_forms() -> None:
    assert body_problems("worker: {cmd: {run: x}, entrypoint: [sh, 1]}\n") == [
        "lain.yaml:4:15: worker.cmd: expected a command line or a list of arguments, got a mapping",
        "lain.yaml:4:42: worker.entrypoint[1]: expected a string, got 1",
    ]


def test_healthcheck_is_a_path() -> None:
    assert body_problems("web: {healthcheck: ping}\n") == [
        "lain.yaml:4:20: web.healthcheck: expected a URL path starting with '/' (like /health), got 'ping'"
    ]


def test_healthcheck_only_on_web_procs() -> None:
    assert body_problems("worker: {healthcheck: /ping}\n") == [
        (
            "lain.yaml:4:10: worker.healthcheck: healthcheck only works on web procs (worker is a worker); "
            "use container_healthcheck, or make the proc a web proc"
        )
    ]


def test_container_healthcheck() -> None:
    assert body_problems(
        "worker: {container_healthcheck: {options: {interval: 0, retries: -1, every: 3}}}\n"
    ) == [
        "lain.yaml:4:10: worker.container_healthcheck: missing required key 'cmd'",
        "lain.yaml:4:54: worker.container_healthcheck.options.interval: must be more than 0, got 0",
        "lain.yaml:4:66: worker.container_healthcheck.options.retries: must be at least 0, got -1",
        (
            "lain.yaml:4:70: worker.container_healthcheck.options.every: unknown key 'every'; "
            "worker.container_healthcheck.options takes interval, timeout, retries"
        ),
    ]


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("setup_time", "121", "must be between 0 and 120, got 121"),
        ("setup_time", "-1", "must be between 0 and 120, got -1"),
        ("kill_timeout", "5", "must be between 10 and 60, got 5"),
        ("kill_timeout", "61", "must be between 10 and 60, got 61"),
    ],
)
def test_timing_ranges(key: str, value: str, message: str) -> None:
    # v2's schema rejected these and its parser clamped them; lain rejects them
    assert body_problems(f"web:\n  {key}: {value}\n") == [
        f"lain.yaml:5:{len(key) + 5}: web.{key}: {message}"
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
            f"lain.yaml:5:21: worker.persistent_dirs[0]: cannot keep '{path}' across restarts: /, /lain and "
            "/lain/app hold the system and the app itself; name a directory inside them, like /lain/app/data"
        )
    ]


def test_persistent_dirs_and_volumes_are_one_setting() -> None:
    assert body_problems("worker:\n  persistent_dirs: [/a]\n  volumes: [/b]\n") == [
        (
            "lain.yaml:6:3: worker.volumes: persistent_dirs and volumes are the same setting (lain v2 read "
            "only persistent_dirs); keep one of them"
        )
    ]


def test_cloud_volumes() -> None:
    assert body_problems("worker:\n  cloud_volumes: {type: shared}\n") == [
        "lain.yaml:5:3: worker.cloud_volumes: missing required key 'dirs'",
        "lain.yaml:5:25: worker.cloud_volumes.type: expected one of multi, single, got 'shared'",
    ]


def test_secret_files() -> None:
    assert body_problems("worker:\n  secret_files: [conf/, a.json, ./a.json, '']\n") == [
        (
            "lain.yaml:5:18: worker.secret_files[0]: secret_files lists files, and 'conf/' is a directory; "
            "name the file"
        ),
        "lain.yaml:5:33: worker.secret_files[2]: /lain/app/a.json is already listed (item 1); remove one",
        "lain.yaml:5:43: worker.secret_files[3]: must not be empty",
    ]


def test_boolean_keys() -> None:
    assert body_problems("web: {https_only: 'yes please'}\n") == [
        "lain.yaml:4:19: web.https_only: expected true or false, got 'yes please'"
    ]


def test_a_section_must_be_a_mapping() -> None:
    assert body_problems("web:\nworker: [a]\n") == [
        "lain.yaml:4:5: web: expected a mapping of proc settings (write {} for all defaults), got an empty value",
        "lain.yaml:5:9: worker: expected a mapping of proc settings (write {} for all defaults), got a list",
    ]


# -- procs -------------------------------------------------------------------------------------


def test_a_web_proc_not_named_web_needs_a_mountpoint() -> None:
    assert body_problems("web.admin: {cmd: x}\nproc.api: {type: web, mountpoint: []}\n") == [
        (
            "lain.yaml:4:1: web.admin: web proc 'admin' needs its own mountpoint: only the proc named web gets "
            "the default domains; add mountpoint: [/admin] (a path on the app's domains) or a domain of its own"
        ),
        (
            "lain.yaml:5:1: proc.api: web proc 'api' needs its own mountpoint: only the proc named web gets "
            "the default domains; add mountpoint: [/api] (a path on the app's domains) or a domain of its own"
        ),
    ]


def test_mountpoints_only_on_web_procs() -> None:
    assert body_problems("worker.queue: {mountpoint: [/queue]}\n") == [
        (
            "lain.yaml:4:16: worker.queue.mountpoint: mountpoint only works on web procs (queue is a worker); "
            "remove it, or make the proc a web proc"
        )
    ]


def test_proc_type() -> None:
    assert body_problems("proc.x: {type: portal}\n") == [
        "lain.yaml:4:16: proc.x.type: expected one of web, worker, oneshot, got 'portal'"
    ]


def test_duplicate_proc_names() -> None:
    assert body_problems("web: {}\nweb.web: {}\nworker.a: {}\nproc.a: {}\n") == [
        (
            "lain.yaml:5:1: web.web: proc name 'web' is already taken by section 'web' (line 4); proc names "
            "must be unique, so rename one of them"
        ),
        (
            "lain.yaml:7:1: proc.a: proc name 'a' is already taken by section 'worker.a' (line 6); proc names "
            "must be unique, so rename one of them"
        ),
    ]


def test_service_procs_count_as_names() -> None:
    assert body_problems(
        "portal.portal-echo: {service_name: echo}\nservice.echo: {portal: {}}\n"
    ) == [
        (
            "lain.yaml:5:1: service.echo: service.echo makes procs echo and portal-echo; proc name "
            "'portal-echo' is already taken by section 'portal.portal-echo' (line 4); proc names must be "
            "unique, so rename one of them"
        )
    ]


def test_a_service_needs_its_portal() -> None:
    assert body_problems("service.echo: {cmd: ./echo}\n") == [
        (
            "lain.yaml:4:1: service.echo: missing required key 'portal': service.NAME expands to proc NAME "
            "and portal portal-NAME; add a portal: mapping (portal: {} for defaults)"
        )
    ]


def test_a_portal_needs_a_service_name() -> None:
    assert body_problems("portal.portal-echo: {cmd: ./proxy, allow_clients: [a, b]}\n") == [
        (
            "lain.yaml:4:1: portal.portal-echo: missing required key 'service_name': name the proc this "
            "portal fronts, like service_name: my-proc"
        ),
        "lain.yaml:4:51: portal.portal-echo.allow_clients: expected a string, got a list",
    ]


def test_the_portal_of_a_service_is_named_by_it() -> None:
    assert body_problems("service.echo: {portal: {service_name: x}}\n")[0].startswith(
        "lain.yaml:4:25: service.echo.portal.service_name: unknown key 'service_name'; "
    )


# -- dependencies ------------------------------------------------------------------------------


def test_use_services_names() -> None:
    assert body_problems("use_services:\n  my_db: [master]\n  db: [Master_1]\n") == [
        (
            "lain.yaml:5:3: use_services.my_db: invalid key 'my_db': expected a name of letters and digits, "
            "with single dashes between words, starting with a letter (like my-app)"
        ),
        (
            "lain.yaml:6:8: use_services.db[0]: expected a name of letters and digits, with single dashes "
            "between words, starting with a letter (like my-app), got 'Master_1'"
        ),
    ]


def test_use_resources_need_services() -> None:
    assert body_problems("use_resources:\n  redis: {memory: 128M, sizes: [1]}\n") == [
        (
            "lain.yaml:5:3: use_resources.redis: missing required key 'services': list the resource's "
            "services this app uses, like services: [redis]"
        ),
        (
            "lain.yaml:5:32: use_resources.redis.sizes: expected a template parameter (a string or a "
            "number), got a list"
        ),
    ]


def test_services_and_resources_need_different_names() -> None:
    assert body_problems(
        "use_services: {db: [redis]}\nuse_resources: {redis: {services: [redis]}}\n"
    ) == [
        (
            "lain.yaml:5:36: use_resources.redis.services[0]: 'redis' is also a service of use_services.db; "
            "the services and resources an app uses need different names (lain v2 rule)"
        )
    ]


def test_a_resource_cannot_use_resources() -> None:
    assert body_problems("apptype: resource\nuse_resources: {redis: {services: [redis]}}\n") == [
        (
            "lain.yaml:5:1: use_resources: a resource cannot use other resources (it may use services); move "
            "them to the apps that use this resource"
        )
    ]


# -- together ----------------------------------------------------------------------------------


def test_every_problem_at_once_sorted_by_position() -> None:
    assert [str(p) for p in check_app_config(DATA / "broken.yaml")] == [
        p.replace("broken.yaml", str(DATA / "broken.yaml"), 1)
        for p in [
            (
                "broken.yaml:1:10: appname: expected a name of letters and digits, with single dashes between "
                "words, starting with a letter (like my-app), got 'my_app'"
            ),
            (
                "broken.yaml:7:14: build.prepare.version: expected a version of letters and digits "
                "(like 20180428), got '1.0'"
            ),
            (
                f"broken.yaml:8:1: publish: unknown section 'publish': proc sections are {SECTIONS}; the other "
                f"top-level keys are {TOP_KEYS}"
            ),
            "broken.yaml:11:11: web.memory: expected a memory size like 64m, 512M or 1g, got 'lots'",
            "broken.yaml:12:18: web.num_instances: expected an integer, got 'many'",
            "broken.yaml:14:15: web.setup_time: must be between 0 and 120, got 500",
            (
                "broken.yaml:15:1: web.admin: web proc 'admin' needs its own mountpoint: only the proc named "
                "web gets the default domains; add mountpoint: [/admin] (a path on the app's domains) or a "
                "domain of its own"
            ),
            (
                "broken.yaml:18:3: worker.queue.mountpoint: mountpoint only works on web procs (queue is a "
                "worker); remove it, or make the proc a web proc"
            ),
            "broken.yaml:19:17: worker.queue.kill_timeout: must be between 10 and 60, got 5",
            (
                "broken.yaml:20:10: worker.queue.logs[0]: must be a path relative to /lain/logs, like "
                "'queue.log'"
            ),
        ]
    ]


def test_semantic_checks_leave_rejected_values_alone() -> None:
    # mountpoint is not a list: one structural problem, not also "needs its own mountpoint"
    assert body_problems("web.admin: {mountpoint: admin.example.com, memory: 1}\n") == [
        "lain.yaml:4:25: web.admin.mountpoint: expected a list, got 'admin.example.com'",
        (
            "lain.yaml:4:52: web.admin.memory: must be at least 6m (Docker refuses less), got 1; a number "
            "without a unit is bytes, did you mean 1m?"
        ),
    ]


def test_the_error_message_lists_every_problem() -> None:
    with pytest.raises(AppConfigError) as e:
        parse_app_config(HEAD + "web: {cpu: x, memory: y}\n", path="app/lain.yaml")
    assert e.value.path == "app/lain.yaml"
    assert str(e.value) == (
        "app/lain.yaml: 2 problems\n"
        "app/lain.yaml:4:12: web.cpu: expected an integer, got 'x'\n"
        "app/lain.yaml:4:23: web.memory: expected a memory size like 64m, 512M or 1g, got 'y'"
    )


# -- templates ---------------------------------------------------------------------------------


def test_templates_are_plain_strings_in_an_app() -> None:
    assert body_problems("worker: {memory: '{{ memory }}'}\n") == [
        "lain.yaml:4:18: worker.memory: expected a memory size like 64m, 512M or 1g, got '{{ memory }}'"
    ]


def test_a_resource_template_may_put_templates_anywhere() -> None:
    config = parse_app_config(
        HEAD
        + "apptype: resource\n"
        + "worker:\n"
        + "  memory: '{{ memory }}'\n"
        + "  num_instances: '{{ n|default(2) }}'\n"
        + "  port: '{{ port }}'\n"
        + "  env: '{{ env }}'\n"
        + "  secret_files: ['{{ secret }}']\n"
        + "  cmd: run {{ flags }}\n"
    )
    worker = config.proc("worker")
    # rendered without parameters, as a preview: what needs a parameter falls back to the default
    assert (worker.memory, worker.num_instances, worker.port, worker.cmd) == (
        32 * 1024 * 1024,
        2,
        None,
        ("run",),
    )
    assert worker.secret_files == () and dict(worker.env) == {}


def test_a_resource_template_must_be_valid_jinja() -> None:
    assert body_problems(
        "apptype: resource\nworker: {memory: '{{ memory ', cmd: '{% if %}'}\n"
    ) == [
        (
            "lain.yaml:5:18: worker.memory: invalid template: unexpected end of template, expected "
            "'end of print statement'."
        ),
        "lain.yaml:5:37: worker.cmd: invalid template: Expected an expression, got 'end of statement block'",
    ]


def test_a_resource_template_is_still_checked_where_it_is_concrete() -> None:
    assert body_problems(
        "apptype: resource\nworker: {memory: lots, cpu: '{{ cpu }}', bogus: 1}\n"
    ) == [
        "lain.yaml:5:18: worker.memory: expected a memory size like 64m, 512M or 1g, got 'lots'",
        f"lain.yaml:5:42: worker.bogus: unknown key 'bogus'; worker takes {PROC_KEYS}, type",
    ]
