"""Git, run in one place: the template's versions and sources, image tags, who changed a
worker.json.

:func:`run_git` returns whatever git answered (any exit code) and raises
:class:`~.errors.GitMissing` when git is not installed; :func:`git_text` is for callers that
only want an answer when there is one (a missing git, a failure or a timeout is ``None``).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from .errors import GitMissing

__all__ = ["GitMissing", "git_text", "run_git"]


def run_git(cwd: Path, *args: str, stdin: bytes | None = None, timeout: float | None = None,
            ) -> subprocess.CompletedProcess[bytes]:
    """``git ARGS`` in ``cwd`` (any exit code); a missing git is a clear error."""
    try:
        return subprocess.run(["git", *args], cwd=cwd, input=stdin, capture_output=True,
                              check=False, timeout=timeout)
    except FileNotFoundError:
        raise GitMissing(
            "git is not installed: template versions come from the repository's history; "
            "install git") from None


def git_text(cwd: Path, *args: str, timeout: float = 30) -> str | None:
    """The output of ``git ARGS`` in ``cwd`` when it succeeded, else ``None``."""
    try:
        done = run_git(cwd, *args, timeout=timeout)
    except (GitMissing, OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.decode(errors="replace") if done.returncode == 0 else None
