#!/usr/bin/env python3
"""Which HTTP client, JSON codec and fetch strategy for the SDK: CPU per request and throughput.

Each combination runs the same minimal async worker loop (benchkit/drive.py) in a child
process against the real engine's fetchAndLock and complete endpoints, through a backlog
of instances that carry typical variables, with a bounded keep-alive pool. Ratios are to
the first combination (httpx + stdlib json: the SDK's stack today). See bench/README.md.

    python bench/transport_choice.py --engine-url http://localhost:8080/engine-rest
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Any

from benchkit.drive import STRATEGIES, DriveSpec, run
from benchkit.engine import Engine, one_task_bpmn
from benchkit.report import markdown_table
from benchkit.transports import CLIENTS, CODECS, LOOPS

# Ten variables of the kinds process variables usually are (~1 KB per task as JSON).
PAYLOAD: dict[str, dict[str, Any]] = {
    "customerId": {"value": "C-000123456", "type": "String"},
    "orderId": {"value": "O-2026-000987654", "type": "String"},
    "email": {"value": "someone@example.org", "type": "String"},
    "note": {"value": "lorem ipsum dolor sit amet " * 8, "type": "String"},
    "amount": {"value": 1234.56, "type": "Double"},
    "quantity": {"value": 3, "type": "Integer"},
    "priority": {"value": 2, "type": "Long"},
    "express": {"value": True, "type": "Boolean"},
    "items": {"value": json.dumps([{"sku": f"SKU-{i:04d}", "qty": i} for i in range(5)]),
              "type": "Json"},
    "address": {"value": json.dumps({"street": "Rua Augusta 100", "city": "Lisboa",
                                     "zip": "1100-053", "country": "PT"}), "type": "Json"},
}


def _names(text: str, known: tuple[str, ...], what: str,
           parser: argparse.ArgumentParser) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        parser.error(f"{what}: unknown or none {', '.join(unknown)}; choose from "
                     f"{', '.join(known)}")
    return names


def child(spec_json: str) -> int:
    spec = DriveSpec(**json.loads(spec_json))
    print(json.dumps(asdict(run(spec))), flush=True)
    # pyreqwest 0.15's runtime threads can abort the interpreter's finalization
    # ("PyGILState_Release: thread state ... must be current"); the result is out.
    os._exit(0)


def run_one(engine: Engine, spec: DriveSpec, variables: dict[str, Any],
            timeout: float) -> dict[str, Any]:
    """Deploy, start the backlog, run the combination in a child process, clean up."""
    key = f"transport_{uuid.uuid4().hex[:10]}"
    deployment = engine.deploy(key, one_task_bpmn(key, key), "bench/transport_choice.py")
    try:
        engine.start_many(key, spec.tasks, variables)
        spec = DriveSpec(**{**asdict(spec), "topic": key})
        result = subprocess.run(
            [sys.executable, __file__, "--child", json.dumps(asdict(spec))],
            capture_output=True, text=True, timeout=timeout, check=False)
        if result.returncode != 0:
            tail = "\n    ".join(result.stderr.strip().splitlines()[-8:])
            return {"error": f"exit {result.returncode}\n    {tail}"}
        return dict(json.loads(result.stdout.strip().splitlines()[-1]))
    except subprocess.TimeoutExpired:
        return {"error": f"no result within {timeout:.0f}s"}
    finally:
        engine.delete_deployment(deployment)


def measure(engine: Engine, specs: list[DriveSpec], rounds: int, variables: dict[str, Any],
            timeout: float) -> list[dict[str, Any]]:
    """Every spec ``rounds`` times (order rotated); medians of rate and CPU figures."""
    samples: dict[int, list[dict[str, Any]]] = {i: [] for i in range(len(specs))}
    for n in range(rounds):
        order = list(range(len(specs)))
        order = order[n % len(order):] + order[:n % len(order)]
        for i in order:
            spec = specs[i]
            result = run_one(engine, spec, variables, timeout)
            label = _label(spec)
            if "error" in result:
                print(f"  {label}: FAILED {result['error']}", flush=True)
                continue
            requests = result["fetches"] + result["completes"]
            result["tasks_per_second"] = result["tasks"] / result["seconds"]
            result["cpu_us_per_request"] = result["cpu_seconds"] * 1e6 / requests
            result["cpu_ms_per_task"] = result["cpu_seconds"] * 1e3 / result["tasks"]
            result["fetches_per_100_tasks"] = 100 * result["fetches"] / result["tasks"]
            samples[i].append(result)
            print(f"  {label}: {result['tasks_per_second']:.1f} tasks/s, "
                  f"{result['cpu_us_per_request']:.0f} us CPU/request, "
                  f"{result['fetches']} fetches", flush=True)
    combined = []
    for i, spec in enumerate(specs):
        rows = samples[i]
        entry: dict[str, Any] = {"spec": asdict(spec), "label": _label(spec),
                                 "rounds": rows}
        for field in ("tasks_per_second", "cpu_us_per_request", "cpu_ms_per_task",
                      "fetches_per_100_tasks", "queue_wait_p95_ms", "queue_wait_max_ms"):
            entry[field] = statistics.median(r[field] for r in rows) if rows else None
        combined.append(entry)
    return combined


def _label(spec: DriveSpec) -> str:
    loop = "" if spec.loop == "asyncio" else f" + {spec.loop}"
    how = "" if spec.strategy == "free" and not spec.wait_ms else (
        f" ({spec.strategy}, {spec.wait_ms} ms handler)")
    return f"{spec.client} + {spec.codec}{loop}{how}"


def _ratio(value: float | None, base: float | None) -> str:
    return "-" if value is None or not base else f"{value / base:.2f}"


def transport_table(rows: list[dict[str, Any]]) -> str:
    base = rows[0]
    table = [["client + JSON codec", "tasks/s", "x first", "CPU us/request", "x first",
              "CPU ms/task"]]
    for r in rows:
        ok = r["tasks_per_second"] is not None
        table.append([
            r["label"],
            f"{r['tasks_per_second']:.1f}" if ok else "failed",
            _ratio(r["tasks_per_second"], base["tasks_per_second"]),
            f"{r['cpu_us_per_request']:.0f}" if ok else "-",
            _ratio(r["cpu_us_per_request"], base["cpu_us_per_request"]),
            f"{r['cpu_ms_per_task']:.2f}" if ok else "-",
        ])
    return markdown_table(table)


def strategy_table(rows: list[dict[str, Any]]) -> str:
    table = [["strategy / handler", "tasks/s", "CPU ms/task", "fetches per 100 tasks",
              "queue wait p95 ms", "queue wait max ms"]]
    for r in rows:
        spec = r["spec"]
        ok = r["tasks_per_second"] is not None
        handler = f"{spec['wait_ms']} ms wait" if spec["wait_ms"] else "no-op"
        table.append([
            f"{spec['strategy']} / {handler}",
            f"{r['tasks_per_second']:.1f}" if ok else "failed",
            f"{r['cpu_ms_per_task']:.2f}" if ok else "-",
            f"{r['fetches_per_100_tasks']:.1f}" if ok else "-",
            f"{r['queue_wait_p95_ms']:.1f}" if ok else "-",
            f"{r['queue_wait_max_ms']:.1f}" if ok else "-",
        ])
    return markdown_table(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    add = parser.add_argument
    add("--child", help=argparse.SUPPRESS)
    add("--engine-url", default=os.environ.get("CAMUNDA_URL",
                                               "http://localhost:8080/engine-rest"),
        help="engine REST base URL (default: $CAMUNDA_URL or %(default)s)")
    add("--clients", default=",".join(CLIENTS), help="comma-separated: " + ", ".join(CLIENTS))
    add("--codecs", default=",".join(CODECS), help="comma-separated: " + ", ".join(CODECS))
    add("--loops", default="asyncio", help="comma-separated: " + ", ".join(LOOPS))
    add("--tasks", type=int, default=1000, help="backlog per combination (default %(default)s)")
    add("--rounds", type=int, default=2, help="rounds, medians reported (default %(default)s)")
    add("--concurrency", type=int, default=32,
        help="handlers in flight; the pool has 2 more connections (default %(default)s)")
    add("--variables", type=int, default=len(PAYLOAD),
        help=f"variables per instance, 0-{len(PAYLOAD)} (default %(default)s)")
    add("--strategies", default=",".join(STRATEGIES),
        help="fetch strategies compared on the stack given by --strategy-stack, '' = skip")
    add("--strategy-stack", default="httpx,json,asyncio", metavar="CLIENT,CODEC,LOOP",
        help="stack for the strategy comparison (default %(default)s)")
    add("--batch-size", type=int, default=100,
        help="maxTasks of the batch strategy (default %(default)s)")
    add("--warmup", type=int, default=300,
        help="instances run once before measuring, to warm the engine's JIT (default "
             "%(default)s)")
    add("--timeout", type=float, default=300, help="seconds per combination (default %(default)s)")
    add("--json", type=Path, metavar="PATH", help="also write results as JSON")
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child)
    clients = _names(args.clients, tuple(CLIENTS), "--clients", parser)
    codecs = _names(args.codecs, tuple(CODECS), "--codecs", parser)
    loops = _names(args.loops, LOOPS, "--loops", parser)
    strategies = (_names(args.strategies, STRATEGIES, "--strategies", parser)
                  if args.strategies else ())
    stack = args.strategy_stack.split(",")
    if len(stack) != 3 or stack[0] not in CLIENTS or stack[1] not in CODECS or \
            stack[2] not in LOOPS:
        parser.error("--strategy-stack: expected CLIENT,CODEC,LOOP, e.g. aiohttp,orjson,asyncio")
    if args.tasks < 1 or args.rounds < 1 or not 0 <= args.variables <= len(PAYLOAD):
        parser.error(f"--tasks and --rounds must be >= 1, --variables 0-{len(PAYLOAD)}")
    variables = dict(list(PAYLOAD.items())[:args.variables])
    url = args.engine_url.rstrip("/")
    common = {"url": url, "topic": "", "tasks": args.tasks, "concurrency": args.concurrency,
              "batch_size": args.batch_size}
    transports = [DriveSpec(client=c, codec=j, loop=lp, **common)
                  for lp in loops for c in clients for j in codecs]
    strategy_specs = [DriveSpec(client=stack[0], codec=stack[1], loop=stack[2], strategy=s,
                                wait_ms=w, **common)
                      for w in (0, 50) for s in strategies]
    engine = Engine(url)
    try:
        print(f"engine {engine.version()} at {url}; {args.tasks} tasks per combination with "
              f"{args.variables} variables each; {args.rounds} round(s); load average "
              f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
        if args.warmup:
            engine.warm_up(args.warmup)
        print("== clients and JSON codecs (strategy: free slots, no-op handler)", flush=True)
        transport_rows = measure(engine, transports, args.rounds, variables, args.timeout)
        strategy_rows: list[dict[str, Any]] = []
        if strategy_specs:
            print(f"== fetch strategies on {' + '.join(stack)}", flush=True)
            strategy_rows = measure(engine, strategy_specs, args.rounds, variables,
                                    args.timeout)
    finally:
        engine.close()
    print()
    print(transport_table(transport_rows))
    if strategy_rows:
        print()
        print(strategy_table(strategy_rows))
    print(f"\nload average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.json:
        args.json.write_text(json.dumps({"transports": transport_rows,
                                         "strategies": strategy_rows}, indent=2) + "\n")
        print(f"wrote {args.json}")
    failed = [r["label"] for r in [*transport_rows, *strategy_rows]
              if r["tasks_per_second"] is None]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
