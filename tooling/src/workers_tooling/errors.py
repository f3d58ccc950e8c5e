"""Errors of the tooling; the CLI maps each to an exit code and a message in one place.

Exit codes (``workers_tooling.cli``): 1 a command failed or a check found something to
do, 2 invalid input (:class:`InputError`: a ``worker.json``, the stack file, an overlay,
the command line), 3 something needed is missing or does not answer
(:class:`Unavailable`: the Docker engine, a Swarm, git, the Camunda engine).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "EngineNotReachable", "GitMissing", "InputError", "ToolingError", "Unavailable",
    "WorkerValidationError",
]


class ToolingError(Exception):
    """A problem the user can fix; the message says how. Exit code 1."""

    exit_code = 1


class InputError(ToolingError):
    """A file or argument is not what it must be; the message names it and the fix. Exit 2."""

    exit_code = 2


class Unavailable(ToolingError):
    """Something the command needs is missing or does not answer. Exit code 3."""

    exit_code = 3


class EngineNotReachable(Unavailable):
    """No engine answered at the configured URL."""


class GitMissing(Unavailable):
    """git is not installed (:mod:`workers_tooling.git` runs it)."""


class WorkerValidationError(InputError):
    """The worker declarations have problems; ``problems`` lists every one of them.

    Each line reads ``workers/NAME/worker.json: field.path: message`` and says the fix.
    """

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        header = f"{count} problem{'s' if count != 1 else ''} in the worker declarations:"
        super().__init__("\n".join([header, *self.problems]))
