"""The main job on the embedded default: a local engine and a worker as a local process.

Deploys ``processes/hello_world.bpmn``, starts instances, runs ``workers/hello-world``
with the current Python until they complete, stops it with SIGTERM and reports.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from ..errors import EngineNotReachable, ToolingError
from ._engine_url import checked_engine_url
from ._ports import port_free

__all__ = ["DemoReport", "run_demo"]


@dataclass
class DemoReport:
    engine_url: str
    started: int
    completed: int
    seconds: float
    greetings: list[str] = field(default_factory=list)
    worker_exit_code: int | None = None


def _engine_message(response: httpx.Response) -> str:
    """The engine's own explanation (its JSON ``message``), else the start of the body."""
    try:
        message = response.json().get("message")
    except (ValueError, AttributeError):
        message = None
    return " ".join(str(message or response.text[:300] or response.reason_phrase).split())


def _call(http: httpx.Client, method: str, path: str, what: str, **kwargs: Any) -> Any:
    """One request to the engine; its JSON answer, or a message naming the request."""
    try:
        response = http.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        raise EngineNotReachable(f"{method} {path} failed ({type(exc).__name__}: {exc}); is "
                                 "the engine running? (`make engine`, or CAMUNDA_URL)") from None
    url = response.request.url
    if response.status_code >= 400:
        raise ToolingError(f"{what}: {method} {url} answered HTTP {response.status_code}: "
                           f"{_engine_message(response)}")
    try:
        return response.json() if response.content else None
    except ValueError:
        raise ToolingError(f"{what}: {method} {url} did not answer JSON; is {http.base_url} "
                           "the engine's REST API (it ends in /engine-rest)?") from None


def _check_engine(http: httpx.Client, url: str) -> None:
    try:
        response = http.get("/engine")
    except httpx.HTTPError as exc:
        raise EngineNotReachable(
            f"no engine answers at {url} ({type(exc).__name__}: {exc}); start one with "
            "`make engine` or point CAMUNDA_URL at yours") from None
    if response.status_code != 200:
        raise EngineNotReachable(
            f"{url}/engine answered HTTP {response.status_code}, not the engine list; is "
            f"{url} a Camunda 7 REST API (it ends in /engine-rest)? Start one with "
            "`make engine` or point CAMUNDA_URL at yours")


def _deploy(http: httpx.Client, bpmn: Path) -> None:
    try:
        content = bpmn.read_bytes()
    except OSError as exc:
        raise ToolingError(f"{bpmn}: cannot read ({exc.strerror}); restore it from git") from None
    files = {bpmn.name: (bpmn.name, content, "application/xml")}
    data = {"deployment-name": "camunda-workers-demo", "enable-duplicate-filtering": "true"}
    _call(http, "POST", "/deployment/create", f"{bpmn}: the deployment", data=data,
          files=files)


def _finished(http: httpx.Client, ids: list[str]) -> int:
    body = {"processInstanceIds": ids, "finished": True}
    answer = _call(http, "POST", "/history/process-instance/count", "counting finished "
                   "instances", json=body)
    return int(answer["count"])


def run_demo(
    *, repo: Path, engine_url: str, instances: int = 10, timeout: float = 120.0
) -> DemoReport:
    engine_url = checked_engine_url(engine_url)
    worker_dir = repo / "workers" / "hello-world"
    with httpx.Client(base_url=engine_url.rstrip("/"), timeout=30) as http:
        _check_engine(http, engine_url)
        _deploy(http, repo / "processes" / "hello_world.bpmn")
        names = [f"person {n}" for n in range(1, instances + 1)]
        ids = [
            _call(http, "POST", "/process-definition/key/hello_world/start",
                  "starting a hello_world instance (is processes/hello_world.bpmn the "
                  "process with id hello_world?)",
                  json={"variables": {"name": {"value": name, "type": "String"}}})["id"]
            for name in names
        ]
        started_at = time.monotonic()
        # workers/ on the path for the shared `common` package, as in the images
        env = {**os.environ, "CAMUNDA_URL": engine_url, "PYTHONPATH": str(repo / "workers")}
        # worker.json's port when it is free, so that `make monitoring` scrapes the demo
        port = json.loads((worker_dir / "worker.json").read_text())["port"]
        env["METRICS_PORT"] = str(port) if port_free(port) else "0"
        worker = subprocess.Popen([sys.executable, "main.py"], cwd=worker_dir, env=env)
        try:
            while _finished(http, ids) < len(ids):
                if worker.poll() is not None:
                    raise ToolingError(f"the hello-world worker exited with {worker.returncode}")
                if time.monotonic() - started_at > timeout:
                    raise ToolingError(f"instances not finished after {timeout:.0f}s")
                time.sleep(0.2)
            seconds = time.monotonic() - started_at
        finally:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
                try:
                    worker.wait(30)
                except subprocess.TimeoutExpired:
                    worker.kill()
                    worker.wait()
        rows = _call(http, "GET", "/history/variable-instance", "reading the greetings",
                     params={"variableName": "greeting",
                             "processInstanceIdIn": ",".join(ids[:5])})
        greetings = [row["value"] for row in rows]
        return DemoReport(engine_url=engine_url, started=len(ids),
                          completed=_finished(http, ids), seconds=seconds,
                          greetings=sorted(greetings), worker_exit_code=worker.returncode)
