"""The worker variants: how each is built, started and configured, and the workloads."""

from __future__ import annotations

import fcntl
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["VARIANTS", "WORKLOADS", "BuildError", "Variant", "WorkerConfig", "Workload"]

BENCH = Path(__file__).resolve().parents[1]
JS_DIR = BENCH / "js-client"
JAVA_DIR = BENCH / "java-client"
MIN_NODE = 20


class BuildError(RuntimeError):
    """A variant's client could not be installed or built here (the message says why)."""


@dataclass(frozen=True)
class Workload:
    name: str
    wait_ms: int  # the handler waits this long without CPU (a call to another service)
    title: str


WORKLOADS: dict[str, Workload] = {
    "noop": Workload("noop", 0, "no-op"),
    "wait50": Workload("wait50", 50, "50 ms wait"),
}


@dataclass(frozen=True)
class WorkerConfig:
    """What every variant is given; each maps it to its own settings (see ``settings``)."""

    concurrency: int = 32  # handlers in flight, where the client bounds them
    batch_size: int = 100  # maxTasks per fetchAndLock, where the client takes one
    async_response_timeout: int = 20_000  # long poll, ms (every variant)
    lock_duration: int = 60_000  # ms, only where the variant sets it (see settings)
    js_interval: int = 10  # ms between the JS client's polls
    worker_id: str | None = None  # the JS client's workerId (one per replica); ours makes its own


@dataclass(frozen=True)
class Variant:
    name: str
    workloads: tuple[str, ...]
    settings: Callable[[WorkerConfig], str]
    command: Callable[[str, str, WorkerConfig, Workload], list[str]]
    prepare: Callable[[], None] = lambda: None


def _python(variant: str) -> Callable[[str, str, WorkerConfig, Workload], list[str]]:
    def command(url: str, topic: str, cfg: WorkerConfig, load: Workload) -> list[str]:
        settings = {"max_tasks": cfg.concurrency, "batch_size": cfg.batch_size,
                    "async_response_timeout": cfg.async_response_timeout,
                    "lock_duration": cfg.lock_duration, "wait_ms": load.wait_ms}
        return [sys.executable, str(BENCH / "py_workers.py"), variant, url, topic,
                json.dumps(settings)]
    return command


def _js_command(url: str, topic: str, cfg: WorkerConfig, load: Workload) -> list[str]:
    options: dict[str, int | str] = {
        "maxTasks": cfg.batch_size, "maxParallelExecutions": cfg.concurrency,
        "interval": cfg.js_interval, "asyncResponseTimeout": cfg.async_response_timeout,
        "waitMs": load.wait_ms}
    if cfg.worker_id is not None:
        options["workerId"] = cfg.worker_id
    return ["node", str(JS_DIR / "worker.mjs"), url, topic, json.dumps(options)]


def _java_command(url: str, topic: str, cfg: WorkerConfig, load: Workload) -> list[str]:
    classpath = f"{JAVA_DIR / 'target' / 'classes'}:{JAVA_DIR / 'target' / 'lib' / '*'}"
    return ["java", "-cp", classpath, "camundaworkers.bench.BenchWorker", url, topic,
            str(cfg.batch_size), str(cfg.async_response_timeout), str(load.wait_ms)]


