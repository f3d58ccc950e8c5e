"""A minimal async worker loop over one transport: fetchAndLock, then complete each task.

It runs in a child process of transport_choice.py, so that the CPU time it reports
(``time.process_time()``: every thread of the process) is its own. Two fetch strategies:

- ``free``: ask for as many tasks as there are free handler slots, as soon as one is
  free (what camunda_workers does today).
- ``interval``: the same, but wait ``interval_ms`` after every fetch before the next one
  (what the official JS client does with ``interval``), so that more slots are free
  when it asks again.
- ``batch``: ask for ``batch_size`` tasks whenever the local queue holds fewer than
  ``concurrency`` tasks; handlers take tasks from that queue. Fewer, larger fetches, but
  a task waits in the queue while its lock runs (reported as queue wait).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from .results import percentile
from .transports import CODECS, make_transport

__all__ = ["DriveResult", "DriveSpec", "drive"]

STRATEGIES = ("free", "interval", "batch")


@dataclass(frozen=True)
class DriveSpec:
    client: str
    codec: str
    loop: str
    url: str
    topic: str
    tasks: int
    concurrency: int = 32
    strategy: str = "free"
    batch_size: int = 100
    interval_ms: int = 10
    wait_ms: int = 0
    async_response_timeout: int = 20_000


@dataclass
class DriveResult:
    tasks: int
    seconds: float
    cpu_seconds: float
    fetches: int
    completes: int
    queue_wait_p95_ms: float
    queue_wait_max_ms: float


async def drive(spec: DriveSpec) -> DriveResult:
    codec = CODECS[spec.codec]()
    transport = make_transport(spec.client, spec.url, spec.concurrency + 2)
    loop = asyncio.get_running_loop()
    worker_id = "transport-bench"
    queue: deque[tuple[dict[str, Any], float]] = deque()
    jobs: set[asyncio.Task[None]] = set()
    wake, finished = asyncio.Event(), asyncio.Event()
    waits: list[float] = []
    state = {"in_flight": 0, "completed": 0, "fetches": 0}

    async def handle(task: dict[str, Any], fetched_at: float) -> None:
        waits.append(loop.time() - fetched_at)
        if spec.wait_ms:
            await asyncio.sleep(spec.wait_ms / 1000)
        body = codec.dumps({"workerId": worker_id,
                            "variables": {"handled": {"value": True, "type": "Boolean"}}})
        await transport.post(f"/external-task/{task['id']}/complete", body)
        state["in_flight"] -= 1
        state["completed"] += 1
        if state["completed"] >= spec.tasks:
            finished.set()
        dispatch()
        wake.set()

    def dispatch() -> None:
        while queue and state["in_flight"] < spec.concurrency:
            task, fetched_at = queue.popleft()
            state["in_flight"] += 1
            job = loop.create_task(handle(task, fetched_at))
            jobs.add(job)
            job.add_done_callback(jobs.discard)

    def wanted() -> int:
        if spec.strategy == "batch":
            return spec.batch_size if len(queue) < spec.concurrency else 0
        return spec.concurrency - state["in_flight"] - len(queue)

    async def fetcher() -> None:
        while True:
            want = wanted()
            if want <= 0:
                wake.clear()
                await wake.wait()
                continue
            body = codec.dumps({
                "workerId": worker_id, "maxTasks": want, "usePriority": True,
                "asyncResponseTimeout": spec.async_response_timeout,
                "topics": [{"topicName": spec.topic, "lockDuration": 60_000}],
            })
            tasks = codec.loads(await transport.post("/external-task/fetchAndLock", body))
            state["fetches"] += 1
            now = loop.time()
            queue.extend((task, now) for task in tasks)
            dispatch()
            if spec.strategy == "interval":
                await asyncio.sleep(spec.interval_ms / 1000)

    cpu0, t0 = time.process_time(), loop.time()
    polling = loop.create_task(fetcher())
    done, _ = await asyncio.wait({polling, loop.create_task(finished.wait())},
                                 return_when=asyncio.FIRST_COMPLETED)
    seconds, cpu = loop.time() - t0, time.process_time() - cpu0
    if polling in done:
        polling.result()  # raise what stopped the fetcher
    polling.cancel()
    for job in list(jobs):
        job.cancel()
    await transport.aclose()
    return DriveResult(
        tasks=state["completed"], seconds=seconds, cpu_seconds=cpu, fetches=state["fetches"],
        completes=state["completed"],
        queue_wait_p95_ms=percentile(waits, 0.95) * 1000 if waits else 0.0,
        queue_wait_max_ms=max(waits, default=0.0) * 1000)


def run(spec: DriveSpec) -> DriveResult:
    if spec.loop == "uvloop":
        import uvloop

        return uvloop.run(drive(spec))
    return asyncio.run(drive(spec))
