"""Every error lain_sdk raises, under one root.

    LainError
     ├── InvalidArgument       an SDK function was called with a wrong argument (also ValueError)
     │    └── AmbiguousVersion a version prefix matches several versions (carries the candidates)
     ├── AppConfigError        lain.yaml is missing, unreadable or invalid (carries every Problem)
     │    └── AppConfigMissing there is no lain.yaml where one was looked for (carries its path)
     ├── GitError              not a repository, no commit yet, or a dirty tree that was refused
     │    └── DirtyTreeError   the working tree has uncommitted changes (carries the files)
     ├── EngineError           the Docker engine did not answer or refused a request
     ├── BuildError            a build phase failed (phase, failing line, last lines of the log)
     │    └── TestFailed       test.script failed
     ├── RegistryError         the registry did not answer or refused a request
     │    └── RegistryAuthError    credentials missing or rejected (carries the registry)
     ├── CredentialsMissing    no stored credential for a registry
     ├── CredentialsFileError  lain's credentials file is unreadable or corrupt (carries its path)
     ├── NotFound              a version, image, proc or release that does not exist
     │    ├── VersionNotFound  a version of an app is not in the registry
     │    ├── ImageNotFound    an image is not on the engine
     │    ├── VersionNotBuilt  a version's images are not on the engine (carries app, version)
     │    ├── ClusterNotFound  no cluster of that name in the settings (carries the name)
     │    ├── RouterNotRunning the cluster's router does not run (carries the cluster)
     │    ├── NodeNotFound     no node, or more than one, goes by that name (carries the nodes)
     │    ├── SecretsMissing   declared secret files are not stored (carries app, procs, paths)
     │    └── SecretNotDeclared    a secret file its proc does not declare was not stored
     │                             (carries app, proc, path, what lain.yaml declares)
     ├── ClusterError          the cluster refused or could not do what was asked
     │    ├── ClientNotAllowed a provider's allow_clients leaves this client out (carries the rule)
     │    ├── DeployFailed     a deploy did not converge (carries the release and why each proc
     │    │                    failed); the previous release keeps serving
     │    ├── LockHeld         another deploy of the app holds its lock (carries the holder)
     │    ├── LockLost         an operation lost the app's lock while it ran (carries who
     │    │                    broke or took it)
     │    ├── RouteTaken       a mountpoint or stream port a deploy claims is held by another
     │    │                    app (carries each claim and its holder); nothing was changed
     │    ├── NoDataNode       no node can hold a stateful proc's data (carries app, proc, its
     │    │                    constraints); nothing was changed
     │    ├── NodeRefused      a node change lain will not make: it would lose data or the
     │    │                    managers' quorum, or the node is up or in a swarm already
     │    └── SharedVolumesReplaced    a deploy would leave a stateful proc's data in the
     │                         volume its instances shared (carries the volumes)
     ├── ContainerExists       a local run's container of that name is running (carries its
     │                         name and state)
     ├── SettingsError         the user's settings file is unreadable or invalid
     └── LainTimeout           a wait ran out of time

Third-party exceptions are converted where they cross into lain_sdk (``raise ... from e``), so
callers only ever need ``except LainError``.  Messages never contain secrets, and they describe
the problem in plain words: errors that a user fixes in a known way carry that as fields, and the
command line turns the fields into the command to run.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple


class LainError(Exception):
    """Root of every error lain_sdk raises.

    Attributes:
        message: one human sentence (or a few lines) saying what went wrong and, where known,
            how to fix it.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class Problem(NamedTuple):
    """One problem found in a lain.yaml, at a place a person can find.

    ``line`` and ``column`` are 1-based; 0 means "the whole file".  ``key_path`` is the dotted
    path of the key (``web.memory``, ``build.script[2]``), empty for the whole document.
    """

    line: int
    column: int
    key_path: str
    message: str
    path: str = "lain.yaml"

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}:{self.column}" if self.line else self.path
        if self.key_path:
            return f"{where}: {self.key_path}: {self.message}"
        return f"{where}: {self.message}"


class AppConfigError(LainError):
    """lain.yaml could not be loaded; ``problems`` lists every problem, sorted by position."""

    def __init__(self, problems: list[Problem] | tuple[Problem, ...], path: str = "lain.yaml"):
        self.problems = tuple(sorted(problems))
        self.path = path
        count = len(self.problems)
        head = f"{path}: {count} problem{'s' if count != 1 else ''}"
        super().__init__("\n".join([head, *(str(p) for p in self.problems)]))


