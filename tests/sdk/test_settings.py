"""Settings: where the file is, which cluster is selected, and clear errors for a bad file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lain_sdk.errors import ClusterNotFound, NotFound, SettingsError
from lain_sdk.settings import (
    LOCAL_DEFAULT,
    ClusterSettings,
    Settings,
    data_dir,
    default_settings_path,
)


def test_file_location_order(tmp_path: Path) -> None:
    assert default_settings_path({"LAIN_CONFIG": str(tmp_path / "x.yaml")}) == tmp_path / "x.yaml"
    assert default_settings_path({"XDG_CONFIG_HOME": "/cfg", "HOME": "/h"}) == Path(
        "/cfg/lain/config.yaml"
    )
    assert default_settings_path({"HOME": "/h"}) == Path("/h/.config/lain/config.yaml")
    assert data_dir({"XDG_DATA_HOME": "/d"}) == Path("/d/lain")
    assert data_dir({"HOME": "/h"}) == Path("/h/.local/share/lain")


def test_no_file_means_the_local_default(tmp_path: Path) -> None:
    settings = Settings.load(tmp_path / "none.yaml", environ={})
    assert settings.clusters == {}
    assert settings.cluster() == LOCAL_DEFAULT
    assert settings.cluster().registry == "127.0.0.1:5000"
    # A name that reaches this machine with no /etc/hosts entry; v2's domain is still served.
    assert settings.cluster().domains == ("lain.localhost", "lain.local")
    assert not settings.cluster().publish_ports  # the router serves web procs
    assert settings.names() == ["local"]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


CONFIG = """\
current: prod
clusters:
  prod:
    docker_host: ssh://deploy@manager1
    registry: registry.example.com
    domains: [example.com, example.org]
  lab:
    docker_host: tcp://10.0.0.5:2376
    registry: 10.0.0.5:5000
    insecure_registry: true
