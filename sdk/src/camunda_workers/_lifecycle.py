"""Signals, and the one shutdown deadline that every part of a stopping worker shares.

On the first SIGTERM/SIGINT (or :meth:`Lifecycle.request_stop`) the worker stops
fetching; running handlers may go on until the *cut*, ``reserve`` seconds before the
*deadline* (``drain_timeout_seconds`` after the signal); then the last poll is cut and unfinished
handlers are handed back; every report, unlock and sweep ends by the deadline. A second
signal cuts at once and moves the deadline to ``reserve`` seconds from then. Threads
cannot be cancelled: if a handler's thread is still running at the deadline, the
process exits without waiting for it (exit code 0; its task was handed back).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager, suppress
from typing import Any, TypeVar

from ._settings import SHUTDOWN_TEARDOWN

__all__ = ["Lifecycle"]

log = logging.getLogger("camunda_workers")
T = TypeVar("T")
_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Lifecycle:
    """When a worker stops, and until when each part of the stop may take."""

    def __init__(self, *, drain_timeout: float, reserve: float) -> None:
        self.drain_timeout = drain_timeout
        self.reserve = reserve
        self.deadline: float | None = None  # loop time, once stopping
        self.signals = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_before_start = False
        self._binding = threading.Lock()  # a stop from another thread during bind() counts
        self.stopping = asyncio.Event()
        self.cut = asyncio.Event()

    # -- stopping --------------------------------------------------------------

    def bind(self) -> None:
        """Attach to the running loop (at the start of a run)."""
        self.deadline = None
        self.stopping, self.cut = asyncio.Event(), asyncio.Event()
        with self._binding:
            self._loop = asyncio.get_running_loop()
            stop_now, self._stop_before_start = self._stop_before_start, False
        if stop_now:
            self.request_stop()

    def stop_threadsafe(self) -> None:
        """Ask for a stop from any thread, even before the run has started."""
        with self._binding:
            loop = self._loop
            if loop is None or loop.is_closed():
                self._stop_before_start = True
                return
        loop.call_soon_threadsafe(self.request_stop)

    def request_stop(self, *, urgent: bool = False) -> None:
        """Start the stop (on the loop); ``urgent``: cut now, end within ``reserve``."""
        loop = self._loop
        if loop is None:  # a signal before the run began
            self._stop_before_start = True
            return
        now = loop.time()
        if self.deadline is None:
            # Closing the loop, the HTTP pool and the interpreter takes a moment after the
            # deadline: it comes that much before drain_timeout.
            self.deadline = now + max(self.drain_timeout - SHUTDOWN_TEARDOWN, 0.0)
            loop.call_at(self.deadline - self.reserve, self.cut.set)
            self.stopping.set()
        if urgent:
            self.deadline = min(self.deadline, now + self.reserve)
            self.cut.set()

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        return self._loop

    def deadline_if_stopping(self) -> float | None:
        return self.deadline

    def seconds_to_cut(self) -> float:
        if self.deadline is None or self._loop is None:
            return self.drain_timeout - self.reserve
        return max(self.deadline - self.reserve - self._loop.time(), 0.0)

    # -- waiting that a stop ends ------------------------------------------------

    async def _unless(self, event: asyncio.Event, awaitable: Awaitable[T]) -> T | None:
        job = asyncio.ensure_future(awaitable)
        if not event.is_set():
            waiter = asyncio.ensure_future(event.wait())
            try:
                await asyncio.wait({job, waiter}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
        if job.done():
            return job.result()
        job.cancel()
        with suppress(asyncio.CancelledError):
            await job
        return None

    async def until_stopping(self, awaitable: Awaitable[T]) -> T | None:
        """``awaitable``'s result, or None (it is cancelled) once a stop is requested."""
        return await self._unless(self.stopping, awaitable)

    async def until_cut(self, awaitable: Awaitable[T]) -> T | None:
        """``awaitable``'s result, or None (it is cancelled) at the cut."""
        return await self._unless(self.cut, awaitable)

    async def until_deadline(self, awaitable: Awaitable[T]) -> T | None:
        """``awaitable``'s result, or None (it is cancelled) at the deadline."""
        with suppress(TimeoutError):
            async with asyncio.timeout_at(self.deadline):
                return await awaitable
        return None

    # -- a whole process ------------------------------------------------------

    def run(self, main: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run ``main`` on a loop of its own with the signal handlers installed.

        Unlike ``asyncio.run`` this never waits for threads: Python 3.11 waits without
        limit for the default executor, so a handler stuck in ``asyncio.to_thread``
        would keep the process alive past any grace period.
        """
        loop = asyncio.new_event_loop()
        completed = False
        try:
            with self.handling_signals(loop):
                loop.run_until_complete(main())
            completed = True
        finally:
            self._close(loop)
            if threading.current_thread() is threading.main_thread():
                # Off the main thread (e.g. one worker per thread) the process is not ours
                # to end: its main thread is one of the threads that would "remain".
                self._exit_if_threads_remain(0 if completed else 1)

    @contextmanager
    def handling_signals(self, loop: asyncio.AbstractEventLoop) -> Iterator[None]:
        """SIGTERM and SIGINT stop the worker while inside (on the main thread only:
        Python delivers signals there)."""
        on_main_thread = threading.current_thread() is threading.main_thread()
        if on_main_thread:
            for signum in _SIGNALS:
                loop.add_signal_handler(signum, self._on_signal, signum)
        try:
            yield
        finally:
            if on_main_thread and not loop.is_closed():
                for signum in _SIGNALS:
                    loop.remove_signal_handler(signum)

    def _on_signal(self, signum: int) -> None:
        self.signals += 1
        name = signal.Signals(signum).name
        if self.signals == 1:
            log.info("%s: stopping; handlers have %.0fs to finish, the worker exits within "
                     "%.0fs (again to exit now)", name, self.drain_timeout - self.reserve,
                     self.drain_timeout)
            self.request_stop()
        else:
            log.warning("%s again: handing back in-flight tasks and exiting now", name)
            self.request_stop(urgent=True)

    def _close(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            tasks = asyncio.all_tasks(loop)
            for task in tasks:
                task.cancel()
            if tasks:
                loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()  # shuts the default executor down without waiting for its threads

    def _exit_if_threads_remain(self, code: int) -> None:
        """Leave at once if a thread would keep the process alive past the deadline."""
        until = self.deadline if self.deadline is not None else time.monotonic()
        until = max(until, time.monotonic() + 0.05)  # idle pool threads take a moment to end
        for thread in threading.enumerate():
            if thread is not threading.current_thread() and not thread.daemon:
                thread.join(max(until - time.monotonic(), 0))
        stuck = [t.name for t in threading.enumerate()
                 if t.is_alive() and not t.daemon and t is not threading.current_thread()]
        if stuck:
            log.warning("%d thread(s) still running at the deadline (%s); threads cannot be "
                        "cancelled and their tasks were handed back: exiting without them",
                        len(stuck), ", ".join(stuck[:5]))
            logging.shutdown()
            for stream in (sys.stdout, sys.stderr):
                with suppress(Exception):
                    stream.flush()
            os._exit(code)
