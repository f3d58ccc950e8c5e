#!/usr/bin/env python3
"""Throughput and pick-up latency of external-task workers against a real engine.

Compares camunda_workers with camunda-external-task-client-python3's own workers and a
raw keep-alive loop (the ceiling). Every variant runs in its own process, gets its own
process definition (key and topic), and uses a no-op handler. See bench/README.md.

    python bench/throughput.py --engine-url http://localhost:8080/engine-rest
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import multiprocessing.queues
import os
import platform
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeAlias

import httpx

VARIANTS: tuple[str, ...] = (
    "raw_keepalive",
    "camunda_workers",
    "camunda_workers_sync",
    "ext_task_client_async",
    "ext_task_client_sync",
)
BASELINE = "camunda_workers"
CEILING = "raw_keepalive"
READY = "__ready__"

Record: TypeAlias = tuple[str, float]  # (process instance id, time.time() at handler start)
RecordQueue: TypeAlias = "multiprocessing.queues.Queue[Record]"

BPMN_TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
    id="definitions_{key}" targetNamespace="http://camunda.org/examples">
  <bpmn:process id="{key}" name="{key}" isExecutable="true" camunda:historyTimeToLive="1">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="to_task" sourceRef="start" targetRef="task" />
    <bpmn:serviceTask id="task" name="no-op" camunda:type="external" camunda:topic="{topic}" />
    <bpmn:sequenceFlow id="to_end" sourceRef="task" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>
"""


@dataclass(frozen=True)
class WorkerConfig:
    """What every worker variant is given (each maps it to its own settings)."""

    max_tasks: int = 32  # camunda_workers max_tasks, AsyncExternalTaskWorker maxConcurrentTasks
    batch_size: int = 100  # maxTasks per fetchAndLock: ExternalTaskWorker and raw_keepalive
    async_response_timeout: int = 20_000  # long poll, ms (all variants)
    lock_duration: int = 60_000  # ms (all variants)


@dataclass(frozen=True)
class BenchConfig:
    engine_url: str
    instances: int
    variants: tuple[str, ...]
    cap: float
    latency_instances: int
    latency_rate: float
    warmup: int
    start_threads: int
    engine_pid: int | None
    rounds: int
    worker: WorkerConfig


@dataclass
class VariantResult:
    variant: str
    settings: str
    instances: int
    completed: int = 0
    seconds: float = 0.0
    tasks_per_second: float = 0.0
    capped: bool = False
    handler_calls: int = 0
    worker_cpu_ms_per_task: float | None = None
    engine_cpu_ms_per_task: float | None = None
    latency_samples: int = 0
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    notes: list[str] = field(default_factory=list)


def bpmn(key: str, topic: str) -> str:
    return BPMN_TEMPLATE.format(key=key, topic=topic)


def variant_settings(variant: str, cfg: WorkerConfig) -> str:
    """Human-readable settings of one variant (printed and stored in the JSON)."""
    poll = f"asyncResponseTimeout={cfg.async_response_timeout}ms"
    lock = f"lockDuration={cfg.lock_duration}ms"
    if variant in ("camunda_workers", "camunda_workers_sync"):
        kind = "async def" if variant == "camunda_workers" else "def (thread pool of max_tasks)"
        return (f"Worker(max_tasks={cfg.max_tasks}, async_response_timeout="
                f"{cfg.async_response_timeout}, lock_duration={cfg.lock_duration}), "
                f"other settings default; handler: {kind}")
    if variant == "ext_task_client_sync":
        return (f"ExternalTaskWorker config maxTasks={cfg.batch_size}, {poll}, {lock}, "
                "sleepSeconds=0, includeExtensionProperties=False; tasks of a batch run "
                "one after the other; requests.post per call (no Session)")
    if variant == "ext_task_client_async":
        return (f"AsyncExternalTaskWorker config maxConcurrentTasks={cfg.max_tasks}, {poll}, "
                f"{lock}, sleepSeconds=0, includeExtensionProperties=False; fetches "
                "maxTasks=1 (hard-coded), new httpx.AsyncClient per call")
    if variant == "raw_keepalive":
        return (f"one httpx.Client (keep-alive): fetchAndLock maxTasks={cfg.batch_size}, "
                f"{poll}, {lock}, usePriority=true, then complete each task in turn")
    raise ValueError(f"unknown variant {variant!r}")


