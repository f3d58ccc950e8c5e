"""One task from fetch to report: run its handler, keep its lock, send the outcome."""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass

from ._client import EngineClient
from ._engine_state import EngineState
from ._metrics import WorkerMetrics
from ._retry import Backoff, RetryPolicy
from ._router import HandlerResult, Subscription
from ._settings import WorkerSettings
from ._task import Task, completion_of
from .errors import BpmnError, EngineError, EngineRejectedError, TaskFailure

__all__ = ["LockKeeper", "TaskExecution"]

log = logging.getLogger("camunda_workers")
Report = Callable[[], Awaitable[None]]


class LockKeeper:
    """Extends a task's lock before it expires, while its handler runs."""

    def __init__(self, client: EngineClient, task: Task, lock_ms: int, metrics: WorkerMetrics,
                 engine: EngineState, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._engine = engine
        self._client = client
        self._task = task
        self._lock_ms = lock_ms
        self._metrics = metrics
        self.expires_at = loop.time() + lock_ms / 1000

    async def extend(self, duration_ms: int) -> None:
        await self._client.extend_lock(self._task.id, duration_ms)
        self.expires_at = self.loop.time() + duration_ms / 1000
        self._metrics.lock_extensions.labels(self._metrics.worker, self._task.topic).inc()

    async def keep(self) -> None:
        """Extend by the lock duration whenever less than half of it is left."""
        half = self._lock_ms / 2000
        while True:
            await asyncio.sleep(max(self.expires_at - half - self.loop.time(), 0.05))
            if self.loop.time() < self.expires_at - half:
                continue  # extended by hand meanwhile
            try:
                await self.extend(self._lock_ms)
                self._engine.succeeded()
            except EngineRejectedError as error:
                log.warning("lock of task %s lost: %s", self._task.id, error,
                            extra=_context(self._task))
                return
            except EngineError as error:
                self._engine.failed(error)
                await asyncio.sleep(min(half / 4, 5))


def _context(task: Task) -> dict[str, str | None]:
    return {"topic": task.topic, "task_id": task.id,
            "process_instance_id": task.process_instance_id}


@dataclass
class TaskExecution:
    """Runs tasks for a worker; one instance serves every task of a run."""

    client: EngineClient
    settings: WorkerSettings
    retry_policy: RetryPolicy
    metrics: WorkerMetrics
    engine: EngineState
    subscriptions: Mapping[str, Subscription]

    def lock_ms(self, task: Task) -> int:
        return self.subscriptions[task.topic].lock_duration or self.settings.lock_duration

    async def run(self, task: Task) -> None:
        loop = asyncio.get_running_loop()
        keeper = LockKeeper(self.client, task, self.lock_ms(task), self.metrics, self.engine,
                            loop)
        task.lock_extender = keeper
        keeping = asyncio.create_task(keeper.keep())
        started = loop.time()
        try:
            result = await self.subscriptions[task.topic].handler(task)
            outcome, report = "completed", self._completion(task, result)
        except asyncio.CancelledError:
            # Shielded: a cancelled drain must still hand the task back.
            await asyncio.shield(self.unlock(task))
            self.metrics.task_handled(task.topic, "unlocked", loop.time() - started)
            raise
        except BpmnError as error:
            outcome, report = "bpmn_error", self._bpmn_error(task, error)
        except Exception as error:  # noqa: BLE001 - any handler error becomes a failure
            outcome, report = "failed", self._failure(task, error)
        finally:
            keeping.cancel()
        self.metrics.task_handled(task.topic, outcome, loop.time() - started)
        try:
            await self._send(task, report)
        except TypeError as error:  # a variable the engine cannot take
            await self._send(task, self._failure(task, error))

    async def release_orphans(self, running: set[str]) -> None:
        """Unlock tasks the engine locked for a long poll whose answer never reached us.

        When a long poll is cut (connection dropped, or cut short on stop), the engine
        may still lock tasks for it; nobody would run them until their lock expires.
        Worker ids are unique per process, so tasks locked under ours that are not
        ``running`` are such orphans.
        """
        try:
            locked = await self.client.locked_task_ids()
        except EngineError as error:
            log.warning("could not look for orphaned locks: %s", error)
            return
        orphans = [task_id for task_id in locked if task_id not in running]
        for task_id in orphans:
            with suppress(EngineError):
                await self.client.unlock(task_id)
        if orphans:
            log.info("unlocked %d task(s) locked for a lost long poll", len(orphans))

    async def unlock(self, task: Task) -> None:
        try:
            await self.client.unlock(task.id)
        except EngineError as error:
            log.warning("could not unlock task %s: %s", task.id, error, extra=_context(task))

    def _completion(self, task: Task, result: HandlerResult) -> Report:
        done = completion_of(task, result)
        return lambda: self.client.complete(task.id, done.variables, done.local_variables)

    def _bpmn_error(self, task: Task, error: BpmnError) -> Report:
        log.info("task %s threw BPMN error %s", task.id, error.code, extra=_context(task))
        return lambda: self.client.bpmn_error(
            task.id, code=error.code, message=error.message, variables=error.variables)

    def _failure(self, task: Task, error: Exception) -> Report:
        decision = self.retry_policy(task, error)
        retries, timeout = decision.retries, decision.retry_timeout
        if isinstance(error, TaskFailure):
            message, details = error.message, error.details
            retries = retries if error.retries is None else error.retries
            timeout = timeout if error.retry_timeout is None else error.retry_timeout
        else:
            message = f"{type(error).__name__}: {error}"
            details = "".join(traceback.format_exception(error))
        log.warning("task %s failed: %s; retries left %d", task.id, message, retries,
                    extra=_context(task))
        return lambda: self.client.failure(
            task.id, message=message, details=details, retries=retries, retry_timeout=timeout)

    async def _send(self, task: Task, report: Report) -> None:
        """Send a result; transient engine errors are retried while the lock may still hold."""
        backoff = Backoff(self.settings.backoff_initial, self.settings.backoff_max)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.lock_ms(task) / 1000
        while True:
            try:
                await report()
                self.engine.succeeded()
                return
            except EngineRejectedError as error:
                self.metrics.engine_error(error.kind)
                log.warning("engine refused the result of task %s: %s", task.id, error,
                            extra=_context(task))
                return
            except EngineError as error:
                self.engine.failed(error)
                delay = backoff.next_delay()
                if loop.time() + delay > deadline:
                    log.error("gave up reporting task %s (its lock expires): %s", task.id, error,
                              extra=_context(task))
                    return
                await asyncio.sleep(delay)
