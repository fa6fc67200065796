"""A proc of a built release in a local container, as a deploy would run instance 1 of it."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes.base import engine_error
from fakes.cluster import SETTINGS, mv

from lain_sdk.appconfig.loader import parse_app_config
from lain_sdk.cluster.run import (
    container_name,
    finish_run,
    local_release_image,
    run_proc,
    stop_run,
)
from lain_sdk.errors import ClusterError, ContainerExists, InvalidArgument, LainError, NotFound
from lain_sdk.git import short_version

LAIN_YAML = """\
appname: shop
build:
  base: lain-local/busybox:latest
web:
  cmd: httpd -f -p 80
  memory: 64m
  persistent_dirs: [/data]
worker.mail:
  cmd: [send-mail, --all]
  user: "1000:50"
  secret_files: [config/db.json, /etc/token]
portal.front:
  service_name: web
"""
IMAGE = f"shop:release-{mv(1)}"


@pytest.fixture
def config():
    return parse_app_config(LAIN_YAML, domains=["example.com"])


@pytest.fixture
def release(engine, base_image):
    """The release image of version 1 on the engine, as a build tags it."""
    engine.add_image(IMAGE, files={"/www/index.html": b"page"}, parent=base_image)
    return IMAGE


def start(config, fake_docker, proc="web", **kw):
    return run_proc(
        config, proc, meta_version=mv(1), image=IMAGE, cluster=SETTINGS, engine=fake_docker, **kw
    )


def test_a_detached_run_gets_what_a_deploy_gives_instance_1(
    config, fake_docker, engine, release
) -> None:
    engine.on_command("httpd -f -p 80", hang=True)
    result = start(config, fake_docker)
    assert result.name == "shop.web.web" == container_name("shop", "web", "web")
    assert result.address == "127.0.0.1:32768"
    assert result.volumes == (
        "lain_shop_web_data.run:/data",
        "lain_shop_web_lain-logs.run:/lain/logs",
    )
    inspected = fake_docker.api.inspect_container(result.container)
    env = dict(e.partition("=")[::2] for e in inspected["Config"]["Env"])
    assert env["LAIN_INSTANCE_NO"] == "1" and env["LAIN_DOMAIN"] == "example.com"
    assert env["LAIN_APP_RELEASE_VERSION"] == mv(1)
    assert inspected["Config"]["Labels"]["lain.run"] == "1"
    assert inspected["HostConfig"]["Memory"] == 64 << 20
    assert result.to_dict()["address"] == "127.0.0.1:32768"
    stop_run(fake_docker, result.container, remove=False)
    assert fake_docker.api.inspect_container(result.container)["State"]["Status"] == "exited"


def test_a_run_gets_the_config_vars_over_lain_yamls_env(
    config, fake_docker, engine, release
) -> None:
    engine.on_command("httpd -f -p 80", hang=True)
    result = start(config, fake_docker, config_vars={"LOG_LEVEL": "debug"})
    inspected = fake_docker.api.inspect_container(result.container)
    env = dict(e.partition("=")[::2] for e in inspected["Config"]["Env"])
    assert env["LOG_LEVEL"] == "debug" and env["LAIN_PROCNAME"] == "web"
    stop_run(fake_docker, result.container, remove=True)


def test_a_foreground_run_streams_its_output_and_ends_with_its_status(
    config, fake_docker, engine, release
) -> None:
    engine.on_command("echo hi", output="hi\n", exit_code=4)
    result = start(config, fake_docker, command=["echo", "hi"], follow=True)
    assert list(result.attached.output()) == [("stdout", b"hi\n")]
    assert finish_run(fake_docker, result.container, remove=True) == 4
    assert fake_docker.api.containers(all=True) == []


def test_secret_files_are_mounted_from_memory_and_gone_once_it_started(
    config, fake_docker, engine, release, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    seen = {}
    original = fake_docker.api.start

    def start_and_look(container):
        # What the engine finds at the mounts' sources when it starts the container.
        for mount in fake_docker.api.host_configs[container]["Mounts"]:
            if mount["Type"] == "bind":
                source = Path(mount["Source"])
                info = source.stat()
                seen[mount["Target"]] = (source.read_bytes(), oct(info.st_mode & 0o777))
        return original(container)

    fake_docker.api.start = start_and_look
    result = start(
        config,
        fake_docker,
        proc="mail",
        secret_files={"/lain/app/config/db.json": b"{}", "/etc/token": b"t"},
    )
    assert result.secret_files == ("/etc/token", "/lain/app/config/db.json")
    assert seen == {"/etc/token": (b"t", "0o400"), "/lain/app/config/db.json": (b"{}", "0o400")}
    mounts = fake_docker.api.host_configs[result.container]["Mounts"]
    assert {(m["Target"], m["ReadOnly"]) for m in mounts if m["Type"] == "bind"} == {
        ("/etc/token", True),
        ("/lain/app/config/db.json", True),
    }
    # Nothing went into the container, and nothing is left where the values waited.
    assert engine.calls_to("put_archive") == []
    assert not engine.container(result.container).changes
    assert list(tmp_path.iterdir()) == []
    (ran,) = [r for r in engine.ran if r.argv == ["send-mail", "--all"]]
    assert ran.user == "1000:50"


def test_a_run_that_fails_to_start_leaves_no_secret_behind(
    config, fake_docker, engine, release, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    engine.fail_call("create_container", engine_error(500, "no space left on device"))
    with pytest.raises(LainError):
        start(config, fake_docker, proc="mail", secret_files={"/etc/token": b"t"})
    assert list(tmp_path.iterdir()) == []


def test_a_running_container_of_the_same_name_is_refused_or_replaced(
    config, fake_docker, engine, release
) -> None:
    engine.on_command("httpd", hang=True)
    first = start(config, fake_docker)
    assert first.replaced == "" and first.to_dict()["replaced"] is None
    with pytest.raises(ContainerExists) as exists:
        start(config, fake_docker)
    assert (exists.value.name, exists.value.state) == ("shop.web.web", "running")
    assert str(exists.value) == (
        "container shop.web.web of an earlier run of this proc is running; lain leaves it alone "
        "unless asked to replace it"
    )
    assert not isinstance(exists.value, ClusterError)  # the engine refused nothing
    assert fake_docker.api.inspect_container(first.container)["State"]["Running"]
    second = start(config, fake_docker, replace_existing=True)
    assert second.container != first.container and second.replaced == "running"
    assert [c["Id"] for c in fake_docker.api.containers(all=True)] == [second.container]


def test_a_stopped_container_of_an_earlier_run_is_replaced_without_asking(
    config, fake_docker, engine, release
) -> None:
    engine.on_command("httpd", hang=True)
    first = start(config, fake_docker)
    fake_docker.api.stop(first.container)
    second = start(config, fake_docker)
    assert second.replaced == "exited" and second.to_dict()["replaced"] == "exited"
    assert [c["Id"] for c in fake_docker.api.containers(all=True)] == [second.container]
    # One that ended by itself too (a --rm run is removed; a detached one stays until then).
    engine.on_command("echo done", output="done\n")
    ended = start(config, fake_docker, command=["echo", "done"], replace_existing=True)
    assert fake_docker.api.inspect_container(ended.container)["State"]["Status"] == "exited"
    assert start(config, fake_docker).replaced == "exited"


def test_what_cannot_run(config, fake_docker, release) -> None:
    with pytest.raises(
        NotFound, match="proc front of shop is a portal without a program of its own"
    ):
        start(config, fake_docker, proc="front")
    with pytest.raises(NotFound, match="shop has no proc 'cron'"):
        start(config, fake_docker, proc="cron")
    with pytest.raises(InvalidArgument, match="command must be a list of strings"):
        start(config, fake_docker, command="echo hi")
    with pytest.raises(InvalidArgument, match="config must be an AppConfig"):
        run_proc(
            "shop", "web", meta_version=mv(1), image=IMAGE, cluster=SETTINGS, engine=fake_docker
        )


def test_the_release_image_is_found_locally_or_as_pushed(fake_docker, engine, release) -> None:
    assert local_release_image(fake_docker, "shop", mv(1)) == IMAGE
    engine.add_image(f"registry.example.com/shop:release-{mv(2)}", files={"/x": b"x"})
    assert (
        local_release_image(fake_docker, "shop", mv(2), "registry.example.com")
        == f"registry.example.com/shop:release-{mv(2)}"
    )
    with pytest.raises(
        NotFound,
        match=rf"build it first \(release versions here: {short_version(mv(1))}",
    ):
        local_release_image(fake_docker, "shop", "1-abc")