class AppConfigMissing(AppConfigError):
    """There is no lain.yaml where one was looked for.

    Attributes:
        path: the lain.yaml that does not exist (as the user gave it, joined with lain.yaml
            when it was a directory).
    """

    def __init__(self, path: str) -> None:
        if path.replace("\\", "/").rpartition("/")[2] == "lain.yaml":
            message = "no such file; create one"
        else:
            message = "no such file; check the path"
        super().__init__([Problem(0, 0, "", message, path)], path)


class InvalidArgument(LainError, ValueError):
    """An SDK function was called with an argument it cannot take (the message names it).

    Also a ``ValueError``, so code written against the plain Python convention catches it.
    """


class AmbiguousVersion(InvalidArgument):
    """A version as typed (a commit sha's prefix, a git ref) matches more than one version.

    Attributes:
        app: the app.
        given: the version as typed.
        where: where the versions were looked for ("registry HOST", "this engine").
        candidates: the full meta versions it matches, newest first.
    """

    def __init__(
        self, app: str, given: str, where: str, candidates: Iterable[tuple[str, str]]
    ) -> None:
        """``candidates``: ``(full meta version, its short form)`` of each match."""
        pairs = tuple(candidates)
        self.app = app
        self.given = given
        self.where = where
        self.candidates = tuple(full for full, _ in pairs)
        listed = "\n".join(f"  {short}  {full}" for full, short in pairs)
        super().__init__(
            f"{given} matches {len(pairs)} versions of {app} in {where}:\n{listed}\n"
            "give more characters of the commit sha, or the whole version"
        )


class GitError(LainError):
    """The app's directory is not a usable git checkout for building."""


class DirtyTreeError(GitError):
    """The working tree has changes that are not committed.

    Attributes:
        files: the changed or untracked paths (relative to the repository root).
    """

    def __init__(self, files: list[str] | tuple[str, ...]) -> None:
        self.files = tuple(files)
        shown = ", ".join(self.files[:5])
        more = f" and {len(self.files) - 5} more" if len(self.files) > 5 else ""
        super().__init__(
            f"the working tree has uncommitted changes ({shown}{more}); commit them, or allow "
            "a dirty tree to build a version tagged as dirty"
        )


class EngineError(LainError):
    """The Docker engine could not be reached or refused a request."""


class BuildError(LainError):
    """A build phase failed.

    Attributes:
        phase: prepare, build, release, test or meta.
        reason: what failed, in one line.
        failed_line: the script line that failed, when known.
        log: the last lines of the build log.
    """

    def __init__(
        self, phase: str, reason: str, log: list[str] | None = None, failed_line: str | None = None
    ) -> None:
        self.phase = phase
        self.reason = reason
        self.failed_line = failed_line
        self.log = list(log or [])
        text = f"{phase} failed: {reason}"
        if failed_line:
            text += f"\n  failing line: {failed_line}"
        if self.log:
            text += "\n  last lines of the log:\n" + "\n".join(f"    {x}" for x in self.log[-15:])
        super().__init__(text)


class TestFailed(BuildError):
    """test.script ran and failed."""

    __test__ = False  # not a pytest test class


class RegistryError(LainError):
    """The registry did not answer or refused a request."""


class RegistryAuthError(RegistryError):
    """The registry wants credentials that are missing or wrong.

    Attributes:
        registry: the registry's ``host[:port]``, to log in to (None when not known).
        username: the user whose credentials were refused (None when none were sent).
    """

    def __init__(
        self, message: str, *, registry: str | None = None, username: str | None = None
    ) -> None:
        super().__init__(message)
        self.registry = registry
        self.username = username


class CredentialsMissing(LainError):
    """No credential is stored for a registry (run ``lain login REGISTRY``)."""


class CredentialsFileError(LainError):
    """lain's own credentials file cannot be read or is corrupt (delete it and log in again).

    Attributes:
        path: the file.
    """

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path


class NotFound(LainError):
    """Something that was asked for does not exist."""


