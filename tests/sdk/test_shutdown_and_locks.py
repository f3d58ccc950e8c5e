"""Graceful shutdown and lock extension, with real signals and a real engine."""

from __future__ import annotations

import re
import signal
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from prometheus_client import CollectorRegistry

from camunda_workers import Task, Worker
from tests.support.engine import EngineApi, unique, wait_until
from tests.support.proxy import BlackHole, TcpRelay
from tests.support.running import executions, make_worker, running, spawn_worker

pytestmark = pytest.mark.engine


def _env(api: EngineApi, topic: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"CAMUNDA_URL": api.url, "TEST_TOPIC": topic, "WORKER_ID": unique("w"),
            "TEST_EXECUTIONS": str(tmp_path / "executions.log"), **extra}


def _busy_worker(api: EngineApi, tmp_path: Path, prefix: str, *, instances: int, busy: int,
                 url: str | None = None, **extra: str,
                 ) -> tuple[str, dict[str, str], list[str], subprocess.Popen[bytes]]:
    """A worker process (on ``url``, default the engine's) with ``busy`` handlers started
    on ``instances`` new instances."""
    topic = unique(prefix)
    key = api.deploy_external_task(topic)
    env = _env(api, topic, tmp_path, **extra)
    if url is not None:
        env["CAMUNDA_URL"] = url
    started = api.start_many(key, instances)
    worker = spawn_worker(env, log_path=str(tmp_path / "worker.log"))
    wait_until(lambda: sum(executions(env["TEST_EXECUTIONS"]).values()) >= busy, timeout=60,
               what=f"{busy} handlers in flight")
    return topic, env, started, worker


def _stop(worker: subprocess.Popen[bytes], *, bound: float, signum: int = signal.SIGTERM,
          ) -> float:
    """Send ``signum``; assert exit code 0 within ``bound`` seconds (the worker's promise)
    plus 0.5 s for the signal's delivery; return the time taken."""
    sent = time.monotonic()
    worker.send_signal(signum)
    try:
        code = worker.wait(timeout=bound + 30)
    except subprocess.TimeoutExpired:
        worker.kill()  # leave no process behind a failed test
        worker.wait()
        raise AssertionError(f"no exit {bound + 30}s after the signal") from None
    assert code == 0
    took = time.monotonic() - sent
    assert took < bound + 0.5, f"exit took {took:.1f}s, the bound is {bound}s"
    return took


def _unlocked(api: EngineApi, topic: str) -> bool:
    tasks = api.external_tasks(topicName=topic)
    return bool(tasks) and all(task["lockExpirationTime"] is None for task in tasks)


def test_sigterm_mid_batch_finishes_in_flight_and_exits_0(camunda: EngineApi,
                                                         tmp_path: Path) -> None:
    topic, env, instances, worker = _busy_worker(
        camunda, tmp_path, "drain", instances=10, busy=4,
        TEST_SLEEP="2", TEST_MAX_TASKS="4", TEST_DRAIN_TIMEOUT="20")
    _stop(worker, bound=20)
    started = executions(env["TEST_EXECUTIONS"])
    assert sum(started.values()) == 4  # nothing new after SIGTERM
    assert camunda.finished(instances) == 4  # the in-flight ones were finished and reported
    assert camunda.locked_by(env["WORKER_ID"], topic) == []
    log = (tmp_path / "worker.log").read_text()
    assert "draining 4 in-flight task(s)" in log


