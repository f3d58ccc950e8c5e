"""Prometheus metrics of one worker. Labels stay low-cardinality: worker, topic, outcome, kind."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

__all__ = ["DECISIONS", "ENGINE_ERROR_KINDS", "OUTCOMES", "WorkerMetrics"]

_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
OUTCOMES = ("completed", "failed", "bpmn_error", "unlocked")
DECISIONS = ("completed", "bpmn_error", "failed")  # what a handler can decide
# The kinds of camunda_workers.errors.EngineError (its docstring lists them; tested).
ENGINE_ERROR_KINDS = ("connection", "timeout", "server", "conflict", "malformed_response",
                      "not_found", "rejected", "unauthorized")


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
        self.max_tasks = Gauge("camunda_worker_max_tasks", "Handlers allowed in flight.",
                               ["worker"], registry=r)
        self.lock_duration = Gauge("camunda_worker_lock_duration_seconds",
                                   "Lock asked for per topic.", ["worker", "topic"], registry=r)
        self.alive = Gauge("camunda_worker_alive",
                           "1 while the poll loop turns (what /healthz answers).", ["worker"],
                           registry=r)
        self.in_flight.labels(worker)
        self.ready.labels(worker)
        # Series that exist from the start read 0 instead of missing: rates, ratios and
        # percentiles over them have data, and increase() sees the first increment (a
        # series born with its first tasks counted has no rate until the next ones).
        for outcome in ("ok", "error"):
            self.fetch_requests.labels(worker, outcome)
        for kind in ENGINE_ERROR_KINDS:
            self.engine_errors.labels(worker, kind)

    def running(self, *, max_tasks: int, lock_durations: Mapping[str, int],
                alive: Callable[[], bool]) -> None:
        """What alerts and dashboards compare against, once the worker runs.

        ``lock_durations`` maps each topic to its lock in milliseconds; ``alive`` is read
        at every scrape.
        """
        worker = self.worker
        self.max_tasks.labels(worker).set(max_tasks)
        self.alive.labels(worker).set_function(lambda: 1.0 if alive() else 0.0)
        for topic, lock_ms in lock_durations.items():
            self.lock_duration.labels(worker, topic).set(lock_ms / 1000)
            self.fetched.labels(worker, topic)
            self.lock_extensions.labels(worker, topic)
            for outcome in OUTCOMES:
                self.handled.labels(worker, topic, outcome)
            for decision in DECISIONS:
                self.duration.labels(worker, topic, decision)

    def task_handled(self, topic: str, outcome: str) -> None:
        """The engine accepted a report."""
        self.handled.labels(self.worker, topic, outcome).inc()

    def report_not_accepted(self, topic: str, report: str, kind: str) -> None:
        self.not_accepted.labels(self.worker, topic, report, kind).inc()

    def handler_ran(self, topic: str, decision: str, seconds: float) -> None:
        self.duration.labels(self.worker, topic, decision).observe(seconds)

    def engine_error(self, kind: str) -> None:
        self.engine_errors.labels(self.worker, kind).inc()