class VersionNotFound(NotFound):
    """The version asked for (or any version) of an app is not in the registry.

    Attributes:
        app: the app.
        version: the meta version asked for (None: any version).
        registry: the registry's ``host[:port]``.
        newest: the newest versions there are, newest first.
    """

    def __init__(
        self,
        app: str,
        version: str | None,
        registry: str,
        newest: list[str] | tuple[str, ...],
        *,
        shown: Iterable[str] | None = None,
    ) -> None:
        """``shown``: how to write the newest versions in the message (default: as they are)."""
        self.app = app
        self.version = version
        self.registry = registry
        self.newest = tuple(newest)
        if version is None:
            text = f"no version of {app} is in registry {registry}; build and push one first"
        else:
            listed = ", ".join(list(self.newest if shown is None else shown)[:5]) or "none"
            text = (
                f"version {version} of {app} is not in registry {registry} (a version needs "
                f"both its release- and meta- images); newest versions there: {listed}"
            )
        super().__init__(text)


class VersionNotBuilt(NotFound):
    """The images of a version of an app are not on the engine (build it first).

    Attributes:
        app: the app.
        version: the meta version.
        image: the local image that is missing.
    """

    def __init__(self, app: str, version: str, image: str) -> None:
        self.app = app
        self.version = version
        self.image = image
        super().__init__(
            f"version {version} of {app} is not built on this engine (there is no image "
            f"{image}); build it first"
        )


class ClusterNotFound(NotFound):
    """No cluster of the name asked for is in the user's settings.

    Attributes:
        name: the cluster asked for.
        known: the clusters there are.
    """

    def __init__(self, name: str, path: str, known: list[str] | tuple[str, ...]) -> None:
        self.name = name
        self.known = tuple(known)
        super().__init__(
            f"no cluster named {name!r} in {path} (clusters: {', '.join(self.known)}); add it first"
        )


class RouterNotRunning(NotFound):
    """The cluster's router does not run, so what only it has (its access log) is not there.

    Attributes:
        cluster: the cluster's name.
    """

    def __init__(self, cluster: str, what: str) -> None:
        self.cluster = cluster
        super().__init__(f"no router runs on cluster {cluster}, so {what}; start the router")


class NodeNotFound(NotFound):
    """No node of the swarm goes by the name asked for, or more than one does.

    Attributes:
        name: the hostname, ID or ID prefix asked for.
        nodes: ``(hostname, id)`` of every node of the swarm.
        ambiguous: more than one node goes by that name.
    """

    def __init__(
        self, name: str, nodes: list[tuple[str, str]] | tuple[tuple[str, str], ...], ambiguous: bool
    ) -> None:
        self.name = name
        self.nodes = tuple(nodes)
        self.ambiguous = ambiguous
        listed = ", ".join(f"{host} ({node_id[:12]})" for host, node_id in self.nodes) or "none"
        if ambiguous:
            text = f"more than one node goes by {name!r}; give more of its ID"
        else:
            text = f"no node of the swarm goes by {name!r}"
        super().__init__(f"{text} (nodes: {listed})")


class ImageNotFound(NotFound):
    """An image is not on the engine.

    Attributes:
        app: the app whose image it is.
        reference: the image asked for.
        versions: the versions of the app's images that are there, newest first.
    """

    def __init__(
        self,
        app: str,
        reference: str,
        versions: list[str] | tuple[str, ...],
        *,
        shown: Iterable[str] | None = None,
    ) -> None:
        """``shown``: how to write the versions in the message (default: as they are)."""
        self.app = app
        self.reference = reference
        self.versions = tuple(versions)
        listed = ", ".join(list(self.versions if shown is None else shown)[:5]) or "none"
        super().__init__(
            f"{reference} is not on this engine; build it first (release versions here: {listed})"
        )


class SecretsMissing(NotFound):
    """Secret files that procs declare are not stored on the cluster; nothing was changed.

    Attributes:
        app: the app.
        cluster: the cluster's name.
        missing: ``(proc, path)`` of every declared file that is not stored.
    """

    def __init__(self, app: str, cluster: str, missing: list[tuple[str, str]]) -> None:
        self.app = app
        self.cluster = cluster
        self.missing = tuple(missing)
        files = "; ".join(f"proc {proc}: {path}" for proc, path in self.missing)
        super().__init__(
            f"{app}: {len(self.missing)} declared secret file(s) not stored on cluster "
            f"{cluster}, so nothing was changed ({files}); add each file, or set "
            "secret_files_bypass: true on the proc to run without them"
        )


