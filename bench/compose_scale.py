"""Scale benchmark of the tooling (not a test): 500 workers discovered and composed.

    .venv/bin/python bench/compose_scale.py [--workers 500]

Builds a throw-away repository with N generated workers, then times: discovery and
validation of every worker.json, the first `compose` (from the seed), a second one that
changes nothing, and one after a single worker changed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from workers_tooling import compose_stack, discover_workers

REPO = Path(__file__).resolve().parents[1]
T = TypeVar("T")


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
                "environment": {"SMTP_HOST": "${SMTP_HOST:-localhost}", "FEATURE": "on"},
                "secrets": ["camunda_password"] if n % 2 else []}
        (folder / "worker.json").write_text(json.dumps(spec, indent=2) + "\n")
        (folder / "main.py").write_text("")


def timed(label: str, action: Callable[[], T]) -> T:
    started = time.perf_counter()
    result = action()
    print(f"{label:<40} {time.perf_counter() - started:7.2f} s")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=500)
    count = parser.parse_args().workers
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        build_repo(root, count)
        workers = timed(f"discover + validate {count} workers", lambda: discover_workers(root))
        assert isinstance(workers, list)
        assert len(workers) == count
        timed("compose, first run (from the seed)", lambda: compose_stack(root))
        stack = root / "docker-compose.swarm.yml"
        size = stack.stat().st_size
        result = timed("compose, second run (nothing to do)", lambda: compose_stack(root))
        assert not result.changed
        spec_path = root / "workers/worker-0250/worker.json"
        spec = json.loads(spec_path.read_text())
        spec["replicas"] = 7
        spec_path.write_text(json.dumps(spec))
        result = timed("compose, one worker changed", lambda: compose_stack(root))
        assert result.updated == ("worker-0250",)
        timed("compose --check (current)", lambda: compose_stack(root, check=True))
        print(f"stack file: {size / 1e6:.1f} MB, {len(stack.read_text().splitlines())} lines")


if __name__ == "__main__":
    main()
