"""What a stop or a dropped connection leaves behind, checked on the engine: a task waiting
out its retry timeout keeps waiting, a dropped poll's tasks come back at once, and two
processes with one WORKER_ID never touch each other's tasks."""

from __future__ import annotations

import signal
import subprocess
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from camunda_workers import Task, TaskFailure
from tests.support.engine import EngineApi, unique, wait_until
from tests.support.proxy import TcpRelay
from tests.support.running import (
    SHORT_POLLS,
    execution_starts,
    executions,
    make_worker,
    running,
    spawn_worker,
)

pytestmark = pytest.mark.engine

# Long enough that the restarted worker polls for most of it (it starts in a few seconds).
RETRY_TIMEOUT_MS = 30_000


def _lock_expiry(task: dict[str, object]) -> float:
    text = task["lockExpirationTime"]
    assert isinstance(text, str)
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


def _stop(worker: subprocess.Popen[bytes]) -> None:
    worker.send_signal(signal.SIGTERM)
    try:
        code = worker.wait(timeout=60)
    except subprocess.TimeoutExpired:
        worker.kill()  # leave no process behind a failed test
        worker.wait()
        raise
    assert code == 0


@pytest.mark.slow
def test_a_retry_wait_survives_sigterm_and_a_restart(camunda: EngineApi, tmp_path: Path) -> None:
    topic = unique("retrywait")
    key = camunda.deploy_external_task(topic)
    log = str(tmp_path / "executions.log")
    env = {"CAMUNDA_URL": camunda.url, "TEST_TOPIC": topic, "TEST_EXECUTIONS": log,
           "TEST_MODE": "fail_first", "TEST_RETRY_TIMEOUT": str(RETRY_TIMEOUT_MS),
           "TEST_LOCK_DURATION": "10000", **SHORT_POLLS}
    instance = camunda.start(key)
    first = spawn_worker({**env, "WORKER_ID": "retry-first"})
    try:
        failed = wait_until(lambda: [t for t in camunda.external_tasks(processInstanceId=instance)
                                     if t["retries"] == 1], what="the failure")[0]
    finally:
        _stop(first)
    retry_at = _lock_expiry(failed)
    after_stop = camunda.external_tasks(processInstanceId=instance)[0]
    assert _lock_expiry(after_stop) == retry_at  # the sweep left the retry wait alone
    restarted = spawn_worker({**env, "WORKER_ID": "retry-second"})
    try:
        # up long before the retry time: a task the stop had let go would be taken at once
        assert time.time() < retry_at - RETRY_TIMEOUT_MS / 2000, "restarted too late to tell"
        camunda.wait_finished([instance], timeout=120)
    finally:
        _stop(restarted)
    starts = execution_starts(log)
    assert len(starts) == 2, Path(log).read_text()  # the failed run and the one after the wait
    (_, failed_at), (_, second_at) = starts
    print(f"\n[sweep] failed with a {RETRY_TIMEOUT_MS // 1000} s retry timeout, SIGTERM, restart "
          "with a 10 s lock: "
          f"second run {second_at - failed_at:.1f}s after the first")
    assert second_at >= retry_at - 0.5  # not before the retry time (same clock, ms rounding)


def test_a_dropped_poll_is_swept_and_a_retry_wait_is_not(camunda: EngineApi) -> None:
    topic = unique("dropped")
    key = camunda.deploy_external_task(topic)
    relay = TcpRelay(urlsplit(camunda.url).port or 80)
    relay.up()
    worker = make_worker(camunda, name="dropper", async_response_timeout_ms=5_000,
                         backoff_initial_seconds=0.1, backoff_max_seconds=0.5,
                         base_url=f"http://127.0.0.1:{relay.port}/engine-rest")
    done: list[str] = []

    @worker.topic(topic)  # default lock: 60 s
    def handle(task: Task) -> None:
        if task.variables["fail"]:
            raise TaskFailure("wait a minute", retries=1, retry_timeout=60_000)
        done.append(task.process_instance_id or "")

    waiting = camunda.start(key, {"fail": True})
    try:
        with running(worker):
            failed = wait_until(lambda: [t for t in camunda.external_tasks(
                processInstanceId=waiting) if t["retries"] == 1], what="the failure")[0]
            time.sleep(1)  # inside a long poll
            relay.down()  # the connection drops; the engine keeps the poll pending
            late = camunda.start(key, {"fail": False})
            orphan = wait_until(lambda: camunda.locked_by(worker.worker_id, topic) and [
                t for t in camunda.external_tasks(processInstanceId=late) if t["workerId"]],
                timeout=10, what="the dropped poll to lock the new task")[0]
            dropped_at = time.monotonic()
            relay.up()
            camunda.wait_finished([late], timeout=20)
            took = time.monotonic() - dropped_at
    finally:
        relay.down()
    print(f"\n[sweep] a task locked by a dropped poll (60 s lock) ran {took:.1f}s later")
    assert orphan["workerId"].startswith(f"{worker.worker_id}#")
    assert took < 10  # swept, not left to its 60 s lock
    assert done == [late]
    still = camunda.external_tasks(processInstanceId=waiting)[0]
    assert _lock_expiry(still) == _lock_expiry(failed)  # still waiting out its retry


@pytest.mark.slow
def test_two_processes_with_the_same_worker_id(camunda: EngineApi, tmp_path: Path) -> None:
    topic = unique("shared")
    key = camunda.deploy_external_task(topic)
    log = str(tmp_path / "executions.log")
    env = {"CAMUNDA_URL": camunda.url, "TEST_TOPIC": topic, "TEST_EXECUTIONS": log,
           "WORKER_ID": "the-same-id", "TEST_MAX_TASKS": "5", "TEST_SLEEP": "3",
           "TEST_DRAIN_TIMEOUT": "20", **SHORT_POLLS}
    instances = camunda.start_many(key, 10)
    first = spawn_worker(env, log_path=str(tmp_path / "first.log"))
    second = None
    try:
        wait_until(lambda: sum(executions(log).values()) >= 5, what="5 tasks in the first")
        second = spawn_worker(env, log_path=str(tmp_path / "second.log"))
        wait_until(lambda: sum(executions(log).values()) >= 10, what="5 in the second too")
        _stop(first)  # drains its own 5; the second one's 5 keep running
        camunda.wait_finished(instances, timeout=60)
    finally:
        for worker in (first, second):
            if worker is not None and worker.poll() is None:
                _stop(worker)
    counts = executions(log)
    print(f"\n[sweep] two processes, one WORKER_ID: {len(instances)} instances, "
          f"{sum(counts.values())} handler executions")
    assert counts == dict.fromkeys(instances, 1)  # none ran twice
    handled_by = {row["value"] for row in camunda.get(
        "/history/variable-instance", variableName="handled_by", processDefinitionKey=key,
        deserializeValues="false")}
    assert len(handled_by) == 2  # both reported their own results
    assert "WORKER_ID 'the-same-id' is used by another process too" in (
        tmp_path / "second.log").read_text()