def test_sigterm_hands_back_the_tasks_fetched_ahead_at_once(camunda: EngineApi,
                                                            tmp_path: Path) -> None:
    """Short tasks are fetched ahead of the free slots; a stop unlocks those at once (they
    never started) and drains only the running ones."""
    topic, env, instances, worker = _busy_worker(
        camunda, tmp_path, "ahead", instances=200, busy=40,
        TEST_SLEEP="0.2", TEST_MAX_TASKS="8", TEST_DRAIN_TIMEOUT="20")
    # Stop while some are held ahead: more locked than its 8 slots run (the queue empties
    # now and then: the worker waits for a whole batch before it fetches again).
    wait_until(lambda: len(camunda.locked_by(env["WORKER_ID"], topic)) > 8, timeout=20,
               interval=0.02, what="tasks fetched ahead")
    _stop(worker, bound=20)
    starts = executions(env["TEST_EXECUTIONS"])
    log = (tmp_path / "worker.log").read_text()
    handed_back = re.search(r"handing back (\d+) task\(s\) fetched ahead", log)
    assert handed_back, log
    assert max(starts.values()) == 1  # none ran twice
    assert camunda.finished(instances) == len(starts)  # every started one was reported
    assert camunda.locked_by(env["WORKER_ID"], topic) == []
    waiting = camunda.external_tasks(topicName=topic)
    assert len(waiting) == len(instances) - len(starts)
    assert all(task["lockExpirationTime"] is None for task in waiting)  # back for others
    print(f"\n[shutdown] {len(starts)} of {len(instances)} short tasks ran; "
          f"{handed_back.group(1)} fetched ahead were unlocked at the stop")


def test_an_idle_worker_waits_for_its_last_poll_and_leaves_nothing_pending(
        camunda: EngineApi, tmp_path: Path) -> None:
    """No poll outlives its worker: a task created 1 s after a clean exit goes to another
    worker within 2 s (a cut long poll would lock it for the stopped worker)."""
    topic = unique("afterexit")
    key = camunda.deploy_external_task(topic)
    env = _env(camunda, topic, tmp_path, TEST_ASYNC_RESPONSE_TIMEOUT="8000", METRICS_PORT="0")
    stopping = spawn_worker(env, log_path=str(tmp_path / "worker.log"))
    wait_until(lambda: "polling" in (tmp_path / "worker.log").read_text(), timeout=30)
    time.sleep(1)  # inside an 8 s long poll now
    took = _stop(stopping, bound=8)  # the rest of that poll at most
    # Another worker starts polling after the exit: a poll the stopped worker left pending
    # would come first in the engine's queue and take the new task.
    other = make_worker(camunda, name="other", async_response_timeout_ms=5_000)
    ran_at: list[float] = []
    other.topic(topic, lock_duration_ms=600_000)(lambda task: ran_at.append(time.monotonic()))  # type: ignore[func-returns-value]
    with running(other):
        time.sleep(1)
        created = time.monotonic()
        instance = camunda.start(key)
        wait_until(lambda: camunda.finished([instance]), timeout=10, interval=0.05)
    print(f"\n[shutdown] idle worker exited {took:.1f}s after SIGTERM; a task created 1 s "
          f"later ran on the other worker {ran_at[0] - created:.2f}s after it was created")
    assert ran_at[0] - created < 2
    history = camunda.get("/history/external-task-log", processInstanceId=instance)
    assert {row["workerId"].split("#")[0] for row in history if row["workerId"]} == {
        other.worker_id}


def test_drain_timeout_unlocks_unfinished_tasks(camunda: EngineApi, tmp_path: Path) -> None:
    topic, env, instances, worker = _busy_worker(
        camunda, tmp_path, "slowdrain", instances=3, busy=3,
        TEST_SLEEP="60", TEST_MAX_TASKS="3", TEST_DRAIN_TIMEOUT="2")
    _stop(worker, bound=2)  # drain_timeout_seconds
    assert camunda.locked_by(env["WORKER_ID"], topic) == []
    tasks = camunda.external_tasks(topicName=topic)
    assert len(tasks) == 3
    assert all(task["lockExpirationTime"] is None for task in tasks)  # back for others
    assert camunda.finished(instances) == 0


def test_second_signal_exits_at_once_after_unlocking(camunda: EngineApi, tmp_path: Path) -> None:
    topic, env, _, worker = _busy_worker(
        camunda, tmp_path, "twice", instances=2, busy=2,
        TEST_SLEEP="60", TEST_MAX_TASKS="2", TEST_DRAIN_TIMEOUT="120", TEST_MODE="async")
    worker.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    _stop(worker, bound=2, signum=signal.SIGINT)  # 2 s for the unlocks
    assert camunda.locked_by(env["WORKER_ID"], topic) == []


