"""``workers status``: per service of a stack, its replicas, the nodes they run on, the image,
the update state and the current error (the one that keeps it below its desired count)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import ToolingError
from ..stackfile._labels import WORKER_LABEL
from ._docker_client import docker_client, require_swarm
from ._nodes import SwarmNode, swarm_nodes
from ._stack import DEFAULT_STACK, stack_services

__all__ = ["ReplicaStatus", "ServiceStatus", "stack_status"]

# Swarm's update states in which a service is not where its spec says (yet).
UPDATE_IN_PROGRESS = frozenset({"updating", "rollback_started", "paused", "rollback_paused"})
FAILED_TASK_STATES = frozenset({"failed", "rejected"})


@dataclass(frozen=True)
class ReplicaStatus:
    """One replica (a Swarm task meant to run) and the node it was placed on."""

    slot: int
    node: str  # hostname; "-" while not placed yet
    node_state: str  # the node's: ready, down, unknown, disconnected ("-": not placed)
    node_availability: str  # active, pause, drain
    state: str  # the task's: running, starting, preparing, pending, ...
    error: str
    current: bool = True  # runs the service's present spec (not the one an update replaces)

    @property
    def running(self) -> bool:
        return self.state == "running" and self.node_state == "ready"


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    worker: str | None
    desired: int
    running: int
    image: str
    update_state: str
    error: str  # why it is below its desired count now ("" when it is not)
    replicas: tuple[ReplicaStatus, ...] = ()
    update_message: str = ""  # Swarm's word on the last update (e.g. why it rolled back)
    update_started: str = ""  # identifies the last update (its start time, as Swarm says)
    failed_tasks: frozenset[str] = frozenset()  # ids of its tasks that failed or were rejected

    @property
    def nodes(self) -> tuple[str, ...]:
        """The nodes its running replicas are on (one entry per replica)."""
        return tuple(replica.node for replica in self.replicas if replica.running)

    @property
    def converged(self) -> bool:
        """Running as its spec says: the desired count, all on the present spec, and no
        update under way."""
        current = sum(1 for replica in self.replicas if replica.running and replica.current)
        return (current >= self.desired and self.running >= self.desired
                and self.update_state not in UPDATE_IN_PROGRESS)

    def short_name(self, stack: str) -> str:
        """The name without the ``STACK_`` prefix ``docker stack deploy`` gives it."""
        return self.name.removeprefix(f"{stack}_")


def stack_status(stack: str = DEFAULT_STACK) -> list[ServiceStatus]:
    with docker_client() as client:
        require_swarm(client)
        services = stack_services(client, stack)
        if not services:
            raise ToolingError(f"no stack named {stack!r} is deployed; run `workers deploy`")
        nodes = {node.id: node for node in swarm_nodes(client)}
        return [_status(service, nodes) for service in sorted(services, key=lambda s: s.name)]


def _status(service: Any, nodes: dict[str, SwarmNode]) -> ServiceStatus:
    spec = service.attrs["Spec"]
    mode = spec.get("Mode", {})
    tasks = service.tasks()
    container_spec = spec["TaskTemplate"].get("ContainerSpec", {})
    # The replicas Swarm wants now; tasks being shut down (drain, update) are history.
    current = [t for t in tasks if t.get("DesiredState") == "running"]
    replicas = tuple(sorted((_replica(t, nodes, container_spec) for t in current),
                            key=lambda r: (r.slot, r.node)))
    desired = (mode["Replicated"].get("Replicas", 1) if "Replicated" in mode
               else len(current))
    running = sum(1 for replica in replicas if replica.running)
    update = service.attrs.get("UpdateStatus") or {}
    labels = spec.get("Labels", {})
    return ServiceStatus(
        name=spec["Name"], worker=labels.get(WORKER_LABEL), desired=desired,
        running=running,
        image=container_spec.get("Image", "").split("@", 1)[0],
        update_state=update.get("State", "-"),
        error="" if running >= desired else _current_error(tasks),
        replicas=replicas, update_message=update.get("Message", ""),
        update_started=update.get("StartedAt", ""),
        failed_tasks=frozenset(t["ID"] for t in tasks
                               if t.get("Status", {}).get("State") in FAILED_TASK_STATES))


def _current_error(tasks: list[dict[str, Any]]) -> str:
    """The newest task error: what keeps the service below its count now (errors of tasks
    replaced since are history and not shown)."""
    failed = [t for t in tasks if t.get("Status", {}).get("Err")]
    if not failed:
        return ""
    newest = max(failed, key=lambda t: t.get("Status", {}).get("Timestamp")
                 or t.get("UpdatedAt", ""))
    return str(newest["Status"]["Err"])


def _replica(task: dict[str, Any], nodes: dict[str, SwarmNode],
             container_spec: dict[str, Any]) -> ReplicaStatus:
    node = nodes.get(task.get("NodeID") or "")
    status = task.get("Status", {})
    task_spec = (task.get("Spec") or {}).get("ContainerSpec", {})
    return ReplicaStatus(slot=int(task.get("Slot") or 0),
                         node=node.hostname if node else "-",
                         node_state=node.state if node else "-",
                         node_availability=node.availability if node else "-",
                         state=status.get("State", "unknown"), error=status.get("Err", ""),
                         current=task_spec.get("Image") == container_spec.get("Image"))


def status_lines(services: list[ServiceStatus], stack: str, width: int = 80) -> list[str]:
    """``workers status`` as text that fits ``width`` columns: a line per service (name,
    running/desired, update state, image), then its replicas and its current error
    indented below it, wrapped, never cut."""
    import textwrap

    names = [service.short_name(stack) for service in services]
    column = max((len(name) for name in names), default=7)
    lines = []
    for name, service in zip(names, services, strict=True):
        head = (f"{name:<{column}}  {service.running}/{service.desired:<3} "
                f"{service.update_state:<10} {service.image}")
        lines += textwrap.wrap(head, width, subsequent_indent="    ", break_on_hyphens=False)
        replicas = ", ".join(
            f"{replica.node}{_node_note(replica)} {replica.state}"
            for replica in service.replicas)
        for label, text in (("replicas", replicas), ("error", service.error)):
            if text:
                lines += textwrap.wrap(f"{label}: {text}", width, initial_indent="  ",
                                       subsequent_indent="    ", break_on_hyphens=False)
    return lines


def _node_note(replica: ReplicaStatus) -> str:
    notes = [state for state in (replica.node_state, replica.node_availability)
             if state not in ("ready", "active", "-")]
    return f" ({', '.join(notes)})" if notes else ""
