"""Click options shared by several commands, and how their values are resolved.

Each option documents its environment variable in ``--help`` (``show_envvar``), and each
value that may later come from the selected cluster goes through one ``resolve_*`` function,
so that the cluster default is added in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from lain_cli.context import Context
from lain_sdk.appconfig.appname import read_appname
from lain_sdk.cluster.session import Cluster
from lain_sdk.credentials import normalize_registry
from lain_sdk.errors import AppConfigMissing, LainError
from lain_sdk.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])

ENV_REGISTRY = "LAIN_REGISTRY"
pass_context = click.make_pass_decorator(Context)


# Both bases set ``message`` (click's is typed Final); at run time they agree.
class MissingSettingError(click.UsageError, LainError):  # type: ignore[misc]
    """A value the command needs was given neither as an option nor in the environment.

    Both a :class:`LainError` (for code that only knows lain's errors) and a click usage error
    (so ``lain`` prints the usage hint and exits with ``ExitStatus.USAGE``).
    """


def registry_option(f: F) -> F:
    """``--registry HOST[:PORT]`` (env ``LAIN_REGISTRY``); resolve with :func:`resolve_registry`."""
    return click.option(
        "--registry",
        "registry",
        metavar="HOST[:PORT]",
        envvar=ENV_REGISTRY,
        show_envvar=True,
        help="Registry to use, e.g. registry.example.com or 127.0.0.1:5000.",
    )(f)


def resolve_registry(obj: Context, value: str | None) -> str:
    """Return the registry to use: ``--registry``/``LAIN_REGISTRY``, else the selected
    cluster's (-c/--cluster, LAIN_CLUSTER, the one in use, else the local default).

    Raises:
        NotFound: the selected cluster is not configured.
    """
    if value and value.strip():
        return normalize_registry(value)
    return normalize_registry(Settings.load().cluster(obj.cluster).registry)


def selected_cluster(obj: Context, registry: str | None = None) -> Cluster:
    """A session with the cluster a command acts on: -c/--cluster, LAIN_CLUSTER, the one in
    use, else the local default.

    ``registry`` (``--registry``/``LAIN_REGISTRY`` of commands that take it) replaces the
    cluster's registry for this session: versions are looked up and lain.yaml read there, the
    services it makes name their images there (so the nodes pull from it), and the engine is
    given the credentials lain has for it.

    Raises:
        NotFound: the selected cluster is not configured.
        RegistryError: ``registry`` is not a registry address.
    """
    session = Cluster.from_settings(obj.cluster)
    if not registry or not registry.strip():
        return session
    host = normalize_registry(registry)
    if host == normalize_registry(session.settings.registry):
        return session
    # The cluster's insecure_registry speaks for its own registry only: whether another one is
    # plain HTTP is for LAIN_INSECURE_REGISTRIES to say (loopback registries always are).
    return Cluster.of(session.settings._replace(registry=host, insecure_registry=False))


def app_dir_option(f: F) -> F:
    """``--app-dir DIR`` (default ``.``): the directory holding the app's lain.yaml."""
    return click.option(
        "--app-dir",
        "app_dir",
        metavar="DIR",
        default=".",
        show_default=True,
        type=click.Path(file_okay=False, dir_okay=True),
        help="Directory holding the app's lain.yaml.",
    )(f)


def _global_app(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """The command's own -a, else the global one (``lain -a shop ps``, LAIN_APP)."""
    if value:
        return value
    obj = ctx.find_object(Context)
    return obj.app if obj is not None else None


def app_options(f: F) -> F:
    """``-a/--app NAME`` and ``--app-dir DIR``: which app (default: the global -a/--app or
    LAIN_APP, else lain.yaml's appname)."""
    f = app_dir_option(f)
    return click.option(
        "-a",
        "--app",
        metavar="NAME",
        callback=_global_app,
        help="The app (default: the global -a or LAIN_APP, else the appname of the lain.yaml "
        "in --app-dir).",
    )(f)


def app_name(app: str | None, app_dir: str) -> str:
    """The app a cluster command acts on: -a/--app, else the appname of the local lain.yaml
    (read alone: the deployed config comes from the version's meta image, not from here).

    Raises:
        MissingSettingError: no -a and no lain.yaml in ``app_dir``: the app is what is
            missing (a usage error naming -a), not a lain.yaml to write.
        AppConfigError: the lain.yaml there has no valid appname.
    """
    if app:
        return app
    try:
        return read_appname(app_dir)
    except AppConfigMissing as e:
        raise MissingSettingError(
            f"no app given: pass -a APP (or set LAIN_APP), or run lain in the app's folder "
            f"({e.path} does not exist)"
        ) from None


def timeout_option(default: float, help: str) -> Callable[[F], F]:
    """``--timeout SECONDS``: every command that waits says how long it may."""
    return click.option(
        "--timeout",
        type=click.FloatRange(min=1),
        default=default,
        show_default=True,
        metavar="SECONDS",
        help=help,
    )


def wait_options(f: F) -> F:
    """``--no-wait`` and ``--timeout``, for commands that roll something out."""
    f = click.option(
        "--no-wait", is_flag=True, help="Return once the cluster accepted the change."
    )(f)
    return timeout_option(300, "How long to wait for another deploy's lock, then for the rollout.")(
        f
    )


def report(obj: Context, data: dict[str, Any], text: Callable[[], str]) -> None:
    """The last word of a command that streamed progress: its result, the one document on
    stdout with -o json (the progress went to stderr as JSON lines); else the text."""
    obj.emit(data, text)