# --------------------------------------------------------------------------- workers
# Each runs in a spawned child process until it is terminated. The handlers are no-ops
# apart from one queue.put of (process instance id, time) used for counts and latency.


def _run_camunda_workers(url: str, topic: str, cfg: WorkerConfig, out: RecordQueue,
                         sync_handler: bool) -> None:
    from camunda_workers import Task, Worker

    worker = Worker(
        name="bench",
        base_url=url,
        environ={},
        max_tasks=cfg.max_tasks,
        async_response_timeout=cfg.async_response_timeout,
        lock_duration=cfg.lock_duration,
        log_level="WARNING",
    )
    if sync_handler:

        @worker.topic(topic)
        def handle_sync(task: Task) -> None:
            out.put((task.process_instance_id or "", time.time()))

    else:

        @worker.topic(topic)
        async def handle(task: Task) -> None:
            out.put((task.process_instance_id or "", time.time()))

    out.put((READY, time.time()))
    worker.run()  # SIGTERM stops it


def _run_ext_task_client_sync(url: str, topic: str, cfg: WorkerConfig, out: RecordQueue) -> None:
    from camunda.external_task.external_task_worker import ExternalTaskWorker

    config: dict[str, Any] = {
        "maxTasks": cfg.batch_size,
        "lockDuration": cfg.lock_duration,
        "asyncResponseTimeout": cfg.async_response_timeout,
        "sleepSeconds": 0,  # only used after errors (default 300 s)
        "includeExtensionProperties": False,
    }
    worker = ExternalTaskWorker(worker_id="bench-ext-sync", base_url=url, config=config)

    def handle(task: Any) -> Any:
        out.put((str(task.get_process_instance_id()), time.time()))
        return task.complete()

    out.put((READY, time.time()))
    worker.subscribe([topic], handle)  # while True: never returns


def _run_ext_task_client_async(url: str, topic: str, cfg: WorkerConfig,
                               out: RecordQueue) -> None:
    from camunda.external_task.async_external_task_worker import AsyncExternalTaskWorker

    config: dict[str, Any] = {
        "maxConcurrentTasks": cfg.max_tasks,
        "lockDuration": cfg.lock_duration,
        "asyncResponseTimeout": cfg.async_response_timeout,
        "sleepSeconds": 0,  # sleep after an empty fetch (default 1 s)
        "includeExtensionProperties": False,
    }

    async def handle(task: Any) -> Any:
        out.put((str(task.get_process_instance_id()), time.time()))
        return task.complete()

    async def main() -> None:
        worker = AsyncExternalTaskWorker(worker_id="bench-ext-async", base_url=url,
                                         config=config)
        out.put((READY, time.time()))
        await worker.subscribe({topic: handle})

    asyncio.run(main())


def _run_raw_keepalive(url: str, topic: str, cfg: WorkerConfig, out: RecordQueue) -> None:
    worker_id = "bench-raw"
    fetch = {
        "workerId": worker_id,
        "maxTasks": cfg.batch_size,
        "usePriority": True,
        "asyncResponseTimeout": cfg.async_response_timeout,
        "topics": [{"topicName": topic, "lockDuration": cfg.lock_duration,
                    "deserializeValues": False}],
    }
    timeout = httpx.Timeout(10.0, read=cfg.async_response_timeout / 1000 + 10)
    with httpx.Client(base_url=url, timeout=timeout) as http:
        out.put((READY, time.time()))
        while True:
            response = http.post("/external-task/fetchAndLock", json=fetch)
            response.raise_for_status()
            for task in response.json():
                out.put((str(task["processInstanceId"]), time.time()))
                done = http.post(f"/external-task/{task['id']}/complete",
                                 json={"workerId": worker_id})
                done.raise_for_status()


