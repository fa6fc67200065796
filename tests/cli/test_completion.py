"""Dynamic shell completion (lain_cli.completion): through click's completion protocol, as the
scripts call lain, on the fake engine where the values live on a cluster; then through bash,
zsh and fish themselves, running the real ``lain``."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.shell_completion import CompletionItem
from fakes.cluster import mv, publish, release_source, run

import lain_cli.completion as completion
from lain_sdk.cluster.config_vars import ConfigVars, store_set
from lain_sdk.cluster.deploy import deploy_source
from lain_sdk.cluster.secret_store import store_secret
from lain_sdk.cluster.session import Cluster

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = {"bash": "lain.bash", "zsh": "_lain", "fish": "lain.fish"}
IN_CI = os.environ.get("CI", "") not in ("", "0", "false")

SHOP = """\
appname: shop
build:
  base: lain-local/busybox:latest
web:
  cmd: httpd -f -p 80
  secret_files: [config/db.json]
worker.mail:
  cmd: [echo, mail]
  secret_files: [/etc/mail.conf]
"""
BLOG = """\
appname: blog
build:
  base: busybox
web:
  cmd: httpd -f -p 80
worker.feed:
  cmd: [sh, -c, "sleep 1000"]
"""
# The engine of "down" refuses connections at once (nothing listens on port 1).
SETTINGS = """\
current: down
clusters:
  down:
    docker_host: tcp://127.0.0.1:1
    registry: 127.0.0.1:1
  prod:
    docker_host: ssh://deploy@prod.example.com
    registry: registry.example.com
"""


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The current directory holds shop's lain.yaml."""
    app_dir = tmp_path / "shop"
    app_dir.mkdir()
    (app_dir / "lain.yaml").write_text(SHOP)
    monkeypatch.chdir(app_dir)
    return app_dir


@pytest.fixture
def settings(isolation: Path) -> Path:
    path = isolation / ".config" / "lain" / "config.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(SETTINGS)
    return path


