"""Releases made directly with the docker SDK, for deploy tests, and cleaning up after them.

A version of a test app is two images pushed to the test registry, as ``lain build --push``
makes them: ``<registry>/<app>:release-<mv>`` (busybox serving /www/index.html, which holds a
page text that tells versions apart) and ``<registry>/<app>:meta-<mv>`` (FROM scratch, only
``/lain.yaml``).  They are built here so deploy tests do not depend on the build pipeline.
"""

from __future__ import annotations

import contextlib
import io
import secrets
import tarfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from apps import unique_app_name

from lain_sdk.cluster.session import Cluster
from lain_sdk.engine import LOCAL_BASE_IMAGE
from lain_sdk.settings import LOCAL_ROUTER_BASE, ClusterSettings, RouterSettings

# httpd as PID 1 ignores SIGTERM; the trap makes stops (and rolling updates) quick.
WEB_CMD = (
    "[sh, -c, 'trap \"exit 0\" TERM; echo web $LAIN_INSTANCE_NO up; httpd -f -p 80 -h /www & wait']"
)
CHECK = "wget -q -O /dev/null http://127.0.0.1:80/index.html"

WEB_APP = """\
appname: {name}
build:
  base: lain-local/busybox:latest
web:
  cmd: {web_cmd}
  num_instances: 2
  memory: 16m
  cpu: 1
  container_healthcheck:
    cmd: {check}
    options: {{interval: 1, timeout: 1, retries: 1}}
"""

WORKER = """\
worker.ticker:
  cmd:
    - sh
    - -c
    - trap "exit 0" TERM; i=0;
      while true; do i=$((i+1)); echo tick $i from $LAIN_INSTANCE_NO; sleep 1; done
  memory: 8m
"""


def web_app(name: str, *, check: str = CHECK, worker: bool = False) -> str:
    text = WEB_APP.format(name=name, web_cmd=WEB_CMD, check=check)
    return text + WORKER if worker else text


@dataclass
class TestApp:
    """An app with versions pushed to a registry; remembers what to clean up."""

    __test__ = False

    name: str
    registry: str
    engine: Any = None  # the engine client the tests share (default: connect)
    versions: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    clock: int = 1700000000

    def settings(self) -> ClusterSettings:
        return ClusterSettings(
            name="test",
            registry=self.registry,
            domains=("lain.local",),
            insecure_registry=True,
            publish_ports=True,
            router=RouterSettings(base_image=LOCAL_ROUTER_BASE),
        )

    def cluster(self) -> Cluster:
        """A session with the test cluster, through the shared engine client."""
        return Cluster(self.settings(), engine=self.engine, poll_interval=0.2)


def _context(files: dict[str, str]) -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = int(time.time())
            tar.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


# A CGI program for busybox httpd: what the request looked like when it reached the proc.
ECHO_CGI = """#!/bin/sh
printf 'Content-Type: text/plain\\n\\n'
echo "uri=$REQUEST_URI"
echo "host=$HTTP_HOST"
echo "xff=$HTTP_X_FORWARDED_FOR"
echo "proto=$HTTP_X_FORWARDED_PROTO"
echo "xhost=$HTTP_X_FORWARDED_HOST"
echo "prefix=$HTTP_X_FORWARDED_PREFIX"
echo "instance=$LAIN_INSTANCE_NO"
echo "proc=$LAIN_PROCNAME"
"""


def push_version(
    client: Any, app: TestApp, lain_yaml: str, page: str, *, echo: bool = False
) -> str:
    """Build and push a release and a meta image; return the new meta version.  With
    ``echo``, the release also has ``/cgi-bin/echo`` (see :data:`ECHO_CGI`)."""
    app.clock += 1
    mv = f"{app.clock}-{secrets.token_hex(20)}"
    repo = f"{app.registry}/{app.name}"
    files = {
        "Dockerfile": f"FROM {LOCAL_BASE_IMAGE}\nCOPY index.html /www/index.html\n",
        "index.html": page + "\n",
    }
    if echo:
        files["echo"] = ECHO_CGI
        files["Dockerfile"] += "COPY echo /www/cgi-bin/echo\nRUN chmod 755 /www/cgi-bin/echo\n"
    release = _context(files)
    meta = _context(
        {"Dockerfile": "FROM scratch\nCOPY lain.yaml /lain.yaml\n", "lain.yaml": lain_yaml}
    )
    for tag, context in ((f"release-{mv}", release), (f"meta-{mv}", meta)):
        client.images.build(fileobj=context, custom_context=True, tag=f"{repo}:{tag}", rm=True)
        app.images.append(f"{repo}:{tag}")
        for line in client.api.push(repo, tag=tag, stream=True, decode=True):
            assert "error" not in line, line
    app.versions.append(mv)
    return mv