def worker_main(variant: str, url: str, topic: str, cfg: WorkerConfig, out: RecordQueue) -> None:
    """Child-process entry point."""
    if variant == "camunda_workers":
        _run_camunda_workers(url, topic, cfg, out, sync_handler=False)
    elif variant == "camunda_workers_sync":
        _run_camunda_workers(url, topic, cfg, out, sync_handler=True)
    elif variant == "ext_task_client_sync":
        _run_ext_task_client_sync(url, topic, cfg, out)
    elif variant == "ext_task_client_async":
        _run_ext_task_client_async(url, topic, cfg, out)
    elif variant == "raw_keepalive":
        _run_raw_keepalive(url, topic, cfg, out)
    else:
        raise ValueError(f"unknown variant {variant!r}")


# --------------------------------------------------------------------------- engine side


class Engine:
    """The few REST calls the benchmark itself makes (deploy, start, count, clean up)."""

    def __init__(self, url: str, threads: int) -> None:
        self.url = url.rstrip("/")
        self.threads = threads
        self.http = httpx.Client(
            base_url=self.url,
            timeout=60.0,
            limits=httpx.Limits(max_connections=threads + 2,
                                max_keepalive_connections=threads + 2),
        )

    def close(self) -> None:
        self.http.close()

    def version(self) -> str:
        response = self.http.get("/version")
        response.raise_for_status()
        return str(response.json().get("version", "?"))

    def deploy(self, key: str, topic: str) -> str:
        response = self.http.post(
            "/deployment/create",
            data={"deployment-name": key, "deployment-source": "bench/throughput.py"},
            files={f"{key}.bpmn": (f"{key}.bpmn", bpmn(key, topic).encode(), "application/xml")},
        )
        response.raise_for_status()
        return str(response.json()["id"])

    def delete_deployment(self, deployment_id: str) -> None:
        response = self.http.delete(
            f"/deployment/{deployment_id}",
            params={"cascade": "true", "skipCustomListeners": "true", "skipIoMappings": "true"},
        )
        response.raise_for_status()

    def start(self, key: str) -> str:
        response = self.http.post(f"/process-definition/key/{key}/start", json={})
        response.raise_for_status()
        return str(response.json()["id"])

    def start_many(self, key: str, count: int) -> None:
        with ThreadPoolExecutor(self.threads, thread_name_prefix="start") as pool:
            for _ in pool.map(lambda _: self.start(key), range(count)):
                pass

    def start_paced(self, key: str, count: int, rate: float) -> dict[str, float]:
        """Start ``count`` instances at ``rate`` per second; id -> time the request was sent."""
        sent: dict[str, float] = {}
        begin = time.monotonic()
        for i in range(count):
            delay = begin + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            t_send = time.time()
            sent[self.start(key)] = t_send
        return sent

    def finished(self, key: str) -> int:
        response = self.http.post(
            "/history/process-instance/count",
            json={"processDefinitionKey": key, "finished": True},
        )
        response.raise_for_status()
        return int(response.json()["count"])

    def last_end_time(self, key: str) -> float | None:
        """The engine's end time of the last finished instance (epoch seconds)."""
        response = self.http.get("/history/process-instance", params={
            "processDefinitionKey": key, "finished": "true", "sortBy": "endTime",
            "sortOrder": "desc", "firstResult": "0", "maxResults": "1",
        })
        response.raise_for_status()
        rows = response.json()
        if not rows or not rows[0].get("endTime"):
            return None
        end = datetime.strptime(rows[0]["endTime"], "%Y-%m-%dT%H:%M:%S.%f%z")
        return end.timestamp()

    def warm_up(self, count: int, cfg: WorkerConfig) -> None:
        """Exercise start/fetch/complete once so the JIT has compiled them (not measured)."""
        key = f"bench_warmup_{uuid.uuid4().hex[:8]}"
        deployment = self.deploy(key, key)
        try:
            self.start_many(key, count)
            fetch = {"workerId": "bench-warmup", "maxTasks": cfg.batch_size,
                     "asyncResponseTimeout": 1000,
                     "topics": [{"topicName": key, "lockDuration": cfg.lock_duration}]}
            done, deadline = 0, time.monotonic() + 120
            while done < count and time.monotonic() < deadline:
                response = self.http.post("/external-task/fetchAndLock", json=fetch)
                response.raise_for_status()
                for task in response.json():
                    self.http.post(f"/external-task/{task['id']}/complete",
                                   json={"workerId": "bench-warmup"}).raise_for_status()
                    done += 1
        finally:
            self.delete_deployment(deployment)


