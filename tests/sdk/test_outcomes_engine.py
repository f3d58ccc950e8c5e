"""How tasks end, against a real engine: BPMN errors, failures, retries, incidents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from camunda_workers import BpmnError, Task, TaskFailure
from tests.support.engine import EngineApi, unique, wait_until
from tests.support.running import make_worker, running

pytestmark = pytest.mark.engine


def test_bpmn_error_is_caught_by_boundary_event(engine: EngineApi) -> None:
    topic = unique("charge")
    key = f"p_{topic}"
    engine.deploy("bpmn_error", process_key=key, topic=topic, error_code="CARD_DECLINED")
    worker = make_worker(engine)

    @worker.topic(topic)
    async def charge(task: Task) -> None:
        raise BpmnError("CARD_DECLINED", "declined", variables={"reason": "limit"})

    instance = engine.start(key)
    with running(worker):
        engine.wait_finished([instance])
    assert "caught" in engine.activities(instance)
    assert "done" not in engine.activities(instance)
    assert engine.variables(instance)["reason"]["value"] == "limit"


def test_task_failure_sends_exactly_its_decision(engine: EngineApi) -> None:
    topic = unique("explicit")
    key = engine.deploy_external_task(topic)
    worker = make_worker(engine)

    @worker.topic(topic)
    def fail(task: Task) -> None:
        raise TaskFailure("printer on fire", details="room 3", retries=7, retry_timeout=600_000)

    instance = engine.start(key)
    before = datetime.now(UTC)
    with running(worker):
        rows = wait_until(lambda: [t for t in engine.external_tasks(processInstanceId=instance)
                                   if t["retries"] is not None], what="the failure")
    task = rows[0]
    assert task["retries"] == 7
    assert task["errorMessage"] == "printer on fire"
    assert engine.http.get(f"/external-task/{task['id']}/errorDetails").text == "room 3"
    locked_until = datetime.strptime(task["lockExpirationTime"], "%Y-%m-%dT%H:%M:%S.%f%z")
    assert locked_until > before + timedelta(minutes=9)  # the retry timeout we asked for


def test_task_failure_with_zero_retries_raises_incident(engine: EngineApi) -> None:
    topic = unique("fatal")
    key = engine.deploy_external_task(topic)
    worker = make_worker(engine)
    worker.topic(topic)(_raise(TaskFailure("no way", retries=0)))
    instance = engine.start(key)
    with running(worker):
        incidents = wait_until(lambda: engine.incidents(instance), what="an incident")
    assert incidents[0]["incidentType"] == "failedExternalTask"
    assert incidents[0]["incidentMessage"] == "no way"


def _raise(error: Exception) -> Any:
    def handler(task: Task) -> None:
        raise error
    return handler


def test_unexpected_exception_counts_retries_down_to_incident(camunda: EngineApi) -> None:
    topic = unique("flaky")
    key = camunda.deploy_external_task(topic)
    worker = make_worker(camunda, retries=2, retry_timeout=0)
    attempts: list[int | None] = []

    @worker.topic(topic)
    def always_broken(task: Task) -> None:
        attempts.append(task.retries)
        raise ValueError(f"attempt {len(attempts)} broke")

    instance = camunda.start(key)
    with running(worker):
        incidents = wait_until(lambda: camunda.incidents(instance), what="an incident")
    # first try: no retries yet; then the worker's setting counted down to 0
    assert attempts == [None, 2, 1]
    assert incidents[0]["incidentMessage"] == "ValueError: attempt 3 broke"
    task = camunda.external_tasks(processInstanceId=instance)[0]
    assert task["retries"] == 0
    details = camunda.http.get(f"/external-task/{task['id']}/errorDetails").text
    assert "Traceback (most recent call last)" in details
    assert "always_broken" in details


def test_retry_timeout_grows_exponentially(camunda: EngineApi) -> None:
    topic = unique("backoff")
    key = camunda.deploy_external_task(topic)
    worker = make_worker(camunda, retries=3, retry_timeout=60_000, retry_backoff=3)
    worker.topic(topic)(_raise(RuntimeError("down")))
    instance = camunda.start(key)
    start = datetime.now(UTC)
    with running(worker):
        task = wait_until(lambda: [t for t in camunda.external_tasks(processInstanceId=instance)
                                   if t["retries"] is not None], what="a failure")[0]
    # The first failure waits retry_timeout; the policy then multiplies by 3 (unit-tested).
    locked_until = datetime.strptime(task["lockExpirationTime"], "%Y-%m-%dT%H:%M:%S.%f%z")
    assert start + timedelta(seconds=50) < locked_until < start + timedelta(seconds=75)
    assert task["retries"] == 3


def test_failing_task_does_not_stop_other_work(camunda: EngineApi) -> None:
    bad, good = unique("bad"), unique("good")
    bad_key, good_key = camunda.deploy_external_task(bad), camunda.deploy_external_task(good)
    worker = make_worker(camunda, retries=0)
    worker.topic(bad)(_raise(KeyError("missing")))
    worker.topic(good)(lambda task: {"ok": True})
    broken = camunda.start(bad_key)
    fine = camunda.start_many(good_key, 5)
    with running(worker):
        camunda.wait_finished(fine)
        wait_until(lambda: camunda.incidents(broken), what="an incident")


def test_handler_returning_wrong_type_fails_the_task(camunda: EngineApi) -> None:
    topic = unique("wrongtype")
    key = camunda.deploy_external_task(topic)
    worker = make_worker(camunda, retries=0)
    worker.topic(topic)(lambda task: ["not", "a", "dict"])
    instance = camunda.start(key)
    with running(worker):
        incident = wait_until(lambda: camunda.incidents(instance), what="an incident")[0]
    assert "returned list" in incident["incidentMessage"]


def test_unsendable_variable_fails_the_task_with_its_name(camunda: EngineApi) -> None:
    topic = unique("unsendable")
    key = camunda.deploy_external_task(topic)
    worker = make_worker(camunda, retries=0)
    worker.topic(topic)(lambda task: {"when": object()})
    instance = camunda.start(key)
    with running(worker):
        incident = wait_until(lambda: camunda.incidents(instance), what="an incident")[0]
    assert "variable 'when'" in incident["incidentMessage"]
