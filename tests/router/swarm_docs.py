"""Engine API documents of routed services and their tasks, as the router reads them."""

from __future__ import annotations

import json
from typing import Any

from lain_router.labels import StreamPort, router_labels


def service(
    app: str,
    proc: str = "web",
    mountpoints: list[str] | None = None,
    *,
    port: int = 80,
    https_only: bool = False,
    streams: list[StreamPort] | None = None,
    created: str = "2026-01-01T00:00:00Z",
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    name = f"{app}__{proc}"
    given = router_labels(
        network=f"lain-router_{app}",
        mountpoints=mountpoints if mountpoints is not None else [f"{app}.example.test"],
        port=port,
        https_only=https_only,
        streams=streams or (),
    )
    return {
        "ID": f"id-{name}",
        "CreatedAt": created,
        "Spec": {
            "Name": name,
            "Labels": {"lain.app": app, "lain.proc": proc, **given, **(labels or {})},
        },
    }


def task(
    owner: dict[str, Any],
    address: str,
    *,
    state: str = "running",
    desired: str = "running",
    slot: int = 1,
) -> dict[str, Any]:
    network = owner["Spec"]["Labels"]["lain.router.network"]
    return {
        "ID": f"task-{owner['Spec']['Name']}-{slot}-{address}",
        "ServiceID": owner["ID"],
        "Slot": slot,
        "DesiredState": desired,
        "Status": {"State": state},
        "NetworksAttachments": [
            {"Network": {"Spec": {"Name": "lain_other"}}, "Addresses": ["10.9.9.9/24"]},
            {"Network": {"Spec": {"Name": network}}, "Addresses": [f"{address}/24"]},
        ],
    }


def with_label(document: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    text = value if isinstance(value, str) else json.dumps(value)
    document["Spec"]["Labels"][key] = text
    return document
