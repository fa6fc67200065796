"""Dynamic shell completion: the values after ``scale``, ``--proc``, ``-c``, ``-v``,
``rollback``, ``secret show PROC``, ``node drain`` and the like.

:func:`attach_completers` gives each parameter a completer by its role, told by its name (and
its command's), when the root group loads a command: commands and options added later complete
without edits here.  Roles:

- procs (``proc``, ``procs``, ``--proc``): the local lain.yaml in --app-dir; for another app
  (``-a``), its services on the cluster;
- clusters (``-c/--cluster``, ``cluster use|rm|show NAME``): the settings file;
- versions (``-v/--version``, ``--meta-version``): the app's meta images on the local engine
  and its versions in the registry, as short shas (``b8443f8``) or full meta versions;
- releases (``rollback N``): the app's releases on the cluster, newest first, described;
- secret paths (``secret ... PATH``): lain.yaml's secret_files and those stored on the cluster;
- nodes (``node drain|activate|rm|label NAME``): the swarm's nodes;
- config vars (``env unset KEY``): the names in the app's newest set (from its labels: no
  value is read).

What is local (lain.yaml, settings) never reaches an engine.  What is not is looked up in
threads given :data:`REMOTE_TIMEOUT` seconds in all; whatever did not answer by then, or failed,
adds nothing.  A completer never raises: a broken lain.yaml or an unreachable cluster completes
nothing rather than printing into the user's shell.

This module is imported with :mod:`lain_cli.main` on every run, so the SDK modules a completer
needs are imported inside it, only when the shell asks.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import click
from click.shell_completion import CompletionItem

from lain_cli.context import Context

if TYPE_CHECKING:
    from lain_sdk.appconfig.model import AppConfig
    from lain_sdk.cluster.session import Cluster

# Seconds a completion may wait for engines and registries, all lookups together.
REMOTE_TIMEOUT = 2.0
SHORT_SHA = 7
APP_DIR = "/lain/app/"

Completer = Callable[[click.Context, click.Parameter, str], list[CompletionItem]]
Lookup = Callable[[], list[CompletionItem]]


# -- attaching --------------------------------------------------------------------------------


def attach_completers(command: click.Command, group: str = "") -> None:
    """Give the parameters of ``command`` (and of its subcommands) the completer of their role.

    ``group`` is the name of the group ``command`` belongs to (``node`` for ``node drain``).
    Parameters that complete already (choices, paths, a completer of their own) are left as
    they are; so is a command seen before.
    """
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            attach_completers(sub, command.name or "")
    for param in command.params:
        # click keeps a parameter's completer here; there is no public way to set it later.
        if param._custom_shell_complete is None:
            param._custom_shell_complete = completer_for(command.name or "", group, param)


def completer_for(command: str, group: str, param: click.Parameter) -> Completer | None:
    """The completer of ``param`` of ``group command``, None when it has no role."""
    role = _role(command, group, param)
    if role is None:
        return None
    wanted = (click.types.IntParamType,) if role == "release" else (click.types.StringParamType,)
    if not isinstance(param.type, wanted):  # secret's --version N is no meta version
        return None
    return _quiet(COMPLETERS[role])


def _role(command: str, group: str, param: click.Parameter) -> str | None:
    name = param.name or ""
    opts = set(param.opts)
    argument = isinstance(param, click.Argument)
    if name in ("proc", "procs", "more_procs") or opts & {"--proc", "--procs"}:
        return "proc"
    if name == "cluster" or (group == "cluster" and name == "name" and command != "add"):
        return "cluster"
    if name == "node" or (group == "node" and name == "name"):
        return "node"
    if name in ("version", "meta_version"):
        return "version"
    if name == "release" or (command == "rollback" and argument):
        return "release"
    if group == "secret" and name == "path":
        return "secret_path"
    if group == "env" and name == "names":
        return "env_name"
    return None


def _quiet(completer: Completer) -> Completer:
    """``completer``, completing nothing where it would fail."""

    def complete(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
        try:
            return completer(ctx, param, incomplete)
        except Exception:  # a completion never prints into the shell
            return []

    return complete


# -- what the command line says so far --------------------------------------------------------


def _given(ctx: click.Context, name: str) -> Any:
    """The value of parameter ``name`` on the command line so far: the command's, else a
    parent's (a global option), else what an option's callback put on lain's Context."""
    at: click.Context | None = ctx
    while at is not None:
        value = at.params.get(name)
        if value not in (None, "", ()):
            return value
        at = at.parent
    obj = ctx.find_object(Context)
    return getattr(obj, name, None) or None


def _local_config(ctx: click.Context) -> AppConfig | None:
    """The app of the lain.yaml in --app-dir, None when there is none or it is invalid."""
    from lain_sdk.appconfig.loader import load_app_config
    from lain_sdk.errors import LainError

    try:
        return load_app_config(_given(ctx, "app_dir") or ".")
    except LainError:
        return None


def _app(ctx: click.Context, local: AppConfig | None) -> str | None:
    """The app a command acts on: -a/--app, else the local lain.yaml's."""
    app = _given(ctx, "app")
    return str(app) if app else (local.appname if local else None)


