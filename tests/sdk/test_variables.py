"""The variable codec on its own."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from camunda_workers import TypedValue
from camunda_workers._variables import decode_value, encode_value


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
    ],
)
def test_encode(value: object, expected: dict[str, object]) -> None:
    assert encode_value("v", value) == expected


@pytest.mark.parametrize("value", [2**63, Decimal("1.1"), {1, 2}, {"a": object()}, float("nan")])
def test_encode_refuses_what_the_engine_cannot_hold_and_names_the_variable(value: object) -> None:
    with pytest.raises(TypeError, match="variable 'price'"):
        encode_value("price", [value] if isinstance(value, float) else value)


def test_naive_datetime_is_local_time() -> None:
    naive = datetime(2026, 6, 1, 12, 0)
    encoded = encode_value("t", naive)["value"]
    assert decode_value({"type": "Date", "value": encoded}) == naive.astimezone()


def test_decode_json_serialized_object() -> None:
    raw = {"type": "Object", "value": "[1,2]",
           "valueInfo": {"serializationDataFormat": "application/json"}}
    assert decode_value(raw) == [1, 2]


def test_decode_unknown_type_passes_value_through() -> None:
    assert decode_value({"type": "Xml", "value": "<a/>"}) == "<a/>"
    assert decode_value({"type": "File", "value": None}) is None
