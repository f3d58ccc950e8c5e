"""Exceptions of camunda_workers.

Two families:

* Decisions a handler raises to tell the worker how a task ends:
  :class:`BpmnError` (the process handles it) and :class:`TaskFailure` (a technical
  failure with an explicit retry decision). Any other exception is a failure too,
  decided by the worker's retry policy.
* Errors the library raises: :class:`SpecError` for bad settings or ``worker.json``,
  :class:`EngineError` and its two kinds for everything that goes wrong talking to
  the engine. Transport errors are translated into these once, in the HTTP client.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "BpmnError",
    "CamundaWorkersError",
    "EngineError",
    "EngineRejectedError",
    "EngineUnavailableError",
    "SpecError",
    "TaskFailure",
    "UnsendableVariableError",
]


class BpmnError(Exception):
    """Raise from a handler to throw a BPMN error that a boundary event can catch.

    >>> raise BpmnError("CARD_DECLINED", "declined", variables={"reason": "limit"})
    """

    def __init__(
        self,
        code: str,
        message: str | None = None,
        variables: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message
        self.variables = dict(variables or {})


class TaskFailure(Exception):
    """Raise from a handler to report a failure with an explicit decision.

    ``retries`` and ``retry_timeout`` (milliseconds) are sent as given; ``None``
    leaves them to the worker's retry policy. ``retries=0`` raises an incident.
    """

    def __init__(
        self,
        message: str,
        details: str | None = None,
        retries: int | None = None,
        retry_timeout: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.retries = retries
        self.retry_timeout = retry_timeout


class CamundaWorkersError(Exception):
    """Base of the errors this library raises (never of a handler's decisions)."""


class SpecError(CamundaWorkersError, ValueError):
    """Settings or a ``worker.json`` did not validate.

    ``problems`` holds ``(field.path, message)`` pairs; the text lists all of them,
    each prefixed with the source (a file path or ``"settings"``).
    """

    def __init__(self, source: str, problems: Sequence[tuple[str, str]]) -> None:
        self.source = source
        self.problems = list(problems)
        lines = [f"{source}: {path}: {message}" if path else f"{source}: {message}"
                 for path, message in self.problems]
        super().__init__("\n".join(lines))


class UnsendableVariableError(CamundaWorkersError, TypeError):
    """A variable a handler returned cannot be sent to the engine (the task fails instead).

    ``name`` is the variable, ``reason`` says why and what to send instead, e.g. NaN
    (JSON has none), a ``Decimal``, a ``set``, a string with a lone surrogate.
    """

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"variable {name!r}: {reason}")
        self.name = name
        self.reason = reason


class EngineError(CamundaWorkersError):
    """The engine could not be reached or did not accept a request.

    ``kind`` is a short stable label (also used as a metric label): ``connection``,
    ``timeout``, ``server``, ``conflict``, ``malformed_response``, ``not_found``,
    ``rejected``, ``unauthorized``, ``too_large`` (an answer over the worker's cap, not
    read). When the engine itself answered, ``engine_type``,
    ``engine_message`` and ``engine_code`` hold its error body
    (``{"type", "message", "code"}``). ``request_sent`` is False when the request never
    left this process (connection refused), so the engine cannot have acted on it.
    """

    transient = False

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        status: int | None = None,
        path: str = "",
        engine_type: str | None = None,
        engine_message: str | None = None,
        engine_code: int | None = None,
        request_sent: bool = True,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.path = path
        self.engine_type = engine_type
        self.engine_message = engine_message
        self.engine_code = engine_code
        self.request_sent = request_sent


class EngineUnavailableError(EngineError):
    """A transient fault: connection refused or dropped, timeout, 502/503/504, an answer
    that is not the engine's own JSON (a proxy's error page), or a conflict the engine
    says is safe to retry (``OptimisticLockingException``, a deadlock).

    The worker backs off and tries again.
    """

    transient = True


class EngineRejectedError(EngineError):
    """The engine answered and refused the request: sending it again will not help.

    Any 4xx, and any 5xx with the engine's JSON error body (Camunda 7 answers 500
    when the process cannot continue after the task: a failing expression or
    listener, a value too long for its column, ...). Typical 4xx: the task is gone
    (404), its lock belongs to another worker (400), credentials are wrong (401/403).
    Also an answer larger than ``max_answer_bytes`` (kind ``too_large``): it is not read,
    and asking again gets the same answer.
    """
