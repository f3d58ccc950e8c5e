"""Whatever a fetched task holds, it ends: a variable that cannot be decoded (nested too
deeply, a number too large, not valid Unicode, a wrong value for its type, not even a
typed value) fails its task naming it, retries counting down; nothing is left for the
lock to expire. A property test over the outcome path, then the real engine."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from camunda_workers import Task
from camunda_workers._client import EngineClient, HttpAnswer
from camunda_workers._engine_state import EngineState
from camunda_workers._locks import LockRenewal
from camunda_workers._metrics import WorkerMetrics
from camunda_workers._outcome import OutcomePath
from camunda_workers._retry import ExponentialRetryPolicy
from camunda_workers._router import Subscription
from camunda_workers._variables import VariableDecodeError, decode_variables
from tests.support.engine import EngineApi, unique, wait_until
from tests.support.running import make_worker, running


class Recorder:
    """A transport that answers like an engine that accepts everything: reports get 204,
    a File variable's content is ``b"file"``. Records what was sent."""

    def __init__(self) -> None:
        self.reports: list[tuple[str, dict[str, Any]]] = []

    async def send(self, method: str, url: str, *, headers: Mapping[str, str],
                   body: bytes | None, params: Mapping[str, str | int] | None,
                   timeout: float) -> HttpAnswer:  # noqa: ASYNC109
        if method == "GET":
            return HttpAnswer(200, b"file")
        self.reports.append((url.rsplit("/", 1)[-1], json.loads(body) if body else {}))
        return HttpAnswer(204)

    async def aclose(self) -> None:
        pass


async def settle(raw: dict[str, Any]) -> tuple[list[tuple[str, dict[str, Any]]], list[Task]]:
    """Settle one fetched task on the worker's outcome path; what was reported, what ran."""
    recorder = Recorder()
    client = EngineClient(base_url="http://engine.invalid/engine-rest", transport=recorder)
    metrics = WorkerMetrics(worker="w", version="0", engine_url=client.base_url,
                            registry=CollectorRegistry())
    engine = EngineState(metrics, backoff_max=0.1)
    loop = asyncio.get_running_loop()
    renewal = LockRenewal(client=client, metrics=metrics, engine=engine, loop=loop)
    ran: list[Task] = []

    async def handler(task: Task) -> None:
        ran.append(task)

    outcome = OutcomePath(client=client, subscriptions={"t": Subscription("t", handler)},
                          retry_policy=ExponentialRetryPolicy(retries=3), metrics=metrics,
                          engine=engine, renewal=renewal, backoff=(0.01, 0.02),
                          deadline=lambda: None)
    lock = renewal.new_lock(task_id=str(raw["id"]), topic="t", owner="w#1", lock_ms=60_000,
                            locked_at=loop.time())
    await outcome.settle(raw, lock)
    return recorder.reports, ran


ENGINE_TYPES = ["String", "Boolean", "Xml", "Short", "Integer", "Long", "Double", "Date",
                "Bytes", "Json", "Null", "Object", "File", "", "NoSuchType"]
JSON_OBJECT = {"objectTypeName": "java.util.HashMap", "serializationDataFormat":
               "application/json"}
HOSTILE_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(),
    # beyond a Java long, a float; (beyond str(): below, hypothesis cannot show those)
    st.sampled_from([2**63, -(2**63) - 1, 10**400]),
    st.floats(),  # NaN and infinities too
    st.text(max_size=20),
    # invalid UTF-8 as the worker reads it (lone surrogates), see _wire.loads
    st.binary(min_size=1, max_size=8).map(lambda raw: raw.decode("utf-8", "surrogateescape")),
    st.sampled_from([1, 10, 2_000, 50_000]).map(lambda depth: "[" * depth + "]" * depth),
    st.sampled_from([1, 10, 2_000, 50_000]).map(lambda depth: '{"a":' * depth + "1" + "}" * depth),
    st.integers(min_value=4_301, max_value=20_000).map(lambda digits: "9" * digits),
    st.sampled_from(["NaN", "-Infinity", "1e999", "2024-05-01T10:15:30.000+0200", "QUJD",
                     "not json", '"\\ud800"', "true", "[1, 2]"]),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(),
                                                         max_size=3),
)
VARIABLES = st.dictionaries(
    st.text(max_size=8),
    st.one_of(
        st.fixed_dictionaries(
            {"type": st.sampled_from(ENGINE_TYPES), "value": HOSTILE_VALUES},
            optional={"valueInfo": st.one_of(st.just(JSON_OBJECT), st.just({}),
                                             st.lists(st.integers(), max_size=2),
                                             st.text(max_size=3))}),
        HOSTILE_VALUES,  # not even a typed value
    ),
    max_size=4,
)


