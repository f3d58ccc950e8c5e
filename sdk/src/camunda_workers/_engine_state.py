"""Whether the engine answers: one shared view, logged once per change, not per request."""

from __future__ import annotations

import logging

from ._metrics import WorkerMetrics
from .errors import EngineError, EngineRejectedError

__all__ = ["EngineState"]

log = logging.getLogger("camunda_workers")


class EngineState:
    """Fed by every engine call (polls, reports, lock extensions) of one worker."""

    def __init__(self, metrics: WorkerMetrics, *, backoff_max: float) -> None:
        self._metrics = metrics
        self._backoff_max = backoff_max
        self.error: EngineError | None = None
        self.answered = False  # at least one success since the start
        self.failures = 0

    @property
    def ok(self) -> bool:
        return self.answered and self.error is None

    def failed(self, error: EngineError) -> None:
        self._metrics.engine_error(error.kind)
        self.failures += 1
        if self.error is None or self.error.kind != error.kind:
            refused = isinstance(error, EngineRejectedError) or 400 <= (error.status or 0) < 500
            level = logging.ERROR if refused else logging.WARNING
            log.log(level, "engine error (%s): %s; retrying with backoff up to %.0fs",
                    error.kind, error, self._backoff_max)
        self.error = error

    def succeeded(self) -> bool:
        """Record an answer; True when it ends an outage."""
        self.answered = True
        if self.error is None:
            return False
        log.info("engine reachable again after %d failed request(s)", self.failures)
        self.error, self.failures = None, 0
        return True
