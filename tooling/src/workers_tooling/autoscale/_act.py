"""The acting autoscaler: every round, each autoscaled worker's load (one query set for
all, :func:`read_loads`), its service's replicas (:func:`worker_services`), then
:func:`decide`, and the change made through the socket proxy (:func:`set_replicas`).

It never makes things worse: engine away or unreadable → the replicas stay as they are;
a Docker API error → retried with backoff, then the round is skipped; a service in a
rolling update → left alone until it ends; a restart starts the scale-down window from
the replicas running. Each change is one log line with its reason
(``hello-world 2 -> 6: load 580 over 100 per replica``); a trouble is logged once when it
starts and once when it ends, not every round.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import httpx

from ..project._service_spec import AutoscalePolicy
from ._load import read_loads
from ._metrics import AutoscalerMetrics
from ._swarm import SwarmError, WorkerService, set_replicas, worker_services
from .policy import ScaleState, decide

__all__ = ["AutoscaledWorker", "Autoscaler"]

_T = TypeVar("_T")


@dataclass(frozen=True)
class AutoscaledWorker:
    name: str
    topics: tuple[str, ...]
    policy: AutoscalePolicy


class Autoscaler:
    """The loop; ``engine`` and ``docker`` are ``httpx`` clients whose ``base_url`` is the
    engine's REST root and the Docker API (the socket proxy); ``say`` gets each log line."""

    def __init__(self, workers: Sequence[AutoscaledWorker], *, stack: str,
                 engine: httpx.Client, docker: httpx.Client, metrics: AutoscalerMetrics,
                 say: Callable[[str], None], clock: Callable[[], float] = time.monotonic,
                 stop: threading.Event | None = None, attempts: int = 3,
                 backoff: float = 1.0) -> None:
        self.workers = {worker.name: worker for worker in workers}
        self.stack, self.engine, self.docker = stack, engine, docker
        self.metrics, self.say, self.clock = metrics, say, clock
        self.stop = stop or threading.Event()
        self.attempts, self.backoff = attempts, backoff
        self.states: dict[str, ScaleState | None] = dict.fromkeys(self.workers)
        self._troubles: dict[str, str] = {}

    def _trouble(self, key: str, message: str | None, *, ended: str = "") -> None:
        """Log ``message`` when the trouble ``key`` starts (or changes), ``ended`` when it
        ends (``message`` None)."""
        if message is None:
            if self._troubles.pop(key, None) is not None and ended:
                self.say(ended)
        elif self._troubles.get(key) != message:
            self._troubles[key] = message
            self.say(message)

    def _retried(self, call: Callable[[], _T]) -> _T:
        """``call``, retried ``attempts`` times with doubling waits on :class:`SwarmError`."""
        for attempt in range(self.attempts):
            try:
                return call()
            except SwarmError:
                if attempt == self.attempts - 1 or self.stop.wait(
                        self.backoff * 2 ** attempt):
                    raise
        raise AssertionError("unreachable")

    def run_round(self) -> None:
        reading = read_loads(self.engine, {name: list(worker.topics)
                                           for name, worker in self.workers.items()})
        self.metrics.engine_up.set(reading.error is None)
        if reading.error is not None:
            self.metrics.errors.labels("engine").inc()
        self._trouble("engine", None if reading.error is None else
                      f"engine: {reading.error}; replicas stay as they are",
                      ended="engine: readable again")
        try:
            services = self._retried(lambda: worker_services(self.docker, self.stack))
        except SwarmError as exc:
            self.metrics.errors.labels("docker").inc()
            self._trouble("docker", f"Docker API: {exc}; nothing changed this round")
            return
        self._trouble("docker", None, ended="Docker API: answering again")
        now = self.clock()
        for name in self.workers:
            self._one(name, services.get(name), reading.loads.get(name), now)

    def _one(self, name: str, service: WorkerService | None, load: int | None,
             now: float) -> None:
        if service is None or service.replicas is None:
            self._trouble(name, f"{name}: no service in stack {self.stack!r}; waiting for a "
                          "deploy" if service is None else
                          f"{name}: a global service; not autoscaled")
            return
        if service.updating:
            self._trouble(name, f"{name}: update in progress ({service.update_state}); left "
                          "alone until it ends")
            return
        self._trouble(name, None)
        current = service.replicas
        decision = decide(name, self.workers[name].policy, now=now, load=load,
                          current=current, state=self.states[name])
        self.states[name] = decision.state
        self.metrics.observed(name, load=load, current=current, desired=decision.replicas)
        if not decision.changes(current):
            return
        try:
            self._retried(lambda: set_replicas(self.docker, service, decision.replicas))
        except SwarmError as exc:
            self.metrics.errors.labels("docker").inc()
            self.say(f"{name}: could not scale {current} -> {decision.replicas}: {exc}; "
                     "tried again next round")
            return
        self.metrics.current.labels(name).set(decision.replicas)
        self.say(decision.reason)

    def run(self, interval: float) -> None:
        """Rounds every ``interval`` seconds until :attr:`stop` is set."""
        while True:
            started = self.clock()
            self.run_round()
            if self.stop.wait(max(0.0, interval - (self.clock() - started))):
                return
