"""Every error lain_sdk raises, under one root.

    LainError
     ├── AppConfigError        lain.yaml is missing, unreadable or invalid (carries every Problem)
     ├── GitError              not a repository, no commit yet, or a dirty tree that was refused
     ├── EngineError           the Docker engine did not answer or refused a request
     ├── BuildError            a build phase failed (phase, failing line, last lines of the log)
     │    └── TestFailed       test.script failed
     ├── RegistryError         the registry did not answer or refused a request
     │    └── RegistryAuthError    credentials missing or rejected
     ├── CredentialsMissing    no stored credential for a registry
     ├── NotFound              a version, image, proc or release that does not exist
     ├── ClusterError          the cluster refused or could not do what was asked
     │    ├── DeployFailed     a deploy did not converge; the previous release keeps serving
     │    └── LockHeld         another deploy of the app holds its lock
     ├── SettingsError         the user's settings file is unreadable or invalid
     └── LainTimeout           a wait ran out of time

Third-party exceptions are converted where they cross into lain_sdk (``raise ... from e``), so
callers only ever need ``except LainError``.  Messages never contain secrets.
"""

from __future__ import annotations

from dataclasses import dataclass


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


@dataclass(frozen=True, order=True)
class Problem:
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


class GitError(LainError):
    """The app's directory is not a usable git checkout for building."""


class DirtyTreeError(GitError):
    """The working tree has changes that are not committed.

    Attributes:
        files: the changed or untracked paths (relative to the repository root).
    """

    def __init__(self, files: list[str]) -> None:
        self.files = list(files)
        shown = ", ".join(self.files[:5])
        more = f" and {len(self.files) - 5} more" if len(self.files) > 5 else ""
        super().__init__(
            f"the working tree has uncommitted changes ({shown}{more}); "
            "commit them, or pass --allow-dirty to build a version tagged as dirty"
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
    """The registry wants credentials that are missing or wrong."""


class CredentialsMissing(LainError):
    """No credential is stored for a registry (run ``lain login REGISTRY``)."""


class NotFound(LainError):
    """Something that was asked for does not exist."""


class ClusterError(LainError):
    """The cluster could not do what was asked."""


class DeployFailed(ClusterError):
    """A deploy did not converge; the previous release keeps serving."""


class LockHeld(ClusterError):
    """Another deploy, scale or rollback of the app holds its lock (the message names the holder)."""


class SettingsError(LainError):
    """The user's lain settings file cannot be read, parsed or written (the message names it)."""


class LainTimeout(LainError):
    """A wait ran out of time."""
