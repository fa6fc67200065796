"""Click options shared by several commands, and how their values are resolved.

Each option documents its environment variable in ``--help`` (``show_envvar``), and each
value that may later come from the selected cluster goes through one ``resolve_*`` function,
so that the cluster default is added in one place.
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

import click

from lain_sdk.errors import LainError

F = TypeVar("F", bound=Callable[..., Any])

ENV_REGISTRY = "LAIN_REGISTRY"


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


def resolve_registry(ctx_obj: Any, value: str | None) -> str:
    """Return the registry to use: ``--registry``/``LAIN_REGISTRY``, else the cluster's.

    Args:
        ctx_obj: the command's :class:`~lain_cli.context.Context`; its selected cluster
            (-c/--cluster, LAIN_CLUSTER, the one in use, else the local default) gives the
            registry when no option is given.
        value: the ``--registry`` option's value (click has already applied ``LAIN_REGISTRY``).

    Raises:
        NotFound: the selected cluster is not configured.
    """
    from lain_sdk.credentials import normalize_registry
    from lain_sdk.settings import Settings

    if value and value.strip():
        return normalize_registry(value)
    cluster = Settings.load().cluster(getattr(ctx_obj, "cluster", None))
    return normalize_registry(cluster.registry)


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
