"""lain_sdk: load, validate, build, push and deploy apps described by a lain.yaml.

The public API is flat: everything a caller needs is importable from ``lain_sdk`` itself.
Names are resolved lazily (PEP 562), so ``import lain_sdk`` is cheap and pulls in docker, git or
requests only when a name that needs them is first used.  lain_sdk never imports click or rich,
never prints, never prompts and never exits: errors are raised as ``LainError`` subclasses.

Example::

    import lain_sdk

    app = lain_sdk.load_app_config("examples/hello")
    for proc in app.procs:
        print(proc.name, proc.type, proc.memory)
"""

from __future__ import annotations

from lain_sdk._lazy import lazy_exports
from lain_sdk._version import __version__ as __version__

# public name -> module that defines it
_EXPORTS = {
    # lain.yaml
    "AppConfig": "lain_sdk.appconfig.model",
    "Backup": "lain_sdk.appconfig.model",
    "BuildConfig": "lain_sdk.appconfig.model",
    "CopySpec": "lain_sdk.appconfig.model",
    "Healthcheck": "lain_sdk.appconfig.model",
    "Port": "lain_sdk.appconfig.model",
    "PrepareConfig": "lain_sdk.appconfig.model",
    "Proc": "lain_sdk.appconfig.model",
    "ReleaseConfig": "lain_sdk.appconfig.model",
    "ResourceUse": "lain_sdk.appconfig.model",
    "StreamPort": "lain_sdk.appconfig.model",
    "TestConfig": "lain_sdk.appconfig.model",
    "Volume": "lain_sdk.appconfig.model",
    "check_app_config": "lain_sdk.appconfig",
    "load_app_config": "lain_sdk.appconfig",
    "parse_app_config": "lain_sdk.appconfig",
    "read_appname": "lain_sdk.appconfig",
    "render_resource_instance": "lain_sdk.appconfig",
    "schema": "lain_sdk.appconfig",
    # errors
    "AppConfigError": "lain_sdk.errors",
    "BuildError": "lain_sdk.errors",
    "ClusterError": "lain_sdk.errors",
    "CredentialsMissing": "lain_sdk.errors",
    "DeployFailed": "lain_sdk.errors",
    "DirtyTreeError": "lain_sdk.errors",
    "EngineError": "lain_sdk.errors",
    "GitError": "lain_sdk.errors",
    "LainError": "lain_sdk.errors",
    "LainTimeout": "lain_sdk.errors",
    "NotFound": "lain_sdk.errors",
    "Problem": "lain_sdk.errors",
    "RegistryAuthError": "lain_sdk.errors",
    "RegistryError": "lain_sdk.errors",
    "TestFailed": "lain_sdk.errors",
    # git
    "GitInfo": "lain_sdk.git",
    "parse_meta_version": "lain_sdk.git",
    # images: build, test, push, clean
    "BuildResult": "lain_sdk.images.pipeline",
    "CleanResult": "lain_sdk.images.clean",
    "PushResult": "lain_sdk.images.push",
    "PushedImage": "lain_sdk.images.push",
    "build_app": "lain_sdk.images.pipeline",
    "clean_app": "lain_sdk.images.clean",
    "image_tag": "lain_sdk.images.naming",
    "prepare_app": "lain_sdk.images.pipeline",
    "push_app": "lain_sdk.images.push",
    "test_app": "lain_sdk.images.pipeline",
    # registry and credentials
    "CredentialStore": "lain_sdk.credentials",
    "Credentials": "lain_sdk.credentials",
    "RegistryClient": "lain_sdk.registry",
    "registry_login": "lain_sdk.credentials",
    "registry_logout": "lain_sdk.credentials",
    # clusters: settings, deploy, scale, status, logs, releases, service discovery
    "AppStatus": "lain_sdk.cluster.status",
    "ClusterSettings": "lain_sdk.settings",
    "DeployResult": "lain_sdk.cluster.operations",
    "LockHeld": "lain_sdk.errors",
    "LogLine": "lain_sdk.cluster.status",
    "Plan": "lain_sdk.cluster.desired",
    "Release": "lain_sdk.cluster.releases",
    "RestartResult": "lain_sdk.cluster.operations",
    "ServiceRoute": "lain_sdk.cluster.discovery",
    "Settings": "lain_sdk.settings",
    "SettingsError": "lain_sdk.errors",
    "UndeployResult": "lain_sdk.cluster.operations",
    "app_logs": "lain_sdk.cluster.status",
    "app_status": "lain_sdk.cluster.status",
    "cluster_down": "lain_sdk.cluster.local",
    "cluster_up": "lain_sdk.cluster.local",
    "deploy_app": "lain_sdk.cluster.operations",
    "desired_state": "lain_sdk.cluster.desired",
    "list_releases": "lain_sdk.cluster.operations",
    "parse_resource_instance": "lain_sdk.cluster.discovery",
    "plan_deploy": "lain_sdk.cluster.operations",
    "resource_instance_name": "lain_sdk.cluster.discovery",
    "restart_app": "lain_sdk.cluster.operations",
    "rollback_app": "lain_sdk.cluster.operations",
    "scale_proc": "lain_sdk.cluster.operations",
    "service_routes": "lain_sdk.cluster.discovery",
    "undeploy_app": "lain_sdk.cluster.operations",
    # secrets, and the local helpers run and exec
    "Attachment": "lain_sdk.cluster.run",
    "ExecSession": "lain_sdk.cluster.run",
    "RunResult": "lain_sdk.cluster.run",
    "SecretAdded": "lain_sdk.cluster.secrets",
    "SecretInfo": "lain_sdk.cluster.secrets",
    "SecretRemoved": "lain_sdk.cluster.secrets",
    "SecretValue": "lain_sdk.cluster.secrets",
    "SecretVersion": "lain_sdk.cluster.secrets",
    "add_secret": "lain_sdk.cluster.secrets",
    "exec_in_instance": "lain_sdk.cluster.run",
    "list_secrets": "lain_sdk.cluster.secrets",
    "local_release_image": "lain_sdk.cluster.run",
    "read_proc_secrets": "lain_sdk.cluster.secrets",
    "read_secret": "lain_sdk.cluster.secrets",
    "remove_secret": "lain_sdk.cluster.secrets",
    "run_proc": "lain_sdk.cluster.run",
    # progress events of long operations
    "Event": "lain_sdk.events",
    "LayerProgress": "lain_sdk.events",
    "LockWaiting": "lain_sdk.events",
    "Message": "lain_sdk.events",
    "PhaseFinished": "lain_sdk.events",
    "PhaseLog": "lain_sdk.events",
    "PhaseStarted": "lain_sdk.events",
    "ProcChanged": "lain_sdk.events",
    "ProcProgress": "lain_sdk.events",
    "drain": "lain_sdk.events",
}

__all__ = sorted([*_EXPORTS, "__version__"])


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
