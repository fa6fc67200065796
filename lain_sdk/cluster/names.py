"""The names and labels of everything lain keeps on a cluster (pure; the bottom of the package).

Every object lain makes carries ``lain.app=<app>``; what else it carries says what it is.  Names
are built so that no two apps can collide: app and proc names may contain ``-`` (and a resource
instance's app name contains ``.``), Swarm names may not contain ``.`` and service names are DNS
labels of at most 63 characters.
"""

from __future__ import annotations

import hashlib
import re

from lain_router.labels import (
    LABEL_HTTPS_ONLY,
    LABEL_MOUNTPOINTS,
    LABEL_NETWORK,
    LABEL_PORT,
    LABEL_STREAMS,
)

# On every object lain creates.
LABEL_APP = "lain.app"
LABEL_PROC = "lain.proc"
LABEL_PROCTYPE = "lain.proctype"
LABEL_RELEASE = "lain.release"
# On services.
LABEL_VERSION = "lain.version"  # the meta version the service runs
LABEL_SPEC_HASH = "lain.spec-hash"  # hash of the desired spec: equal hash, nothing to change
LABEL_YAML_INSTANCES = "lain.yaml.instances"  # the lain.yaml values the service came from
LABEL_YAML_CPU = "lain.yaml.cpu"
LABEL_YAML_MEMORY = "lain.yaml.memory"
# The service names a service answers to on its app's network, comma-separated: how a
# consumer's deploy checks, before changing anything, that the provider offers what it uses.
LABEL_SERVICES = "lain.services"
# On the services of a resource instance: which resource, and for which client app.
LABEL_RESOURCE = "lain.resource"
LABEL_RESOURCE_CLIENT = "lain.resource-client"
# On the services of a client: the resources it has instances of, so that status looks for
# instances only when there are some.
LABEL_USES_RESOURCES = "lain.use-resources"
# On the services that answer to service names: the allow_clients rule of each, as JSON
# ({"greeter": "c1,c2"}), so a client's deploy checks it before changing anything.
LABEL_ALLOW_CLIENTS = "lain.allow-clients"
# On a client's services, one per app it uses (a provider or a resource instance):
# ``lain.use.<app>=<service>,...``; a provider's deploy finds its clients by these.
USE_LABEL_PREFIX = "lain.use."
# On a provider's services: the link networks they are on (comma-separated names).  Which
# clients a provider serves is decided at each deploy, so it is kept out of the spec hash.
LABEL_LINKS = "lain.links"
# On a link network: the provider and the client it joins.
LABEL_LINK_PROVIDER = "lain.link.provider"
LABEL_LINK_CLIENT = "lain.link.client"
# What discovery and routing decide from a lain.yaml (besides the ``lain.use.*`` labels).
DISCOVERY_LABELS = (
    LABEL_SERVICES,
    LABEL_ALLOW_CLIENTS,
    LABEL_LINKS,
    LABEL_RESOURCE,
    LABEL_RESOURCE_CLIENT,
    LABEL_USES_RESOURCES,
    LABEL_NETWORK,
    LABEL_MOUNTPOINTS,
    LABEL_PORT,
    LABEL_HTTPS_ONLY,
    LABEL_STREAMS,
)
# On release records (Swarm configs).
LABEL_OUTCOME = "lain.outcome"
LABEL_KIND = "lain.kind"
LABEL_REASON = "lain.reason"
# On the deploy lock (a Swarm config).
LABEL_LOCK = "lain.lock"
# On secrets, and on the one-off services that read them.
LABEL_SECRET_PATH = "lain.secret.path"
LABEL_SECRET_VERSION = "lain.secret.version"
LABEL_SECRET_BY = "lain.secret.by"  # user@host who added it
LABEL_SECRET_READER = "lain.secret.reader"
# On a one-off task's service (lain one-off): until when (engine time) it may take to start;
# past it, a one-off whose task is not running is left over and removed.
LABEL_ONEOFF = "lain.oneoff"
# On services: the set of config vars their environment holds (0: none) and the names of those
# vars in it (never their values: see lain_sdk.cluster.config_vars).
LABEL_ENV_VERSION = "lain.env.version"
LABEL_ENV_KEYS = "lain.env.keys"
# On the Swarm secret holding a set of config vars: its names, by scope (JSON).
LABEL_ENV_SCOPES = "lain.env.scopes"
# On containers a local run makes.
LABEL_RUN = "lain.run"
# On a node: it holds the volumes of a proc whose instances stay with their data
# (``lain.data.<service>=<app>/<proc>``, see :func:`data_label`).  A node label, not a service
# label, so the record outlives an undeploy, as the volumes do.
DATA_LABEL_PREFIX = "lain.data."

MAX_SERVICE_NAME = 63  # Swarm service names are DNS labels
MAX_OBJECT_NAME = 64  # configs and secrets
MAX_VOLUME_NAME = 255
SECRET_PREFIX = "lain-secret-"
ENV_PREFIX = "lain-env-"
RESOURCE_PREFIX = "resource"
_VERSION_SUFFIX = re.compile(r"-v(\d+)$")


