"""The pure parts of secrets, `lain run` and `lain exec`: names, paths, mounts, specs, parsing."""

from __future__ import annotations

import base64
import io
import tarfile

import pytest

from lain_cli.commands.run import _instance_and_command
from lain_sdk.appconfig import parse_app_config
from lain_sdk.cluster import desired as d
from lain_sdk.cluster import secrets as s
from lain_sdk.cluster.releases import ReleaseProc
from lain_sdk.cluster.run import _secret_tar, node_engine_url, pick_instance
from lain_sdk.errors import NotFound
from lain_sdk.settings import LOCAL_DEFAULT

MV = "1700000000-" + "a" * 40
IMAGE = "127.0.0.1:5000/shop:release-" + MV

LAIN_YAML = """\
appname: shop
build:
  base: lain-local/busybox:latest
web:
  cmd: httpd -f -p 80
  secret_files: [config/db.json, /etc/token]
worker.mail:
  cmd: [echo, mail]
  user: "1000:50"
  secret_files: [mail.conf]
"""


def version(proc: str, path: str, number: int, secret_id: str = "") -> s.SecretVersion:
    return s.SecretVersion(
        "shop", proc, path, number, secret_id or f"id-{proc}-{number}", s.secret_name(
            "shop", proc, path, number
        )
    )


def test_paths_are_normalised_like_secret_files() -> None:
    assert s.secret_path("config/db.json") == "/lain/app/config/db.json"
    assert s.secret_path(" /etc/token ") == "/etc/token"
    assert s.secret_path("../etc/x") == "/lain/etc/x"
    assert s.secret_path("a/./b/../c") == "/lain/app/a/c"
    for bad in ("", "  ", "/", "/lain", "/lain/app", "..", "config/"):
        with pytest.raises(ValueError):
            s.secret_path(bad)


def test_proc_names() -> None:
    assert s.check_proc_name("web") == "web" and s.check_proc_name("portal-x1") == "portal-x1"
    for bad in ("", "1web", "web_x", "web--x", "web.mail", "-web"):
        with pytest.raises(ValueError):
            s.check_proc_name(bad)


def test_secret_names_fit_swarm_and_keep_their_version() -> None:
    name = s.secret_name("shop", "web", "/lain/app/config/db.json", 3)
    assert name.startswith("lain-secret-shop-web-") and name.endswith("-v3")
    assert s.version_of(name) == 3
    assert name != s.secret_name("shop", "web", "/lain/app/config/db.jsom", 3)
    long = s.secret_name("resource.redis." + "x" * 80, "portal-redis", "/etc/a", 12)
    assert len(long) <= 64 and long.endswith("-v12") and s.version_of(long) == 12
    other = s.secret_name("resource.redis." + "x" * 81, "portal-redis", "/etc/a", 12)
    assert other != long
    assert s.version_of("no-version") is None


def test_mounts_are_read_only_files_owned_by_root_or_the_numeric_user() -> None:
    v = version("web", "/etc/token", 2)
    assert v.mount() == {
        "SecretID": "id-web-2",
        "SecretName": v.name,
        "File": {"Name": "/etc/token", "UID": "0", "GID": "0", "Mode": 0o400},
    }
    assert v.mount("1000")["File"]["UID"] == "1000" and v.mount("1000")["File"]["GID"] == "1000"
    assert (v.mount("1000:50")["File"]["UID"], v.mount("1000:50")["File"]["GID"]) == ("1000", "50")
    assert v.mount("nobody")["File"]["UID"] == "0"  # a name cannot be resolved without the image


def test_desired_specs_mount_secrets_and_change_with_a_new_version() -> None:
    config = parse_app_config(LAIN_YAML, domains=["lain.local"])
    web_mounts = [
        version("web", "/lain/app/config/db.json", 1).mount(),
        version("web", "/etc/token", 4).mount(),
    ]

    def web(mounts: list[dict]) -> dict:
        state = d.desired_state(
            config,
            meta_version=MV,
            image=IMAGE,
            cluster=LOCAL_DEFAULT,
            release=1,
            secret_mounts={"web": mounts},
        )
        return state.service("web").spec

    spec = web(web_mounts)
    mounted = spec["TaskTemplate"]["ContainerSpec"]["Secrets"]
    assert [m["File"]["Name"] for m in mounted] == ["/etc/token", "/lain/app/config/db.json"]
    assert s.spec_secret_versions(spec) == {"/etc/token": 4, "/lain/app/config/db.json": 1}

    rotated = web([web_mounts[0], version("web", "/etc/token", 5).mount()])
    assert d.spec_hash(rotated) != d.spec_hash(spec)
    changes = d.describe_changes(rotated, spec)
    assert changes == {
        "secrets": {
            "from": {"/etc/token": 4, "/lain/app/config/db.json": 1},
            "to": {"/etc/token": 5, "/lain/app/config/db.json": 1},
        }
    }
    # Without secret mounts there is no Secrets key at all.
    assert "Secrets" not in web([])["TaskTemplate"]["ContainerSpec"]
    assert "secrets" not in d.describe_changes(web([]), None)


