"""A fake swarm manager: the Swarm part of docker-py's low-level ``APIClient``, in memory.

It answers the calls lain makes with the documents the Engine API returns (services, tasks,
nodes, networks, volumes, configs, secrets, service logs) and plays the part of Swarm's
orchestrator on every look at the services or tasks: it starts tasks up to the replicas, rolls
updates one instance at a time (start first), rolls a failing update back, and replaces failed
tasks.  Time moves one step each time the services or the tasks are listed, so a task started
at one look runs at a later one.  How the tasks of an image behave is scripted per image::

    swarm.script("registry.example.com/hello:release-2", Behaviour(fails="exit code 1"))

Engine errors are docker-py's own exceptions (see ``fakes.base.api_error``).  Every call is
recorded in ``calls`` so tests can count engine round trips.
"""

from __future__ import annotations

import base64
import copy
import re
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from fakes.base import api_error, new_id, stamp

FAKE_NODE = "node-manager-1"


# What a task's program prints: its lines, or its lines and its exit code; None: no program.
Printed = list[str] | tuple[list[str], int] | None


@dataclass
class Behaviour:
    """How the tasks of an image behave.

    Attributes:
        starts_after: looks at the swarm before a new task runs.
        fails: the error a task ends with, instead of running ("" keeps it running).
        unhealthy: the task runs, then is stopped for failing its healthcheck.
        exit_code: the exit code of a failing task.
        completes: the task runs and completes (a oneshot's job).
        logs: lines the task prints.
        program: what the task's program prints, from its container spec and the values of
            the secrets mounted in it (target -> value); the task completes afterwards (fails,
            when the program also returns a non-zero exit code: ``(lines, code)``).  None
            from it means the task runs some other program: it behaves as the rest says.
        health_output: what the healthcheck of its containers last printed.
        commands: the programs an exec in its running containers finds (``cat PATH`` prints a
            mounted secret file); others fail as the engine says "executable file not found".
    """

    starts_after: int = 1
    fails: str = ""
    unhealthy: bool = False
    exit_code: int = 1
    completes: bool = False
    logs: tuple[str, ...] = ()
    program: Callable[[Mapping[str, Any], Mapping[str, bytes]], Printed] | None = None
    health_output: str = ""
    commands: tuple[str, ...] = ("sleep", "cat")  # what an exec in its containers can run


@dataclass
class _Task:
    doc: dict[str, Any]
    spec_version: int
    age: int = 0  # looks since it was made
    printed: list[str] = field(default_factory=list)  # what its program printed

    @property
    def id(self) -> str:
        return str(self.doc["ID"])

    @property
    def state(self) -> str:
        return str(self.doc["Status"]["State"])

    def set_state(self, state: str, *, err: str = "", exit_code: int | None = None) -> None:
        status = self.doc["Status"]
        status["State"] = state
        status["Timestamp"] = stamp()
        status["Message"] = state
        if err:
            status["Err"] = err
        if exit_code is not None:
            status["ContainerStatus"]["ExitCode"] = exit_code


@dataclass
class _Service:
    doc: dict[str, Any]
    previous: dict[str, Any] | None = None  # the spec before the last update
    updating: bool = False
    rolling_back: bool = False
    tasks: list[_Task] = field(default_factory=list)

    @property
    def id(self) -> str:
        return str(self.doc["ID"])

    @property
    def spec(self) -> dict[str, Any]:
        return self.doc["Spec"]

    @property
    def version(self) -> int:
        return int(self.doc["Version"]["Index"])

    @property
    def job(self) -> bool:
        return "ReplicatedJob" in (self.spec.get("Mode") or {})

    @property
    def replicas(self) -> int:
        """Its replicas, or a job's completions."""
        mode = self.spec.get("Mode") or {}
        if self.job:
            return int(mode["ReplicatedJob"].get("TotalCompletions", 1))
        return int((mode.get("Replicated") or {}).get("Replicas", 1))

    @property
    def iteration(self) -> int:
        return int(self.doc.get("JobStatus", {}).get("JobIteration", {}).get("Index", 0))

    @property
    def image(self) -> str:
        return str(self.spec["TaskTemplate"]["ContainerSpec"]["Image"])


def _labels_match(labels: Mapping[str, str], wanted: Any) -> bool:
    for item in [wanted] if isinstance(wanted, str) else list(wanted or []):
        key, sep, value = str(item).partition("=")
        if key not in labels or (sep and labels[key] != value):
            return False
    return True


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


_CONSTRAINT_RE = re.compile(r"^\s*([A-Za-z0-9_.-]+)\s*(==|!=)\s*(.+?)\s*$")


def _meets(node: Mapping[str, Any], constraint: str) -> bool:
    """Whether a node meets a placement constraint, as Swarm decides it (node.labels.*,
    node.id, node.hostname, node.role; values compared without regard to case; ``!=`` holds
    for a node without the label)."""
    match = _CONSTRAINT_RE.match(constraint)
    if match is None:
        raise api_error(400, f"invalid constraint {constraint!r}")
    field, op, value = match.groups()
    labels = node["Spec"].get("Labels") or {}
    actual = (
        labels.get(field[len("node.labels.") :])
        if field.startswith("node.labels.")
        else {
            "node.id": node["ID"],
            "node.hostname": node["Description"]["Hostname"],
            "node.role": node["Spec"]["Role"],
        }.get(field)
    )
    equal = actual is not None and str(actual).lower() == value.lower()
    return equal if op == "==" else not equal


def _nodes_text(count: int) -> str:
    return f"{count} node{'s' if count != 1 else ''}"


def _without_replicas(spec: Mapping[str, Any]) -> dict[str, Any]:
    rest = copy.deepcopy(dict(spec))
    rest.pop("Mode", None)
    return rest


