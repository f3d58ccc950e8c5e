"""The Swarm service of one worker, as ``workers compose`` writes it.

Inside a worker's service the generator owns :data:`SERVICE_KEYS` (``build`` and
``depends_on`` are removed: Swarm ignores them), inside its ``deploy`` the
:data:`DEPLOY_KEYS`, inside its ``environment`` :data:`FIXED_ENVIRONMENT` plus the keys it
derives from ``worker.json`` and the overlay (recorded in the :data:`ENV_LABEL` label), and
inside ``secrets`` those of ``worker.json`` (recorded in :data:`SECRETS_LABEL`). Every other
key of the service, and every comment, is the stack file owner's and stays.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from ..project._discovery import DiscoveredWorker
from ._labels import (
    AUTOSCALE_MAX_LABEL,
    AUTOSCALE_MIN_LABEL,
    ENV_LABEL,
    SECRETS_LABEL,
    VERSION_LABEL,
    WORKER_LABEL,
    WORKERS_JOB,
    prometheus_labels,
)
from ._service_values import secret_variable

__all__ = [
    "DEPLOY_KEYS",
    "ENGINE_URL",
    "FIXED_ENVIRONMENT",
    "HEALTHCHECK",
    "NETWORK",
    "NETWORK_DECLARATION",
    "REMOVED_KEYS",
    "RESTART_POLICY",
    "SECRET_DECLARATION",
    "SERVICE_KEYS",
    "VOLUME_DECLARATION",
    "build_service",
        "secret_variable",
]

SERVICE_KEYS = ("image", "environment", "ports", "networks", "secrets", "healthcheck",
                "stop_grace_period", "deploy")
REMOVED_KEYS = ("build", "depends_on")
DEPLOY_KEYS = ("replicas", "placement", "resources", "update_config", "rollback_config",
               "restart_policy", "labels", "endpoint_mode")
FIXED_ENVIRONMENT = ("CAMUNDA_URL", "METRICS_PORT", "WORKER_ID")
NETWORK = "workers"
# What the generator declares at the top level when the file lacks it.
NETWORK_DECLARATION = {"driver": "overlay", "attachable": True}
SECRET_DECLARATION = {"external": True}
VOLUME_DECLARATION: dict[str, str] = {}  # a named volume of the Swarm's default driver
ENGINE_URL = "${CAMUNDA_URL:-http://engine:8080/engine-rest}"
# The worker answers /healthz once its loop turns: a few seconds after start.
HEALTHCHECK = {"interval": "10s", "timeout": "5s", "retries": 3, "start_period": "20s"}
RESTART_POLICY = {"condition": "any", "delay": "5s", "window": "120s"}


def _amounts(amounts: Any) -> dict[str, Any]:
    values = {"cpus": None if amounts.cpus is None else str(amounts.cpus),
              "memory": amounts.memory}
    return {key: value for key, value in values.items() if value is not None}


def _deploy(worker: DiscoveredWorker, env_keys: list[str]) -> dict[str, Any]:
    spec = worker.spec
    deploy: dict[str, Any] = {"replicas": spec.replicas}
    if spec.placement:
        placement: dict[str, Any] = {}
        if spec.placement.constraints:
            placement["constraints"] = list(spec.placement.constraints)
        if spec.placement.preferences:
            placement["preferences"] = [{"spread": p.spread} for p in spec.placement.preferences]
        if spec.placement.max_replicas_per_node is not None:
            placement["max_replicas_per_node"] = spec.placement.max_replicas_per_node
        if placement:
            deploy["placement"] = placement
    if spec.resources:
        resources = {kind: _amounts(amounts) for kind, amounts in
                     (("limits", spec.resources.limits),
                      ("reservations", spec.resources.reservations)) if amounts}
        if any(resources.values()):
            deploy["resources"] = {k: v for k, v in resources.items() if v}
    update = spec.update
    deploy["update_config"] = {
        "parallelism": update.parallelism, "delay": update.delay, "order": update.order,
        "failure_action": update.failure_action, "monitor": update.monitor}
    deploy["rollback_config"] = {
        "parallelism": update.parallelism, "delay": "0s", "order": update.order,
        "failure_action": "pause", "monitor": update.monitor}
    deploy["restart_policy"] = dict(RESTART_POLICY)
    labels: dict[str, Any] = {
        WORKER_LABEL: spec.name,
        VERSION_LABEL: spec.version,
        **prometheus_labels(spec.port, WORKERS_JOB),
    }
    if env_keys:
        labels[ENV_LABEL] = ",".join(env_keys)
    if spec.secrets:
        labels[SECRETS_LABEL] = ",".join(spec.secrets)
    if spec.autoscale is not None:  # the socket proxy's bounds for the autoscaler
        labels[AUTOSCALE_MIN_LABEL] = str(spec.autoscale.min_replicas)
        labels[AUTOSCALE_MAX_LABEL] = str(spec.autoscale.max_replicas)
    deploy["labels"] = {**labels, **spec.labels}
    return deploy


def _merge(base: dict[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def build_service(worker: DiscoveredWorker, *, image: str,
                  overlays: tuple[Mapping[str, Any], ...] = ()) -> dict[str, Any]:
    """The generated keys of the worker's service, as plain data (see the module doc)."""
    spec = worker.spec
    port = spec.port
    environment: dict[str, str] = {
        "CAMUNDA_URL": ENGINE_URL, "METRICS_PORT": str(port), "WORKER_ID": "{{.Task.Name}}"}
    environment.update({secret_variable(s): f"/run/secrets/{s}" for s in spec.secrets})
    environment.update(spec.environment)
    probe = f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}/healthz')"
    service: dict[str, Any] = {
        "image": image,
        "environment": environment,
        # Only on request: a published port reaches one replica at random (see ServiceSpec).
        "ports": [f"{port}:{port}"] if spec.publish_port else [],
        "networks": [NETWORK],
        "secrets": list(spec.secrets),
        "healthcheck": {"test": ("CMD", "python3", "-c", DoubleQuotedScalarString(probe)),
                        **HEALTHCHECK},
        "stop_grace_period": spec.stop_grace_period,
        "deploy": {},
    }
    for overlay in overlays:
        service = _merge(service, overlay)
    service["environment"] = {key: value if isinstance(value, str) else _text(value)
                              for key, value in service["environment"].items()}
    env_keys = [key for key in service["environment"] if key not in FIXED_ENVIRONMENT]
    service["deploy"] = _merge(_deploy(worker, env_keys), service["deploy"])
    for key in ("secrets", "ports"):  # an overlay's `ports: []` publishes nothing
        if not service[key]:
            del service[key]
    return service


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)
