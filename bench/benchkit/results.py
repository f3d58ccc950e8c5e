"""What the phases measure, and how rounds are combined."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["IdleResult", "RunResult", "SoakResult", "combine", "percentile"]


@dataclass
class RunResult:
    """One variant on one workload: throughput through a backlog, then pick-up latency."""

    variant: str
    workload: str
    instances: int
    completed: int = 0
    seconds: float = 0.0
    tasks_per_second: float = 0.0
    capped: bool = False
    handler_calls: int = 0
    worker_cpu_ms_per_task: float | None = None
    engine_cpu_ms_per_task: float | None = None
    latency_samples: int = 0
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class IdleResult:
    """Requests an idle worker sends, counted by a relay over whole long-poll periods."""

    variant: str
    periods: int
    period_seconds: float
    requests: int | None = None
    fetches: int | None = None
    requests_per_period: float | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class SoakResult:
    """Worker memory over a long run: RSS (MB) after each number of tasks."""

    variant: str
    rss_mb_at_start: float | None = None
    rss_mb: dict[int, float] = field(default_factory=dict)
    tasks: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def growth_mb(self) -> float | None:
        """RSS growth from the first threshold to the last one."""
        if len(self.rss_mb) < 2:
            return None
        marks = sorted(self.rss_mb)
        return self.rss_mb[marks[-1]] - self.rss_mb[marks[0]]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[index]


def _median(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def combine(rounds: list[RunResult]) -> RunResult:
    """One variant and workload over several rounds: medians, summed counts."""
    if len(rounds) == 1:
        return rounds[0]
    first = rounds[0]
    notes = [f"round {n}: {note}" for n, r in enumerate(rounds, 1) for note in r.notes]
    rates = ", ".join(f"{r.tasks_per_second:.1f}" for r in rounds)
    notes.append(f"tasks/s per round: {rates} (the table shows medians)")
    return RunResult(
        variant=first.variant,
        workload=first.workload,
        instances=sum(r.instances for r in rounds),
        completed=sum(r.completed for r in rounds),
        seconds=statistics.median(r.seconds for r in rounds),
        tasks_per_second=statistics.median(r.tasks_per_second for r in rounds),
        capped=any(r.capped for r in rounds),
        handler_calls=sum(r.handler_calls for r in rounds),
        worker_cpu_ms_per_task=_median(r.worker_cpu_ms_per_task for r in rounds),
        engine_cpu_ms_per_task=_median(r.engine_cpu_ms_per_task for r in rounds),
        latency_samples=sum(r.latency_samples for r in rounds),
        latency_p50_ms=_median(r.latency_p50_ms for r in rounds),
        latency_p95_ms=_median(r.latency_p95_ms for r in rounds),
        notes=notes,
    )
