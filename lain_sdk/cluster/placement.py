"""Where a proc's instances may run, and why one waits (pure).

- lain v2's ``filters`` (Swarm classic's) become Swarm placement constraints:
  ``constraint:KEY==VALUE`` -> ``node.labels.KEY==VALUE`` (``!=`` likewise), and classic's
  ``constraint:node==NAME`` -> ``node.hostname==NAME``.  The filter v2 added to every proc,
  ``constraint:group==default``, is left out: as a constraint it would require every node to be
  labelled ``group=default``.  ``affinity:`` filters (next to other containers) have no Swarm
  counterpart; ``lain validate`` warns about them and they are ignored.
- A stateful proc (``stateful: true``, or a persistent dir besides ``/lain/logs``) keeps its
  instances on the one node that holds their volumes: that node carries the label
  :func:`~lain_sdk.cluster.names.data_label` and the service the constraint
  :func:`~lain_sdk.cluster.names.data_constraint`.  :func:`choose_data_node` picks the node
  when none carries it yet.
- :func:`waiting_reason` says in plain words why Swarm leaves an instance pending.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from lain_sdk.appconfig.builder import DEFAULT_FILTER
from lain_sdk.appconfig.checks import FILTER_RE
from lain_sdk.appconfig.model import LOGS_DIR, Proc
from lain_sdk.cluster.names import DATA_LABEL_PREFIX, data_constraint
from lain_sdk.cluster.views import Node, Task

_CONSTRAINT_RE = re.compile(r"^\s*([A-Za-z0-9_.-]+)\s*(==|!=)\s*(.+?)\s*$")
_LABEL_FIELD = "node.labels."


class Filter(NamedTuple):
    """One lain.yaml filter: ``constraint:group==db`` -> (constraint, group, ==, db)."""

    kind: str
    key: str
    op: str
    value: str


def parse_filter(text: str) -> Filter | None:
    match = FILTER_RE.match(text.strip())
    return Filter(*match.groups()) if match else None


def node_field(key: str) -> str:
    """The node attribute a filter key means: Swarm classic's ``node`` is the node's name,
    anything else a node label."""
    return "node.hostname" if key == "node" else f"{_LABEL_FIELD}{key}"


def filter_constraints(filters: Iterable[str]) -> tuple[str, ...]:
    """The Swarm placement constraints of a proc's ``filters`` (affinities and v2's default
    group left out), in file order, each once."""
    found = []
    for text in filters:
        parsed = parse_filter(text)
        if parsed is None or parsed.kind != "constraint" or text.strip() == DEFAULT_FILTER:
            continue
        found.append(f"{node_field(parsed.key)}{parsed.op}{parsed.value}")
    return tuple(dict.fromkeys(found))


def is_stateful(proc: Proc) -> bool:
    """Its instances keep data on their node: ``stateful: true`` or a persistent dir besides
    ``/lain/logs`` (which every proc has)."""
    return proc.stateful or any(v.path != LOGS_DIR for v in proc.volumes)


def proc_constraints(app: str, proc: Proc) -> tuple[str, ...]:
    """Every placement constraint of a proc's service: its filters, and for a stateful proc
    the node holding its data."""
    data = (data_constraint(app, proc.name),) if is_stateful(proc) else ()
    return (*filter_constraints(proc.filters), *data)


# -- constraints against nodes -----------------------------------------------------------------


class Constraint(NamedTuple):
    """A placement constraint: ``node.labels.disk==ssd`` -> (node.labels.disk, ==, ssd)."""

    field: str
    op: str
    value: str

    @property
    def label(self) -> str | None:
        """The node label it reads (None for node.id, node.hostname ...)."""
        return self.field[len(_LABEL_FIELD) :] if self.field.startswith(_LABEL_FIELD) else None

    @property
    def is_data(self) -> bool:
        """It keeps a stateful proc's instances on the node holding their data."""
        return self.op == "==" and (self.label or "").startswith(DATA_LABEL_PREFIX)

    def value_of(self, node: Node) -> str | None:
        if self.label is not None:
            return node.labels.get(self.label)
        return {"node.id": node.id, "node.hostname": node.hostname, "node.role": node.role}.get(
            self.field
        )

    def satisfied_by(self, node: Node) -> bool:
        """As Swarm decides it: values compare without regard to case; ``!=`` holds for a node
        without the label."""
        value = self.value_of(node)
        equal = value is not None and value.lower() == self.value.lower()
        return equal if self.op == "==" else not equal

    def __str__(self) -> str:
        return f"{self.field}{self.op}{self.value}"


def parse_constraint(text: str) -> Constraint | None:
    match = _CONSTRAINT_RE.match(text)
    return Constraint(*match.groups()) if match else None


def constraints_of(spec: Mapping[str, Any]) -> tuple[Constraint, ...]:
    """The placement constraints of a service spec that lain can read."""
    placement = (spec.get("TaskTemplate") or {}).get("Placement") or {}
    parsed = (parse_constraint(str(c)) for c in placement.get("Constraints") or [])
    return tuple(c for c in parsed if c is not None)


def data_label_of(spec: Mapping[str, Any]) -> tuple[str, str] | None:
    """The node label (key, value) a spec's instances need, when they stay with their data."""
    for constraint in constraints_of(spec):
        if constraint.is_data and constraint.label is not None:
            return constraint.label, constraint.value
    return None


def takes_tasks(node: Node) -> bool:
    """Swarm gives it new tasks: ready and active."""
    return node.state == "ready" and node.availability == "active"


def node_condition(node: Node) -> str:
    """Why a node takes no tasks, in a word (``down``, ``drained``, ``paused``); "" when it
    takes them."""
    if node.state != "ready":
        return node.state or "down"
    return {"drain": "drained", "pause": "paused"}.get(node.availability, "")


