"""The frozen app model (lain_sdk.appconfig.model): proc lookup, the app domain, JSON."""

from __future__ import annotations

import json

import pytest

from lain_sdk.appconfig import parse_app_config
from lain_sdk.appconfig.model import AppConfig
from lain_sdk.errors import NotFound

MiB = 1024 * 1024
HEAD = "appname: hello\nbuild:\n  base: golang\n"


def app(body: str = "", **kwargs) -> AppConfig:
    return parse_app_config(HEAD + body, **kwargs)


def test_proc_lookup_names_the_procs_there_are() -> None:
    with pytest.raises(NotFound, match=r"hello has no proc 'nope' \(procs: web\)"):
        app("web: {}\n").proc("nope")


def test_app_domain_reverses_dotted_names() -> None:
    assert (
        AppConfig(appname="resource.redis.hello", build=None).app_domain == "hello.redis.resource"
    )


# -- JSON --------------------------------------------------------------------------------------


def test_to_dict_is_json_ready(full: AppConfig) -> None:
    data = json.loads(json.dumps(full.to_dict()))
    assert "source" not in data
    assert data["appname"] == "full-app"
    web = data["procs"][0]
    assert web["name"] == "web"
    assert web["port"] == 8080 and web["protocol"] == "tcp"
    assert web["memory"] == 64 * MiB
    assert web["env"] == {"MODE": "production", "EMPTY": "", "URL": "http://x/?a=b"}
    assert web["healthcheck"]["http_path"] == "/ping"
    assert data["procs"][-1]["service_name"] == "cache"
    assert data["use_resources"] == {
        "redis": {"services": ["redis"], "context": {"memory": "128M", "num_instances": 2}}
    }
    assert full.proc("queue").to_dict()["port"] is None


def test_model_is_frozen(full: AppConfig) -> None:
    with pytest.raises(AttributeError):
        full.appname = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        full.proc("web").env["X"] = "1"  # type: ignore[index]