def _decodes(name: str, variable: Any) -> bool:
    try:
        decode_variables({name: variable})
    except VariableDecodeError:
        return False
    return True


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.data_too_large])
@given(variables=VARIABLES, retries=st.sampled_from([None, 3, 1]))
def test_every_fetched_task_ends_with_one_report(variables: dict[str, Any],
                                                 retries: int | None) -> None:
    raw = {"id": "task-1", "topicName": "t", "workerId": "w#1", "retries": retries,
           "variables": variables}
    reports, ran = asyncio.run(settle(raw))  # raises if anything escaped the outcome path
    assert len(reports) == 1, reports
    action, body = reports[0]
    broken = [name for name, variable in variables.items() if not _decodes(name, variable)]
    if not broken:
        assert (action, len(ran)) == ("complete", 1)
        return
    assert (action, ran) == ("failure", [])
    message = body["errorMessage"]
    assert any(message.startswith(f"VariableDecodeError: variable {name!r} ")
               for name in broken), message
    assert "cannot be decoded" in message
    # retries count down to an incident, as for any failure
    assert body["retries"] == {None: 3, 3: 2, 1: 0}[retries]


@pytest.mark.parametrize(("variable", "reason"), [
    ({"type": "Json", "value": "[" * 5_000 + "]" * 5_000}, "nested too deeply to decode"),
    ({"type": "Json", "value": "9" * 5_000}, "Exceeds the limit (4300 digits)"),
    ({"type": "Integer", "value": 2**40}, "out of range for a Java integer"),
    ({"type": "Double", "value": 10**400}, "int too large to convert to float"),
    ({"type": "Long", "value": float("inf")}, "cannot convert float infinity to integer"),
    ({"type": "String", "value": "a\udcffb"}, "not valid Unicode: a lone surrogate '\\udcff'"),
    ({"type": "Date", "value": [1]}, "strptime() argument 1 must be str"),
    ({"type": "File", "valueInfo": ["x"]}, "its valueInfo is list, not an object"),
    ("just a string", "not a typed value"),
    (10**5_000, "not a typed value: of type int, too large to show"),
    ({"type": "Long", "value": 10**5_000}, "value of type int, too large to show"),
], ids=["deep_json", "huge_number_in_json", "integer_out_of_range", "double_overflow",
        "long_infinity", "invalid_utf8", "date_of_a_list", "file_info_a_list", "untyped",
        "untyped_huge_int", "long_huge_int"])
def test_the_failure_names_the_variable_and_why(variable: Any, reason: str) -> None:
    raw = {"id": "task-1", "topicName": "t", "workerId": "w#1", "variables": {"doc": variable}}
    reports, _ = asyncio.run(settle(raw))
    (action, body), = reports
    assert action == "failure"
    assert body["errorMessage"].startswith("VariableDecodeError: variable 'doc' ")
    assert reason in body["errorMessage"]


