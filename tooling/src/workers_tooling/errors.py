"""Errors of the tooling; the CLI maps each to an exit code and a message in one place."""

from __future__ import annotations

__all__ = ["EngineNotReachable", "ToolingError"]


class ToolingError(Exception):
    """A problem the user can fix; the message says how. Exit code 1."""

    exit_code = 1


class EngineNotReachable(ToolingError):
    """No engine answered at the configured URL."""
