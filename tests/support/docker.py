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


def hand_edit_engine(stack_file: Path, port: int) -> None:
    """What a person does on a machine without IPVS: the engine's port in host mode.

    Without IPVS (this kernel), Swarm's virtual IPs and ingress ports do not work; the
    `local` overlay gives the workers DNS round robin, and the engine (a service the
    generator leaves alone) is edited by hand, as its stack-file comment says.
    """
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.preserve_quotes = True
    data = yaml.load(stack_file.read_text())
    engine = data["services"]["engine"]
    engine["ports"] = [{"target": 8080, "published": port, "mode": "host"}]
    engine["deploy"]["endpoint_mode"] = "dnsrr"
    with stack_file.open("w") as out:
        yaml.dump(data, out)
