"""Running fetched tasks: slots, the tasks fetched ahead, and the drain when the worker stops."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from contextlib import suppress
from typing import Any

from ._lifecycle import Lifecycle
from ._locks import LockRenewal, TaskLock
from ._metrics import WorkerMetrics
from ._outcome import OutcomePath

__all__ = ["TaskExecutor"]

log = logging.getLogger("camunda_workers")

# Weight of the newest slot time in the running average (about the last ten tasks count).
_PACE_WEIGHT = 0.2


class TaskExecutor:
    """Runs at most ``max_tasks`` tasks at once, each through the :class:`OutcomePath`.

    When every slot is taken, a few more tasks may be fetched ahead and wait here, so
    that a slot that frees up starts its next task at once instead of after a fetch: as
    many as the slots finish within ``ahead_seconds`` at the pace measured so far. Short
    tasks get up to ``max_tasks`` waiting; tasks that run longer than ``ahead_seconds``
    get none, so a task never waits here with its lock running for long, and a replica
    takes no more work than it will start soon. ``bench/README.md`` compares this with
    asking for the free slots only.

    Fetches are batched: a fetch costs the engine about as much for one task as for
    ``max_tasks``, so a worker that could fetch fewer than ``max_tasks`` waits for more
    to be wanted, but no longer than the engine takes to answer a report. While the
    engine answers at once that wait is nothing; while its answers are slow, the engine
    is the bottleneck, a slot that waits costs no throughput, and K replicas send one
    fetch per batch instead of one per freed slot (``bench/README.md``, "Many replicas,
    one engine").
    """

    def __init__(self, *, outcome: OutcomePath, renewal: LockRenewal, metrics: WorkerMetrics,
                 lifecycle: Lifecycle, max_tasks: int, lock_ms: Callable[[str], int],
                 ahead_seconds: float) -> None:
        self._outcome = outcome
        self._renewal = renewal
        self._metrics = metrics
        self._lifecycle = lifecycle
        self._max_tasks = max_tasks
        self._lock_ms = lock_ms
        self._ahead_seconds = ahead_seconds
        self._jobs: dict[asyncio.Task[float], tuple[TaskLock, float]] = {}  # lock, start time
        self._ahead: deque[tuple[Mapping[str, Any], TaskLock]] = deque()
        self._slot_seconds: float | None = None  # running average: start to report
        self._report_seconds: float | None = None  # running average: handler's end to answer
        self._slot_freed = asyncio.Event()
        self._refusing: set[asyncio.Future[Any]] = set()  # unlocks of tasks never asked for
        # Read when scraped instead of counted up and down (under a lock) for every task.
        metrics.tasks_in_flight.set_function(lambda: len(self._jobs))

    @property
    def in_flight(self) -> int:
        return len(self._jobs)

    def _ahead_limit(self) -> int:
        if self._slot_seconds is None:
            return 0  # no pace measured yet
        return min(self._max_tasks,
                   int(self._max_tasks * self._ahead_seconds / self._slot_seconds))

    def _wanted(self) -> tuple[int, int]:
        """How many tasks to fetch, and from how many a fetch is worth it."""
        limit = self._ahead_limit()
        free = self._max_tasks - len(self._jobs) + limit - len(self._ahead)
        # With tasks fetched ahead, fetch again once half of them have started: the rest
        # bridge the fetch, and fetches stay large. Without, every free slot is worth one.
        return min(max(free, 0), self._max_tasks), max(limit // 2, 1)

    async def free_slots(self, wait: float) -> int:
        """How many tasks to fetch now; when too few, wait up to ``wait`` s for more.

        Once a fetch is worth it, wait for a whole batch as long as the engine takes to
        answer a report (see the class).
        """
        loop = asyncio.get_running_loop()
        until = loop.time() + wait
        wanted, worth = self._wanted()
        worth_it = False  # once it is, the wait is only for a whole batch
        while wanted < self._max_tasks:
            if not worth_it and wanted >= worth:
                worth_it = True
                until = min(until, loop.time() + (self._report_seconds or 0.0))
            if loop.time() >= until:
                break
            self._slot_freed.clear()
            with suppress(TimeoutError):
                await self._lifecycle.until_stopping(asyncio.wait_for(
                    self._slot_freed.wait(), until - loop.time()))
            if self._lifecycle.stopping.is_set():
                return 0
            wanted, worth = self._wanted()
        return wanted if wanted >= worth or (worth_it and wanted > 0) else 0

    def lock(self, raw: Mapping[str, Any], *, owner: str, sent_at: float) -> TaskLock:
        """The lock of a task fetched by a poll sent at ``sent_at`` under ``owner``."""
        topic = str(raw["topicName"])
        return self._renewal.new_lock(task_id=str(raw["id"]), topic=topic, owner=owner,
                                      lock_ms=self._lock_ms(topic), locked_at=sent_at)

    def start(self, raw: Mapping[str, Any], lock: TaskLock) -> None:
        """Run the task now if a slot is free, else as soon as one is."""
        if len(self._jobs) >= self._max_tasks:
            self._ahead.append((raw, lock))
            return
        loop = asyncio.get_running_loop()
        job = loop.create_task(self._outcome.settle(raw, lock))
        self._jobs[job] = (lock, loop.time())
        job.add_done_callback(self._finished)

    def refuse(self, locks: Iterable[TaskLock]) -> None:
        """Unlock tasks of topics this worker never asked for, beside the running ones."""
        job = asyncio.gather(*(self._outcome.refuse(lock) for lock in locks))
        self._refusing.add(job)
        job.add_done_callback(self._refusing.discard)

    async def hand_back(self, locks: Iterable[TaskLock]) -> None:
        """Unlock tasks that will not run here (fetched while stopping), all at once."""
        await asyncio.gather(*(self._outcome.hand_back(lock) for lock in locks))

    def _finished(self, job: asyncio.Task[float]) -> None:
        slot = self._jobs.pop(job, None)
        if slot is not None:
            seconds = asyncio.get_running_loop().time() - slot[1]
            pace = self._slot_seconds
            self._slot_seconds = seconds if pace is None else (
                pace + _PACE_WEIGHT * (seconds - pace))
            if not job.cancelled() and job.exception() is None:
                reporting = max(seconds - job.result(), 0.0)
                known = self._report_seconds
                self._report_seconds = reporting if known is None else (
                    known + _PACE_WEIGHT * (reporting - known))
        if self._ahead and not self._lifecycle.stopping.is_set():
            self.start(*self._ahead.popleft())
        self._slot_freed.set()
        if not job.cancelled() and job.exception() is not None:
            log.error("task settling failed unexpectedly", exc_info=job.exception())

    async def drain(self) -> None:
        """Hand back the tasks fetched ahead; let running handlers finish until the
        lifecycle cuts; hand back the rest; wait for every report until the deadline."""
        lifecycle = self._lifecycle
        ahead = [lock for _, lock in self._ahead]
        self._ahead.clear()
        if ahead:
            log.info("handing back %d task(s) fetched ahead", len(ahead))
        # At once and beside the drain: they never started, other workers may run them.
        handing_back = asyncio.get_running_loop().create_task(self.hand_back(ahead))
        if self._jobs:
            log.info("draining %d in-flight task(s), up to %.0fs", len(self._jobs),
                     lifecycle.seconds_to_cut())
            await lifecycle.until_cut(asyncio.wait(set(self._jobs)))
        unfinished = [job for job, (lock, _) in self._jobs.items() if lock.handler_running]
        if unfinished:
            log.warning("drain time is up: handing back %d unfinished task(s)", len(unfinished))
            for job in unfinished:
                job.cancel()
        if self._jobs:  # reports, and the unlocks of the cancelled handlers
            await lifecycle.until_deadline(asyncio.wait(set(self._jobs)))
        await lifecycle.until_deadline(handing_back)
        if self._refusing:
            await lifecycle.until_deadline(asyncio.wait(set(self._refusing)))
        for job in list(self._jobs):  # past the deadline: nothing may wait any longer
            job.cancel()
