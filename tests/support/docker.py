"""A Docker engine with a single-node Swarm for tests: started here when missing.

Locally a machine without Docker skips these tests; in CI (``CI=true``) they fail.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.engine import IN_CI, REPO


def run(*command: str) -> str:
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def require_docker_or_skip(*setup: tuple[str, ...]) -> None:
    """``scripts/docker-up.sh`` then each ``setup`` command; skip (fail in CI) if any fails."""
    try:
        run("scripts/docker-up.sh")
        for command in setup:
            run(*command)
    except (RuntimeError, OSError) as exc:
        if IN_CI:
            pytest.fail(f"Docker/Swarm unavailable in CI: {exc}", pytrace=False)
        pytest.skip(f"Docker/Swarm unavailable: {exc}")


def copy_repo(target: Path) -> Path:
    """The repository as a stack test deploys it: without git, caches and build output."""
    ignore = shutil.ignore_patterns(".venv", ".git", "__pycache__", ".run", "target", "*.jar",
                                    ".pytest_cache", ".mypy_cache", ".ruff_cache")
    shutil.copytree(REPO, target, ignore=ignore, symlinks=True)
    return target
