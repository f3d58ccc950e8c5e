"""Fetching: one long poll for every topic, backoff while the engine is away, sweeps."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ._client import EngineClient
from ._engine_state import EngineState
from ._executor import TaskExecutor
from ._lifecycle import Lifecycle
from ._locks import TaskLock
from ._metrics import WorkerMetrics
from ._retry import Backoff
from ._router import Subscription
from ._settings import WorkerSettings
from ._sweep import OrphanSweep, PollIds, warn_if_worker_id_shared
from .errors import EngineError

__all__ = ["Poller"]

log = logging.getLogger("camunda_workers")

# The engine ends a pending poll asyncResponseTimeout after it arrived; allow for the
# time it took to arrive and for clocks.
_POLL_END_MARGIN = 1.0


def _is_priority(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value != 0


class Poller:
    """Asks for as many tasks as there are free slots, in one long poll for all topics.

    A poll is never cut while the worker runs, and when it stops the last poll is
    awaited (its length fits the drain, see ``WorkerSettings.long_poll_ms``): a cut poll
    stays pending in the engine and locks tasks for nobody. Polls cut anyway (the
    deadline, a second signal) or dropped by the network are swept (``_sweep``).
    """

    def __init__(self, *, client: EngineClient, settings: WorkerSettings,
                 subscriptions: Mapping[str, Subscription], executor: TaskExecutor,
                 lifecycle: Lifecycle, engine: EngineState, metrics: WorkerMetrics,
                 worker_id: str, on_engine_state: Callable[[], None]) -> None:
        self._client = client
        self._settings = settings
        self._subscriptions = subscriptions
        self._executor = executor
        self._lifecycle = lifecycle
        self._engine = engine
        self._metrics = metrics
        self._on_engine_state = on_engine_state
        self.ids = PollIds(worker_id)
        self._sweep = OrphanSweep(client)
        self._poll_ms = settings.long_poll_ms()
        self._topics = [sub.fetch_topic(settings.lock_duration_ms)
                        for sub in subscriptions.values()]
        self._backoff = Backoff(settings.backoff_initial_seconds, settings.backoff_max_seconds)
        self._worker_id_check: asyncio.Task[None] | None = None
        self._worker_id_checked = False
        # "auto": the priority order from the first fetched task that has a priority.
        self._use_priority = settings.use_priority is True
        self._learn_priority = settings.use_priority == "auto"
        self.last_turn = 0.0  # loop time the loop last went round (liveness)

    async def run(self) -> None:
        """Poll until the worker stops; the poll under way then is awaited, not cut."""
        loop = asyncio.get_running_loop()
        while not self._lifecycle.stopping.is_set():
            self.last_turn = loop.time()
            # Timed, so that liveness sees the loop turning while handlers run long.
            free = await self._executor.free_slots(wait=5.0)
            if free and not self._lifecycle.stopping.is_set():
                await self._poll(free)

    async def finish(self) -> None:
        """After the drain: sweep the polls that were cut or dropped (until the deadline)."""
        loop = asyncio.get_running_loop()
        if self._sweep:
            await self._lifecycle.until_deadline(self._sweep.sweep(loop.time()))
            pending = self._sweep.still_pending(loop.time())
            if pending:
                log.warning("%d cut poll(s) may still lock tasks for up to %.0fs (%s)",
                            len(pending), self._poll_ms / 1000, ", ".join(pending))
        if self._worker_id_check is not None:
            self._worker_id_check.cancel()

    async def _poll(self, free: int) -> None:
        loop = asyncio.get_running_loop()
        settings, metrics = self._settings, self._metrics
        if self._sweep and (self._engine.error is not None or self._sweep.due(loop.time())):
            # Before polling: the orphans of a dropped poll are then fetched at once.
            await self._sweep.sweep(loop.time())
        if not self._worker_id_checked and self._engine.error is None and (
                self._worker_id_check is None or self._worker_id_check.done()):
            # Beside the first poll, not after it: an idle worker then sends nothing but
            # its long polls. Tried again after an outage if the engine did not answer.
            self._worker_id_check = loop.create_task(self._check_worker_id())
        poll_id = self.ids.next()
        sent = loop.time()
        pending_until = sent + self._poll_ms / 1000 + _POLL_END_MARGIN
        try:
            fetched = await self._lifecycle.until_cut(self._client.fetch_and_lock(
                worker_id=poll_id,
                max_tasks=free,
                topics=self._topics,
                async_response_timeout_ms=self._poll_ms,
                http_timeout=self._poll_ms / 1000 + settings.http_timeout_seconds,
                use_priority=self._use_priority,
            ))
        except EngineError as error:
            metrics.fetch_error.inc()
            # No usable answer came back (dropped, timed out, garbled): the engine may
            # have locked tasks for this poll, or may still do so while it is pending.
            if error.request_sent and (error.status is None
                                       or error.kind in ("malformed_response", "too_large")):
                self._sweep.watch(poll_id, pending_until)
            self._engine.failed(error)
            self._on_engine_state()
            await self._lifecycle.until_stopping(asyncio.sleep(self._backoff.next_delay()))
            return
        if fetched is None:  # cut at the deadline: the engine may still lock for it
            self._sweep.watch(poll_id, pending_until)
            return
        metrics.fetch_ok.inc()
        metrics.fetch_seconds.observe(loop.time() - sent)
        self._engine.succeeded()
        self._on_engine_state()
        self._backoff.reset()
        locks = [(raw, self._executor.lock(raw, owner=str(raw.get("workerId") or poll_id),
                                           sent_at=sent)) for raw in fetched]
        unasked = [lock for _, lock in locks if lock.topic not in self._subscriptions]
        if unasked:
            self._refuse(unasked)
            locks = [(raw, lock) for raw, lock in locks if lock.topic in self._subscriptions]
        if self._learn_priority:  # the tasks of its own topics only
            self._watch_priorities(raw for raw, _ in locks)
        for topic, count in Counter(lock.topic for _, lock in locks).items():
            metrics.tasks_fetched(topic, count)  # once per topic and batch, not per task
        if self._lifecycle.stopping.is_set():
            await self._executor.hand_back(lock for _, lock in locks)
        else:
            for raw, lock in locks:
                self._executor.start(raw, lock)

    def _watch_priorities(self, fetched: Iterable[Mapping[str, Any]]) -> None:
        """``use_priority="auto"``: the engine's priority order once a task has a priority
        (a number other than 0; anything else in an answer is not one)."""
        prioritised = next((raw for raw in fetched if _is_priority(raw.get("priority"))), None)
        if prioritised is None:
            return
        self._use_priority, self._learn_priority = True, False
        log.info("fetched a task of topic %r with priority %d: fetching in the engine's "
                 "priority order from now on", str(prioritised.get("topicName"))[:60],
                 prioritised["priority"])

    def _refuse(self, locks: list[TaskLock]) -> None:
        """Tasks of topics this worker never asked for (a proxy's or a broken engine's
        doing): handed back at once, counted, and the rest of the batch runs."""
        self._metrics.tasks_not_subscribed.inc(len(locks))
        topics = sorted({lock.topic for lock in locks})
        log.warning("the engine's answer held %d task(s) of topic(s) this worker did not ask "
                    "for (%s): unlocking them", len(locks),
                    ", ".join(repr(topic[:60]) for topic in topics[:5]))
        self._executor.refuse(locks)

    async def _check_worker_id(self) -> None:
        self._worker_id_checked = await warn_if_worker_id_shared(
            self._client, self.ids, list(self._subscriptions))
