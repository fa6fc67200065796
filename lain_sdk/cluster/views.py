"""Typed views of what the engine returns for services, tasks and nodes.

The Engine API answers with nested JSON documents in which most keys may be missing; these
views read one document once, with the defaults in one place, so the rest of lain works with
attributes instead of digging in dicts.  A :class:`Service` keeps its ``spec`` as the engine
returned it, because lain sends specs back as they are (updates, restores, release records).

They are typed named tuples rather than frozen dataclasses: as immutable and as typed, and
about a fifth of the cost to define, which every command that looks at a cluster pays at
start-up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from lain_sdk.cluster.engine_calls import parse_time
from lain_sdk.cluster.names import (
    LABEL_APP,
    LABEL_PROC,
    LABEL_PROCTYPE,
    LABEL_RELEASE,
    LABEL_SERVICES,
    LABEL_SPEC_HASH,
    LABEL_USES_RESOURCES,
    LABEL_VERSION,
)
from lain_sdk.cluster.sizing import ProcScale, is_job, labelled_scale, spec_scale


def time_of(value: Any) -> float:
    """An engine timestamp as Unix seconds; 0 when there is none."""
    try:
        return parse_time(str(value))
    except (TypeError, ValueError):
        return 0.0


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


class UpdateStatus(NamedTuple):
    """Where Swarm is with the last update of a service (``updating``, ``completed``,
    ``rollback_started`` ...) and since when (engine time)."""

    state: str
    message: str
    started_at: float


class Service(NamedTuple):
    """A live Swarm service.

    Attributes:
        id: the service's ID.
        version: its object version (an update must name it).
        spec: its ``Spec`` as the engine returned it.
        update_status: the last update's status (None when it was never updated).
        job_iteration: for a job, which run of it is the current one (0 for the first).
    """

    id: str
    version: int
    spec: Mapping[str, Any]
    update_status: UpdateStatus | None = None
    job_iteration: int = 0

    def __repr__(self) -> str:  # the spec is long; its name says which service it is
        return f"Service(id={self.id!r}, name={self.name!r}, version={self.version})"

    @classmethod
    def from_engine(cls, document: Mapping[str, Any]) -> Service:
        status = _mapping(document.get("UpdateStatus"))
        return cls(
            id=str(document.get("ID", "")),
            version=int(_mapping(document.get("Version")).get("Index", 0) or 0),
            spec=_mapping(document.get("Spec")),
            update_status=UpdateStatus(
                state=str(status.get("State", "")),
                message=str(status.get("Message", "")),
                started_at=time_of(status.get("StartedAt")),
            )
            if status
            else None,
            job_iteration=_iteration(document.get("JobStatus")),
        )

    @property
    def name(self) -> str:
        return str(self.spec.get("Name", ""))

    @property
    def labels(self) -> Mapping[str, str]:
        return _mapping(self.spec.get("Labels"))

    def label(self, key: str) -> str:
        return str(self.labels.get(key, ""))

    @property
    def app(self) -> str:
        return self.label(LABEL_APP)

    @property
    def proc(self) -> str:
        return self.label(LABEL_PROC)

    @property
    def proctype(self) -> str:
        return self.label(LABEL_PROCTYPE)

    @property
    def release(self) -> int | None:
        """The release that last changed the service (its ``lain.release`` label)."""
        text = self.label(LABEL_RELEASE)
        return int(text) if text.isdigit() else None

    @property
    def meta_version(self) -> str:
        return self.label(LABEL_VERSION)

    @property
    def spec_hash(self) -> str:
        return self.label(LABEL_SPEC_HASH)

    @property
    def container(self) -> Mapping[str, Any]:
        """The spec's ``TaskTemplate.ContainerSpec``."""
        return _mapping(_mapping(self.spec.get("TaskTemplate")).get("ContainerSpec"))

    @property
    def image(self) -> str:
        return str(self.container.get("Image", ""))

    @property
    def scale(self) -> ProcScale:
        return spec_scale(self.spec)

    @property
    def yaml_scale(self) -> ProcScale | None:
        """The lain.yaml values it was deployed from (None when unknown)."""
        return labelled_scale(self.labels)

    @property
    def oneshot(self) -> bool:
        """Its tasks run once: a Swarm job (or, as older lain made them, restart policy
        ``none``)."""
        policy = _mapping(_mapping(self.spec.get("TaskTemplate")).get("RestartPolicy"))
        return self.job or policy.get("Condition") == "none"

    @property
    def job(self) -> bool:
        return is_job(self.spec)

    @property
    def has_healthcheck(self) -> bool:
        test = _mapping(self.container.get("Healthcheck")).get("Test")
        return test not in (None, [], ["NONE"])

    @property
    def offered_services(self) -> tuple[str, ...]:
        """The service names it answers to for consumers (its ``lain.services`` label)."""
        return tuple(n for n in self.label(LABEL_SERVICES).split(",") if n)

    @property
    def uses_resources(self) -> bool:
        return bool(self.label(LABEL_USES_RESOURCES))


def current_release(services: Iterable[Service]) -> int | None:
    """The release running now: the newest release label among an app's live services.

    A deploy labels the services it changes with its release, so the newest label is the last
    change that stuck (a failed deploy's services are rolled back, labels included).
    """
    numbers = [s.release for s in services if s.release is not None]
    return max(numbers) if numbers else None


class PublishedPort(NamedTuple):
    """A port a task publishes on its node (host mode)."""

    target: int
    published: int
    protocol: str


