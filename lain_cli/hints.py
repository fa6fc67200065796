"""What to type next: the command lines that fix an error, from the fields the SDK's errors
carry (the SDK describes problems in plain words; only the command line knows its own flags)."""

from __future__ import annotations

import shlex

from lain_sdk.errors import (
    AppConfigError,
    AppConfigMissing,
    ClusterNotFound,
    ContainerExists,
    CredentialsFileError,
    DeployFailed,
    DirtyTreeError,
    ImageNotFound,
    LainError,
    LockHeld,
    LockLost,
    NoDataNode,
    NodeRefused,
    RegistryAuthError,
    RouterNotRunning,
    SecretNotDeclared,
    SecretsMissing,
    SharedVolumesReplaced,
    VersionNotBuilt,
    VersionNotFound,
)


def hints_for(error: LainError) -> list[str]:
    """The hint lines shown under an error (none for most errors)."""
    if isinstance(error, SecretsMissing):
        lines = [
            f"lain -c {shlex.quote(error.cluster)} secret add -a {error.app} {proc} "
            f"{shlex.quote(path)} -f FILE"
            for proc, path in error.missing
        ]
        return [*lines, "(or set secret_files_bypass: true on the proc to run without them)"]
    if isinstance(error, SecretNotDeclared):
        return [
            "to store it anyway, ahead of a lain.yaml that will declare it: "
            f"lain -c {shlex.quote(error.cluster)} secret add --undeclared -a {error.app} "
            f"{error.proc} {shlex.quote(error.path)} -f FILE"
        ]
    if isinstance(error, DeployFailed):
        return [f"see what runs with `lain ps -a {error.app}` and `lain logs -a {error.app}`"]
    if isinstance(error, DirtyTreeError):
        return ["commit the changes, or pass --allow-dirty to build a version tagged as dirty"]
    if isinstance(error, VersionNotFound):
        if error.version is None:
            return ["build and push a version first: `lain build --push`"]
        return [f"see the versions there are: `lain versions --registry {error.registry}`"]
    if isinstance(error, LockHeld):
        where = f"-c {shlex.quote(error.cluster)} " if error.cluster else ""
        return [
            "try again when it is done, or wait longer with --timeout SECONDS",
            f"see who holds it with `lain {where}unlock -a {error.app}`; if that holder is gone "
            "for good, add --force to break the lock",
        ]
    if isinstance(error, LockLost):
        return [f"see what runs with `lain ps -a {error.app}` and `lain releases -a {error.app}`"]
    if isinstance(error, ContainerExists):
        return [f"remove it with `docker rm -f {error.name}`, or run again with --replace"]
    if isinstance(error, AppConfigMissing):
        folder, _, name = error.path.replace("\\", "/").rpartition("/")
        if name != "lain.yaml":
            return []
        where = f" {shlex.quote(folder)}" if folder not in ("", ".") else ""
        return [f"write a starter lain.yaml with `lain init{where}`"]
    if isinstance(error, AppConfigError) and any(
        "the lain.yaml schema" in p.message
        for p in error.problems  # validation.KEYS_REFERENCE
    ):
        return ["`lain schema` prints the lain.yaml schema, with every key described"]
    if isinstance(error, RegistryAuthError) and error.registry:
        again = " again" if error.username else ""
        return [f"log in{again} with `lain login {error.registry}`"]
    if isinstance(error, CredentialsFileError):
        return ["then log in to each registry again: `lain login REGISTRY`"]
    if isinstance(error, ImageNotFound):
        return ["build it with `lain build` (or give the version of an image that is here)"]
    if isinstance(error, VersionNotBuilt):
        return ["`lain build` builds the version checked out (`lain meta` names it)"]
    if isinstance(error, RouterNotRunning):
        return [f"start it with `lain -c {shlex.quote(error.cluster)} router up`"]
    if isinstance(error, NodeRefused) and error.forcible:
        return [_force_hint(error)]
    if isinstance(error, NoDataNode):
        return ["label a node with what the proc's filters ask: `lain node label NODE KEY=VALUE`"]
    if isinstance(error, SharedVolumesReplaced):
        return [f"once the data is copied: `lain deploy -a {error.app} --accept-new-volumes`"]
    if isinstance(error, ClusterNotFound):
        return [f"lain cluster add {shlex.quote(error.name)} --docker-host URL --registry HOST"]
    return []


def _force_hint(error: NodeRefused) -> str:
    if error.action == "label":
        return "if you are sure, run the same command with --force"
    where = f"-c {shlex.quote(error.cluster)} " if error.cluster else ""
    return f"if you are sure: `lain {where}node {error.action} {shlex.quote(error.node)} --force`"
