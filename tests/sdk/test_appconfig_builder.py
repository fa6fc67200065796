"""The model of a valid lain.yaml (lain_sdk.appconfig.builder): lain v2's defaults and
normalisation (reference sections 1.6 and 1.7)."""

from __future__ import annotations

import pytest

from lain_sdk.appconfig import parse_app_config
from lain_sdk.appconfig.model import (
    AppConfig,
    Backup,
    CopySpec,
    Healthcheck,
    Port,
    PrepareConfig,
    StreamPort,
    Volume,
)

MiB = 1024 * 1024
HEAD = "appname: hello\nbuild:\n  base: golang\n"


def app(body: str = "", **kwargs) -> AppConfig:
    return parse_app_config(HEAD + body, **kwargs)


# -- defaults ----------------------------------------------------------------------------------


def test_web_defaults() -> None:
    web = app("web: {}\n").proc("web")
    assert web.type == "web"
    assert web.section == "web"
    assert web.port == Port(80, "tcp")
    assert web.memory == 32 * MiB
    assert web.cpu == 0
    assert web.num_instances == 1
    assert web.cmd is None and web.entrypoint is None
    assert web.image is None
    assert web.mountpoints == ("hello.lain.local", "hello.lain")
    assert web.volumes == (Volume("/lain/logs"),)
    assert web.filters == ("constraint:group==default",)
    assert web.dns_search == ("hello.lain",)
    assert web.setup_time == 0 and web.kill_timeout == 10
    assert web.https_only is False and web.stateful is False
    assert web.healthcheck is None
    assert web.service_name is None and web.allow_clients is None


def test_worker_defaults_have_no_port_and_no_mountpoints() -> None:
    worker = app("worker: {cmd: run}\n").proc("worker")
    assert worker.type == "worker"
    assert worker.port is None
    assert worker.mountpoints == ()


def test_app_defaults() -> None:
    config = app()
    assert config.apptype == "app"
    assert config.giturl is None
    assert config.procs == ()
    assert config.domains == ("lain.local",)
    assert config.release.dest_base is None and config.release.copy == ()
    assert config.build.prepare is None
    assert config.path == "lain.yaml"
    assert config.source == HEAD


# -- memory ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "size"),
    [
        ("64m", 64 * MiB),
        ("64M", 64 * MiB),
        ("1g", 1024 * MiB),
        ("2G", 2048 * MiB),
        ("8192k", 8 * MiB),
        ("8388608b", 8 * MiB),
        ("8388608", 8 * MiB),
        ("'16777216'", 16 * MiB),
    ],
)
def test_memory_units_are_docker_binary_units(written: str, size: int) -> None:
    assert app(f"worker: {{memory: {written}}}\n").proc("worker").memory == size


# -- proc sections -----------------------------------------------------------------------------


def test_proc_types_and_names_follow_the_section() -> None:
    config = app(
        "web: {}\n"
        "web.admin: {mountpoint: [/admin]}\n"
        "worker.queue: {type: web}\n"  # a body type is ignored here, as in v2
        "oneshot: {}\n"
        "oneshot.seed: {}\n"
        "proc.stats: {type: web, mountpoint: [stats.example.com]}\n"
        "proc.cron: {}\n"
        "portal.portal-queue: {service_name: queue}\n"
    )
    assert [(p.name, p.type, p.section) for p in config.procs] == [
        ("web", "web", "web"),
        ("admin", "web", "web.admin"),
        ("queue", "worker", "worker.queue"),
        ("oneshot", "oneshot", "oneshot"),
        ("seed", "oneshot", "oneshot.seed"),
        ("stats", "web", "proc.stats"),
        ("cron", "worker", "proc.cron"),
        ("portal-queue", "portal", "portal.portal-queue"),
    ]
    portal = config.proc("portal-queue")
    assert portal.service_name == "queue"
    assert portal.allow_clients == "**"


def test_service_expands_to_a_proc_and_its_portal() -> None:
    config = app(
        "service.echo:\n"
        "  cmd: ./echo -p 1234\n"
        "  port: 1234\n"
        "  num_instances: 3\n"
        "  portal:\n"
        "    allow_clients: 'client-*'\n"
        "    cmd: ./proxy\n"
        "    port: 4321\n"
    )
    echo, portal = config.procs
    assert (echo.name, echo.type, echo.section) == ("echo", "worker", "service.echo")
    assert echo.num_instances == 3 and echo.port == Port(1234)
    assert (portal.name, portal.type, portal.section) == ("portal-echo", "portal", "service.echo")
    assert portal.service_name == "echo"
    assert portal.allow_clients == "client-*"
    assert portal.cmd == ("./proxy",) and portal.port == Port(4321)
    assert portal.num_instances == 1  # the service's keys stay with the service


