"""What a deploy would change: the desired state compared with the live services."""

from __future__ import annotations

import json
from typing import Any

from fakes.cluster import SHOP, SHOP_IMAGE, SHOP_MV

from lain_sdk.appconfig import parse_app_config
from lain_sdk.cluster.desired import DesiredState, desired_state
from lain_sdk.cluster.plan import plan_changes
from lain_sdk.cluster.spec import same_spec
from lain_sdk.settings import LOCAL_DEFAULT


def state(**kw: Any) -> DesiredState:
    kw.setdefault("release", 3)
    app = parse_app_config(kw.pop("text", SHOP), domains=["lain.local"])
    return desired_state(app, meta_version=SHOP_MV, image=SHOP_IMAGE, cluster=LOCAL_DEFAULT, **kw)


def test_plan_against_live_services() -> None:
    old = state(release=1)
    new_text = (
        SHOP.replace("num_instances: 2", "num_instances: 3")
        .replace("API_TOKEN=s3cr3t", "API_TOKEN=other")
        .replace("oneshot.migrate:\n  cmd: [echo, migrated]\n", "")
    )
    new = state(release=2, text=new_text)
    live = {s.proc: s.spec for s in old.services}
    live["legacy"] = {"Name": "shop__legacy", "Labels": {}}
    plan = plan_changes(new, live, network_exists=True, current_release=1)
    actions = {c.proc: c.action for c in plan.procs}
    assert actions == {
        "web": "update",
        "mail": "unchanged",
        "migrate": "remove",
        "legacy": "remove",
    }
    web = next(c for c in plan.procs if c.proc == "web")
    assert web.changes["instances"] == {"from": 2, "to": 3}
    assert web.changes["env"] == {"changed": ["API_TOKEN"]}
    text = json.dumps(plan.to_dict())
    assert "s3cr3t" not in text and "other" not in text  # env values never appear
    assert plan.changed and plan.to_dict()["current_release"] == 1
    assert "instances 2 -> 3" in web.summary()

    same = plan_changes(
        state(release=5), {s.proc: s.spec for s in old.services}, network_exists=True
    )
    assert not same.changed
    first = plan_changes(state(), {}, network_exists=False)
    assert first.create_network and {c.action for c in first.procs} == {"create"}
    limited = plan_changes(state(procs=["web"]), live, network_exists=True, remove_others=False)
    assert [c.proc for c in limited.procs] == ["web"]


def test_an_image_changed_by_hand_is_put_back() -> None:
    web = state().service("web")
    live = json.loads(json.dumps(web.spec))
    live["TaskTemplate"]["ContainerSpec"]["Image"] = "elsewhere/shop:hotfix"  # labels kept
    assert not same_spec(live, web.spec)
    plan = plan_changes(state(procs=["web"]), {"web": live}, network_exists=True)
    assert plan.procs[0].action == "update"
    assert plan.procs[0].changes["image"]["from"] == "elsewhere/shop:hotfix"
