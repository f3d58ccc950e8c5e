"""The engine's backlog per topic, read from its REST count endpoints (never task lists).

One refresh asks ``GET /external-task/topic-names`` which topics have tasks at all, then
``GET /external-task/count`` for each of those in three disjoint states (:data:`STATES`),
so the states of a topic add up to its tasks (suspended, unlocked ones excepted). Topics
without tasks read 0 without a request: those given up front and every topic seen
since the start, so a backlog that drains shows 0 rather than a gap.

The requests go through the workers' own engine client
(credentials, TLS, error classification): the exporter needs nothing a worker image lacks.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .._client import EngineClient
from ..errors import EngineError

__all__ = ["STATES", "BacklogCollector", "BacklogSnapshot", "EngineCountError"]

log = logging.getLogger("camunda_workers.backlog")

# state -> the count query's filters
STATES: Mapping[str, Mapping[str, str]] = {
    # what the next fetchAndLock can get
    "open": {"notLocked": "true", "withRetriesLeft": "true", "active": "true"},
    # locked by a worker, including tasks that wait out a retry timeout after a failure
    "locked": {"locked": "true", "withRetriesLeft": "true"},
    # retries used up: each is an incident
    "no_retries": {"noRetriesLeft": "true"},
}


class EngineCountError(Exception):
    """The engine did not give a count (unreachable, error answer, or not JSON)."""


@dataclass(frozen=True)
class BacklogSnapshot:
    """The result of one refresh: counts per (topic, state), or the error."""

    counts: Mapping[tuple[str, str], int] = field(default_factory=dict)
    error: str | None = None
    finished_at: float = 0.0
    seconds: float = 0.0
    requests: int = 0


class BacklogCollector(Collector):
    """Refreshed by :meth:`refresh` (on a timer, on the event loop); :meth:`collect`
    (called by the /metrics server's thread) serves the last snapshot.

    Series: ``camunda_external_tasks{topic, state}``, ``camunda_backlog_engine_up``,
    ``camunda_backlog_refresh_duration_seconds``,
    ``camunda_backlog_last_success_timestamp_seconds``,
    ``camunda_backlog_refresh_errors_total``.
    """

    def __init__(
        self,
        engine: EngineClient,
        *,
        topics: Iterable[str] = (),
        registry: CollectorRegistry | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._known: dict[str, None] = dict.fromkeys(topics)  # ordered set
        self._lock = threading.Lock()
        self.snapshot = BacklogSnapshot()
        self._last_success = 0.0
        self._errors = 0
        self._topic_names_supported = True
        self._requests = 0
        if registry is not None:
            registry.register(self)

    async def refresh(self) -> BacklogSnapshot:
        """Ask the engine for the counts now; never raises for engine trouble."""
        started = time.monotonic()
        self._requests = 0
        try:
            with_tasks = await self._topics_with_tasks()
            self._known.update(dict.fromkeys(sorted(with_tasks or ())))
            counts: dict[tuple[str, str], int] = {}
            for topic in self._known:
                for state, filters in STATES.items():
                    if with_tasks is None or topic in with_tasks:
                        counts[topic, state] = await self._count({"topicName": topic,
                                                                  **filters})
                    else:
                        counts[topic, state] = 0
            error = None
        except EngineCountError as exc:
            counts, error = {}, str(exc)
        snapshot = BacklogSnapshot(counts, error, self._clock(), time.monotonic() - started,
                                   self._requests)
        with self._lock:
            if snapshot.error is None:
                if self.snapshot.error is not None:
                    log.info("engine answers again: backlog counts are back")
                self._last_success = snapshot.finished_at
            else:
                self._errors += 1
                if self.snapshot.error is None:
                    log.warning("cannot read the backlog: %s (retrying every refresh)",
                                snapshot.error)
            self.snapshot = snapshot
        return snapshot

    async def _topics_with_tasks(self) -> set[str] | None:
        """The topics that have tasks; None when the engine cannot tell."""
        if not self._topic_names_supported:
            return None
        try:
            names = await self._get("/external-task/topic-names", {})
        except _NotFound:
            # Engines before 7.19 have no topic-names endpoint: count the known topics.
            # A wrong base URL answers 404 too; the count endpoint tells them apart.
            await self._count({})
            log.warning("this engine has no /external-task/topic-names; counting only the "
                        "topics given with --topic")
            self._topic_names_supported = False
            return None
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise EngineCountError(f"/external-task/topic-names: not a list of names: {names!r}")
        return set(names)

    async def _count(self, params: Mapping[str, str]) -> int:
        body = await self._get("/external-task/count", params)
        count = body.get("count") if isinstance(body, dict) else None
        if not isinstance(count, int):
            raise EngineCountError(f"/external-task/count: no count in {body!r}")
        return count

    async def _get(self, path: str, params: Mapping[str, str]) -> Any:
        self._requests += 1
        try:
            return await self._engine.request("GET", path, params=params)
        except EngineError as exc:
            if exc.status == 404 and path.endswith("topic-names"):
                raise _NotFound from None
            hint = ("; is CAMUNDA_URL the engine's REST root (.../engine-rest)?"
                    if exc.status == 404 else "")
            raise EngineCountError(f"{exc.kind}: {exc}{hint}") from None

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            snapshot, last_success, errors = self.snapshot, self._last_success, self._errors
        tasks = GaugeMetricFamily("camunda_external_tasks",
                                  "External tasks in the engine per topic and state "
                                  "(open, locked, no_retries).", labels=["topic", "state"])
        for (topic, state), count in sorted(snapshot.counts.items()):
            tasks.add_metric([topic, state], count)
        yield tasks
        yield GaugeMetricFamily("camunda_backlog_engine_up",
                                "1 if the last refresh got every count from the engine.",
                                value=1 if snapshot.finished_at and snapshot.error is None
                                else 0)
        yield GaugeMetricFamily("camunda_backlog_refresh_duration_seconds",
                                "How long the last refresh took.", value=snapshot.seconds)
        yield GaugeMetricFamily("camunda_backlog_last_success_timestamp_seconds",
                                "When the counts were last read (Unix time).",
                                value=last_success)
        yield CounterMetricFamily("camunda_backlog_refresh_errors",
                                  "Refreshes that failed.", value=errors)


class _NotFound(Exception):
    pass