def test_service_type_is_read_from_its_body() -> None:
    config = app("service.api:\n  type: web\n  mountpoint: [/api]\n  portal: {}\n")
    assert config.proc("api").type == "web"
    assert (
        config.proc("portal-api").port is None
    )  # v2's docs promised the service port; the code never did


def test_procs_keep_the_file_order() -> None:
    config = app("worker.b: {}\nweb: {}\nworker.a: {}\n")
    assert [p.name for p in config.procs] == ["b", "web", "a"]


# -- commands ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "parsed"),
    [
        ("./run --name 'two words'", ("./run", "--name", "two words")),
        ('sh -c "echo a && echo b"', ("sh", "-c", "echo a && echo b")),
        ("[/bin/run, --flag]", ("/bin/run", "--flag")),
        ("", None),
        ("''", None),
    ],
)
def test_cmd_strings_are_split_like_a_posix_shell(
    written: str, parsed: tuple[str, ...] | None
) -> None:
    config = app(f"worker:\n  cmd: {written}\n  entrypoint: {written}\n")
    assert config.proc("worker").cmd == parsed
    assert config.proc("worker").entrypoint == parsed


# -- ports -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "port"),
    [
        ("80", Port(80, "tcp")),
        ("'8080'", Port(8080, "tcp")),
        ("'53:udp'", Port(53, "udp")),
        ("'80:tcp'", Port(80, "tcp")),
        ("{80: ['type:tcp']}", Port(80, "tcp")),
        ("{5353: ['type:udp']}", Port(5353, "udp")),
    ],
)
def test_port_forms(written: str, port: Port) -> None:
    assert app(f"worker: {{port: {written}}}\n").proc("worker").port == port


@pytest.mark.parametrize(
    ("written", "ports"),
    [
        ("'9501'", (StreamPort(9501, 9501, "tcp"),)),
        ("['9501:80/udp', '9502:81']", (StreamPort(9501, 80, "udp"), StreamPort(9502, 81, "tcp"))),
        ("{'9503:53/udp': {}}", (StreamPort(9503, 53, "udp"),)),
    ],
)
def test_stream_ports(written: str, ports: tuple[StreamPort, ...]) -> None:
    assert app(f"worker: {{ports: {written}}}\n").proc("worker").ports == ports


# -- mountpoints (section 1.7) -----------------------------------------------------------------


def test_web_mountpoints_are_the_defaults_plus_the_given_ones() -> None:
    web = app("web: {mountpoint: [a.example.com, hello.lain]}\n").proc("web")
    assert web.mountpoints == ("a.example.com", "hello.lain", "hello.lain.local")


def test_path_mountpoints_are_expanded_for_each_default_domain() -> None:
    web = app("web.admin: {mountpoint: [/admin, admin.example.com]}\n").proc("admin")
    assert web.mountpoints == ("admin.example.com", "hello.lain.local/admin", "hello.lain/admin")


def test_mountpoints_follow_the_cluster_domains() -> None:
    config = app("web: {mountpoint: [/api]}\n", domains=["example.com", "example.org"])
    assert config.domains == ("example.com", "example.org")
    assert config.proc("web").mountpoints == (
        "hello.example.com",
        "hello.example.org",
        "hello.lain",
        "hello.example.com/api",
        "hello.example.org/api",
        "hello.lain/api",
    )


# -- paths -------------------------------------------------------------------------------------


def test_relative_paths_are_inside_lain_app(full: AppConfig) -> None:
    web = full.proc("web")
    assert web.secret_files == (
        "/lain/app/config/secret.json",
        "/etc/full-app/key.pem",
        "/lain/app/config/other.json",
    )
    assert web.volumes == (
        Volume("/lain/app/data"),
        Volume(
            "/var/lib/full-app",
            (
                Backup("full", "0 3 * * *", "30d", "./pre.sh", "./post.sh"),
                Backup("increment", "*/5 * * * *"),
            ),
        ),
        Volume("/lain/logs"),
    )
    assert full.proc("queue").cloud_volumes == {"single": ("/lain/app/shared",)}


