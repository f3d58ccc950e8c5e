"""The measurements: throughput and pick-up latency, idle requests, memory over a soak."""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

from .engine import Engine, loop_bpmn, one_task_bpmn
from .proxy import CountingProxy
from .results import IdleResult, RunResult, SoakResult, percentile
from .variants import VARIANTS, WORKLOADS, WorkerConfig
from .worker_process import WorkerExited, WorkerProcess, process_cpu_seconds

__all__ = ["BenchConfig", "measure_idle", "run_soak", "run_variant"]

Say = Callable[[str], None]


@dataclass(frozen=True)
class BenchConfig:
    engine_url: str
    instances: int
    variants: tuple[str, ...]
    workloads: tuple[str, ...]
    cap: float
    latency_instances: int
    latency_rate: float
    warmup: int
    engine_pid: int | None
    rounds: int
    idle_periods: int
    soak_tasks: tuple[int, ...]
    soak_variants: tuple[str, ...]
    soak_instances: int
    soak_cap: float
    worker: WorkerConfig


def _worker(variant: str, url: str, topic: str, cfg: BenchConfig, workload: str) -> WorkerProcess:
    command = VARIANTS[variant].command(url, topic, cfg.worker, WORKLOADS[workload])
    return WorkerProcess(f"{variant}/{workload}", command)


def _cpu_ms_per_task(before: float | None, after: float | None, tasks: int) -> float | None:
    if before is None or after is None or tasks <= 0:
        return None
    return (after - before) * 1000 / tasks


def _throughput(engine: Engine, cfg: BenchConfig, key: str, worker: WorkerProcess,
                result: RunResult) -> None:
    """A backlog of ``cfg.instances`` is waiting: time the worker through it."""
    t0 = worker.start()
    cpu0, engine_cpu0 = worker.cpu_seconds(), process_cpu_seconds(cfg.engine_pid)
    deadline = t0 + cfg.cap
    completed, t_end, result.capped = engine.wait_finished(
        key, cfg.instances, since=t0, deadline=deadline, alive=worker.alive)
    result.completed = completed
    result.seconds = t_end - t0
    result.tasks_per_second = completed / result.seconds if result.seconds > 0 else 0.0
    result.handler_calls = worker.calls
    result.worker_cpu_ms_per_task = _cpu_ms_per_task(cpu0, worker.cpu_seconds(), completed)
    result.engine_cpu_ms_per_task = _cpu_ms_per_task(
        engine_cpu0, process_cpu_seconds(cfg.engine_pid), completed)
    if not worker.alive():
        result.notes.append(f"worker exited{worker.stderr_tail()}")
    elif result.capped:
        result.notes.append(f"capped at {cfg.cap:.0f}s: {completed}/{cfg.instances} done")


def _latency(engine: Engine, cfg: BenchConfig, key: str, worker: WorkerProcess,
             result: RunResult) -> None:
    """The worker idles in its long poll; instances arrive at a steady rate."""
    time.sleep(1.0)
    sent = engine.start_paced(key, cfg.latency_instances, cfg.latency_rate)
    if not worker.wait_for(sent, timeout=30 + cfg.latency_instances / 10):
        result.notes.append("latency: not every instance was picked up within the wait")
    with worker.changed:
        seen = worker.first_seen
        latencies = [(seen[i] - t) * 1000 for i, t in sent.items() if i in seen]
    if latencies:
        result.latency_samples = len(latencies)
        result.latency_p50_ms = statistics.median(latencies)
        result.latency_p95_ms = percentile(latencies, 0.95)


def run_variant(engine: Engine, cfg: BenchConfig, variant: str, workload: str, run_id: str,
                say: Say) -> RunResult:
    """Throughput through a backlog, then pick-up latency, on a process of its own."""
    key = f"bench_{variant}_{workload}_{run_id}"  # topic = key: variants never meet
    result = RunResult(variant=variant, workload=workload, instances=cfg.instances)
    deployments = [engine.deploy(key, one_task_bpmn(key, key))]
    worker = _worker(variant, engine.url, key, cfg, workload)
    try:
        began = time.monotonic()
        engine.start_many(key, cfg.instances)
        say(f"  backlog: {cfg.instances} instances started in "
            f"{time.monotonic() - began:.1f}s (not measured)")
        _throughput(engine, cfg, key, worker, result)
        state = "CAPPED, " if result.capped else ""
        say(f"  throughput: {state}{result.completed}/{cfg.instances} in {result.seconds:.2f}s "
            f"= {result.tasks_per_second:.1f}/s, worker CPU "
            f"{_fmt(result.worker_cpu_ms_per_task)} ms/task")
        if cfg.latency_instances <= 0 or not worker.alive():
            return result
        if result.capped:
            # The rest of the backlog would be in the way: new definition, new worker.
            worker.close()
            engine.delete_deployment(deployments.pop())
            key = f"{key}_latency"
            deployments.append(engine.deploy(key, one_task_bpmn(key, key)))
            worker = _worker(variant, engine.url, key, cfg, workload)
            worker.start()
            result.notes.append("latency measured with a fresh worker and process definition")
        _latency(engine, cfg, key, worker, result)
        say(f"  pick-up latency: median {_fmt(result.latency_p50_ms)} ms, p95 "
            f"{_fmt(result.latency_p95_ms)} ms ({result.latency_samples} instances)")
        return result
    finally:
        worker.close()
        _clean_up(engine, deployments, result.notes)


