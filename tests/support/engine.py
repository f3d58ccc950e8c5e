"""A real Camunda 7 / Operaton engine for tests: start one per flavour, and talk to its REST API.

``CAMUNDA_URL`` (e.g. ``http://localhost:8080/engine-rest``) makes the tests use a running
engine instead of starting one. Without Java or Maven the engine tests skip locally and
fail in CI (``CI=true``): in CI nothing may skip.
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from camunda_workers._variables import encode_variables

REPO = Path(__file__).resolve().parents[2]
ENGINE_DIR = REPO / "engine"
PROCESSES = REPO / "tests" / "processes"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


class EngineUnavailable(RuntimeError):
    """The engine could not be built or started here."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(
    predicate: Callable[[], Any], *, timeout: float = 60.0, interval: float = 0.1, what: str = ""
) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)


def engine_jar(flavour: str) -> Path:
    """Build the engine jar of ``flavour`` (camunda|operaton) if needed; return its path."""
    missing = [tool for tool in ("java", "mvn") if shutil.which(tool) is None]
    if missing:
        raise EngineUnavailable(f"{' and '.join(missing)} not found: install openjdk-17 and maven")
    subprocess.run([str(ENGINE_DIR / "engine.sh"), "build", flavour], check=True)
    jar = ENGINE_DIR / "target" / f"engine-{flavour}.jar"
    if not jar.exists():
        raise EngineUnavailable(f"engine build did not produce {jar}")
    return jar


@dataclass
class EngineProcess:
    """An engine we started (``stop``/``start`` again work for fault tests)."""

    flavour: str
    port: int
    args: list[str] = field(default_factory=list)
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    scheme: str = "http"
    verify: bool | ssl.SSLContext = True

    @property
    def url(self) -> str:
        host = "localhost" if self.scheme == "https" else "127.0.0.1"
        return f"{self.scheme}://{host}:{self.port}/engine-rest"

    def start(self, timeout: float = 180.0) -> None:
        log_dir = REPO / ".run"
        log_dir.mkdir(exist_ok=True)
        # A private link: a rebuild replaces engine/target/engine-*.jar, and a running
        # Spring Boot app re-reads its jar by path.
        jar = log_dir / f"engine-{self.flavour}-{self.port}.jar"
        jar.unlink(missing_ok=True)
        try:
            os.link(engine_jar(self.flavour), jar)
        except OSError:
            shutil.copyfile(engine_jar(self.flavour), jar)
        self.log_path = log_dir / f"test-engine-{self.flavour}-{self.port}.log"
        with self.log_path.open("ab") as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                ["java", "-XX:TieredStopAtLevel=1", "-jar", str(jar),
                 f"--server.port={self.port}", *self.args],
                stdout=log, stderr=subprocess.STDOUT, cwd=ENGINE_DIR,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EngineUnavailable(f"engine exited with {self.process.returncode}; "
                                        f"see {self.log_path}")
            try:
                ready = httpx.get(f"{self.url}/engine", timeout=2, verify=self.verify)
                if ready.status_code in (200, 401):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.stop()
        raise EngineUnavailable(f"engine not ready after {timeout}s; see {self.log_path}")

    def stop(self, kill: bool = False) -> None:
        if self.process is None:
            return
        if kill:
            self.process.kill()
        else:
            self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