def pushing_with(client: Any, auth_config: dict[str, str] | None) -> Any:
    """``client`` as push_version uses it, whose pushes carry ``auth_config`` (a registry that
    asks for credentials), without logging the shared client in to it."""

    def push(repository: str, **kwargs: Any) -> Any:
        return client.api.push(repository, auth_config=auth_config, **kwargs)

    return SimpleNamespace(images=client.images, api=SimpleNamespace(push=push))


def cleanup(client: Any, app: str, images: list[str] = ()) -> None:
    """Remove everything lain made for ``app`` on the engine: services, network, configs
    (releases and lock), secrets, volumes, and the images."""
    from docker.errors import APIError

    api = client.api
    label = f"lain.app={app}"
    for service in api.services(filters={"label": label}):
        with contextlib.suppress(APIError):
            api.remove_service(service["ID"])
    for config in api.configs(filters={"label": label}):
        with contextlib.suppress(APIError):
            api.remove_config(config["ID"])
    for secret in api.secrets(filters={"label": label}):
        with contextlib.suppress(APIError):
            api.remove_secret(secret["ID"])
    # A client's link networks go with their provider (cleaned up after its clients); a
    # provider's go with it, once its clients are gone.
    for network in api.networks(filters={"label": f"lain.link.client={app}"}):
        with contextlib.suppress(APIError):
            api.remove_network(network["Id"])
    deadline = time.monotonic() + 60
    networks = [n["Id"] for n in api.networks(filters={"label": label})]
    networks += [n["Id"] for n in api.networks(filters={"label": f"lain.link.provider={app}"})]
    volumes = [v["Name"] for v in api.volumes(filters={"label": label}).get("Volumes") or []]
    while (networks or volumes) and time.monotonic() < deadline:
        for network in list(networks):
            try:
                # Accepted means the swarm forgot it; the node drops its copy by itself.
                api.remove_network(network)
                networks.remove(network)
            except APIError as e:
                if e.status_code == 404:
                    networks.remove(network)
        for volume in list(volumes):
            try:
                api.remove_volume(volume)
                volumes.remove(volume)
            except APIError as e:
                if e.status_code == 404:
                    volumes.remove(volume)
        if networks or volumes:
            time.sleep(0.5)
    for image in api.images(name=f"*/{app}") + api.images(filters={"reference": f"*/{app}*"}):
        for ref in (image.get("RepoTags") or []) + (image.get("RepoDigests") or []):
            with contextlib.suppress(APIError):
                api.remove_image(ref, force=True)
    for ref in images:
        with contextlib.suppress(APIError):
            api.remove_image(ref, force=True)


@contextlib.contextmanager
def app_on_test_cluster(
    client: Any, registry: str, lain: Callable[..., Any], prefix: str
) -> Iterator[TestApp]:
    """A new app (named ``<prefix>-<random>``) and the cluster ``test`` lain then acts on: this
    engine with ``registry`` and published ports; everything lain made for the app is removed
    afterwards."""
    made = TestApp(unique_app_name(prefix), registry, engine=client)
    added = lain("cluster", "add", "test", "--registry", made.registry, "--publish-ports", "--use")
    assert added.exit_code == 0, added.stderr
    try:
        yield made
    finally:
        cleanup(client, made.name, made.images)


def http_get(address: str, path: str = "/index.html", timeout: float = 3.0) -> str:
    import requests

    return requests.get(f"http://{address}{path}", timeout=timeout).text


def wait_http(address: str, expected: str, timeout: float = 20.0) -> str:
    """GET until the page contains ``expected`` (connection errors retried)."""
    import requests

    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            last = http_get(address)
            if expected in last:
                return last
        except requests.RequestException as e:
            last = str(e)
        time.sleep(0.3)
    raise AssertionError(f"{address} did not answer {expected!r} within {timeout}s: {last}")
