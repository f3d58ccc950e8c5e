"""Errors of the tooling; the CLI maps each to an exit code and a message in one place."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["EngineNotReachable", "ToolingError", "WorkerValidationError"]


class ToolingError(Exception):
    """A problem the user can fix; the message says how. Exit code 1."""

    exit_code = 1


class EngineNotReachable(ToolingError):
    """No engine answered at the configured URL."""


class WorkerValidationError(ToolingError):
    """The worker declarations have problems; ``problems`` lists every one of them.

    Each line reads ``workers/NAME/worker.json: field.path: message`` and says the fix.
    Exit code 2, like an invalid ``worker.json`` anywhere else.
    """

    exit_code = 2

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        header = f"{count} problem{'s' if count != 1 else ''} in the worker declarations:"
        super().__init__("\n".join([header, *self.problems]))
