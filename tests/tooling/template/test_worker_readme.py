"""The generated worker's README: its commands work as written, typed in the worker's folder
of a fresh clone set up with ``make setup`` (its ``.venv``), by a shell whose ``PATH`` has
no virtual environment on it (the system Python lacks ``camunda_workers``)."""

from __future__ import annotations

import os
import re
import selectors
import shlex
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.tooling.fresh_clone import BIN, clone, squashed_copy
from workers_tooling.template._scaffold import new_worker

NAME = "readme-check"


def readme_commands(worker: Path) -> list[str]:
    """The lines of the README's bash block, comments dropped."""
    [block] = re.findall(r"```bash\n(.*?)```", (worker / "README.md").read_text(), re.S)
    return [line.split("#", 1)[0].strip() for line in block.splitlines() if line.strip()]


def plain_shell_environment(**extra: str) -> dict[str, str]:
    """This environment without the virtual environment the tests run in."""
    path = [part for part in os.environ.get("PATH", "").split(os.pathsep)
            if Path(part).resolve() != BIN.resolve()]
    environ = {key: value for key, value in os.environ.items()
               if key not in ("VIRTUAL_ENV", "PYTHONPATH")}
    return {**environ, "PATH": os.pathsep.join(path), **extra}


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def read_until(process: subprocess.Popen[str], wanted: str, timeout: float) -> str:
    assert process.stdout is not None
    seen = ""
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while wanted not in seen and time.monotonic() < deadline:
            if selector.select(deadline - time.monotonic()):
                line = process.stdout.readline()
                if not line:
                    break
                seen += line
    return seen


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    origin = squashed_copy(tmp_path_factory.mktemp("origin") / "camunda-workers")
    repo = clone(origin, tmp_path_factory.mktemp("clone") / "camunda-workers")
    (repo / ".venv").symlink_to(BIN.parent)  # what `make setup` makes in the clone
    return new_worker(repo, answers={"name": NAME, "topics": ["check_readme"]})


def test_the_readme_gives_a_test_and_a_run_command(worker: Path) -> None:
    commands = readme_commands(worker)
    assert [command.split()[1:3] for command in commands] == [["-m", "pytest"],
                                                             ["run", NAME]], commands


def test_the_tests_command_passes_as_written(worker: Path) -> None:
    command = readme_commands(worker)[0]
    done = subprocess.run(command, shell=True, cwd=worker, capture_output=True, text=True,
                          env=plain_shell_environment(), timeout=120, check=False)
    assert done.returncode == 0, f"{command}: {done.stdout}{done.stderr}"
    assert "passed" in done.stdout


def test_the_run_command_runs_the_worker_as_written(worker: Path) -> None:
    """Against an engine that is not there yet (no local engine is started for it): the worker
    starts, waits for the engine, and Ctrl-C stops it cleanly."""
    command = readme_commands(worker)[1]
    url = f"http://127.0.0.1:{closed_port()}/engine-rest"
    process = subprocess.Popen(
        shlex.split(command), cwd=worker, text=True, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, start_new_session=True,
        env=plain_shell_environment(CAMUNDA_URL=url, METRICS_PORT="0"))
    try:
        output = read_until(process, "retrying with backoff", timeout=60)
        assert f"running workers/{NAME} against {url}" in output, output
        assert "polling 127.0.0.1 for check_readme" in output, output
        assert "retrying with backoff" in output, output
    finally:
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output + rest
    assert f"stopped {NAME} (exit 0)" in rest, output + rest
    assert "Traceback" not in output + rest
