#!/usr/bin/env python3
"""Instructions per no-op task of the SDK, counted by callgrind: the same on a busy machine.

A worker (``max_tasks`` 32, a no-op ``async def`` handler) runs in a child process under
``valgrind --tool=callgrind`` against a real engine, fed by looping process instances; it
stops after ``--warm-up`` tasks (1,000) and N more. Two runs, of N = ``--short`` and N =
``--long``, differ by the tasks alone (start-up, imports, warm-up cancel out): their
difference in instructions, divided by ``--long - --short``, is the figure. ``--sdk DIR``
runs the camunda_workers package found in DIR instead (e.g. main's ``sdk/src`` from
``git archive``), for a before/after. User-space instructions only: system calls are not
counted, so this is a floor of the CPU time, not a measure of it.

    python bench/callgrind_sdk.py --engine-url http://localhost:8080/engine-rest [--sdk DIR]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from benchkit.engine import Engine, loop_bpmn

_COLLECTED = re.compile(r"Collected : (\d+)")


def run_worker(url: str, topic: str, tasks: int) -> None:
    """The child: handle ``tasks`` tasks (warm-up included), then stop."""
    from camunda_workers import Task, Worker

    worker = Worker(name="bench", base_url=url, environ={}, max_tasks=32,
                    async_response_timeout_ms=20000, log_level="WARNING")
    done = 0

    @worker.topic(topic)
    async def handle(task: Task) -> None:
        nonlocal done
        done += 1
        if done == tasks:
            worker.stop()

    worker.run()


def instructions(url: str, topic: str, tasks: int, sdk: Path | None) -> int:
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        sys.exit("error: valgrind not found: apt-get install valgrind")
    env = {**os.environ, "PYTHONPATH": str(sdk)} if sdk is not None else None
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            [valgrind, "--tool=callgrind", f"--callgrind-out-file={tmp}/out",
             sys.executable, __file__, "--child", url, topic, str(tasks)],
            env=env, capture_output=True, text=True, check=False)
    found = _COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None:
        sys.exit(f"error: the worker under valgrind failed (exit {done.returncode}): "
                 f"{done.stderr.strip()[-600:]}")
    return int(found.group(1))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        run_worker(argv[1], argv[2], int(argv[3]))
        return 0
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--engine-url", default=os.environ.get(
        "CAMUNDA_URL", "http://localhost:8080/engine-rest"))
    parser.add_argument("--sdk", type=Path, metavar="DIR",
                        help="a folder holding the camunda_workers package to count instead")
    parser.add_argument("--warm-up", type=int, default=1000, help="tasks before, both runs")
    parser.add_argument("--short", type=int, default=300, help="tasks after warm-up, run 1")
    parser.add_argument("--long", type=int, default=3300, help="tasks after warm-up, run 2")
    args = parser.parse_args(argv)
    if args.long <= args.short:
        parser.error("--long must be larger than --short")
    if args.sdk is not None and not (args.sdk / "camunda_workers" / "__init__.py").is_file():
        parser.error(f"--sdk: {args.sdk} holds no camunda_workers package")
    engine = Engine(args.engine_url)
    topic = f"bench_callgrind_{uuid.uuid4().hex[:8]}"
    deployment = engine.deploy(topic, loop_bpmn(topic, topic), "bench/callgrind_sdk.py")
    try:
        engine.start_many(topic, 200)
        short = instructions(engine.url, topic, args.warm_up + args.short, args.sdk)
        long = instructions(engine.url, topic, args.warm_up + args.long, args.sdk)
    finally:
        engine.delete_instances(topic)
        engine.delete_deployment(deployment)
        engine.close()
    per_task = (long - short) / (args.long - args.short)
    print(f"{args.sdk or 'camunda_workers'}: {per_task / 1000:.0f}k instructions per no-op task "
          f"({short:,} for {args.warm_up} + {args.short} tasks, {long:,} for {args.warm_up} + "
          f"{args.long})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
