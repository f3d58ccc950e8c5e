"""How long a user waits for `workers` commands, as whole processes, beside `copier --help`
and `docker --help` from the same run (bench/README.md, "CLI startup").

    .venv/bin/python bench/cli_startup.py [--rounds 7]

Each command runs ``--rounds`` times, interleaved (so that the machine's load hits all
alike); the median wall time and its ratio to ``copier --help`` are printed.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _commands(before: str | None) -> dict[str, list[str]]:
    workers = str(BIN / "workers")
    commands = {"workers --help": [workers, "--help"], "workers list": [workers, "list"],
                "workers discover": [workers, "discover"]}
    if before:  # another checkout's `workers`, e.g. /work/main/.venv/bin/workers
        commands.update({f"before {name}": [before, *command[1:]]
                         for name, command in list(commands.items())})
    commands["copier --help"] = [str(BIN / "copier"), "--help"]
    docker = shutil.which("docker")
    if docker:
        commands["docker --help"] = [docker, "--help"]
    return commands


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--before", help="Another `workers` executable to compare with.")
    args = parser.parse_args()
    commands = _commands(args.before)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.rounds):
        for name, command in commands.items():
            started = time.perf_counter()
            subprocess.run(command, cwd=REPO, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, check=True)
            times[name].append(time.perf_counter() - started)
    peer = statistics.median(times["copier --help"])
    print(f"{'command':<27} {'median s':>9} {'min s':>7} {'/ copier --help':>16}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<27} {median:>9.3f} {min(values):>7.3f} {median / peer:>16.2f}")


if __name__ == "__main__":
    main()