"""


def test_selection_order(tmp_path: Path) -> None:
    path = _write(tmp_path, CONFIG)
    settings = Settings.load(path, environ={})
    assert settings.cluster().name == "prod"  # current
    assert settings.cluster().domains == ("example.com", "example.org")
    assert settings.cluster().domain == "example.com"
    assert settings.cluster("lab").insecure_registry
    env = Settings.load(path, environ={"LAIN_CLUSTER": "lab"})
    assert env.cluster().name == "lab"  # LAIN_CLUSTER beats current
    assert env.cluster("prod").name == "prod"  # the option beats LAIN_CLUSTER
    assert env.cluster("local") == LOCAL_DEFAULT  # built in, even when not in the file
    assert env.selected_name() == "lab"


def test_unknown_cluster_lists_the_known_ones(tmp_path: Path) -> None:
    settings = Settings.load(_write(tmp_path, CONFIG), environ={})
    with pytest.raises(ClusterNotFound) as caught:
        settings.cluster("staging")
    assert str(caught.value) == (
        f"no cluster named 'staging' in {settings.path} (clusters: lab, local, prod); add it first"
    )
    assert (caught.value.name, caught.value.known) == ("staging", ("lab", "local", "prod"))


def test_add_use_remove_and_save_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "config.yaml"
    settings = Settings.load(path, environ={})
    settings.add(ClusterSettings("lab", docker_host="tcp://h:2376", registry="h:5000"))
    settings.use("lab")
    settings.save()
    assert path.stat().st_mode & 0o777 == 0o600
    again = Settings.load(path, environ={})
    assert again.current == "lab"
    assert again.cluster() == ClusterSettings("lab", docker_host="tcp://h:2376", registry="h:5000")
    again.remove("lab")
    assert again.current is None
    again.save()
    assert Settings.load(path, environ={}).cluster() == LOCAL_DEFAULT
    with pytest.raises(NotFound):
        again.remove("lab")
    with pytest.raises(NotFound):
        again.use("nope")


def test_invalid_names_and_values_are_refused(tmp_path: Path) -> None:
    settings = Settings.load(tmp_path / "c.yaml", environ={})
    with pytest.raises(SettingsError):
        settings.add(ClusterSettings("bad name", registry="r"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("clusters: [\n", "config.yaml:2:1"),
        ("- a\n- b\n", "expected a mapping"),
        ("colour: red\n", "unknown key(s) colour"),
        ("clusters:\n  x: {docker_host: tcp://h}\n", "clusters.x.registry must be"),
        ("clusters:\n  x: {registry: r, insecure_registry: maybe}\n", "must be true or false"),
        ("clusters:\n  x: {registry: r, colour: red}\n", "clusters.x: unknown key(s) colour"),
        # Every key has its type; the message names the key and what it got, never the value.
        ("clusters:\n  x: {registry: r, tls_cert_path: [a]}\n",
         "clusters.x.tls_cert_path must be a directory path, not a list"),
        ("clusters:\n  x: {registry: r, docker_host: 7}\n",
         "clusters.x.docker_host must be a URL, not a number"),
        ("clusters:\n  x: {registry: [r]}\n",
         "clusters.x.registry must be a registry host[:port], not a list"),
        ("clusters:\n  x: {registry: ''}\n", "registry host[:port], not an empty string"),
        ("clusters:\n  x: {registry: r, domains: {a: b}}\n",
         "clusters.x.domains must be a list of domains"),
        ("clusters:\n  x: {registry: r, publish_ports: 1}\n",
         "clusters.x.publish_ports must be true or false, not a number"),
        ("clusters:\n  x: [registry]\n", "clusters.x must be a mapping, not a list"),
        ("clusters:\n  [a]: {registry: r}\n", "config.yaml:2:3"),
        ("clusters:\n  true: {registry: r}\n", "a cluster name must be a string, not true or"),
        ("clusters: 3\n", "`clusters` must be a mapping of name to settings, not a number"),
        ("current: [prod]\n", "`current` must be a cluster name, not a list"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ],
)  # fmt: skip
def test_a_corrupt_file_names_itself(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(SettingsError) as caught:
        Settings.load(path, environ={})
    assert str(path) in str(caught.value)
    assert message in str(caught.value)


def test_lain_config_variable_names_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, CONFIG)
    assert Settings.load(environ={"LAIN_CONFIG": str(path)}).cluster().name == "prod"


# -- the parsed settings kept in the cache ---------------------------------------------------


def _load_in_fresh_process(config: Path, cache: Path) -> tuple[str, bool]:
    """The registry of the cluster in use, and whether YAML was parsed to find it."""
    code = (
        "import sys; from lain_sdk.settings import Settings\n"
        "print(Settings.load().cluster().registry, 'yaml' in sys.modules)"
    )
    env = {**os.environ, "LAIN_CONFIG": str(config), "XDG_CACHE_HOME": str(cache)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    registry, parsed = done.stdout.split()
    return registry, parsed == "True"


def test_a_settings_text_seen_before_is_read_without_a_yaml_parser(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("current: prod\nclusters:\n  prod:\n    registry: one.example.com\n")
    assert _load_in_fresh_process(config, tmp_path / "cache") == ("one.example.com", True)
    assert _load_in_fresh_process(config, tmp_path / "cache") == ("one.example.com", False)
    config.write_text("current: prod\nclusters:\n  prod:\n    registry: two.example.com\n")
    assert _load_in_fresh_process(config, tmp_path / "cache") == ("two.example.com", True)


def test_an_unwritable_cache_or_yaml_json_cannot_hold_only_costs_time(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.write_text("a file where the cache directory should be")
    config = tmp_path / "config.yaml"
    config.write_text("current: prod\nclusters:\n  prod:\n    registry: one.example.com\n")
    env = {"LAIN_CONFIG": str(config), "XDG_CACHE_HOME": str(cache)}
    assert Settings.load(environ=env).cluster().registry == "one.example.com"
    # An int cluster name reads back from JSON as a string: such data is never kept.
    config.write_text("clusters:\n  7:\n    registry: seven.example.com\n")
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache2")
    for _ in range(2):
        assert Settings.load(environ=env).cluster("7").registry == "seven.example.com"
    assert not list((tmp_path / "cache2").rglob("*.json"))


def test_a_file_that_is_not_utf8_names_itself_and_where(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(b"current: prod\nclusters:\n  prod: {registry: caf\xe9}\n")
    with pytest.raises(SettingsError) as caught:
        Settings.load(path, environ={})
    assert str(caught.value) == (
        f"{path}:3:23: not UTF-8 text (byte 0xe9); save the lain settings file as UTF-8, or "
        "remove it"
    )


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.endswith(".tmp"))


def test_a_failed_save_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings.load(tmp_path / "config.yaml", environ={})
    settings.add(ClusterSettings("lab", registry="r"))

    def full_disk(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(SettingsError, match="No space left on device"):
        settings.save()
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    monkeypatch.setattr(os, "write", full_disk)  # the write itself fails, not the rename
    with pytest.raises(SettingsError, match="No space left on device"):
        settings.save()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_read_only_folder_is_a_settings_error_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    real_open = os.open

    def refused(path: str, *args: object, **kwargs: object) -> int:
        # What the kernel answers a user (root is never refused, so it is played here).
        if str(path).startswith(str(folder)):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", refused)
    settings = Settings.load(folder / "config.yaml", environ={})
    settings.add(ClusterSettings("lab", registry="r"))
    with pytest.raises(SettingsError, match="cannot write the lain settings file"):
        settings.save()
    assert list(folder.iterdir()) == []


def test_a_cache_that_cannot_be_written_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _write(tmp_path, CONFIG)
    cache = tmp_path / "cache"

    def full_disk(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    env = {"XDG_CACHE_HOME": str(cache)}
    assert Settings.load(config, environ=env).cluster().name == "prod"
    assert _leftovers(cache) == [] and not list(cache.rglob("*.json"))
