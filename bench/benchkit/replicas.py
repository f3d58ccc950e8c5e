"""K replicas of one worker on one backlog: what they cost the engine, counted at a relay.

Each replica is its own process behind its own port of one counting relay
(``proxy.py``), so every request is known by who sent it and every answer by what the
engine said: a fetchAndLock's maxTasks and the task ids it got, a complete's status.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit, urlunsplit

import httpx

from .engine import Engine, gated_bpmn
from .proxy import CountingProxy, Request
from .variants import VARIANTS, WORKLOADS, WorkerConfig
from .worker_process import WorkerExited, WorkerProcess, process_cpu_seconds

__all__ = ["BASELINE", "ReplicasConfig", "ReplicasResult", "count_requests", "run_replicas"]

Say = Callable[[str], None]

# camunda_workers with the SDK from another folder (``ReplicasConfig.baseline_sdk``, e.g.
# the sources of main): before and after a change in the same run, on the same engine.
BASELINE = "camunda_workers_baseline"


@dataclass(frozen=True)
class ReplicasConfig:
    engine_url: str
    instances: int
    cap: float
    engine_pid: int | None
    worker: WorkerConfig
    baseline_sdk: str | None = None  # a folder holding the camunda_workers package


@dataclass
class ReplicasResult:
    """One variant, one workload, K replicas draining one backlog."""

    variant: str
    workload: str
    replicas: int
    instances: int
    completed: int = 0
    seconds: float = 0.0
    tasks_per_second: float = 0.0
    capped: bool = False
    worker_cpu_ms_per_task: float | None = None
    engine_cpu_ms_per_task: float | None = None
    fetches: int = 0  # fetchAndLock requests sent while the backlog drained
    empty_fetches: int = 0  # answered with no task
    tasks_fetched: int = 0  # task ids in fetchAndLock answers (a task fetched twice counts 2)
    asked: int = 0  # sum of maxTasks
    short_of_backlog: int = 0  # asked for, not given, though the backlog still held them
    completes: int = 0  # answered 2xx
    unlocks: int = 0
    handed_back: int = 0  # fetched, not completed here: unlocked or left to expire
    error_answers: dict[str, int] = field(default_factory=dict)  # "404 RestException": n
    per_replica: list[int] = field(default_factory=list)  # completes of each replica
    notes: list[str] = field(default_factory=list)

    def per_task(self, count: int) -> float | None:
        return count / self.completed if self.completed else None


def _replica_url(engine_url: str, port: int) -> str:
    parts = urlsplit(engine_url)
    return urlunsplit(("http", f"127.0.0.1:{port}", parts.path, "", ""))


def count_requests(result: ReplicasResult, requests: Sequence[Request], until: float) -> None:
    """Fill the request counts of ``result`` from the relay's record, up to ``until``.

    ``short_of_backlog`` takes the fetch answers in the order they came back: an answer
    with fewer tasks than asked, while the backlog after it still held the missing ones
    beyond what every other fetch then under way had asked for, was cut short by the
    engine itself. Camunda 7 drops from a fetch's answer every task whose lock it lost to
    a concurrent fetch (an optimistic locking conflict it does not report), so this is a
    lower bound of the lock conflicts it answered.
    """
    window = [r for r in requests if r.at < until]
    fetches = [r for r in window if r.is_fetch]
    result.fetches = len(fetches)
    answered = sorted((r for r in fetches if r.status == 200 and r.answered_at is not None),
                      key=lambda r: r.answered_at or 0.0)
    result.empty_fetches = sum(not r.task_ids for r in answered)
    result.asked = sum(r.asked or 0 for r in fetches)
    delivered = 0
    short = 0
    for answer in answered:
        delivered += len(answer.task_ids)
        missing = (answer.asked or 0) - len(answer.task_ids)
        if missing <= 0:
            continue
        at = answer.answered_at or 0.0
        reserved = sum(other.asked or 0 for other in fetches if other is not answer
                       and other.at < at and (other.answered_at or float("inf")) > at)
        short += max(0, min(missing, result.instances - delivered - reserved))
    result.tasks_fetched = delivered
    result.short_of_backlog = short
    completed_ids: set[str] = set()
    per_replica: Counter[int] = Counter()
    errors: Counter[str] = Counter()
    for request in window:
        if request.status is not None and request.status >= 400:
            kind = request.path.rsplit("/", 1)[-1].split("?")[0]
            errors[f"{request.status} {request.error or ''} ({kind})".replace("  ", " ")] += 1
        if request.path.endswith("/unlock"):
            result.unlocks += 1
        elif request.path.endswith("/complete") and request.status is not None \
                and request.status < 300:
            result.completes += 1
            per_replica[request.source] += 1
            completed_ids.add(request.path.rsplit("/", 2)[-2])
    deliveries = Counter(task for r in answered for task in r.task_ids)
    result.handed_back = sum(n - (task in completed_ids) for task, n in deliveries.items())
    result.error_answers = dict(errors)
    result.per_replica = [per_replica.get(n, 0) for n in range(result.replicas)]


def _answered(proxy: CountingProxy, until: float, timeout: float) -> None:
    """Wait until every request but the long polls sent before ``until`` has its answer
    (a complete can end its instance in the engine before its answer reaches the relay)."""
    deadline = time.time() + timeout
    while time.time() < deadline and any(
            r.status is None and not r.is_fetch and r.at < until for r in proxy.snapshot()):
        time.sleep(0.05)


def _all_polling(proxy: CountingProxy, replicas: int, timeout: float) -> bool:
    """Wait until every replica has a fetchAndLock pending (idle in its long poll)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        waiting = {r.source for r in proxy.snapshot() if r.is_fetch and r.status is None}
        if len(waiting) == replicas:
            return True
        time.sleep(0.1)
    return False