class EngineApi:
    """What tests need from the engine's REST API, synchronously."""

    def __init__(self, url: str, *, auth: tuple[str, str] | None = None,
                 verify: bool | ssl.SSLContext = True) -> None:
        self.url = url.rstrip("/")
        self.http = httpx.Client(base_url=self.url, timeout=30, auth=auth, verify=verify)

    def close(self) -> None:
        self.http.close()

    def answers(self) -> bool:
        """Whether the engine answers ``GET /engine`` with 200 (a poll for wait_until)."""
        try:
            return self.http.get("/engine", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    def _json(self, response: httpx.Response) -> Any:
        if response.status_code >= 400:
            raise AssertionError(f"{response.request.method} {response.request.url}: "
                                 f"{response.status_code} {response.text}")
        return response.json() if response.content else None

    def get(self, path: str, **params: Any) -> Any:
        return self._json(self.http.get(path, params=params))

    def post(self, path: str, body: Any = None) -> Any:
        return self._json(self.http.post(path, json=body))

    def deploy(self, process: str, *, tenant_id: str | None = None, **placeholders: str) -> str:
        """Deploy ``tests/processes/<process>.bpmn`` with ``__KEY__`` placeholders filled in."""
        text = (PROCESSES / f"{process}.bpmn").read_text(encoding="utf-8")
        for key, value in placeholders.items():
            text = text.replace(f"__{key.upper()}__", value)
        if "__" in text.split("<bpmn:process", 1)[1].split(">", 1)[0]:
            raise AssertionError(f"unfilled placeholder in {process}.bpmn")
        data = {"deployment-name": f"test-{process}", "enable-duplicate-filtering": "true"}
        if tenant_id:
            data["tenant-id"] = tenant_id
        files = {f"{process}.bpmn": (f"{process}.bpmn", text.encode(), "application/xml")}
        deployment = self._json(self.http.post("/deployment/create", data=data, files=files))
        return str(deployment["id"])

    def deploy_external_task(self, topic: str, *, tenant_id: str | None = None) -> str:
        """Deploy a start -> external task(topic) -> end process; return its key."""
        key = f"p_{topic}"
        self.deploy("external_task", tenant_id=tenant_id, process_key=key, topic=topic)
        return key

    def start(
        self,
        key: str,
        variables: Mapping[str, Any] | None = None,
        *,
        business_key: str | None = None,
        typed: Mapping[str, Mapping[str, Any]] | None = None,
        tenant_id: str | None = None,
    ) -> str:
        body: dict[str, Any] = {"variables": {**encode_variables(variables), **(typed or {})}}
        if business_key:
            body["businessKey"] = business_key
        path = f"/process-definition/key/{key}"
        if tenant_id:
            path += f"/tenant-id/{tenant_id}"
        return str(self.post(f"{path}/start", body)["id"])

    def start_many(self, key: str, count: int, variables: Mapping[str, Any] | None = None,
                   ) -> list[str]:
        return [self.start(key, variables) for _ in range(count)]

    def finished(self, instance_ids: list[str]) -> int:
        """How many of these instances have ended."""
        ended = 0
        for offset in range(0, len(instance_ids), 200):
            chunk = instance_ids[offset:offset + 200]
            ended += self.post("/history/process-instance/count", {
                "processInstanceIds": chunk, "finished": True})["count"]
        return ended

    def wait_finished(self, instance_ids: list[str], timeout: float = 60) -> None:
        wait_until(lambda: self.finished(instance_ids) == len(instance_ids), timeout=timeout,
                   interval=0.2, what=f"{len(instance_ids)} instances to finish")

    def variables(self, instance_id: str) -> dict[str, dict[str, Any]]:
        """History variables of an instance by name: ``{"type", "value", "activityInstanceId"}``."""
        rows = self.get("/history/variable-instance", processInstanceId=instance_id,
                        deserializeValues="false")
        return {row["name"]: row for row in rows}

    def activities(self, instance_id: str) -> list[str]:
        rows = self.get("/history/activity-instance", processInstanceId=instance_id)
        return [row["activityId"] for row in rows]

    def external_tasks(self, **params: Any) -> list[dict[str, Any]]:
        return list(self.get("/external-task", **params))

    def incidents(self, instance_id: str) -> list[dict[str, Any]]:
        return list(self.get("/incident", processInstanceId=instance_id))

    def locked_by(self, worker_id: str, topic: str) -> list[dict[str, Any]]:
        """Tasks of ``topic`` locked now by a worker with this WORKER_ID (under any poll id)."""
        return [task for task in self.external_tasks(topicName=topic, locked="true")
                if task["workerId"] == worker_id or task["workerId"].startswith(f"{worker_id}#")]


def unique(prefix: str) -> str:
    """A topic or key no other test uses (tests share one engine)."""
    return f"{prefix}_{uuid.uuid4().hex[:8]}"