def _clean_up(engine: Engine, deployments: list[str], notes: list[str],
              soak_key: str | None = None) -> None:
    """Delete what a phase deployed; a failure is a note, the figures stand."""
    try:
        if soak_key is not None:
            engine.delete_instances(soak_key)
        for deployment in deployments:
            engine.delete_deployment(deployment)
    except httpx.HTTPError as error:
        notes.append(f"clean-up failed ({type(error).__name__}: {error}); delete deployment(s) "
                     f"{', '.join(deployments)} by hand")


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def measure_idle(cfg: BenchConfig, say: Say) -> list[IdleResult]:
    """Every variant idles in parallel behind its own counting relay, on a topic with no work.

    Requests are counted in the steady state, from half a period after the end of a
    worker's first long poll (one-off requests at start, such as a sweep for tasks of an
    earlier process, are left out), over ``cfg.idle_periods`` whole long-poll periods: a
    client that sends one poll per period scores 1.0 whatever its phase.
    """
    period = cfg.worker.async_response_timeout / 1000
    results = {v: IdleResult(v, cfg.idle_periods, period) for v in cfg.variants}
    parts = urlsplit(cfg.engine_url)
    if parts.scheme != "http" or parts.hostname is None:
        for result in results.values():
            result.notes.append("idle requests are counted for http:// engine URLs only")
        return list(results.values())
    target_port = parts.port or 80
    running: dict[str, tuple[CountingProxy, WorkerProcess]] = {}
    started: set[str] = set()
    topic = f"bench_idle_{uuid.uuid4().hex[:8]}"
    try:
        for variant in cfg.variants:
            proxy = CountingProxy(parts.hostname, target_port)
            port = proxy.start()
            url = urlunsplit(("http", f"127.0.0.1:{port}", parts.path, "", ""))
            worker = _worker(variant, url, topic, cfg, cfg.workloads[0])
            running[variant] = (proxy, worker)
            try:
                worker.start()
                started.add(variant)
            except WorkerExited as error:
                results[variant].notes.append(f"idle: {error}")
        first: dict[str, float] = {}
        deadline = time.time() + 60
        while len(first) < len(started) and time.time() < deadline:
            for variant, (proxy, _) in running.items():
                fetches = [r.at for r in proxy.snapshot() if r.path.endswith("/fetchAndLock")]
                if fetches and variant not in first:
                    first[variant] = fetches[0]
            time.sleep(0.1)
        if first:
            end = max(first.values()) + 1.5 * period + cfg.idle_periods * period
            say(f"  all idle workers are polling; counting for {end - time.time():.0f}s")
            time.sleep(max(0.0, end - time.time()) + 0.5)
        for variant, (proxy, worker) in running.items():
            result = results[variant]
            if variant not in started:
                continue
            if variant not in first:
                result.notes.append(f"idle: no fetchAndLock within 60s{worker.stderr_tail()}")
                continue
            begin = first[variant] + 1.5 * period
            window = [r for r in proxy.snapshot()
                      if begin <= r.at < begin + cfg.idle_periods * period]
            result.requests = len(window)
            result.fetches = sum(r.path.endswith("/fetchAndLock") for r in window)
            result.requests_per_period = len(window) / cfg.idle_periods
            say(f"  {variant}: {result.requests} request(s) in {cfg.idle_periods} long-poll "
                f"period(s) of {period:g}s")
    finally:
        for proxy, worker in running.values():
            worker.close()
            proxy.stop()
    return list(results.values())


def run_soak(engine: Engine, cfg: BenchConfig, variant: str, say: Say) -> SoakResult:
    """No-op tasks from looping instances until the last of ``cfg.soak_tasks``; RSS at each."""
    key = f"bench_soak_{variant}_{uuid.uuid4().hex[:8]}"
    result = SoakResult(variant)
    deployment = engine.deploy(key, loop_bpmn(key, key))
    worker = _worker(variant, engine.url, key, cfg, "noop")
    try:
        engine.start_many(key, cfg.soak_instances)
        t0 = worker.start()
        rss = worker.rss_bytes()
        result.rss_mb_at_start = rss / 2**20 if rss is not None else None
        marks = sorted(cfg.soak_tasks)
        deadline = time.time() + cfg.soak_cap
        while marks and worker.alive() and time.time() < deadline:
            if worker.calls >= marks[0]:
                rss = worker.rss_bytes()
                if rss is not None:
                    result.rss_mb[marks[0]] = rss / 2**20
                    say(f"  {variant}: RSS {rss / 2**20:.1f} MB after {worker.calls} tasks")
                marks.pop(0)
                continue
            time.sleep(0.05)
        result.tasks = worker.calls
        result.seconds = time.time() - t0
        if marks:
            why = "worker exited" if not worker.alive() else f"capped at {cfg.soak_cap:.0f}s"
            result.notes.append(f"soak: {why} after {worker.calls} tasks{worker.stderr_tail()}")
        return result
    finally:
        worker.close()
        _clean_up(engine, [deployment], result.notes, soak_key=key)