def run_replicas(engine: Engine, cfg: ReplicasConfig, variant: str, workload: str,
                 replicas: int, run_id: str, say: Say) -> ReplicasResult:
    """Start K replicas idle, release the backlog at once, time them through it."""
    key = f"bench_rep_{variant}_{workload}_{replicas}_{run_id}"
    result = ReplicasResult(variant, workload, replicas, cfg.instances)
    parts = urlsplit(cfg.engine_url)
    if parts.scheme != "http" or parts.hostname is None:
        raise ValueError("the replicas scenario counts requests of http:// engine URLs only")
    deployment = engine.deploy(key, gated_bpmn(key, key))
    proxy = CountingProxy(parts.hostname, parts.port or 80)
    workers: list[WorkerProcess] = []
    try:
        engine.start_many(key, cfg.instances)
        proxy.start(replicas)
        for n, port in enumerate(proxy.ports):
            settings = replace(cfg.worker, worker_id=f"bench-{variant}-{n}")
            runs = "camunda_workers" if variant == BASELINE else variant
            command = VARIANTS[runs].command(_replica_url(cfg.engine_url, port), key,
                                             settings, WORKLOADS[workload])
            env = None
            if variant == BASELINE and cfg.baseline_sdk is not None:
                env = {**os.environ, "PYTHONPATH": cfg.baseline_sdk}
            workers.append(WorkerProcess(f"{variant}/{workload}/{n}", command, env))
        for worker in workers:
            worker.launch()
        for worker in workers:
            worker.wait_ready()
        if not _all_polling(proxy, replicas, timeout=60):
            result.notes.append("not every replica was in its long poll within 60 s")
        cpu0 = [w.cpu_seconds() for w in workers]
        engine.release(key)
        t0 = time.time()
        engine_cpu0 = process_cpu_seconds(cfg.engine_pid)
        t_end = _drain(engine, cfg, key, workers, result, t0)
        engine_cpu1 = process_cpu_seconds(cfg.engine_pid)
        cpu1 = [w.cpu_seconds() for w in workers]
        if result.completed:
            if engine_cpu0 is not None and engine_cpu1 is not None:
                result.engine_cpu_ms_per_task = (engine_cpu1 - engine_cpu0) * 1000 / \
                    result.completed
            spent = [b - a for a, b in zip(cpu0, cpu1, strict=True)
                     if a is not None and b is not None]
            if len(spent) == replicas:
                result.worker_cpu_ms_per_task = sum(spent) * 1000 / result.completed
        _answered(proxy, until=t_end, timeout=10.0)
        count_requests(result, proxy.snapshot(), until=t_end)
        say(f"  K={replicas}: {result.completed}/{cfg.instances} in {result.seconds:.2f}s = "
            f"{result.tasks_per_second:.1f}/s; {result.fetches} fetches, "
            f"{result.tasks_fetched} tasks fetched, {result.short_of_backlog} short, "
            f"{result.handed_back} handed back")
        return result
    except (WorkerExited, httpx.HTTPError) as error:
        result.notes.append(f"failed: {type(error).__name__}: {error}")
        say(f"  K={replicas}: failed: {type(error).__name__}: {error}")
        return result
    finally:
        for worker in workers:  # all at once: ours each wait for their last long poll
            if worker.process is not None and worker.alive():
                worker.process.terminate()
        for worker in workers:
            worker.close()
        proxy.stop()
        try:
            engine.delete_deployment(deployment)
        except httpx.HTTPError as error:
            result.notes.append(f"clean-up failed ({error}); delete deployment {deployment}")


def _drain(engine: Engine, cfg: ReplicasConfig, key: str, workers: Sequence[WorkerProcess],
           result: ReplicasResult, t0: float) -> float:
    """Wait until the engine reports every instance finished (or the cap); return the end."""
    completed, t_end, result.capped = engine.wait_finished(
        key, cfg.instances, since=t0, deadline=t0 + cfg.cap,
        alive=lambda: all(w.alive() for w in workers))
    if result.capped:
        dead = [w for w in workers if not w.alive()]
        result.notes.append(f"capped: {completed}/{cfg.instances} done" + (
            f"; replica exited{dead[0].stderr_tail()}" if dead else ""))
    result.completed = completed
    result.seconds = t_end - t0
    result.tasks_per_second = completed / result.seconds if result.seconds > 0 else 0.0
    return t_end
