"""Scale benchmark of the tooling (not a test): discovery and compose for many workers.

    .venv/bin/python bench/compose_scale.py                      # 100, 500, 1000, 2000
    .venv/bin/python bench/compose_scale.py --workers 1000 --json out.json

For each size N it builds a throw-away repository of N workers (each a worker.json and a
main.py with one handler, as the template makes them) and times, in one process:

* discovery and validation of every worker.json, with the static read of each main.py;
* the first ``compose`` (from the seed), a second one that changes nothing (and must
  write nothing: the file's modification time and inode are compared), one after a
  single worker changed, and ``compose --check``;
* the peer: the same no-change run through ruamel.yaml's whole-file round trip (what
  ``compose`` did before it spliced, and still does where a worker service uses merge
  keys), on the same file in the same run.

Each size runs in a process of its own. Each figure is the median of ``--repeat`` runs
(default 5; the JSON output keeps every run). The table shows seconds, milliseconds per
worker (flat when the cost grows linearly) and the round trip's time as a multiple of
the splice's; the load average of the machine before and after is printed with it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workers_tooling import compose_stack, discover_workers
from workers_tooling.stackfile import build_service, check_depends_on, roundtrip
from workers_tooling.swarm import ImageNames

REPO = Path(__file__).resolve().parents[1]
MAIN = '''"""worker-{n}: made for the benchmark."""

from pathlib import Path
from typing import Any

from camunda_workers import Task, Worker

worker = Worker.from_spec(Path(__file__).with_name("worker.json"))


@worker.topic("topic_{n}", variables=["name"])
def handle(task: Task) -> dict[str, Any]:
    """Greet whoever the process names."""
    name = task.variables.get("name") or "world"
    return {{"greeting": f"Hello, {{name}}!"}}


if __name__ == "__main__":
    worker.run()
'''


def build_repo(root: Path, count: int) -> None:
    (root / "sdk").mkdir()
    (root / "deploy").mkdir()
    shutil.copy(REPO / "deploy/stack.seed.yml", root / "deploy/stack.seed.yml")
    for n in range(count):
        name = f"worker-{n:04d}"
        folder = root / "workers" / name
        folder.mkdir(parents=True)
        spec = {"$schema": "../worker.schema.json", "name": name, "version": "1.0.0",
                "port": 10_000 + n, "topics": [f"topic_{n:04d}"], "replicas": 1 + n % 3,
                "environment": {"SMTP_HOST": "${REGISTRY:-localhost}", "FEATURE": "on"},
                "secrets": ["camunda_password"] if n % 2 else []}
        (folder / "worker.json").write_text(json.dumps(spec, indent=2) + "\n")
        (folder / "main.py").write_text(MAIN.format(n=f"{n:04d}"))


RUNS: dict[str, list[float]] = {}
CPU: dict[str, float] = {}


def timed(action: Callable[[], Any], repeat: int, label: str = "") -> tuple[float, Any]:
    """Median seconds of ``repeat`` runs, and the last result (the median CPU seconds of
    this process go to ``CPU``: on a busy machine they move less than the wall clock)."""
    seconds = []
    cpu = []
    result = None
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        result = action()
        seconds.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    if label:
        RUNS[label] = seconds
        CPU[label] = statistics.median(cpu)
    return statistics.median(seconds), result


def peer_no_change(root: Path) -> None:
    """The no-change run through the whole-file round trip (discovery included)."""
    workers = discover_workers(root)
    images = ImageNames()
    generated = {w.name: build_service(w, image=images.image(w.name, w.spec.version))
                 for w in workers}
    text = (root / "docker-compose.swarm.yml").read_text()
    secrets = sorted({s for w in workers for s in w.spec.secrets})
    outcome = roundtrip(text, source="stack", generated=generated, secrets=secrets)
    check_depends_on(workers, outcome.services, "stack", outcome.text)
    assert outcome.text == text


def measure(count: int, repeat: int, peer: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        build_repo(root, count)
        stack = root / "docker-compose.swarm.yml"
        figures: dict[str, Any] = {"workers": count}
        RUNS.clear()
        CPU.clear()
        figures["discover"], workers = timed(lambda: discover_workers(root), repeat, "discover")
        assert len(workers) == count

        def first() -> Any:
            stack.unlink(missing_ok=True)
            return compose_stack(root, remember=False)

        figures["first"], result = timed(first, repeat, "first")
        assert result.method == "splice"
        before = os.stat(stack)
        # remember=False: each run composes (a remembered no-change run would answer at once)
        figures["no_change"], result = timed(lambda: compose_stack(root, remember=False),
                                             repeat, "no_change")
        after = os.stat(stack)
        assert not result.changed
        assert (before.st_mtime_ns, before.st_ino) == (after.st_mtime_ns, after.st_ino)
        figures["wrote_on_no_change"] = False
        spec_path = root / f"workers/worker-{count // 2:04d}/worker.json"
        spec = json.loads(spec_path.read_text())

        def one_changed() -> Any:
            spec["replicas"] = 7 if spec["replicas"] != 7 else 8
            spec_path.write_text(json.dumps(spec))
            return compose_stack(root, remember=False)

        figures["one_changed"], result = timed(one_changed, repeat, "one_changed")
        assert result.updated == (f"worker-{count // 2:04d}",)
        figures["check"], result = timed(
            lambda: compose_stack(root, check=True, remember=False), repeat, "check")
        assert not result.changed
        figures["stack_lines"] = len(stack.read_text().splitlines())
        figures["stack_mb"] = round(stack.stat().st_size / 1e6, 2)
        if peer:
            figures["round_trip_no_change"], _ = timed(lambda: peer_no_change(root), 1)
        figures["runs"] = {label: [round(x, 4) for x in runs] for label, runs in RUNS.items()}
        figures["cpu"] = {label: round(seconds, 4) for label, seconds in CPU.items()}
        return figures


def table(rows: list[dict[str, Any]]) -> str:
    head = ("| workers | lines | discover s | first s | no change s | one changed s | "
            "check s | ms/worker (first) | ms/worker (no change) | round trip s | "
            "x splice |")
    lines = [head, "|" + "|".join("---" for _ in head.split("|")[1:-1]) + "|"]
    for row in rows:
        peer = row.get("round_trip_no_change")
        lines.append(
            f"| {row['workers']} | {row['stack_lines']} | {row['discover']:.3f} | "
            f"{row['first']:.3f} | {row['no_change']:.3f} | {row['one_changed']:.3f} | "
            f"{row['check']:.3f} | {1000 * row['first'] / row['workers']:.2f} | "
            f"{1000 * row['no_change'] / row['workers']:.2f} | "
            + (f"{peer:.2f} | {peer / row['no_change']:.0f} |" if peer else "- | - |"))
    lines += ["", "CPU seconds of the process (medians):", "",
              "| workers | discover | first | no change | one changed | check |",
              "|---|---|---|---|---|---|"]
    for row in rows:
        cpu = row["cpu"]
        lines.append(f"| {row['workers']} | {cpu['discover']:.3f} | {cpu['first']:.3f} | "
                     f"{cpu['no_change']:.3f} | {cpu['one_changed']:.3f} | {cpu['check']:.3f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--workers", default="100,500,1000,2000",
                        help="comma-separated sizes (default 100,500,1000,2000)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per figure (median)")
    parser.add_argument("--no-peer", action="store_true", help="skip the round-trip peer")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # a size, in this process
    options = parser.parse_args()
    if options.one:
        print(json.dumps(measure(options.one, options.repeat, peer=not options.no_peer)))
        return
    rows = []
    load = os.getloadavg()[0]
    for count in (int(size) for size in options.workers.split(",")):
        # each size in a fresh process: no garbage or caches of the previous one
        command = [sys.executable, __file__, "--one", str(count), "--repeat",
                   str(options.repeat), *(["--no-peer"] if options.no_peer else [])]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(f"{count} workers done", flush=True)
    print(f"load average {load:.1f} before, {os.getloadavg()[0]:.1f} after; "
          f"{os.cpu_count()} CPUs; Python {platform.python_version()}")
    print(table(rows))
    if options.json:
        options.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
