"""The autoscaler's burst as a picture: load and replicas over time.

Reads the timeline that tests/deploy/test_cluster_autoscale.py writes (load, the service's
replicas and its running tasks, each second; the burst's figures) and draws it:

    python bench/autoscale_plot.py [TIMELINE.json] [OUT.png]

(defaults: bench/results/autoscale-timeline.json, docs/autoscale-burst.png);
``make bench-autoscale`` runs the test, then this.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # a file, no display
import matplotlib.pyplot as plt

ROOT = Path(__file__).resolve().parent.parent


def plot(timeline: dict[str, Any], out: Path) -> None:
    rows, figures = timeline["burst"], timeline["figures"]
    t0 = rows[0]["t"]
    times = [row["t"] - t0 for row in rows]
    figure, load_axis = plt.subplots(figsize=(9, 4.2), dpi=110)
    load_axis.fill_between(times, [row["load"] for row in rows], step="post", alpha=0.25,
                           color="tab:blue", label="load (open + locked tasks)")
    load_axis.set_xlabel("seconds")
    load_axis.set_ylabel("tasks", color="tab:blue")
    replicas_axis = load_axis.twinx()
    replicas_axis.step(times, [row["replicas"] for row in rows], where="post",
                       color="tab:red", linewidth=2, label="replicas (decided)")
    replicas_axis.step(times, [row["running"] for row in rows], where="post",
                       color="tab:orange", linestyle="--", label="replicas running")
    replicas_axis.set_ylabel("replicas", color="tab:red")
    replicas_axis.set_ylim(0, max(row["replicas"] for row in rows) + 1)
    policy = figures["policy"]
    load_axis.set_title(
        f"{figures['instances'] // 2} instances, hello-world min {policy['min_replicas']} max "
        f"{policy['max_replicas']}, {policy['tasks_per_replica']} tasks per replica, a round "
        f"every {figures['interval_s']} s")
    handles = [h for axis in (load_axis, replicas_axis)
               for h in axis.get_legend_handles_labels()[0]]
    load_axis.legend(handles=handles, loc="upper right", fontsize=8)
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out)
    plt.close(figure)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("timeline", nargs="?", type=Path,
                        default=ROOT / "bench" / "results" / "autoscale-timeline.json")
    parser.add_argument("out", nargs="?", type=Path,
                        default=ROOT / "docs" / "autoscale-burst.png")
    args = parser.parse_args(argv)
    if not args.timeline.is_file():
        parser.error(f"{args.timeline}: no timeline; run tests/deploy/test_cluster_autoscale.py "
                     "(make bench-autoscale) first")
    plot(json.loads(args.timeline.read_text()), args.out)
    print(f"{args.out}: written")


if __name__ == "__main__":
    main()
