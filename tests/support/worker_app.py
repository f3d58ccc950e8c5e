"""A worker process for tests: ``python -m tests.support.worker_app``, configured by env.

TEST_TOPIC        topic to serve (required)
TEST_SLEEP        seconds each handler sleeps (default 0)
TEST_MODE         sync | async | to_thread (an async handler stuck in asyncio.to_thread for
                  TEST_SLEEP s) | fail_first (the first try fails with TaskFailure(retries=1,
                  retry_timeout=TEST_RETRY_TIMEOUT ms), later tries complete); default sync
TEST_EXECUTIONS   file to which each handler start appends "start <instance> <pid> <time>" and
                  each handler end "end ..." (one line, O_APPEND: safe across replicas)
Everything else is the SDK's own settings from the environment (CAMUNDA_URL, WORKER_ID,
METRICS_PORT, LOG_LEVEL, ...) plus TEST_MAX_TASKS, TEST_LOCK_DURATION, TEST_DRAIN_TIMEOUT,
TEST_ASYNC_RESPONSE_TIMEOUT.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from camunda_workers import Task, TaskFailure, Worker


def _record(event: str, task: Task) -> None:
    path = os.environ.get("TEST_EXECUTIONS")
    if path:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{event} {task.process_instance_id} {os.getpid()} {time.time()}\n"
                     .encode())
        finally:
            os.close(fd)


def build() -> Worker:
    env = os.environ
    options: dict[str, Any] = {"name": "test-app"}
    for variable, setting, kind in (
        ("TEST_MAX_TASKS", "max_tasks", int),
        ("TEST_LOCK_DURATION", "lock_duration_ms", int),
        ("TEST_DRAIN_TIMEOUT", "drain_timeout_seconds", float),
        ("TEST_ASYNC_RESPONSE_TIMEOUT", "async_response_timeout_ms", int),
        ("TEST_BACKOFF_MAX", "backoff_max_seconds", float),
    ):
        if env.get(variable):
            options[setting] = kind(env[variable])
    worker = Worker(**options)
    pause = float(env.get("TEST_SLEEP", "0"))

    mode = env.get("TEST_MODE", "sync")
    if mode in ("async", "to_thread"):
        @worker.topic(env["TEST_TOPIC"])
        async def handle_async(task: Task) -> dict[str, Any]:
            _record("start", task)
            if mode == "to_thread":
                await asyncio.to_thread(time.sleep, pause)  # a thread cannot be cancelled
            else:
                await asyncio.sleep(pause)
            _record("end", task)
            return {"handled_by": os.getpid()}
    else:
        @worker.topic(env["TEST_TOPIC"])
        def handle(task: Task) -> dict[str, Any]:
            _record("start", task)
            if mode == "fail_first" and task.retries is None:
                raise TaskFailure("first try fails", retries=1,
                                  retry_timeout=int(env["TEST_RETRY_TIMEOUT"]))
            time.sleep(pause)
            _record("end", task)
            return {"handled_by": os.getpid()}

    return worker


if __name__ == "__main__":
    build().run()