def data_held_by(node: Node) -> list[tuple[str, str]]:
    """(app, proc) of each stateful proc whose data ``node`` holds, from its labels, sorted."""
    held = []
    for key, value in node.labels.items():
        app, sep, proc = str(value).rpartition("/")
        if key.startswith(DATA_LABEL_PREFIX) and sep and app and proc:
            held.append((app, proc))
    return sorted(held)


def choose_data_node(
    nodes: Iterable[Node],
    constraints: Iterable[Constraint],
    running: Mapping[str, int],
    load: Mapping[str, int],
) -> Node | None:
    """The node to hold a stateful proc's data, among the nodes that take tasks and meet the
    proc's constraints: the one running most of its instances now (an app deployed by an
    earlier lain keeps its data where it is), else the one running fewest lain tasks; ties go
    by host name.  None when no node qualifies.

    Args:
        nodes: the swarm's nodes.
        constraints: the proc's constraints (its data constraint left out).
        running: node ID -> instances of the proc running there now.
        load: node ID -> lain tasks running there now.
    """
    wanted = list(constraints)
    fit = [n for n in nodes if takes_tasks(n) and all(c.satisfied_by(n) for c in wanted)]
    if not fit:
        return None
    return min(fit, key=lambda n: (-running.get(n.id, 0), load.get(n.id, 0), n.hostname, n.id))


# -- why an instance waits ---------------------------------------------------------------------


def waiting_reason(task: Task, constraints: Iterable[Constraint], nodes: Iterable[Node]) -> str:
    """Why Swarm leaves a task pending, in plain words ("" when it is not held back).

    Swarm says ``no suitable node (scheduling constraints not satisfied on 2 nodes)``; this
    names the node holding the data when that one is down or drained, else the constraint no
    node meets (:func:`needed_label` says which label would let it start)."""
    if task.state not in ("new", "pending") or "no suitable node" not in task.error:
        return ""
    ready = [n for n in nodes if takes_tasks(n)]
    everyone = list(nodes)
    wanted = list(constraints)
    for constraint in (c for c in wanted if c.is_data):
        holders = [n for n in everyone if constraint.satisfied_by(n)]
        if not holders:
            return f"waiting: no node holds its data (no node has {_pair(constraint)})"
        if not any(takes_tasks(n) for n in holders):
            holder = holders[0]
            condition = node_condition(holder)
            return f"waiting: its data is on node {holder.hostname}, which is {condition}"
    for constraint in wanted:
        if not any(constraint.satisfied_by(n) for n in ready):
            return f"waiting: {_unmet(constraint, everyone)}"
    if wanted and not any(all(c.satisfied_by(n) for c in wanted) for n in ready):
        met = ", ".join(_pair(c) for c in wanted)
        return f"waiting: no node meets all of {met}"
    return f"waiting: {task.error}"


def needed_label(task: Task, constraints: Iterable[Constraint], nodes: Iterable[Node]) -> str:
    """The node label (``disk=ssd``) a pending task waits for because no node has it: the fix a
    person can make by labelling a node ("" when labelling one would not start it)."""
    if task.state not in ("new", "pending") or "no suitable node" not in task.error:
        return ""
    everyone = list(nodes)
    for constraint in constraints:
        if constraint.is_data or constraint.label is None or constraint.op != "==":
            continue
        if not any(constraint.satisfied_by(n) for n in everyone):
            return f"{constraint.label}={constraint.value}"
    return ""


def _pair(constraint: Constraint) -> str:
    name = constraint.label if constraint.label is not None else constraint.field
    return f"{name}{'=' if constraint.op == '==' else '!='}{constraint.value}"


def _unmet(constraint: Constraint, nodes: list[Node]) -> str:
    """What no ready node offers, and how to fix it."""
    holders = [n for n in nodes if constraint.satisfied_by(n)]
    if holders and constraint.op == "==":
        named = ", ".join(f"{n.hostname} ({node_condition(n)})" for n in holders)
        return f"the only nodes with {_pair(constraint)} take no tasks: {named}"
    if constraint.label is None:
        what = constraint.field.removeprefix("node.")
        return f"no ready node has {what} {constraint.op} {constraint.value}"
    pair = f"{constraint.label}={constraint.value}"
    if constraint.op == "!=":
        return f"every ready node has {pair}"
    return f"no node has {pair}"


# -- the node holding a proc's data ------------------------------------------------------------


class DataNode(NamedTuple):
    """The node that holds (or is to hold) a stateful proc's data.

    Attributes:
        proc: the proc.
        node: the node's host name.
        node_id: its ID.
        label: the node label that says so (``lain.data.<service>``), and its value.
        value: ``<app>/<proc>``.
        recorded: the node carries the label already (False: the deploy labels it).
        why: why this node: ``holds its data``, ``runs it now`` or ``fewest lain tasks``.
        condition: why the node takes no tasks now (``down``, ``drained``), "" when it does.
    """

    proc: str
    node: str
    node_id: str
    label: str
    value: str
    recorded: bool
    why: str
    condition: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "proc": self.proc,
            "node": self.node,
            "node_id": self.node_id,
            "label": f"{self.label}={self.value}",
            "recorded": self.recorded,
            "why": self.why,
            "condition": self.condition,
        }

    def text(self) -> str:
        """``db: data on node n1 (runs it now; to be labelled lain.data.app__db=app/db)``."""
        notes = [self.why]
        if not self.recorded:
            notes.append(f"to be labelled {self.label}={self.value}")
        if self.condition:
            notes.append(f"the node is {self.condition}: instances wait until it is back")
        return f"{self.proc}: data on node {self.node} ({'; '.join(notes)})"
