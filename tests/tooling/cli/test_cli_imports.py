"""`workers` commands import only what they need (bench/cli_startup.py measures what that
saves): `--help` nothing but typer; `list` and `discover` reading worker.json files the
SDK's spec model, not its runtime (asyncio, aiohttp, settings, tasks) nor Copier, the Docker
SDK or ruamel; answered from the cache (workers_tooling._memo), `list`, `discover` and a
no-change `compose` not even pydantic or the YAML libraries."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.tooling.fresh_clone import REPO
from tests.tooling.helpers import make_repo, worker_files

NOT_NEEDED = ("asyncio", "aiohttp", "httpx", "copier", "docker", "ruamel", "jinja2",
              "watchfiles", "camunda_workers._worker", "camunda_workers._task",
              "camunda_workers._settings", "camunda_workers._retry", "camunda_workers._router",
              "camunda_workers._variables")


def imported_by(*command: str, cwd: Path = REPO) -> set[str]:
    """The modules a whole `workers` process imports (python -X importtime)."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "workers_tooling.cli",
                           *command], cwd=cwd, capture_output=True, text=True, check=False,
                          timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    return {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines()
            if line.startswith("import time:") and "|" in line}


@pytest.mark.parametrize("command", ["list", "discover"])
def test_reading_workers_imports_no_runtime(command: str) -> None:
    modules = imported_by(command)
    assert "camunda_workers._spec" in modules  # the check sees imports at all
    unneeded = sorted(module for module in modules
                      if module.split(".")[0] in NOT_NEEDED or module in NOT_NEEDED)
    assert not unneeded


# What a command answered from the cache, or the help screen, does without.
HEAVY = ("pydantic", "pydantic_core", "yaml", "ruamel", "rich.markdown", "rich.traceback",
         "typer._adapters", "typer.rich_utils", "camunda_workers._spec")


def _unneeded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(module for module in modules
                  if module in names or module.split(".")[0] in names)


def test_help_imports_typer_alone() -> None:
    modules = imported_by("--help")
    assert "workers_tooling.cli._main" in modules  # the check sees imports at all
    assert not _unneeded(modules, (*NOT_NEEDED, *HEAVY, "rich", "camunda_workers"))


@pytest.mark.parametrize("command", [("list",), ("discover",), ("discover", "--json")])
def test_reading_workers_from_the_cache_imports_no_pydantic(command: tuple[str, ...]) -> None:
    imported_by(*command)  # the first run keeps its result
    modules = imported_by(*command)
    assert "workers_tooling._memo" in modules
    assert not _unneeded(modules, (*NOT_NEEDED, *HEAVY))


def test_a_no_change_compose_from_the_cache_imports_no_yaml(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, worker_files("alpha", 8001), worker_files("beta", 8002))
    for _ in range(2):  # written, then kept as unchanged
        imported_by("compose", "--repo", str(repo))
    modules = imported_by("compose", "--repo", str(repo))
    assert "workers_tooling.stackfile._unchanged" in modules
    assert not _unneeded(modules, (*NOT_NEEDED, *HEAVY))


def test_every_public_name_of_the_sdk_still_resolves() -> None:
    code = ("import camunda_workers as c; from camunda_workers import *; "
            "missing = [n for n in c.__all__ if getattr(c, n, None) is None]; "
            "assert not missing, missing; assert Worker.__module__ == 'camunda_workers._worker'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False, timeout=60)
    assert done.returncode == 0, done.stderr
