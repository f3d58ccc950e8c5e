"""``make monitoring``: Prometheus and the backlog exporter as local processes, for development.

Next to ``make demo`` or workers started by hand (``python main.py`` in ``workers/NAME``):
Prometheus (Debian's ``prometheus`` package, 2.42) scrapes every worker at
``127.0.0.1:PORT`` (its ``worker.json`` port) and the backlog exporter, evaluates the
same rules as in a stack (``deploy/monitoring/rules``) and keeps its data in
``.run/monitoring/``. Both run in the background until :func:`stop_local_monitoring`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from ..errors import ToolingError
from ..local._engine_url import checked_engine_url
from ..local._ports import port_free
from ..project._discovery import discover_workers

__all__ = ["LocalMonitoring", "start_local_monitoring", "stop_local_monitoring"]

RUN_DIR = ".run/monitoring"
CONFIG = "deploy/monitoring/prometheus.local.yml"
BACKLOG_PORT = 9181  # not the stack's 9180: a stack's exporter may publish that one


@dataclass(frozen=True)
class LocalMonitoring:
    url: str
    prometheus_pid: int
    backlog_pid: int
    already_running: bool
    targets: tuple[str, ...]

    @property
    def alerts_url(self) -> str:
        """The UI's alerts page: ``/alerts``, or ``/classic/alerts`` in Debian's build."""
        for path in ("/alerts", "/classic/alerts"):
            try:
                if httpx.get(f"{self.url}{path}", timeout=5).status_code == 200:
                    return f"{self.url}{path}"
            except httpx.HTTPError:
                break
        return f"{self.url}/alerts"


def _alive(pid_file: Path, needle: str) -> int | None:
    """The pid in ``pid_file`` if that process still runs and its command has ``needle``."""
    try:
        pid = int(pid_file.read_text())
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (OSError, ValueError):
        return None
    return pid if needle in command else None


def _write_targets(repo: Path, run: Path, backlog_port: int) -> tuple[str, ...]:
    node = socket.gethostname()
    groups = [{"targets": [f"127.0.0.1:{worker.spec.port}"],
               "labels": {"worker": worker.name, "service": worker.name, "node": node,
                          "task": "local-process"}}
              for worker in discover_workers(repo)]
    for name, content in (("workers.json", groups), ("backlog.json", [
            {"targets": [f"127.0.0.1:{backlog_port}"], "labels": {"node": node}}])):
        temporary = run / f".{name}.tmp"
        temporary.write_text(json.dumps(content, indent=2))
        temporary.replace(run / name)  # file_sd reads whole files only
    return tuple(target for group in groups for target in group["targets"])


def _spawn(command: list[str], log: Path, env: dict[str, str] | None = None) -> int:
    """Start ``command`` in its own session, output appended to ``log``; its pid.

    No Popen object is kept: the process outlives this one (``make monitoring`` returns).
    """
    actions = [(os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
               (os.POSIX_SPAWN_OPEN, 1, str(log), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644),
               (os.POSIX_SPAWN_DUP2, 1, 2)]
    return os.posix_spawn(command[0], command, dict(os.environ if env is None else env),
                          file_actions=actions, setsid=True)


def _reap(pid: int) -> None:
    """Collect the exit status if ``pid`` is our child (else init does)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def start_local_monitoring(repo: Path, *, engine_url: str, port: int = 9090,
                           backlog_port: int = BACKLOG_PORT,
                           timeout: float = 60.0) -> LocalMonitoring:
    """Start (or find running) Prometheus on ``port`` and the backlog exporter."""
    engine_url = checked_engine_url(engine_url)
    binary = shutil.which("prometheus")
    if binary is None:
        raise ToolingError("prometheus not found: install it (`apt-get install prometheus`, "
                           "Debian 12 ships 2.42) or run the stack's monitoring service")
    run = repo / RUN_DIR
    run.mkdir(parents=True, exist_ok=True)
    targets = _write_targets(repo, run, backlog_port)  # workers added since the last start too
    topics = sorted({topic for worker in discover_workers(repo) for topic in worker.spec.topics})
    url = f"http://127.0.0.1:{port}"
    running = _alive(run / "prometheus.pid", "prometheus.local.yml")
    backlog = _alive(run / "backlog.pid", "camunda_workers.backlog")
    if running is None and not port_free(port, "127.0.0.1"):
        raise ToolingError(f"port {port} is in use; pick another: PROMETHEUS_PORT=9091 make "
                           "monitoring (or `workers monitoring start --port 9091`)")
    if backlog is None:
        if not port_free(backlog_port, "127.0.0.1"):
            raise ToolingError(f"port {backlog_port} (the local backlog exporter) is in use")
        env = {**os.environ, "CAMUNDA_URL": engine_url, "BACKLOG_INTERVAL_SECONDS": "10"}
        backlog = _spawn([sys.executable, "-m", "camunda_workers.backlog",
                          "--port", str(backlog_port), *(f"--topic={t}" for t in topics)],
                         run / "backlog.log", env)
        (run / "backlog.pid").write_text(str(backlog))
    if running is not None:
        return LocalMonitoring(url, running, backlog, True, targets)
    log = run / "prometheus.log"
    pid = _spawn([binary, f"--config.file={repo / CONFIG}",
                  f"--storage.tsdb.path={run / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
                  "--web.enable-lifecycle"], log)
    (run / "prometheus.pid").write_text(str(pid))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.waitpid(pid, os.WNOHANG) != (0, 0):  # our child until this process exits
            tail = log.read_text(errors="replace").splitlines()[-15:]
            raise ToolingError("prometheus exited at start:\n" + "\n".join(tail))
        try:
            if httpx.get(f"{url}/-/ready", timeout=2).status_code == 200:
                return LocalMonitoring(url, pid, backlog, False, targets)
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise ToolingError(f"prometheus did not become ready within {timeout:.0f}s; see {log}")


def stop_local_monitoring(repo: Path, *, timeout: float = 20.0) -> list[str]:
    """Stop what :func:`start_local_monitoring` started; the names of what was stopped."""
    run = repo / RUN_DIR
    stopped = []
    for name, needle in (("prometheus", "prometheus.local.yml"),
                         ("backlog", "camunda_workers.backlog")):
        pid_file = run / f"{name}.pid"
        pid = _alive(pid_file, needle)
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while _alive(pid_file, needle) is not None and time.monotonic() < deadline:
                _reap(pid)
                time.sleep(0.1)
            if _alive(pid_file, needle) is not None:
                os.kill(pid, signal.SIGKILL)
            _reap(pid)
            stopped.append(name)
        pid_file.unlink(missing_ok=True)
    return stopped
