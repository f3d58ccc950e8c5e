"""The stack's optional monitoring services, as ``workers compose --monitoring`` writes them.

* ``monitoring``: Prometheus (image built from ``deploy/monitoring/Dockerfile``, running
  as nobody) on a manager node, on the ``workers`` overlay network so that it reaches
  every replica on every node, its data in the ``monitoring-data`` volume. Its port is
  published (host port ``${MONITORING_PORT:-9090}`` of its node) only when asked
  (``publish=True``); otherwise it answers on the overlay networks and, on its node, at
  its ``docker_gwbridge`` address (:mod:`._access`).
* ``socket-proxy``: ``deploy/monitoring/socket_proxy.py`` (image from
  ``socket-proxy.Dockerfile``) on a manager node, the only service with the Docker socket
  (the manager's ``${MONITORING_DOCKER_SOCKET:-/var/run/docker.sock}``: rootless Docker's
  is elsewhere). It lets through the reads Prometheus' Swarm service discovery makes (GET
  of tasks, services, nodes, networks) and refuses everything else. It is on the internal
  ``docker-api`` network alone with Prometheus, and publishes nothing.
* ``backlog``: the backlog exporter (``python -m camunda_workers.backlog``, image from
  ``deploy/monitoring/backlog.Dockerfile``), one per stack, counting the external tasks of
  every worker's topics; Prometheus scrapes it like a worker (job ``camunda-backlog``).

* ``autoscaler`` (only with ``autoscale=True``, ``workers compose --autoscale``): the
  acting autoscaler (``python -m workers_tooling.autoscale``, image from
  ``deploy/monitoring/autoscaler.Dockerfile``), one replica on a manager, reading the
  engine on the ``workers`` network and changing replicas through the socket proxy on
  ``docker-api``; Prometheus scrapes its ``/metrics`` (job ``camunda-autoscaler``).

All of them are recognised by the :data:`COMPONENT_LABEL` label. Their images are named by the
one resolver (:class:`~..swarm._image_names.ImageNames`: ``${REGISTRY:-local}/workers-NAME`` in the
stack file) and tagged with a digest of what goes into them, so a changed rule or exporter
changes the stack file and ``docker stack deploy`` rolls the service.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..project._discovery import DiscoveredWorker
from ..stackfile._labels import AUTOSCALER_JOB, BACKLOG_JOB, COMPONENT_LABEL, prometheus_labels
from ..stackfile._service import ENGINE_URL, NETWORK, RESTART_POLICY, secret_variable
from ..swarm._image_names import ImageNames

__all__ = [
    "AUTOSCALER_PORT",
    "BACKLOG_PORT",
    "COMPONENTS",
    "DOCKER_API_NETWORK",
    "DOCKER_API_NETWORK_DECLARATION",
    "MONITORING_PORT",
    "MONITORING_VOLUME",
    "PROMETHEUS_PORT",
    "Component",
    "component_image",
    "component_services",
]

MONITORING_DIR = "deploy/monitoring"
PROMETHEUS_PORT = 9090
MONITORING_PORT = "${MONITORING_PORT:-9090}"
MONITORING_VOLUME = "monitoring-data"
# The manager's Docker socket, which only the socket proxy mounts.
DOCKER_SOCKET = "${MONITORING_DOCKER_SOCKET:-/var/run/docker.sock}"
# Prometheus and the socket proxy alone; internal: no way out of it either.
DOCKER_API_NETWORK = "docker-api"
DOCKER_API_NETWORK_DECLARATION = {"driver": "overlay", "internal": True}
BACKLOG_PORT = 9180
BACKLOG_INTERVAL_SECONDS = "30"
AUTOSCALER_PORT = 9181
AUTOSCALE_INTERVAL = "${AUTOSCALE_INTERVAL:-15}"
# Engine credentials a worker may get as Docker secrets; the exporter needs them too.
_CREDENTIALS = ("CAMUNDA_USER_FILE", "CAMUNDA_PASSWORD_FILE", "CAMUNDA_TOKEN_FILE")


@dataclass(frozen=True)
class Component:
    """One monitoring service: its image's Dockerfile, build context and inputs."""

    name: str
    dockerfile: str  # relative to the repository
    context: str  # relative to the repository
    inputs: tuple[str, ...]  # globs, relative to the repository: the image tag's digest
    base_arg: str  # the Dockerfile's build argument for its base image
    base_env: str  # the environment variable that sets it


