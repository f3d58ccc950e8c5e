"""The names the tooling writes into Swarm services, defined once.

A worker's service is the one whose ``deploy.labels`` carry :data:`WORKER_LABEL`; the
other ``camunda-workers.*`` labels record what the generator wrote, and ``prometheus.*``
labels are what Prometheus' Swarm service discovery reads. A ``worker.json`` may not set
labels with these prefixes (:data:`RESERVED_LABEL_PREFIXES`).
"""

from __future__ import annotations

__all__ = [
    "ENV_LABEL",
    "RESERVED_LABEL_PREFIXES",
    "SECRETS_LABEL",
    "VERSION_LABEL",
    "WORKER_LABEL",
]

WORKER_LABEL = "camunda-workers.worker"
VERSION_LABEL = "camunda-workers.version"
ENV_LABEL = "camunda-workers.environment"
SECRETS_LABEL = "camunda-workers.secrets"
RESERVED_LABEL_PREFIXES = ("camunda-workers.", "prometheus.")
