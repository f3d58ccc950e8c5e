"""``workers run NAME [--reload]``: one worker as a local process, the way its image runs it.

The process is ``python ENTRY_POINT`` in the worker's folder with its ``worker.json``
settings, ``workers/`` on ``PYTHONPATH`` (for ``common``) and its metrics port (or any
free one, said so). In this mode it logs a line per task (``LOG_LEVEL=DEBUG`` unless set)
and long-polls for 0.5 s (``CAMUNDA_LONG_POLL_MS``) so that a stop takes under 2 s. The
engine is ``engine_url``, else ``CAMUNDA_URL``, else the local one, started if it does not
answer. ``reload``: a change of the worker's files or of ``workers/common`` stops the
process (SIGTERM: it drains its tasks) and starts a new one, one line per reload.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from ..errors import EngineNotReachable, ToolingError
from ..project._discovery import DiscoveredWorker, discover_workers, relative
from ._ports import port_free

__all__ = ["LOCAL_ENGINE_URL", "run_worker"]

LOCAL_ENGINE_URL = "http://localhost:8080/engine-rest"
LONG_POLL_MS = "500"  # a stop waits for the poll under way: keep it short
STOP_WAIT = 30.0  # seconds for a stopped process to drain before it is killed


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url.rstrip('/')}/engine", timeout=3).status_code == 200
    except httpx.HTTPError:
        return False


def _engine(repo: Path, engine_url: str | None, say: Callable[[str], None]) -> str:
    """The engine to run against; the local one is started when it does not answer."""
    url = engine_url or os.environ.get("CAMUNDA_URL")
    if url:
        if not _answers(url):
            say(f"warning: no engine answers at {url} yet; the worker retries until one does")
        return url
    if _answers(LOCAL_ENGINE_URL):
        return LOCAL_ENGINE_URL
    say(f"no engine answers at {LOCAL_ENGINE_URL}: starting the local one "
        "(engine/engine.sh start camunda; `make engine-stop` stops it)")
    done = subprocess.run([str(repo / "engine" / "engine.sh"), "start", "camunda"], cwd=repo,
                          env={**os.environ, "PORT": "8080"}, check=False)
    if done.returncode != 0 or not _answers(LOCAL_ENGINE_URL):
        raise EngineNotReachable(f"the local engine did not start (exit {done.returncode}, "
                                 "see above); give --engine-url or CAMUNDA_URL")
    return LOCAL_ENGINE_URL


def _environment(repo: Path, worker: DiscoveredWorker, url: str,
                 say: Callable[[str], None]) -> dict[str, str]:
    paths = [str(repo / "workers"), *filter(None, [os.environ.get("PYTHONPATH")])]
    environ = {**os.environ, "CAMUNDA_URL": url, "PYTHONPATH": os.pathsep.join(paths),
               "PYTHONUNBUFFERED": "1"}
    environ.setdefault("LOG_LEVEL", "DEBUG")
    environ.setdefault("CAMUNDA_LONG_POLL_MS", LONG_POLL_MS)
    port = worker.spec.port
    if "METRICS_PORT" not in os.environ:
        if port_free(port):
            environ["METRICS_PORT"] = str(port)
        else:
            environ["METRICS_PORT"] = "0"
            say(f"port {port} is taken: metrics on a free port (METRICS_PORT=0)")
    return environ


def _find(repo: Path, name: str) -> DiscoveredWorker:
    workers = {worker.name: worker for worker in discover_workers(repo)}
    if name not in workers:
        raise ToolingError(f"no worker named {name!r}; known: {', '.join(workers)} "
                           "(`workers new` makes one)")
    return workers[name]


def _stop(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM (the worker drains its tasks), then wait; killed only if it hangs."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_WAIT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return int(process.returncode)


def run_worker(repo: Path, name: str, *, engine_url: str | None = None, reload: bool = False,
               say: Callable[[str], None] = lambda line: None) -> int:
    """Run the worker until it exits or Ctrl-C; returns its exit code (0 after Ctrl-C)."""
    worker = _find(repo, name)
    url = _engine(repo, engine_url, say)
    environ = _environment(repo, worker, url, say)

    def start() -> subprocess.Popen[bytes]:
        # Its own session: Ctrl-C reaches this process only, which stops the worker once.
        return subprocess.Popen([sys.executable, worker.spec.entry_point], cwd=worker.path,
                                env=environ, start_new_session=True)

    say(f"running {relative(worker.path, repo)} against {url}"
        + (" (reloads on changes; Ctrl-C stops)" if reload else " (Ctrl-C stops)"))
    running = [start()]  # the process now; a reload replaces it
    try:
        if not reload:
            return running[0].wait()
        _reload_loop(repo, worker, running, start, say)
        return 0
    except KeyboardInterrupt:
        started = time.monotonic()
        code = _stop(running[0])
        say(f"stopped {name} (exit {code}) in {time.monotonic() - started:.1f}s")
        return 0


def _reload_loop(repo: Path, worker: DiscoveredWorker, running: list[subprocess.Popen[bytes]],
                 start: Callable[[], subprocess.Popen[bytes]],
                 say: Callable[[str], None]) -> None:
    from watchfiles import watch  # only this command needs it

    watched = [worker.path, *[p for p in [repo / "workers" / "common"] if p.is_dir()]]
    exited_said = False
    for changes in watch(*watched, rust_timeout=500, yield_on_timeout=True):
        if not changes:
            if running[0].poll() is not None and not exited_said:
                say(f"{worker.name} exited with {running[0].returncode}; waiting for a change")
                exited_said = True
            continue
        changed = sorted({relative(Path(path), repo) for _, path in changes})
        started = time.monotonic()
        code = _stop(running[0])
        running[0] = start()
        exited_said = False
        more = f" (and {len(changed) - 1} more)" if len(changed) > 1 else ""
        say(f"reload: {changed[0]}{more} changed; old process drained (exit {code}), "
            f"new one started in {time.monotonic() - started:.1f}s")