COMPONENTS = (
    Component("monitoring", f"{MONITORING_DIR}/Dockerfile", MONITORING_DIR,
              (f"{MONITORING_DIR}/Dockerfile", f"{MONITORING_DIR}/prometheus.yml",
               f"{MONITORING_DIR}/rules/*.yml"),
              "PROMETHEUS_BASE_IMAGE", "PROMETHEUS_BASE_IMAGE"),
    Component("backlog", f"{MONITORING_DIR}/backlog.Dockerfile", ".",
              (f"{MONITORING_DIR}/backlog.Dockerfile", "sdk/pyproject.toml",
               "sdk/src/camunda_workers/*.py"),
              "BASE_IMAGE", "BASE_IMAGE"),
    Component("socket-proxy", f"{MONITORING_DIR}/socket-proxy.Dockerfile", ".",
              (f"{MONITORING_DIR}/socket-proxy.Dockerfile", f"{MONITORING_DIR}/socket_proxy.py",
               "sdk/pyproject.toml"),
              "BASE_IMAGE", "BASE_IMAGE"),
    Component("autoscaler", f"{MONITORING_DIR}/autoscaler.Dockerfile", ".",
              (f"{MONITORING_DIR}/autoscaler.Dockerfile",
               f"{MONITORING_DIR}/autoscaler-requirements.txt", "sdk/pyproject.toml",
               "tooling/src/workers_tooling/**/*.py"),  # the Dockerfile copies it all
              "BASE_IMAGE", "BASE_IMAGE"),
)


