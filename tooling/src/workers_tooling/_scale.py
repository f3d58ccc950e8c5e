"""``workers scale NAME=N``: change the replicas of services."""

from __future__ import annotations

from collections.abc import Sequence

from ._docker_client import docker_cli, docker_client, require_swarm
from ._stack import DEFAULT_STACK, stack_service
from .errors import ToolingError

__all__ = ["scale"]


def scale(assignments: Sequence[str], *, stack: str = DEFAULT_STACK) -> dict[str, int]:
    """``NAME=N`` for each service to scale.

    Through ``docker service scale``: the SDK's scale re-sends the whole service spec,
    which restarts running tasks on some engines; the CLI changes the replicas only.
    """
    wanted: dict[str, int] = {}
    for assignment in assignments:
        name, _, replicas = assignment.partition("=")
        if not name or not replicas.isdigit():
            raise ToolingError(f"{assignment!r}: expected NAME=N, e.g. hello-world=3")
        wanted[name] = int(replicas)
    with docker_client() as client:
        require_swarm(client)
        services = [stack_service(client, stack, name).name for name in wanted]
    done = docker_cli(["service", "scale", "--detach",
                       *(f"{service}={count}" for service, count in zip(
                           services, wanted.values(), strict=True))])
    if done.returncode != 0:
        raise ToolingError(f"scaling failed: {(done.stderr or done.stdout).strip()}")
    return wanted
