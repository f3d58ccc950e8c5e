"""``workers prometheus-url``: where the stack's Prometheus answers when its port is not
published.

Prometheus (the ``monitoring`` service) publishes no port unless asked
(``--publish-monitoring``): its UI and API have no authentication. Like every task on an
overlay network, its container also sits on the node's ``docker_gwbridge`` bridge, whose
addresses answer from that node only (Docker's rules drop connections from elsewhere).
That address is what this module finds, asking the Docker engine of the node that runs
the container: on that node, or through ``ssh -L 9090:ADDRESS user@node`` from anywhere
SSH reaches.
"""

from __future__ import annotations

from typing import Any

from docker.errors import APIError, NotFound

from ..errors import ToolingError
from ..swarm._docker_client import docker_client, require_swarm
from ..swarm._stack import DEFAULT_STACK
from ._services import PROMETHEUS_PORT

__all__ = ["prometheus_url"]

GATEWAY_NETWORK = "docker_gwbridge"


def prometheus_url(*, stack: str = DEFAULT_STACK) -> str:
    """``http://ADDRESS:9090``: the stack's Prometheus at its ``docker_gwbridge`` address on
    the node whose Docker engine this talks to (``DOCKER_HOST``)."""
    service = f"{stack}_monitoring"
    with docker_client() as client:
        require_swarm(client)
        containers = client.containers.list(
            filters={"label": f"com.docker.swarm.service.name={service}"})
        if not containers:
            raise ToolingError(_not_here(client, service))
        try:
            attached = client.networks.get(GATEWAY_NETWORK).attrs.get("Containers") or {}
        except (NotFound, APIError) as exc:
            raise ToolingError(f"the network {GATEWAY_NETWORK} of this node cannot be read "
                               f"({getattr(exc, 'explanation', None) or exc})") from None
    entry = attached.get(containers[0].id)
    if not entry or not entry.get("IPv4Address"):
        raise ToolingError(f"the container of {service} has no address on {GATEWAY_NETWORK}; "
                           "publish its port instead: workers deploy --publish-monitoring")
    return f"http://{entry['IPv4Address'].split('/', 1)[0]}:{PROMETHEUS_PORT}"


def _not_here(client: Any, service: str) -> str:
    """Why no container of ``service`` runs here: not deployed, or on another node."""
    services = [s for s in client.services.list(filters={"name": service})
                if s.name == service]
    if not services:
        return (f"no service {service} is deployed; deploy it with "
                "`workers deploy --monitoring`")
    nodes = {node.id: node.attrs["Description"]["Hostname"]
             for node in client.nodes.list()}
    running = sorted({nodes.get(task.get("NodeID"), "?") for task in
                      services[0].tasks(filters={"desired-state": "running"})})
    if not running:
        return f"{service} has no running task yet; `workers status` shows why"
    return (f"{service} runs on {', '.join(running)}, not on the node DOCKER_HOST names; "
            f"ask that node's engine: DOCKER_HOST=ssh://USER@{running[0]} workers prometheus-url")
