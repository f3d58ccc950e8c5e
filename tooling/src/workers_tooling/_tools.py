"""Programs the tooling runs (git, docker), found once with a clear error when missing."""

from __future__ import annotations

import shutil

from .errors import Unavailable

__all__ = ["require_program"]

_INSTALL = {"git": "apt-get install git", "docker": "apt-get install docker.io, or docker-ce-cli"}


def require_program(name: str, needed_for: str) -> str:
    """The path of ``name`` on PATH, or :class:`Unavailable` saying how to install it."""
    path = shutil.which(name)
    if path is None:
        raise Unavailable(f"{name} is not installed or not on PATH; it is needed {needed_for}; "
                          f"install it ({_INSTALL.get(name, 'with your package manager')})")
    return path