# --------------------------------------------------------------------------- measuring


class Collector(threading.Thread):
    """Drains a worker's queue: first handler start per process instance, and READY."""

    def __init__(self, queue: RecordQueue) -> None:
        super().__init__(name="collector", daemon=True)
        self.queue = queue
        self.first_seen: dict[str, float] = {}
        self.calls = 0
        self.ready_at: float | None = None
        self.ready = threading.Event()
        self.changed = threading.Condition()
        self._stop_requested = threading.Event()

    def run(self) -> None:
        while not self._stop_requested.is_set():
            try:
                instance, at = self.queue.get(timeout=0.2)
            except Exception:  # noqa: BLE001 - queue.Empty, or a torn queue after terminate
                continue
            if instance == READY:
                self.ready_at = at
                self.ready.set()
                continue
            with self.changed:
                self.calls += 1
                self.first_seen.setdefault(instance, at)
                self.changed.notify_all()

    def wait_for(self, instances: Iterable[str], timeout: float) -> bool:
        wanted = set(instances)
        deadline = time.monotonic() + timeout
        with self.changed:
            while not wanted <= self.first_seen.keys():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.changed.wait(remaining)
        return True

    def stop(self) -> None:
        self._stop_requested.set()


class WorkerProcess:
    """One variant's worker in a spawned child process, and the thread reading its queue."""

    def __init__(self, variant: str, url: str, topic: str, cfg: WorkerConfig) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.variant = variant
        self.queue: RecordQueue = ctx.Queue()
        self.collector = Collector(self.queue)
        self.process = ctx.Process(target=worker_main, name=f"bench-{variant}", daemon=True,
                                   args=(variant, url, topic, cfg, self.queue))

    def start(self, timeout: float = 60.0) -> float:
        """Start it; return the time (epoch s) at which it was about to poll."""
        self.collector.start()
        self.process.start()
        if not self.collector.ready.wait(timeout) or self.collector.ready_at is None:
            raise RuntimeError(f"{self.variant}: worker process did not start (exit code "
                               f"{self.process.exitcode})")
        return self.collector.ready_at

    def cpu_seconds(self) -> float | None:
        return process_cpu_seconds(self.process.pid)

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.terminate()  # SIGTERM: camunda_workers drains, the others just exit
            self.process.join(15)
            if self.process.is_alive():
                self.process.kill()
                self.process.join(5)
        self.collector.stop()
        if self.collector.is_alive():
            self.collector.join(2)
        self.queue.close()
        self.queue.cancel_join_thread()


def process_cpu_seconds(pid: int | None) -> float | None:
    """user+system CPU time of a process (Linux /proc), None elsewhere."""
    if pid is None:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_ms_per_task(before: float | None, after: float | None, tasks: int) -> float | None:
    if before is None or after is None or tasks <= 0:
        return None
    return (after - before) * 1000 / tasks


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[index]


