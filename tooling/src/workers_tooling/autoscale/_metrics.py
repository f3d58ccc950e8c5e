"""The autoscaler's metrics, served at ``/metrics`` and scraped by the stack's Prometheus.

    metrics = AutoscalerMetrics(registry=CollectorRegistry())
    metrics.observed("hello-world", load=580, current=2, desired=6)
"""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge

__all__ = ["AutoscalerMetrics", "direction_and_reason"]


def direction_and_reason(*, load: int | None, current: int, desired: int) -> tuple[str, str]:
    """A decision's labels: direction up/down/none; reason load_unknown, activation (from
    0), cooldown (to 0), load (ceil(load / tasks_per_replica)) or steady."""
    if load is None:
        return "none", "load_unknown"
    if desired > current:
        return "up", "activation" if current == 0 else "load"
    if desired < current:
        return "down", "cooldown" if desired == 0 else "load"
    return "none", "steady"


class AutoscalerMetrics:
    """What the autoscaler saw and did, per worker; ``registry``: where they are served."""

    def __init__(self, *, registry: CollectorRegistry = REGISTRY) -> None:
        self.desired = Gauge("camunda_autoscaler_desired_replicas",
                             "Replicas the autoscaler decided for the worker", ["worker"],
                             registry=registry)
        self.current = Gauge("camunda_autoscaler_current_replicas",
                             "Replicas the worker's service ran when the round read it",
                             ["worker"], registry=registry)
        self.load = Gauge("camunda_autoscaler_load",
                          "Open and locked tasks (retries left) of the worker's topics",
                          ["worker"], registry=registry)
        self.decisions = Counter("camunda_autoscaler_decisions",
                                 "Decisions by direction (up, down, none) and reason",
                                 ["worker", "direction", "reason"], registry=registry)
        self.errors = Counter("camunda_autoscaler_errors",
                              "Rounds the engine or the Docker API failed", ["source"],
                              registry=registry)
        self.engine_up = Gauge("camunda_autoscaler_engine_up",
                               "1 when the last round read every load", registry=registry)
        for source in ("engine", "docker"):
            self.errors.labels(source)

    def observed(self, worker: str, *, load: int | None, current: int, desired: int) -> None:
        """One decision for ``worker`` (``load`` None: unknown, the gauge keeps its value)."""
        if load is not None:
            self.load.labels(worker).set(load)
        self.current.labels(worker).set(current)
        self.desired.labels(worker).set(desired)
        self.decisions.labels(worker, *direction_and_reason(
            load=load, current=current, desired=desired)).inc()
