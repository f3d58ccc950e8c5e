"""A handler written for camunda-external-task-client-python3, as one of ours.

It receives that library's own ``ExternalTask``, built from the engine's answer, and
returns its ``TaskResult``; here the result becomes one of our handler decisions (a
:class:`Completion`, a :class:`BpmnError`, a :class:`TaskFailure`), so that what the
engine is told goes through the worker's one outcome path like any other handler's.

Where that library silently does nothing (the handler returns ``None`` or something that
is not a ``TaskResult``, or raises: the task waits out its lock and the worker sleeps
``sleepSeconds``), this reports a failure naming the handler and what it returned, with
the worker's retry policy (retries count down to an incident).
"""

from __future__ import annotations

import functools
import inspect
import traceback
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from camunda.external_task.external_task import ExternalTask, TaskResult

from ._router import Handler
from ._task import Completion, Task
from ._variables import TypedValue
from .errors import BpmnError, TaskFailure

__all__ = ["CompatAction", "compat_handler", "external_task", "plain_variables"]

CompatAction = Callable[[ExternalTask], TaskResult | Awaitable[TaskResult]]
_TYPED_KEYS = frozenset({"value", "type", "valueInfo"})


def external_task(task: Task, worker_id: str) -> ExternalTask:
    """That library's task over the engine's answer, as it would have built it.

    Our polls lock under ids of their own (``WORKER_ID#tag-n``); ``get_worker_id()``
    gives the worker id the handler was written against, as that library's does.
    """
    return ExternalTask({**task.raw, "workerId": worker_id})


def plain_variables(variables: Mapping[str, Any] | None) -> dict[str, Any]:
    """Variables as that library's ``Variables.format`` reads them, for our encoding.

    A dict holding only ``value`` (and ``type``, ``valueInfo``) is a typed value there:
    with a type it is sent as given, without one its value is typed by ours. Any other
    value, a dict or list too, is typed by ours (a dict becomes Json, not a Java map).
    """
    plain: dict[str, Any] = {}
    for name, value in (variables or {}).items():
        if isinstance(value, Mapping) and "value" in value and value.keys() <= _TYPED_KEYS:
            if value.get("type"):
                value = TypedValue(value["value"], str(value["type"]),
                                   dict(value.get("valueInfo") or {}))
            else:
                value = value["value"]
        plain[name] = value
    return plain


def _name(action: Callable[..., Any]) -> str:
    return str(getattr(action, "__qualname__", None) or repr(action))


def _decision(action: Callable[..., Any], topic: str, result: object) -> Completion:
    """What a ``TaskResult`` tells the engine; anything else fails the task, named."""
    name = _name(action)
    if not isinstance(result, TaskResult):
        shown = "None" if result is None else f"{type(result).__name__} {str(result)[:80]!r}"
        raise TaskFailure(
            f"handler {name} of topic {topic!r} returned {shown}, not a TaskResult: return "
            "task.complete(...), task.failure(...) or task.bpmn_error(...)")
    if result.is_success():
        return Completion(plain_variables(result.global_variables),
                          plain_variables(result.local_variables))
    if result.is_bpmn_error():
        raise BpmnError(str(result.bpmn_error_code), result.error_message,
                        plain_variables(result.global_variables))
    if result.is_failure():
        details = result.error_details
        raise TaskFailure(str(result.error_message),
                          details if isinstance(details, str) or not details else str(details),
                          retries=result.retries, retry_timeout=result.retry_timeout)
    raise TaskFailure(
        f"handler {name} of topic {topic!r} returned a TaskResult that is neither "
        "complete, failure nor bpmn_error (e.g. task.failure with no error_message)")


@contextmanager
def _named_errors(action: Callable[..., Any], topic: str) -> Iterator[None]:
    """An exception of the handler becomes its failure, naming it (our decisions pass)."""
    try:
        yield
    except (BpmnError, TaskFailure):
        raise
    except Exception as error:  # any handler error is its failure
        raise TaskFailure(f"handler {_name(action)} of topic {topic!r} raised "
                          f"{type(error).__name__}: {error}",
                          "".join(traceback.format_exception(error))) from error


def compat_handler(action: CompatAction, worker_id: str) -> Handler:
    """``action`` as one of our handlers (async if it is, else run in the worker's threads)."""
    if inspect.iscoroutinefunction(action):

        @functools.wraps(action)
        async def run_async(task: Task) -> Completion:
            with _named_errors(action, task.topic):
                result = await action(external_task(task, worker_id))
            return _decision(action, task.topic, result)

        return run_async

    @functools.wraps(action)
    def run(task: Task) -> Completion:
        with _named_errors(action, task.topic):
            result = action(external_task(task, worker_id))
        return _decision(action, task.topic, result)

    return run
