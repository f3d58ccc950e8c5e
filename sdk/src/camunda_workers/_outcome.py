"""One task's outcome, the only path from a fetched task to what the engine accepted.

    decode variables -> handler -> encode (the bytes the engine gets) -> send
    -> classify the engine's answer -> metric of what it accepted

Every way a task can end goes through :meth:`OutcomePath.settle`; no report is sent
anywhere else. How each case ends is the table "How a task ends" in sdk/README.md.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import quote

from . import _wire
from ._client import EngineClient
from ._engine_state import EngineState
from ._locks import LockRenewal, TaskLock
from ._metrics import WorkerMetrics
from ._retry import Backoff, RetryPolicy
from ._router import HandlerResult, Subscription
from ._task import Task, completion_of
from ._variables import FileValue, VariableDecodeError, decode_variables
from .errors import (
    BpmnError,
    EngineError,
    EngineRejectedError,
    EngineUnavailableError,
    TaskFailure,
    UnsendableVariableError,
)

__all__ = ["OutcomePath", "Report"]

_Decision = TypeVar("_Decision")

task_log = logging.getLogger("camunda_workers.tasks")
log = logging.getLogger("camunda_workers")


@dataclass(frozen=True)
class Report:
    """What the engine is told: ``action`` (its endpoint), the encoded ``body``, and the
    ``outcome`` counted once the engine accepts it."""

    action: str  # complete | bpmnError | failure | unlock
    body: bytes | None
    outcome: str  # completed | bpmn_error | failed | unlocked


# What a handler's report means for the duration metric; anything else is a failure.
_DECISIONS = {"complete": "completed", "bpmnError": "bpmn_error"}


def _context(task: Task) -> dict[str, str | None]:
    return {"topic": task.topic, "task_id": task.id,
            "process_instance_id": task.process_instance_id}


class OutcomePath:
    """Settles fetched tasks; one instance serves every task of a worker's run.

    ``deadline`` gives the shutdown deadline (loop time) once the worker is stopping,
    else None: no report outlives it.
    """

    def __init__(self, *, client: EngineClient, subscriptions: Mapping[str, Subscription],
                 retry_policy: RetryPolicy, metrics: WorkerMetrics, engine: EngineState,
                 renewal: LockRenewal, backoff: tuple[float, float],
                 deadline: Callable[[], float | None]) -> None:
        self._client = client
        self._subscriptions = subscriptions
        self._retry_policy = retry_policy
        self._metrics = metrics
        self._engine = engine
        self._renewal = renewal
        self._backoff = backoff
        self._deadline = deadline

    # -- the path ---------------------------------------------------------------

    async def settle(self, raw: Mapping[str, object], lock: TaskLock) -> float:
        """Run a fetched task to its end; return how long its handler ran (0 if it did not).

        Cancelled while its handler runs: hand it back.
        """
        task: Task | None = None
        try:
            task = Task.from_engine(raw, with_variables=False)
            task.worker_id, task.lock_extender = lock.owner, lock
            await self._decode(task, raw)
        except Exception as error:  # noqa: BLE001 - whatever the engine sent, the task ends
            # Before the handler: this task fails (a variable that cannot be decoded is
            # named, with why), the rest of its batch goes on.
            if task is None:  # the answer did not even make a task: what the lock knows
                task = Task(id=lock.task_id, topic=lock.topic, worker_id=lock.owner)
            await self._deliver(lock, self._failure(task, error), task)
            return 0.0
        loop = asyncio.get_running_loop()
        started = loop.time()
        lock.handler_running = True
        self._renewal.hold(lock)
        try:
            result = await self._subscriptions[task.topic].handler(task)
            report = self._report_of(task, self._completion, result)
        except asyncio.CancelledError:
            # Drain time is up or a second signal: the task goes back to the engine.
            lock.handler_running = False
            self._renewal.release(lock)  # no extension may follow the unlock
            await self.hand_back(lock)
            raise
        except BpmnError as error:
            report = self._report_of(task, self._bpmn_error, error)
        except Exception as error:  # noqa: BLE001 - any handler error becomes a failure
            report = self._failure(task, error)
        finally:
            lock.handler_running = False
            self._renewal.release(lock)
        decision = _DECISIONS.get(report.action, "failed")
        handler_seconds = loop.time() - started
        self._metrics.handler_ran(task.topic, decision, handler_seconds)
        await self._deliver(lock, report, task)
        # One line per task at DEBUG (`workers run` shows them): topic, outcome, duration.
        # Checked first: the line's arguments would cost every task at any level.
        if task_log.isEnabledFor(logging.DEBUG):
            task_log.debug("%s %s in %.0f ms (task %s)", task.topic, decision,
                           handler_seconds * 1000, task.id, extra=_context(task))
        return handler_seconds

    async def hand_back(self, lock: TaskLock) -> None:
        """Unlock a task this worker will not run (stopping, or its drain time is up)."""
        await self._deliver(lock, Report("unlock", None, "unlocked"))

    async def refuse(self, lock: TaskLock) -> None:
        """Unlock a task of a topic this worker never asked for (counted when fetched).

        Not counted per topic: its name is not one of ours, and labels stay bounded.
        """
        error = await self._send(lock, Report("unlock", None, "unlocked"))
        if error is not None:
            log.error("could not unlock task %s of topic %r, which this worker did not ask "
                      "for: %s", lock.task_id, lock.topic, error)

    # -- decode -----------------------------------------------------------------

    async def _decode(self, task: Task, raw: Mapping[str, object]) -> None:
        variables = raw.get("variables")
        task.variables, task.variable_types = decode_variables(
            variables if isinstance(variables, Mapping) else None)
        for name, value in task.variables.items():
            if isinstance(value, FileValue):  # a fetch never carries a file's content
                content = await self._file_content(task, name)
                task.variables[name] = FileValue(content, value.filename, value.mime_type,
                                                 value.encoding)

    async def _file_content(self, task: Task, name: str) -> bytes:
        # The task's own scope first, then the process instance's.
        paths = [f"/execution/{task.execution_id}/localVariables/{quote(name, safe='')}/data"]
        if not self._subscriptions[task.topic].local_variables:
            paths.append(f"/process-instance/{task.process_instance_id}/variables/"
                         f"{quote(name, safe='')}/data")
        for path in paths:
            try:
                return await self._client.download(path)
            except EngineRejectedError as error:
                if error.kind == "too_large":
                    reason = str(error).split(": ", 1)[-1]  # the path is not the user's
                    raise VariableDecodeError(name, "File", f"content not loaded: {reason}"
                                              ) from None
                if error.status != 404 or path is paths[-1]:
                    raise VariableDecodeError(name, "File", f"content not loaded: {error}"
                                              ) from None
        raise AssertionError("unreachable")

    # -- encode: each decision becomes the exact bytes the engine gets -----------

    def _report_of(self, task: Task, encode: Callable[[Task, _Decision], Report],
                   decision: _Decision) -> Report:
        """``encode(task, decision)``; a failure if even that fails unexpectedly (a value
        nested deeper than Python recurses, a broken ``__eq__``...): never no report."""
        try:
            return encode(task, decision)
        except Exception as error:  # noqa: BLE001 - the task must end
            return self._failure(task, error)

    def _completion(self, task: Task, result: HandlerResult) -> Report:
        try:
            done = completion_of(task, result)
            body = _wire.complete_body(task.worker_id, done.variables, done.local_variables,
                                       task.variable_types)
        except (TypeError, UnsendableVariableError) as error:
            return self._unsendable(task, "complete", error)
        return Report("complete", body, "completed")

    def _bpmn_error(self, task: Task, error: BpmnError) -> Report:
        try:
            body = _wire.bpmn_error_body(task.worker_id, error.code, error.message,
                                         error.variables, task.variable_types)
        except UnsendableVariableError as unsendable:
            return self._unsendable(task, "bpmnError", unsendable)
        # DEBUG: a BPMN error is a business outcome, counted in tasks_handled; one INFO
        # line per task would be the noise the peers are blamed for.
        log.debug("task %s threw BPMN error %s", task.id, error.code, extra=_context(task))
        return Report("bpmnError", body, "bpmn_error")

    def _unsendable(self, task: Task, action: str, error: Exception) -> Report:
        if isinstance(error, UnsendableVariableError):
            self._metrics.report_not_accepted(task.topic, action, "unsendable")
        return self._failure(task, error)

    def _failure(self, task: Task, error: BaseException,
                 message: str | None = None, details: str | None = None) -> Report:
        decision = self._retry_policy(task, error)
        retries, timeout = decision.retries, decision.retry_timeout
        if isinstance(error, TaskFailure):
            message, details = error.message, error.details
            retries = retries if error.retries is None else error.retries
            timeout = timeout if error.retry_timeout is None else error.retry_timeout
        elif message is None:
            message = f"{type(error).__name__}: {error}"
            details = "".join(traceback.format_exception(error))
        log.warning("task %s failed: %s; retries left %d", task.id, message, retries,
                    extra=_context(task))
        return Report("failure", _wire.failure_body(
            task.worker_id, message=message, details=details, retries=retries,
            retry_timeout=timeout), "failed")

    # -- send, classify, count ----------------------------------------------------

    async def _deliver(self, lock: TaskLock, report: Report, task: Task | None = None) -> None:
        """Send ``report``, classify the answer, count what the engine accepted."""
        topic = lock.topic
        error = await self._send(lock, report)
        if error is None:
            self._metrics.task_handled(topic, report.outcome)
            return
        context = _context(task) if task else {"topic": topic, "task_id": lock.task_id}
        if error.status == 404:  # instance deleted or cancelled meanwhile
            log.warning("task %s is gone (its %s was not needed): %s", lock.task_id,
                        report.action, error, extra=context)
            self._metrics.report_not_accepted(topic, report.action, "task_gone")
        elif error.transient:
            log.error("gave up sending the %s of task %s (its lock expires, or shutdown): "
                      "%s", report.action, lock.task_id, error, extra=context)
            self._metrics.report_not_accepted(topic, report.action, "undeliverable")
        else:
            self._metrics.report_not_accepted(topic, report.action, "refused")
            if task is not None and report.action in ("complete", "bpmnError"):
                # The engine's answer, not an outage: fail the task with the engine's
                # message, so that retries count down to an incident instead of a loop.
                log.warning("engine refused the %s of task %s: %s; reporting a failure",
                            report.action, lock.task_id, error, extra=context)
                reason = (f"engine refused {report.action}: "
                          f"{error.engine_type or error.kind}: {error.engine_message or error}")
                await self._deliver(lock, self._failure(task, error, reason, str(error)), task)
            else:
                log.error("engine refused the %s of task %s: %s", report.action,
                          lock.task_id, error, extra=context)

    async def _send(self, lock: TaskLock, report: Report) -> EngineError | None:
        """Send ``report``; retry transient errors until the task's lock expires (or the
        shutdown deadline). Returns None when accepted, else the final error."""
        backoff: Backoff | None = None  # made at the first transient error
        while True:
            deadline = self._deadline()
            sending = (self._client.unlock(lock.task_id) if report.body is None
                       else self._client.report(lock.task_id, report.action, report.body))
            try:
                if deadline is None:  # not stopping: no timer to set for every report
                    await sending
                else:
                    async with asyncio.timeout_at(deadline):
                        await sending
                self._engine.succeeded()
                return None
            except TimeoutError:
                return EngineUnavailableError("the shutdown deadline passed first",
                                              kind="timeout")
            except EngineRejectedError as error:
                self._metrics.engine_error(error.kind)
                return error
            except EngineError as error:
                self._engine.failed(error)
                if backoff is None:
                    backoff = Backoff(*self._backoff)
                delay = backoff.next_delay()
                until = min(lock.expires_at, deadline if deadline is not None else lock.expires_at)
                if asyncio.get_running_loop().time() + delay > until:
                    return error
                await asyncio.sleep(delay)