class SecretNotDeclared(NotFound):
    """A secret file was not stored because the app's lain.yaml does not declare it: the proc
    is not there, or it does not list the path in ``secret_files``; or there was no lain.yaml
    to check it against.

    Attributes:
        app: the app.
        proc: the proc the file was for.
        path: the file's absolute path.
        cluster: the cluster's name.
        source: the lain.yaml checked: ``release N, version V`` for the running release's,
            ``version V, the newest in registry R`` for one not deployed yet; "" when none was
            found (``reason`` says why).
        procs: the procs that lain.yaml has (empty when there was none).
        declared: the paths the proc declares in ``secret_files`` (empty when it is not there).
        reason: why no lain.yaml was found ("" when one was).
        problem: the message without its last words (that nothing was stored).
    """

    def __init__(
        self,
        app: str,
        proc: str,
        path: str,
        *,
        cluster: str,
        source: str,
        procs: list[str] | tuple[str, ...] = (),
        declared: list[str] | tuple[str, ...] = (),
        reason: str = "",
    ) -> None:
        self.app = app
        self.proc = proc
        self.path = path
        self.cluster = cluster
        self.source = source
        self.procs = tuple(procs)
        self.declared = tuple(declared)
        self.reason = reason
        if not source:
            text = (
                f"{reason}, so no lain.yaml says whether proc {proc} declares {path} in "
                "secret_files"
            )
        elif proc not in self.procs:
            text = (
                f"{app} has no proc {proc} in the lain.yaml of {source} "
                f"(its procs: {', '.join(self.procs) or 'none'})"
            )
        else:
            listed = ", ".join(self.declared) or "none"
            text = (
                f"proc {proc} of {app} does not declare {path} in secret_files in the lain.yaml "
                f"of {source} (it declares: {listed})"
            )
        self.problem = text
        super().__init__(f"{text}; nothing was stored")


class ClusterError(LainError):
    """The cluster could not do what was asked."""


class NoDataNode(ClusterError):
    """No node can hold a stateful proc's data: none is ready, active and meets its
    constraints.  Nothing was changed.

    Attributes:
        app: the app.
        proc: the proc.
        constraints: its placement constraints (its filters), as Swarm writes them.
    """

    def __init__(self, app: str, proc: str, constraints: Iterable[object]) -> None:
        self.app = app
        self.proc = proc
        self.constraints = tuple(str(c) for c in constraints)
        wanted = f" and meets {', '.join(self.constraints)}" if self.constraints else ""
        super().__init__(
            f"no node can hold the data of proc {proc} of {app}: none is ready, active{wanted}; "
            "label a node to meet them or bring a node back, then deploy again; "
            "nothing was changed"
        )


class SharedVolumesReplaced(ClusterError):
    """A deploy would move a stateful proc from the one volume its instances shared (an earlier
    lain's layout) to a volume per instance, leaving the data behind.  Nothing was changed.

    Attributes:
        app: the app.
        volumes: (proc, path, shared volume, per-instance volume template) of each.
    """

    def __init__(self, app: str, volumes: Iterable[tuple[str, str, str, str]]) -> None:
        self.app = app
        self.volumes = tuple(volumes)
        listed = "; ".join(
            f"{proc} keeps {path} in {shared}, which this version replaces by "
            f"{per_instance.replace('{{.Task.Slot}}', '<n>')} (one per instance)"
            for proc, path, shared, per_instance in self.volumes
        )
        _, _, shared, per_instance = self.volumes[0]
        first = per_instance.replace("{{.Task.Slot}}", "1")
        super().__init__(
            f"{app}: {listed}. The new volumes start empty: copy the data first, on the node "
            f"holding {shared} (the node the proc runs on): docker volume create {first} "
            f"&& docker run --rm -v {shared}:/from -v {first}:/to IMAGE cp -a /from/. /to/ "
            "(IMAGE: any with cp, such as the release's), then deploy again accepting the new "
            "volumes; nothing was changed"
        )


