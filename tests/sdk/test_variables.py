"""The variable codec and the wire encoding on their own (engine tests prove them end to end)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from camunda_workers import FileValue, TypedValue, UnsendableVariableError
from camunda_workers._variables import (
    STRING_LIMIT,
    VariableDecodeError,
    decode_variables,
    encode_value,
)
from camunda_workers._wire import complete_body, failure_body


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, {"value": None, "type": "Null"}),
        (True, {"value": True, "type": "Boolean"}),
        (2**31 - 1, {"value": 2**31 - 1, "type": "Integer"}),
        (2**31, {"value": 2**31, "type": "Long"}),
        (-(2**63), {"value": -(2**63), "type": "Long"}),
        (1.5, {"value": 1.5, "type": "Double"}),
        ("x", {"value": "x", "type": "String"}),
        (b"ab", {"value": "YWI=", "type": "Bytes"}),
        ({"a": [1]}, {"value": '{"a": [1]}', "type": "Json"}),
        ([1, 2], {"value": "[1, 2]", "type": "Json"}),
        ((1, 2), {"value": "[1, 2]", "type": "Json"}),
        (datetime(2026, 1, 2, 3, 4, 5, 678900, tzinfo=UTC),
         {"value": "2026-01-02T03:04:05.678+0000", "type": "Date"}),
        (date(2026, 1, 2), {"value": "2026-01-02T00:00:00.000+0000", "type": "Date"}),
        (TypedValue("<a/>", "Xml"), {"value": "<a/>", "type": "Xml"}),
        (TypedValue("{}", "Object", {"objectTypeName": "java.util.HashMap",
                                     "serializationDataFormat": "application/json"}),
         {"value": "{}", "type": "Object", "valueInfo": {
             "objectTypeName": "java.util.HashMap",
             "serializationDataFormat": "application/json"}}),
        (FileValue(b"hi", "a.txt", "text/plain", "UTF-8"),
         {"value": "aGk=", "type": "File", "valueInfo": {
             "filename": "a.txt", "mimeType": "text/plain", "encoding": "UTF-8"}}),
    ],
)
def test_encode(value: object, expected: dict[str, object]) -> None:
    assert encode_value("v", value) == expected


def test_strings_longer_than_the_column_go_out_as_the_engine_delivers_them() -> None:
    assert encode_value("s", "x" * STRING_LIMIT)["type"] == "String"
    long = encode_value("s", "x" * (STRING_LIMIT + 1))
    assert long["type"] == "Object"
    assert long["valueInfo"] == {"objectTypeName": "java.lang.String",
                                 "serializationDataFormat": "application/json"}
    assert json.loads(long["value"]) == "x" * (STRING_LIMIT + 1)
    # Java counts UTF-16 units: 2,001 emoji are 4,002 of them
    assert encode_value("s", "😀" * 2001)["type"] == "Object"
    assert encode_value("s", "😀" * 2000)["type"] == "String"


@pytest.mark.parametrize(("value", "reason"), [
    (float("nan"), "nan cannot be sent: JSON has no NaN or infinity"),
    (float("inf"), "inf cannot be sent"),
    ({"a": [1, float("-inf")]}, r"\['a'\]\[1\] is -inf: JSON has no NaN"),
    ("\ud800", "lone surrogate '\\\\ud800' at index 0"),
    ({"k": "ok\udfff"}, r"\['k'\] has a lone surrogate"),
    (Decimal("1.10"), "cannot send a Decimal; convert it"),
    ({"price": Decimal(1)}, r"\['price'\]: cannot send a Decimal"),
    ({1, 2}, "cannot send a set; send a list"),
    (object(), "cannot send a value of type object"),
    ({"raw": b"\x00"}, r"\['raw'\] is bytes: .* base64-encode them"),
    (2**63, "does not fit a Java long"),
    # sent as given, but still strict JSON
    (TypedValue(float("nan"), "Double"), "the value is nan: JSON has no NaN"),
    (TypedValue("x", "Object", {"objectTypeName": "\ud800"}),
     r"its valueInfo\['objectTypeName'\] has a lone surrogate"),
])
def test_what_the_engine_cannot_take_is_refused_naming_the_variable(value: Any,
                                                                     reason: str) -> None:
    with pytest.raises(UnsendableVariableError, match=rf"variable 'ratio': .*{reason}") as info:
        complete_body("w", {"fine": 1, "ratio": value}, None)
    assert info.value.name == "ratio"


def test_a_bad_name_is_refused_too() -> None:
    with pytest.raises(UnsendableVariableError, match="its name has a lone surrogate"):
        complete_body("w", {"\ud800": 1}, None)
    with pytest.raises(UnsendableVariableError, match="variable names must be strings"):
        complete_body("w", {1: 1}, None)  # type: ignore[dict-item]


def test_failure_reports_are_always_encodable() -> None:
    body = json.loads(failure_body("w", message="bad \ud800" + "x" * 1000, details="\udfff",
                                   retries=1, retry_timeout=0))
    assert body["errorMessage"].startswith("bad \ufffd")
    assert len(body["errorMessage"]) == 666  # the engine's column
    assert body["errorDetails"] == "\ufffd"


def test_naive_datetime_is_local_time() -> None:
    naive = datetime(2026, 6, 1, 12, 0)
    encoded = encode_value("t", naive)["value"]
    values, _ = decode_variables({"t": {"type": "Date", "value": encoded}})
    assert values["t"] == naive.astimezone()


def test_decode_keeps_what_it_cannot_turn_into_python() -> None:
    java = {"type": "Object", "value": "rO0ABXQABWhlbGxv", "valueInfo": {
        "objectTypeName": "java.lang.String",
        "serializationDataFormat": "application/x-java-serialized-object"}}
    values, types = decode_variables({
        "json_object": {"type": "Object", "value": "[1,2]",
                        "valueInfo": {"serializationDataFormat": "application/json"}},
        "java": java,
        "xml": {"type": "Xml", "value": "<a/>"},
        "file": {"type": "File", "value": None,
                 "valueInfo": {"filename": "a.txt", "mimeType": "text/plain"}},
    })
    assert values["json_object"] == [1, 2]
    assert values["java"] == TypedValue(java["value"], "Object", java["valueInfo"])
    assert encode_value("java", values["java"], types["java"]) == java
    assert values["xml"] == "<a/>"
    assert values["file"] == FileValue(b"", "a.txt", "text/plain", None)  # content: loaded later


@pytest.mark.parametrize(("variable", "message"), [
    ({"type": "Json", "value": "{not json"}, r"variable 'v' \(Json\) cannot be decoded"),
    ({"type": "Object", "value": "nope", "valueInfo": {
        "serializationDataFormat": "application/json"}}, r"'v' \(Object\) cannot be decoded"),
    ({"type": "Date", "value": "yesterday"}, r"'v' \(Date\) cannot be decoded"),
    ({"type": "Bytes", "value": "***"}, r"'v' \(Bytes\) cannot be decoded"),
    ({"type": "Long", "value": "many"}, r"'v' \(Long\) cannot be decoded"),
])
def test_decode_errors_name_the_variable(variable: dict[str, Any], message: str) -> None:
    with pytest.raises(VariableDecodeError, match=message):
        decode_variables({"ok": {"type": "String", "value": "x"}, "v": variable})


def test_a_value_handed_back_keeps_the_type_it_arrived_with() -> None:
    arrived = {
        "small_long": {"type": "Long", "value": 5},
        "short": {"type": "Short", "value": 3},
        "map": {"type": "Object", "value": '{"a":1}', "valueInfo": {
            "objectTypeName": "java.util.HashMap", "serializationDataFormat": "application/json"}},
        "xml": {"type": "Xml", "value": "<a/>"},
    }
    values, types = decode_variables(arrived)
    values["small_long"] += 1  # still fits a Long: stays one
    values["short"] = 2**20  # no longer fits a Short: the usual mapping
    sent = json.loads(complete_body("w", values, None, types))["variables"]
    assert sent["small_long"] == {"value": 6, "type": "Long"}
    assert sent["short"] == {"value": 2**20, "type": "Integer"}
    assert sent["map"]["type"] == "Object"
    assert sent["map"]["valueInfo"]["objectTypeName"] == "java.util.HashMap"
    assert json.loads(sent["map"]["value"]) == {"a": 1}
    assert sent["xml"] == {"value": "<a/>", "type": "Xml"}
    # another Python type than it arrived as: the usual mapping
    assert encode_value("small_long", "five", types["small_long"])["type"] == "String"


@pytest.mark.parametrize("text", [
    "2024-05-01T10:15:30.000+0200", "1999-12-31T23:59:59.999-1130", "2026-01-01T00:00:00.000+0000",
])
def test_engine_dates_decode_as_strptime_reads_them(text: str) -> None:
    # The fast path (fromisoformat on exactly the engine's format) gives the same value
    # and the same fixed-offset timezone as the strict format.
    values, _ = decode_variables({"d": {"type": "Date", "value": text}})
    expected = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z")
    assert values["d"] == expected
    assert values["d"].utcoffset() == expected.utcoffset()


@pytest.mark.parametrize("text", ["2024-05-01", "2024-05-01T10:15:30+0200",
                                  "2024-05-01 10:15:30.000+0200", "2024-13-01T10:15:30.000+0200"])
def test_other_date_texts_stay_refused(text: str) -> None:
    # fromisoformat alone would read the first three; the engine never sends them.
    with pytest.raises(VariableDecodeError, match=r"'d' \(Date\) cannot be decoded"):
        decode_variables({"d": {"type": "Date", "value": text}})


def test_json_variables_keep_big_integers_and_nan() -> None:
    values, _ = decode_variables({
        "big": {"type": "Json", "value": '{"n": 123456789012345678901234567890}'},
        "nan": {"type": "Json", "value": "[NaN, 1.5]"},
        "plain": {"type": "Json", "value": '{"a": [1, "x", null]}'},
    })
    assert values["big"] == {"n": 123456789012345678901234567890}
    assert values["nan"][1] == 1.5
    assert values["nan"][0] != values["nan"][0]  # NaN
    assert values["plain"] == {"a": [1, "x", None]}


def test_variable_types_without_value_info_are_shared_and_read_only() -> None:
    _, first = decode_variables({"a": {"type": "String", "value": "x"}})
    _, second = decode_variables({"b": {"type": "String", "value": "y", "valueInfo": {}}})
    assert first["a"] is second["b"]  # one object per type, not one per variable
    with pytest.raises(TypeError):
        first["a"].value_info["x"] = 1  # type: ignore[index]
