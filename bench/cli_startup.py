"""How long a user waits for `workers` commands, as whole processes, beside `copier --help`
and `docker --help` from the same run (bench/README.md, "CLI startup").

    .venv/bin/python bench/cli_startup.py [--rounds 7] [--compose-workers 1000]
        [--before OTHER-CHECKOUT/.venv/bin/workers] [--cold]

Each command runs ``--rounds`` times, interleaved (so that the machine's load hits all
alike); the median and the least wall time, the median's ratio to ``copier --help``, and
the median and least CPU time (user + system, of the child: on a loaded machine it moves
less than the wall time) are printed, with the load average before and after. ``workers
compose`` runs on a throw-away repository of ``--compose-workers`` workers (built as
``compose_scale.py`` builds them, composed once before the rounds): each timed run changes
nothing, as when a user re-runs it with no worker changed.

Each ``workers`` (this checkout's, ``--before``'s) keeps its caches in a folder of its own
(``XDG_CACHE_HOME``), kept across the rounds, as a user's are; ``--cold`` adds this
checkout's commands with ``WORKERS_NO_CACHE=1``: what the first run after a change costs.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from compose_scale import build_repo

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


Command = tuple[list[str], dict[str, str]]  # the command, its environment


def _commands(before: str | None, compose_repo: Path | None, scratch: Path,
              cold: bool) -> dict[str, Command]:
    workers = str(BIN / "workers")
    ours = {"workers --help": [workers, "--help"], "workers list": [workers, "list"],
            "workers discover": [workers, "discover"]}
    if compose_repo is not None:
        ours["workers compose (no change)"] = [workers, "compose", "--repo", str(compose_repo)]

    def cache(name: str) -> dict[str, str]:
        return {**os.environ, "XDG_CACHE_HOME": str(scratch / "caches" / name)}

    commands: dict[str, Command] = {name: (command, cache("after"))
                                    for name, command in ours.items()}
    if cold:
        commands.update({f"{name} (no cache)": (command, {**cache("after"),
                                                          "WORKERS_NO_CACHE": "1"})
                         for name, command in ours.items() if name != "workers --help"})
    if before:  # another checkout's `workers`, e.g. /work/main/.venv/bin/workers
        commands.update({f"before {name}": ([before, *command[1:]], cache("before"))
                         for name, command in ours.items()})
    commands["copier --help"] = ([str(BIN / "copier"), "--help"], dict(os.environ))
    docker = shutil.which("docker")
    if docker:
        commands["docker --help"] = ([docker, "--help"], dict(os.environ))
    return commands


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--before", help="Another `workers` executable to compare with.")
    parser.add_argument("--compose-workers", type=int, default=1000,
                        help="Workers in the repository of `workers compose` (0: skip it).")
    parser.add_argument("--cold", action="store_true",
                        help="Also time this checkout's commands with no cache.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cli-startup-") as scratch:
        compose_repo = None
        if args.compose_workers:
            compose_repo = Path(scratch) / "repo"
            compose_repo.mkdir()
            build_repo(compose_repo, args.compose_workers)
            subprocess.run([str(BIN / "workers"), "compose", "--repo", str(compose_repo)],
                           stdout=subprocess.DEVNULL, check=True)
        _run(_commands(args.before, compose_repo, Path(scratch), args.cold), args.rounds)


def _run(commands: dict[str, Command], rounds: int) -> None:
    times: dict[str, list[float]] = {name: [] for name in commands}
    cpu: dict[str, list[float]] = {name: [] for name in commands}
    load = os.getloadavg()
    for _ in range(rounds):
        for name, (command, environ) in commands.items():
            started, started_cpu = time.perf_counter(), _children_cpu()
            subprocess.run(command, cwd=REPO, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, check=True, env=environ)
            times[name].append(time.perf_counter() - started)
            cpu[name].append(_children_cpu() - started_cpu)
    peer = statistics.median(times["copier --help"])
    print(f"{rounds} rounds; load average {load[0]:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after")
    print(f"{'command':<46} {'median s':>9} {'min s':>7} {'/ copier --help':>16} "
          f"{'CPU s':>6} {'min CPU s':>10}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<46} {median:>9.3f} {min(values):>7.3f} {median / peer:>16.2f} "
              f"{statistics.median(cpu[name]):>6.3f} {min(cpu[name]):>10.3f}")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    main()
