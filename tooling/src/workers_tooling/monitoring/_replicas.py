"""``workers monitoring-status``: each replica's /metrics and whether it answers now.

On a Swarm each running task of a worker's service is asked at its own address on the
stack's ``workers`` overlay network, from one short-lived probe container attached to
that network: every replica on every node, never the published port (the routing mesh
would answer from one replica at random). ``host`` asks ``http://HOST:PORT/metrics``
instead, for workers running as local processes (``make demo``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from docker.errors import DockerException

from ..errors import ToolingError
from ..project._discovery import discover_workers
from ..stackfile._service import NETWORK
from ..swarm._docker_client import docker_client, require_swarm
from ..swarm._stack import DEFAULT_STACK, stack_services

__all__ = ["ReplicaProbe", "WorkerEndpoint", "monitoring_status"]

# Runs inside the probe container (the worker's own image: it has python3).
_PROBE = """
import concurrent.futures, json, sys, urllib.request
def probe(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            text = answer.read().decode()
        samples = sum(1 for line in text.splitlines() if line and not line.startswith("#"))
        return {"url": url, "up": True, "detail": f"{samples} samples"}
    except Exception as exc:
        return {"url": url, "up": False, "detail": f"{type(exc).__name__}: {exc}"}
with concurrent.futures.ThreadPoolExecutor(16) as pool:
    for result in pool.map(probe, sys.argv[1:]):
        print(json.dumps(result), flush=True)
"""


@dataclass(frozen=True)
class ReplicaProbe:
    task: str  # the Swarm task name, also the replica's WORKER_ID
    node: str
    url: str
    up: bool
    detail: str


@dataclass(frozen=True)
class WorkerEndpoint:
    worker: str
    url: str
    up: bool
    detail: str
    replicas: tuple[ReplicaProbe, ...] = field(default=())


def monitoring_status(repo: Path, *, stack: str = DEFAULT_STACK,
                      host: str | None = None) -> list[WorkerEndpoint]:
    """Each worker's replicas and whether their /metrics answer (see the module doc)."""
    workers = discover_workers(repo)
    if host is not None:
        return [_direct(worker.name, f"http://{host}:{worker.spec.port}/metrics")
                for worker in workers]
    with docker_client() as client:
        require_swarm(client)
        nodes = {node.id: node.attrs["Description"]["Hostname"] for node in client.nodes.list()}
        network = f"{stack}_{NETWORK}"
        planned: dict[str, list[tuple[str, str, str]]] = {}  # worker -> (task, node, url)
        images: list[str] = []
        services = {service.name: service for service in stack_services(client, stack)}
        for worker in workers:
            service = services.get(f"{stack}_{worker.name}")
            if service is None:
                continue
            images.append(service.attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"])
            planned[worker.name] = [
                (f"{service.name}.{task['Slot']}.{task['ID']}", nodes.get(task.get("NodeID"), "-"),
                 f"http://{address}:{worker.spec.port}/metrics")
                for task in service.tasks(filters={"desired-state": "running"})
                for address in _addresses(task, network)]
        urls = [url for replicas in planned.values() for _, _, url in replicas]
        answers = _probe(client, images[0], network, urls) if urls else {}
    endpoints = []
    for worker in workers:
        if worker.name not in planned:
            endpoints.append(WorkerEndpoint(worker.name, f"{stack}_{worker.name}", False,
                                            f"no service {stack}_{worker.name} is deployed"))
            continue
        replicas = tuple(ReplicaProbe(task, node, url, *answers.get(url, (False, "no answer")))
                         for task, node, url in planned[worker.name])
        answering = sum(replica.up for replica in replicas)
        endpoints.append(WorkerEndpoint(
            worker.name, f"{stack}_{worker.name}:{worker.spec.port}/metrics on {network}",
            bool(replicas) and answering == len(replicas),
            f"{answering}/{len(replicas)} replicas answer", replicas))
    return endpoints


def _addresses(task: dict[str, Any], network: str) -> list[str]:
    """The task's IP addresses on ``network`` (without the prefix length)."""
    return [address.split("/", 1)[0]
            for attachment in task.get("NetworksAttachments") or []
            if attachment.get("Network", {}).get("Spec", {}).get("Name") == network
            for address in attachment.get("Addresses") or []]


def _probe(client: Any, image: str, network: str,
           urls: Sequence[str]) -> dict[str, tuple[bool, str]]:
    """Ask every URL from one container on ``network``; url -> (answers, detail)."""
    try:
        output = client.containers.run(image.split("@", 1)[0], ["-c", _PROBE, *urls],
                                       entrypoint="python3", network=network, remove=True)
    except DockerException as exc:
        detail = getattr(exc, "explanation", None) or getattr(exc, "stderr", None) or exc
        if isinstance(detail, bytes):
            detail = detail.decode(errors="replace")
        raise ToolingError(
            f"cannot probe the replicas from a container on {network}: "
            f"{' '.join(str(detail).split())}; the network must be attachable "
            "(`attachable: true` in the stack file), or use --prometheus URL") from None
    results = [json.loads(line) for line in output.decode().splitlines()
               if line.startswith("{")]
    return {result["url"]: (bool(result["up"]), str(result["detail"])) for result in results}


def _direct(worker: str, url: str) -> WorkerEndpoint:
    try:
        response = httpx.get(url, timeout=3)
    except httpx.HTTPError as exc:
        return WorkerEndpoint(worker, url, False, f"{type(exc).__name__}")
    if response.status_code != 200:
        return WorkerEndpoint(worker, url, False, f"HTTP {response.status_code}")
    samples = sum(1 for line in response.text.splitlines() if line and not line.startswith("#"))
    return WorkerEndpoint(worker, url, True, f"{samples} samples")
