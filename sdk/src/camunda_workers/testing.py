"""Helpers for unit-testing handlers without an engine.

>>> from camunda_workers.testing import make_task, run_handler
>>> outcome = run_handler(send_email, make_task({"to": "a@example.org"}))
>>> outcome.variables
{'sent': True}

``run_handler`` decides like the worker and encodes the result exactly as the worker
sends it, so a value the engine could not take (NaN, a ``Decimal``, a ``set``, ...)
fails the unit test as it would fail the task in production.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import _wire
from ._router import Handler, as_async
from ._task import Task, completion_of
from .errors import BpmnError, UnsendableVariableError

__all__ = ["HandlerOutcome", "make_task", "run_handler"]


def make_task(
    variables: Mapping[str, Any] | None = None, *, topic: str = "test_topic", **fields: Any
) -> Task:
    """A :class:`Task` as the worker would pass it; ``fields`` set any other attribute."""
    defaults: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "worker_id": "test-worker",
        "process_instance_id": str(uuid.uuid4()),
        "activity_id": "test_activity",
    }
    defaults.update(fields)
    return Task(topic=topic, variables=dict(variables or {}), **defaults)


@dataclass
class HandlerOutcome:
    """How a handler ended: completed (with variables), a BPMN error, or a failure.

    ``failure`` is the exception the worker would report, including an
    :class:`~camunda_workers.UnsendableVariableError` for a result it could not send.
    """

    completed: bool
    variables: dict[str, Any] = field(default_factory=dict)
    local_variables: dict[str, Any] = field(default_factory=dict)
    bpmn_error: BpmnError | None = None
    failure: Exception | None = None


def run_handler(handler: Handler, task: Task) -> HandlerOutcome:
    """Run a sync or async handler like the worker does and return what it decided."""
    try:
        completion = completion_of(task, asyncio.run(_call(handler, task)))
        _wire.complete_body(task.worker_id, completion.variables, completion.local_variables,
                            task.variable_types)
    except BpmnError as error:
        try:
            _wire.bpmn_error_body(task.worker_id, error.code, error.message, error.variables,
                                  task.variable_types)
        except UnsendableVariableError as unsendable:
            return HandlerOutcome(completed=False, failure=unsendable)
        return HandlerOutcome(completed=False, bpmn_error=error)
    except Exception as error:  # noqa: BLE001 - the worker reports any error as a failure
        return HandlerOutcome(completed=False, failure=error)
    return HandlerOutcome(
        completed=True,
        variables=dict(completion.variables),
        local_variables=dict(completion.local_variables),
    )


async def _call(handler: Handler, task: Task) -> Any:
    return await as_async(handler)(task)