def test_a_handler_stuck_in_to_thread_cannot_hold_the_process(camunda: EngineApi,
                                                              tmp_path: Path) -> None:
    topic, _, instances, worker = _busy_worker(
        camunda, tmp_path, "tothread", instances=1, busy=1,
        TEST_MODE="to_thread", TEST_SLEEP="3600", TEST_DRAIN_TIMEOUT="3")
    took = _stop(worker, bound=3)
    print(f"\n[shutdown] handler stuck in asyncio.to_thread: exit 0 after {took:.1f}s "
          "(drain_timeout_seconds 3)")
    assert _unlocked(camunda, topic)  # handed back, for another worker
    assert camunda.finished(instances) == 0


def test_sigterm_against_an_engine_that_never_answers(tmp_path: Path) -> None:
    hole = BlackHole()
    try:
        env = {"CAMUNDA_URL": f"http://127.0.0.1:{hole.port}/engine-rest",
               "TEST_TOPIC": "never_answered", "TEST_DRAIN_TIMEOUT": "4"}
        worker = spawn_worker(env, log_path=str(tmp_path / "worker.log"))
        wait_until(lambda: "polling" in (tmp_path / "worker.log").read_text(), timeout=30)
        time.sleep(1)  # the first poll hangs; http_timeout_seconds (10) is longer than the drain
        took = _stop(worker, bound=4)
    finally:
        hole.close()
    print(f"\n[shutdown] engine accepting TCP and never answering: exit 0 after {took:.1f}s "
          "(drain_timeout_seconds 4)")


def test_sigterm_while_the_engine_hangs_with_a_task_in_flight(camunda: EngineApi,
                                                              tmp_path: Path) -> None:
    relay = TcpRelay(urlsplit(camunda.url).port or 80)
    relay.up()
    try:
        topic, _, instances, worker = _busy_worker(
            camunda, tmp_path, "hung", instances=1, busy=1,
            url=f"http://127.0.0.1:{relay.port}/engine-rest", TEST_SLEEP="2",
            TEST_DRAIN_TIMEOUT="5")
        relay.hang()  # the handler's result will meet an engine that never answers
        took = _stop(worker, bound=5)
    finally:
        relay.down()
    print(f"\n[shutdown] engine hung while a task ran: exit 0 after {took:.1f}s "
          "(drain_timeout_seconds 5)")
    assert camunda.finished(instances) == 0
    assert camunda.external_tasks(topicName=topic)[0]["lockExpirationTime"] is not None


def test_long_handler_keeps_its_lock_and_runs_once(camunda: EngineApi, tmp_path: Path) -> None:
    topic = unique("longlock")
    key = camunda.deploy_external_task(topic)
    registry = CollectorRegistry()
    worker = Worker(name="keeper", base_url=camunda.url, environ={}, registry=registry,
                    async_response_timeout_ms=500)
    runs: list[str] = []

    @worker.topic(topic, lock_duration_ms=2_000)
    def slow(task: Task) -> None:
        runs.append(f"first:{task.process_instance_id}")
        time.sleep(6)  # 3x the lock

    competitor = Worker(name="competitor", base_url=camunda.url, environ={},
                        async_response_timeout_ms=500)

    @competitor.topic(topic, lock_duration_ms=2_000)
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
    worker = Worker(name="manual", base_url=camunda.url, environ={}, async_response_timeout_ms=500)
    extended = threading.Event()
    release = threading.Event()

    if mode == "sync":
        @worker.topic(topic, lock_duration_ms=5_000)
        def handle(task: Task) -> None:
            task.extend_lock(600_000)
            extended.set()
            release.wait(30)
    else:
        @worker.topic(topic, lock_duration_ms=5_000)
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
