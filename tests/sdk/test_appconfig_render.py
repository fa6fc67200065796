"""Resource templates rendered with a client's parameters (lain_sdk.appconfig.render), as lain
v2's console did: Jinja2 defaults, numbers, failing templates and the sandbox."""

from __future__ import annotations

import pytest

from lain_sdk.appconfig import render_resource_instance
from lain_sdk.errors import AppConfigError
from tests.conftest import DATA

REDIS = (DATA / "redis-resource.yaml").read_text()
MiB = 1024 * 1024


def render(text: str = REDIS, context: dict | None = None, **kwargs):
    return render_resource_instance(
        text, resource="redis", client="hello", context=context or {}, **kwargs
    )


def test_defaults_apply_when_a_parameter_is_missing() -> None:
    redis = render(context={}).proc("redis")
    assert (redis.memory, redis.num_instances) == (64 * MiB, 2)


def test_rendered_numbers_become_integers() -> None:
    assert render(context={"num_instances": "5"}).proc("redis").num_instances == 5


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
            "resource.redis.hello:17:8: service.redis.cmd: the template failed: access to "
            "attribute '__class__' of 'str' object is unsafe."
        )
    ]
