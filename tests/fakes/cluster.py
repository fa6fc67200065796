"""A cluster session on the fake swarm, and sample releases to deploy on it."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, TypeVar

from fakes.engine import FakeDockerClient

from lain_sdk.appconfig.loader import parse_app_config, render_resource_instance
from lain_sdk.cluster.names import secret_name
from lain_sdk.cluster.secret_store import SecretVersion
from lain_sdk.cluster.session import Cluster
from lain_sdk.cluster.source import ReleaseSource
from lain_sdk.events import Event, drain
from lain_sdk.settings import ClusterSettings

T = TypeVar("T")
REGISTRY = "registry.example.com"
SETTINGS = ClusterSettings(
    name="fake", registry=REGISTRY, domains=("example.com",), publish_ports=True
)


def fake_cluster(
    engine: Any = None, registry: Any = None, settings: ClusterSettings = SETTINGS
) -> Cluster:
    """A session on a fake swarm that looks again at once (no waiting between looks)."""
    return Cluster(
        settings,
        engine=engine if engine is not None else FakeDockerClient(),
        registry=registry,
        poll_interval=0,
    )


def mv(n: int) -> str:
    """The meta version of the n-th sample commit."""
    return f"{1700000000 + n}-{str(n) * 40}"[:51]


def release_source(text: str, n: int = 1, app: str | None = None) -> ReleaseSource:
    """Version ``n`` of the app ``text`` defines, as a deploy finds it in the registry."""
    config = parse_app_config(text, path="lain.yaml", domains=list(SETTINGS.domains))
    name = app or config.appname
    image = f"{REGISTRY}/{name}:release-{mv(n)}@sha256:{str(n) * 64}"
    return ReleaseSource(name, mv(n), image, text, config)


def instance_source(
    resource_text: str, resource: str, client: str, n: int = 1, **context: Any
) -> ReleaseSource:
    """Version ``n`` of a resource rendered for ``client``: what its instance runs."""
    config = render_resource_instance(
        resource_text, resource=resource, client=client, context=context, domains=SETTINGS.domains
    )
    image = f"{REGISTRY}/{resource}:release-{mv(n)}@sha256:{str(n) * 64}"
    return ReleaseSource(config.appname, mv(n), image, config.source, config)


def publish(registry: Any, text: str, n: int = 1, app: str | None = None) -> str:
    """Push version ``n`` of the app ``text`` defines to a fake registry, as a build with
    push does: its release image and its meta image holding lain.yaml."""
    name = app or parse_app_config(text, domains=list(SETTINGS.domains)).appname
    registry.add_image(f"{name}:release-{mv(n)}", files={"/www/index.html": f"version {n}\n"})
    registry.add_image(f"{name}:meta-{mv(n)}", files={"/lain.yaml": text})
    return mv(n)


def run(operation: Generator[Event, None, T]) -> tuple[T, list[Event]]:
    """Run a long operation to its end: its result and the events it yielded."""
    events: list[Event] = []
    return drain(operation, on_event=events.append), events


WEB = """\
appname: shop
build:
  base: busybox
web:
  cmd: httpd -f -p 80
  num_instances: 2
  memory: 64m
worker.mail:
  cmd: [sh, -c, "sleep 1000"]
"""

# A lain.yaml using most of what a proc can say, and a release of it (for the pure modules).
SHOP_IMAGE = "127.0.0.1:5000/shop:release-1700000000-" + "a" * 40 + "@sha256:" + "b" * 64
SHOP_MV = "1700000000-" + "a" * 40

SHOP = """\
appname: shop
build:
  base: lain-local/busybox:latest
web:
  cmd: httpd -f -p 80
  num_instances: 2
  memory: 64m
  cpu: 1
  setup_time: 5
  kill_timeout: 20
  env:
    - GREETING=hi
    - API_TOKEN=s3cr3t
  healthcheck: /health
  persistent_dirs: [/data]
worker.mail:
  entrypoint: [/bin/sh, -c]
  cmd: [echo mail]
oneshot.migrate:
  cmd: [echo, migrated]
"""

# A resource (a template) and an app that uses it, with a parameter.
REDIS = """\
appname: redis
apptype: resource
build:
  base: busybox
service.redis:
  cmd: redis-server --maxmemory {{ memory|default('32m') }}
  memory: "{{ memory|default('32m') }}"
  port: 6379
  portal:
    allow_clients: "**"
"""
CLIENT = WEB.replace(
    "appname: shop",
    "appname: shop\nuse_resources:\n  redis:\n    memory: 64m\n    services: [redis]",
)

# Procs with secret files (one with a user, so its mounts are owned by that user), and a stored
# version of one of those files.
SECRETS_SHOP = """\
appname: shop
build:
  base: lain-local/busybox:latest
web:
  cmd: httpd -f -p 80
  secret_files: [config/db.json, /etc/token]
worker.mail:
  cmd: [echo, mail]
  user: "1000:50"
  secret_files: [mail.conf]
"""


def secret_version(proc: str, path: str, number: int) -> SecretVersion:
    """Version ``number`` of the secret file ``path`` of shop's ``proc``."""
    return SecretVersion(
        "shop", proc, path, number, f"id-{proc}-{number}", secret_name("shop", proc, path, number)
    )