@pytest.fixture
def no_engine(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every attempt to reach a cluster or an engine (none of them succeeds)."""
    reached: list[str] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        reached.append("engine")
        raise AssertionError("completion reached an engine")

    monkeypatch.setattr(Cluster, "from_settings", classmethod(refuse))
    monkeypatch.setattr("lain_sdk.engine.connect", refuse)
    return reached


def complete(lain: Any, line: str) -> list[tuple[str, str]]:
    """(value, description) of each completion of ``line`` (the cursor at its end), asked as
    the zsh script asks; lain must succeed and print nothing on stderr."""
    words = shlex.split(line)
    cword = len(words) if line.endswith(" ") else len(words) - 1
    env = {"_LAIN_COMPLETE": "zsh_complete", "COMP_WORDS": line, "COMP_CWORD": str(cword)}
    result = lain(env=env)
    assert (result.exit_code, result.stderr) == (0, "")
    lines = result.stdout.splitlines() if result.stdout.strip() else []
    triples = [lines[i : i + 3] for i in range(0, len(lines), 3)]
    return [(v.replace(r"\:", ":"), "" if h == "_" else h) for t, v, h in triples if t == "plain"]


def values(lain: Any, line: str) -> list[str]:
    return [value for value, _ in complete(lain, line)]


# -- attaching by parameter role -----------------------------------------------------------------


def test_completers_are_attached_by_parameter_name_to_commands_lain_does_not_know() -> None:
    @click.group(name="thing")
    def group() -> None: ...

    @group.command(name="go")
    @click.argument("proc")
    @click.argument("node")
    @click.option("--proc", "more_procs", multiple=True)
    @click.option("-c", "--cluster")
    @click.option("-v", "--version")
    @click.option("--secret-version", "version_number", type=int)
    @click.option("--kind", type=click.Choice(["a", "b"]))
    @click.option("--quiet", is_flag=True)
    def go(**kwargs: Any) -> None: ...

    @group.command(name="version")
    @click.option("--version", type=click.IntRange(min=1))  # a count, not a meta version
    def numbered(**kwargs: Any) -> None: ...

    completion.attach_completers(group)

    def attached(command: click.Command) -> dict[str, bool]:
        return {p.name or "": p._custom_shell_complete is not None for p in command.params}

    assert attached(go) == {
        "proc": True,
        "node": True,
        "more_procs": True,
        "cluster": True,
        "version": True,
        "version_number": False,
        "kind": False,
        "quiet": False,
    }
    assert attached(numbered) == {"version": False}


def test_commands_get_their_completers_when_the_root_group_loads_them() -> None:
    from lain_cli.main import cli

    ctx = click.Context(cli)
    scale = cli.get_command(ctx, "scale")
    rollback = cli.get_command(ctx, "rollback")
    node = cli.get_command(ctx, "node")
    assert scale is not None and rollback is not None and isinstance(node, click.Group)

    def completer_of(command: click.Command, name: str) -> Any:
        return next(p for p in command.params if p.name == name)._custom_shell_complete

    assert completer_of(cli, "cluster") is not None  # the global -c
    assert completer_of(scale, "proc") is not None
    assert completer_of(rollback, "number") is not None
    assert completer_of(node.commands["drain"], "name") is not None


def test_importing_the_cli_imports_no_sdk_module_a_completer_needs() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import sys, lain_cli.main; print(' '.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = set(done.stdout.split())
    lazy = {
        "lain_sdk.settings",
        "lain_sdk.appconfig.loader",
        "lain_sdk.cluster.session",
        "lain_sdk.registry",
        "lain_sdk.engine",
    }
    assert not lazy & loaded
    assert not {m for m in loaded if m.startswith("lain_cli.commands.")}


# -- local values: lain.yaml and the settings, no engine -----------------------------------------


def test_procs_come_from_the_local_lain_yaml(lain: Any, shop: Path, no_engine: list[str]) -> None:
    assert complete(lain, "lain scale ") == [("web", "web"), ("mail", "worker")]
    assert values(lain, "lain exec m") == ["mail"]
    assert values(lain, "lain run ") == ["web", "mail"]
    assert values(lain, "lain secret ls ") == ["web", "mail"]
    assert no_engine == []


def test_every_proc_option_and_a_proc_list_complete(
    lain: Any, shop: Path, no_engine: list[str]
) -> None:
    assert values(lain, "lain deploy --proc ") == ["web", "mail"]
    assert values(lain, "lain undeploy --proc w") == ["web"]
    assert values(lain, "lain logs --proc ") == ["web", "mail"]
    # procs already on the command line are not offered again
    assert values(lain, "lain logs web ") == ["mail"]
    assert no_engine == []


def test_procs_of_the_lain_yaml_in_app_dir(lain: Any, tmp_path: Path, no_engine: list[str]) -> None:
    other = tmp_path / "blog"
    other.mkdir()
    (other / "lain.yaml").write_text(BLOG)

    assert values(lain, f"lain scale --app-dir {other} ") == ["web", "feed"]


def test_a_missing_or_broken_lain_yaml_completes_no_proc(
    lain: Any, shop: Path, no_engine: list[str]
) -> None:
    (shop / "lain.yaml").write_text("appname: shop\nweb:\n\tcmd: x\n")
    assert values(lain, "lain scale ") == []
    (shop / "lain.yaml").unlink()
    assert values(lain, "lain scale ") == []
    assert no_engine == []


def test_clusters_come_from_the_settings(lain: Any, settings: Path, no_engine: list[str]) -> None:
    assert complete(lain, "lain -c ") == [
        ("down", "tcp://127.0.0.1:1 (in use)"),
        ("local", "the local Docker engine"),
        ("prod", "ssh://deploy@prod.example.com"),
    ]
    assert values(lain, "lain cluster use p") == ["prod"]
    assert values(lain, "lain cluster rm ") == ["down", "local", "prod"]
    assert values(lain, "lain cluster show l") == ["local"]
    assert values(lain, "lain cluster add ") == []  # a new name
    assert no_engine == []


def test_a_broken_settings_file_completes_no_cluster(lain: Any, settings: Path) -> None:
    settings.write_text("clusters: [\n")
    assert values(lain, "lain -c ") == []


def test_secret_paths_declared_in_lain_yaml_without_an_engine(
    lain: Any, shop: Path, no_engine: list[str]
) -> None:
    assert complete(lain, "lain secret show web ") == [
        ("/lain/app/config/db.json", "web, in lain.yaml")
    ]
    assert values(lain, "lain secret rm mail ") == ["/etc/mail.conf"]
    # typed relative to /lain/app, as lain.yaml and `secret add` take them
    assert values(lain, "lain secret add web con") == ["config/db.json"]


# -- values on a cluster (the fake engine) ------------------------------------------------------


def test_procs_of_another_app_are_its_services_on_the_cluster(
    lain: Any, shop: Path, cli_cluster: Cluster
) -> None:
    run(deploy_source(cli_cluster, release_source(BLOG), timeout=5))

    assert complete(lain, "lain scale -a blog ") == [("feed", "deployed"), ("web", "deployed")]
    assert values(lain, "lain logs -a blog --proc f") == ["feed"]
    # -a naming the local app reads the local lain.yaml
    assert values(lain, "lain scale -a shop ") == ["web", "mail"]


def test_releases_newest_first_with_their_version_and_age(
    lain: Any, shop: Path, cli_cluster: Cluster
) -> None:
    for n in (1, 2):
        run(deploy_source(cli_cluster, release_source(BLOG, n), timeout=5))

    found = complete(lain, "lain rollback -a blog ")

    assert [value for value, _ in found] == ["2", "1"]
    assert found[0][1].startswith("deploy ") and found[0][1].endswith(" 2222222")
    assert " ago: " in found[0][1] or " just now: " in found[0][1]
    assert found[1][1].endswith(" 1111111")
    assert values(lain, "lain rollback -a blog 1") == ["1"]


def test_secret_paths_stored_on_the_cluster_join_the_declared_ones(
    lain: Any, shop: Path, cli_cluster: Cluster
) -> None:
    store_secret(cli_cluster, "shop", "web", "/lain/app/keys/api.key", b"k1")
    store_secret(cli_cluster, "shop", "web", "/lain/app/keys/api.key", b"k2")
    store_secret(cli_cluster, "shop", "mail", "/etc/other.conf", b"o")

    assert complete(lain, "lain secret show web ") == [
        ("/lain/app/config/db.json", "web, in lain.yaml"),
        ("/lain/app/keys/api.key", "web, stored (version 2)"),
    ]
    assert values(lain, "lain secret show mail ") == ["/etc/mail.conf", "/etc/other.conf"]
    assert values(lain, "lain secret rm web k") == ["keys/api.key"]


def test_config_var_names_of_the_app_or_of_a_proc_from_labels_only(
    lain: Any, shop: Path, cli_cluster: Cluster
) -> None:
    store_set(
        cli_cluster,
        "shop",
        ConfigVars(0, {"LOG_LEVEL": "x", "API_TOKEN": "t"}, {"web": {"N": "1"}}),
    )
    cli_cluster.api.calls.clear()

    assert values(lain, "lain env unset ") == ["API_TOKEN", "LOG_LEVEL"]
    assert values(lain, "lain env unset -p web ") == ["N"]
    assert values(lain, "lain env unset L") == ["LOG_LEVEL"]
    assert "create_service" not in cli_cluster.api.calls  # no reader: names only


def test_nodes_by_hostname_drain_offers_the_active_and_activate_the_drained(
    lain: Any, cli_cluster: Cluster
) -> None:
    cli_cluster.api.add_node("node-worker-2", "worker-2", "10.0.0.2", role="worker")
    cli_cluster.api.add_node("node-worker-3", "worker-3", "10.0.0.3", role="worker")
    cli_cluster.api.set_node("node-worker-3", availability="drain")

    assert complete(lain, "lain node rm ") == [
        ("manager-1", "manager, active, ready"),
        ("worker-2", "worker, active, ready"),
        ("worker-3", "worker, drain, ready"),
    ]
    assert values(lain, "lain node drain ") == ["manager-1", "worker-2"]
    assert values(lain, "lain node activate ") == ["worker-3"]
    assert values(lain, "lain node label w") == ["worker-2", "worker-3"]


@pytest.fixture
def versions(
    shop: Path,
    cli_cluster: Cluster,
    registry: Any,
    fake_docker: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """shop's versions 1 and 2 in the registry, 2 and 3 as meta images on the local engine."""
    for n in (1, 2):
        publish(registry, SHOP, n)
    for n in (2, 3):
        fake_docker.engine.add_image(f"shop:meta-{mv(n)}", labels={"lain.app": "shop"})
    monkeypatch.setattr("lain_sdk.engine.connect", lambda *args, **kwargs: fake_docker)


@pytest.mark.usefixtures("versions")
def test_versions_complete_as_short_shas_newest_first(lain: Any) -> None:
    assert complete(lain, "lain deploy -v ") == [
        ("3333333", "2023-11-14 22:13, local"),
        ("2222222", "2023-11-14 22:13, local and registry"),
        ("1111111", "2023-11-14 22:13, registry"),
    ]
    assert values(lain, "lain run --version 2") == ["2222222"]
    # a digit may begin a sha or a commit time: short shas first, then full versions
    assert values(lain, "lain push -v 1") == ["1111111", mv(3), mv(2), mv(1)]


@pytest.mark.usefixtures("versions")
def test_a_typed_time_completes_full_meta_versions_and_a_long_prefix_the_whole_sha(
    lain: Any,
) -> None:
    assert values(lain, "lain deploy -v 1700000002") == [mv(2)]
    assert values(lain, "lain deploy -v 22222222") == ["2" * 40]


def test_short_shas_grow_until_unique_and_dirty_builds_keep_their_full_version() -> None:
    near = "1700000005-abcdef12" + "0" * 32
    other = "1700000004-abcdef13" + "0" * 32
    dirty = "1700000006-" + "c" * 40 + "-dirty-" + "d" * 12
    found = [CompletionItem(v, help="registry") for v in (near, other, dirty, "latest")]

    items = completion.version_items(found, "")

    assert [i.value for i in items] == ["abcdef12", "abcdef13", dirty]
    assert items[2].help.endswith(", registry, dirty")


def test_an_unreachable_cluster_completes_nothing_and_prints_nothing(
    lain: Any, shop: Path, settings: Path
) -> None:
    # The real session: the settings' cluster in use refuses connections.
    started = time.monotonic()
    assert values(lain, "lain rollback ") == []
    assert values(lain, "lain node drain ") == []
    assert values(lain, "lain scale -a blog ") == []
    assert values(lain, "lain secret show web ") == ["/lain/app/config/db.json"]
    assert time.monotonic() - started < 4 * completion.REMOTE_TIMEOUT


@pytest.fixture
def stuck_cluster(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A cluster that never answers (until the test ends), and a short wait for it."""
    released = threading.Event()

    def hang(*args: Any, **kwargs: Any) -> Any:
        released.wait(30)
        raise TimeoutError

    monkeypatch.setattr(Cluster, "from_settings", classmethod(hang))
    monkeypatch.setattr(completion, "REMOTE_TIMEOUT", 0.3)
    yield
    released.set()


@pytest.mark.usefixtures("stuck_cluster")
def test_a_cluster_that_does_not_answer_is_given_up_on(lain: Any, shop: Path) -> None:
    started = time.monotonic()

    assert values(lain, "lain rollback ") == []
    assert values(lain, "lain secret show web ") == ["/lain/app/config/db.json"]
    assert time.monotonic() - started < 2


def test_lookups_that_answer_in_time_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(completion, "REMOTE_TIMEOUT", 0.3)
    released = threading.Event()

    def slow() -> list[CompletionItem]:
        released.wait(30)
        return [CompletionItem("late")]

    def failing() -> list[CompletionItem]:
        raise OSError("refused")

    try:
        found = completion.within_timeout(
            [slow, lambda: [CompletionItem("a")], failing, lambda: [CompletionItem("b")]]
        )
    finally:
        released.set()
    assert [i.value for i in found] == ["a", "b"]


# -- the real shells ------------------------------------------------------------------------------


def shell(name: str) -> str:
    """The shell's path; under CI a missing shell fails (scripts/setup-engine installs it)."""
    found = shutil.which(name)
    if found is None:
        if IN_CI:
            pytest.fail(f"{name} is not installed: scripts/setup-engine installs it")
        pytest.skip(f"{name} is not installed (apt-get install {name})")
    return found


@pytest.fixture
def on_path(tmp_path: Path, shop: Path, settings: Path) -> dict[str, str]:
    """The environment of a shell whose PATH finds the real ``lain`` entry point first."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    entry = Path(sys.executable).with_name("lain")
    if entry.exists():
        (bin_dir / "lain").symlink_to(entry)
    else:
        (bin_dir / "lain").write_text(f'#!/bin/sh\nexec {sys.executable} -m lain_cli "$@"\n')
        (bin_dir / "lain").chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


def in_shell(name: str, env: dict[str, str], words: list[str]) -> list[str]:
    """What ``name`` completes for ``words`` (the last one being typed), through lain's
    completion script for it, as lines: ``value`` or ``value<TAB>description`` (fish),
    ``value:description`` (zsh, described)."""
    script = str(REPO_ROOT / "completions" / SCRIPTS[name])
    if name == "bash":
        # As bash's programmable completion calls the function: COMP_WORDS, COMP_CWORD, $1.
        code = (
            f'source {shlex.quote(script)}; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); '
            '_lain_completion lain; for reply in "${COMPREPLY[@]}"; do echo "$reply"; done'
        )
        argv = [shell(name), "--norc", "--noprofile", "-c", code, "bash", *words]
    elif name == "zsh":
        # compsys's words and CURRENT; what the function hands to compadd and _describe is
        # printed instead of shown.
        code = (
            "compdef() { : }; "
            '_describe() { print -rl -- "${(@P)3}" }; '
            'compadd() { print -rl -- "${(@P)${@[-1]}}" }; '
            '_path_files() { print -r -- "(files)" }; '
            f'source {shlex.quote(script)}; words=("$@"); CURRENT=$#; _lain_completion'
        )
        argv = [shell(name), "-f", "-c", code, "zsh", *words]
    else:
        line = shlex.join(words[:-1]) + " " + words[-1]
        code = f"source {shlex.quote(script)}; complete -C {shlex.quote(line)}"
        argv = [shell(name), "--no-config", "-c", code]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr) == (0, "")
    return done.stdout.splitlines()


@pytest.mark.parametrize("name", ["bash", "zsh", "fish"])
def test_procs_complete_in_the_shell(name: str, on_path: dict[str, str]) -> None:
    expected = {
        "bash": ["web", "mail"],
        "zsh": ["web:web", "mail:worker"],
        "fish": ["web\tweb", "mail\tworker"],
    }
    assert in_shell(name, on_path, ["lain", "scale", ""]) == expected[name]
    assert in_shell(name, on_path, ["lain", "deploy", "--proc", "m"]) == expected[name][1:]


@pytest.mark.parametrize("name", ["bash", "zsh", "fish"])
def test_clusters_complete_in_the_shell(name: str, on_path: dict[str, str]) -> None:
    found = in_shell(name, on_path, ["lain", "-c", ""])

    assert [line.split("\t")[0].split(":")[0] for line in found] == ["down", "local", "prod"]
    if name != "bash":  # bash shows no descriptions
        assert found[0].endswith("tcp://127.0.0.1:1 (in use)")


@pytest.mark.parametrize("name", ["bash", "zsh", "fish"])
def test_an_unreachable_cluster_completes_nothing_in_the_shell(
    name: str, on_path: dict[str, str]
) -> None:
    assert in_shell(name, on_path, ["lain", "rollback", ""]) == []
    # declared secret files still complete; those stored on the cluster are left out
    found = in_shell(name, on_path, ["lain", "secret", "show", "web", "con"])
    assert [line.split("\t")[0].split(":")[0] for line in found] == ["config/db.json"]
