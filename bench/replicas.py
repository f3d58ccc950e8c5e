#!/usr/bin/env python3
"""Many replicas, one engine: what K processes of one worker cost the engine per task.

For every workload, every K and every variant: K replicas start idle in their long polls,
each behind its own port of one counting relay; a backlog held at a message is released
at once; they are timed through it. The engine's side is counted at the relay (fetches,
tasks fetched, tasks handed back, answers cut short by lock conflicts), its CPU is read
from /proc. See bench/README.md.

    python bench/replicas.py --engine-url http://localhost:8080/engine-rest --engine-pid PID
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import sys
import uuid
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from benchkit.engine import EngineUnreachable, connect
from benchkit.replicas import BASELINE, ReplicasConfig, ReplicasResult, run_replicas
from benchkit.report import markdown_table
from benchkit.variants import VARIANTS, WORKLOADS, BuildError, WorkerConfig

DEFAULT_VARIANTS = "camunda_workers,js_client"


def _names(text: str, known: Sequence[str], what: str,
           parser: argparse.ArgumentParser) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        parser.error(f"unknown {what} {', '.join(unknown) or '(none given)'}; choose from "
                     f"{', '.join(known)}")
    return names


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    add = parser.add_argument
    add("--engine-url", default=os.environ.get("CAMUNDA_URL",
                                               "http://localhost:8080/engine-rest"),
        help="engine REST base URL, http:// (default: $CAMUNDA_URL or %(default)s)")
    add("--replicas", default="1,4,12,24",
        help="comma-separated numbers of replicas (default %(default)s)")
    add("--variants", default=DEFAULT_VARIANTS,
        help=f"comma-separated subset of: {', '.join(VARIANTS)} (default %(default)s)")
    add("--workloads", default=",".join(WORKLOADS),
        help="comma-separated subset of: noop, wait50 (default both)")
    add("--instances", type=int, default=4000,
        help="backlog per variant, workload and K (default %(default)s)")
    add("--cap", type=float, default=120.0,
        help="max seconds per run (default %(default)s)")
    add("--concurrency", type=int, default=WorkerConfig.concurrency,
        help="handlers in flight per replica: our max_tasks, JS maxParallelExecutions "
             "(default %(default)s)")
    add("--batch-size", type=int, default=WorkerConfig.batch_size,
        help="the JS client's maxTasks (default %(default)s)")
    add("--async-response-timeout", type=int, default=WorkerConfig.async_response_timeout,
        help="long poll in ms, every variant (default %(default)s)")
    add("--baseline-sdk", type=Path, metavar="DIR",
        help=f"also run {BASELINE}: camunda_workers with the camunda_workers package found "
             "in DIR (e.g. main's sdk/src from `git archive`), for before/after in one run")
    add("--engine-pid", type=int, help="pid of a local engine JVM: report its CPU per task")
    add("--json", type=Path, metavar="PATH", help="also write results as JSON")
    args = parser.parse_args(argv)
    args.variants = _names(args.variants, list(VARIANTS), "variant(s)", parser)
    args.workloads = _names(args.workloads, list(WORKLOADS), "workload(s)", parser)
    try:
        args.replicas = tuple(dict.fromkeys(int(n) for n in args.replicas.split(",")
                                            if n.strip()))
    except ValueError:
        parser.error(f"--replicas: expected numbers like 1,4,12, got {args.replicas!r}")
    if not args.replicas or min(args.replicas) < 1 or args.instances < 1:
        parser.error("--replicas and --instances must be numbers >= 1")
    if args.baseline_sdk is not None:
        if not (args.baseline_sdk / "camunda_workers" / "__init__.py").is_file():
            parser.error(f"--baseline-sdk: {args.baseline_sdk} holds no camunda_workers "
                         "package (expected DIR/camunda_workers/__init__.py)")
        args.variants = (*args.variants, BASELINE)
    if not args.engine_url.startswith("http://"):
        parser.error("--engine-url: the relay counts plain http:// requests only")
    return args


def say(message: str) -> None:
    print(message, flush=True)


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def _ratio(value: float | None, reference: float | None) -> str:
    if value is None or not reference:
        return "-"
    return f"{value / reference:.2f}"


def _spread(result: ReplicasResult) -> str:
    """Fewest and most tasks of one replica, as shares of an even split."""
    if not result.completes or not result.per_replica:
        return "-"
    fair = result.completes / len(result.per_replica)
    return f"{min(result.per_replica) / fair:.2f}-{max(result.per_replica) / fair:.2f}"


def replicas_table(results: Sequence[ReplicasResult]) -> str:
    """One row per workload, K and variant; ratios against K = 1 and the JS client."""
    by = {(r.variant, r.workload, r.replicas): r for r in results}
    rows = [["workload / K / variant", "tasks/s", "x K=1", "x JS", "engine CPU ms/task",
             "x K=1", "x JS", "worker CPU ms/task", "fetches/task", "x JS", "tasks/fetch",
             "empty fetches", "short of backlog", "handed back/task", "unlocks",
             "error answers", "spread"]]
    for r in results:
        one = by.get((r.variant, r.workload, 1))
        js = by.get(("js_client", r.workload, r.replicas))
        fetches = r.per_task(r.fetches)
        rows.append([
            f"{WORKLOADS[r.workload].title} / {r.replicas} / {r.variant}",
            f"{r.tasks_per_second:.1f}" + ("*" if r.capped else ""),
            _ratio(r.tasks_per_second, one.tasks_per_second if one else None),
            _ratio(r.tasks_per_second, js.tasks_per_second if js else None),
            _fmt(r.engine_cpu_ms_per_task),
            _ratio(r.engine_cpu_ms_per_task, one.engine_cpu_ms_per_task if one else None),
            _ratio(r.engine_cpu_ms_per_task, js.engine_cpu_ms_per_task if js else None),
            _fmt(r.worker_cpu_ms_per_task),
            _fmt(fetches, ".3f"),
            _ratio(fetches, js.per_task(js.fetches) if js else None),
            _fmt(r.tasks_fetched / r.fetches if r.fetches else None, ".1f"),
            str(r.empty_fetches),
            str(r.short_of_backlog),
            _fmt(r.per_task(r.handed_back), ".3f"),
            str(r.unlocks),
            str(sum(r.error_answers.values())),
            _spread(r),
        ])
    return markdown_table(rows)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        for variant in args.variants:
            if variant != BASELINE:
                VARIANTS[variant].prepare()
    except BuildError as error:
        say(f"error: {error}")
        return 2
    worker = WorkerConfig(concurrency=args.concurrency, batch_size=args.batch_size,
                          async_response_timeout=args.async_response_timeout)
    cfg = ReplicasConfig(engine_url=args.engine_url.rstrip("/"), instances=args.instances,
                         cap=args.cap, engine_pid=args.engine_pid, worker=worker,
                         baseline_sdk=str(args.baseline_sdk.resolve()) if args.baseline_sdk
                         else None)
    try:
        engine, version = connect(cfg.engine_url)
    except EngineUnreachable as error:
        say(f"error: {error}")
        return 2
    results: list[ReplicasResult] = []
    started = datetime.now(UTC)
    load_before = load_average()
    try:
        say(f"engine {version}; {os.cpu_count()} CPUs; Python {platform.python_version()}; "
            f"{cfg.instances} instances per run; load average {load_before}")
        run_id = uuid.uuid4().hex[:8]
        for workload in args.workloads:
            for replicas in args.replicas:
                for variant in args.variants:
                    say(f"== {WORKLOADS[workload].title}, K={replicas}, {variant} "
                        f"(load average {load_average()})")
                    results.append(run_replicas(engine, cfg, variant, workload, replicas,
                                                run_id, say))
                    if args.json is not None:  # after every run: a long run stopped keeps
                        _write_json(args.json, started, version, [load_before, load_average()],
                                    cfg, results)
    finally:
        engine.close()
    load_after = load_average()
    say("")
    say(replicas_table(results))
    say("")
    say(f"load average: {load_before} at the start, {load_after} at the end")
    notes = [f"  {r.workload} / {r.replicas} / {r.variant}: {note}"
             for r in results for note in r.notes]
    errors = [f"  {r.workload} / {r.replicas} / {r.variant}: {kind} x{n}"
              for r in results for kind, n in r.error_answers.items()]
    for title, lines in (("Error answers:", errors), ("Notes (* = capped):", notes)):
        if lines:
            say(title)
            for line in lines:
                say(line)
    if args.json is not None:
        _write_json(args.json, started, version, [load_before, load_after], cfg, results)
        say(f"wrote {args.json}")
    return 0


def _write_json(path: Path, started: datetime, version: str, load: list[str],
                cfg: ReplicasConfig, results: Sequence[ReplicasResult]) -> None:
    document = {"date": started.isoformat(timespec="seconds"), "engine_version": version,
                "load_average": load, "config": asdict(cfg),
                "results": [asdict(r) for r in results]}
    path.write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
