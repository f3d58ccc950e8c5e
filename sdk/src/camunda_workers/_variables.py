"""Camunda typed variables <-> plain Python values.

Replaces ``camunda.variables.Variables.format`` from camunda-external-task-client-python3,
which sends ``{"value": v}`` without a type: the engine then stores nested dicts as
null and lists as serialized Java objects (its issues #73 and #88). Here every value
goes out with an explicit Camunda type and comes back as the Python value it was; a
value handed back keeps the type it arrived with when that type can hold it.
"""

from __future__ import annotations

import base64
import json
import math
import re
import reprlib
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from types import MappingProxyType
from typing import Any

from ._unsendable import json_problem, unsupported
from .errors import UnsendableVariableError

__all__ = [
    "STRING_LIMIT",
    "FileValue",
    "TypedValue",
    "VariableDecodeError",
    "VariableType",
    "decode_variables",
    "encode_value",
    "encode_variables",
]

_INT_RANGES = {
    "Short": range(-(2**15), 2**15),
    "Integer": range(-(2**31), 2**31),
    "Long": range(-(2**63), 2**63),
}
# Camunda's REST date format: 2024-05-01T10:15:30.000+0200
_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S.%f%z"
# Exactly that format: datetime.fromisoformat parses it to the same value in a
# twentieth of strptime's time; anything else goes through strptime, as strict as before.
_ENGINE_DATE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d{4}")
# The engine's String column holds 4,000 characters (Java chars, i.e. UTF-16 units);
# longer strings go out as the engine itself delivers them: a JSON-serialized
# java.lang.String object, stored as a byte array.
STRING_LIMIT = 4000
_JSON_FORMAT = "application/json"
_LONG_STRING_INFO = {"objectTypeName": "java.lang.String", "serializationDataFormat": _JSON_FORMAT}


@dataclass(frozen=True)
class TypedValue:
    """A value with an explicit Camunda type, for when the inferred one is wrong.

    >>> TypedValue(42, "Long")          # an int that must be a Java long
    >>> TypedValue("<a/>", "Xml")

    Java objects the SDK cannot decode (serialized Java or XML) arrive as a
    ``TypedValue`` holding the engine's serialized value and its ``value_info``;
    handed back unchanged, they are stored exactly as they were.
    """

    value: Any
    type: str
    value_info: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FileValue:
    """A ``File`` variable: its content, file name, MIME type and text encoding."""

    content: bytes
    filename: str
    mime_type: str | None = None
    encoding: str | None = None


@dataclass(frozen=True)
class VariableType:
    """How a variable arrived: its Camunda type, value info and the Python type it became."""

    camunda_type: str
    value_info: Mapping[str, Any]
    python_type: type


class VariableDecodeError(ValueError):
    """A variable from the engine is not what its type says (e.g. ``Json`` that is not JSON)."""

    def __init__(self, name: str, kind: str, reason: str) -> None:
        super().__init__(f"variable {name!r} ({kind}) cannot be decoded: {reason}")
        self.name = name


# ------------------------------------------------------------------------------ decoding


def _is_json_object(kind: str, info: Mapping[str, Any]) -> bool:
    return kind == "Object" and info.get("serializationDataFormat") == _JSON_FORMAT


# Types whose JSON value is already the Python value.
_AS_SENT = frozenset({"String", "Boolean", "Xml"})


def _valid_unicode(text: str) -> str:
    """``text``, unless it holds a lone surrogate (escaped in the engine's JSON, or invalid
    UTF-8 read by ``_wire.loads``): no handler could send it back, nor log it safely."""
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError(f"not valid Unicode: a lone surrogate {text[exc.start]!r} at "
                             f"index {exc.start} (invalid UTF-8, or a broken \\u escape)"
                             ) from None
    return text


