"""Task locks: until when each fetched task is ours, and renewing them while handlers run."""

from __future__ import annotations

import asyncio
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

    def __init__(self, *, task_id: str, topic: str, owner: str, lock_ms: int,
                 locked_at: float, client: EngineClient, metrics: WorkerMetrics,
                 loop: asyncio.AbstractEventLoop) -> None:
        self.task_id = task_id
        self.topic = topic
        self.owner = owner
        self.lock_ms = lock_ms
        self.expires_at = locked_at + lock_ms / 1000
        self.loop = loop  # for Task.extend_lock from a handler's thread
        self.handler_running = False  # a stop cancels only tasks still in their handler
        self._client = client
        self._metrics = metrics

    async def extend(self, duration_ms: int) -> None:
        """Extend to ``duration_ms`` from now; raises EngineError if the engine refuses."""
        sent = self.loop.time()
        await self._client.extend_lock(self.task_id, self.owner, duration_ms)
        self.expires_at = sent + duration_ms / 1000
        self._metrics.lock_extensions.labels(self._metrics.worker, self.topic).inc()


class LockRenewal:
    """Extends the lock of every held task whenever less than half of its duration is left.

    Held from just before a handler starts until it returns. One component, so that
    how renewals are scheduled can change without touching the rest of the executor.
    """

    def __init__(self, engine: EngineState) -> None:
        self._engine = engine
        self._keepers: dict[TaskLock, asyncio.Task[None]] = {}

    def hold(self, lock: TaskLock) -> None:
        self._keepers[lock] = asyncio.get_running_loop().create_task(self._keep(lock))

    def release(self, lock: TaskLock) -> None:
        keeper = self._keepers.pop(lock, None)
        if keeper is not None:
            keeper.cancel()

    async def _keep(self, lock: TaskLock) -> None:
        half = lock.lock_ms / 2000
        loop = lock.loop
        while True:
            await asyncio.sleep(max(lock.expires_at - half - loop.time(), 0.05))
            if loop.time() < lock.expires_at - half:
                continue  # extended by the handler meanwhile
            try:
                await lock.extend(lock.lock_ms)
                self._engine.succeeded()
            except EngineRejectedError as error:
                if error.status in (400, 404):  # gone, or locked by another worker now
                    log.warning("lock of task %s lost: %s", lock.task_id, error,
                                extra={"topic": lock.topic, "task_id": lock.task_id})
                    return
                self._engine.failed(error)
                await asyncio.sleep(min(half / 4, 5))
            except EngineError as error:
                self._engine.failed(error)
                await asyncio.sleep(min(half / 4, 5))
