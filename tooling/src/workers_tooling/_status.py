"""``workers status``: per service of a stack, its replicas, the nodes they run on, the image,
the update state and the last error."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._docker_client import docker_client, require_swarm
from ._labels import WORKER_LABEL
from ._nodes import SwarmNode, swarm_nodes
from ._stack import DEFAULT_STACK, stack_services
from .errors import ToolingError

__all__ = ["ReplicaStatus", "ServiceStatus", "stack_status"]


@dataclass(frozen=True)
class ReplicaStatus:
    """One replica (a Swarm task meant to run) and the node it was placed on."""

    slot: int
    node: str  # hostname; "-" while not placed yet
    node_state: str  # the node's: ready, down, unknown, disconnected ("-": not placed)
    node_availability: str  # active, pause, drain
    state: str  # the task's: running, starting, preparing, pending, ...
    error: str

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
    last_error: str
    replicas: tuple[ReplicaStatus, ...] = ()

    @property
    def nodes(self) -> tuple[str, ...]:
        """The nodes its running replicas are on (one entry per replica)."""
        return tuple(replica.node for replica in self.replicas if replica.running)


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
    # The replicas Swarm wants now; tasks being shut down (drain, update) are history.
    current = [t for t in tasks if t.get("DesiredState") == "running"]
    replicas = tuple(sorted((_replica(t, nodes) for t in current),
                            key=lambda r: (r.slot, r.node)))
    desired = (mode["Replicated"].get("Replicas", 1) if "Replicated" in mode
               else len(current))
    failed = [t for t in tasks if t.get("Status", {}).get("Err")]
    failed.sort(key=lambda t: t.get("UpdatedAt", ""))
    labels = spec.get("Labels", {})
    return ServiceStatus(
        name=spec["Name"], worker=labels.get(WORKER_LABEL), desired=desired,
        running=sum(1 for replica in replicas if replica.running),
        image=spec["TaskTemplate"]["ContainerSpec"]["Image"].split("@", 1)[0],
        update_state=(service.attrs.get("UpdateStatus") or {}).get("State", "-"),
        last_error=failed[-1]["Status"]["Err"] if failed else "",
        replicas=replicas)


def _replica(task: dict[str, Any], nodes: dict[str, SwarmNode]) -> ReplicaStatus:
    node = nodes.get(task.get("NodeID") or "")
    status = task.get("Status", {})
    return ReplicaStatus(slot=int(task.get("Slot") or 0),
                         node=node.hostname if node else "-",
                         node_state=node.state if node else "-",
                         node_availability=node.availability if node else "-",
                         state=status.get("State", "unknown"), error=status.get("Err", ""))
