"""`workers run NAME --reload`: one worker as a local process against the real engine, a
line per task, a reload on a handler edited on disk, Ctrl-C in under 2 s, nothing left
locked by the old or the last process."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.support.engine import REPO, EngineApi, free_port, unique, wait_until

pytestmark = [pytest.mark.engine, pytest.mark.slow]


def _worker_repo(tmp_path: Path, topic: str) -> Path:
    """workers/hello-world (serving ``topic``, unique on the shared engine) and common."""
    repo = tmp_path / "repo"
    for name in ("hello-world", "common"):
        shutil.copytree(REPO / "workers" / name, repo / "workers" / name,
                        ignore=shutil.ignore_patterns("__pycache__", "tests"))
    spec = repo / "workers" / "hello-world" / "worker.json"
    spec.write_text(spec.read_text().replace('"say_hello"', f'"{topic}"')
                    .replace('"port": 8001', f'"port": {free_port()}'))
    main = repo / "workers" / "hello-world" / "main.py"
    main.write_text(main.read_text().replace('"say_hello"', f'"{topic}"'))
    return repo


class _Lines:
    """The output of a process, line by line, read in a thread."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        assert process.stdout is not None
        stream = self._stream = process.stdout
        self._reader = threading.Thread(
            target=lambda: [self._queue.put(line) for line in stream], daemon=True)
        self._reader.start()

    def close(self) -> None:
        self._reader.join(5)
        self._stream.close()

    def wait_for(self, text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"no line with {text!r} within {timeout}s:\n" + "".join(self.seen))


def _greeting(api: EngineApi, key: str, name: str) -> str:
    instance = api.start(key, {"name": name})
    api.wait_finished([instance], timeout=30)
    return str(api.variables(instance)["greeting"]["value"])


def test_run_reload_edit_and_stop(camunda: EngineApi, tmp_path: Path) -> None:
    topic = unique("run_reload")
    key = camunda.deploy_external_task(topic)
    repo = _worker_repo(tmp_path, topic)
    env = {key: value for key, value in os.environ.items()
           if key not in ("LOG_LEVEL", "CAMUNDA_LONG_POLL_MS", "METRICS_PORT")}
    process = subprocess.Popen(
        [sys.executable, "-m", "workers_tooling.cli", "run", "hello-world", "--reload",
         "--engine-url", camunda.url, "--repo", str(repo)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines = _Lines(process)
    try:
        lines.wait_for("running workers/hello-world against")
        assert _greeting(camunda, key, "Ada") == "Hello, Ada!"
        task_line = lines.wait_for(f"{topic} completed in")  # a line per task
        assert " ms (task " in task_line

        main = repo / "workers" / "hello-world" / "main.py"
        main.write_text(main.read_text().replace('f"Hello, {name}!"', 'f"Howdy, {name}!"'))
        reload_line = lines.wait_for("reload: workers/hello-world/main.py changed")
        print(f"\n[run] {reload_line.strip()}")
        assert _greeting(camunda, key, "Bob") == "Howdy, Bob!"  # the new behaviour
        assert camunda.external_tasks(topicName=topic, locked="true") == []

        started = time.monotonic()
        process.send_signal(signal.SIGINT)  # Ctrl-C
        process.wait(10)
        seconds = time.monotonic() - started
        lines.wait_for("stopped hello-world (exit 0)")
        print(f"[run] Ctrl-C to exit: {seconds:.2f}s")
        assert seconds < 2.0
        assert process.returncode == 0
        assert "Traceback" not in "".join(lines.seen)
        # nothing locked for a process that is gone
        wait_until(lambda: camunda.external_tasks(topicName=topic, locked="true") == [],
                   timeout=5, interval=0.2)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        lines.close()


def test_run_names_an_unknown_worker(tmp_path: Path) -> None:
    repo = _worker_repo(tmp_path, "say_hello")
    done = subprocess.run([sys.executable, "-m", "workers_tooling.cli", "run", "nope",
                           "--engine-url", "http://127.0.0.1:9/engine-rest", "--repo",
                           str(repo)], capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert "no worker named 'nope'; known: hello-world" in done.stderr
