"""Camunda typed variables <-> plain Python values.

Replaces ``camunda.variables.Variables.format`` from camunda-external-task-client-python3,
which sends ``{"value": v}`` without a type: the engine then stores nested dicts as
null and lists as serialized Java objects (its issues #73 and #88). Here every value
goes out with an explicit Camunda type and comes back as the Python value it was.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

__all__ = ["TypedValue", "decode_variables", "encode_variables"]

_INT32 = range(-(2**31), 2**31)
_INT64 = range(-(2**63), 2**63)
# Camunda's REST date format: 2024-05-01T10:15:30.000+0200
_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S.%f%z"


@dataclass(frozen=True)
class TypedValue:
    """A value with an explicit Camunda type, for when the inferred one is wrong.

    >>> TypedValue(42, "Long")          # an int that must be a Java long
    >>> TypedValue("<a/>", "Xml")
    """

    value: Any
    type: str
    value_info: Mapping[str, Any] = field(default_factory=dict)


def _format_date(value: datetime) -> str:
    # Naive datetimes are local time, as everywhere else in Python.
    aware = value if value.tzinfo is not None else value.astimezone()
    millis = aware.microsecond // 1000
    return aware.strftime(f"%Y-%m-%dT%H:%M:%S.{millis:03d}%z")


def encode_value(name: str, value: Any) -> dict[str, Any]:
    """One variable as the engine's REST API wants it: ``{"value", "type"[, "valueInfo"]}``."""
    if isinstance(value, TypedValue):
        encoded: dict[str, Any] = {"value": value.value, "type": value.type}
        if value.value_info:
            encoded["valueInfo"] = dict(value.value_info)
        return encoded
    if value is None:
        return {"value": None, "type": "Null"}
    if isinstance(value, bool):
        return {"value": value, "type": "Boolean"}
    if isinstance(value, int):
        if value in _INT32:
            return {"value": value, "type": "Integer"}
        if value in _INT64:
            return {"value": value, "type": "Long"}
        raise TypeError(f"variable {name!r}: integer {value} does not fit a Java long")
    if isinstance(value, float):
        return {"value": value, "type": "Double"}
    if isinstance(value, str):
        return {"value": value, "type": "String"}
    if isinstance(value, datetime):
        return {"value": _format_date(value), "type": "Date"}
    if isinstance(value, date):
        midnight = datetime.combine(value, time(), tzinfo=UTC)
        return {"value": _format_date(midnight), "type": "Date"}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"value": base64.b64encode(bytes(value)).decode("ascii"), "type": "Bytes"}
    if isinstance(value, Mapping | list | tuple):
        try:
            text = json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"variable {name!r}: not JSON-serializable: {exc}") from exc
        return {"value": text, "type": "Json"}
    raise TypeError(
        f"variable {name!r}: cannot send a {type(value).__name__} to the engine; "
        "use str, int, float, bool, None, datetime, bytes, dict or list, "
        "or wrap it in TypedValue(value, type)"
    )


def encode_variables(variables: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    return {name: encode_value(name, value) for name, value in (variables or {}).items()}


def decode_value(variable: Mapping[str, Any]) -> Any:
    """A typed variable from the engine as a plain Python value."""
    kind = str(variable.get("type") or "")
    value = variable.get("value")
    if value is None:
        return None
    if kind == "Json" or (
        kind == "Object"
        and isinstance(value, str)
        and (variable.get("valueInfo") or {}).get("serializationDataFormat") == "application/json"
    ):
        return json.loads(value) if isinstance(value, str) else value
    if kind == "Date" and isinstance(value, str):
        return datetime.strptime(value, _DATE_FORMAT)
    if kind == "Bytes" and isinstance(value, str):
        return base64.b64decode(value)
    if kind in ("Integer", "Long", "Short") and not isinstance(value, bool):
        return int(value)
    if kind == "Double":
        return float(value)
    return value


def decode_variables(variables: Mapping[str, Mapping[str, Any]] | None) -> dict[str, Any]:
    return {name: decode_value(variable) for name, variable in (variables or {}).items()}
