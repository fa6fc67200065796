"""Where each ``lain`` command lives, so that a run imports only the command it runs.

``lain --help`` and ``lain --version`` import no command module at all; tests/cli/test_main.py
checks this table against the commands themselves (names, summaries, nothing missing).
"""

from __future__ import annotations

from typing import NamedTuple


class Entry(NamedTuple):
    module: str  # under lain_cli.commands
    attribute: str
    summary: str  # the line `lain --help` shows (at most 60 characters)


# Sections in the order `lain --help` lists them.
SECTIONS: dict[str, dict[str, Entry]] = {
    "lain.yaml": {
        "validate": Entry(
            "validate", "validate", "Check a lain.yaml and describe the app it defines."
        ),
        "schema": Entry("schema", "schema", "Print the JSON Schema of lain.yaml."),
        "init": Entry("schema", "init", "Write a commented starter lain.yaml and its schema."),
    },
    "Images": {
        "meta": Entry("basics", "meta", "Print the meta version of the app's commit."),
        "prepare": Entry("build", "prepare", "Build the prepare image, or reuse the matching one."),
        "build": Entry("build", "build", "Build the prepare, build, release and meta images."),
        "test": Entry("build", "test_command", "Run test.script on the app's build image."),
        "push": Entry("push", "push", "Push the release and meta images to the registry."),
        "versions": Entry(
            "registry", "versions", "List the app's versions in the registry, newest first."
        ),
        "clean": Entry("clean", "clean", "Remove the app's local images but the newest versions."),
        "login": Entry("registry", "login", "Log in to a registry and keep the credentials."),
        "logout": Entry("registry", "logout", "Forget the credentials of a registry."),
    },
    "Cluster": {
        "deploy": Entry(
            "deploy", "deploy", "Deploy a version of the app and wait until it is healthy."
        ),
        "scale": Entry("deploy", "scale", "Change the instances, CPU or memory of a proc."),
        "restart": Entry(
            "deploy", "restart", "Replace the instances of the app's procs, one at a time."
        ),
        "ps": Entry("status", "ps", "Show the app's procs and instances: health and addresses."),
        "apps": Entry(
            "apps", "apps", "List the apps on the cluster: release, procs, health, URLs."
        ),
        "logs": Entry(
            "logs",
            "logs",
            "Print the merged logs of the app's procs.",
        ),
        "one-off": Entry(
            "oneoff", "one_off", "Run a one-off command with a proc's release on the cluster."
        ),
        "releases": Entry(
            "deploy", "releases", "List the app's releases: who deployed what, and when."
        ),
        "rollback": Entry(
            "deploy",
            "rollback",
            "Go back to a release: images, scale and resources at once.",
        ),
        "undeploy": Entry(
            "deploy", "undeploy", "Remove the app's services and network from the cluster."
        ),
        "unlock": Entry("lock", "unlock", "Show who holds the app's lock; --force breaks it."),
        "cluster": Entry("cluster", "cluster", "Manage the clusters lain deploys to."),
        "node": Entry("node", "node", "List, add, label, drain and remove the swarm's nodes."),
        "router": Entry("router", "router", "Run the router that serves apps by domain and path."),
        "cert": Entry("cert", "cert", "Store, list and remove the router's TLS certificates."),
    },
    "Secrets and local helpers": {
        "secret": Entry("secret", "secret", "Store, list, read and remove the app's secret files."),
        "env": Entry("env", "env", "Set, unset and list config vars, rolled out as releases."),
        "run": Entry("run", "run", "Run a proc of the built release in a local container."),
        "exec": Entry("run", "exec_command", "Run a command in a running instance of a proc."),
    },
    "Other": {
        "version": Entry("basics", "version", "Print lain's version and the Python it runs on."),
        "completion": Entry("basics", "completion", "Print the shell completion script for SHELL."),
    },
}

COMMANDS: dict[str, Entry] = {
    name: e for section in SECTIONS.values() for name, e in section.items()
}
