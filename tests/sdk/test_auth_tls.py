"""Basic auth, bearer tokens and TLS against an engine with authentication switched on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from camunda_workers import Worker
from tests.support.engine import EngineApi, EngineProcess, unique, wait_until
from tests.support.running import running

pytestmark = pytest.mark.engine


def _worker(url: str, topic: str, **options: object) -> tuple[Worker, list[str]]:
    worker = Worker(name="secure", base_url=url, async_response_timeout_ms=500,
                    backoff_max_seconds=0.5, **options)  # type: ignore[arg-type]
    done: list[str] = []
    worker.topic(topic)(lambda task: done.append(task.id))  # type: ignore[func-returns-value]
    return worker, done


@pytest.mark.parametrize("credentials", ["basic", "basic_file", "bearer"])
def test_authenticated_worker_completes(secured: tuple[EngineProcess, EngineApi],
                                        tls_files: tuple[Path, Path], tmp_path: Path,
                                        credentials: str) -> None:
    engine, api = secured
    cert, _ = tls_files
    topic = unique(credentials)
    key = api.deploy_external_task(topic)
    env = {"CAMUNDA_CA_BUNDLE": str(cert)}
    if credentials == "basic":
        env |= {"CAMUNDA_USER": "demo", "CAMUNDA_PASSWORD": "demo"}
    elif credentials == "basic_file":
        (tmp_path / "password").write_text("demo\n")
        env |= {"CAMUNDA_USER": "demo", "CAMUNDA_PASSWORD_FILE": str(tmp_path / "password")}
    else:
        env |= {"CAMUNDA_TOKEN": "test-token"}
    worker, done = _worker(engine.url, topic, environ=env)
    instances = api.start_many(key, 3)
    with running(worker):
        api.wait_finished(instances)
    assert len(done) == 3


@pytest.mark.parametrize("auth", [{"auth_basic": {"username": "demo", "password": "demo"}},
                                  {"auth_bearer": {"access_token": "test-token"}}])
def test_the_compat_layers_auth_keys(secured: tuple[EngineProcess, EngineApi],
                                     tls_files: tuple[Path, Path], auth: dict[str, Any]) -> None:
    """camunda-external-task-client-python3's auth_basic / auth_bearer, our headers."""
    from camunda_workers.compat import ExternalTaskWorker

    engine, api = secured
    cert, _ = tls_files
    topic = unique("compat_auth")
    instance = api.start(api.deploy_external_task(topic))
    compat = ExternalTaskWorker("auth-1", engine.url, {**auth, "asyncResponseTimeout": 500},
                                environ={"CAMUNDA_CA_BUNDLE": str(cert)})
    compat._register({topic: lambda task: task.complete({"authenticated": True})}, None, None)
    with running(compat.worker):
        api.wait_finished([instance])
    assert api.variables(instance)["authenticated"]["value"] is True


def test_wrong_password_is_reported_and_not_ready(secured: tuple[EngineProcess, EngineApi],
                                                  tls_files: tuple[Path, Path],
                                                  caplog: pytest.LogCaptureFixture) -> None:
    engine, _ = secured
    cert, _ = tls_files
    worker, _ = _worker(engine.url, unique("denied"), environ={
        "CAMUNDA_USER": "demo", "CAMUNDA_PASSWORD": "wrong-pass-42",
        "CAMUNDA_CA_BUNDLE": str(cert)})
    with running(worker):
        wait_until(lambda: any("unauthorized" in r.getMessage() for r in caplog.records),
                   timeout=20)
        assert worker._ready() == (False, "engine not reachable")
    assert "wrong-pass-42" not in caplog.text
    errors = [r for r in caplog.records if "engine error (unauthorized)" in r.getMessage()]
    assert len(errors) == 1
    assert errors[0].levelname == "ERROR"


def test_tls_is_verified_by_default(secured: tuple[EngineProcess, EngineApi],
                                    caplog: pytest.LogCaptureFixture) -> None:
    engine, _ = secured
    worker, _ = _worker(engine.url, unique("untrusted"), environ={"CAMUNDA_TOKEN": "test-token"})
    with running(worker):
        wait_until(lambda: any("CERTIFICATE_VERIFY_FAILED" in r.getMessage()
                               for r in caplog.records), timeout=20)