def app_slug(app: str) -> str:
    """The app name as used inside object names: dots become ``_``.

    App names never contain ``_`` (nor ``--``), so this cannot make two apps' names collide.
    """
    return app.replace(".", "_")


def fit_name(name: str, limit: int = MAX_SERVICE_NAME) -> str:
    """``name`` itself when short enough, else truncated with a short hash of the whole."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: limit - 9].rstrip('_-.')}-{digest}"


def service_name(app: str, proc: str) -> str:
    """The Swarm service of a proc: ``<app>__<proc>`` (dots in the app name as ``_``)."""
    return fit_name(f"{app_slug(app)}__{proc}")


def network_name(app: str) -> str:
    """The app's overlay network: ``lain_<app>``."""
    return fit_name(f"lain_{app_slug(app)}")


def link_network_name(provider: str, client: str) -> str:
    """The network that joins ``client`` to the services of ``provider`` it uses:
    ``lain_<provider>--<client>`` (app names never contain ``--``)."""
    return fit_name(f"lain_{app_slug(provider)}--{app_slug(client)}")


def router_network_name(app: str) -> str:
    """The network where the router reaches the app's routed procs: ``lain-router_<app>``.

    One per app, so a proc the router serves is not reachable from other apps' procs."""
    return fit_name(f"lain-router_{app_slug(app)}")


def use_label(provider: str) -> str:
    """The label a client's services carry for ``provider``: ``lain.use.<provider>``."""
    return f"{USE_LABEL_PREFIX}{provider}"


def data_label(app: str, proc: str) -> tuple[str, str]:
    """The node label (key, value) recording that a node holds the data of ``app``'s ``proc``.

    The key holds the service name (unique per proc, and valid in a placement constraint);
    the value names the app and proc for people reading ``lain node ls``."""
    return f"{DATA_LABEL_PREFIX}{service_name(app, proc)}", f"{app}/{proc}"


def data_constraint(app: str, proc: str) -> str:
    """The placement constraint that keeps ``proc``'s instances on the node holding its data."""
    key, value = data_label(app, proc)
    return f"node.labels.{key}=={value}"


def path_slug(path: str) -> str:
    """A container path as a name part: ``/lain/logs`` -> ``lain-logs``."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", path).strip("-")
    return slug or "root"


def volume_name(app: str, proc: str, path: str) -> str:
    """The named volume for one persistent dir of a proc: ``lain_<app>_<proc>_<path>``."""
    return fit_name(f"lain_{app_slug(app)}_{proc}_{path_slug(path)}", MAX_VOLUME_NAME)


def instance_volume_name(app: str, proc: str, path: str, slot: str) -> str:
    """The named volume of one instance's persistent dir: ``lain_<app>_<proc>_<path>_<slot>``.

    ``slot`` is the instance number, or the Swarm template that stands for it; the name is
    shortened before it, so the slot always ends the name."""
    suffix = f"_{slot}"
    base = f"lain_{app_slug(app)}_{proc}_{path_slug(path)}"
    return fit_name(base, MAX_VOLUME_NAME - len(suffix)) + suffix


def release_config_name(app: str, number: int) -> str:
    """The Swarm config holding release ``number`` of ``app``."""
    return fit_name(f"lain-release-{app}-{number}", MAX_OBJECT_NAME)


def env_set_name(app: str, version: int) -> str:
    """The Swarm secret holding version ``version`` of the config vars of ``app``; the version
    always ends the name, however long the app name."""
    suffix = f"-v{version}"
    return fit_name(f"{ENV_PREFIX}{app}", MAX_OBJECT_NAME - len(suffix)) + suffix


def lock_config_name(app: str) -> str:
    """The Swarm config that is the deploy lock of ``app``."""
    return fit_name(f"lain-lock-{app}", MAX_OBJECT_NAME)


def secret_name(app: str, proc: str, path: str, version: int) -> str:
    """The Swarm secret holding version ``version`` of the secret file ``path`` of ``proc``.

    The path enters as a hash (names are short and allow few characters); the version is
    always the ``-v<N>`` suffix, however long the app name.
    """
    digest = hashlib.sha256(path.encode()).hexdigest()[:10]
    suffix = f"-v{version}"
    name = f"{SECRET_PREFIX}{app}-{proc}-{digest}"
    return fit_name(name, MAX_OBJECT_NAME - len(suffix)) + suffix


def secret_version(name: str) -> int | None:
    """The version in a secret name made by :func:`secret_name` (None for other names)."""
    match = _VERSION_SUFFIX.search(name)
    return int(match.group(1)) if match and name.startswith(SECRET_PREFIX) else None


def resource_instance_name(resource: str, client: str) -> str:
    """The app that runs ``resource`` for ``client``: ``resource.<resource>.<client>``."""
    return f"{RESOURCE_PREFIX}.{resource}.{client}"


def parse_resource_instance(app: str) -> tuple[str, str] | None:
    """``(resource, client)`` of a resource instance's app name, or None for any other app."""
    parts = app.split(".")
    if len(parts) == 3 and parts[0] == RESOURCE_PREFIX and parts[1] and parts[2]:
        return parts[1], parts[2]
    return None