def _digest(repo: Path, globs: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for path in sorted({p for pattern in globs for p in repo.glob(pattern) if p.is_file()}):
        digest.update(path.relative_to(repo).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def component_image(repo: Path, component: Component, images: ImageNames) -> str:
    """``REGISTRY/workers-NAME:DIGEST``, the registry as ``images`` names it (left to the
    deploy, ``${REGISTRY:-local}``, unless resolved)."""
    return f"{images.repository(component.name)}:{_digest(repo, component.inputs)}"


def _one_replica_on_a_manager(component: str) -> dict[str, Any]:
    return {
        "replicas": 1,
        "endpoint_mode": "dnsrr",
        "placement": {"constraints": ["node.role == manager"]},
        "restart_policy": dict(RESTART_POLICY),
        "labels": {COMPONENT_LABEL: component},
    }


def _monitoring(image: str, *, publish: bool) -> dict[str, Any]:
    service: dict[str, Any] = {
        "image": image,
        # Host mode: the UI answers on the node that runs it, with or without the
        # routing mesh (which needs IPVS in the kernel). Without authentication: only
        # when asked.
        "ports": [{"target": PROMETHEUS_PORT, "published": MONITORING_PORT, "mode": "host"}],
        "networks": [NETWORK, DOCKER_API_NETWORK],
        "volumes": [f"{MONITORING_VOLUME}:/prometheus"],
        # on a manager, as before: its data volume stays where it was
        "deploy": _one_replica_on_a_manager("monitoring"),
    }
    if not publish:
        del service["ports"]
    return service


def _socket_proxy(image: str) -> dict[str, Any]:
    return {
        "image": image,
        # names its stack: the only one whose autoscaled services it may scale
        "environment": {"SOCKET_PROXY_SERVICE": "{{.Service.Name}}"},
        "networks": [DOCKER_API_NETWORK],
        "volumes": [f"{DOCKER_SOCKET}:/var/run/docker.sock"],
        # the Swarm's API answers on managers only
        "deploy": _one_replica_on_a_manager("socket-proxy"),
    }


def _backlog(image: str, workers: Sequence[DiscoveredWorker]) -> dict[str, Any]:
    topics = sorted({topic for worker in workers for topic in worker.spec.topics})
    secrets, files = _credentials(workers)
    service: dict[str, Any] = {
        "image": image,
        "environment": {
            "CAMUNDA_URL": ENGINE_URL,
            "BACKLOG_TOPICS": ",".join(topics),
            "BACKLOG_INTERVAL_SECONDS": BACKLOG_INTERVAL_SECONDS,
            "METRICS_PORT": str(BACKLOG_PORT),
            **files,
        },
        "networks": [NETWORK],
        "secrets": secrets,
        "deploy": {
            "replicas": 1,
            "endpoint_mode": "dnsrr",
            "restart_policy": dict(RESTART_POLICY),
            "labels": {COMPONENT_LABEL: "backlog", **prometheus_labels(BACKLOG_PORT, BACKLOG_JOB)},
        },
    }
    if not secrets:
        del service["secrets"]
    return service


def _credentials(workers: Sequence[DiscoveredWorker]) -> tuple[list[str], dict[str, str]]:
    """The engine credentials among the workers' secrets, and their file variables."""
    secrets = sorted({secret for worker in workers for secret in worker.spec.secrets
                      if secret_variable(secret) in _CREDENTIALS})
    return secrets, {secret_variable(secret): f"/run/secrets/{secret}" for secret in secrets}


def _autoscaler(image: str, workers: Sequence[DiscoveredWorker]) -> dict[str, Any]:
    autoscaled = {worker.name: {"topics": list(worker.spec.topics),
                                "autoscale": worker.spec.autoscale.model_dump()}
                  for worker in workers if worker.spec.autoscale is not None}
    secrets, files = _credentials(workers)
    service: dict[str, Any] = {
        "image": image,
        "environment": {
            "CAMUNDA_URL": ENGINE_URL,
            "DOCKER_HOST": "tcp://socket-proxy:2375",
            "AUTOSCALER_SERVICE": "{{.Service.Name}}",  # names the stack it scales
            "AUTOSCALE_INTERVAL": AUTOSCALE_INTERVAL,
            "AUTOSCALE_WORKERS": json.dumps(autoscaled, sort_keys=True,
                                            separators=(",", ":")),
            "METRICS_PORT": str(AUTOSCALER_PORT),
            **files,
        },
        "networks": [NETWORK, DOCKER_API_NETWORK],
        "secrets": secrets,
        "deploy": {
            "replicas": 1,
            "endpoint_mode": "dnsrr",
            # next to the socket proxy; one replica: two would fight over the replicas
            "placement": {"constraints": ["node.role == manager"]},
            "restart_policy": dict(RESTART_POLICY),
            "labels": {COMPONENT_LABEL: "autoscaler",
                       **prometheus_labels(AUTOSCALER_PORT, AUTOSCALER_JOB)},
        },
    }
    if not secrets:
        del service["secrets"]
    return service


def component_services(repo: Path, workers: Sequence[DiscoveredWorker], *,
                       images: ImageNames, publish: bool = False,
                       autoscale: bool = False) -> dict[str, dict[str, Any]]:
    """Service name -> the generated keys of that monitoring service, as plain data;
    ``publish``: Prometheus' port on its node's host port ``MONITORING_PORT``;
    ``autoscale``: with the autoscaler."""
    named = {component.name: component_image(repo, component, images)
             for component in COMPONENTS}
    services = {"monitoring": _monitoring(named["monitoring"], publish=publish),
                "backlog": _backlog(named["backlog"], workers),
                "socket-proxy": _socket_proxy(named["socket-proxy"])}
    if autoscale:
        services["autoscaler"] = _autoscaler(named["autoscaler"], workers)
    return services
