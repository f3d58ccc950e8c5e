"""The worker: a router that runs, wiring a poller, an executor and a lifecycle."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Unpack
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry

from ._client import EngineClient, HttpTransport
from ._engine_state import EngineState
from ._executor import TaskExecutor
from ._gc import fewer_young_collections
from ._health import HealthServer
from ._lifecycle import Lifecycle
from ._locks import LockRenewal
from ._logging import configure_logging
from ._metrics import WorkerMetrics
from ._outcome import OutcomePath
from ._poller import Poller
from ._retry import ExponentialRetryPolicy, RetryPolicy
from ._router import HANDLER_EXECUTOR, TaskRouter
from ._settings import WorkerOptions, WorkerSettings, renamed_options, resolve_settings
from ._spec import WorkerSpec, load_spec
from ._version import __version__
from .errors import CamundaWorkersError

__all__ = ["Worker"]

log = logging.getLogger("camunda_workers")
# Tasks fetched beyond the free slots wait about this long at most (see TaskExecutor).
_AHEAD_SECONDS = 0.5


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
    ``transport`` replaces the HTTP connection pool (tests wrap the real one to count
    requests or to give answers a real engine cannot be made to give).
    """

    def __init__(
        self,
        *,
        spec: WorkerSpec | None = None,
        retry_policy: RetryPolicy | None = None,
        registry: CollectorRegistry | None = None,
        environ: Mapping[str, str] | None = None,
        transport: HttpTransport | None = None,
        **options: Unpack[WorkerOptions],
    ) -> None:
        super().__init__()
        self.settings: WorkerSettings = resolve_settings(options, spec=spec, environ=environ,
                                                         stacklevel=2)
        self.spec = spec
        self.worker_id = self.settings.effective_worker_id()
        self.retry_policy: RetryPolicy = retry_policy or ExponentialRetryPolicy(
            retries=self.settings.retries,
            initial_ms=self.settings.retry_timeout_ms,
            factor=self.settings.retry_backoff,
            max_ms=self.settings.max_retry_timeout_ms,
        )
        self.metrics = WorkerMetrics(worker=self.settings.name, version=__version__,
                                     engine_url=self.settings.base_url, registry=registry)
        self.engine = EngineState(self.metrics, backoff_max=self.settings.backoff_max_seconds)
        self.lifecycle = Lifecycle(drain_timeout=self.settings.drain_timeout_seconds,
                                   reserve=self.settings.shutdown_reserve())
        self.health: HealthServer | None = None
        self._transport = transport
        self._poller: Poller | None = None
        self._executor: TaskExecutor | None = None

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
        renamed: WorkerOptions = renamed_options(options, stacklevel=2)  # type: ignore[assignment]
        return cls(spec=load_spec(path), retry_policy=retry_policy, registry=registry,
                   environ=environ, **renamed)

    @property
    def in_flight(self) -> int:
        return self._executor.in_flight if self._executor is not None else 0

    def __repr__(self) -> str:
        return f"Worker(name={self.settings.name!r}, topics={list(self._subscriptions)})"

    def run(self) -> None:
        """Run until SIGTERM or SIGINT (or :meth:`stop`), drain, then return.

        Everything a stop does ends within ``drain_timeout_seconds`` (see sdk/README.md,
        "Graceful shutdown"). A configuration problem found at start (e.g. the metrics
        port is taken) is logged in one line and the process exits with code 1.
        """
        configure_logging(worker=self.settings.name, level=self.settings.log_level)
        try:
            with fewer_young_collections():  # the process is the worker's while it runs
                self.lifecycle.run(self.run_async)
        except CamundaWorkersError as error:
            log.error("%s", error)
            raise SystemExit(1) from None

    def stop(self) -> None:
        """Ask a running worker to stop polling and drain. Safe from any thread."""
        self.lifecycle.stop_threadsafe()

    async def run_async(self) -> None:
        """Poll and handle tasks until :meth:`stop`; then drain in-flight tasks."""
        if not self._subscriptions:
            raise ValueError("no topic handlers: register one with @worker.topic('name')")
        settings = self.settings
        loop = asyncio.get_running_loop()
        self.lifecycle.bind()
        # Sync handlers run here (max_tasks threads); asyncio.to_thread in a separate pool,
        # so that neither can starve the other and a stuck thread is known at exit.
        handler_threads = ThreadPoolExecutor(settings.max_tasks, thread_name_prefix=settings.name)
        loop.set_default_executor(ThreadPoolExecutor(thread_name_prefix=f"{settings.name}-io"))
        token = HANDLER_EXECUTOR.set(handler_threads)
        client = EngineClient.for_settings(settings, transport=self._transport)
        renewal = LockRenewal(client=client, metrics=self.metrics, engine=self.engine, loop=loop)
        outcome = OutcomePath(client=client, subscriptions=self._subscriptions,
                              retry_policy=self.retry_policy, metrics=self.metrics,
                              engine=self.engine, renewal=renewal,
                              backoff=(settings.backoff_initial_seconds,
                                       settings.backoff_max_seconds),
                              deadline=self.lifecycle.deadline_if_stopping)
        executor = self._executor = TaskExecutor(
            outcome=outcome, renewal=renewal, metrics=self.metrics, lifecycle=self.lifecycle,
            max_tasks=settings.max_tasks, lock_ms=self._lock_ms,
            ahead_seconds=self._ahead_seconds())
        poller = self._poller = Poller(
            client=client, settings=settings, subscriptions=self._subscriptions,
            executor=executor, lifecycle=self.lifecycle, engine=self.engine,
            metrics=self.metrics, worker_id=self.worker_id, on_engine_state=self._update_ready)
        poller.last_turn = loop.time()
        self.metrics.running(
            max_tasks=settings.max_tasks, alive=lambda: self._alive()[0],
            lock_durations={topic: self._lock_ms(topic) for topic in self._subscriptions})
        try:
            if settings.port is not None:
                self.health = HealthServer(port=settings.port, registry=self.metrics.registry,
                                           alive=self._alive, ready=self._ready)
                await self.health.start()
            log.info("worker %s polling %s for %s (max_tasks=%d)", self.worker_id,
                     urlsplit(settings.base_url).hostname, ", ".join(self._subscriptions),
                     settings.max_tasks)
            await poller.run()
            self._update_ready()
            await executor.drain()
            await poller.finish()
        finally:
            HANDLER_EXECUTOR.reset(token)
            if self.health is not None:
                await self.health.stop()
                self.health = None
            await client.aclose()
            handler_threads.shutdown(wait=False, cancel_futures=True)
            log.info("worker %s stopped", self.worker_id)

    def _lock_ms(self, topic: str) -> int:
        subscription = self._subscriptions.get(topic)  # None: a task never asked for
        return (subscription and subscription.lock_duration_ms) or self.settings.lock_duration_ms

    def _ahead_seconds(self) -> float:
        """How long a task fetched ahead may wait for a slot: half a second, and at most
        a tenth of the shortest lock (it waits with its lock running)."""
        shortest = min(self._lock_ms(topic) for topic in self._subscriptions)
        return min(_AHEAD_SECONDS, shortest / 10_000)

    # -- health ------------------------------------------------------------------

    def _alive(self) -> tuple[bool, str]:
        """Live while the poll loop turns: it wakes at least once per long poll."""
        if self._poller is None:
            return True, "starting"
        # also read off the loop: /metrics' liveness gauge, registry readers in tests
        loop = self.lifecycle.loop or asyncio.get_running_loop()
        idle = loop.time() - self._poller.last_turn
        limit = 2 * (self.settings.long_poll_ms() / 1000 + self.settings.http_timeout_seconds)
        limit = max(limit, self.settings.backoff_max_seconds + self.settings.http_timeout_seconds)
        if idle > limit:
            return False, f"poll loop stuck for {idle:.0f}s"
        return True, "ok"

    def _ready(self) -> tuple[bool, str]:
        if self.lifecycle.stopping.is_set():
            return False, "draining"
        return (True, "ok") if self.engine.ok else (False, "engine not reachable")

    def _update_ready(self) -> None:
        ready, _ = self._ready()
        self.metrics.worker_ready.set(1 if ready else 0)

