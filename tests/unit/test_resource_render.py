"""Resource templates instantiated for a client, as lain v2's console did."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lain_sdk.appconfig import load_app_config, render_resource_instance
from lain_sdk.errors import AppConfigError
from tests.conftest import corpus_dir

DATA = Path(__file__).resolve().parent.parent / "data"
REDIS = (DATA / "redis-resource.yaml").read_text()
MiB = 1024 * 1024


def render(text: str = REDIS, context: dict | None = None, **kwargs):
    return render_resource_instance(
        text, resource="redis", client="hello", context=context or {}, **kwargs
    )


def test_redis_example_with_the_client_parameters() -> None:
    config = render(context={"memory": "128M", "num_instances": 1})
    assert config.appname == "resource.redis.hello"
    assert config.apptype == "app"
    assert config.path == "resource.redis.hello"
    redis, portal = config.procs
    assert (redis.name, redis.type, redis.memory, redis.num_instances) == (
        "redis",
        "worker",
        128 * MiB,
        1,
    )
    assert redis.cmd == ("redis", "-p", "3333")
    assert (portal.name, portal.service_name) == ("portal-redis", "redis")
    assert portal.image == "myregistry.lain.org/proxy:release-1234567-abc"
    assert redis.dns_search == ("hello.redis.resource.lain",)


def test_defaults_apply_when_a_parameter_is_missing() -> None:
    redis = render(context={}).proc("redis")
    assert (redis.memory, redis.num_instances) == (64 * MiB, 2)


def test_rendered_numbers_become_integers() -> None:
    assert render(context={"num_instances": "5"}).proc("redis").num_instances == 5


def test_the_instance_source_is_the_rendered_yaml() -> None:
    config = render(context={"memory": "256m"})
    data = yaml.safe_load(config.source)
    assert data["appname"] == "resource.redis.hello"
    assert "apptype" not in data
    assert data["service.redis"]["memory"] == "256m"
    assert data["service.redis"]["num_instances"] == 2


def test_an_invalid_rendering_names_the_resource_and_the_template_line() -> None:
    with pytest.raises(AppConfigError) as e:
        render(context={"memory": "lots", "num_instances": "-3"})
    assert str(e.value) == (
        "resource.redis.hello: 2 problems\n"
        "resource.redis.hello:19:18: service.redis.num_instances: must be at least 0, got -3\n"
        "resource.redis.hello:20:11: service.redis.memory: expected a memory size like 64m, 512M or 1g, "
        "got 'lots'"
    )


def test_a_failing_template() -> None:
    text = REDIS.replace("cmd: redis -p 3333", 'cmd: "redis {{ 1 // 0 }}"')
    with pytest.raises(AppConfigError) as e:
        render(text)
    assert [str(p) for p in e.value.problems] == [
        (
            "resource.redis.hello:17:8: service.redis.cmd: the template failed: ZeroDivisionError: "
            "integer division or modulo by zero"
        )
    ]


def test_templates_are_sandboxed() -> None:
    text = REDIS.replace("cmd: redis -p 3333", "cmd: \"redis {{ ''.__class__.__mro__ }}\"")
    with pytest.raises(AppConfigError) as e:
        render(text)
    assert [str(p) for p in e.value.problems] == [
        (
            "resource.redis.hello:17:8: service.redis.cmd: the template failed: access to attribute "
            "'__class__' of 'str' object is unsafe."
        )
    ]


def test_only_a_resource_can_be_instantiated() -> None:
    with pytest.raises(AppConfigError) as e:
        render(REDIS.replace("apptype: resource\n", ""))
    assert [str(p) for p in e.value.problems] == [
        "resource.redis.hello:2:1: redis is not a resource: its lain.yaml needs apptype: resource"
    ]


def test_mysql_resource_from_the_corpus() -> None:
    text = (corpus_dir("lain-yaml") / "laincloud__mysql-resource__lain.yaml").read_text()
    config = render_resource_instance(
        text,
        resource="mysql-resource",
        client="hello",
        context={"memory": "1g", "num_instances": 1},
        domains=["example.com"],
    )
    assert config.appname == "resource.mysql-resource.hello"
    server = config.proc("mysql-server")
    assert server.cmd == ("./init_mysql_service.sh", "1g", "128m")
    assert (server.memory, server.num_instances) == (1024 * MiB, 1)
    assert config.proc("web").mountpoints == (
        "hello.mysql-resource.resource.example.com",
        "hello.mysql-resource.resource.lain",
    )


def test_the_resource_template_itself_validates_and_previews_its_defaults() -> None:
    config = load_app_config(corpus_dir("lain-yaml") / "laincloud__mysql-resource__lain.yaml")
    assert config.apptype == "resource"
    server = config.proc("mysql-server")
    assert (server.memory, server.num_instances) == (512 * MiB, 3)
    assert server.cmd == ("./init_mysql_service.sh", "512m", "128m")


def test_redis_template_validates() -> None:
    config = load_app_config(DATA / "redis-resource.yaml")
    assert config.appname == "redis" and config.apptype == "resource"
