"""``workers status``: per service of a stack, replicas, image, update state, last error."""

from __future__ import annotations

from dataclasses import dataclass

from ._docker_client import docker_client, require_swarm
from ._labels import WORKER_LABEL
from ._stack import DEFAULT_STACK, stack_services
from .errors import ToolingError

__all__ = ["ServiceStatus", "stack_status"]


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    worker: str | None
    desired: int
    running: int
    image: str
    update_state: str
    last_error: str


def stack_status(stack: str = DEFAULT_STACK) -> list[ServiceStatus]:
    with docker_client() as client:
        require_swarm(client)
        services = stack_services(client, stack)
        if not services:
            raise ToolingError(f"no stack named {stack!r} is deployed; run `workers deploy`")
        statuses = []
        for service in sorted(services, key=lambda s: s.name):
            spec = service.attrs["Spec"]
            mode = spec.get("Mode", {})
            tasks = service.tasks()
            desired = (mode["Replicated"].get("Replicas", 1) if "Replicated" in mode
                       else sum(1 for t in tasks if t.get("DesiredState") == "running"))
            running = sum(1 for t in tasks if t.get("Status", {}).get("State") == "running")
            failed = [t for t in tasks if t.get("Status", {}).get("Err")]
            failed.sort(key=lambda t: t.get("UpdatedAt", ""))
            labels = spec.get("Labels", {})
            image = spec["TaskTemplate"]["ContainerSpec"]["Image"].split("@", 1)[0]
            statuses.append(ServiceStatus(
                name=spec["Name"], worker=labels.get(WORKER_LABEL), desired=desired,
                running=running, image=image,
                update_state=(service.attrs.get("UpdateStatus") or {}).get("State", "-"),
                last_error=failed[-1]["Status"]["Err"] if failed else ""))
        return statuses
