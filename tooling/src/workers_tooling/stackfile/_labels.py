"""The names the tooling writes into Swarm services, defined once.

A worker's service is the one whose ``deploy.labels`` carry :data:`WORKER_LABEL`; the
other ``camunda-workers.*`` labels record what the generator wrote, and ``prometheus.*``
labels are what Prometheus' Swarm service discovery reads. A ``worker.json`` may not set
label whose key Prometheus reads into the same namespaces (:func:`prometheus_label_name`,
:data:`RESERVED_LABEL_NAMESPACES`): ``prometheus_port`` and ``prometheus-port`` are
``prometheus.port`` to it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

__all__ = [
    "AUTOSCALER_JOB",
    "AUTOSCALE_MAX_LABEL",
    "AUTOSCALE_MIN_LABEL",
    "BACKLOG_JOB",
    "COMPONENT_LABEL",
    "DB_NODE_LABEL",
    "ENV_LABEL",
    "PROMETHEUS_JOB_LABEL",
    "PROMETHEUS_PATH_LABEL",
    "PROMETHEUS_PORT_LABEL",
    "PROMETHEUS_SCRAPE_LABEL",
    "RESERVED_LABEL_NAMESPACES",
    "RESERVED_LABEL_PREFIXES",
    "SECRETS_LABEL",
    "VERSION_LABEL",
    "WORKER_LABEL",
    "WORKERS_JOB",
    "label_line_pattern",
    "label_names",
    "prometheus_label_name",
    "prometheus_labels",
    "service_label",
]

WORKER_LABEL = "camunda-workers.worker"
# the node label the stack's db service is placed by (its volume stays on that node)
DB_NODE_LABEL = "camunda-workers.db"
VERSION_LABEL = "camunda-workers.version"
ENV_LABEL = "camunda-workers.environment"
SECRETS_LABEL = "camunda-workers.secrets"
# The stack's monitoring services (`monitoring`, `backlog`) carry this one instead.
COMPONENT_LABEL = "camunda-workers.component"
# On workers with an autoscale policy: the bounds within which the socket proxy lets the
# autoscaler change their replicas (deploy/monitoring/socket_proxy.py reads them).
AUTOSCALE_MIN_LABEL = "camunda-workers.autoscale.min_replicas"
AUTOSCALE_MAX_LABEL = "camunda-workers.autoscale.max_replicas"
RESERVED_LABEL_PREFIXES = ("camunda-workers.", "prometheus.")


def prometheus_label_name(key: str) -> str:
    """The label key as Prometheus' Swarm discovery names it: every character outside
    ``[a-zA-Z0-9_]`` becomes ``_`` (``prometheus.port`` -> ``prometheus_port``)."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", key)


# What the reserved prefixes are to Prometheus: a label reading as one of these is refused.
RESERVED_LABEL_NAMESPACES = tuple(map(prometheus_label_name, RESERVED_LABEL_PREFIXES))

# Read by deploy/monitoring/prometheus.yml (Swarm service discovery, role tasks).
PROMETHEUS_SCRAPE_LABEL = "prometheus.scrape"
PROMETHEUS_PORT_LABEL = "prometheus.port"
PROMETHEUS_PATH_LABEL = "prometheus.path"
PROMETHEUS_JOB_LABEL = "prometheus.job"
# The job names the alert and recording rules select (deploy/monitoring/rules).
WORKERS_JOB = "camunda-workers"
BACKLOG_JOB = "camunda-backlog"
AUTOSCALER_JOB = "camunda-autoscaler"


def prometheus_labels(port: int, job: str, path: str = "/metrics") -> dict[str, str]:
    """The labels that make Prometheus scrape every task of a service at ``port``."""
    return {PROMETHEUS_SCRAPE_LABEL: "true", PROMETHEUS_PORT_LABEL: str(port),
            PROMETHEUS_PATH_LABEL: path, PROMETHEUS_JOB_LABEL: job}


# Reading our labels back: the one place that knows both ways Compose writes them.

def label_names(labels: Any, label: str) -> list[str]:
    """The comma-separated names ``label`` holds in a ``deploy.labels`` value, written as a
    mapping (``label: a,b``) or as a list (``- label=a,b``); empty if it is not there."""
    value: Any = None
    if isinstance(labels, Mapping):
        value = labels.get(label)
    elif isinstance(labels, list):
        value = next((str(item).split("=", 1)[1] for item in labels
                      if str(item).startswith(f"{label}=")), None)
    return [name for name in str(value or "").split(",") if name]


def service_label(service: Any, label: str) -> str | None:
    """The (first) name ``label`` gives under the service's ``deploy.labels``, if any."""
    deploy = service.get("deploy") if isinstance(service, Mapping) else None
    names = label_names(deploy.get("labels"), label) if isinstance(deploy, Mapping) else []
    return names[0] if names else None


@functools.cache
def label_line_pattern(label: str) -> re.Pattern[str]:
    """A regex finding ``label: NAME`` (or ``- label=NAME``) on a line of its own in a
    service's text, NAME its group 1: a quick look before the text is parsed."""
    return re.compile(
        rf"^[ \t-]*['\"]?{re.escape(label)}['\"]?[ \t]*[:=][ \t]*['\"]?([a-z0-9-]+)",
        re.MULTILINE)
