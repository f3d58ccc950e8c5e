"""`workers list` and `discover` import only what they need: reading worker.json files needs
the SDK's spec model, not its runtime (asyncio, aiohttp, settings, tasks) nor Copier, the
Docker SDK or ruamel (bench/cli_startup.py measures what that saves)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.tooling.fresh_clone import REPO

NOT_NEEDED = ("asyncio", "aiohttp", "httpx", "copier", "docker", "ruamel", "jinja2",
              "watchfiles", "camunda_workers._worker", "camunda_workers._task",
              "camunda_workers._settings", "camunda_workers._retry", "camunda_workers._router",
              "camunda_workers._variables")


def imported_by(*command: str) -> set[str]:
    """The modules a whole `workers` process imports (python -X importtime)."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "workers_tooling.cli",
                           *command], cwd=REPO, capture_output=True, text=True, check=False,
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


def test_every_public_name_of_the_sdk_still_resolves() -> None:
    code = ("import camunda_workers as c; from camunda_workers import *; "
            "missing = [n for n in c.__all__ if getattr(c, n, None) is None]; "
            "assert not missing, missing; assert Worker.__module__ == 'camunda_workers._worker'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False, timeout=60)
    assert done.returncode == 0, done.stderr