def _decode_value(kind: str, value: Any, info: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        _valid_unicode(value)
    if kind in _AS_SENT:
        return value
    if kind == "Json" or _is_json_object(kind, info):
        # json, not orjson: orjson reads an integer beyond 64 bits as a float, and refuses
        # NaN; a Json variable's text is the user's, with whatever it holds.
        return json.loads(value) if isinstance(value, str) else value
    if kind == "Object":  # serialized Java or XML: kept as the engine sent it
        return TypedValue(value, kind, dict(info))
    if kind == "Date":
        if isinstance(value, str) and _ENGINE_DATE.fullmatch(value):
            return datetime.fromisoformat(value)
        return datetime.strptime(value, _DATE_FORMAT)
    if kind == "Bytes":
        return base64.b64decode(value, validate=True)
    if kind in _INT_RANGES and not isinstance(value, bool):
        number = int(value)
        if number not in _INT_RANGES[kind]:
            raise ValueError(f"out of range for a Java {kind.lower()}")
        return number
    if kind == "Double":
        return float(value)
    return value


# Built once per Camunda type and Python type (most variables have no valueInfo),
# instead of once per variable of every task; bounded by the engine's type names.
_SHARED_TYPES: dict[tuple[str, type], VariableType] = {}
_KNOWN_KINDS = frozenset({"String", "Boolean", "Xml", "Short", "Integer", "Long", "Double",
                          "Date", "Bytes", "Json", "Null", "Object", "File"})
_NO_INFO: Mapping[str, Any] = MappingProxyType({})


def _variable_type(kind: str, info: Mapping[str, Any], python_type: type) -> VariableType:
    if info or kind not in _KNOWN_KINDS:
        return VariableType(kind, info, python_type)
    shared = _SHARED_TYPES.get((kind, python_type))
    if shared is None:
        shared = _SHARED_TYPES[(kind, python_type)] = VariableType(kind, _NO_INFO, python_type)
    return shared


def decode_variables(
    variables: Mapping[str, Mapping[str, Any]] | None,
) -> tuple[dict[str, Any], dict[str, VariableType]]:
    """The variables of a ``fetchAndLock`` answer as Python values, and how each arrived.

    ``File`` variables come without content (the engine never sends it with a fetch);
    they decode to a :class:`FileValue` with empty ``content`` for the caller to load.
    Raises :class:`VariableDecodeError` naming the first variable that is not what its
    type says.
    """
    values: dict[str, Any] = {}
    types: dict[str, VariableType] = {}
    for name, variable in (variables or {}).items():
        if not isinstance(variable, Mapping):
            raise VariableDecodeError(name, "?", f"not a typed value: {_excerpt(variable)}")
        kind = str(variable.get("type") or "")
        info = variable.get("valueInfo") or {}
        value = variable.get("value")
        try:
            if not isinstance(info, Mapping):
                raise TypeError(f"its valueInfo is {type(info).__name__}, not an object")
            decoded = _decode_one(name, kind, value, info)
        except RecursionError:
            raise VariableDecodeError(name, kind, f"nested too deeply to decode (more than "
                                      f"about {sys.getrecursionlimit()} levels)") from None
        except (ValueError, TypeError, ArithmeticError) as exc:
            reason = str(exc) or type(exc).__name__
            raise VariableDecodeError(name, kind, f"{reason} (value {_excerpt(value)})"
                                      ) from None
        values[name] = decoded
        types[name] = _variable_type(kind, info, type(decoded))
    return values, types


def _decode_one(name: str, kind: str, value: Any, info: Mapping[str, Any]) -> Any:
    if kind == "File":
        return FileValue(b"", str(info.get("filename") or name), info.get("mimeType"),
                         info.get("encoding"))
    return None if value is None else _decode_value(kind, value, info)


def _excerpt(value: Any) -> str:
    """The start of a value for a message, whatever it is (not valid Unicode: escaped)."""
    if isinstance(value, str):
        return ascii(value[:60])
    try:
        return reprlib.repr(value)  # bounded in length and depth
    except (ValueError, RecursionError):  # an int of more digits than str() converts
        return f"of type {type(value).__name__}, too large to show"


# ------------------------------------------------------------------------------ encoding


def _format_date(value: datetime) -> str:
    # Naive datetimes are local time, as everywhere else in Python.
    aware = value if value.tzinfo is not None else value.astimezone()
    millis = aware.microsecond // 1000
    return aware.strftime(f"%Y-%m-%dT%H:%M:%S.{millis:03d}%z")


def _java_length(text: str) -> int:
    """Length in UTF-16 units, as Java (and the engine's column) counts it."""
    if len(text) * 2 <= STRING_LIMIT:
        return len(text)  # cannot be over the limit: skip the count
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def _json_text(name: str, value: Any) -> str:
    try:
        # The text the engine parses; ensure_ascii=False so that a lone surrogate is
        # caught when the request is encoded (escaped, it would reach the engine).
        return json.dumps(value, allow_nan=False, ensure_ascii=False)
    except RecursionError:
        raise UnsendableVariableError(name, f"nested too deeply for JSON (more than about "
                                            f"{sys.getrecursionlimit()} levels)") from None
    except (TypeError, ValueError) as exc:
        raise UnsendableVariableError(name, json_problem(value) or str(exc)) from None


def _as_arrived(name: str, value: Any, arrived: VariableType) -> dict[str, Any] | None:
    """``value`` in the type it arrived with, if that type holds it; else None."""
    kind, info = arrived.camunda_type, arrived.value_info
    if isinstance(value, tuple):
        value = list(value)
    if type(value) is not arrived.python_type or value is None:
        return None
    if kind in _INT_RANGES:
        return {"value": value, "type": kind} if value in _INT_RANGES[kind] else None
    if kind == "Xml":
        return {"value": value, "type": kind}
    if _is_json_object(kind, info):
        return {"value": _json_text(name, value), "type": "Object", "valueInfo": dict(info)}
    return None  # the default mapping already gives the same type


def encode_value(name: str, value: Any, arrived: VariableType | None = None) -> dict[str, Any]:
    """One variable as the engine's REST API wants it: ``{"value", "type"[, "valueInfo"]}``.

    Raises :class:`UnsendableVariableError` for what the engine cannot store.
    """
    if arrived is not None:
        kept = _as_arrived(name, value, arrived)
        if kept is not None:
            return kept
    if isinstance(value, TypedValue):
        # Sent as given: only what strict JSON cannot carry is refused.
        problem = json_problem(value.value) or json_problem(value.value_info, "its valueInfo")
        if problem:
            raise UnsendableVariableError(name, problem)
        encoded: dict[str, Any] = {"value": value.value, "type": value.type}
        if value.value_info:
            encoded["valueInfo"] = dict(value.value_info)
        return encoded
    if isinstance(value, FileValue):
        info = {"filename": value.filename}
        if value.mime_type:
            info["mimeType"] = value.mime_type
        if value.encoding:
            info["encoding"] = value.encoding
        return {"value": base64.b64encode(value.content).decode("ascii"), "type": "File",
                "valueInfo": info}
    if value is None:
        return {"value": None, "type": "Null"}
    if isinstance(value, bool):
        return {"value": value, "type": "Boolean"}
    if isinstance(value, int):
        for kind in ("Integer", "Long"):
            if value in _INT_RANGES[kind]:
                return {"value": value, "type": kind}
        raise UnsendableVariableError(
            name, f"integer {value} does not fit a Java long; send it as a string")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise UnsendableVariableError(
                name, f"{value!r} cannot be sent: JSON has no NaN or infinity; "
                "send None or a string instead")
        return {"value": value, "type": "Double"}
    if isinstance(value, str):
        if _java_length(value) > STRING_LIMIT:
            return {"value": _json_text(name, value), "type": "Object",
                    "valueInfo": dict(_LONG_STRING_INFO)}
        return {"value": value, "type": "String"}
    if isinstance(value, datetime):
        return {"value": _format_date(value), "type": "Date"}
    if isinstance(value, date):
        midnight = datetime.combine(value, time(), tzinfo=UTC)
        return {"value": _format_date(midnight), "type": "Date"}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"value": base64.b64encode(bytes(value)).decode("ascii"), "type": "Bytes"}
    if isinstance(value, Mapping | list | tuple):
        return {"value": _json_text(name, value), "type": "Json"}
    raise UnsendableVariableError(name, unsupported(value))


def encode_variables(
    variables: Mapping[str, Any] | None,
    arrived: Mapping[str, VariableType] | None = None,
) -> dict[str, dict[str, Any]]:
    """Every variable typed; ``arrived`` (how the task's variables came) keeps their types."""
    hints = arrived or {}
    encoded: dict[str, dict[str, Any]] = {}
    for name, value in (variables or {}).items():
        if not isinstance(name, str):
            raise UnsendableVariableError(str(name), "variable names must be strings")
        encoded[name] = encode_value(name, value, hints.get(name))
    return encoded
