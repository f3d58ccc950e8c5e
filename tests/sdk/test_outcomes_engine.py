"""How tasks end, against a real engine: BPMN errors, failures, retries, incidents, results
the engine cannot take, its refusals, and tasks that vanish (the README's table)."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from camunda_workers import BpmnError, Task, TaskFailure, TypedValue
from tests.support.engine import EngineApi, unique, wait_until
from tests.support.running import make_worker, running

# fixtures `camunda` and `engine` of this module: each test runs once more on PostgreSQL
from tests.support.sessions import camunda_also_on_postgres, engine_also_on_postgres  # noqa: F401

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
    worker = make_worker(camunda, retries=2, retry_timeout_ms=0)
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
    worker = make_worker(camunda, retries=3, retry_timeout_ms=60_000, retry_backoff=3)
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


# -- results the engine cannot take, refusals, tasks that vanish -------------------------

UNSENDABLE: dict[str, tuple[object, str]] = {
    "nan": (float("nan"), "nan cannot be sent: JSON has no NaN or infinity"),
    "infinity": (float("inf"), "inf cannot be sent: JSON has no NaN or infinity"),
    "surrogate": ("abc\ud800", "has a lone surrogate '\\ud800' at index 3"),
    "decimal": (Decimal("9.99"), "cannot send a Decimal"),
    "set": ({1, 2}, "cannot send a set"),
    "object": (object(), "cannot send a value of type object"),
    "bytes_in_dict": ({"raw": b"\x00"}, "['raw'] is bytes"),
}


def _metric(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, {"worker": "test-worker", **labels}) or 0.0


def test_results_the_engine_cannot_take_fail_the_task_naming_the_variable(
        engine: EngineApi) -> None:
    topic = unique("unsendable")
    key = engine.deploy_external_task(topic)
    registry = CollectorRegistry()
    worker = make_worker(engine, retries=0, registry=registry)
    runs: Counter[str] = Counter()

    @worker.topic(topic)
    def handle(task: Task) -> dict[str, Any]:
        runs[task.variables["case"]] += 1
        return {"fine": 1, "v": UNSENDABLE[task.variables["case"]][0]}

    instances = {case: engine.start(key, {"case": case}) for case in UNSENDABLE}
    with running(worker):
        wait_until(lambda: all(engine.incidents(i) for i in instances.values()),
                   what="an incident per case")
        time.sleep(1.5)  # more polls: nothing runs again
    for case, instance in instances.items():
        message = engine.incidents(instance)[0]["incidentMessage"]
        assert message.startswith("UnsendableVariableError: variable 'v': "), message
        assert UNSENDABLE[case][1] in message, message
        assert "v" not in engine.variables(instance)  # nothing of the result was stored
    assert runs == dict.fromkeys(UNSENDABLE, 1)
    cases = len(UNSENDABLE)
    assert _metric(registry, "camunda_worker_reports_not_accepted_total", topic=topic,
                   report="complete", kind="unsendable") == cases
    assert _metric(registry, "camunda_worker_tasks_handled_total", topic=topic,
                   outcome="failed") == cases
    assert _metric(registry, "camunda_worker_tasks_handled_total", topic=topic,
                   outcome="completed") == 0
    print(f"\n[outcome] {cases} unsendable results: {cases} failures, {cases} incidents, "
          f"each handler ran once")


def test_an_engine_refusing_complete_counts_retries_down_to_an_incident(
        engine: EngineApi) -> None:
    topic = unique("refused")
    key = f"p_{topic}"
    engine.deploy("failing_listener", process_key=key, topic=topic)
    registry = CollectorRegistry()
    worker = make_worker(engine, retries=2, retry_timeout_ms=0, registry=registry)
    runs: list[int | None] = []

    @worker.topic(topic)
    def handle(task: Task) -> dict[str, Any]:
        runs.append(task.retries)
        return {"done": True}

    instance = engine.start(key)
    started = time.monotonic()
    with running(worker):
        incident = wait_until(lambda: engine.incidents(instance), what="an incident")[0]
        took = time.monotonic() - started
        time.sleep(1.5)  # more polls: nothing runs again
    assert runs == [None, 2, 1]  # the first try, then the worker's 2 retries
    assert incident["incidentMessage"].startswith("engine refused complete: ProcessEngineExcep")
    assert "Cannot resolve identifier 'missingBean'" in incident["incidentMessage"]
    failures = engine.get("/history/external-task-log", processInstanceId=instance,
                          failureLog="true")
    assert len(failures) == 3
    assert _metric(registry, "camunda_worker_reports_not_accepted_total", topic=topic,
                   report="complete", kind="refused") == 3
    assert _metric(registry, "camunda_worker_tasks_handled_total", topic=topic,
                   outcome="failed") == 3
    assert _metric(registry, "camunda_worker_tasks_handled_total", topic=topic,
                   outcome="completed") == 0
    print(f"\n[outcome] 500 on every complete: {len(runs)} executions, {len(failures)} "
          f"failures, incident after {took:.1f}s")


@pytest.mark.parametrize(("value", "refusal"), [
    (TypedValue("abc", "Integer"),  # 400
     "InvalidRequestException: Cannot convert value 'abc' of type 'Integer'"),
    (TypedValue("x" * 5000, "String"),  # 500: longer than the String column
     "ProcessEnginePersistenceException: An exception occurred in the persistence layer"),
])
def test_other_refusals_become_a_failure_with_the_engines_message(
        camunda: EngineApi, value: TypedValue, refusal: str) -> None:
    topic = unique("badvalue")
    key = camunda.deploy_external_task(topic)
    worker = make_worker(camunda, retries=0)
    worker.topic(topic)(lambda task: {"n": value})
    instance = camunda.start(key)
    with running(worker):
        incident = wait_until(lambda: camunda.incidents(instance), what="an incident")[0]
    assert incident["incidentMessage"].startswith(f"engine refused complete: {refusal}")


def test_an_instance_deleted_while_its_handler_runs(camunda: EngineApi) -> None:
    topic = unique("deleted")
    key = camunda.deploy_external_task(topic)
    registry = CollectorRegistry()
    worker = make_worker(camunda, registry=registry)
    started, release = threading.Event(), threading.Event()

    @worker.topic(topic)
    def handle(task: Task) -> dict[str, Any]:
        if task.variables["first"]:
            started.set()
            release.wait(30)
        return {"done": True}

    doomed = camunda.start(key, {"first": True})
    with running(worker):
        assert started.wait(30)
        camunda.http.delete(f"/process-instance/{doomed}").raise_for_status()
        release.set()
        wait_until(lambda: _metric(registry, "camunda_worker_reports_not_accepted_total",
                                   topic=topic, report="complete", kind="task_gone") == 1,
                   what="the 404 to be counted")
        survivor = camunda.start(key, {"first": False})  # the worker goes on
        camunda.wait_finished([survivor])
    state = camunda.get(f"/history/process-instance/{doomed}")["state"]
    assert state == "EXTERNALLY_TERMINATED"
    assert _metric(registry, "camunda_worker_tasks_handled_total", topic=topic,
                   outcome="completed") == 1
    assert camunda.incidents(doomed) == []


def test_a_variable_that_cannot_be_decoded_fails_only_its_task(camunda: EngineApi) -> None:
    topic = unique("undecodable")
    key = camunda.deploy_external_task(topic)
    registry = CollectorRegistry()
    worker = make_worker(camunda, retries=0, max_tasks=10, registry=registry)
    ran: list[str] = []
    worker.topic(topic)(lambda task: ran.append(task.process_instance_id or ""))  # type: ignore[func-returns-value]
    good = [camunda.start(key, {"doc": {"ok": n}}) for n in range(3)]
    bad_json = camunda.start(key, typed={"doc": {"type": "Json", "value": "{not json"}})
    bad_object = camunda.start(key, typed={"doc": {
        "type": "Object", "value": "not json either",
        "valueInfo": {"objectTypeName": "java.util.HashMap",
                      "serializationDataFormat": "application/json"}}})
    with running(worker):  # all five arrive in the first poll
        camunda.wait_finished(good)
        wait_until(lambda: camunda.incidents(bad_json) and camunda.incidents(bad_object))
    assert sorted(ran) == sorted(good)  # the handler never saw the broken ones
    for instance, kind in ((bad_json, "Json"), (bad_object, "Object")):
        message = camunda.incidents(instance)[0]["incidentMessage"]
        assert message.startswith(f"VariableDecodeError: variable 'doc' ({kind}) cannot be "
                                  "decoded"), message
    assert _metric(registry, "camunda_worker_tasks_fetched_total", topic=topic) == 5


def test_no_log_line_per_task_at_info(camunda: EngineApi,
                                      caplog: pytest.LogCaptureFixture) -> None:
    """Completions and BPMN errors are counted in metrics, not logged one line per task
    at INFO (the noise the Python client is blamed for, its issue #50)."""
    topic = unique("quiet")
    key = f"p_{topic}"
    camunda.deploy("bpmn_error", process_key=key, topic=topic, error_code="NO")
    worker = make_worker(camunda, max_tasks=8)

    @worker.topic(topic)
    async def half_refuse(task: Task) -> None:
        if task.variables["n"] % 2:
            raise BpmnError("NO", "refused")

    caplog.set_level(logging.DEBUG)
    instances = [camunda.start(key, {"n": n}) for n in range(20)]
    with running(worker):
        camunda.wait_finished(instances)
    # The worker's own lines and its HTTP client's (the test's engine client logs too).
    loud = [r for r in caplog.records if r.levelno >= logging.INFO
            and r.name.split(".")[0] in ("camunda_workers", "aiohttp", "asyncio")]
    per_task = [r.getMessage() for r in loud
                if getattr(r, "task_id", None) or any(i in r.getMessage() for i in instances)]
    assert per_task == []
    assert len(loud) <= 4, [r.getMessage() for r in loud]  # start, stop (and drain)
    # the BPMN errors are there for whoever turns DEBUG on
    assert sum("threw BPMN error NO" in r.getMessage() for r in caplog.records) == 10