def _app_name(ctx: click.Context) -> str | None:
    """-a/--app, else the appname of the lain.yaml in --app-dir (read alone: quicker than
    the whole file), None when there is neither."""
    from lain_sdk.appconfig.appname import read_appname
    from lain_sdk.errors import LainError

    try:
        return str(_given(ctx, "app") or read_appname(_given(ctx, "app_dir") or "."))
    except LainError:
        return None


def _session(ctx: click.Context) -> Cluster:
    from lain_sdk.cluster.session import Cluster

    return Cluster.from_settings(_given(ctx, "cluster"))


def within_timeout(lookups: Iterable[Lookup]) -> list[CompletionItem]:
    """What ``lookups`` found within :data:`REMOTE_TIMEOUT` (run at once, one thread each),
    in their order; a lookup that failed or is still waiting adds nothing.  Its thread is
    left to end with the process: completion exits right after."""
    found: dict[int, list[CompletionItem]] = {}

    def run(index: int, lookup: Lookup) -> None:
        # An unreachable cluster or registry completes nothing.
        with contextlib.suppress(Exception):
            found[index] = lookup()

    threads = [
        threading.Thread(target=run, args=(i, lookup), name="lain-complete", daemon=True)
        for i, lookup in enumerate(lookups)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + REMOTE_TIMEOUT
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    done = dict(found)  # a late thread may still add its answer
    return [item for i in sorted(done) for item in done[i]]


def _matching(items: Iterable[CompletionItem], incomplete: str) -> list[CompletionItem]:
    """The items that begin with what is typed, each value once, in order."""
    seen: set[str] = set()
    kept = []
    for item in items:
        if item.value.startswith(incomplete) and item.value not in seen:
            seen.add(item.value)
            kept.append(item)
    return kept


# -- the completers ---------------------------------------------------------------------------


def complete_procs(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """The procs of the local lain.yaml, or of the other app -a names (its services)."""
    local = _local_config(ctx)
    app = _app(ctx, local)
    # procs already on the command line (``logs web mail``) are not offered again
    chosen = _given(ctx, param.name or "")
    taken = set(chosen) if isinstance(chosen, (tuple, list)) else set()
    if local is not None and app == local.appname:
        items = [CompletionItem(p.name, help=p.type) for p in local.procs]
    elif app:
        items = within_timeout([lambda: _deployed_procs(ctx, app)])
    else:
        items = []
    return _matching((i for i in items if i.value not in taken), incomplete)


def _deployed_procs(ctx: click.Context, app: str) -> list[CompletionItem]:
    from lain_sdk.cluster.swarm import app_services

    with _session(ctx) as session:
        services = app_services(session, app)
    return [CompletionItem(proc, help="deployed") for proc in sorted(services)]


def complete_clusters(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """The clusters of the settings file (and the built-in local one)."""
    from lain_sdk.settings import Settings

    settings = Settings.load()
    in_use = settings.selected_name()
    items = [
        CompletionItem(c.name, help=c.engine + (" (in use)" if c.name == in_use else ""))
        for c in settings.all()
    ]
    return _matching(items, incomplete)


def complete_versions(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """The app's versions on the local engine and in the registry, newest first: short shas,
    and full meta versions once something is typed."""
    from lain_sdk.engine import connect
    from lain_sdk.images.naming import LABEL_APP, parse_tag
    from lain_sdk.registry import RegistryClient

    app = _app_name(ctx)
    if app is None:
        return []

    def local() -> list[CompletionItem]:
        client = connect(timeout=REMOTE_TIMEOUT)
        try:
            images = client.api.images(filters={"label": f"{LABEL_APP}={app}"})
        finally:
            client.close()
        tags = [parse_tag(tag) for image in images for tag in image.get("RepoTags") or []]
        return [
            CompletionItem(t.version, help="local")
            for t in tags
            if t is not None and t.app == app and t.phase == "meta"
        ]

    def registry() -> list[CompletionItem]:
        host = _given(ctx, "registry")
        if host:
            client = RegistryClient.from_env(str(host), timeout=REMOTE_TIMEOUT)
            return [CompletionItem(v, help="registry") for v in client.app_versions(app)]
        with _session(ctx) as session:
            found = session.registry.app_versions(app)
        return [CompletionItem(v, help="registry") for v in found]

    return version_items(within_timeout([local, registry]), incomplete)


def version_items(found: Iterable[CompletionItem], incomplete: str) -> list[CompletionItem]:
    """Versions (values: meta versions, helps: where they are) as a user types them: the
    shortest unique sha prefix (7 characters at least, the whole sha once more is typed), and
    the full meta version when what is typed begins it.  Dirty builds have no sha of their
    own, so only their full version is offered."""
    from lain_sdk.git import parse_meta_version
    from lain_sdk.images.naming import version_sort_key

    places: dict[str, list[str]] = {}
    for item in found:
        places.setdefault(item.value, [])
        if item.help and item.help not in places[item.value]:
            places[item.value].append(item.help)
    parsed = {}
    for version in places:
        try:
            parsed[version] = parse_meta_version(version)
        except ValueError:
            continue  # a tag that is no meta version
    shas = {sha for _, sha, dirty in parsed.values() if dirty is None}
    short, full = [], []
    for version in sorted(parsed, key=version_sort_key, reverse=True):
        commit_time, sha, dirty = parsed[version]
        when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(commit_time))
        help = f"{when}, {' and '.join(sorted(places[version]))}" + (", dirty" if dirty else "")
        if dirty is None:
            prefix = _unique_prefix(sha, shas)
            short.append(
                CompletionItem(prefix if len(incomplete) <= len(prefix) else sha, help=help)
            )
        if incomplete or dirty is not None:
            full.append(CompletionItem(version, help=help))
    return _matching(short + full, incomplete)


def _unique_prefix(sha: str, shas: Iterable[str]) -> str:
    others = [s for s in shas if s != sha]
    length = SHORT_SHA
    while length < len(sha) and any(s.startswith(sha[:length]) for s in others):
        length += 1
    return sha[:length]


def complete_releases(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """The app's release numbers, newest first, each with its version and age."""
    from lain_cli.tables import short_version
    from lain_sdk.cluster.releases import read_releases

    app = _app_name(ctx)
    if app is None:
        return []

    def lookup() -> list[CompletionItem]:
        with _session(ctx) as session:
            found = read_releases(session, app)
        return [
            CompletionItem(
                str(r.number),
                help=f"{r.kind} {_age(r.time)}: {short_version(r.meta_version)}"
                + ("" if r.outcome == "succeeded" else f" ({r.outcome})"),
            )
            for r in reversed(found)
        ]

    return _matching(within_timeout([lookup]), incomplete)


def _age(iso_time: str) -> str:
    """How long ago an ISO 8601 time was, roughly: ``5 min ago``, ``3 h ago``, ``2 d ago``."""
    from datetime import datetime, timezone

    try:
        then = datetime.fromisoformat(iso_time)
    except ValueError:
        return iso_time
    if then.tzinfo is None:
        then = then.replace(tzinfo=timezone.utc)
    seconds = max(0, int((datetime.now(timezone.utc) - then).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return "just now"


def complete_secret_paths(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """The secret files of PROC (of every proc when none is given yet): declared in the
    local lain.yaml, and stored on the cluster; under /lain/app also as relative paths once
    a relative one is being typed."""
    from lain_sdk.cluster.secret_store import stored_secrets

    local = _local_config(ctx)
    app = _app(ctx, local)
    proc = _given(ctx, "proc")
    declared = []
    if local is not None and app == local.appname:
        declared = [
            CompletionItem(path, help=f"{p.name}, in lain.yaml")
            for p in local.procs
            if proc in (None, p.name)
            for path in p.secret_files
        ]

    def stored(app: str) -> list[CompletionItem]:
        with _session(ctx) as session:
            found = stored_secrets(session, app)
        return [
            CompletionItem(v.path, help=f"{v.proc}, stored (version {v.version})")
            for v in reversed(found)  # newest version first, so its help is kept
            if proc in (None, v.proc)
        ]

    items = declared + (within_timeout([lambda: stored(app)]) if app else [])
    if incomplete and not incomplete.startswith("/"):
        items = [
            CompletionItem(i.value[len(APP_DIR) :], help=i.help)
            for i in items
            if i.value.startswith(APP_DIR)
        ]
    return sorted(_matching(items, incomplete), key=lambda i: i.value)


def complete_nodes(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """The swarm's nodes by hostname (``drain`` offers the active ones, ``activate`` the
    others), with role, availability and state."""
    from lain_sdk.cluster.swarm import nodes

    command = ctx.command.name

    def lookup() -> list[CompletionItem]:
        with _session(ctx) as session:
            found = nodes(session)
        return [
            CompletionItem(n.hostname, help=f"{n.role}, {n.availability}, {n.state}")
            for n in sorted(found, key=lambda n: (n.role != "manager", n.hostname))
            if not (command == "drain" and n.availability != "active")
            and not (command == "activate" and n.availability == "active")
        ]

    return _matching(within_timeout([lookup]), incomplete)


def complete_env_names(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """The config vars set for the app (or for ``--proc``), by name."""
    from lain_sdk.cluster.config_vars import APP_SCOPE, stored_sets

    app = _app_name(ctx)
    if app is None:
        return []
    proc = _given(ctx, "proc")
    scope = proc if isinstance(proc, str) and proc else APP_SCOPE

    def lookup() -> list[CompletionItem]:
        with _session(ctx) as session:
            found = stored_sets(session, app)
        names = found[-1].scopes.get(scope, []) if found else []
        return [CompletionItem(n, help=f"set for {scope or app}") for n in names]

    return _matching(within_timeout([lookup]), incomplete)


COMPLETERS: dict[str, Completer] = {
    "proc": complete_procs,
    "cluster": complete_clusters,
    "version": complete_versions,
    "release": complete_releases,
    "secret_path": complete_secret_paths,
    "node": complete_nodes,
    "env_name": complete_env_names,
}
