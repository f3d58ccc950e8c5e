"""The tables: one row per variant with ratios to the reference clients, then details."""

from __future__ import annotations

from collections.abc import Sequence

from .results import IdleResult, RunResult, SoakResult
from .variants import WORKLOADS

__all__ = ["COMPAT_PAIRS", "REFERENCES", "compat_table", "details_table", "main_table",
           "markdown_table"]

# Every row's throughput is divided by these (same workload, same run), where they ran.
REFERENCES: tuple[tuple[str, str], ...] = (
    ("js_client", "JS"), ("java_client", "Java"), ("raw_keepalive", "raw"))


# The same handler through camunda_workers.compat, that library's own worker running it,
# and our native worker of the same handler model (sync in threads, or async).
COMPAT_PAIRS: tuple[tuple[str, str, str], ...] = (
    ("camunda_workers_compat", "ext_task_client_sync", "camunda_workers_sync"),
    ("camunda_workers_compat_async", "ext_task_client_async", "camunda_workers"),
)


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def _ratio(result: RunResult | None, reference: RunResult | None) -> str:
    if result is None or reference is None or reference.tasks_per_second <= 0:
        return "-"
    return f"{result.tasks_per_second / reference.tasks_per_second:.2f}"


def markdown_table(rows: Sequence[Sequence[str]]) -> str:
    """Aligned Markdown: first column left, the others right."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cells = [cell.ljust(w) if i == 0 else cell.rjust(w)
                 for i, (cell, w) in enumerate(zip(row, widths, strict=True))]
        lines.append("| " + " | ".join(cells) + " |")
        if n == 0:
            lines.append("|" + "|".join(
                "-" * (w + 1) + ":" if i else "-" * (w + 2) for i, w in enumerate(widths)) + "|")
    return "\n".join(lines)


def main_table(variants: Sequence[str], workloads: Sequence[str], runs: Sequence[RunResult],
               idle: Sequence[IdleResult], soak: Sequence[SoakResult]) -> str:
    """One row per variant: per workload tasks/s, ratios, CPU per task, p50; idle; memory.

    ``*`` marks a throughput capped before the backlog was done (see the details).
    """
    by_key = {(r.variant, r.workload): r for r in runs}
    idle_by = {r.variant: r for r in idle}
    soak_by = {r.variant: r for r in soak}
    marks = sorted({m for r in soak for m in r.rss_mb})
    header = ["variant"]
    for workload in workloads:
        title = WORKLOADS[workload].title
        refs = [(name, label) for name, label in REFERENCES if (name, workload) in by_key]
        header += [f"{title} tasks/s", *(f"x {label}" for _, label in refs),
                   f"{title} CPU ms/task", f"{title} p50 ms"]
    if idle:
        header.append("idle requests/poll")
    if marks:
        header.append(f"RSS MB at {marks[0]:,}")
        if len(marks) > 1:
            header.append(f"RSS growth to {marks[-1]:,}")
    rows = [header]
    for variant in variants:
        row = [variant]
        for workload in workloads:
            result = by_key.get((variant, workload))
            names = [name for name, _ in REFERENCES if (name, workload) in by_key]
            if result is None:
                row += ["-"] * (3 + len(names))
                continue
            rate = f"{result.tasks_per_second:.1f}" + ("*" if result.capped else "")
            row += [rate, *(_ratio(result, by_key.get((ref, workload))) for ref in names),
                    _fmt(result.worker_cpu_ms_per_task), _fmt(result.latency_p50_ms, ".1f")]
        if idle:
            row.append(_fmt(idle_by[variant].requests_per_period if variant in idle_by
                            else None))
        if marks:
            sample = soak_by.get(variant)
            row.append(_fmt(sample.rss_mb.get(marks[0]) if sample else None, ".1f"))
            if len(marks) > 1:
                row.append(_fmt(sample.growth_mb() if sample else None, "+.1f"))
        rows.append(row)
    return markdown_table(rows)


def details_table(runs: Sequence[RunResult]) -> str:
    """One row per variant and workload, with what the main table leaves out."""
    rows = [["variant / workload", "tasks/s", "seconds", "done", "handler calls",
             "worker CPU ms/task", "engine CPU ms/task", "p50 ms", "p95 ms"]]
    for r in runs:
        rows.append([
            f"{r.variant} / {WORKLOADS[r.workload].title}",
            f"{r.tasks_per_second:.1f}" + ("*" if r.capped else ""),
            f"{r.seconds:.2f}",
            f"{r.completed}/{r.instances}",
            str(r.handler_calls),
            _fmt(r.worker_cpu_ms_per_task),
            _fmt(r.engine_cpu_ms_per_task),
            _fmt(r.latency_p50_ms, ".1f"),
            _fmt(r.latency_p95_ms, ".1f"),
        ])
    return markdown_table(rows)


def compat_table(workloads: Sequence[str], runs: Sequence[RunResult]) -> str | None:
    """Ours through the compat layer against that library's worker (throughput) and
    against our native worker (CPU per task), from one run; None if no pair ran."""
    by_key = {(r.variant, r.workload): r for r in runs}
    rows = [["compat variant / workload", "tasks/s", "library tasks/s", "x library",
             "CPU ms/task", "native CPU ms/task", "CPU x native"]]
    for compat, library, native in COMPAT_PAIRS:
        for workload in workloads:
            ours = by_key.get((compat, workload))
            if ours is None:
                continue
            theirs, base = by_key.get((library, workload)), by_key.get((native, workload))
            cpu = ours.worker_cpu_ms_per_task
            base_cpu = base.worker_cpu_ms_per_task if base else None
            rows.append([
                f"{compat} / {WORKLOADS[workload].title}",
                f"{ours.tasks_per_second:.1f}" + ("*" if ours.capped else ""),
                _fmt(theirs.tasks_per_second if theirs else None, ".1f"),
                _ratio(ours, theirs), _fmt(cpu), _fmt(base_cpu),
                _fmt(cpu / base_cpu if cpu is not None and base_cpu else None),
            ])
    return markdown_table(rows) if len(rows) > 1 else None