def measure_throughput(engine: Engine, cfg: BenchConfig, key: str, worker: WorkerProcess,
                       result: VariantResult) -> None:
    """Phase 1: a backlog of ``cfg.instances`` is waiting; time the worker through it."""
    t0 = worker.start()
    cpu0, engine_cpu0 = worker.cpu_seconds(), process_cpu_seconds(cfg.engine_pid)
    deadline = t0 + cfg.cap
    while True:
        completed = engine.finished(key)
        now = time.time()
        if completed >= cfg.instances:
            last = engine.last_end_time(key)
            # the engine's clock if it plausibly is ours (same machine), else the poll's
            t_end = last if last is not None and t0 < last <= now + 0.05 else now
            break
        if now >= deadline or not worker.process.is_alive():
            result.capped = True
            t_end = now
            break
        time.sleep(0.1)
    result.completed = completed
    result.seconds = t_end - t0
    result.tasks_per_second = completed / result.seconds if result.seconds > 0 else 0.0
    result.handler_calls = worker.collector.calls
    result.worker_cpu_ms_per_task = cpu_ms_per_task(cpu0, worker.cpu_seconds(), completed)
    result.engine_cpu_ms_per_task = cpu_ms_per_task(
        engine_cpu0, process_cpu_seconds(cfg.engine_pid), completed)
    if not worker.process.is_alive():
        result.notes.append(f"worker exited with code {worker.process.exitcode}")
    if result.capped:
        result.notes.append(f"capped at {cfg.cap:.0f}s: {completed}/{cfg.instances} done")


def measure_latency(engine: Engine, cfg: BenchConfig, key: str, worker: WorkerProcess,
                    result: VariantResult) -> None:
    """Phase 2: the worker idles in its long poll; instances arrive at a steady rate."""
    time.sleep(1.0)
    sent = engine.start_paced(key, cfg.latency_instances, cfg.latency_rate)
    if not worker.collector.wait_for(sent, timeout=30 + cfg.latency_instances / 10):
        result.notes.append("latency: not every instance was picked up within the wait")
    with worker.collector.changed:
        seen = worker.collector.first_seen
        latencies = [(seen[i] - t) * 1000 for i, t in sent.items() if i in seen]
    if latencies:
        result.latency_samples = len(latencies)
        result.latency_p50_ms = statistics.median(latencies)
        result.latency_p95_ms = percentile(latencies, 0.95)


def run_variant(engine: Engine, cfg: BenchConfig, variant: str, run_id: str,
                say: Callable[[str], None]) -> VariantResult:
    key = f"bench_{variant}_{run_id}"
    result = VariantResult(variant=variant, settings=variant_settings(variant, cfg.worker),
                           instances=cfg.instances)
    deployments = [engine.deploy(key, key)]  # topic name = process key: variants stay apart
    worker = WorkerProcess(variant, engine.url, key, cfg.worker)
    try:
        began = time.monotonic()
        engine.start_many(key, cfg.instances)
        say(f"  backlog: {cfg.instances} instances started in "
            f"{time.monotonic() - began:.1f}s (not measured)")
        measure_throughput(engine, cfg, key, worker, result)
        if result.capped:
            say(f"  throughput: CAPPED, {result.completed}/{cfg.instances} in "
                f"{result.seconds:.1f}s = {result.tasks_per_second:.1f}/s")
        else:
            say(f"  throughput: {result.completed} tasks in {result.seconds:.2f}s = "
                f"{result.tasks_per_second:.1f}/s")
        if cfg.latency_instances <= 0:
            return result
        if result.capped:
            # The rest of the backlog would be in the way: new definition, new worker.
            worker.stop()
            engine.delete_deployment(deployments.pop())
            key = f"{key}_latency"
            deployments.append(engine.deploy(key, key))
            worker = WorkerProcess(variant, engine.url, key, cfg.worker)
            worker.start()
            result.notes.append("latency measured with a fresh worker and process definition")
        measure_latency(engine, cfg, key, worker, result)
        if result.latency_p50_ms is not None and result.latency_p95_ms is not None:
            say(f"  pick-up latency: median {result.latency_p50_ms:.1f} ms, "
                f"p95 {result.latency_p95_ms:.1f} ms ({result.latency_samples} instances)")
        return result
    finally:
        worker.stop()
        for deployment in deployments:
            engine.delete_deployment(deployment)


# --------------------------------------------------------------------------- report


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def ratio(result: VariantResult, reference: VariantResult | None) -> float | None:
    if reference is None or reference.tasks_per_second <= 0:
        return None
    return result.tasks_per_second / reference.tasks_per_second


