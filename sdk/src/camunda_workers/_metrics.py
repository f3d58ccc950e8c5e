"""Prometheus metrics of one worker. Labels stay low-cardinality: worker, topic, outcome, kind."""

from __future__ import annotations

from typing import Generic, TypeVar
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.metrics import MetricWrapperBase

__all__ = ["WorkerMetrics"]

_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
M = TypeVar("M", bound=MetricWrapperBase)


class _Children(Generic[M]):
    """A metric's children by label values, each bound once, on first use.

    ``metric.labels(...)`` validates and stringifies the labels and takes a lock on every
    call; a worker records several metrics per task, so each child is looked up here
    instead. Binding on first use keeps the exposition as before: a series appears
    when it is first recorded.
    """

    def __init__(self, metric: M, worker: str) -> None:
        self._metric = metric
        self._worker = worker
        self._bound: dict[tuple[str, ...], M] = {}

    def __call__(self, *labels: str) -> M:
        child = self._bound.get(labels)
        if child is None:
            child = self._bound[labels] = self._metric.labels(self._worker, *labels)
        return child


class WorkerMetrics:
    """The metrics a worker records, registered in ``registry``.

    Tests pass a fresh ``CollectorRegistry()`` and read it with ``get_sample_value``.
    """

    def __init__(
        self, *, worker: str, version: str, engine_url: str,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.worker = worker
        r = self.registry
        self.info = Info("camunda_worker", "Worker name, SDK version and engine host.",
                         registry=r)
        # Only the host: a URL may carry credentials.
        self.info.info({"worker": worker, "sdk_version": version,
                        "engine_host": urlsplit(engine_url).hostname or ""})
        self.fetched = Counter("camunda_worker_tasks_fetched", "Tasks fetched and locked.",
                               ["worker", "topic"], registry=r)
        self.handled = Counter(
            "camunda_worker_tasks_handled",
            "Reports the engine accepted, by outcome: completed, failed, bpmn_error, unlocked.",
            ["worker", "topic", "outcome"], registry=r)
        self.not_accepted = Counter(
            "camunda_worker_reports_not_accepted",
            "Reports not accepted, by report (complete, bpmnError, failure, unlock) and kind: "
            "unsendable, task_gone, refused, undeliverable.",
            ["worker", "topic", "report", "kind"], registry=r)
        self.duration = Histogram("camunda_worker_handler_duration_seconds",
                                  "Time a handler ran, by what it decided: completed, "
                                  "bpmn_error, failed.", ["worker", "topic", "outcome"],
                                  buckets=_DURATION_BUCKETS, registry=r)
        self.in_flight = Gauge("camunda_worker_tasks_in_flight", "Handlers running now.",
                               ["worker"], registry=r)
        self.fetch_requests = Counter("camunda_worker_fetch_requests",
                                      "fetchAndLock requests, by outcome: ok, error.",
                                      ["worker", "outcome"], registry=r)
        self.fetch_duration = Histogram("camunda_worker_fetch_duration_seconds",
                                        "fetchAndLock duration (long poll included).",
                                        ["worker"], registry=r)
        self.engine_errors = Counter("camunda_worker_engine_errors",
                                     "Failed engine requests, by kind.", ["worker", "kind"],
                                     registry=r)
        self.lock_extensions = Counter("camunda_worker_lock_extensions",
                                       "Locks extended.", ["worker", "topic"], registry=r)
        self.ready = Gauge("camunda_worker_ready", "1 while the engine answers and not draining.",
                           ["worker"], registry=r)
        # Bound once: recorded per task or per poll.
        self.tasks_in_flight = self.in_flight.labels(worker)
        self.worker_ready = self.ready.labels(worker)
        self.fetch_ok = self.fetch_requests.labels(worker, "ok")
        self.fetch_error = self.fetch_requests.labels(worker, "error")
        self.fetch_seconds = self.fetch_duration.labels(worker)
        self._fetched = _Children(self.fetched, worker)
        self._handled = _Children(self.handled, worker)
        self._not_accepted = _Children(self.not_accepted, worker)
        self._duration = _Children(self.duration, worker)
        self._engine_errors = _Children(self.engine_errors, worker)
        self._lock_extensions = _Children(self.lock_extensions, worker)

    def task_fetched(self, topic: str) -> None:
        self._fetched(topic).inc()

    def task_handled(self, topic: str, outcome: str) -> None:
        """The engine accepted a report."""
        self._handled(topic, outcome).inc()

    def report_not_accepted(self, topic: str, report: str, kind: str) -> None:
        self._not_accepted(topic, report, kind).inc()

    def handler_ran(self, topic: str, decision: str, seconds: float) -> None:
        self._duration(topic, decision).observe(seconds)

    def engine_error(self, kind: str) -> None:
        self._engine_errors(kind).inc()

    def lock_extended(self, topic: str) -> None:
        self._lock_extensions(topic).inc()