def test_copy_paths(full: AppConfig) -> None:
    assert full.release.copy == (
        CopySpec("/lain/app/full-app", "/lain/app/full-app"),
        CopySpec("/lain/app/conf/", "/etc/full-app/"),  # a trailing / decides where cp puts files
        CopySpec("$GOPATH/bin/tool", "/lain/bin/tool"),  # $-paths expand in the container
    )


def test_logs_are_deduplicated(full: AppConfig) -> None:
    assert full.proc("web").logs == ("access.log", "error.log")


# -- everything else ---------------------------------------------------------------------------


def test_full_file(full: AppConfig) -> None:
    assert full.giturl == "https://example.com/team/full-app"
    assert full.build.base == "golang:1.8"
    assert full.build.script == ("go build -o full-app",)
    assert full.build.build_arg == ("VERSION=1.0",)
    assert full.build.prepare == PrepareConfig(
        script=("go get ./...",),
        keep=("vendor",),
        version="20180428",
        build_arg=("GOPROXY=$GOPROXY",),
    )
    assert full.release.script == ("strip full-app",)
    assert full.release.dest_base == "busybox:latest"
    assert full.test.script == ("go test ./...",)
    assert dict(full.notify) == {"slack": "#full-app", "email": "team@example.com"}
    assert dict(full.use_services) == {"mysql-service": ("mysql-master",)}
    redis = full.use_resources["redis"]
    assert redis.services == ("redis",)
    assert dict(redis.context) == {"memory": "128M", "num_instances": 2}

    web = full.proc("web")
    assert web.cmd == ("./full-app", "serve", "--name", "full app")
    assert web.entrypoint == ("/bin/sh", "-c")
    assert web.port == Port(8080)
    assert (web.memory, web.cpu, web.num_instances) == (64 * MiB, 2, 3)
    assert list(web.env.items()) == [
        ("MODE", "production"),
        ("EMPTY", ""),
        ("URL", "http://x/?a=b"),
    ]
    assert web.mountpoints == (
        "full.example.com",
        "full-app.lain.local",
        "full-app.lain",
        "full-app.lain.local/api",
        "full-app.lain/api",
    )
    assert web.https_only is True and web.stateful is True and web.secret_files_bypass is True
    assert (web.setup_time, web.kill_timeout) == (40, 30)
    assert (web.user, web.workdir) == ("nobody", "/lain/app")
    assert dict(web.labels) == {"team": "platform", "url": "http://example.com"}
    assert web.filters == ("constraint:disk==ssd", "constraint:group==default")
    assert web.dns_search == ("example.internal", "full-app.lain")

    queue = full.proc("queue")
    assert queue.workdir == "/srv"
    assert queue.filters == ("constraint:group==batch",)  # a group constraint replaces the default
    assert queue.memory == 1024 * MiB

    assert full.proc("oneshot").volumes == (Volume("/tmp/cache"), Volume("/lain/logs"))
    assert full.proc("stats").port == Port(8125, "udp")


# -- healthchecks ------------------------------------------------------------------------------


def test_web_healthcheck_path_becomes_a_wget_check(full: AppConfig) -> None:
    assert full.proc("web").healthcheck == Healthcheck(
        cmd=("CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1:8080/ping || exit 1"),
        http_path="/ping",
    )


def test_web_healthcheck_uses_the_default_port() -> None:
    check = app("web: {healthcheck: /health}\n").proc("web").healthcheck
    assert check is not None
    assert check.cmd == ("CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1:80/health || exit 1")
    assert (check.interval, check.timeout, check.retries) == (10.0, 5.0, 3)


def test_container_healthcheck_forms(full: AppConfig) -> None:
    assert full.proc("admin").healthcheck == Healthcheck(
        cmd=("CMD-SHELL", "curl -f http://127.0.0.1:9000/"), interval=30.0, timeout=3.0, retries=5
    )
    assert full.proc("stats").healthcheck == Healthcheck(cmd=("CMD", "/bin/check", "--fast"))
    assert full.proc("queue").healthcheck == Healthcheck(cmd=None)  # none: disabled


def test_container_healthcheck_wins_over_the_http_path() -> None:
    check = (
        app("web: {healthcheck: /ping, container_healthcheck: {cmd: [/bin/true]}}\n")
        .proc("web")
        .healthcheck
    )
    assert check == Healthcheck(cmd=("CMD", "/bin/true"))