class Task(NamedTuple):
    """One task (a container's life) of a service.

    Attributes:
        id: the task's ID.
        service_id: its service.
        slot: its instance number (1..replicas).
        node_id: the node it was scheduled on ("" while pending).
        desired_state: what Swarm wants it to be (``running``, ``shutdown`` ...).
        state: what it is (``new`` ... ``running``, ``complete``, ``failed`` ...).
        created_at: when Swarm made it (engine time).
        since: when it reached its state (engine time); ``since_text`` as the engine wrote it.
        error: the engine's error for it ("" without one).
        message: the engine's status message.
        exit_code: its container's exit code (None while it runs).
        container_id: its container ("" before there is one).
        ports: the ports it publishes.
        addresses: network name -> its addresses there (without the prefix length).
        job_iteration: for a task of a job, the run of the job it belongs to.
    """

    id: str
    service_id: str
    slot: int
    node_id: str
    desired_state: str
    state: str
    created_at: float
    since: float
    since_text: str = ""
    error: str = ""
    message: str = ""
    exit_code: int | None = None
    container_id: str = ""
    ports: tuple[PublishedPort, ...] = ()
    addresses: Mapping[str, tuple[str, ...]] = {}
    job_iteration: int = 0

    @classmethod
    def from_engine(cls, document: Mapping[str, Any]) -> Task:
        status = _mapping(document.get("Status"))
        container = _mapping(status.get("ContainerStatus"))
        ports = []
        for port in _mapping(status.get("PortStatus")).get("Ports") or []:
            if port.get("PublishedPort"):
                ports.append(
                    PublishedPort(
                        target=int(port.get("TargetPort") or 0),
                        published=int(port["PublishedPort"]),
                        protocol=str(port.get("Protocol", "tcp")),
                    )
                )
        addresses = {}
        for attachment in document.get("NetworksAttachments") or []:
            name = str(_mapping(_mapping(attachment.get("Network")).get("Spec")).get("Name", ""))
            addresses[name] = tuple(a.split("/")[0] for a in attachment.get("Addresses") or [])
        exit_code = container.get("ExitCode")
        return cls(
            id=str(document.get("ID", "")),
            service_id=str(document.get("ServiceID", "")),
            slot=int(document.get("Slot") or 0),
            node_id=str(document.get("NodeID", "")),
            desired_state=str(document.get("DesiredState", "")),
            state=str(status.get("State", "")),
            created_at=time_of(document.get("CreatedAt")),
            since=time_of(status.get("Timestamp")),
            since_text=str(status.get("Timestamp", "")),
            error=str(status.get("Err") or ""),
            message=str(status.get("Message") or ""),
            exit_code=int(exit_code) if exit_code is not None else None,
            container_id=str(container.get("ContainerID") or ""),
            ports=tuple(dict.fromkeys(ports)),
            addresses=addresses,
            job_iteration=_iteration(document),
        )

    def describe_error(self) -> str:
        """Its error in one line: the engine's, else its state, exit code and message."""
        if self.error:
            return self.error
        code = f", exit code {self.exit_code}" if self.exit_code is not None else ""
        return f"task {self.id[:12]} {self.state}{code}: {self.message}"


class Node(NamedTuple):
    """A node of the swarm.

    Attributes:
        id: its ID.
        hostname: the host name it reports.
        address: the address other nodes reach it at.
        role: ``manager`` or ``worker``.
        availability: ``active``, ``pause`` or ``drain``.
        state: ``ready``, ``down`` ...
        labels: the node labels set on the swarm.
        version: its object version (an update must name it).
        spec: its ``Spec`` as the engine returned it (updates send it back changed).
        engine_version: the version of its Docker engine.
        reachability: a manager's ``reachable`` or ``unreachable`` ("" for a worker).
        leader: it is the managers' leader.
        manager_address: where the other nodes reach it as a manager (``ADDR:2377``).
    """

    id: str
    hostname: str
    address: str
    role: str = ""
    availability: str = ""
    state: str = ""
    labels: Mapping[str, str] = {}
    version: int = 0
    spec: Mapping[str, Any] = {}
    engine_version: str = ""
    reachability: str = ""
    leader: bool = False
    manager_address: str = ""

    @classmethod
    def from_engine(cls, document: Mapping[str, Any]) -> Node:
        spec = _mapping(document.get("Spec"))
        status = _mapping(document.get("Status"))
        description = _mapping(document.get("Description"))
        manager = _mapping(document.get("ManagerStatus"))
        node_id = str(document.get("ID", ""))
        return cls(
            id=node_id,
            hostname=str(description.get("Hostname") or node_id[:12]),
            address=str(status.get("Addr", "")),
            role=str(spec.get("Role", "")),
            availability=str(spec.get("Availability", "")),
            state=str(status.get("State", "")),
            labels=dict(_mapping(spec.get("Labels"))),
            version=int(_mapping(document.get("Version")).get("Index", 0) or 0),
            spec=spec,
            engine_version=str(_mapping(description.get("Engine")).get("EngineVersion", "")),
            reachability=str(manager.get("Reachability", "")),
            leader=bool(manager.get("Leader")),
            manager_address=str(manager.get("Addr", "")),
        )


def _iteration(document: Any) -> int:
    """The ``JobIteration.Index`` of a job's status or task (0 when there is none)."""
    iteration = _mapping(_mapping(document).get("JobIteration"))
    return int(iteration.get("Index") or 0)
