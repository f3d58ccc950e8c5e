"""``workers monitoring-status --prometheus URL``: each worker's health, read from Prometheus.

Per worker: the replicas Prometheus scrapes (up/down), tasks handled per second and the
failure ratio over the last 5 minutes (recording rules of deploy/monitoring/rules), the
backlog of its topics (the backlog exporter), and the alerts firing for it or its topics.
Prometheus reaches every replica on every node over the overlay network, so this works on
a Swarm of any size from wherever Prometheus' URL answers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..project._discovery import discover_workers
from ..stackfile._labels import WORKERS_JOB
from ._prometheus import PrometheusApi, Sample

__all__ = ["WorkerHealth", "prometheus_status"]


@dataclass(frozen=True)
class WorkerHealth:
    worker: str
    replicas_up: int
    replicas_down: int
    tasks_per_second: float
    failure_ratio: float | None  # None: nothing handled in the last 5 minutes
    open_tasks: int | None  # None: no backlog exporter reports the worker's topics
    locked_tasks: int | None
    incidents: int | None
    alerts: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.replicas_up > 0 and self.replicas_down == 0 and not self.alerts


def _by(samples: Iterable[Sample], *labels: str) -> dict[tuple[str, ...], float]:
    return {tuple(s.labels.get(label, "") for label in labels): s.value for s in samples}


def _selector(metric: str, *matchers: str) -> str:
    return f"{metric}{{{', '.join(m for m in matchers if m)}}}"


def _backlog(counts: dict[tuple[str, ...], float], topics: set[str], state: str) -> int | None:
    """The worker's topics' tasks in ``state``; None when no exporter reports them."""
    if not topics & {topic for topic, _ in counts}:
        return None
    return int(sum(counts.get((topic, state), 0.0) for topic in topics))


def prometheus_status(repo: Path, url: str, *, stack: str | None = None) -> list[WorkerHealth]:
    """Health of every worker of ``repo`` (and any other worker Prometheus scrapes).

    ``stack`` keeps series of that stack and those without a stack label (a Prometheus
    next to local processes, ``make monitoring``).
    """
    workers = {worker.name: set(worker.spec.topics) for worker in discover_workers(repo)}
    # a stack name is letters, digits, "-", "_" and "."; only "." means more in a regex
    in_stack = f'stack=~"{stack.replace(".", "[.]")}|"' if stack else ""
    with PrometheusApi(url) as api:
        scraped = _selector("up", f'job="{WORKERS_JOB}"', in_stack)
        answering = _by(api.query(f"sum by (worker) ({scraped})"), "worker")
        known = _by(api.query(f"count by (worker) ({scraped})"), "worker")
        handled = "camunda_worker:tasks_handled:rate5m"
        rates = _by(api.query(f"sum by (worker) ({_selector(handled, in_stack)})"), "worker")
        failures = _selector(handled, 'outcome="failed"', in_stack)
        failed = _by(api.query(f"sum by (worker) ({failures})"), "worker")
        backlog = _selector("camunda_backlog:external_tasks:max", in_stack)
        counts = _by(api.query(f"sum by (topic, state) ({backlog})"), "topic", "state")
        alerts = [alert for alert in api.alerts() if alert.get("state") == "firing"
                  and (stack is None or alert["labels"].get("stack", "") in (stack, ""))]
    for (name,) in [*known, *rates]:
        if name:
            workers.setdefault(name, set())  # scraped, though not in this repository
    report = []
    for name, topics in sorted(workers.items()):
        rate = rates.get((name,), 0.0)
        firing = sorted({alert["labels"]["alertname"] for alert in alerts
                         if alert["labels"].get("worker") == name
                         or alert["labels"].get("topic") in topics})
        report.append(WorkerHealth(
            worker=name, replicas_up=int(answering.get((name,), 0)),
            replicas_down=int(known.get((name,), 0) - answering.get((name,), 0)),
            tasks_per_second=rate,
            failure_ratio=failed.get((name,), 0.0) / rate if rate > 0 else None,
            open_tasks=_backlog(counts, topics, "open"),
            locked_tasks=_backlog(counts, topics, "locked"),
            incidents=_backlog(counts, topics, "no_retries"), alerts=tuple(firing)))
    return report
