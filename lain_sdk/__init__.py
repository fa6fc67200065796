"""lain_sdk: load, validate, build, push and deploy apps described by a lain.yaml.

The public API is flat: everything a caller needs is importable from ``lain_sdk`` itself.
Names are resolved lazily (PEP 562), so ``import lain_sdk`` is cheap and pulls in docker, git or
requests only when a name that needs them is first used; type checkers read the same names from
the ``TYPE_CHECKING`` block, so they see each name's real type.  lain_sdk never imports click or
rich, never prints, never prompts and never exits: errors are raised as ``LainError``
subclasses.

Example::

    import lain_sdk

    app = lain_sdk.load_app_config("examples/hello")
    for proc in app.procs:
        print(proc.name, proc.type, proc.memory)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lain_sdk._lazy import lazy_exports
from lain_sdk._version import __version__ as __version__

if TYPE_CHECKING:  # what each lazy name is, for type checkers (the same table as _EXPORTS)
    from lain_sdk.appconfig.appname import read_appname as read_appname
    from lain_sdk.appconfig.loader import check_app_config as check_app_config
    from lain_sdk.appconfig.loader import load_app_config as load_app_config
    from lain_sdk.appconfig.loader import parse_app_config as parse_app_config
    from lain_sdk.appconfig.loader import render_resource_instance as render_resource_instance
    from lain_sdk.appconfig.model import AppConfig as AppConfig
    from lain_sdk.appconfig.model import Backup as Backup
    from lain_sdk.appconfig.model import BuildConfig as BuildConfig
    from lain_sdk.appconfig.model import CopySpec as CopySpec
    from lain_sdk.appconfig.model import Healthcheck as Healthcheck
    from lain_sdk.appconfig.model import Port as Port
    from lain_sdk.appconfig.model import PrepareConfig as PrepareConfig
    from lain_sdk.appconfig.model import Proc as Proc
    from lain_sdk.appconfig.model import ReleaseConfig as ReleaseConfig
    from lain_sdk.appconfig.model import ResourceUse as ResourceUse
    from lain_sdk.appconfig.model import StreamPort as StreamPort
    from lain_sdk.appconfig.model import TestConfig as TestConfig
    from lain_sdk.appconfig.model import Volume as Volume
    from lain_sdk.appconfig.validation import schema as schema
    from lain_sdk.cluster.apps import AppSummary as AppSummary
    from lain_sdk.cluster.apps import ProcSummary as ProcSummary
    from lain_sdk.cluster.apps import list_apps as list_apps
    from lain_sdk.cluster.attach import Attachment as Attachment
    from lain_sdk.cluster.deploy import DeployResult as DeployResult
    from lain_sdk.cluster.deploy import deploy_app as deploy_app
    from lain_sdk.cluster.deploy import plan_deploy as plan_deploy
    from lain_sdk.cluster.desired import desired_state as desired_state
    from lain_sdk.cluster.discovery import ServiceRoute as ServiceRoute
    from lain_sdk.cluster.discovery import service_routes as service_routes
    from lain_sdk.cluster.env import EnvChanged as EnvChanged
    from lain_sdk.cluster.env import EnvListing as EnvListing
    from lain_sdk.cluster.env import EnvVar as EnvVar
    from lain_sdk.cluster.env import list_env as list_env
    from lain_sdk.cluster.env import proc_env as proc_env
    from lain_sdk.cluster.env import set_env as set_env
    from lain_sdk.cluster.exec import ExecSession as ExecSession
    from lain_sdk.cluster.exec import exec_in_instance as exec_in_instance
    from lain_sdk.cluster.history import list_releases as list_releases
    from lain_sdk.cluster.history import rollback_app as rollback_app
    from lain_sdk.cluster.local import cluster_down as cluster_down
    from lain_sdk.cluster.local import cluster_up as cluster_up
    from lain_sdk.cluster.lock import break_lock as break_lock
    from lain_sdk.cluster.lock import lock_status as lock_status
    from lain_sdk.cluster.lock_record import LockInfo as LockInfo
    from lain_sdk.cluster.lock_record import LockStatus as LockStatus
    from lain_sdk.cluster.logs import AccessRecord as AccessRecord
    from lain_sdk.cluster.logs import LogLine as LogLine
    from lain_sdk.cluster.logs import access_logs as access_logs
    from lain_sdk.cluster.logs import app_logs as app_logs
    from lain_sdk.cluster.logs import parse_since as parse_since
    from lain_sdk.cluster.names import parse_resource_instance as parse_resource_instance
    from lain_sdk.cluster.names import resource_instance_name as resource_instance_name
    from lain_sdk.cluster.oneoff import OneOff as OneOff
    from lain_sdk.cluster.oneoff import OneOffSession as OneOffSession
    from lain_sdk.cluster.oneoff import run_oneoff as run_oneoff
    from lain_sdk.cluster.plan import Plan as Plan
    from lain_sdk.cluster.releases import Release as Release
    from lain_sdk.cluster.run import RunResult as RunResult
    from lain_sdk.cluster.run import local_release_image as local_release_image
    from lain_sdk.cluster.run import run_proc as run_proc
    from lain_sdk.cluster.scale import RestartResult as RestartResult
    from lain_sdk.cluster.scale import restart_app as restart_app
    from lain_sdk.cluster.scale import scale_proc as scale_proc
    from lain_sdk.cluster.secret_store import SecretVersion as SecretVersion
    from lain_sdk.cluster.secrets import SecretAdded as SecretAdded
    from lain_sdk.cluster.secrets import SecretInfo as SecretInfo
    from lain_sdk.cluster.secrets import SecretRemoved as SecretRemoved
    from lain_sdk.cluster.secrets import SecretValue as SecretValue
    from lain_sdk.cluster.secrets import add_secret as add_secret
    from lain_sdk.cluster.secrets import list_secrets as list_secrets
    from lain_sdk.cluster.secrets import read_proc_secrets as read_proc_secrets
    from lain_sdk.cluster.secrets import read_secret as read_secret
    from lain_sdk.cluster.secrets import remove_secret as remove_secret
    from lain_sdk.cluster.session import Cluster as Cluster
    from lain_sdk.cluster.session import ClusterLike as ClusterLike
    from lain_sdk.cluster.sizing import ProcScale as ProcScale
    from lain_sdk.cluster.status import AppStatus as AppStatus
    from lain_sdk.cluster.status import app_status as app_status
    from lain_sdk.cluster.status import app_urls as app_urls
    from lain_sdk.cluster.undeploy import UndeployResult as UndeployResult
    from lain_sdk.cluster.undeploy import undeploy_app as undeploy_app
    from lain_sdk.credentials import Credentials as Credentials
    from lain_sdk.credentials import CredentialStore as CredentialStore
    from lain_sdk.errors import AmbiguousVersion as AmbiguousVersion
    from lain_sdk.errors import AppConfigError as AppConfigError
    from lain_sdk.errors import AppConfigMissing as AppConfigMissing
    from lain_sdk.errors import BuildError as BuildError
    from lain_sdk.errors import ClientNotAllowed as ClientNotAllowed
    from lain_sdk.errors import ClusterError as ClusterError
    from lain_sdk.errors import ClusterNotFound as ClusterNotFound
    from lain_sdk.errors import ContainerExists as ContainerExists
    from lain_sdk.errors import CredentialsFileError as CredentialsFileError
    from lain_sdk.errors import CredentialsMissing as CredentialsMissing
    from lain_sdk.errors import DeployFailed as DeployFailed
    from lain_sdk.errors import DirtyTreeError as DirtyTreeError
    from lain_sdk.errors import EngineError as EngineError
    from lain_sdk.errors import GitError as GitError
    from lain_sdk.errors import ImageNotFound as ImageNotFound
    from lain_sdk.errors import InvalidArgument as InvalidArgument
    from lain_sdk.errors import LainError as LainError
    from lain_sdk.errors import LainTimeout as LainTimeout
    from lain_sdk.errors import LockHeld as LockHeld
    from lain_sdk.errors import LockLost as LockLost
    from lain_sdk.errors import NodeNotFound as NodeNotFound
    from lain_sdk.errors import NodeRefused as NodeRefused
    from lain_sdk.errors import NotFound as NotFound
    from lain_sdk.errors import Problem as Problem
    from lain_sdk.errors import ProcFailure as ProcFailure
    from lain_sdk.errors import RegistryAuthError as RegistryAuthError
    from lain_sdk.errors import RegistryError as RegistryError
    from lain_sdk.errors import RouterNotRunning as RouterNotRunning
    from lain_sdk.errors import RouteTaken as RouteTaken
    from lain_sdk.errors import SecretNotDeclared as SecretNotDeclared
    from lain_sdk.errors import SecretsMissing as SecretsMissing
    from lain_sdk.errors import SettingsError as SettingsError
    from lain_sdk.errors import SharedVolumesReplaced as SharedVolumesReplaced
    from lain_sdk.errors import TestFailed as TestFailed
    from lain_sdk.errors import VersionNotBuilt as VersionNotBuilt
    from lain_sdk.errors import VersionNotFound as VersionNotFound
    from lain_sdk.events import Event as Event
    from lain_sdk.events import LayerProgress as LayerProgress
    from lain_sdk.events import LockWaiting as LockWaiting
    from lain_sdk.events import Message as Message
    from lain_sdk.events import PhaseFinished as PhaseFinished
    from lain_sdk.events import PhaseLog as PhaseLog
    from lain_sdk.events import PhaseStarted as PhaseStarted
    from lain_sdk.events import ProcChanged as ProcChanged
    from lain_sdk.events import ProcProgress as ProcProgress
    from lain_sdk.events import drain as drain
    from lain_sdk.git import GitInfo as GitInfo
    from lain_sdk.git import parse_meta_version as parse_meta_version
    from lain_sdk.images.clean import CleanResult as CleanResult
    from lain_sdk.images.clean import clean_app as clean_app
    from lain_sdk.images.naming import image_tag as image_tag
    from lain_sdk.images.pipeline import BuildResult as BuildResult
    from lain_sdk.images.pipeline import build_app as build_app
    from lain_sdk.images.pipeline import prepare_app as prepare_app
    from lain_sdk.images.pipeline import test_app as test_app
    from lain_sdk.images.push import PushedImage as PushedImage
    from lain_sdk.images.push import PushResult as PushResult
    from lain_sdk.images.push import push_app as push_app
    from lain_sdk.protocols import EngineClient as EngineClient
    from lain_sdk.registry import RegistryClient as RegistryClient
    from lain_sdk.registry import registry_login as registry_login
    from lain_sdk.registry import registry_logout as registry_logout
    from lain_sdk.settings import ClusterSettings as ClusterSettings
    from lain_sdk.settings import Settings as Settings

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
    "check_app_config": "lain_sdk.appconfig.loader",
    "load_app_config": "lain_sdk.appconfig.loader",
    "parse_app_config": "lain_sdk.appconfig.loader",
    "read_appname": "lain_sdk.appconfig.appname",
    "render_resource_instance": "lain_sdk.appconfig.loader",
    "schema": "lain_sdk.appconfig.validation",
    # errors
    "AmbiguousVersion": "lain_sdk.errors",
    "AppConfigError": "lain_sdk.errors",
    "AppConfigMissing": "lain_sdk.errors",
    "BuildError": "lain_sdk.errors",
    "ClientNotAllowed": "lain_sdk.errors",
    "ClusterError": "lain_sdk.errors",
    "ClusterNotFound": "lain_sdk.errors",
    "ContainerExists": "lain_sdk.errors",
    "CredentialsFileError": "lain_sdk.errors",
    "CredentialsMissing": "lain_sdk.errors",
    "DeployFailed": "lain_sdk.errors",
    "DirtyTreeError": "lain_sdk.errors",
    "EngineError": "lain_sdk.errors",
    "GitError": "lain_sdk.errors",
    "ImageNotFound": "lain_sdk.errors",
    "InvalidArgument": "lain_sdk.errors",
    "LainError": "lain_sdk.errors",
    "LainTimeout": "lain_sdk.errors",
    "LockHeld": "lain_sdk.errors",
    "LockLost": "lain_sdk.errors",
    "NodeNotFound": "lain_sdk.errors",
    "NodeRefused": "lain_sdk.errors",
    "NotFound": "lain_sdk.errors",
    "Problem": "lain_sdk.errors",
    "ProcFailure": "lain_sdk.errors",
    "RegistryAuthError": "lain_sdk.errors",
    "RegistryError": "lain_sdk.errors",
    "RouterNotRunning": "lain_sdk.errors",
    "RouteTaken": "lain_sdk.errors",
    "SecretNotDeclared": "lain_sdk.errors",
    "SecretsMissing": "lain_sdk.errors",
    "SharedVolumesReplaced": "lain_sdk.errors",
    "SettingsError": "lain_sdk.errors",
    "TestFailed": "lain_sdk.errors",
    "VersionNotBuilt": "lain_sdk.errors",
    "VersionNotFound": "lain_sdk.errors",
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
    "EngineClient": "lain_sdk.protocols",
    "Credentials": "lain_sdk.credentials",
    "RegistryClient": "lain_sdk.registry",
    "registry_login": "lain_sdk.registry",
    "registry_logout": "lain_sdk.registry",
    # clusters: settings, the session, deploy, scale, status, apps, logs, releases, discovery
    "AccessRecord": "lain_sdk.cluster.logs",
    "AppStatus": "lain_sdk.cluster.status",
    "AppSummary": "lain_sdk.cluster.apps",
    "Cluster": "lain_sdk.cluster.session",
    "ClusterLike": "lain_sdk.cluster.session",
    "ClusterSettings": "lain_sdk.settings",
    "DeployResult": "lain_sdk.cluster.deploy",
    "EnvChanged": "lain_sdk.cluster.env",
    "EnvListing": "lain_sdk.cluster.env",
    "EnvVar": "lain_sdk.cluster.env",
    "LockInfo": "lain_sdk.cluster.lock_record",
    "LockStatus": "lain_sdk.cluster.lock_record",
    "LogLine": "lain_sdk.cluster.logs",
    "Plan": "lain_sdk.cluster.plan",
    "ProcScale": "lain_sdk.cluster.sizing",
    "ProcSummary": "lain_sdk.cluster.apps",
    "Release": "lain_sdk.cluster.releases",
    "RestartResult": "lain_sdk.cluster.scale",
    "ServiceRoute": "lain_sdk.cluster.discovery",
    "Settings": "lain_sdk.settings",
    "UndeployResult": "lain_sdk.cluster.undeploy",
    "access_logs": "lain_sdk.cluster.logs",
    "app_logs": "lain_sdk.cluster.logs",
    "app_status": "lain_sdk.cluster.status",
    "app_urls": "lain_sdk.cluster.status",
    "break_lock": "lain_sdk.cluster.lock",
    "cluster_down": "lain_sdk.cluster.local",
    "cluster_up": "lain_sdk.cluster.local",
    "deploy_app": "lain_sdk.cluster.deploy",
    "desired_state": "lain_sdk.cluster.desired",
    "list_apps": "lain_sdk.cluster.apps",
    "list_env": "lain_sdk.cluster.env",
    "list_releases": "lain_sdk.cluster.history",
    "lock_status": "lain_sdk.cluster.lock",
    "parse_resource_instance": "lain_sdk.cluster.names",
    "parse_since": "lain_sdk.cluster.logs",
    "plan_deploy": "lain_sdk.cluster.deploy",
    "proc_env": "lain_sdk.cluster.env",
    "resource_instance_name": "lain_sdk.cluster.names",
    "restart_app": "lain_sdk.cluster.scale",
    "rollback_app": "lain_sdk.cluster.history",
    "scale_proc": "lain_sdk.cluster.scale",
    "service_routes": "lain_sdk.cluster.discovery",
    "set_env": "lain_sdk.cluster.env",
    "undeploy_app": "lain_sdk.cluster.undeploy",
    # secrets, and the local helpers run and exec
    "Attachment": "lain_sdk.cluster.attach",
    "ExecSession": "lain_sdk.cluster.exec",
    "OneOff": "lain_sdk.cluster.oneoff",
    "OneOffSession": "lain_sdk.cluster.oneoff",
    "RunResult": "lain_sdk.cluster.run",
    "SecretAdded": "lain_sdk.cluster.secrets",
    "SecretInfo": "lain_sdk.cluster.secrets",
    "SecretRemoved": "lain_sdk.cluster.secrets",
    "SecretValue": "lain_sdk.cluster.secrets",
    "SecretVersion": "lain_sdk.cluster.secret_store",
    "add_secret": "lain_sdk.cluster.secrets",
    "exec_in_instance": "lain_sdk.cluster.exec",
    "list_secrets": "lain_sdk.cluster.secrets",
    "local_release_image": "lain_sdk.cluster.run",
    "read_proc_secrets": "lain_sdk.cluster.secrets",
    "read_secret": "lain_sdk.cluster.secrets",
    "run_oneoff": "lain_sdk.cluster.oneoff",
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