def test_release_records_carry_versions_never_values() -> None:
    config = parse_app_config(LAIN_YAML, domains=["lain.local"])
    state = d.desired_state(
        config,
        meta_version=MV,
        image=IMAGE,
        cluster=LOCAL_DEFAULT,
        release=1,
        secret_mounts={"mail": [version("mail", "/lain/app/mail.conf", 7).mount("1000:50")]},
    )
    proc = ReleaseProc.from_spec(state.service("mail").spec)
    assert proc.secrets == {"/lain/app/mail.conf": 7}
    assert proc.to_dict()["secrets"] == {"/lain/app/mail.conf": 7}
    assert ReleaseProc.from_spec(state.service("web").spec).secrets == {}


def test_values_stay_out_of_reprs() -> None:
    value = s.SecretValue("shop", "web", "/etc/token", 1, b"hunter2")
    assert "hunter2" not in repr(value)


def test_reader_log_is_parsed_or_refused() -> None:
    one, two = b"\x00\xffbinary\n", b"x" * 100
    log = "\n".join(
        [
            "--- /run/secrets/lain-secret-0",
            base64.b64encode(one).decode(),
            "--- /run/secrets/lain-secret-1",
            *(lambda t: [t[:76], t[76:]])(base64.b64encode(two).decode()),
            "--- lain-secret-end",
            "",
        ]
    )
    assert s.parse_reader_log(log, 2) == [one, two]
    cut = log.split("--- lain-secret-end")[0]
    with pytest.raises(ValueError, match="ended early"):
        s.parse_reader_log(cut, 2)
    with pytest.raises(ValueError, match="1 values instead of 2"):
        s.parse_reader_log("--- a\nAAAA\n--- lain-secret-end\n", 2)
    with pytest.raises(ValueError) as caught:
        s.parse_reader_log("--- a\nnot base64!\n--- lain-secret-end\n", 1)
    assert "not base64!" not in str(caught.value)


def test_secret_tar_holds_only_the_files_read_only() -> None:
    data = _secret_tar({"/lain/app/config/db.json": b"{}", "/etc/token": b"t"}, "1000:50")
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = tar.getmembers()
        assert [(m.name, m.mode, m.uid, m.gid, m.isfile()) for m in members] == [
            ("etc/token", 0o400, 1000, 50, True),
            ("lain/app/config/db.json", 0o400, 1000, 50, True),
        ]


def test_node_engine_urls() -> None:
    assert node_engine_url("ssh://deploy@manager1", "10.0.0.7") == "ssh://deploy@10.0.0.7"
    assert node_engine_url("ssh://deploy@manager1:2222", "10.0.0.7") == "ssh://deploy@10.0.0.7:2222"
    assert node_engine_url("tcp://manager1:2376", "10.0.0.7") == "tcp://10.0.0.7:2376"
    assert node_engine_url("tcp://manager1:2376", "fd00::7") == "tcp://[fd00::7]:2376"
    assert node_engine_url(None, "10.0.0.7") is None
    assert node_engine_url("unix:///var/run/docker.sock", "10.0.0.7") is None
    assert node_engine_url("ssh://deploy@manager1", "") is None


def task(slot: int, state: str = "running", created: str = "2024-01-01T00:00:00Z", **kw) -> dict:
    return {
        "ID": f"task-{slot}-{created}",
        "Slot": slot,
        "NodeID": kw.get("node", "node-a"),
        "CreatedAt": created,
        "DesiredState": kw.get("desired", "running"),
        "Status": {"State": state, "ContainerStatus": {"ContainerID": f"c{slot}-{created[8:10]}"}},
    }


def test_pick_instance() -> None:
    tasks = [
        task(2),
        task(1, created="2024-01-01T00:00:00Z"),
        task(1, created="2024-01-02T00:00:00Z"),  # the newer task of instance 1 (an update)
        task(3, state="starting"),
        task(4, desired="shutdown"),
    ]
    chosen = pick_instance("shop", "web", tasks, None)
    assert (chosen.instance, chosen.task) == (1, "task-1-2024-01-02T00:00:00Z")
    assert pick_instance("shop", "web", tasks, 2).container == "c2-01"
    with pytest.raises(NotFound, match=r"instance 3 of shop web is not running \(running: 1, 2\)"):
        pick_instance("shop", "web", tasks, 3)
    with pytest.raises(NotFound, match="no instance of shop web is running"):
        pick_instance("shop", "web", [task(1, state="failed")], None)


def test_exec_arguments_split_the_instance_from_the_command() -> None:
    assert _instance_and_command(("2", "ls", "-l")) == (2, ["ls", "-l"])
    assert _instance_and_command(("ls", "-l")) == (None, ["ls", "-l"])
    assert _instance_and_command(("true",)) == (None, ["true"])
    assert _instance_and_command(("7",)) == (None, ["7"])
