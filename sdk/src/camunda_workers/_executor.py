"""Running fetched tasks: slots, locks, and the drain when the worker stops."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from contextlib import suppress
from typing import Any

from ._client import EngineClient
from ._lifecycle import Lifecycle
from ._locks import TaskLock
from ._metrics import WorkerMetrics
from ._outcome import OutcomePath

__all__ = ["TaskExecutor"]

log = logging.getLogger("camunda_workers")


class TaskExecutor:
    """Runs at most ``max_tasks`` tasks at once, each through the :class:`OutcomePath`."""

    def __init__(self, *, outcome: OutcomePath, client: EngineClient, metrics: WorkerMetrics,
                 lifecycle: Lifecycle, max_tasks: int, lock_ms: Callable[[str], int]) -> None:
        self._outcome = outcome
        self._client = client
        self._metrics = metrics
        self._lifecycle = lifecycle
        self._max_tasks = max_tasks
        self._lock_ms = lock_ms
        self._jobs: dict[asyncio.Task[None], TaskLock] = {}
        self._slot_freed = asyncio.Event()

    @property
    def in_flight(self) -> int:
        return len(self._jobs)

    async def free_slots(self, wait: float) -> int:
        """How many more tasks may start; when none, wait up to ``wait`` s for a slot."""
        if len(self._jobs) >= self._max_tasks:
            self._slot_freed.clear()
            with suppress(TimeoutError):
                await self._lifecycle.until_stopping(
                    asyncio.wait_for(self._slot_freed.wait(), wait))
        return max(self._max_tasks - len(self._jobs), 0)

    def lock(self, raw: Mapping[str, Any], *, owner: str, sent_at: float) -> TaskLock:
        """The lock of a task fetched by a poll sent at ``sent_at`` under ``owner``."""
        topic = str(raw["topicName"])
        return TaskLock(task_id=str(raw["id"]), topic=topic, owner=owner,
                        lock_ms=self._lock_ms(topic), locked_at=sent_at, client=self._client,
                        metrics=self._metrics, loop=asyncio.get_running_loop())

    def start(self, raw: Mapping[str, Any], lock: TaskLock) -> None:
        job = asyncio.get_running_loop().create_task(self._outcome.settle(raw, lock))
        self._jobs[job] = lock
        self._metrics.in_flight.labels(self._metrics.worker).inc()
        job.add_done_callback(self._finished)

    async def hand_back(self, locks: Iterable[TaskLock]) -> None:
        """Unlock tasks that will not run here (fetched while stopping), all at once."""
        await asyncio.gather(*(self._outcome.hand_back(lock) for lock in locks))

    def _finished(self, job: asyncio.Task[None]) -> None:
        if self._jobs.pop(job, None) is not None:
            self._metrics.in_flight.labels(self._metrics.worker).dec()
        self._slot_freed.set()
        if not job.cancelled() and job.exception() is not None:
            log.error("task settling failed unexpectedly", exc_info=job.exception())

    async def drain(self) -> None:
        """Let running handlers finish until the lifecycle cuts; hand back the rest; wait
        for every report until the shutdown deadline."""
        lifecycle = self._lifecycle
        if self._jobs:
            log.info("draining %d in-flight task(s), up to %.0fs", len(self._jobs),
                     lifecycle.seconds_to_cut())
            await lifecycle.until_cut(asyncio.wait(set(self._jobs)))
        unfinished = [job for job, lock in self._jobs.items() if lock.handler_running]
        if unfinished:
            log.warning("drain time is up: handing back %d unfinished task(s)", len(unfinished))
            for job in unfinished:
                job.cancel()
        if self._jobs:  # reports, and the unlocks of the cancelled handlers
            await lifecycle.until_deadline(asyncio.wait(set(self._jobs)))
        for job in list(self._jobs):  # past the deadline: nothing may wait any longer
            job.cancel()
