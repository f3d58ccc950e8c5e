"""Waiting after errors: task retries reported to the engine, and backoff after engine faults."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from ._task import Task

__all__ = ["Backoff", "ExponentialRetryPolicy", "RetryDecision", "RetryPolicy"]


@dataclass(frozen=True)
class RetryDecision:
    """What a failure report tells the engine: retries left (0 = incident) and the wait in ms."""

    retries: int
    retry_timeout: int


class RetryPolicy(Protocol):
    """Decides retries for a handler's unexpected exception. Replaceable per worker."""

    def __call__(self, task: Task, error: BaseException) -> RetryDecision: ...


@dataclass(frozen=True)
class ExponentialRetryPolicy:
    """Counts down the task's retries; the first failure starts at ``retries``.

    The engine's counter is ``None`` until the first failure, so that failure sets
    it to ``retries`` and every later one to one less: ``retries=3`` means three
    more attempts after the first, then an incident. The wait grows by ``factor``
    per attempt from ``initial_ms``, capped at ``max_ms``.
    """

    retries: int = 3
    initial_ms: int = 5_000
    factor: float = 2.0
    max_ms: int = 600_000

    def __call__(self, task: Task, error: BaseException) -> RetryDecision:
        left = self.retries if task.retries is None else max(task.retries - 1, 0)
        attempt = max(self.retries - left, 0)
        timeout = min(int(self.initial_ms * self.factor**attempt), self.max_ms)
        return RetryDecision(retries=left, retry_timeout=timeout)


class Backoff:
    """Exponential backoff with full jitter, capped: waits after engine errors."""

    def __init__(
        self,
        initial: float,
        maximum: float,
        *,
        factor: float = 2.0,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self._rand = rand
        self.failures = 0

    def next_delay(self) -> float:
        """Seconds to wait before the next try; grows with each call until reset()."""
        ceiling = min(self.maximum, self.initial * self.factor**self.failures)
        self.failures += 1
        # Half fixed, half random: spreads replicas without ever retrying at once.
        return ceiling / 2 + self._rand() * ceiling / 2

    def reset(self) -> None:
        self.failures = 0
