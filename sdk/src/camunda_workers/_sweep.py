"""Locks that no handler will ever see: the tasks a cut or dropped long poll locked.

The engine keeps a long poll pending after its connection is gone, and until the
poll's ``asyncResponseTimeout`` ends it still locks tasks for it; nobody would run them
until their lock expires. So every poll locks under an id of its own (``PollIds``:
``WORKER_ID#tag-n``, ``tag`` random per process). The tasks of a poll whose answer never
arrived are then exactly those locked under its id: sweeping them never touches a task
waiting out its retry timeout (it stays locked under the id of the poll that delivered
it) nor a task of another process, even one started with the same ``WORKER_ID``.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import secrets
from collections.abc import Iterable
from contextlib import suppress

from ._client import EngineClient
from .errors import EngineError

__all__ = ["OrphanSweep", "PollIds", "warn_if_worker_id_shared"]

log = logging.getLogger("camunda_workers")


class PollIds:
    """The worker id each poll locks under: ``WORKER_ID#tag-n``."""

    def __init__(self, worker_id: str) -> None:
        self.worker_id = worker_id
        self.tag = secrets.token_hex(2)
        self._numbers = itertools.count(1)
        self._ours = re.compile(rf"{re.escape(worker_id)}#([0-9a-f]{{4}})-\d+")

    def next(self) -> str:
        return f"{self.worker_id}#{self.tag}-{next(self._numbers)}"

    def of_another_process(self, lock_owner: object) -> bool:
        """Locked under our WORKER_ID by another process (another tag)."""
        found = self._ours.fullmatch(lock_owner) if isinstance(lock_owner, str) else None
        return found is not None and found.group(1) != self.tag


class OrphanSweep:
    """Unlocks what polls whose answer never arrived locked, once the engine answers again.

    A watched poll is swept when the engine is reachable, and once more after the
    engine-side poll has certainly ended (``pending_until``); then it is forgotten.
    """

    def __init__(self, client: EngineClient) -> None:
        self._client = client
        self._pending: dict[str, float] = {}  # poll id -> loop time its engine side ends

    def watch(self, poll_id: str, pending_until: float) -> None:
        self._pending[poll_id] = pending_until

    def __bool__(self) -> bool:
        return bool(self._pending)

    def due(self, now: float) -> bool:
        return any(until <= now for until in self._pending.values())

    async def sweep(self, now: float) -> None:
        """Unlock every task locked under a watched poll's id (errors: tried again later)."""
        for poll_id, until in list(self._pending.items()):
            try:
                tasks = await self._client.locked_tasks(worker_id=poll_id)
            except EngineError as error:
                log.debug("could not look for tasks locked by poll %s: %s", poll_id, error)
                continue
            await asyncio.gather(*(self._unlock(str(task["id"])) for task in tasks))
            if tasks:
                log.info("unlocked %d task(s) locked for a long poll whose answer was lost "
                         "(cut, dropped or not read) (%s)", len(tasks), poll_id)
            if until <= now:
                del self._pending[poll_id]

    async def _unlock(self, task_id: str) -> None:
        with suppress(EngineError):  # gone or already unlocked: fine either way
            await self._client.unlock(task_id)

    def still_pending(self, now: float) -> list[str]:
        return [poll_id for poll_id, until in self._pending.items() if until > now]


async def warn_if_worker_id_shared(client: EngineClient, ids: PollIds,
                                   topics: Iterable[str]) -> bool:
    """Warn when another process holds first-attempt tasks under our ``WORKER_ID``.

    False when the engine could not be asked (to be tried again later).
    """
    for topic in topics:
        try:
            tasks = await client.locked_tasks(topic=topic, max_results=200)
        except EngineError:
            return False
        others = sorted({str(task["workerId"]) for task in tasks if task.get("retries") is None
                         and ids.of_another_process(task.get("workerId"))})
        if others:
            log.warning(
                "WORKER_ID %r is used by another process too (it holds tasks of topic %r "
                "as %s): give every process its own WORKER_ID (Swarm: {{.Task.Name}}). "
                "Each process locks under its own %r, so neither touches the other's tasks",
                ids.worker_id, topic, others[0], f"{ids.worker_id}#{ids.tag}-n")
            return True
    return True