@pytest.mark.parametrize(("answer", "value"), [
    (b'[{"v": "a\\uD800b"}]', "a\ud800b"),  # how the engine sends a String holding one
    (b'[{"v": "a\xffb"}]', "a\udcffb"),  # invalid UTF-8
    (b'[{"v": -Infinity}]', float("-inf")),
], ids=["lone_surrogate", "invalid_utf8", "infinity"])
def test_an_answer_orjson_refuses_is_read_so_that_only_its_task_fails(answer: bytes,
                                                                     value: object) -> None:
    from camunda_workers import _wire

    assert _wire.loads(answer) == [{"v": value}]


def test_an_answer_nested_too_deeply_is_a_value_error() -> None:
    from camunda_workers import _wire

    with pytest.raises(ValueError, match="nested too deeply"):
        _wire.loads(b"[" * 100_000 + b"]" * 100_000)


def test_a_result_nested_too_deeply_fails_the_task_naming_the_variable() -> None:
    """After the handler too, nothing is left for the lock to expire."""
    from camunda_workers import UnsendableVariableError, _wire

    deep: list[object] = []
    for _ in range(5_000):
        deep = [deep]
    with pytest.raises(UnsendableVariableError, match=r"variable 'tree': nested too deeply "
                                                      r"for JSON"):
        _wire.complete_body("w", {"tree": deep}, None)


def test_a_task_whose_other_fields_are_broken_fails_too() -> None:
    raw = {"id": "task-1", "topicName": "t", "workerId": "w#1", "extensionProperties": [1]}
    reports, ran = asyncio.run(settle(raw))
    assert [action for action, _ in reports] == ["failure"]
    assert ran == []


# -- on the real engine ----------------------------------------------------------------------

@pytest.mark.engine
def test_deep_json_and_a_lone_surrogate_fail_their_tasks_and_the_batch_goes_on(
        camunda: EngineApi) -> None:
    """A Json 990 levels deep (2 KB) and a String holding a lone surrogate, which the
    engine stores and sends escaped (``"\\uD800"``, which orjson refuses: the whole
    answer was lost, poll after poll), in one batch with good tasks."""
    topic = unique("hostile")
    key = camunda.deploy_external_task(topic)
    registry = CollectorRegistry()
    worker = make_worker(camunda, retries=1, retry_timeout_ms=0, max_tasks=10, registry=registry)
    ran: list[str] = []

    @worker.topic(topic)
    def handle(task: Task) -> None:
        ran.append(task.process_instance_id or "")

    good = [camunda.start(key, {"n": n}) for n in range(3)]
    deep = camunda.start(key, typed={"doc": {"type": "Json", "value": "[" * 990 + "]" * 990}})
    # escaped by json.dumps (ensure_ascii), the engine's REST API reads a lone surrogate
    started = camunda.http.post(f"/process-definition/key/{key}/start", content=json.dumps(
        {"variables": {"name": {"type": "String", "value": "a\ud800b"}}}),
        headers={"Content-Type": "application/json"})
    surrogate = started.raise_for_status().json()["id"]
    with running(worker):
        camunda.wait_finished(good, timeout=30)
        wait_until(lambda: camunda.incidents(deep) and camunda.incidents(surrogate),
                   timeout=30, what="an incident for each hostile task")
    assert sorted(ran) == sorted(good)
    deep_message = camunda.incidents(deep)[0]["incidentMessage"]
    assert deep_message.startswith("VariableDecodeError: variable 'doc' (Json) cannot be "
                                   "decoded: nested too deeply to decode"), deep_message
    surrogate_message = camunda.incidents(surrogate)[0]["incidentMessage"]
    assert surrogate_message.startswith(
        "VariableDecodeError: variable 'name' (String) cannot be decoded: not valid Unicode: "
        "a lone surrogate '\\ud800' at index 1"), surrogate_message
    # retries counted down: the first failure set 1, the second 0 (the incident)
    failures = [row for instance in (deep, surrogate) for row in camunda.get(
        "/history/external-task-log", processInstanceId=instance, failureLog="true")]
    assert len(failures) == 4
    assert registry.get_sample_value("camunda_worker_tasks_handled_total", {
        "worker": "test-worker", "topic": topic, "outcome": "failed"}) == 4