@contextmanager
def _build_lock(directory: Path) -> Iterator[None]:
    """One build at a time per folder (the smoke test and `make bench` may overlap)."""
    with (directory / ".build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _newest(*paths: Path) -> float:
    times = [p.stat().st_mtime for path in paths if path.exists()
             for p in ([path] if path.is_file() else path.rglob("*"))]
    return max(times, default=0.0)


def _run(command: list[str], cwd: Path, what: str) -> None:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise BuildError(f"{what} failed ({' '.join(command)}, exit {result.returncode}):\n"
                         f"{tail}")


def prepare_js() -> None:
    """npm ci into bench/js-client when node_modules is missing or older than the lockfile."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            raise BuildError(f"js_client needs Node.js >= {MIN_NODE} and npm: {tool} not found "
                             "(apt-get install nodejs npm), or leave it out with --variants")
    version = subprocess.run(["node", "--version"], capture_output=True, text=True,
                             check=False).stdout.strip()
    major = re.match(r"v(\d+)", version)
    if major is None or int(major.group(1)) < MIN_NODE:
        raise BuildError(f"js_client needs Node.js >= {MIN_NODE} (the client is ESM only); "
                         f"found {version or 'no version'}")
    with _build_lock(JS_DIR):
        marker = JS_DIR / "node_modules" / ".package-lock.json"
        if _newest(marker) < _newest(JS_DIR / "package-lock.json", JS_DIR / "package.json"):
            _run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], JS_DIR,
                 "installing the JS client")


def prepare_java() -> None:
    """mvn package in bench/java-client when its jar is missing or older than the sources."""
    for tool in ("java", "mvn"):
        if shutil.which(tool) is None:
            raise BuildError(f"java_client needs Java 17 and Maven: {tool} not found "
                             "(apt-get install openjdk-17-jdk-headless maven), or leave it "
                             "out with --variants")
    with _build_lock(JAVA_DIR):
        jar = JAVA_DIR / "target" / "bench-java-client-0.1.0.jar"
        if _newest(jar) < _newest(JAVA_DIR / "pom.xml", JAVA_DIR / "src"):
            _run(["mvn", "-q", "-B", "package"], JAVA_DIR, "building the Java client variant")


def _ours(kind: str) -> Callable[[WorkerConfig], str]:
    return lambda cfg: (f"Worker(max_tasks={cfg.concurrency}, async_response_timeout_ms="
                        f"{cfg.async_response_timeout}), the rest default (lock_duration_ms 60000, "
                        f"one keep-alive pool); handler: {kind}")


VARIANTS: dict[str, Variant] = {v.name: v for v in (
    Variant(
        "camunda_workers", ("noop", "wait50"), _ours("async def"), _python("camunda_workers")),
    Variant(
        "camunda_workers_sync", ("noop", "wait50"),
        _ours("def (runs in the worker's thread pool of max_tasks threads)"),
        _python("camunda_workers_sync")),
    Variant(
        "camunda_workers_no_ahead", ("noop", "wait50"),
        _ours("async def; no tasks fetched ahead: each poll asks for the free slots only "
              "(the strategy the SDK did not keep)"),
        _python("camunda_workers_no_ahead")),
    Variant(
        "camunda_workers_no_priority", ("noop", "wait50"),
        _ours("async def; use_priority=False (fetchAndLock without ORDER BY priority)"),
        _python("camunda_workers_no_priority")),
    Variant(
        "camunda_workers_priority", ("noop", "wait50"),
        _ours("async def; use_priority=True (fetchAndLock ordered by priority, the default "
              "before use_priority='auto')"),
        _python("camunda_workers_priority")),
    Variant(
        "js_client", ("noop", "wait50"),
        lambda cfg: (f"camunda-external-task-client-js 3.1.0: maxTasks {cfg.batch_size}, "
                     f"maxParallelExecutions {cfg.concurrency}, interval {cfg.js_interval}, "
                     f"asyncResponseTimeout {cfg.async_response_timeout}, the rest default "
                     "(lockDuration 50000, usePriority true, got on Node's keep-alive agent)"),
        _js_command, prepare_js),
    Variant(
        "java_client", ("noop", "wait50"),
        lambda cfg: (f"camunda-external-task-client 7.24.0: maxTasks({cfg.batch_size}), "
                     f"asyncResponseTimeout({cfg.async_response_timeout}), the rest default "
                     "(lockDuration 20000, handlers one after another in the client's thread, "
                     "exponential back-off 0.5-60 s after empty polls); JVM defaults"),
        _java_command, prepare_java),
    Variant(
        "raw_keepalive", ("noop",),
        lambda cfg: (f"one httpx.Client (keep-alive): fetchAndLock maxTasks={cfg.batch_size}, "
                     f"asyncResponseTimeout={cfg.async_response_timeout}, lockDuration="
                     f"{cfg.lock_duration}, usePriority=true, then complete each task in turn"),
        _python("raw_keepalive")),
    Variant(
        "ext_task_client_sync", ("noop", "wait50"),
        lambda cfg: (f"camunda-external-task-client-python3 ExternalTaskWorker: maxTasks="
                     f"{cfg.batch_size}, asyncResponseTimeout={cfg.async_response_timeout}, "
                     f"lockDuration={cfg.lock_duration}, sleepSeconds=0, "
                     "includeExtensionProperties=False; a batch's tasks one after the other; "
                     "requests.post per call (no Session)"),
        _python("ext_task_client_sync")),
    Variant(
        "ext_task_client_async", ("noop", "wait50"),
        lambda cfg: (f"camunda-external-task-client-python3 AsyncExternalTaskWorker: "
                     f"maxConcurrentTasks={cfg.concurrency}, asyncResponseTimeout="
                     f"{cfg.async_response_timeout}, lockDuration={cfg.lock_duration}, "
                     "sleepSeconds=0, includeExtensionProperties=False; fetches maxTasks=1 "
                     "(hard-coded), new httpx.AsyncClient per call"),
        _python("ext_task_client_async")),
    Variant(
        "camunda_workers_compat", ("noop", "wait50"),
        lambda cfg: (f"ext_task_client_sync's script, config and handler, the import changed "
                     f"to camunda_workers.compat.ExternalTaskWorker: maxTasks={cfg.batch_size} "
                     "(ours: handlers in flight, in the worker's threads); one keep-alive pool"),
        _python("camunda_workers_compat")),
    Variant(
        "camunda_workers_compat_async", ("noop", "wait50"),
        lambda cfg: (f"ext_task_client_async's script and handler, the import changed to "
                     f"camunda_workers.compat.AsyncExternalTaskWorker: maxConcurrentTasks="
                     f"{cfg.concurrency}, the other keys as there; each poll fetches the free "
                     "slots"),
        _python("camunda_workers_compat_async")),
)}
