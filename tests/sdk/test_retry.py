"""Retry decisions and engine backoff."""

from __future__ import annotations

from camunda_workers import Backoff, ExponentialRetryPolicy
from camunda_workers.testing import make_task


def test_policy_counts_down_from_setting_and_grows_the_wait() -> None:
    policy = ExponentialRetryPolicy(retries=3, initial_ms=1_000, factor=2, max_ms=3_000)
    error = RuntimeError()
    decisions = [policy(make_task(retries=r), error) for r in (None, 3, 2, 1, 0)]
    assert [d.retries for d in decisions] == [3, 2, 1, 0, 0]
    assert [d.retry_timeout for d in decisions] == [1_000, 2_000, 3_000, 3_000, 3_000]


def test_backoff_grows_with_jitter_up_to_cap_and_resets() -> None:
    low = Backoff(1, 8, rand=lambda: 0.0)
    high = Backoff(1, 8, rand=lambda: 1.0)
    assert [low.next_delay() for _ in range(6)] == [0.5, 1, 2, 4, 4, 4]
    assert [high.next_delay() for _ in range(6)] == [1, 2, 4, 8, 8, 8]
    high.reset()
    assert high.next_delay() == 1
