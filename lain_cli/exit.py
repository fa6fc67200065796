"""Exit statuses of ``lain``: the one table scripts can rely on (documented in the README)."""

from __future__ import annotations

from enum import IntEnum

from lain_sdk import errors


class ExitStatus(IntEnum):
    OK = 0
    ERROR = 1  # anything not listed below
    USAGE = 2  # bad command line (click's own usage errors)
    CONFIG_INVALID = 3  # lain.yaml missing or invalid, or claims a route another app holds
    BUILD_FAILED = 4  # a build phase failed
    TEST_FAILED = 5  # test.script failed
    REGISTRY_ERROR = 6  # registry unreachable, refused, or credentials rejected
    CLUSTER_ERROR = 7  # engine/cluster unreachable or refused a request
    DEPLOY_FAILED = 8  # a deploy did not converge; the previous release keeps serving
    TIMEOUT = 9  # a wait ran out of time
    NOT_FOUND = 10  # a version, image, proc or release that does not exist
    GIT_ERROR = 11  # not a git repository, no commit, or a dirty tree refused
    LOCKED = 12  # another deploy of the app holds its lock
    SETTINGS_INVALID = 13  # the user's settings file is unreadable or invalid
    INTERRUPTED = 130  # Ctrl-C
    TERMINATED = 143  # SIGTERM (128 + 15), after letting go of what the command held


# Most specific first: the first matching class decides.
ERROR_STATUS: tuple[tuple[type[errors.LainError], ExitStatus], ...] = (
    (errors.InvalidArgument, ExitStatus.USAGE),
    (errors.AppConfigError, ExitStatus.CONFIG_INVALID),
    (errors.TestFailed, ExitStatus.TEST_FAILED),
    (errors.BuildError, ExitStatus.BUILD_FAILED),
    (errors.RegistryError, ExitStatus.REGISTRY_ERROR),
    (errors.CredentialsMissing, ExitStatus.REGISTRY_ERROR),
    # Nothing was sent: the fix is in lain.yaml (another mountpoint or port), not a retry.
    (errors.RouteTaken, ExitStatus.CONFIG_INVALID),
    (errors.DeployFailed, ExitStatus.DEPLOY_FAILED),
    (errors.LockHeld, ExitStatus.LOCKED),
    (errors.ClusterError, ExitStatus.CLUSTER_ERROR),
    (errors.EngineError, ExitStatus.CLUSTER_ERROR),
    (errors.LainTimeout, ExitStatus.TIMEOUT),
    (errors.NotFound, ExitStatus.NOT_FOUND),
    (errors.GitError, ExitStatus.GIT_ERROR),
    (errors.SettingsError, ExitStatus.SETTINGS_INVALID),
    (errors.LainError, ExitStatus.ERROR),
)


def status_for(error: errors.LainError) -> ExitStatus:
    for error_type, status in ERROR_STATUS:
        if isinstance(error, error_type):
            return status
    return ExitStatus.ERROR
