"""The bytes the engine gets: every request body is produced here, and only here.

A report is encoded before it is sent, exactly as it goes over the wire (strict JSON:
no NaN or infinity, valid UTF-8). What cannot be encoded is refused here with the
variable's name and the reason, so that the task fails instead of never being reported.

The codec is orjson, chosen by measurement (bench/README.md): it encodes a report of ten
variables in a tenth and decodes a fetch answer in under half of the standard library's
time. Unlike ``json.dumps(allow_nan=False)`` it writes NaN and infinity as ``null``;
none reaches it: ``_variables.encode_value`` refuses them in every value it types.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from ._unsendable import json_problem
from ._variables import VariableType, encode_variables
from .errors import UnsendableVariableError

__all__ = [
    "bpmn_error_body",
    "complete_body",
    "dumps",
    "extend_lock_body",
    "failure_body",
    "fetch_body",
    "loads",
]

# In a Python str every surrogate is a lone one (pairs are single code points).
_SURROGATE = re.compile("[\ud800-\udfff]")
# The engine keeps 666 characters of a failure's message (its errorMessage column).
_MESSAGE_LIMIT = 666


def loads(body: bytes) -> Any:
    """An answer's JSON; raises ValueError.

    What orjson refuses is read again by the standard library, which keeps it: a lone
    surrogate (the engine sends a String variable holding one as ``"\\uD800"``), invalid
    UTF-8 (read as lone surrogates), NaN and infinities. A variable holding text that is
    not valid Unicode then fails its own task, named (``_variables``), instead of the
    whole answer being lost, poll after poll.
    """
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        try:
            return json.loads(body.decode("utf-8", "surrogateescape"))
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None


def dumps(body: Any) -> bytes:
    """JSON in UTF-8; raises TypeError (a lone surrogate, a type JSON has not, an int
    beyond 64 bits). Floats must be finite (see the module's docstring)."""
    return orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS)


def _text(value: str | None, limit: int | None = None) -> str | None:
    """Free text (messages, details) made sendable: a lone surrogate becomes U+FFFD."""
    if value is None:
        return None
    text = value if value.isascii() else _SURROGATE.sub("\ufffd", value)
    return text[:limit] if limit else text


def _culprit(original: Mapping[str, Any], typed: Mapping[str, Mapping[str, Any]],
             ) -> UnsendableVariableError | None:
    """The first variable strict JSON refuses, named, with the reason."""
    for name, item in typed.items():
        problem = json_problem(name, "its name")
        if problem is None:
            try:
                dumps(item)
                continue
            except TypeError:
                problem = json_problem(original.get(name)) or "not encodable as JSON"
        return UnsendableVariableError(name, problem)
    return None


def _dumps_report(body: Mapping[str, Any],
                  *variables: tuple[Mapping[str, Any] | None, Mapping[str, Mapping[str, Any]]],
                  ) -> bytes:
    try:
        return dumps(body)  # the happy path encodes once
    except TypeError as exc:
        for original, typed in variables:
            culprit = _culprit(original or {}, typed)
            if culprit is not None:
                raise culprit from None
        raise UnsendableVariableError("?", f"the report is not encodable: {exc}") from None


def complete_body(worker_id: str, variables: Mapping[str, Any] | None,
                  local_variables: Mapping[str, Any] | None,
                  arrived: Mapping[str, VariableType] | None = None) -> bytes:
    """``POST /external-task/{id}/complete``; raises UnsendableVariableError."""
    typed = encode_variables(variables, arrived)
    typed_local = encode_variables(local_variables, arrived)
    return _dumps_report({"workerId": worker_id, "variables": typed,
                          "localVariables": typed_local},
                         (variables, typed), (local_variables, typed_local))


def bpmn_error_body(worker_id: str, code: str, message: str | None,
                    variables: Mapping[str, Any] | None,
                    arrived: Mapping[str, VariableType] | None = None) -> bytes:
    """``POST /external-task/{id}/bpmnError``; raises UnsendableVariableError."""
    if _text(code) != code:
        raise UnsendableVariableError("errorCode", f"BPMN error code {code!r} is not valid "
                                                   "Unicode (a lone surrogate)")
    typed = encode_variables(variables, arrived)
    return _dumps_report({"workerId": worker_id, "errorCode": code,
                          "errorMessage": _text(message), "variables": typed},
                         (variables, typed))


def failure_body(worker_id: str, *, message: str, details: str | None, retries: int,
                 retry_timeout: int) -> bytes:
    """``POST /external-task/{id}/failure``: always encodable."""
    return dumps({
        "workerId": worker_id,
        "errorMessage": _text(message, _MESSAGE_LIMIT),
        "errorDetails": _text(details),
        "retries": retries,
        "retryTimeout": retry_timeout,
    })


def extend_lock_body(worker_id: str, new_duration_ms: int) -> bytes:
    return dumps({"workerId": worker_id, "newDuration": new_duration_ms})


def fetch_body(*, worker_id: str, max_tasks: int, use_priority: bool,
               async_response_timeout_ms: int, topics: Sequence[Mapping[str, Any]]) -> bytes:
    return dumps({
        "workerId": worker_id,
        "maxTasks": max_tasks,
        "usePriority": use_priority,
        "asyncResponseTimeout": async_response_timeout_ms,
        "topics": list(topics),
    })
