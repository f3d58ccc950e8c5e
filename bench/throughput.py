#!/usr/bin/env python3
"""Throughput, CPU per task, pick-up latency, idle requests and memory of external-task workers.

Compares camunda_workers with the official JavaScript and Java clients, the Python
library camunda-external-task-client-python3 and a raw keep-alive loop, on the same
engine in one run, on a no-op handler and on one that waits 50 ms. See bench/README.md.

    python bench/throughput.py --engine-url http://localhost:8080/engine-rest
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import sys
import uuid
from collections.abc import Mapping
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import httpx
from benchkit.engine import Engine, EngineUnreachable, connect
from benchkit.phases import BenchConfig, measure_idle, run_soak, run_variant
from benchkit.report import compat_table, details_table, main_table
from benchkit.results import IdleResult, RunResult, SoakResult, combine
from benchkit.variants import VARIANTS, WORKLOADS, BuildError, WorkerConfig
from benchkit.worker_process import WorkerExited


def _names(text: str, known: Mapping[str, object], what: str,
           parser: argparse.ArgumentParser) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    unknown = [n for n in names if n not in known]
    if unknown:
        parser.error(f"unknown {what} {', '.join(unknown)}; choose from {', '.join(known)}")
    return names


def parse_args(argv: list[str] | None) -> tuple[BenchConfig, Path | None]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    add = parser.add_argument
    add("--engine-url", default=os.environ.get("CAMUNDA_URL",
                                               "http://localhost:8080/engine-rest"),
        help="engine REST base URL (default: $CAMUNDA_URL or %(default)s)")
    add("--variants", default=",".join(VARIANTS),
        help="comma-separated subset of: " + ", ".join(VARIANTS))
    add("--workloads", default=",".join(WORKLOADS),
        help="comma-separated subset of: noop (the handler does nothing), wait50 (it waits "
             "50 ms without CPU); default both")
    add("--rounds", type=int, default=1,
        help="run every variant this many times (order rotated each round) and report "
             "medians (default %(default)s)")
    add("--instances", type=int, default=2000,
        help="backlog per variant and workload (default %(default)s)")
    add("--cap", type=float, default=120.0,
        help="max seconds per throughput phase (default %(default)s)")
    add("--latency-instances", type=int, default=200,
        help="instances for the pick-up latency phase, 0 = skip (default %(default)s)")
    add("--latency-rate", type=float, default=20.0,
        help="instances started per second in that phase (default %(default)s)")
    add("--idle-periods", type=int, default=2,
        help="long-poll periods over which idle workers' requests are counted, 0 = skip "
             "(default %(default)s)")
    add("--soak-tasks", default="10000,50000",
        help="worker RSS is read after these many tasks (comma-separated; '' = skip; "
             "default %(default)s)")
    add("--soak-variants", default="camunda_workers",
        help="variants that get the soak (default %(default)s)")
    add("--soak-instances", type=int, default=200,
        help="looping process instances feeding the soak (default %(default)s)")
    add("--soak-cap", type=float, default=900.0,
        help="max seconds of a soak (default %(default)s)")
    add("--warmup", type=int, default=500,
        help="instances run once before measuring, to warm the engine's JIT (default "
             "%(default)s)")
    add("--concurrency", type=int, default=WorkerConfig.concurrency,
        help="handlers in flight: camunda_workers max_tasks, JS maxParallelExecutions, "
             "the async library's maxConcurrentTasks (default %(default)s)")
    add("--batch-size", type=int, default=WorkerConfig.batch_size,
        help="maxTasks per fetchAndLock of the JS, Java and sync library clients and the raw "
             "loop (default %(default)s)")
    add("--async-response-timeout", type=int, default=WorkerConfig.async_response_timeout,
        help="long poll in ms, every variant (default %(default)s)")
    add("--engine-pid", type=int,
        help="pid of a local engine JVM: also report its CPU time per task")
    add("--json", type=Path, metavar="PATH", help="also write results as JSON")
    args = parser.parse_args(argv)
    variants = _names(args.variants, VARIANTS, "variant(s)", parser)
    workloads = _names(args.workloads, WORKLOADS, "workload(s)", parser)
    soak_variants = _names(args.soak_variants, VARIANTS, "variant(s)", parser)
    try:
        soak_tasks = tuple(sorted(int(n) for n in args.soak_tasks.split(",") if n.strip()))
    except ValueError:
        parser.error(f"--soak-tasks: expected numbers like 10000,50000, got {args.soak_tasks!r}")
    if not variants or not workloads:
        parser.error("--variants and --workloads need at least one name each")
    if (args.instances < 1 or args.rounds < 1 or args.latency_rate <= 0
            or args.idle_periods < 0 or any(n < 1 for n in soak_tasks)):
        parser.error("--instances, --rounds and --soak-tasks must be >= 1, --idle-periods "
                     ">= 0, --latency-rate > 0")
    worker = WorkerConfig(concurrency=args.concurrency, batch_size=args.batch_size,
                          async_response_timeout=args.async_response_timeout)
    cfg = BenchConfig(
        engine_url=args.engine_url.rstrip("/"),
        instances=args.instances,
        variants=variants,
        workloads=workloads,
        cap=args.cap,
        latency_instances=args.latency_instances,
        latency_rate=args.latency_rate,
        warmup=args.warmup,
        engine_pid=args.engine_pid,
        rounds=args.rounds,
        idle_periods=args.idle_periods,
        soak_tasks=soak_tasks,
        soak_variants=soak_variants if soak_tasks else (),
        soak_instances=args.soak_instances,
        soak_cap=args.soak_cap,
        worker=worker,
    )
    return cfg, args.json


def say(message: str) -> None:
    print(message, flush=True)


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def run_rounds(engine: Engine, cfg: BenchConfig) -> dict[tuple[str, str], list[RunResult]]:
    rounds: dict[tuple[str, str], list[RunResult]] = {}
    for n in range(cfg.rounds):
        run_id = uuid.uuid4().hex[:8]
        shift = n % len(cfg.variants)
        order = cfg.variants[shift:] + cfg.variants[:shift]
        for workload in cfg.workloads:
            for variant in order:
                if workload not in VARIANTS[variant].workloads:
                    continue
                label = f", round {n + 1}/{cfg.rounds}" if cfg.rounds > 1 else ""
                say(f"== {variant}, {WORKLOADS[workload].title}{label}")
                try:
                    result = run_variant(engine, cfg, variant, workload, run_id, say)
                except (WorkerExited, httpx.HTTPError) as error:
                    say(f"  failed: {type(error).__name__}: {error}")
                    result = RunResult(variant, workload, cfg.instances,
                                       notes=[f"failed: {type(error).__name__}: {error}"])
                rounds.setdefault((variant, workload), []).append(result)
    return rounds


def main(argv: list[str] | None = None) -> int:
    cfg, json_path = parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so that worker processes and deployments are cleaned up.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        for variant in dict.fromkeys(cfg.variants + cfg.soak_variants):
            VARIANTS[variant].prepare()
    except BuildError as error:
        say(f"error: {error}")
        return 2
    try:
        engine, version = connect(cfg.engine_url)
    except EngineUnreachable as error:
        say(f"error: {error}")
        return 2
    try:
        started = datetime.now(UTC)
        say(f"engine {version} at {cfg.engine_url}; {os.cpu_count()} CPUs; Python "
            f"{platform.python_version()}; {cfg.instances} instances per variant and workload; "
            f"load average {load_average()}")
        if cfg.warmup:
            say(f"warm-up: {cfg.warmup} instances (not measured)")
            engine.warm_up(cfg.warmup, cfg.worker.batch_size)
        rounds = run_rounds(engine, cfg)
        idle: list[IdleResult] = []
        if cfg.idle_periods:
            say(f"== idle: every variant in its long poll, {cfg.idle_periods} period(s)")
            idle = measure_idle(cfg, say)
        soak: list[SoakResult] = []
        for variant in cfg.soak_variants:
            say(f"== soak: {variant}, RSS after {', '.join(map(str, cfg.soak_tasks))} tasks")
            try:
                soak.append(run_soak(engine, cfg, variant, say))
            except (WorkerExited, httpx.HTTPError) as error:
                say(f"  failed: {type(error).__name__}: {error}")
                soak.append(SoakResult(variant, notes=[f"failed: {type(error).__name__}: "
                                                       f"{error}"]))
    finally:
        engine.close()

    runs = [combine(rs) for rs in rounds.values()]
    load_after = load_average()
    say("")
    say(main_table(cfg.variants, cfg.workloads, runs, idle, soak))
    say("")
    compat = compat_table(cfg.workloads, runs)
    if compat is not None:
        say(compat)
        say("")
    say(details_table(runs))
    say("")
    say("Settings:")
    for variant in cfg.variants:
        say(f"  {variant}: {VARIANTS[variant].settings(cfg.worker)}")
    if cfg.latency_instances:
        say(f"  pick-up latency: {cfg.latency_instances} instances at {cfg.latency_rate:g}/s into "
            "an idle worker; from sending the start request to the handler's first line")
    say(f"  load average at the end: {load_after} (other processes on the machine skew results)")
    notes = [f"  {r.variant} / {r.workload}: {note}" for r in runs for note in r.notes]
    notes += [f"  {r.variant}: {note}" for r in idle for note in r.notes]
    notes += [f"  {r.variant}: {note}" for r in soak for note in r.notes]
    if notes:
        say("Notes (* = capped):")
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
            "settings": {v: VARIANTS[v].settings(cfg.worker) for v in cfg.variants},
            "results": [asdict(r) for r in runs],
            "rounds": [asdict(r) for rs in rounds.values() for r in rs],
            "idle": [asdict(r) for r in idle],
            "soak": [asdict(r) for r in soak],
        }
        json_path.write_text(json.dumps(document, indent=2) + "\n")
        say(f"wrote {json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