def _median(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def combine(rounds: list[VariantResult]) -> VariantResult:
    """One variant over several rounds: medians, summed counts, capped if any round was."""
    if len(rounds) == 1:
        return rounds[0]
    first = rounds[0]
    notes = [f"round {n}: {note}" for n, r in enumerate(rounds, 1) for note in r.notes]
    rates = ", ".join(f"{r.tasks_per_second:.1f}" for r in rounds)
    notes.append(f"tasks/s per round: {rates} (the table shows medians)")
    return VariantResult(
        variant=first.variant,
        settings=first.settings,
        instances=sum(r.instances for r in rounds),
        completed=sum(r.completed for r in rounds),
        seconds=statistics.median(r.seconds for r in rounds),
        tasks_per_second=statistics.median(r.tasks_per_second for r in rounds),
        capped=any(r.capped for r in rounds),
        handler_calls=sum(r.handler_calls for r in rounds),
        worker_cpu_ms_per_task=_median(r.worker_cpu_ms_per_task for r in rounds),
        engine_cpu_ms_per_task=_median(r.engine_cpu_ms_per_task for r in rounds),
        latency_samples=sum(r.latency_samples for r in rounds),
        latency_p50_ms=_median(r.latency_p50_ms for r in rounds),
        latency_p95_ms=_median(r.latency_p95_ms for r in rounds),
        notes=notes,
    )


def table(results: list[VariantResult]) -> str:
    by_name = {r.variant: r for r in results}
    header = ("variant", "tasks/s", "seconds", "done", "p50 ms", "p95 ms",
              f"x {BASELINE}", f"x {CEILING}", "worker CPU ms/task", "engine CPU ms/task",
              "note")
    rows: list[tuple[str, ...]] = [header]
    for r in results:
        rows.append((
            r.variant,
            f"{r.tasks_per_second:.1f}",
            f"{r.seconds:.2f}",
            f"{r.completed}/{r.instances}",
            _fmt(r.latency_p50_ms, ".1f"),
            _fmt(r.latency_p95_ms, ".1f"),
            _fmt(ratio(r, by_name.get(BASELINE)), ".2f"),
            _fmt(ratio(r, by_name.get(CEILING)), ".2f"),
            _fmt(r.worker_cpu_ms_per_task, ".2f"),
            _fmt(r.engine_cpu_ms_per_task, ".2f"),
            "capped" if r.capped else "",
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for n, row in enumerate(rows):
        cells = [cell.ljust(w) if i in (0, len(row) - 1) else cell.rjust(w)
                 for i, (cell, w) in enumerate(zip(row, widths, strict=True))]
        lines.append("| " + " | ".join(cells) + " |")
        if n == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> tuple[BenchConfig, Path | None]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--engine-url",
                        default=os.environ.get("CAMUNDA_URL", "http://localhost:8080/engine-rest"),
                        help="engine REST base URL (default: $CAMUNDA_URL or %(default)s)")
    parser.add_argument("--instances", type=int, default=2000,
                        help="backlog per variant for the throughput phase (default %(default)s)")
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help="comma-separated subset of: " + ", ".join(VARIANTS))
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results as JSON")
    parser.add_argument("--cap", type=float, default=120.0,
                        help="max seconds per throughput phase (default %(default)s)")
    parser.add_argument("--latency-instances", type=int, default=200,
                        help="instances for the pick-up latency phase, 0 = skip (default "
                             "%(default)s)")
    parser.add_argument("--latency-rate", type=float, default=20.0,
                        help="instances started per second in that phase (default %(default)s)")
    parser.add_argument("--warmup", type=int, default=500,
                        help="instances run once before measuring, to warm the engine's JIT "
                             "(default %(default)s)")
    parser.add_argument("--max-tasks", type=int, default=WorkerConfig.max_tasks,
                        help="concurrency of camunda_workers and the async library worker "
                             "(default %(default)s)")
    parser.add_argument("--batch-size", type=int, default=WorkerConfig.batch_size,
                        help="fetchAndLock maxTasks of the sync library worker and the raw "
                             "loop (default %(default)s)")
    parser.add_argument("--async-response-timeout", type=int,
                        default=WorkerConfig.async_response_timeout,
                        help="long-poll timeout in ms, all variants (default %(default)s)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="run every variant this many times (order rotated each round) and "
                             "report medians: steadier on a busy machine (default %(default)s)")
    parser.add_argument("--engine-pid", type=int,
                        help="pid of a local engine JVM: also report its CPU time per task")
    args = parser.parse_args(argv)
    variants = tuple(v.strip() for v in args.variants.split(",") if v.strip())
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown or not variants:
        parser.error(f"unknown variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    if args.instances < 1 or args.latency_rate <= 0 or args.rounds < 1:
        parser.error("--instances and --rounds must be >= 1 and --latency-rate > 0")
    worker = WorkerConfig(max_tasks=args.max_tasks, batch_size=args.batch_size,
                          async_response_timeout=args.async_response_timeout)
    cfg = BenchConfig(
        engine_url=args.engine_url.rstrip("/"),
        instances=args.instances,
        variants=variants,
        cap=args.cap,
        latency_instances=args.latency_instances,
        latency_rate=args.latency_rate,
        warmup=args.warmup,
        start_threads=8,
        engine_pid=args.engine_pid,
        rounds=args.rounds,
        worker=worker,
    )
    return cfg, args.json


def main(argv: list[str] | None = None) -> int:
    cfg, json_path = parse_args(argv)

    def say(message: str) -> None:
        print(message, flush=True)

    engine = Engine(cfg.engine_url, cfg.start_threads)
    try:
        try:
            version = engine.version()
        except httpx.HTTPError as error:
            say(f"engine not reachable at {cfg.engine_url}: {error}")
            return 2
        started = datetime.now(UTC)
        say(f"engine {version} at {cfg.engine_url}; {os.cpu_count()} CPUs; Python "
            f"{platform.python_version()}; {cfg.instances} instances per variant; "
            f"load average {load_average()}")
        if cfg.warmup:
            say(f"warm-up: {cfg.warmup} instances (not measured)")
            engine.warm_up(cfg.warmup, cfg.worker)
        rounds: dict[str, list[VariantResult]] = {v: [] for v in cfg.variants}
        for n in range(cfg.rounds):
            run_id = uuid.uuid4().hex[:8]
            order = cfg.variants[n % len(cfg.variants):] + cfg.variants[:n % len(cfg.variants)]
            for variant in order:
                label = f" (round {n + 1}/{cfg.rounds})" if cfg.rounds > 1 else ""
                say(f"== {variant}{label}: {variant_settings(variant, cfg.worker)}")
                rounds[variant].append(run_variant(engine, cfg, variant, run_id, say))
        results = [combine(rounds[v]) for v in cfg.variants]
    finally:
        engine.close()

    load_after = load_average()
    say("")
    say(table(results))
    say("")
    say("Settings:")
    for r in results:
        say(f"  {r.variant}: {r.settings}")
    say(f"  pick-up latency: {cfg.latency_instances} instances at {cfg.latency_rate:g}/s into an "
        "idle worker; from sending the start request to the handler's first line")
    say(f"  load average at the end: {load_after} (other processes on the machine skew results)")
    notes = [f"  {r.variant}: {note}" for r in results for note in r.notes]
    if notes:
        say("Notes:")
        for line in notes:
            say(line)
    if json_path is not None:
        document = {
            "date": started.isoformat(timespec="seconds"),
            "engine_version": version,
            "engine_url": cfg.engine_url,
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_end": load_after,
            "config": asdict(cfg),
            "results": [asdict(r) for r in results],
            "rounds": {v: [asdict(r) for r in rs] for v, rs in rounds.items()},
        }
        json_path.write_text(json.dumps(document, indent=2) + "\n")
        say(f"wrote {json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
