"""`lain cluster add|ls|show|use|rm`: the settings side, which needs no engine."""

from __future__ import annotations

import json

from lain_cli.exit import ExitStatus


def test_ls_json_is_an_object_with_the_clusters(lain) -> None:
    added = lain("cluster", "add", "prod", "--registry", "registry.example.com")
    assert added.exit_code == ExitStatus.OK, added.stderr
    result = lain("-o", "json", "cluster", "ls")
    assert result.exit_code == ExitStatus.OK, result.stderr
    listed = json.loads(result.stdout)
    assert [(c["name"], c["selected"]) for c in listed["clusters"]] == [
        ("local", True),
        ("prod", False),
    ]


def test_c_after_the_command_selects_the_cluster(lain) -> None:
    assert lain("cluster", "add", "prod", "--registry", "registry.example.com").exit_code == 0
    after = lain("cluster", "ls", "-c", "prod")
    before = lain("-c", "prod", "cluster", "ls")
    assert after.exit_code == ExitStatus.OK, after.stderr
    assert after.stdout == before.stdout
    assert [line.split()[1] for line in after.stdout.splitlines() if line.startswith("*")] == [
        "prod"
    ]
