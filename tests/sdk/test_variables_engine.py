"""Typed variables both ways through a real engine."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from camunda_workers import FileValue, Task, TypedValue, Worker
from tests.support.engine import EngineApi, unique
from tests.support.running import running

pytestmark = pytest.mark.engine

WHEN = datetime(2026, 11, 28, 13, 45, 30, 123000, tzinfo=timezone(timedelta(hours=2)))

# What a process may hold, as the REST API takes it: (name, typed value, Python value)
INBOUND: list[tuple[str, dict[str, Any], Any]] = [
    ("s", {"value": "text é", "type": "String"}, "text é"),
    ("b", {"value": True, "type": "Boolean"}, True),
    ("i", {"value": 42, "type": "Integer"}, 42),
    ("l", {"value": 2**40, "type": "Long"}, 2**40),
    ("d", {"value": 2.5, "type": "Double"}, 2.5),
    ("t", {"value": "2026-11-28T13:45:30.123+0200", "type": "Date"}, WHEN),
    ("j", {"value": json.dumps({"a": [1, {"b": None}], "c": "x"}), "type": "Json"},
     {"a": [1, {"b": None}], "c": "x"}),
    ("n", {"value": None, "type": "Null"}, None),
    ("y", {"value": base64.b64encode(b"\x00\x01bin").decode(), "type": "Bytes"}, b"\x00\x01bin"),
]


def test_values_arrive_as_python_and_go_back_with_camunda_types(engine: EngineApi) -> None:
    topic = unique("types")
    key = engine.deploy_external_task(topic)
    worker = Worker(name="types", base_url=engine.url, environ={}, async_response_timeout_ms=1_000)
    received: dict[str, Any] = {}

    @worker.topic(topic)
    def echo(task: Task) -> dict[str, Any]:
        received.update(task.variables)
        return {
            "out_s": "ünïcode", "out_b": False, "out_i": 7, "out_l": 2**40, "out_d": 0.125,
            "out_t": WHEN, "out_n": None, "out_y": b"\xffbytes",
            "out_nested": {"order": {"lines": [{"sku": "A", "qty": 2}], "paid": True}},
            "out_list": [1, "two", {"three": 3}],
            "out_forced_long": TypedValue(5, "Long"),
        }

    instance = engine.start(key, typed={name: value for name, value, _ in INBOUND})
    with running(worker):
        engine.wait_finished([instance])

    for name, _, expected in INBOUND:
        assert received[name] == expected, name

    stored = engine.variables(instance)
    types = {name: row["type"] for name, row in stored.items() if name.startswith("out_")}
    assert types == {
        "out_s": "String", "out_b": "Boolean", "out_i": "Integer", "out_l": "Long",
        "out_d": "Double", "out_t": "Date", "out_n": "Null", "out_y": "Bytes",
        "out_nested": "Json", "out_list": "Json", "out_forced_long": "Long",
    }
    # Nested structures are stored whole, not as null or a serialized Java object.
    assert json.loads(stored["out_nested"]["value"]) == {
        "order": {"lines": [{"sku": "A", "qty": 2}], "paid": True}}
    assert json.loads(stored["out_list"]["value"]) == [1, "two", {"three": 3}]


def test_values_survive_a_round_trip_between_two_tasks(camunda: EngineApi) -> None:
    first, second = unique("producer"), unique("consumer")
    key_a, key_b = camunda.deploy_external_task(first), camunda.deploy_external_task(second)
    worker = Worker(name="trip", base_url=camunda.url, environ={}, async_response_timeout_ms=1_000)
    produced = {"when": WHEN, "doc": {"k": [1, 2, {"z": None}]}, "raw": b"\x00\xfe",
                "big": 2**62, "flag": True, "none": None, "ratio": 1e-9}
    seen: dict[str, Any] = {}

    @worker.topic(first)
    def produce(task: Task) -> dict[str, Any]:
        return produced

    @worker.topic(second)
    def consume(task: Task) -> None:
        seen.update(task.variables)

    a = camunda.start(key_a)
    with running(worker):
        camunda.wait_finished([a])
        # hand the produced variables to a second process, as the engine stored them
        stored = camunda.variables(a)
        typed = {name: {"value": row["value"], "type": row["type"]} for name, row in stored.items()}
        # history leaves binary values out of its list; they come from /data
        raw = camunda.http.get(f"/history/variable-instance/{stored['raw']['id']}/data").content
        typed["raw"]["value"] = base64.b64encode(raw).decode()
        b = camunda.start(key_b, typed=typed)
        camunda.wait_finished([b])
    assert seen == produced


def test_big_values_round_trip_exactly(engine: EngineApi) -> None:
    """A 2 MB string (over the engine's 4,000-character String column) and a 10,000-key
    dict, stored by one handler and received by the next as they were."""
    first, second = unique("big_out"), unique("big_in")
    key = f"p_{first}"
    engine.deploy("two_tasks", process_key=key, topic=first, next_topic=second)
    worker = Worker(name="big", base_url=engine.url, environ={}, async_response_timeout_ms=1_000,
                    retries=0)
    text = ("é😀x" * 700_000)[:2_000_000]
    many = {f"key{n}": n for n in range(10_000)}
    seen: dict[str, Any] = {}

    @worker.topic(first)
    def produce(task: Task) -> dict[str, Any]:
        return {"text": text, "many": many}

    @worker.topic(second)
    def consume(task: Task) -> dict[str, Any]:
        seen.update(task.variables)
        return {"text": task.variables["text"]}  # handed back: stored as it arrived

    instance = engine.start(key)
    with running(worker):
        engine.wait_finished([instance])
    assert seen["text"] == text
    assert seen["many"] == many
    stored = engine.variables(instance)
    assert stored["text"]["type"] == "Object"
    assert stored["text"]["valueInfo"]["objectTypeName"] == "java.lang.String"
    assert stored["many"]["type"] == "Json"


JAVA_STRING = "rO0ABXQABWhlbGxv"  # java.io.ObjectOutputStream of the java.lang.String "hello"


def test_values_handed_back_unchanged_keep_their_types(engine: EngineApi) -> None:
    topic = unique("unchanged")
    key = engine.deploy_external_task(topic)
    worker = Worker(name="keep", base_url=engine.url, environ={}, async_response_timeout_ms=1_000,
                    retries=0)
    received: dict[str, Any] = {}

    @worker.topic(topic)
    def echo(task: Task) -> dict[str, Any]:
        received.update(task.variables)
        return dict(task.variables)

    java_info = {"objectTypeName": "java.lang.String",
                 "serializationDataFormat": "application/x-java-serialized-object"}
    typed = {
        "small_long": {"value": 5, "type": "Long"},
        "short": {"value": 3, "type": "Short"},
        "map": {"value": '{"a": [1, 2]}', "type": "Object", "valueInfo": {
            "objectTypeName": "java.util.HashMap", "serializationDataFormat": "application/json"}},
        "java": {"value": JAVA_STRING, "type": "Object", "valueInfo": java_info},
        "file": {"value": base64.b64encode(b"%PDF-1.4 fake").decode(), "type": "File",
                 "valueInfo": {"filename": "report.pdf", "mimeType": "application/pdf"}},
    }
    instance = engine.start(key, typed=typed)
    with running(worker):
        engine.wait_finished([instance])
    assert received["small_long"] == 5
    assert received["map"] == {"a": [1, 2]}
    assert received["java"] == TypedValue(JAVA_STRING, "Object", java_info)
    assert received["file"] == FileValue(b"%PDF-1.4 fake", "report.pdf", "application/pdf")
    stored = engine.variables(instance)
    assert {name: row["type"] for name, row in stored.items()} == {
        "small_long": "Long", "short": "Short", "map": "Object", "java": "Object",
        "file": "File"}
    assert stored["map"]["valueInfo"]["objectTypeName"] == "java.util.HashMap"
    assert stored["java"]["valueInfo"] == java_info
    assert stored["java"]["value"] == JAVA_STRING
    assert stored["file"]["valueInfo"]["filename"] == "report.pdf"
    data = engine.http.get(f"/history/variable-instance/{stored['file']['id']}/data").content
    assert data == b"%PDF-1.4 fake"
