"""Instances, CPU and memory of a proc, and the rule that decides which value a deploy keeps.

Scale wins until lain.yaml changes: each service keeps, in labels, the instances, cpu and memory
of the lain.yaml it was deployed from.  A deploy keeps the live (scaled) value unless the new
lain.yaml changed that value compared to the lain.yaml of the previous deploy
(:func:`effective_scale`).  lain v2 kept the live values forever, so a lain.yaml edit did nothing.

``cpu`` is a number of CPUs (like ``docker run --cpus``), 0 meaning no limit.  lain v2 read it as
a level 1-8 of a node (level/8 of the node's CPUs); reading it as a CPU count gives a v2 app at
least as much CPU as before on nodes of up to 8 CPUs, and limits never affect scheduling, so no
app stops fitting.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import lain_sdk.arguments as arguments
from lain_sdk.cluster.names import LABEL_YAML_CPU, LABEL_YAML_INSTANCES, LABEL_YAML_MEMORY
from lain_sdk.errors import InvalidArgument
from lain_sdk.units import MAX_MEMORY, MIN_MEMORY, format_bytes, parse_size

NANO = 1_000_000_000
# The most instances one proc may have.  Swarm accepts any count and its managers keep every
# task in memory (and in their Raft log): a count of 10^11 took a whole swarm down.  A thousand
# instances of one proc is far more than an app of a lain cluster runs, and well within what a
# manager handles.  The schema of lain.yaml holds num_instances to the same maximum.
MAX_INSTANCES = 1000
# CPU limits are sent as NanoCPUs (an int64 of billionths of a CPU).  Below a hundredth of a CPU
# the limit rounds towards 0, which the engine reads as "no limit" (Docker's own minimum for
# --cpus is 0.01); above 1024 CPUs it is a typo, not a machine.
MIN_CPU = 0.01
MAX_CPU = 1024


class ProcScale(NamedTuple):
    """Instances and resource limits of one proc.

    Attributes:
        instances: replicas.
        cpu: CPUs (0 = no limit); decimals allowed.
        memory: bytes.
    """

    instances: int
    cpu: float
    memory: int

    def to_dict(self) -> dict[str, Any]:
        return {"instances": self.instances, "cpu": self.cpu, "memory": self.memory}

    def describe(self) -> str:
        cpu = "no cpu limit" if not self.cpu else f"cpu {self.cpu:g}"
        return f"{self.instances} instance(s), {cpu}, memory {format_bytes(self.memory)}"

    def limits(self) -> dict[str, int]:
        """``Resources.Limits`` of a service spec."""
        limits = {"MemoryBytes": int(self.memory)}
        if self.cpu > 0:
            limits["NanoCPUs"] = round(self.cpu * NANO)
        return limits

    def labels(self) -> dict[str, str]:
        """The labels that remember these values as the lain.yaml values of a service."""
        return {
            LABEL_YAML_INSTANCES: str(self.instances),
            LABEL_YAML_CPU: format_number(self.cpu),
            LABEL_YAML_MEMORY: str(self.memory),
        }


def service_mode(instances: int, *, job: bool) -> dict[str, Any]:
    """A service's ``Mode``: ``instances`` replicas, or for a job (a oneshot) as many runs to
    completion, all at once."""
    if job:
        return {"ReplicatedJob": {"MaxConcurrent": instances, "TotalCompletions": instances}}
    return {"Replicated": {"Replicas": instances}}


def is_job(spec: Mapping[str, Any]) -> bool:
    """The service runs its tasks to completion (Swarm's job mode)."""
    return "ReplicatedJob" in (spec.get("Mode") or {})


def spec_scale(spec: Mapping[str, Any]) -> ProcScale:
    """The instances (of a job: completions) and limits of a service spec (as lain builds it
    or the engine returns it)."""
    mode = spec.get("Mode") or {}
    if is_job(spec):
        count = (mode.get("ReplicatedJob") or {}).get("TotalCompletions", 0)
    else:
        count = (mode.get("Replicated") or {}).get("Replicas", 0)
    limits = ((spec.get("TaskTemplate") or {}).get("Resources") or {}).get("Limits") or {}
    return ProcScale(
        instances=int(count or 0),
        cpu=(limits.get("NanoCPUs") or 0) / NANO,
        memory=int(limits.get("MemoryBytes") or 0),
    )


def labelled_scale(labels: Mapping[str, str]) -> ProcScale | None:
    """The lain.yaml values a service was deployed from (None when its labels do not say)."""
    try:
        return ProcScale(
            instances=int(labels[LABEL_YAML_INSTANCES]),
            cpu=float(labels[LABEL_YAML_CPU]),
            memory=int(labels[LABEL_YAML_MEMORY]),
        )
    except (KeyError, ValueError):
        return None


def effective_scale(
    wanted: ProcScale, live: ProcScale | None, deployed_from: ProcScale | None
) -> ProcScale:
    """The scale a deploy gives a proc: the live value unless lain.yaml changed that value.

    Args:
        wanted: what the new lain.yaml asks for.
        live: what the running service has (None: the proc is new).
        deployed_from: the lain.yaml values of the previous deploy (None: unknown, so lain.yaml
            wins).
    """
    if live is None or deployed_from is None:
        return wanted
    return ProcScale(
        instances=live.instances
        if wanted.instances == deployed_from.instances
        else wanted.instances,
        cpu=live.cpu if wanted.cpu == deployed_from.cpu else wanted.cpu,
        memory=live.memory if wanted.memory == deployed_from.memory else wanted.memory,
    )


def parse_memory(value: str | int) -> int:
    """Memory in Docker's units (``64m``, ``1g``, ``512k``, bytes) as bytes, from 6m to 1 TiB.

    Raises:
        InvalidArgument: not a size, below 6 MiB (Docker's minimum) or above 1 TiB (lain's
            maximum, :data:`~lain_sdk.units.MAX_MEMORY`).
    """
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidArgument(
            f"memory must be a size like 64m or a number of bytes, not {arguments.short(value)}"
        )
    try:
        size = parse_size(value)
    except ValueError:
        raise InvalidArgument(
            f"{arguments.short(value)} is not a memory size (e.g. 64m, 1g)"
        ) from None
    if size < MIN_MEMORY:
        raise InvalidArgument(f"memory must be at least 6m (Docker's minimum), not {value}")
    if size > MAX_MEMORY:
        raise InvalidArgument(
            f"memory must be at most {format_bytes(MAX_MEMORY)} (1 TiB, lain's maximum), "
            f"not {arguments.short(value)}"
        )
    return size


def check_instances(value: object) -> int:
    """A number of instances from 0 to :data:`MAX_INSTANCES`.

    Raises:
        InvalidArgument: not a whole number, or out of that range.
    """
    return arguments.whole(value, "instances", 0, MAX_INSTANCES)


def check_cpu(value: object) -> float:
    """A CPU limit from :data:`MIN_CPU` to :data:`MAX_CPU` CPUs (finite: NaN and infinity are
    refused).

    Raises:
        InvalidArgument: not such a number.
    """
    return arguments.number(value, "cpu", MIN_CPU, MAX_CPU, kind="a number of CPUs")


def format_number(value: float) -> str:
    """A CPU count without a needless ``.0``: 1, 0.5."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))
