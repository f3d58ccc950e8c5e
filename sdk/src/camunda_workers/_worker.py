"""The worker: one long-poll loop for all topics, at most ``max_tasks`` handlers in flight."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import traceback
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path
from typing import TypedDict, TypeVar, Unpack

import httpx
from camunda.utils.auth_basic import AuthBasic

from ._client import EngineClient
from ._retry import Backoff, ExponentialRetryPolicy, RetryPolicy
from ._router import HANDLER_EXECUTOR, HandlerResult, TaskRouter
from ._settings import WorkerSettings, resolve_settings
from ._spec import WorkerSpec, load_spec
from ._task import Completion, Task
from .errors import BpmnError, EngineError, EngineRejectedError, TaskFailure

__all__ = ["Worker", "WorkerOptions"]

log = logging.getLogger("camunda_workers")
T = TypeVar("T")


class WorkerOptions(TypedDict, total=False):
    """Keyword arguments of :class:`Worker`; each is a field of :class:`WorkerSettings`."""

    name: str
    base_url: str
    worker_id: str
    max_tasks: int
    lock_duration: int
    async_response_timeout: int
    http_timeout: float
    retries: int
    retry_timeout: int
    retry_backoff: float
    max_retry_timeout: int
    backoff_initial: float
    backoff_max: float
    username: str
    password: str
    token: str
    ca_bundle: str
    verify_tls: bool
    port: int
    drain_timeout: float
    use_priority: bool
    log_level: str


class Worker(TaskRouter):
    """Polls the engine for the registered topics and runs their handlers.

    >>> worker = Worker(name="email-sender", base_url="http://localhost:8080/engine-rest")
    >>> @worker.topic("send_email")
    ... def send_email(task: Task) -> dict[str, object]:
    ...     return {"sent": True}
    >>> worker.run()  # until SIGTERM/SIGINT

    Settings come from the keyword arguments, then the environment (``CAMUNDA_URL``,
    ...), then ``spec`` (a ``worker.json``), then defaults; see :class:`WorkerSettings`.
    """

    def __init__(
        self,
        *,
        spec: WorkerSpec | None = None,
        retry_policy: RetryPolicy | None = None,
        environ: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        **options: Unpack[WorkerOptions],
    ) -> None:
        super().__init__()
        self.settings: WorkerSettings = resolve_settings(options, spec=spec, environ=environ)
        self.spec = spec
        self.worker_id = self.settings.effective_worker_id()
        self.retry_policy: RetryPolicy = retry_policy or ExponentialRetryPolicy(
            retries=self.settings.retries,
            initial_ms=self.settings.retry_timeout,
            factor=self.settings.retry_backoff,
            max_ms=self.settings.max_retry_timeout,
        )
        self._transport = transport
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_requested: asyncio.Event | None = None
        self._in_flight: dict[asyncio.Task[None], Task] = {}
        self._slot_freed: asyncio.Event | None = None
        self._signals = 0

    @classmethod
    def from_spec(
        cls,
        path: str | Path,
        *,
        retry_policy: RetryPolicy | None = None,
        environ: Mapping[str, str] | None = None,
        **options: Unpack[WorkerOptions],
    ) -> Worker:
        """A worker configured by ``worker.json`` (environment and ``options`` override it)."""
        return cls(spec=load_spec(path), retry_policy=retry_policy, environ=environ, **options)

    # -- running ---------------------------------------------------------------

    def run(self) -> None:
        """Run until SIGTERM or SIGINT (or :meth:`stop`), then drain and return."""
        if not logging.getLogger().handlers:
            logging.basicConfig(
                level=self.settings.log_level.upper(),
                format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            )
        asyncio.run(self._run_with_signals())

    async def _run_with_signals(self) -> None:
        loop = asyncio.get_running_loop()
        installed = threading.current_thread() is threading.main_thread()
        if installed:
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, self._on_signal, signum)
        try:
            await self.run_async()
        finally:
            if installed:
                for signum in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(signum)

    def _on_signal(self, signum: int) -> None:
        self._signals += 1
        log.info("received %s: stopping", signal.Signals(signum).name)
        if self._signals > 1:
            for job in list(self._in_flight):
                job.cancel()  # second signal: stop now, unlocking what we can
        self.stop()

    def stop(self) -> None:
        """Ask a running worker to stop polling and drain. Safe from any thread."""
        loop, event = self._loop, self._stop_requested
        if loop is None or event is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(event.set)

    async def run_async(self) -> None:
        """Poll and handle tasks until :meth:`stop`; then drain in-flight tasks."""
        if not self._subscriptions:
            raise ValueError("no topic handlers: register one with @worker.topic('name')")
        settings = self.settings
        self._loop = asyncio.get_running_loop()
        self._stop_requested = asyncio.Event()
        self._slot_freed = asyncio.Event()
        executor = ThreadPoolExecutor(settings.max_tasks, thread_name_prefix=settings.name)
        token = HANDLER_EXECUTOR.set(executor)
        client = self._make_client()
        log.info("worker %s polling %s for topics %s (max_tasks=%d)", self.worker_id,
                 settings.base_url, ", ".join(self._subscriptions), settings.max_tasks)
        try:
            await self._poll(client)
            await self._drain(client)
        finally:
            HANDLER_EXECUTOR.reset(token)
            await client.aclose()
            executor.shutdown(wait=False, cancel_futures=True)
            log.info("worker %s stopped", self.worker_id)

    def _make_client(self) -> EngineClient:
        settings = self.settings
        headers: dict[str, str] = {}
        if settings.token is not None:
            headers["Authorization"] = f"Bearer {settings.token.get_secret_value()}"
        elif settings.username is not None:
            password = settings.password.get_secret_value() if settings.password else ""
            headers["Authorization"] = AuthBasic(username=settings.username,
                                                 password=password).token
        return EngineClient(
            base_url=settings.base_url,
            worker_id=self.worker_id,
            headers=headers,
            timeout=settings.http_timeout,
            max_connections=settings.max_tasks + 2,
            verify=settings.ca_bundle or settings.verify_tls,
            transport=self._transport,
        )

    async def _unless_stopped(self, awaitable: Awaitable[T]) -> T | None:
        """Await ``awaitable``, or cancel it and return None as soon as stop is requested."""
        assert self._stop_requested is not None
        job = asyncio.ensure_future(awaitable)
        stopped = asyncio.ensure_future(self._stop_requested.wait())
        try:
            await asyncio.wait({job, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
        if job.done():
            return job.result()
        job.cancel()
        with suppress(asyncio.CancelledError):
            await job
        return None

    async def _poll(self, client: EngineClient) -> None:
        assert self._stop_requested is not None
        assert self._slot_freed is not None
        settings = self.settings
        topics = [sub.fetch_topic(settings.lock_duration) for sub in self._subscriptions.values()]
        http_timeout = settings.async_response_timeout / 1000 + settings.http_timeout
        backoff = Backoff(settings.backoff_initial, settings.backoff_max)
        engine_error: EngineError | None = None
        while not self._stop_requested.is_set():
            free = settings.max_tasks - len(self._in_flight)
            if free <= 0:
                self._slot_freed.clear()
                await self._unless_stopped(self._slot_freed.wait())
                continue
            try:
                fetched = await self._unless_stopped(client.fetch_and_lock(
                    max_tasks=free,
                    topics=topics,
                    async_response_timeout_ms=settings.async_response_timeout,
                    http_timeout=http_timeout,
                    use_priority=settings.use_priority,
                ))
            except EngineError as error:
                delay = backoff.next_delay()
                if engine_error is None or engine_error.kind != error.kind:
                    rejected = isinstance(error, EngineRejectedError)
                    level = logging.ERROR if rejected else logging.WARNING
                    log.log(level, "engine error (%s): %s; retrying with backoff up to %.0fs",
                            error.kind, error, settings.backoff_max)
                engine_error = error
                await self._unless_stopped(asyncio.sleep(delay))
                continue
            if engine_error is not None:
                log.info("engine reachable again after %d failed polls", backoff.failures)
                engine_error = None
                backoff.reset()
            if fetched is None:
                break
            for raw in fetched:
                task = Task.from_engine(raw)
                if self._stop_requested.is_set():
                    await self._unlock(client, task)
                    continue
                job = asyncio.create_task(self._execute(client, task))
                self._in_flight[job] = task
                job.add_done_callback(self._finished)

    def _finished(self, job: asyncio.Task[None]) -> None:
        self._in_flight.pop(job, None)
        if self._slot_freed is not None:
            self._slot_freed.set()

    async def _drain(self, client: EngineClient) -> None:
        if not self._in_flight:
            return
        log.info("draining %d in-flight task(s), up to %.0fs", len(self._in_flight),
                 self.settings.drain_timeout)
        _, pending = await asyncio.wait(set(self._in_flight), timeout=self.settings.drain_timeout)
        for job in pending:
            job.cancel()
        if pending:
            await asyncio.wait(pending)

    async def _unlock(self, client: EngineClient, task: Task) -> None:
        try:
            await client.unlock(task.id)
        except EngineError as error:
            log.warning("could not unlock task %s: %s", task.id, error)

    # -- one task --------------------------------------------------------------

    async def _execute(self, client: EngineClient, task: Task) -> None:
        subscription = self._subscriptions[task.topic]
        try:
            result = await subscription.handler(task)
            report = self._completion_report(client, task, result)
        except asyncio.CancelledError:
            # Shielded: a cancelled drain must still hand the task back.
            await asyncio.shield(self._unlock(client, task))
            raise
        except BpmnError as error:
            report = self._bpmn_error_report(client, task, error)
        except Exception as error:  # noqa: BLE001 - any handler error becomes a failure
            report = self._failure_report(client, task, error)
        try:
            await self._report(task, report)
        except TypeError as error:  # a variable the engine cannot take
            await self._report(task, self._failure_report(client, task, error))

    def _completion_report(
        self, client: EngineClient, task: Task, result: HandlerResult
    ) -> Callable[[], Awaitable[None]]:
        completion = result if isinstance(result, Completion) else task.completion
        if isinstance(result, Mapping):
            completion = Completion(variables=result)
        elif result is not None and not isinstance(result, Completion):
            raise TypeError(
                f"handler of topic {task.topic!r} returned {type(result).__name__}; "
                "return a dict of variables, None, or task.complete(...)"
            )
        completion = completion or Completion()
        return lambda: client.complete(task.id, completion.variables, completion.local_variables)

    def _bpmn_error_report(
        self, client: EngineClient, task: Task, error: BpmnError
    ) -> Callable[[], Awaitable[None]]:
        return lambda: client.bpmn_error(
            task.id, code=error.code, message=error.message, variables=error.variables
        )

    def _failure_report(
        self, client: EngineClient, task: Task, error: Exception
    ) -> Callable[[], Awaitable[None]]:
        decision = self.retry_policy(task, error)
        if isinstance(error, TaskFailure):
            message, details = error.message, error.details
            retries = decision.retries if error.retries is None else error.retries
            timeout = decision.retry_timeout if error.retry_timeout is None else error.retry_timeout
        else:
            message = f"{type(error).__name__}: {error}"
            details = "".join(traceback.format_exception(error))
            retries, timeout = decision.retries, decision.retry_timeout
        log.warning("task %s (%s) failed: %s; retries left %d", task.id, task.topic, message,
                    retries, extra={"task_id": task.id, "topic": task.topic})
        return lambda: client.failure(
            task.id, message=message, details=details, retries=retries, retry_timeout=timeout
        )

    async def _report(self, task: Task, send: Callable[[], Awaitable[None]]) -> None:
        """Send a result; transient engine errors are retried while the lock may still hold."""
        backoff = Backoff(self.settings.backoff_initial, self.settings.backoff_max)
        lock_ms = self._subscriptions[task.topic].lock_duration or self.settings.lock_duration
        deadline = asyncio.get_running_loop().time() + lock_ms / 1000
        while True:
            try:
                await send()
                return
            except EngineRejectedError as error:
                log.warning("engine refused the result of task %s: %s", task.id, error)
                return
            except EngineError as error:
                delay = backoff.next_delay()
                if asyncio.get_running_loop().time() + delay > deadline:
                    log.error("gave up reporting task %s (lock expires): %s", task.id, error)
                    return
                await asyncio.sleep(delay)

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def __repr__(self) -> str:
        return f"Worker(name={self.settings.name!r}, topics={list(self._subscriptions)})"
