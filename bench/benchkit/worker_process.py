"""One variant's worker as a child process, and what we read from it and from /proc."""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable
from pathlib import Path

__all__ = ["WorkerExited", "WorkerProcess", "process_cpu_seconds", "process_rss_bytes"]


class WorkerExited(RuntimeError):
    """The worker process died or never became ready (the message has its stderr)."""


def process_cpu_seconds(pid: int | None) -> float | None:
    """user+system CPU time of a process and all its threads (Linux /proc), None elsewhere."""
    if pid is None:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_rss_bytes(pid: int | None) -> int | None:
    """Resident set size of a process (VmRSS in /proc/PID/status), None elsewhere."""
    if pid is None:
        return None
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return None


class WorkerProcess:
    """Starts ``command``, reads its protocol lines (see bench/py_workers.py) in a thread.

    The command is exec'd directly (no shell, no npm/mvn wrapper), so ``pid`` is the
    worker itself and /proc/``pid`` holds its CPU time and memory.
    """

    def __init__(self, name: str, command: list[str],
                 env: dict[str, str] | None = None) -> None:
        self.name = name
        self.command = command
        self.env = env  # None: this process's environment
        self.process: subprocess.Popen[bytes] | None = None
        self.ready_at: float | None = None
        self.first_seen: dict[str, float] = {}  # process instance id -> first handler start
        self.calls = 0
        self.changed = threading.Condition()
        self._ready = threading.Event()
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        self._reader: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def start(self, timeout: float = 90.0) -> float:
        """Start it; return the time (epoch s) at which it was about to poll."""
        self.launch()
        return self.wait_ready(timeout)

    def launch(self) -> None:
        """Start the process without waiting for it (several start side by side)."""
        self.process = subprocess.Popen(self.command, stdout=subprocess.PIPE,
                                        stderr=self._stderr, stdin=subprocess.DEVNULL,
                                        env=self.env)
        self._reader = threading.Thread(target=self._read, name=f"read-{self.name}",
                                        daemon=True)
        self._reader.start()

    def wait_ready(self, timeout: float = 90.0) -> float:
        """Wait until it is about to poll; return that time (epoch s)."""
        if not self._ready.wait(timeout) or self.ready_at is None:
            self.stop()
            raise WorkerExited(f"{self.name}: worker did not become ready within {timeout:.0f}s"
                               f"{self.stderr_tail()}")
        return self.ready_at

    def _read(self) -> None:
        assert self.process is not None
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            parts = raw.split()
            if len(parts) == 3 and parts[0] == b"T":
                at = int(parts[2]) / 1e6
                with self.changed:
                    self.calls += 1
                    self.first_seen.setdefault(parts[1].decode(), at)
                    self.changed.notify_all()
            elif len(parts) == 2 and parts[0] == b"READY":
                self.ready_at = int(parts[1]) / 1e6
                self._ready.set()
        with self.changed:
            self.changed.notify_all()  # wake waiters: the worker is gone

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_for(self, instances: Iterable[str], timeout: float) -> bool:
        """Wait until every one of ``instances`` reached a handler; False on timeout."""
        wanted = set(instances)
        deadline = time.monotonic() + timeout
        with self.changed:
            while not wanted <= self.first_seen.keys():
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self.alive():
                    return False
                self.changed.wait(min(remaining, 1.0))
        return True

    def cpu_seconds(self) -> float | None:
        return process_cpu_seconds(self.pid)

    def rss_bytes(self) -> int | None:
        return process_rss_bytes(self.pid)

    def stderr_tail(self, lines: int = 15) -> str:
        """The last lines the worker wrote to stderr, as an indented block ('' if none)."""
        if self._stderr.closed:
            return ""
        self._stderr.seek(0)
        text = self._stderr.read().decode(errors="replace").strip()
        if not text:
            return ""
        return "\n    " + "\n    ".join(text.splitlines()[-lines:])

    def stop(self) -> int | None:
        """SIGTERM (camunda_workers drains, the others just exit), SIGKILL after 15 s."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self._reader is not None:
            self._reader.join(5)
        code = self.process.returncode if self.process is not None else None
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()
        return code

    def close(self) -> None:
        self.stop()
        self._stderr.close()
