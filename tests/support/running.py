"""Run a Worker in a background thread for the length of a ``with`` block."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from camunda_workers import Worker


@contextmanager
def running(worker: Worker, *, join_timeout: float = 60) -> Iterator[Worker]:
    """Start ``worker`` on its own event loop; stop it and wait for it at the end."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(worker.run_async())
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            errors.append(exc)

    thread = threading.Thread(target=target, name=f"worker-{worker.settings.name}", daemon=True)
    thread.start()
    try:
        yield worker
    finally:
        # The loop may not exist yet if the block ended at once.
        while thread.is_alive() and worker._loop is None:
            thread.join(0.01)
        worker.stop()
        thread.join(join_timeout)
        if thread.is_alive():
            raise AssertionError(f"worker did not stop within {join_timeout}s")
        if errors:
            raise errors[0]


class CountingTransport(httpx.AsyncBaseTransport):
    """The real HTTP transport, counting requests per path and TCP connections opened."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.requests: Counter[str] = Counter()
        self.bodies: list[tuple[str, bytes]] = []
        self.connections = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        kind = path.rsplit("/", 1)[-1] if "/external-task/" in path else path
        self.requests[kind] += 1
        if kind == "fetchAndLock":
            self.bodies.append((kind, request.content))

        async def trace(event: str, info: dict[str, Any]) -> None:
            if event == "connection.connect_tcp.complete":
                self.connections += 1

        request.extensions = {**request.extensions, "trace": trace}
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()
