"""Why a value cannot go to the engine, said so that the fix is obvious."""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

__all__ = ["json_problem", "unsupported"]


def unsupported(value: Any) -> str:
    """Why a value of this type cannot be sent, and what to send instead."""
    if isinstance(value, Decimal):
        return ("cannot send a Decimal; convert it: float(x) for a Double, "
                "or str(x) to keep every digit")
    if isinstance(value, set | frozenset):
        return "cannot send a set; send a list (e.g. sorted(x))"
    return (f"cannot send a value of type {type(value).__name__} to the engine; "
            "use str, int, float, bool, None, datetime, bytes, dict or list, "
            "or wrap it in TypedValue(value, type)")


def json_problem(value: Any, path: str = "") -> str | None:
    """Where in ``value`` strict JSON in UTF-8 fails, and why; None if nowhere."""
    where = path or "the value"
    if value is None or isinstance(value, bool | int):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else (
            f"{where} is {value!r}: JSON has no NaN or infinity; send None or a string")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            return (f"{where} has a lone surrogate {value[exc.start]!r} at index {exc.start}: "
                    "not valid Unicode, the engine cannot store it")
        return None
    if isinstance(value, Mapping):
        for key, item in value.items():
            inner = f"{path}[{key!r}]"
            if not isinstance(key, str | int | float | bool) and key is not None:
                return f"{inner}: a {type(key).__name__} key; JSON keys are strings"
            found = json_problem(key, f"{inner} (the key)") or json_problem(item, inner)
            if found:
                return found
        return None
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = json_problem(item, f"{path}[{index}]")
            if found:
                return found
        return None
    if isinstance(value, bytes | bytearray):
        return (f"{where} is bytes: a dict or list goes to the engine as Json, which has no "
                "bytes; base64-encode them, or send them as a variable of their own")
    return f"{where}: {unsupported(value)}"