class ClientNotAllowed(ClusterError):
    """A provider's portal does not allow this client (its ``allow_clients`` rule).

    Attributes:
        client: the app that uses the service.
        provider: the app that provides it.
        service: the service name.
        portal: the portal proc that declares it.
        rule: the portal's ``allow_clients``.
    """

    def __init__(self, client: str, provider: str, service: str, portal: str, rule: str) -> None:
        self.client = client
        self.provider = provider
        self.service = service
        self.portal = portal
        self.rule = rule
        super().__init__(
            f"{client} uses service {service} of {provider}, but {provider}'s portal {portal} "
            f"allows only clients matching {rule!r} (allow_clients); add {client} to that rule "
            f"in {provider}'s lain.yaml and deploy {provider}, or stop using the service"
        )


class ProcFailure(NamedTuple):
    """Why one proc did not converge.

    Attributes:
        proc: the proc.
        reason: what went wrong, in one line.
        task_error: the error of its last failed task (with what the healthcheck said).
        logs: the last log lines of that task.
        rolling_back: Swarm was rolling the proc back to its previous spec.
    """

    proc: str
    reason: str
    task_error: str = ""
    logs: tuple[str, ...] = ()
    rolling_back: bool = False

    def describe(self) -> str:
        text = f"proc {self.proc}: {self.reason}"
        if self.task_error and self.task_error not in self.reason:
            text += f"\n  last task error: {self.task_error}"
        if self.logs:
            text += "\n  last log lines:\n" + "\n".join(f"    {line}" for line in self.logs)
        return text


class DeployFailed(ClusterError):
    """A deploy, scale, restart or rollback did not converge; what ran before keeps serving.

    Attributes:
        app: the app.
        failures: why each failed proc did not converge.
        release: the number of the release that failed (None when none was recorded).
        serving: the release that keeps serving (None: unknown, or a first deploy).
        first_deploy: nothing ran before, so nothing was removed (what runs is left to look at).
    """

    def __init__(
        self,
        app: str,
        failures: list[ProcFailure] | tuple[ProcFailure, ...],
        *,
        release: int | None = None,
        what: str = "",
        serving: int | None = None,
        serving_version: str = "",
        first_deploy: bool = False,
    ) -> None:
        self.app = app
        self.failures = tuple(failures)
        self.release = release
        self.serving = serving
        self.first_deploy = first_deploy
        head = f"{what} of {app} failed:" if what else f"{app} failed:"
        lines = [head, *(f.describe() for f in self.failures)]
        if first_deploy:
            lines.append("This was the first deploy of the app: nothing was removed.")
        elif serving is not None:
            lines.append(f"Release {serving} ({serving_version}) keeps serving.")
        else:
            lines.append("The procs were put back as they were before.")
        super().__init__("\n".join(lines))

    @property
    def procs(self) -> tuple[str, ...]:
        """The procs that failed."""
        return tuple(f.proc for f in self.failures)


class LockHeld(ClusterError):
    """Another deploy, scale or rollback of the app holds its lock.

    Attributes:
        app: the app.
        holder: who holds it, as the lock says (user@host, pid, operation, since when, lease
            left).
        operation: what the holder does (``deploy``, ``scale``, ...).
        waited: how many seconds this call waited for it.
        owner: the holder's user@host ("" when the lock does not say).
        pid: the holder's process id (0 when the lock does not say).
        since: when the holder took it (ISO 8601, the manager's clock; "" when unknown).
        lease_left: seconds until the holder's lease runs out unless it renews it (None when
            unknown).
        cluster: the cluster's name ("" when unknown).
    """

    def __init__(
        self,
        app: str,
        holder: str,
        operation: str,
        waited: float,
        expires: str,
        *,
        owner: str = "",
        pid: int = 0,
        since: str = "",
        lease_left: float | None = None,
        cluster: str = "",
    ) -> None:
        self.app = app
        self.holder = holder
        self.operation = operation
        self.waited = waited
        self.owner = owner
        self.pid = pid
        self.since = since
        self.lease_left = lease_left
        self.cluster = cluster
        super().__init__(
            f"another {operation} of {app} is in progress: the lock is held by {holder}; "
            f"waited {waited:g}s. Try again when it is done ({expires})"
        )


