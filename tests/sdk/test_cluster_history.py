"""The release history and rolling back on a fake swarm."""

from __future__ import annotations

import pytest
from fakes.cluster import REGISTRY, WEB, mv, publish, release_source, run
from fakes.swarm import Behaviour

from lain_sdk.cluster.deploy import deploy_source
from lain_sdk.cluster.history import list_releases, rollback_app
from lain_sdk.cluster.scale import scale_proc
from lain_sdk.cluster.secret_store import remove_versions, stored_secrets
from lain_sdk.cluster.secrets import add_secret
from lain_sdk.cluster.swarm import app_services
from lain_sdk.errors import ClusterError, DeployFailed, InvalidArgument, NotFound
from lain_sdk.events import Message

TIMEOUT = 5.0


def deploy(cluster, text=WEB, n=1):
    return run(deploy_source(cluster, release_source(text, n), timeout=TIMEOUT))[0]


def rollback(cluster, number=None, **kw):
    kw.setdefault("timeout", TIMEOUT)
    return run(rollback_app("shop", number, cluster=cluster, **kw))


def test_rollback_goes_back_to_the_last_good_release_and_records_a_new_one(cluster) -> None:
    deploy(cluster)
    deploy(cluster, n=2)
    result, events = rollback(cluster)
    assert result.release.number == 3 and result.release.kind == "rollback"
    assert result.release.rollback_of == 1 and result.release.outcome == "succeeded"
    assert all(mv(1) in s.image for s in app_services(cluster, "shop").values())
    assert any(isinstance(e, Message) and "back to release 1" in e.text for e in events)
    history = list_releases("shop", cluster=cluster)
    assert [(r.number, r.kind) for r in history] == [(1, "deploy"), (2, "deploy"), (3, "rollback")]


def test_rollback_restores_scale_and_the_procs_a_release_had(cluster) -> None:
    deploy(cluster, text=WEB.split("worker.mail:")[0])  # 1: web only
    run(scale_proc("shop", "web", cluster=cluster, instances=4, timeout=TIMEOUT))  # 2
    deploy(cluster, n=3)  # 3: web and mail
    result, _ = rollback(cluster, 2)
    live = app_services(cluster, "shop")
    assert set(live) == {"web"} and live["web"].scale.instances == 4
    assert [c.action for c in result.plan.procs] == ["update", "remove"]


def test_rolling_back_to_what_runs_changes_nothing(cluster) -> None:
    deploy(cluster)
    deploy(cluster, n=2)
    rollback(cluster, 1)
    result, events = rollback(cluster, 1)
    assert result.release is None
    assert any(
        isinstance(e, Message) and "already runs what release 1 ran" in e.text for e in events
    )


def test_releases_that_cannot_be_rolled_back_to(cluster) -> None:
    with pytest.raises(NotFound, match="shop has no succeeded release before release None"):
        rollback(cluster)
    deploy(cluster)
    with pytest.raises(NotFound, match=r"shop has no release 7 \(releases: 1\)"):
        rollback(cluster, 7)
    cluster.api.script(f"{REGISTRY}/shop:release-{mv(2)}", Behaviour(fails="boom"))
    with pytest.raises(DeployFailed):
        deploy(cluster, n=2)
    with pytest.raises(ClusterError, match="release 2 of shop failed, so it never ran whole"):
        rollback(cluster, 2)
    with pytest.raises(InvalidArgument, match="number must be a whole number >= 1"):
        rollback(cluster, 0)


def test_a_rollback_brings_back_the_secret_version_its_release_mounted(cluster, registry) -> None:
    text = WEB.replace("  memory: 64m\n", "  memory: 64m\n  secret_files: [token]\n", 1)
    publish(registry, text)
    run(add_secret("shop", "web", "token", b"one", cluster=cluster))
    deploy(cluster, text=text)
    run(add_secret("shop", "web", "token", b"two", cluster=cluster, timeout=TIMEOUT))
    assert (
        app_services(cluster, "shop")["web"].container["Secrets"][0]["SecretName"].endswith("-v2")
    )
    result, _ = rollback(cluster)
    assert result.release.rollback_of == 1
    assert (
        app_services(cluster, "shop")["web"].container["Secrets"][0]["SecretName"].endswith("-v1")
    )


def test_a_rollback_to_a_removed_secret_version_is_refused(cluster, registry) -> None:
    text = WEB.replace("  memory: 64m\n", "  memory: 64m\n  secret_files: [token]\n", 1)
    publish(registry, text)
    run(add_secret("shop", "web", "token", b"one", cluster=cluster))
    deploy(cluster, text=text)
    run(add_secret("shop", "web", "token", b"two", cluster=cluster, timeout=TIMEOUT))
    first = [v for v in stored_secrets(cluster, "shop") if v.version == 1]
    remove_versions(cluster, "shop", first)
    with pytest.raises(NotFound, match="mounts secret versions that were removed since"):
        rollback(cluster, 1)


def test_a_rollback_that_fails_is_put_back_too(cluster) -> None:
    deploy(cluster)
    deploy(cluster, n=2)
    cluster.api.script(f"{REGISTRY}/shop:release-{mv(1)}", Behaviour(fails="gone"))
    with pytest.raises(DeployFailed) as failed:
        rollback(cluster, 1)
    assert failed.value.release == 3 and failed.value.serving == 2
    assert all(mv(2) in s.image for s in app_services(cluster, "shop").values())


def test_a_release_not_waited_for_is_settled_by_the_next_command_that_reads_releases(
    cluster,
) -> None:
    deploy(cluster)
    run(deploy_source(cluster, release_source(WEB, 2), timeout=TIMEOUT, wait=False))
    # Each read is one look: pending while Swarm still rolls it out, then settled for good.
    outcomes = []
    for _ in range(10):
        outcomes.append(list_releases("shop", cluster=cluster)[-1].outcome)
        if outcomes[-1] != "pending":
            break
    assert outcomes[0] == "pending" and outcomes[-1] == "succeeded"
    # So a rollback from a later release goes back to it, not past it.
    deploy(cluster, n=3)
    result, _ = rollback(cluster)
    assert result.release.rollback_of == 2


def test_a_rollback_says_which_release_it_chose_and_why_it_skipped_others(cluster) -> None:
    deploy(cluster)
    cluster.api.script(f"{REGISTRY}/shop:release-{mv(2)}", Behaviour(fails="bad config"))
    with pytest.raises(DeployFailed):
        deploy(cluster, n=2)
    deploy(cluster, n=3)
    result, events = rollback(cluster)
    assert result.release.rollback_of == 1
    said = [e.text for e in events if isinstance(e, Message)]
    assert "going back to release 1, the newest succeeded before 3" in said, said
    assert any(t.startswith("skipped release 2 (failed: web: ") for t in said), said
    # Asked for by number, nothing is skipped: nothing to explain.
    _, events = rollback(cluster, 3)
    assert not any("skipped" in e.text for e in events if isinstance(e, Message))


def test_a_rollback_hands_the_engine_the_registry_credentials(cluster, monkeypatch) -> None:
    deploy(cluster)
    deploy(cluster, n=2)
    logins = []
    monkeypatch.setattr(cluster, "login_engine", lambda: logins.append("login") or True)
    rollback(cluster)
    assert logins == ["login"]  # a node its instances land on may have to pull the images
