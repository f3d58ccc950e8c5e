"""The worker: one long-poll loop for all topics, at most ``max_tasks`` handlers in flight."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import ssl
import threading
from collections.abc import Awaitable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path
from typing import TypeVar, Unpack
from urllib.parse import urlsplit

import httpx
from camunda.utils.auth_basic import AuthBasic
from prometheus_client import CollectorRegistry

from ._client import EngineClient
from ._engine_state import EngineState
from ._execution import TaskExecution
from ._health import HealthServer
from ._logging import configure_logging
from ._metrics import WorkerMetrics
from ._retry import Backoff, ExponentialRetryPolicy, RetryPolicy
from ._router import HANDLER_EXECUTOR, TaskRouter
from ._settings import WorkerOptions, WorkerSettings, resolve_settings
from ._spec import WorkerSpec, load_spec
from ._task import Task
from ._version import __version__
from .errors import EngineError, EngineUnavailableError

__all__ = ["Worker"]

log = logging.getLogger("camunda_workers")
T = TypeVar("T")


class Worker(TaskRouter):
    """Polls the engine for the registered topics and runs their handlers.

    >>> worker = Worker(name="email-sender", base_url="http://localhost:8080/engine-rest")
    >>> @worker.topic("send_email")
    ... def send_email(task: Task) -> dict[str, object]:
    ...     return {"sent": True}
    >>> worker.run()  # until SIGTERM/SIGINT

    Settings come from the keyword arguments, then the environment (``CAMUNDA_URL``,
    ...), then ``spec`` (a ``worker.json``), then defaults; see :class:`WorkerSettings`.
    ``registry`` receives the Prometheus metrics (default: a registry of its own).
    """

    def __init__(
        self,
        *,
        spec: WorkerSpec | None = None,
        retry_policy: RetryPolicy | None = None,
        registry: CollectorRegistry | None = None,
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
        self.metrics = WorkerMetrics(worker=self.settings.name, version=__version__,
                                     engine_url=self.settings.base_url, registry=registry)
        self.health: HealthServer | None = None
        self._transport = transport
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_requested: asyncio.Event | None = None
        self._slot_freed: asyncio.Event | None = None
        self._in_flight: dict[asyncio.Task[None], Task] = {}
        self.engine = EngineState(self.metrics, backoff_max=self.settings.backoff_max)
        self._draining = False
        self._last_progress = 0.0
        self._signals = 0
        self._unlocked_early = 0

    @classmethod
    def from_spec(
        cls,
        path: str | Path,
        *,
        retry_policy: RetryPolicy | None = None,
        registry: CollectorRegistry | None = None,
        environ: Mapping[str, str] | None = None,
        **options: Unpack[WorkerOptions],
    ) -> Worker:
        """A worker configured by ``worker.json`` (environment and ``options`` override it)."""
        return cls(spec=load_spec(path), retry_policy=retry_policy, registry=registry,
                   environ=environ, **options)

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def __repr__(self) -> str:
        return f"Worker(name={self.settings.name!r}, topics={list(self._subscriptions)})"

    # -- lifecycle ---------------------------------------------------------------

    def run(self) -> None:
        """Run until SIGTERM or SIGINT (or :meth:`stop`), drain, then return.

        If a sync handler is still running when the drain time is up (threads
        cannot be cancelled), its task is unlocked and the process exits at once.
        """
        configure_logging(worker=self.settings.name, level=self.settings.log_level)
        asyncio.run(self._run_with_signals())
        if self._unlocked_early:
            # Sync handlers of unlocked tasks may still run in threads, which cannot be
            # cancelled and would keep the process alive: their tasks are back in the
            # engine, so leave now.
            logging.shutdown()
            os._exit(0)

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
        if self._signals == 1:
            log.info("%s: stopping; in-flight tasks have %.0fs to finish",
                     signal.Signals(signum).name, self.settings.drain_timeout)
        else:
            log.warning("%s again: unlocking %d in-flight task(s) and exiting now",
                        signal.Signals(signum).name, len(self._in_flight))
            self._unlocked_early += len(self._in_flight)
            for job in list(self._in_flight):
                job.cancel()
        self.stop()

    def stop(self) -> None:
        """Ask a running worker to stop polling and drain. Safe from any thread."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(self._request_stop)

    def _request_stop(self) -> None:
        if self._stop_requested is not None and self._slot_freed is not None:
            self._stop_requested.set()
            self._slot_freed.set()

    async def run_async(self) -> None:
        """Poll and handle tasks until :meth:`stop`; then drain in-flight tasks."""
        if not self._subscriptions:
            raise ValueError("no topic handlers: register one with @worker.topic('name')")
        settings = self.settings
        self._loop = asyncio.get_running_loop()
        self._stop_requested = asyncio.Event()
        self._slot_freed = asyncio.Event()
        self._last_progress = self._loop.time()
        self.metrics.running(
            max_tasks=settings.max_tasks, alive=lambda: self._alive()[0],
            lock_durations={sub.topic: sub.lock_duration or settings.lock_duration
                            for sub in self._subscriptions.values()})
        executor = ThreadPoolExecutor(settings.max_tasks, thread_name_prefix=settings.name)
        token = HANDLER_EXECUTOR.set(executor)
        client = self._make_client()
        execution = TaskExecution(client=client, settings=settings,
                                  retry_policy=self.retry_policy, metrics=self.metrics,
                                  engine=self.engine, subscriptions=self._subscriptions)
        try:
            if settings.port is not None:
                self.health = HealthServer(port=settings.port, registry=self.metrics.registry,
                                           alive=self._alive, ready=self._ready)
                await self.health.start()
            host = urlsplit(settings.base_url).hostname
            log.info("worker %s polling %s for %s (max_tasks=%d)", self.worker_id, host,
                     ", ".join(self._subscriptions), settings.max_tasks)
            await self._poll(client, execution)
            await execution.release_orphans(self._running_ids())
            await self._drain()
        finally:
            HANDLER_EXECUTOR.reset(token)
            if self.health is not None:
                await self.health.stop()
                self.health = None
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
            # Header built by camunda-external-task-client-python3's helper.
            headers["Authorization"] = AuthBasic(username=settings.username,
                                                 password=password).token
        return EngineClient(
            base_url=settings.base_url,
            worker_id=self.worker_id,
            headers=headers,
            timeout=settings.http_timeout,
            max_connections=settings.max_tasks + 2,
            verify=(ssl.create_default_context(cafile=settings.ca_bundle)
                    if settings.ca_bundle else settings.verify_tls),
            transport=self._transport,
        )

    # -- health ------------------------------------------------------------------

    def _alive(self) -> tuple[bool, str]:
        """Live while the poll loop turns: it wakes at least once per long poll."""
        assert self._loop is not None
        idle = self._loop.time() - self._last_progress
        limit = 2 * (self.settings.async_response_timeout / 1000 + self.settings.http_timeout)
        limit = max(limit, self.settings.backoff_max + self.settings.http_timeout)
        if idle > limit:
            return False, f"poll loop stuck for {idle:.0f}s"
        return True, "ok"

    def _ready(self) -> tuple[bool, str]:
        if self._draining:
            return False, "draining"
        return (True, "ok") if self.engine.ok else (False, "engine not reachable")

    def _update_ready(self) -> None:
        ready, _ = self._ready()
        self.metrics.ready.labels(self.metrics.worker).set(1 if ready else 0)

    # -- the loop ----------------------------------------------------------------

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

    async def _poll(self, client: EngineClient, execution: TaskExecution) -> None:
        assert self._stop_requested is not None
        assert self._slot_freed is not None
        assert self._loop is not None
        settings, metrics, worker = self.settings, self.metrics, self.metrics.worker
        topics = [sub.fetch_topic(settings.lock_duration) for sub in self._subscriptions.values()]
        http_timeout = settings.async_response_timeout / 1000 + settings.http_timeout
        backoff = Backoff(settings.backoff_initial, settings.backoff_max)
        while not self._stop_requested.is_set():
            self._last_progress = self._loop.time()
            free = settings.max_tasks - len(self._in_flight)
            if free <= 0:
                self._slot_freed.clear()
                # Timed, so that liveness sees the loop turning while handlers run long;
                # stop() sets the event too.
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._slot_freed.wait(), 5)
                continue
            started = self._loop.time()
            try:
                fetched = await self._unless_stopped(client.fetch_and_lock(
                    max_tasks=free,
                    topics=topics,
                    async_response_timeout_ms=settings.async_response_timeout,
                    http_timeout=http_timeout,
                    use_priority=settings.use_priority,
                ))
            except EngineError as error:
                metrics.fetch_requests.labels(worker, "error").inc()
                self.engine.failed(error)
                self._update_ready()
                await self._unless_stopped(asyncio.sleep(backoff.next_delay()))
                continue
            if fetched is None:
                break  # stop requested during the long poll
            metrics.fetch_requests.labels(worker, "ok").inc()
            metrics.fetch_duration.labels(worker).observe(self._loop.time() - started)
            lost_polls = isinstance(self.engine.error, EngineUnavailableError)
            self.engine.succeeded()
            self._update_ready()
            backoff.reset()
            for raw in fetched:
                task = Task.from_engine(raw)
                metrics.fetched.labels(worker, task.topic).inc()
                if self._stop_requested.is_set():
                    await execution.unlock(task)
                    metrics.task_handled(task.topic, "unlocked")
                    continue
                job = asyncio.create_task(execution.run(task))
                self._in_flight[job] = task
                metrics.in_flight.labels(worker).inc()
                job.add_done_callback(self._finished)
            if lost_polls:  # after starting this batch, so that it counts as ours
                await execution.release_orphans(self._running_ids())

    def _running_ids(self) -> set[str]:
        return {task.id for task in self._in_flight.values()}

    def _finished(self, job: asyncio.Task[None]) -> None:
        if self._in_flight.pop(job, None) is not None:
            self.metrics.in_flight.labels(self.metrics.worker).dec()
        if self._slot_freed is not None:
            self._slot_freed.set()

    async def _drain(self) -> None:
        self._draining = True
        self._update_ready()
        if not self._in_flight:
            return
        log.info("draining %d in-flight task(s), up to %.0fs", len(self._in_flight),
                 self.settings.drain_timeout)
        _, pending = await asyncio.wait(set(self._in_flight), timeout=self.settings.drain_timeout)
        if pending:
            log.warning("drain time is up: unlocking %d unfinished task(s)", len(pending))
            self._unlocked_early += len(pending)
            for job in pending:
                job.cancel()
            await asyncio.wait(pending)
