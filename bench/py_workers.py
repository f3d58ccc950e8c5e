#!/usr/bin/env python3
"""The Python worker variants of bench/throughput.py, one per child process.

    python bench/py_workers.py VARIANT ENGINE_URL TOPIC SETTINGS_JSON

Every variant (Python, bench/js-client/worker.mjs, bench/java-client) speaks the same
protocol on stdout, one line per event, written with a single write call:

    READY <epoch microseconds>                        about to poll for the first time
    T <process instance id> <epoch microseconds>      first line of a handler call

SETTINGS_JSON: ``max_tasks`` (concurrency), ``batch_size`` (maxTasks per fetchAndLock
where the client takes one), ``async_response_timeout`` (ms), ``lock_duration`` (ms,
the library variants only) and ``wait_ms`` (the handler waits that long without CPU).
The process runs until SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any


def report(instance_id: str) -> None:
    os.write(1, f"T {instance_id} {time.time_ns() // 1000}\n".encode())


def report_ready() -> None:
    os.write(1, f"READY {time.time_ns() // 1000}\n".encode())


def run_camunda_workers(url: str, topic: str, cfg: dict[str, Any], sync_handler: bool,
                        fetch_ahead: bool = True, use_priority: bool | None = None) -> None:
    from camunda_workers import Task, Worker

    if not fetch_ahead:
        # The fetch strategy the SDK did not keep, for comparison: ask for the free
        # slots only. Not a setting: an internal of the SDK the benchmark sets itself.
        import camunda_workers._worker

        camunda_workers._worker._AHEAD_SECONDS = 0.0

    # None: the SDK's default (the baseline SDK of --baseline-sdk has its own)
    chosen: dict[str, Any] = {} if use_priority is None else {"use_priority": use_priority}
    worker = Worker(
        name="bench",
        base_url=url,
        environ={},
        max_tasks=cfg["max_tasks"],
        async_response_timeout_ms=cfg["async_response_timeout"],
        log_level="WARNING",
        **chosen,
    )
    wait = cfg["wait_ms"] / 1000
    if sync_handler:

        @worker.topic(topic)
        def handle_sync(task: Task) -> None:
            report(task.process_instance_id or "")
            if wait:
                time.sleep(wait)

    else:

        @worker.topic(topic)
        async def handle(task: Task) -> None:
            report(task.process_instance_id or "")
            if wait:
                await asyncio.sleep(wait)

    report_ready()
    worker.run()  # SIGTERM drains and returns


def _library_handler(cfg: dict[str, Any]) -> Callable[[Any], Any]:
    """The handler of both library variants and of ours through the compat layer."""
    wait = cfg["wait_ms"] / 1000

    def handle(task: Any) -> Any:
        report(str(task.get_process_instance_id()))
        if wait:
            time.sleep(wait)
        return task.complete()

    return handle


def _library_async_handler(cfg: dict[str, Any]) -> Callable[[Any], Awaitable[Any]]:
    wait = cfg["wait_ms"] / 1000

    async def handle(task: Any) -> Any:
        report(str(task.get_process_instance_id()))
        if wait:
            await asyncio.sleep(wait)
        return task.complete()

    return handle


def _library_config(cfg: dict[str, Any], **concurrency: int) -> dict[str, Any]:
    return {
        **concurrency,
        "lockDuration": cfg["lock_duration"],
        "asyncResponseTimeout": cfg["async_response_timeout"],
        "sleepSeconds": 0,  # sync: wait after errors (default 300 s); async: after empty polls
        "includeExtensionProperties": False,
    }


def run_ext_task_client_sync(url: str, topic: str, cfg: dict[str, Any]) -> None:
    from camunda.external_task.external_task_worker import ExternalTaskWorker

    worker = ExternalTaskWorker(worker_id="bench-ext-sync", base_url=url,
                                config=_library_config(cfg, maxTasks=cfg["batch_size"]))
    report_ready()
    worker.subscribe([topic], _library_handler(cfg))  # while True: never returns


def run_compat_sync(url: str, topic: str, cfg: dict[str, Any]) -> None:
    """The same handler and script, the import changed to camunda_workers.compat."""
    from camunda_workers.compat import ExternalTaskWorker

    # The same config: maxTasks is that library's batch per poll, our handlers in flight.
    config = {**_library_config(cfg, maxTasks=cfg["batch_size"]), "isDebug": False}
    worker = ExternalTaskWorker(worker_id="bench-compat-sync", base_url=url, config=config,
                                environ={"LOG_LEVEL": "WARNING"})
    report_ready()
    worker.subscribe([topic], _library_handler(cfg))  # SIGTERM drains and returns


def run_ext_task_client_async(url: str, topic: str, cfg: dict[str, Any]) -> None:
    from camunda.external_task.async_external_task_worker import AsyncExternalTaskWorker

    async def main() -> None:
        worker = AsyncExternalTaskWorker(
            worker_id="bench-ext-async", base_url=url,
            config=_library_config(cfg, maxConcurrentTasks=cfg["max_tasks"]))
        report_ready()
        await worker.subscribe({topic: _library_async_handler(cfg)})

    asyncio.run(main())


def run_compat_async(url: str, topic: str, cfg: dict[str, Any]) -> None:
    from camunda_workers.compat import AsyncExternalTaskWorker

    async def main() -> None:
        worker = AsyncExternalTaskWorker(
            worker_id="bench-compat-async", base_url=url, environ={"LOG_LEVEL": "WARNING"},
            config=_library_config(cfg, maxConcurrentTasks=cfg["max_tasks"]))
        report_ready()
        await worker.subscribe({topic: _library_async_handler(cfg)})

    asyncio.run(main())


def run_raw_keepalive(url: str, topic: str, cfg: dict[str, Any]) -> None:
    import httpx

    worker_id = "bench-raw"
    fetch = {
        "workerId": worker_id,
        "maxTasks": cfg["batch_size"],
        "usePriority": True,
        "asyncResponseTimeout": cfg["async_response_timeout"],
        "topics": [{"topicName": topic, "lockDuration": cfg["lock_duration"],
                    "deserializeValues": False}],
    }
    wait = cfg["wait_ms"] / 1000
    timeout = httpx.Timeout(10.0, read=cfg["async_response_timeout"] / 1000 + 10)
    with httpx.Client(base_url=url, timeout=timeout) as http:
        report_ready()
        while True:
            response = http.post("/external-task/fetchAndLock", json=fetch)
            response.raise_for_status()
            for task in response.json():
                report(str(task["processInstanceId"]))
                if wait:
                    time.sleep(wait)
                done = http.post(f"/external-task/{task['id']}/complete",
                                 json={"workerId": worker_id})
                done.raise_for_status()


RUNNERS: dict[str, Callable[[str, str, dict[str, Any]], None]] = {
    "camunda_workers": lambda url, topic, cfg: run_camunda_workers(url, topic, cfg, False),
    "camunda_workers_sync": lambda url, topic, cfg: run_camunda_workers(url, topic, cfg, True),
    "camunda_workers_no_ahead": lambda url, topic, cfg: run_camunda_workers(
        url, topic, cfg, False, fetch_ahead=False),
    "camunda_workers_no_priority": lambda url, topic, cfg: run_camunda_workers(
        url, topic, cfg, False, use_priority=False),
    "camunda_workers_priority": lambda url, topic, cfg: run_camunda_workers(
        url, topic, cfg, False, use_priority=True),
    "ext_task_client_sync": run_ext_task_client_sync,
    "ext_task_client_async": run_ext_task_client_async,
    "camunda_workers_compat": run_compat_sync,
    "camunda_workers_compat_async": run_compat_async,
    "raw_keepalive": run_raw_keepalive,
}


def main(argv: list[str]) -> int:
    if len(argv) != 4 or argv[0] not in RUNNERS:
        print(__doc__, file=sys.stderr)
        return 2
    variant, url, topic, settings = argv
    RUNNERS[variant](url, topic, json.loads(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