class _LogStream:
    """A followed log: its data, then its end, or (``hangs``) nothing more until closed, as
    the engine may leave a stream open; closable from another thread, as docker-py's is."""

    def __init__(self, data: bytes, *, hangs: bool) -> None:
        self._data = data
        self._closed = threading.Event()
        if not hangs:
            self._closed.set()

    def __iter__(self) -> Iterator[bytes]:
        if self._data:
            yield self._data
        self._closed.wait()

    def close(self) -> None:
        self._closed.set()


class FakeSwarmAPI:
    """The Swarm calls of docker-py's ``APIClient``, backed by an in-memory swarm."""

    base_url = "http+docker://localhost"
    api_version = "1.41"

    def __init__(self) -> None:
        self.swarm_services: dict[str, _Service] = {}
        self.swarm_configs: dict[str, dict[str, Any]] = {}
        self.swarm_secrets: dict[str, dict[str, Any]] = {}
        self.swarm_networks: dict[str, dict[str, Any]] = {}
        self.swarm_volumes: dict[str, dict[str, Any]] = {}
        self.swarm_nodes: list[dict[str, Any]] = [
            self._node(FAKE_NODE, "manager-1", "10.0.0.1", leader=True)
        ]
        self.node_id = FAKE_NODE  # this engine's own node in its swarm
        self.join_tokens = {
            "Worker": "SWMTKN-1-fake-worker-secret",
            "Manager": "SWMTKN-1-fake-manager-secret",
        }
        self.swarm_to_join: FakeSwarmAPI | None = None  # the swarm join_swarm reaches
        self.ready_after: dict[str, int] = {}  # node -> looks at the nodes before it is ready
        self.swarm_state = "active"
        self.behaviours: dict[str, Behaviour] = {}
        self.logged_in: list[tuple[str, str]] = []  # (registry, username)
        self.calls: list[str] = []
        self.fail_next: dict[str, Exception] = {}  # method -> error its next call raises
        self.task_execs: dict[str, tuple[_Service, _Task, list[str]]] = {}
        self.created_services: list[dict[str, Any]] = []  # every spec created, removed or not
        self.exec_codes: dict[str, int] = {}
        # Attachments to task containers: (container, parameters, the engine's end).
        self.attached: list[tuple[str, dict[str, Any], socket.socket]] = []
        self.attach_hangs = False
        # Looks at the swarm a node stays down before Swarm replaces the tasks it ran (their
        # instances are lost meanwhile), and how long each node has been down.
        self.lost_after = 3
        self.down_looks: dict[str, int] = {}

    # -- scripting -----------------------------------------------------------------------------

    def script(self, image_prefix: str, behaviour: Behaviour) -> None:
        """Tasks of images whose reference starts with ``image_prefix`` behave so."""
        self.behaviours[image_prefix] = behaviour

    def behaviour(self, image: str) -> Behaviour:
        matches = [p for p in self.behaviours if image.startswith(p)]
        return self.behaviours[max(matches, key=len)] if matches else Behaviour()

    def add_node(
        self,
        node_id: str,
        hostname: str,
        address: str,
        *,
        role: str = "manager",
        labels: Mapping[str, str] | None = None,
    ) -> None:
        """Another node in the swarm (its tasks are reached through its own engine)."""
        node = self._node(node_id, hostname, address, role=role)
        node["Spec"]["Labels"] = dict(labels or {})
        self.swarm_nodes.append(node)

    def set_node(
        self,
        node_id: str,
        *,
        state: str | None = None,
        availability: str | None = None,
        reachability: str | None = None,
    ) -> None:
        """Change a node as the swarm would see it change (down, drained, unreachable)."""
        node = self._find_node(node_id)
        if state is not None:
            node["Status"]["State"] = state
        if availability is not None:
            node["Spec"]["Availability"] = availability
        if reachability is not None:
            node["ManagerStatus"]["Reachability"] = reachability

    def place_tasks(self, service_name: str, node_id: str, slots: Any = None) -> None:
        """Put the live tasks of a service (of ``slots`` only, when given) on another node."""
        for task in self._service(service_name).tasks:
            if task.doc["DesiredState"] == "running" and (
                slots is None or task.doc["Slot"] in slots
            ):
                task.doc["NodeID"] = node_id

    def _find_node(self, node_id: str) -> dict[str, Any]:
        for node in self.swarm_nodes:
            if node["ID"] == node_id:
                return node
        raise api_error(404, f"node {node_id} not found")

    def add_volume(self, name: str, labels: Mapping[str, str]) -> None:
        self.swarm_volumes[name] = {"Name": name, "Labels": dict(labels), "Driver": "local"}

    def service_named(self, name: str) -> dict[str, Any]:
        """The engine document of the service called ``name`` (for assertions)."""
        return copy.deepcopy(self._service(name).doc)

    def _record(self, method: str) -> None:
        self.calls.append(method)
        error = self.fail_next.pop(method, None)
        if error is not None:
            raise error

    @staticmethod
    def _node(
        node_id: str, hostname: str, address: str, role: str = "manager", leader: bool = False
    ) -> dict[str, Any]:
        node: dict[str, Any] = {
            "ID": node_id,
            "Version": {"Index": 1},
            "Description": {"Hostname": hostname, "Engine": {"EngineVersion": "20.10.24"}},
            "Spec": {"Role": role, "Availability": "active", "Labels": {}},
            "Status": {"State": "ready", "Addr": address},
        }
        if role == "manager":
            node["ManagerStatus"] = {
                "Leader": leader,
                "Reachability": "reachable",
                "Addr": f"{address}:2377",
            }
        return node

    # -- the orchestrator ----------------------------------------------------------------------

    def _orchestrate(self) -> None:
        self._count_down_nodes()
        for service in list(self.swarm_services.values()):
            self._step(service)

    def _count_down_nodes(self) -> None:
        down = {n["ID"] for n in self.swarm_nodes if n["Status"]["State"] == "down"}
        self.down_looks = {n: self.down_looks.get(n, 0) + 1 for n in down}

    def _replace_lost(self, service: _Service) -> None:
        """Tasks on a node down long enough are given up (their observed state stays what the
        node last said); the orchestrator then starts their slots again."""
        for task in service.tasks:
            gone = self.down_looks.get(task.doc["NodeID"], 0) > self.lost_after
            if gone and task.doc["DesiredState"] == "running":
                task.doc["DesiredState"] = "shutdown"

    def _place(self, template: Mapping[str, Any]) -> tuple[str, str]:
        """The node Swarm's scheduler gives a new task: the first ready, active node meeting
        the template's placement constraints; else "" and the engine's reason."""
        constraints = (template.get("Placement") or {}).get("Constraints") or []
        unavailable = unsuitable = 0
        for node in self.swarm_nodes:
            if node["Status"]["State"] != "ready" or node["Spec"].get("Availability") != "active":
                unavailable += 1
            elif not all(_meets(node, c) for c in constraints):
                unsuitable += 1
            else:
                return str(node["ID"]), ""
        reasons = []
        if unavailable:
            reasons.append(f"{_nodes_text(unavailable)} not available for new tasks")
        if unsuitable:
            reasons.append(f"scheduling constraints not satisfied on {_nodes_text(unsuitable)}")
        return "", f"no suitable node ({'; '.join(reasons)})"

    def _schedule(self, task: _Task) -> None:
        """A pending task gets a node once one fits (else its reason is brought up to date)."""
        node_id, reason = self._place(task.doc["Spec"])
        status = task.doc["Status"]
        if not node_id:
            status["Err"] = reason
            return
        task.doc["NodeID"] = node_id
        status.pop("Err", None)
        status.update({"State": "starting", "Message": "starting", "Timestamp": stamp()})
        task.age = 0

    def _new_task(self, service: _Service, slot: int) -> _Task:
        spec = service.spec
        networks = [
            {
                "Network": {"Spec": {"Name": attachment["Target"]}},
                "Addresses": [f"10.1.{len(service.tasks) % 250}.{slot}/24"],
            }
            for attachment in spec["TaskTemplate"].get("Networks") or []
        ]
        ports = (spec.get("EndpointSpec") or {}).get("Ports") or []
        node_id, reason = self._place(spec["TaskTemplate"])
        doc = {
            "ID": new_id("task"),
            "ServiceID": service.id,
            "Slot": slot,
            "NodeID": node_id,
            "CreatedAt": stamp(),
            # A job's tasks are meant to end; the engine says so from the start.
            "DesiredState": "complete" if service.job else "running",
            "JobIteration": {"Index": service.iteration} if service.job else {},
            "Spec": copy.deepcopy(spec["TaskTemplate"]),
            "Status": {
                "State": "starting",
                "Timestamp": stamp(),
                "Message": "starting",
                "ContainerStatus": {"ContainerID": new_id("ctr")},
                "PortStatus": {
                    "Ports": [
                        {
                            "TargetPort": p["TargetPort"],
                            "PublishedPort": 30000 + slot,
                            "Protocol": p.get("Protocol", "tcp"),
                        }
                        for p in ports
                    ]
                },
            },
            "NetworksAttachments": networks,
        }
        if reason:  # no node fits: the task waits, as Swarm's scheduler leaves it
            doc["Status"].update({"State": "pending", "Message": "pending task scheduling"})
            doc["Status"]["Err"] = reason
        task = _Task(doc, service.version)
        service.tasks.append(task)
        return task

    def _advance(self, service: _Service, task: _Task) -> None:
        """One look's worth of a task's life."""
        meant = "complete" if service.job else "running"
        if task.doc["DesiredState"] == meant and task.state == "pending":
            self._schedule(task)
            return
        if task.doc["DesiredState"] != meant or task.state not in ("starting", "running"):
            return
        task.age += 1
        container = task.doc["Spec"]["ContainerSpec"]
        behaviour = self.behaviour(str(container["Image"]))
        if task.state == "starting" and task.age >= behaviour.starts_after:
            printed = (
                behaviour.program(container, self._mounted(container))
                if behaviour.program
                else None
            )
            if behaviour.fails:
                task.set_state("failed", err=behaviour.fails, exit_code=behaviour.exit_code)
                task.doc["DesiredState"] = "shutdown"
            elif isinstance(printed, tuple) and printed[1]:
                task.printed = list(printed[0])
                task.set_state(
                    "failed", err=f"task: non-zero exit ({printed[1]})", exit_code=printed[1]
                )
                task.doc["DesiredState"] = "complete" if service.job else "shutdown"
            elif behaviour.completes or service.job or printed is not None:
                task.printed = list(printed[0] if isinstance(printed, tuple) else printed or [])
                task.set_state("complete", exit_code=0)
                task.doc["DesiredState"] = "complete" if service.job else "shutdown"
            else:
                task.set_state("running")
        elif task.state == "running" and behaviour.unhealthy:
            task.set_state(
                "failed",
                err="task: non-zero exit (137): dockerexec: unhealthy container",
                exit_code=137,
            )
            task.doc["DesiredState"] = "shutdown"

    def _step(self, service: _Service) -> None:
        self._replace_lost(service)
        for task in list(service.tasks):
            self._advance(service, task)
        if service.job:  # runs of the current iteration until enough completed (none retried)
            current = [t for t in service.tasks if t.spec_version == service.version]
            if not any(t.state in ("failed", "rejected") for t in current):
                for _ in range(service.replicas - len(current)):
                    self._new_task(service, 0)
            return
        if service.updating:
            self._roll(service)
            return
        oneshot = (service.spec["TaskTemplate"].get("RestartPolicy") or {}).get(
            "Condition"
        ) == "none"
        live = {t.doc["Slot"]: t for t in service.tasks if t.doc["DesiredState"] == "running"}
        for slot in range(1, service.replicas + 1):
            done = any(t.doc["Slot"] == slot and t.state == "complete" for t in service.tasks)
            if slot not in live and not (oneshot and (done or self._failed_in(service, slot))):
                self._new_task(service, slot)
        for slot, task in live.items():
            if slot > service.replicas:
                task.doc["DesiredState"] = "shutdown"
                task.set_state("shutdown")

    @staticmethod
    def _failed_in(service: _Service, slot: int) -> bool:
        return any(t.doc["Slot"] == slot and t.state == "failed" for t in service.tasks)

    def _roll(self, service: _Service) -> None:
        """A rolling update, one slot at a time, start first; roll back when a new task fails
        and the update's failure action says so."""
        current = [t for t in service.tasks if t.spec_version == service.version]
        failed = [t for t in current if t.state == "failed"]
        if failed:
            self._failed_update(service, failed[-1])
            return
        for slot in range(1, service.replicas + 1):
            new = [
                t for t in current if t.doc["Slot"] == slot and t.doc["DesiredState"] == "running"
            ]
            if not new:
                self._new_task(service, slot)
                return  # one at a time
            if new[0].state != "running":
                return  # wait for it
            for old in service.tasks:
                stale = old.spec_version != service.version and old.doc["DesiredState"] == "running"
                if stale and old.doc["Slot"] == slot:
                    old.doc["DesiredState"] = "shutdown"
                    old.set_state("shutdown")
        for old in service.tasks:  # slots above the replicas
            if old.spec_version != service.version and old.doc["DesiredState"] == "running":
                old.doc["DesiredState"] = "shutdown"
                old.set_state("shutdown")
        service.updating = False
        state = "rollback_completed" if service.rolling_back else "completed"
        service.doc["UpdateStatus"].update({"State": state, "CompletedAt": stamp()})
        service.doc["UpdateStatus"]["Message"] = (
            "rollback completed" if service.rolling_back else "update completed"
        )
        service.rolling_back = False

    def _failed_update(self, service: _Service, task: _Task) -> None:
        action = (service.spec.get("UpdateConfig") or {}).get("FailureAction", "pause")
        status = service.doc["UpdateStatus"]
        if service.rolling_back or action != "rollback" or service.previous is None:
            service.updating = False
            status.update(
                {
                    "State": "rollback_paused" if service.rolling_back else "paused",
                    "Message": f"update paused due to failure or early termination of task "
                    f"{task.id}",
                }
            )
            return
        status.update(
            {
                "State": "rollback_started",
                "Message": "update rolled back due to failure or early termination of task "
                f"{task.id}",
            }
        )
        service.doc["Spec"], service.previous = service.previous, service.doc["Spec"]
        service.doc["Version"]["Index"] += 1
        for new in service.tasks:
            if new.doc["DesiredState"] == "running" and new.spec_version != service.version:
                # tasks of the failed spec go; tasks of the restored spec stay
                same = new.doc["Spec"] == service.spec["TaskTemplate"]
                if same:
                    new.spec_version = service.version
                else:
                    new.doc["DesiredState"] = "shutdown"
                    new.set_state("shutdown")
        service.rolling_back = True

    # -- services ------------------------------------------------------------------------------

    def _service(self, ref: str) -> _Service:
        for service in self.swarm_services.values():
            if ref in (service.id, service.spec["Name"]) or (
                len(ref) >= 12 and service.id.startswith(ref)
            ):
                return service
        raise api_error(404, f"service {ref} not found")

    def services(
        self, filters: Mapping[str, Any] | None = None, status: bool | None = None
    ) -> list[dict[str, Any]]:
        self._record("services")
        self._orchestrate()
        filters = filters or {}
        found = []
        for service in self.swarm_services.values():
            if "id" in filters and service.id not in _as_list(filters["id"]):
                continue
            if "name" in filters and service.spec["Name"] not in _as_list(filters["name"]):
                continue
            if "label" in filters and not _labels_match(
                service.spec.get("Labels") or {}, filters["label"]
            ):
                continue
            found.append(copy.deepcopy(service.doc))
        return found

    def inspect_service(self, service: str, insert_defaults: bool | None = None) -> dict[str, Any]:
        self._record("inspect_service")
        return copy.deepcopy(self._service(service).doc)

    def _spec(
        self,
        task_template: Mapping[str, Any],
        name: str | None,
        labels: Any,
        mode: Any,
        update_config: Any,
        rollback_config: Any,
        endpoint_spec: Any,
    ) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "Name": name,
            "Labels": dict(labels or {}),
            "TaskTemplate": copy.deepcopy(dict(task_template)),
        }
        spec["Mode"] = copy.deepcopy(mode) if mode else {"Replicated": {"Replicas": 1}}
        for key, value in (
            ("UpdateConfig", update_config),
            ("RollbackConfig", rollback_config),
            ("EndpointSpec", endpoint_spec),
        ):
            if value is not None:
                spec[key] = copy.deepcopy(value)
        return spec

    def create_service(
        self,
        task_template: Mapping[str, Any],
        name: str | None = None,
        labels: Any = None,
        mode: Any = None,
        update_config: Any = None,
        networks: Any = None,
        endpoint_config: Any = None,
        endpoint_spec: Any = None,
        rollback_config: Any = None,
    ) -> dict[str, str]:
        self._record("create_service")
        if any(s.spec["Name"] == name for s in self.swarm_services.values()):
            raise api_error(
                409,
                "rpc error: code = AlreadyExists desc = name conflicts with an existing object: "
                f"service {name} already exists",
            )
        spec = self._spec(
            task_template, name, labels, mode, update_config, rollback_config, endpoint_spec
        )
        self._check_references(spec)
        self._check_job(spec)
        self.created_services.append(copy.deepcopy(spec))
        service_id = new_id("svc")
        doc = {
            "ID": service_id,
            "Version": {"Index": 1},
            "CreatedAt": stamp(),
            "UpdatedAt": stamp(),
            "Spec": spec,
        }
        if "ReplicatedJob" in spec["Mode"]:
            doc["JobStatus"] = {"JobIteration": {}, "LastExecution": stamp()}
        self.swarm_services[service_id] = _Service(doc)
        return {"ID": service_id}

    @staticmethod
    def _check_job(spec: Mapping[str, Any], old: Mapping[str, Any] | None = None) -> None:
        """What the engine refuses of jobs: an update config, and changing a service's mode."""
        job = "ReplicatedJob" in spec["Mode"]
        if job and (spec.get("UpdateConfig") or spec.get("RollbackConfig")):
            raise api_error(
                400, "rpc error: code = InvalidArgument desc = Jobs may not have an update config"
            )
        if old is not None and set(old["Mode"]) != set(spec["Mode"]):
            raise api_error(
                501, "rpc error: code = Unimplemented desc = service mode change is not allowed"
            )

    def _check_references(self, spec: Mapping[str, Any]) -> None:
        for attachment in spec["TaskTemplate"].get("Networks") or []:
            target = attachment["Target"]
            if not any(target in (n["Id"], n["Name"]) for n in self.swarm_networks.values()):
                raise api_error(400, f"network {target} not found")
        for item in spec["TaskTemplate"]["ContainerSpec"].get("Secrets") or []:
            if item["SecretID"] not in self.swarm_secrets:
                raise api_error(400, f"secret not found: {item['SecretID']}")

    def update_service(
        self,
        service: str,
        version: int,
        task_template: Any = None,
        name: str | None = None,
        labels: Any = None,
        mode: Any = None,
        update_config: Any = None,
        networks: Any = None,
        endpoint_config: Any = None,
        endpoint_spec: Any = None,
        fetch_current_spec: bool = False,
        rollback_config: Any = None,
    ) -> dict[str, Any]:
        self._record("update_service")
        found = self._service(service)
        if int(version) != found.version:
            raise api_error(500, "rpc error: code = Unknown desc = update out of sequence")
        new = self._spec(
            task_template, name, labels, mode, update_config, rollback_config, endpoint_spec
        )
        self._check_references(new)
        old = found.spec
        self._check_job(new, old)
        found.doc["Version"]["Index"] += 1
        if found.job:  # any change of a job's spec runs it again, as a new iteration
            found.doc["Spec"] = new
            found.doc["JobStatus"] = {
                "JobIteration": {"Index": found.iteration + 1},
                "LastExecution": stamp(),
            }
            return {}
        found.doc["UpdatedAt"] = stamp()
        found.doc["PreviousSpec"] = old
        found.doc["Spec"] = new
        if _without_replicas(old) == _without_replicas(new):
            for task in found.tasks:  # a scale: the running tasks stay up to date
                if task.spec_version == found.version - 1:
                    task.spec_version = found.version
            return {}
        found.previous = old
        found.updating = True
        found.rolling_back = False
        found.doc["UpdateStatus"] = {
            "State": "updating",
            "StartedAt": stamp(),
            "Message": "update in progress",
        }
        return {}

    def remove_service(self, service: str) -> bool:
        self._record("remove_service")
        found = self._service(service)
        del self.swarm_services[found.id]
        return True

    # -- tasks and nodes -----------------------------------------------------------------------

    def tasks(self, filters: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        self._record("tasks")
        self._orchestrate()
        filters = filters or {}
        wanted = _as_list(filters.get("service"))
        up_to_date = str(filters.get("_up-to-date", "")).lower() == "true"
        found = []
        for service in self.swarm_services.values():
            if wanted and service.id not in wanted and service.spec["Name"] not in wanted:
                continue
            # As the engine does: a task's labels filter matches its service's labels.
            if "label" in filters and not _labels_match(
                service.spec.get("Labels") or {}, filters["label"]
            ):
                continue
            for task in service.tasks:
                if up_to_date and task.spec_version != service.version:
                    continue
                found.append(copy.deepcopy(task.doc))
        return found

    def inspect_container(self, container: str) -> dict[str, Any]:
        """The container of a task (its health), else the image side's containers."""
        for service in self.swarm_services.values():
            for task in service.tasks:
                if task.doc["Status"]["ContainerStatus"]["ContainerID"] == container:
                    self._record("inspect_container")
                    output = self.behaviour(service.image).health_output
                    health = {"Log": [{"Output": output, "ExitCode": 1}]} if output else {}
                    return {"Id": container, "State": {"Health": health}}
        other = getattr(super(), "inspect_container", None)
        if other is not None:
            return dict(other(container))
        self._record("inspect_container")
        raise api_error(404, f"No such container: {container}")

    # -- exec in task containers ----------------------------------------------------------------

    def _task_of_container(self, container: str) -> tuple[_Service, _Task] | None:
        for service in self.swarm_services.values():
            for task in service.tasks:
                if task.doc["Status"]["ContainerStatus"]["ContainerID"] == container:
                    return service, task
        return None

    def exec_create(self, container: str, cmd: Any, **kwargs: Any) -> dict[str, str]:
        """An exec in a running task's container, else one on the image side's containers."""
        # A test may give a task a container of the image side, which then runs the exec.
        image_side = getattr(getattr(self, "image_store", None), "containers", {})
        found = None if container in image_side else self._task_of_container(container)
        if found is None:
            return dict(super().exec_create(container, cmd, **kwargs))  # type: ignore[misc]
        self._record("exec_create")
        service, task = found
        if task.state != "running":
            raise api_error(409, f"Container {container} is not running")
        exec_id = new_id("exec")
        self.task_execs[exec_id] = (service, task, list(cmd))
        return {"Id": exec_id}

    def exec_start(self, exec_id: str, **kwargs: Any) -> Any:
        if exec_id not in self.task_execs:
            return super().exec_start(exec_id, **kwargs)  # type: ignore[misc]
        self._record("exec_start")
        _service, task, argv = self.task_execs[exec_id]
        behaviour = self.behaviour(str(task.doc["Spec"]["ContainerSpec"]["Image"]))
        out, err, code = b"", b"", 0
        if argv[0] not in behaviour.commands:
            err, code = f"exec: {argv[0]}: executable file not found in $PATH".encode(), 127
        elif argv[0] == "cat":
            mounted = self._mounted(task.doc["Spec"]["ContainerSpec"])
            target = argv[1].removeprefix("/run/secrets/")
            if target in mounted:
                out = mounted[target]
            else:
                err, code = f"cat: can't open '{argv[1]}': No such file".encode(), 1
        self.exec_codes[exec_id] = code
        return (out or None, err or None) if kwargs.get("demux") else out + err

    def exec_inspect(self, exec_id: str) -> dict[str, Any]:
        if exec_id not in self.task_execs:
            return dict(super().exec_inspect(exec_id))  # type: ignore[misc]
        self._record("exec_inspect")
        return {"ID": exec_id, "Running": False, "ExitCode": self.exec_codes.get(exec_id)}

    def attach_socket(self, container: str, params: Any = None, ws: bool = False) -> Any:
        """An attachment to a task's container.  As the engine's, it carries only what is
        printed from then on: nothing, as a task's program has run when it starts; the stream
        ends at once, unless ``attach_hangs`` (as the engine leaves open a stream attached
        after its container stopped).  The engine's end is kept in ``attached`` with the
        parameters, to read what was sent to it."""
        self._record("attach_socket")
        if self._task_of_container(container) is None:
            raise api_error(404, f"No such container: {container}")
        ours, theirs = socket.socketpair()
        if not self.attach_hangs:
            theirs.shutdown(socket.SHUT_WR)
        self.attached.append((container, dict(params or {}), theirs))
        return ours

    def logs(self, container: str, stdout: bool = True, stderr: bool = True, **kw: Any) -> Any:
        """A task container's log: what its program printed, on stdout (followed, it ends
        there: the program has run), else the image side's containers' logs."""
        found = self._task_of_container(container)
        if found is None:
            return super().logs(container, stdout=stdout, stderr=stderr, **kw)  # type: ignore[misc]
        self._record("logs")
        data = "".join(f"{line}\n" for line in found[1].printed).encode() if stdout else b""
        if not kw.get("stream"):
            return data
        return _LogStream(data, hangs=self.attach_hangs)

    def nodes(self, filters: Any = None) -> list[dict[str, Any]]:
        self._record("nodes")
        for node_id, looks in list(self.ready_after.items()):  # a joining node gets ready
            if looks <= 0:
                self._find_node(node_id)["Status"]["State"] = "ready"
                del self.ready_after[node_id]
            else:
                self.ready_after[node_id] = looks - 1
        return copy.deepcopy(self.swarm_nodes)

    def inspect_node(self, node_id: str) -> dict[str, Any]:
        self._record("inspect_node")
        return copy.deepcopy(self._find_node(node_id))

    def update_node(self, node_id: str, version: int, node_spec: Any = None) -> bool:
        """As the engine does: at the node's version; a drain stops the node's tasks (the
        orchestrator starts them again elsewhere); a demotion ends its manager status."""
        self._record("update_node")
        node = self._find_node(node_id)
        if int(version) != node["Version"]["Index"]:
            raise api_error(500, "rpc error: code = Unknown desc = update out of sequence")
        spec = copy.deepcopy(dict(node_spec or {}))
        node["Spec"] = spec
        node["Version"]["Index"] += 1
        if spec.get("Role") == "worker":
            node.pop("ManagerStatus", None)
        if spec.get("Availability") == "drain":
            for service in self.swarm_services.values():
                for task in service.tasks:
                    if task.doc["NodeID"] == node_id and task.doc["DesiredState"] == "running":
                        task.doc["DesiredState"] = "shutdown"
                        task.set_state("shutdown")
        return True

    def remove_node(self, node_id: str, force: bool = False) -> bool:
        self._record("remove_node")
        node = self._find_node(node_id)
        if node["Spec"]["Role"] == "manager":
            raise api_error(
                400,
                f"rpc error: node {node_id} is a cluster manager and is a member of the raft "
                "cluster. It must be demoted to worker before removal",
            )
        if node["Status"]["State"] != "down" and not force:
            raise api_error(400, f"rpc error: node {node_id} is not down and can't be removed")
        self.swarm_nodes.remove(node)
        return True

    def inspect_swarm(self) -> dict[str, Any]:
        self._record("inspect_swarm")
        if self.swarm_state != "active":
            raise api_error(503, "This node is not a swarm manager.")
        return {"ID": "swarm-fake-1", "JoinTokens": dict(self.join_tokens)}

    def join_swarm(
        self,
        remote_addrs: Any,
        join_token: str,
        listen_addr: str = "0.0.0.0:2377",
        advertise_addr: str | None = None,
        data_path_addr: str | None = None,
    ) -> bool:
        """Join ``swarm_to_join`` (set by the test) when an address and a token are its own;
        a refused token is echoed back, as a careless engine message might."""
        self._record("join_swarm")
        if self.swarm_state == "active":
            raise api_error(503, "This node is already part of a swarm.")
        target = self.swarm_to_join
        managers = (
            [n["ManagerStatus"]["Addr"] for n in target.swarm_nodes if "ManagerStatus" in n]
            if target
            else []
        )
        if target is None or not set(remote_addrs) & set(managers):
            raise api_error(500, f"could not reach the managers at {', '.join(remote_addrs)}")
        roles = {token: role.lower() for role, token in target.join_tokens.items()}
        if join_token not in roles:
            raise api_error(400, f"rpc error: invalid join token {join_token}")
        self.node_id = new_id("node")
        self.swarm_state = "active"
        address = (advertise_addr or "10.0.0.9").split(":")[0]
        hostname = getattr(self, "hostname", "new-node")
        node = self._node(self.node_id, hostname, address, role=roles[join_token])
        node["Status"]["State"] = "unknown"
        target.swarm_nodes.append(node)
        target.ready_after[self.node_id] = 1
        return True

    def info(self) -> dict[str, Any]:
        self._record("info")
        active = self.swarm_state == "active"
        managers = [n for n in self.swarm_nodes if "ManagerStatus" in n] if active else []
        return {
            "SystemTime": stamp(),
            "Swarm": {
                "NodeID": self.node_id if active else "",
                "LocalNodeState": self.swarm_state,
                "ControlAvailable": active,
                "RemoteManagers": [
                    {"NodeID": n["ID"], "Addr": n["ManagerStatus"]["Addr"]} for n in managers
                ]
                or None,
            },
        }

    def init_swarm(self, advertise_addr: str | None = None, **kwargs: Any) -> str:
        self._record("init_swarm")
        if self.swarm_state == "active":
            raise api_error(503, "This node is already part of a swarm")
        self.swarm_state = "active"
        return FAKE_NODE

    def _mounted(self, container: Mapping[str, Any]) -> dict[str, bytes]:
        return {
            item["File"]["Name"]: self.secret_value(item["SecretID"])
            for item in container.get("Secrets") or []
            if item["SecretID"] in self.swarm_secrets
        }

    def service_logs(
        self,
        service: str,
        details: bool = False,
        follow: bool = False,
        stdout: bool = False,
        stderr: bool = False,
        since: int = 0,
        timestamps: bool = False,
        tail: str | int = "all",
        is_tty: bool | None = None,
    ) -> Iterator[bytes]:
        self._record("service_logs")
        found = self._service(service)
        return self._log_lines(found, found.tasks, details, timestamps, tail)

    def _log_lines(
        self,
        service: _Service,
        tasks: list[_Task],
        details: bool,
        timestamps: bool,
        tail: str | int,
    ) -> Iterator[bytes]:
        """Every line of ``tasks`` at their creation time; ``tail`` over all of them."""
        lines = []
        for task in tasks:
            behaviour = self.behaviour(str(task.doc["Spec"]["ContainerSpec"]["Image"]))
            for text in [*behaviour.logs, *task.printed]:
                parts = []
                if timestamps:
                    parts.append(task.doc["CreatedAt"])
                if details:
                    parts.append(
                        f"com.docker.swarm.node.id={FAKE_NODE},com.docker.swarm.service.id={service.id},com.docker.swarm.task.id={task.id}"
                    )
                parts.append(text)
                lines.append((" ".join(parts) + "\n").encode())
        if tail != "all":
            lines = lines[-int(tail) :] if int(tail) else []
        return iter(lines)

    # GET /tasks/{id}/logs: the docker SDK has no call for it; lain sends it itself.
    def _get(
        self, url: str, params: Mapping[str, Any] | None = None, stream: bool = False
    ) -> tuple[str, dict[str, Any]]:
        return url, dict(params or {})

    def _get_result_tty(
        self, stream: bool, response: tuple[str, dict[str, Any]], is_tty: bool
    ) -> Iterator[bytes]:
        url, params = response
        _, kind, task_id, what = url.split("/")
        assert (kind, what, stream, is_tty) == ("tasks", "logs", True, False)
        self._record("task_logs")
        for service in self.swarm_services.values():
            for task in service.tasks:
                if task.id == task_id:
                    return self._log_lines(
                        service,
                        [task],
                        bool(params.get("details")),
                        bool(params.get("timestamps")),
                        params.get("tail", "all"),
                    )
        raise api_error(404, f"task {task_id} not found")

    def login(
        self,
        username: str,
        password: str | None = None,
        email: str | None = None,
        registry: str | None = None,
        reauth: bool = False,
        dockercfg_path: str | None = None,
    ) -> dict[str, str]:
        self._record("login")
        self.logged_in.append((registry or "", username))
        return {"Status": "Login Succeeded"}

    # -- networks and volumes ------------------------------------------------------------------

    def networks(
        self, names: Any = None, ids: Any = None, filters: Any = None
    ) -> list[dict[str, Any]]:
        self._record("networks")
        found = []
        for network in self.swarm_networks.values():
            if names and not any(n in network["Name"] for n in _as_list(names)):
                continue  # the engine's name filter matches substrings
            if (
                filters
                and "label" in filters
                and not _labels_match(network["Labels"], filters["label"])
            ):
                continue
            found.append(copy.deepcopy(network))
        return found

    def create_network(
        self,
        name: str,
        driver: str | None = None,
        options: Any = None,
        ipam: Any = None,
        check_duplicate: bool | None = None,
        internal: bool = False,
        labels: Any = None,
        enable_ipv6: bool = False,
        attachable: bool | None = None,
        scope: str | None = None,
        ingress: bool | None = None,
    ) -> dict[str, str]:
        self._record("create_network")
        if any(n["Name"] == name for n in self.swarm_networks.values()):
            raise api_error(409, f"network with name {name} already exists")
        network_id = new_id("net")
        self.swarm_networks[network_id] = {
            "Name": name,
            "Id": network_id,
            "Driver": driver or "overlay",
            "Scope": scope or "swarm",
            "Attachable": bool(attachable),
            "Labels": dict(labels or {}),
        }
        return {"Id": network_id}

    def remove_network(self, net_id: str) -> None:
        self._record("remove_network")
        for network_id, network in list(self.swarm_networks.items()):
            if net_id in (network_id, network["Name"]):
                used = [
                    s.spec["Name"]
                    for s in self.swarm_services.values()
                    if any(
                        a["Target"] in (network_id, network["Name"])
                        for a in s.spec["TaskTemplate"].get("Networks") or []
                    )
                ]
                if used:
                    raise api_error(
                        403, f"rpc error: network {network['Name']} is in use by service {used[0]}"
                    )
                del self.swarm_networks[network_id]
                return
        raise api_error(404, f"network {net_id} not found")

    def volumes(self, filters: Any = None) -> dict[str, Any]:
        self._record("volumes")
        found = [
            copy.deepcopy(v)
            for v in self.swarm_volumes.values()
            if not (filters and "label" in filters) or _labels_match(v["Labels"], filters["label"])
        ]
        return {"Volumes": found, "Warnings": None}

    def remove_volume(self, name: str, force: bool = False) -> None:
        self._record("remove_volume")
        if name not in self.swarm_volumes:
            raise api_error(404, f"get {name}: no such volume")
        del self.swarm_volumes[name]

    # -- configs and secrets -------------------------------------------------------------------

    def _object(self, store: dict[str, dict[str, Any]], ref: str, kind: str) -> dict[str, Any]:
        for object_id, obj in store.items():
            if ref in (object_id, obj["Spec"]["Name"]):
                return obj
        raise api_error(404, f"{kind} {ref} not found")

    def _create_object(
        self, store: dict[str, dict[str, Any]], kind: str, name: str, data: bytes, labels: Any
    ) -> dict[str, str]:
        if any(o["Spec"]["Name"] == name for o in store.values()):
            raise api_error(
                409, f"rpc error: code = AlreadyExists desc = {kind} {name} already exists"
            )
        object_id = new_id(kind[:3])
        raw = data if isinstance(data, bytes) else str(data).encode()
        store[object_id] = {
            "ID": object_id,
            "Version": {"Index": 1},
            "CreatedAt": stamp(),
            "UpdatedAt": stamp(),
            "Spec": {
                "Name": name,
                "Labels": dict(labels or {}),
                "Data": base64.b64encode(raw).decode(),
            },
        }
        return {"ID": object_id}

    def _list(self, store: dict[str, dict[str, Any]], filters: Any) -> list[dict[str, Any]]:
        found = []
        for obj in store.values():
            if (
                filters
                and "label" in filters
                and not _labels_match(obj["Spec"]["Labels"], filters["label"])
            ):
                continue
            if (
                filters
                and "name" in filters
                and obj["Spec"]["Name"] not in _as_list(filters["name"])
            ):
                continue
            found.append(copy.deepcopy(obj))
        return found

    def configs(self, filters: Any = None) -> list[dict[str, Any]]:
        self._record("configs")
        return self._list(self.swarm_configs, filters)

    def create_config(
        self, name: str, data: bytes, labels: Any = None, templating: Any = None
    ) -> dict[str, str]:
        self._record("create_config")
        return self._create_object(self.swarm_configs, "config", name, data, labels)

    def inspect_config(self, id: str) -> dict[str, Any]:
        self._record("inspect_config")
        return copy.deepcopy(self._object(self.swarm_configs, id, "config"))

    def remove_config(self, id: str) -> bool:
        self._record("remove_config")
        found = self._object(self.swarm_configs, id, "config")
        del self.swarm_configs[found["ID"]]
        return True

    # The docker SDK has no config update: lain posts to /configs/{id}/update itself.
    def _url(self, pathfmt: str, *args: str, **kwargs: Any) -> str:
        return pathfmt.format(*args)

    def _post_json(
        self, url: str, data: Any, params: Mapping[str, Any] | None = None
    ) -> tuple[str, Any, Any]:
        self._record("update_config")
        return url, data, params

    def _raise_for_status(self, response: tuple[str, Any, Any]) -> None:
        url, spec, params = response
        config_id = url.split("/")[2]
        found = self._object(self.swarm_configs, config_id, "config")
        if int((params or {}).get("version", -1)) != found["Version"]["Index"]:
            raise api_error(500, "rpc error: code = Unknown desc = update out of sequence")
        if spec.get("Data") != found["Spec"]["Data"]:
            raise api_error(400, "rpc error: only updates to Labels are allowed")
        found["Spec"]["Labels"] = dict(spec.get("Labels") or {})
        found["Version"]["Index"] += 1

    def secrets(self, filters: Any = None) -> list[dict[str, Any]]:
        self._record("secrets")
        found = self._list(self.swarm_secrets, filters)
        for secret in found:
            del secret["Spec"]["Data"]  # the engine never hands out values
        return found

    def create_secret(
        self, name: str, data: bytes, labels: Any = None, driver: Any = None
    ) -> dict[str, str]:
        self._record("create_secret")
        return self._create_object(self.swarm_secrets, "secret", name, data, labels)

    def inspect_secret(self, id: str) -> dict[str, Any]:
        self._record("inspect_secret")
        found = copy.deepcopy(self._object(self.swarm_secrets, id, "secret"))
        del found["Spec"]["Data"]
        return found

    def remove_secret(self, id: str) -> bool:
        self._record("remove_secret")
        found = self._object(self.swarm_secrets, id, "secret")
        users = [
            s.spec["Name"]
            for s in self.swarm_services.values()
            if any(
                i["SecretID"] == found["ID"]
                for i in s.spec["TaskTemplate"]["ContainerSpec"].get("Secrets") or []
            )
        ]
        if users:
            raise api_error(
                400,
                f"rpc error: secret '{found['Spec']['Name']}' is in use by the following "
                f"service: {users[0]}",
            )
        del self.swarm_secrets[found["ID"]]
        return True

    def secret_value(self, name: str) -> bytes:
        """A stored secret's value (the fake's own view, for assertions)."""
        found = self._object(self.swarm_secrets, name, "secret")
        return base64.b64decode(found["Spec"]["Data"])