class LockLost(ClusterError):
    """An operation lost the app's lock while it ran: someone broke it, or took it over after
    the operation could not renew its lease in time.  What the operation did up to then is
    done; another operation may have changed the app meanwhile.

    Attributes:
        app: the app.
        operation: what the operation was (``deploy``, ``scale``, ...).
        how: ``broken`` (someone broke it), ``taken`` (another operation holds it now) or
            ``gone`` (it was removed).
        by: who broke or took it, user@host ("" when unknown).
        at: when it was broken (ISO 8601, the manager's clock; "" when unknown).
    """

    def __init__(self, app: str, operation: str, how: str, by: str = "", at: str = "") -> None:
        self.app = app
        self.operation = operation
        self.how = how
        self.by = by
        self.at = at
        if how == "broken":
            detail = f"it was broken by {by or 'someone'}" + (f" at {at}" if at else "")
        elif how == "taken":
            detail = f"{by or 'another operation'} holds it now (its lease had run out)"
        else:
            detail = "it was removed (its lease had run out, or it was broken)"
        super().__init__(
            f"the {operation} of {app} lost the app's lock while it ran: {detail}; another "
            "operation may have changed the app meanwhile"
        )


class TakenRoute(NamedTuple):
    """A mountpoint or stream port an app claims that a live service of another app holds.

    Attributes:
        proc: the proc of the app that claims it.
        kind: ``mountpoint`` or ``stream port``.
        what: the mountpoint (``shop.example.com/api``) or the port (``9531/tcp``).
        holder: the app that holds it.
        holder_proc: the proc of that app whose service holds it.
    """

    proc: str
    kind: str
    what: str
    holder: str
    holder_proc: str

    def describe(self) -> str:
        return (
            f"{self.kind} {self.what} (proc {self.proc}) is held by {self.holder} "
            f"(proc {self.holder_proc})"
        )


class RouteTaken(ClusterError):
    """Mountpoints or stream ports an app claims are held by live services of other apps, so
    its deploy (or rollback) was refused before anything changed: the router serves each
    mountpoint and each stream port for one service only, the one that held it first.

    Attributes:
        app: the app that was refused.
        cluster: the cluster's name.
        taken: each claim that is held, and by whom.
    """

    def __init__(
        self, app: str, cluster: str, taken: list[TakenRoute] | tuple[TakenRoute, ...]
    ) -> None:
        self.app = app
        self.cluster = cluster
        self.taken = tuple(taken)
        holders = ", ".join(dict.fromkeys(t.holder for t in self.taken))
        kinds = {t.kind for t in self.taken}
        other = " or ".join(
            k
            for k, said in (
                ("mountpoints", "mountpoint"),
                ("source ports (9500-10000) in ports:", "stream port"),
            )
            if said in kinds
        )
        lines = [
            f"{app} claims what other apps hold on cluster {cluster}, so nothing was changed:",
            *(f"  {t.describe()}" for t in self.taken),
            f"Give {app} other {other} in its lain.yaml, or first take the procs that hold "
            f"them off the cluster (undeploy them from {holders}).",
        ]
        super().__init__("\n".join(lines))


class ContainerExists(LainError):
    """A container of the name asked for is running (an earlier run of the proc), and was left
    alone.  Not a ClusterError: the engine refused nothing, the caller chose not to replace it.

    Attributes:
        name: the container's name.
        state: its state (``running``, ``paused``, ``restarting``).
    """

    def __init__(self, name: str, state: str = "running") -> None:
        self.name = name
        self.state = state
        super().__init__(
            f"container {name} of an earlier run of this proc is {state}; lain leaves it alone "
            "unless asked to replace it"
        )


class NodeRefused(ClusterError):
    """lain refused to change a node, because the change would lose data (a node that holds
    stateful procs' volumes) or the managers' quorum, or because the node is still up, or is
    in a swarm already; nothing was changed.

    Attributes:
        node: the node's hostname (or the engine's address, for a node being added).
        action: what was refused: ``add``, ``label``, ``drain`` or ``rm``.
        forcible: forcing the change is possible (``force=True``, ``--force``).
        cluster: the cluster's name.
    """

    def __init__(
        self, node: str, action: str, message: str, *, forcible: bool, cluster: str = ""
    ) -> None:
        self.node = node
        self.action = action
        self.forcible = forcible
        self.cluster = cluster
        super().__init__(message)


class SettingsError(LainError):
    """The user's lain settings file cannot be read, parsed or written (the message names it)."""


class LainTimeout(LainError):
    """A wait ran out of time."""
