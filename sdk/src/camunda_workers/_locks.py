"""Task locks: until when each fetched task is ours, and renewing them while handlers run."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging

from ._client import EngineClient
from ._engine_state import EngineState
from ._metrics import WorkerMetrics
from .errors import EngineError, EngineRejectedError

__all__ = ["LockRenewal", "TaskLock"]

log = logging.getLogger("camunda_workers")


class TaskLock:
    """One fetched task's lock: the worker id that holds it and when it expires.

    ``expires_at`` (loop time) is the fetch request's send time + the lock duration,
    moved by every extension: the engine's own expiry is never earlier. Reports that
    meet transient errors are retried until then, not longer.
    """

    __slots__ = ("_renewal", "expires_at", "handler_running", "lock_ms", "owner", "renew_at",
                 "task_id", "topic")

    def __init__(self, *, task_id: str, topic: str, owner: str, lock_ms: int,
                 locked_at: float, renewal: LockRenewal) -> None:
        self.task_id = task_id
        self.topic = topic
        self.owner = owner
        self.lock_ms = lock_ms
        self.expires_at = locked_at + lock_ms / 1000
        self.handler_running = False  # a stop cancels only tasks still in their handler
        self.renew_at: float | None = None  # while held: when the renewal extends it
        self._renewal = renewal

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The worker's loop (``Task.extend_lock`` runs the extension there from a thread)."""
        return self._renewal.loop

    async def extend(self, duration_ms: int) -> None:
        """Extend to ``duration_ms`` from now; raises EngineError if the engine refuses."""
        await self._renewal.extend(self, duration_ms)


class LockRenewal:
    """Extends the lock of every held task whenever less than half of its duration is left.

    A lock is held from just before its handler starts until the handler returns. One
    timer serves every held lock: a heap orders them by when they need renewing (half
    their duration before they expire) and the timer is set for the first. A task that
    ends in time costs a heap entry, nothing else: no task or timer per task. Entries
    of released or rescheduled locks are skipped when they come up and dropped
    whenever they outnumber the held locks.
    """

    def __init__(self, *, client: EngineClient, metrics: WorkerMetrics, engine: EngineState,
                 loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._client = client
        self._metrics = metrics
        self._engine = engine
        self._held: set[TaskLock] = set()
        self._due: list[tuple[float, int, TaskLock]] = []  # (renew_at, order, lock), a heap
        self._order = itertools.count()  # ties: first scheduled first (locks do not compare)
        self._timer: asyncio.TimerHandle | None = None
        self._renewing: dict[TaskLock, asyncio.Task[None]] = {}

    def new_lock(self, *, task_id: str, topic: str, owner: str, lock_ms: int,
                 locked_at: float) -> TaskLock:
        return TaskLock(task_id=task_id, topic=topic, owner=owner, lock_ms=lock_ms,
                        locked_at=locked_at, renewal=self)

    def hold(self, lock: TaskLock) -> None:
        self._held.add(lock)
        self._schedule(lock)

    def release(self, lock: TaskLock) -> None:
        """Stop renewing ``lock``; an extension under way is cancelled (none may follow an
        unlock)."""
        self._held.discard(lock)
        lock.renew_at = None
        renewing = self._renewing.pop(lock, None)
        if renewing is not None:
            renewing.cancel()
        if len(self._due) > 4 * len(self._held) + 64:
            self._due = [(held.renew_at, next(self._order), held) for held in self._held
                         if held.renew_at is not None]
            heapq.heapify(self._due)

    async def extend(self, lock: TaskLock, duration_ms: int) -> None:
        """Extend ``lock`` to ``duration_ms`` from now; raises EngineError if refused."""
        sent = self.loop.time()
        await self._client.extend_lock(lock.task_id, lock.owner, duration_ms)
        lock.expires_at = sent + duration_ms / 1000
        self._metrics.lock_extended(lock.topic)
        if lock in self._held:
            self._schedule(lock)

    # -- the one timer ----------------------------------------------------------

    def _schedule(self, lock: TaskLock) -> None:
        renew_at = lock.expires_at - lock.lock_ms / 2000
        lock.renew_at = renew_at
        heapq.heappush(self._due, (renew_at, next(self._order), lock))
        if self._timer is None or renew_at < self._timer.when():
            self._arm(renew_at)

    def _arm(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self.loop.call_at(when, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        now = self.loop.time()
        due = self._due
        while due and due[0][0] <= now:
            renew_at, _, lock = heapq.heappop(due)
            if lock.renew_at != renew_at or lock in self._renewing:
                continue  # released, or rescheduled by an extension meanwhile
            self._renewing[lock] = self.loop.create_task(self._renew(lock))
        if due:
            self._arm(due[0][0])

    async def _renew(self, lock: TaskLock) -> None:
        """Extend by the lock's duration; retry transient errors until it works or the
        lock is released; give up when the engine says the lock is gone."""
        retry_in = min(lock.lock_ms / 8000, 5)
        try:
            while True:
                try:
                    await self.extend(lock, lock.lock_ms)
                    self._engine.succeeded()
                    return
                except EngineRejectedError as error:
                    if error.status in (400, 404):  # gone, or locked by another worker now
                        log.warning("lock of task %s lost: %s", lock.task_id, error,
                                    extra={"topic": lock.topic, "task_id": lock.task_id})
                        lock.renew_at = None  # renewed no more
                        return
                    self._engine.failed(error)
                except EngineError as error:
                    self._engine.failed(error)
                await asyncio.sleep(retry_in)
        finally:
            if self._renewing.get(lock) is asyncio.current_task():
                del self._renewing[lock]
