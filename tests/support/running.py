"""Run a Worker in a background thread for the length of a ``with`` block."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from camunda_workers import Worker
from camunda_workers._client import AiohttpTransport, HttpAnswer
from tests.support.engine import REPO, EngineApi


def make_worker(api: EngineApi, **options: Any) -> Worker:
    """A worker on ``api``'s engine with test-friendly defaults (short long polls, no env)."""
    options.setdefault("name", "test-worker")
    options.setdefault("async_response_timeout_ms", 1_000)
    options.setdefault("base_url", api.url)
    return Worker(environ={}, **options)


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
        worker.stop()  # also when the run has not started yet
        thread.join(join_timeout)
        if thread.is_alive():
            raise AssertionError(f"worker did not stop within {join_timeout}s")
        if errors:
            raise errors[0]


class WrappedTransport(AiohttpTransport):
    """The worker's real HTTP transport, for tests to watch or to change some answers.

    Subclasses override :meth:`send` and call ``super().send(...)`` for what goes to the
    engine; :meth:`path` gives a request's path.
    """

    @staticmethod
    def path(url: str) -> str:
        return urlsplit(url).path

    async def send(self, method: str, url: str, *, headers: Mapping[str, str],
                   body: bytes | None, params: Mapping[str, str | int] | None,
                   timeout: float) -> HttpAnswer:  # noqa: ASYNC109
        return await super().send(method, url, headers=headers, body=body, params=params,
                                  timeout=timeout)


class CountingTransport(WrappedTransport):
    """The real HTTP transport, counting requests per path and TCP connections opened."""

    def __init__(self) -> None:
        tracing = aiohttp.TraceConfig()
        tracing.on_connection_create_end.append(self._connected)
        super().__init__(trace_configs=[tracing])
        self.requests: Counter[str] = Counter()
        self.fetch_bodies: list[bytes] = []  # of every fetchAndLock request
        self.connections = 0

    async def _connected(self, *_: Any) -> None:
        self.connections += 1

    async def send(self, method: str, url: str, *, headers: Mapping[str, str],
                   body: bytes | None, params: Mapping[str, str | int] | None,
                   timeout: float) -> HttpAnswer:  # noqa: ASYNC109
        path = self.path(url)
        kind = path.rsplit("/", 1)[-1] if "/external-task/" in path else path
        self.requests[kind] += 1
        if kind == "fetchAndLock":
            self.fetch_bodies.append(body or b"")
        return await super().send(method, url, headers=headers, body=body, params=params,
                                  timeout=timeout)


# For spawn_worker: a 1 s long poll instead of the SDK's 10 s, so that a SIGTERM (which waits
# for the last poll) ends the process in about a second, where the poll is not what is tested.
SHORT_POLLS = {"TEST_ASYNC_RESPONSE_TIMEOUT": "1000"}


def spawn_worker(env: dict[str, str], *, log_path: str | None = None) -> subprocess.Popen[bytes]:
    """``tests/support/worker_app.py`` as a real process (signals, SIGKILL, exit codes)."""
    full_env = {**os.environ, **env}
    full_env.setdefault("LOG_LEVEL", "INFO")
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    try:
        return subprocess.Popen([sys.executable, "-m", "tests.support.worker_app"],
                                cwd=REPO, env=full_env, stdout=out, stderr=subprocess.STDOUT)
    finally:
        if log_path:
            out.close()  # type: ignore[union-attr]


def execution_starts(path: str) -> list[tuple[str, float]]:
    """(process instance, time.time()) of every handler start (from TEST_EXECUTIONS)."""
    try:
        with open(path) as lines:
            return [(parts[1], float(parts[3])) for parts in map(str.split, lines)
                    if parts[0] == "start"]
    except FileNotFoundError:
        return []


def executions(path: str) -> Counter[str]:
    """How many times a handler started, per process instance (from TEST_EXECUTIONS)."""
    return Counter(instance for instance, _ in execution_starts(path))
