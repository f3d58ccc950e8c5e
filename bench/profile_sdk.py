#!/usr/bin/env python3
"""Where a worker's CPU goes: py-spy samples a Python variant through N no-op tasks.

Looping process instances (as in the soak of throughput.py) keep the worker saturated;
py-spy attaches to the worker process when it is about to poll and samples it (CPU only:
threads waiting in epoll or on a lock are left out) until N tasks are done. Prints the
self time by package, the top functions by self time and by total time.

    python bench/profile_sdk.py --engine-url http://localhost:8080/engine-rest --tasks 10000
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

from benchkit.engine import Engine, loop_bpmn
from benchkit.report import markdown_table
from benchkit.variants import VARIANTS, WORKLOADS, WorkerConfig
from benchkit.worker_process import WorkerProcess

PYTHON_VARIANTS = ("camunda_workers", "camunda_workers_sync", "raw_keepalive",
                   "ext_task_client_sync", "ext_task_client_async")
# "handle (camunda_workers/_execution.py:42)" -> name, file
_FRAME = re.compile(r"^(?P<name>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")
# Frames where a thread only waits: the event loop in epoll_wait, an idle pool thread
# waiting for work. py-spy's idle detection misses them on these machines (they were a
# third of all samples each), so stacks that end in one are left out: the tables are
# shares of the time the worker computes.
_WAITING = (re.compile(r"^EpollSelector\.select \(selectors\.py(:\d+)?\)$"),
            re.compile(r"^_worker \(concurrent/futures/thread\.py(:\d+)?\)$"))


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        sys.exit("error: py-spy not found: pip install -r bench/requirements.txt")
    return found


def package(frame: str) -> str:
    """The package a py-spy frame belongs to: 'httpcore', 'asyncio', 'camunda_workers' ..."""
    match = _FRAME.match(frame)
    path = match.group("file") if match else frame
    top = path.split("/", 1)[0]
    return top[:-3] if top.endswith(".py") else top


def short(frame: str) -> str:
    match = _FRAME.match(frame)
    return f"{match.group('name')} ({match.group('file')})" if match else frame


def summarize(raw: Path, top: int) -> tuple[int, str]:
    """Samples, and three Markdown tables from a py-spy raw (collapsed stacks) file."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    by_package: Counter[str] = Counter()
    samples = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = stack.split(";")
        if any(waiting.match(frames[-1]) for waiting in _WAITING):
            continue
        samples += count
        own[frames[-1]] += count
        by_package[package(frames[-1])] += count
        for frame in set(frames):
            total[frame] += count
    if not samples:
        return 0, "(no samples)"

    def pct(n: int) -> str:
        return f"{100 * n / samples:.1f}"

    packages = markdown_table([["package (self time)", "%"],
                               *([name, pct(n)] for name, n in by_package.most_common(top))])
    selves = markdown_table([["function (self time)", "%"],
                             *([short(f), pct(n)] for f, n in own.most_common(top))])
    # Frames on (nearly) every stack (<module>, run_forever, ...) say nothing.
    inclusive = [(f, n) for f, n in total.most_common() if n < 0.9 * samples][:top]
    totals = markdown_table([["function (total time, callees included)", "%"],
                             *([short(f), pct(n)] for f, n in inclusive)])
    return samples, f"{packages}\n\n{selves}\n\n{totals}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--engine-url", default=os.environ.get(
        "CAMUNDA_URL", "http://localhost:8080/engine-rest"))
    parser.add_argument("--variant", default="camunda_workers", choices=PYTHON_VARIANTS)
    parser.add_argument("--tasks", type=int, default=10_000,
                        help="no-op tasks to sample (default %(default)s)")
    parser.add_argument("--instances", type=int, default=200,
                        help="looping process instances feeding them (default %(default)s)")
    parser.add_argument("--rate", type=int, default=200, help="samples per second")
    parser.add_argument("--top", type=int, default=20, help="rows per table")
    parser.add_argument("--cap", type=float, default=600.0, help="max seconds")
    parser.add_argument("--raw", type=Path, help="keep py-spy's raw output here")
    args = parser.parse_args(argv)
    spy = py_spy()
    engine = Engine(args.engine_url)
    key = f"bench_profile_{uuid.uuid4().hex[:8]}"
    deployment = engine.deploy(key, loop_bpmn(key, key), "bench/profile_sdk.py")
    command = VARIANTS[args.variant].command(engine.url, key, WorkerConfig(), WORKLOADS["noop"])
    worker = WorkerProcess(args.variant, command)
    with tempfile.TemporaryDirectory() as tmp:
        raw = args.raw or Path(tmp) / "profile.txt"
        try:
            engine.start_many(key, args.instances)
            worker.start()
            sampler = subprocess.Popen(
                [spy, "record", "--pid", str(worker.pid), "--rate", str(args.rate),
                 "--function", "--format", "raw", "--output", str(raw)],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            cpu0, t0 = worker.cpu_seconds(), time.monotonic()
            deadline = t0 + args.cap
            while worker.calls < args.tasks and worker.alive() and time.monotonic() < deadline:
                time.sleep(0.05)
            tasks, seconds, cpu = worker.calls, time.monotonic() - t0, worker.cpu_seconds()
            worker.stop()
            _, errors = sampler.communicate(timeout=60)
        finally:
            worker.close()
            engine.delete_instances(key)
            engine.delete_deployment(deployment)
            engine.close()
        if sampler.returncode != 0 or not raw.exists():
            print(f"error: py-spy failed (exit {sampler.returncode}): {errors.strip()}")
            return 2
        samples, tables = summarize(raw, args.top)
    cpu_text = (f"{(cpu - cpu0) * 1000 / tasks:.2f} ms CPU/task" if cpu is not None
                and cpu0 is not None and tasks else "CPU unknown")
    print(f"{args.variant}: {tasks} no-op tasks in {seconds:.1f}s ({tasks / seconds:.0f}/s, "
          f"{cpu_text} while sampled at {args.rate}/s); {samples} samples\n")
    print(tables)
    return 0 if tasks >= args.tasks else 1


if __name__ == "__main__":
    sys.exit(main())
