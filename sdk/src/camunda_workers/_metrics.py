"""Prometheus metrics of one worker. Labels stay low-cardinality: worker, topic, outcome, kind."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Generic, TypeVar
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.metrics import MetricWrapperBase

__all__ = ["DECISIONS", "ENGINE_ERROR_KINDS", "OUTCOMES", "WorkerMetrics"]

_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
OUTCOMES = ("completed", "failed", "bpmn_error", "unlocked")
DECISIONS = ("completed", "bpmn_error", "failed")  # what a handler can decide
# The kinds of camunda_workers.errors.EngineError (its docstring lists them; tested).
ENGINE_ERROR_KINDS = ("connection", "timeout", "server", "conflict", "malformed_response",
                      "not_found", "rejected", "unauthorized", "too_large")
M = TypeVar("M", bound=MetricWrapperBase)


class _Children(Generic[M]):
    """A metric's children by label values, each bound once, on first use.

    ``metric.labels(...)`` validates and stringifies the labels and takes a lock on every
    call; a worker records several metrics per task, so each child is looked up here
    instead. A series appears when its child is bound: :class:`WorkerMetrics` binds the
    ones alerts and dashboards divide or rate up front (at 0), the rest on first use.
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
        self.not_subscribed = Counter(
            "camunda_worker_tasks_not_subscribed",
            "Tasks fetched of a topic this worker did not ask for (a proxy's or a broken "
            "engine's doing), unlocked at once.", ["worker"], registry=r)
        self.lock_extensions = Counter("camunda_worker_lock_extensions",
                                       "Locks extended.", ["worker", "topic"], registry=r)
        self.ready = Gauge("camunda_worker_ready", "1 while the engine answers and not draining.",
                           ["worker"], registry=r)
        self.max_tasks = Gauge("camunda_worker_max_tasks", "Handlers allowed in flight.",
                               ["worker"], registry=r)
        self.lock_duration = Gauge("camunda_worker_lock_duration_seconds",
                                   "Lock asked for per topic.", ["worker", "topic"], registry=r)
        self.alive = Gauge("camunda_worker_alive",
                           "1 while the poll loop turns (what /healthz answers).", ["worker"],
                           registry=r)
        # Bound once: recorded per task or per poll.
        self.tasks_in_flight = self.in_flight.labels(worker)
        self.worker_ready = self.ready.labels(worker)
        self.fetch_ok = self.fetch_requests.labels(worker, "ok")
        self.fetch_error = self.fetch_requests.labels(worker, "error")
        self.fetch_seconds = self.fetch_duration.labels(worker)
        self.tasks_not_subscribed = self.not_subscribed.labels(worker)
        self._fetched = _Children(self.fetched, worker)
        self._handled = _Children(self.handled, worker)
        self._not_accepted = _Children(self.not_accepted, worker)
        self._duration = _Children(self.duration, worker)
        self._engine_errors = _Children(self.engine_errors, worker)
        self._lock_extensions = _Children(self.lock_extensions, worker)
        # Series that exist from the start read 0 instead of missing: rates, ratios and
        # percentiles over them have data, and increase() sees the first increment (a
        # series born with its first tasks counted has no rate until the next ones).
        for kind in ENGINE_ERROR_KINDS:
            self._engine_errors(kind)

    def running(self, *, max_tasks: int, lock_durations: Mapping[str, int],
                alive: Callable[[], bool]) -> None:
        """What alerts and dashboards compare against, once the worker runs.

        ``lock_durations`` maps each topic to its lock in milliseconds; ``alive`` is read
        at every scrape. Each topic's counters and histograms start at 0.
        """
        worker = self.worker
        self.max_tasks.labels(worker).set(max_tasks)
        self.alive.labels(worker).set_function(lambda: 1.0 if alive() else 0.0)
        for topic, lock_ms in lock_durations.items():
            self.lock_duration.labels(worker, topic).set(lock_ms / 1000)
            self._fetched(topic)
            self._lock_extensions(topic)
            for outcome in OUTCOMES:
                self._handled(topic, outcome)
            for decision in DECISIONS:
                self._duration(topic, decision)

    def tasks_fetched(self, topic: str, count: int) -> None:
        self._fetched(topic).inc(count)

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
