"""``lain validate`` and every load of lain.yaml check mountpoints with the router's own parser
(lain_router.model.parse_mountpoint): what passes is what the router serves, and nothing that
could change the meaning of its nginx configuration passes."""

from __future__ import annotations

import pytest

from lain_cli.exit import ExitStatus
from lain_sdk.appconfig import parse_app_config
from lain_sdk.errors import AppConfigError

HEAD = "appname: hello\nbuild:\n  base: golang\n"  # three lines: the body starts on line 4
HOW = (
    "write a mountpoint as example.com, example.com/path or /path (letters, digits and "
    "._~%!&()*+,=:@- between single slashes)"
)
NOT_A_HOST = "is not a host name (letters, digits, '-', '.', '*.')"


def problems(mountpoints: str, section: str = "web") -> list[str]:
    with pytest.raises(AppConfigError) as e:
        parse_app_config(f"{HEAD}{section}:\n  mountpoint: {mountpoints}\n")
    return [str(p) for p in e.value.problems]


@pytest.mark.parametrize(
    "mountpoints",
    [
        "[a.example.com]",
        "[a.example.com/v1, /api, /api/v2]",
        '["*.example.com"]',
        "[A.Example.COM/x/]",  # case and a trailing slash mean nothing to the router
        '["a.example.com/~user/a%20b/x=1,y:2@z"]',
        '["/"]',
    ],
)
def test_mountpoints_the_router_serves_pass(mountpoints: str) -> None:
    config = parse_app_config(f"{HEAD}web:\n  mountpoint: {mountpoints}\n")
    assert config.proc("web").mountpoints


@pytest.mark.parametrize(
    ("mountpoint", "said"),
    [
        # nginx syntax: a server of its own, a variable, a regex, a comment
        ('"x.test; } server { listen 81;"', f"'x.test; }} server {{ listen 81;' {NOT_A_HOST}"),
        ('"a.test/$host"', "'a.test/$host': a path prefix takes letters"),
        ('"a.test/x{1,2}"', "'a.test/x{1,2}': a path prefix takes letters"),
        ('"a.test/x#y"', "'a.test/x#y': a path prefix takes letters"),
        ('"/a b"', "'/a b' is not a path"),
        ('"/a;b"', "'/a;b' is not a path"),
        ('"/../etc"', "'/../etc' is not a path"),
        ('"/a//b"', "'/a//b' is not a path"),
        ("exa_mple.com", f"'exa_mple.com' {NOT_A_HOST}"),
        ('"a.test:8080"', f"'a.test:8080' {NOT_A_HOST}"),
        ('"-a.test"', f"'-a.test' {NOT_A_HOST}"),
        ('"a.*.test"', f"'a.*.test' {NOT_A_HOST}"),
    ],
)
def test_a_mountpoint_the_router_would_refuse_is_named_with_its_place(
    mountpoint: str, said: str
) -> None:
    (problem,) = problems(f"[ok.example.com, {mountpoint}]")
    assert problem.startswith(f"lain.yaml:5:32: web.mountpoint[1]: {said}")
    assert problem.endswith(HOW)


def test_every_bad_mountpoint_of_every_web_proc_is_named() -> None:
    text = (
        f"{HEAD}web:\n  mountpoint: ['a b', /ok]\n"
        "web.admin:\n  mountpoint: [/x/../y, admin.example.com]\n"
    )
    with pytest.raises(AppConfigError) as e:
        parse_app_config(text)
    assert [p.key_path for p in e.value.problems] == [
        "web.mountpoint[0]",
        "web.admin.mountpoint[0]",
    ]


def test_a_template_is_left_to_the_resource_rendering_it() -> None:
    # A resource's lain.yaml is a template; its mountpoints are checked once rendered.
    config = parse_app_config(f"{HEAD}web:\n  mountpoint: ['/{{{{ x }}}}']\n")
    assert config.proc("web")


def test_lain_validate_exits_3_naming_the_mountpoint(lain, tmp_path) -> None:
    (tmp_path / "lain.yaml").write_text(f'{HEAD}web:\n  mountpoint: ["x.test; }} server {{"]\n')
    result = lain("validate", str(tmp_path))
    assert result.exit_code == ExitStatus.CONFIG_INVALID
    assert "web.mountpoint[0]: 'x.test; } server {' is not a host name" in result.stderr
