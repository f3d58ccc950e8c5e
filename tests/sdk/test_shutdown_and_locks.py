"""Graceful shutdown and lock extension, with real signals and a real engine."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from camunda_workers import Task, Worker
from tests.support.engine import EngineApi, unique, wait_until
from tests.support.running import executions, running, spawn_worker

pytestmark = pytest.mark.engine


def _env(api: EngineApi, topic: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"CAMUNDA_URL": api.url, "TEST_TOPIC": topic, "WORKER_ID": unique("w"),
            "TEST_EXECUTIONS": str(tmp_path / "executions.log"), **extra}


def _locked_by(api: EngineApi, worker_id: str) -> list[dict[str, object]]:
    return api.external_tasks(workerId=worker_id, locked="true")


def _busy_worker(api: EngineApi, tmp_path: Path, prefix: str, *, instances: int, busy: int,
                 **extra: str) -> tuple[str, dict[str, str], list[str], subprocess.Popen[bytes]]:
    """A worker process with ``busy`` handlers started on ``instances`` new instances."""
    topic = unique(prefix)
    key = api.deploy_external_task(topic)
    env = _env(api, topic, tmp_path, **extra)
    started = api.start_many(key, instances)
    worker = spawn_worker(env, log_path=str(tmp_path / "worker.log"))
    wait_until(lambda: sum(executions(env["TEST_EXECUTIONS"]).values()) >= busy, timeout=60,
               what=f"{busy} handlers in flight")
    return topic, env, started, worker


def test_sigterm_mid_batch_finishes_in_flight_and_exits_0(camunda: EngineApi,
                                                         tmp_path: Path) -> None:
    _, env, instances, worker = _busy_worker(
        camunda, tmp_path, "drain", instances=10, busy=4,
        TEST_SLEEP="2", TEST_MAX_TASKS="4", TEST_DRAIN_TIMEOUT="20")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=20) == 0
    started = executions(env["TEST_EXECUTIONS"])
    assert sum(started.values()) == 4  # nothing new after SIGTERM
    assert camunda.finished(instances) == 4  # the in-flight ones were finished and reported
    assert _locked_by(camunda, env["WORKER_ID"]) == []
    log = (tmp_path / "worker.log").read_text()
    assert "draining 4 in-flight task(s)" in log


def test_sigterm_cuts_an_idle_long_poll_short(camunda: EngineApi, tmp_path: Path) -> None:
    env = _env(camunda, unique("idle"), tmp_path, TEST_ASYNC_RESPONSE_TIMEOUT="60000",
               METRICS_PORT="0")
    worker = spawn_worker(env, log_path=str(tmp_path / "worker.log"))
    wait_until(lambda: "polling" in (tmp_path / "worker.log").read_text(), timeout=30)
    time.sleep(1)  # inside a 60 s long poll now
    sent = time.monotonic()
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=10) == 0
    assert time.monotonic() - sent < 10  # not the 60 s of the long poll


def test_drain_timeout_unlocks_unfinished_tasks(camunda: EngineApi, tmp_path: Path) -> None:
    topic, env, instances, worker = _busy_worker(
        camunda, tmp_path, "slowdrain", instances=3, busy=3,
        TEST_SLEEP="60", TEST_MAX_TASKS="3", TEST_DRAIN_TIMEOUT="2")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=15) == 0
    assert _locked_by(camunda, env["WORKER_ID"]) == []
    tasks = camunda.external_tasks(topicName=topic)
    assert len(tasks) == 3
    assert all(task["lockExpirationTime"] is None for task in tasks)  # back for others
    assert camunda.finished(instances) == 0


def test_second_signal_exits_at_once_after_unlocking(camunda: EngineApi, tmp_path: Path) -> None:
    _, env, _, worker = _busy_worker(
        camunda, tmp_path, "twice", instances=2, busy=2,
        TEST_SLEEP="60", TEST_MAX_TASKS="2", TEST_DRAIN_TIMEOUT="120", TEST_MODE="async")
    worker.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    worker.send_signal(signal.SIGINT)
    assert worker.wait(timeout=10) == 0
    assert _locked_by(camunda, env["WORKER_ID"]) == []


def test_long_handler_keeps_its_lock_and_runs_once(camunda: EngineApi, tmp_path: Path) -> None:
    topic = unique("longlock")
    key = camunda.deploy_external_task(topic)
    registry = CollectorRegistry()
    worker = Worker(name="keeper", base_url=camunda.url, environ={}, registry=registry,
                    async_response_timeout=500)
    runs: list[str] = []

    @worker.topic(topic, lock_duration=2_000)
    def slow(task: Task) -> None:
        runs.append(f"first:{task.process_instance_id}")
        time.sleep(6)  # 3x the lock

    competitor = Worker(name="competitor", base_url=camunda.url, environ={},
                        async_response_timeout=500)

    @competitor.topic(topic, lock_duration=2_000)
    def steal(task: Task) -> None:
        runs.append(f"second:{task.process_instance_id}")

    instance = camunda.start(key)
    with running(worker):
        wait_until(lambda: runs, timeout=30)
        with running(competitor):
            camunda.wait_finished([instance], timeout=30)
    assert runs == [f"first:{instance}"]
    extensions = registry.get_sample_value("camunda_worker_lock_extensions_total",
                                           {"worker": "keeper", "topic": topic})
    assert extensions is not None
    assert extensions >= 2


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_manual_extend_lock(camunda: EngineApi, mode: str) -> None:
    topic = unique(f"manual_{mode}")
    key = camunda.deploy_external_task(topic)
    worker = Worker(name="manual", base_url=camunda.url, environ={}, async_response_timeout=500)
    extended = threading.Event()
    release = threading.Event()

    if mode == "sync":
        @worker.topic(topic, lock_duration=5_000)
        def handle(task: Task) -> None:
            task.extend_lock(600_000)
            extended.set()
            release.wait(30)
    else:
        @worker.topic(topic, lock_duration=5_000)
        async def handle_async(task: Task) -> None:
            import asyncio

            await task.extend_lock_async(600_000)
            extended.set()
            await asyncio.to_thread(release.wait, 30)

    instance = camunda.start(key)
    with running(worker):
        assert extended.wait(30)
        task = camunda.external_tasks(processInstanceId=instance)[0]
        until = datetime.strptime(task["lockExpirationTime"], "%Y-%m-%dT%H:%M:%S.%f%z")
        assert until > datetime.now(UTC) + timedelta(minutes=9)
        release.set()
        camunda.wait_finished([instance])


def test_extend_lock_outside_a_worker_says_why() -> None:
    from camunda_workers.testing import make_task

    with pytest.raises(RuntimeError, match="not running in a worker"):
        make_task().extend_lock(1000)
