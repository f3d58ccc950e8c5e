"""Where things are: the repository root, found from any directory inside it."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError

__all__ = ["find_repo_root", "relative"]


def find_repo_root(start: Path | None = None) -> Path:
    """The nearest directory at or above ``start`` holding ``copier.yml`` and ``workers/``."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "workers").is_dir() and (candidate / "sdk").is_dir():
            return candidate
    raise InputError(
        f"{here} is not inside a camunda-workers repository (no workers/ and sdk/ above it); "
        "run the command from the repository or pass --repo"
    )


def relative(path: Path, repo: Path) -> str:
    """``path`` relative to ``repo`` for messages (as given when it is outside)."""
    try:
        return path.resolve().relative_to(repo.resolve()).as_posix()
    except ValueError:
        return str(path)
