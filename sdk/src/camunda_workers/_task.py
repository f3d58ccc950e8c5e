"""The task a handler receives, and what a handler may return."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from ._variables import VariableType, decode_variables

__all__ = ["Completion", "LockExtender", "Task", "completion_of"]


class LockExtender(Protocol):
    """What a running worker attaches to a task so that its lock can be extended."""

    @property
    def loop(self) -> asyncio.AbstractEventLoop: ...

    async def extend(self, duration_ms: int) -> None: ...


@dataclass(frozen=True)
class Completion:
    """Completes a task: ``variables`` go to the process, ``local_variables`` to the task."""

    variables: Mapping[str, Any] = field(default_factory=dict)
    local_variables: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Task:
    """One locked external task.

    ``variables`` holds plain Python values (decoded from Camunda's typed values);
    ``variable_types`` says how each arrived, so that a value handed back keeps its
    type. ``worker_id`` is the id the task is locked under. A handler completes the
    task by returning a dict of process variables, or ``None``, or by calling
    :meth:`complete` (which also allows local variables).
    """

    id: str
    topic: str
    worker_id: str
    variables: dict[str, Any] = field(default_factory=dict)
    process_instance_id: str | None = None
    process_definition_id: str | None = None
    process_definition_key: str | None = None
    activity_id: str | None = None
    activity_instance_id: str | None = None
    execution_id: str | None = None
    business_key: str | None = None
    tenant_id: str | None = None
    retries: int | None = None
    priority: int = 0
    error_message: str | None = None
    lock_expiration_time: str | None = None
    extension_properties: dict[str, str] = field(default_factory=dict)
    variable_types: dict[str, VariableType] = field(default_factory=dict, repr=False)
    completion: Completion | None = field(default=None, repr=False)
    lock_extender: LockExtender | None = field(default=None, repr=False, compare=False)
    # The engine's answer this task was built from (the compat layer hands it on as is).
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_engine(cls, raw: Mapping[str, Any], *, with_variables: bool = True) -> Task:
        """Build from one element of a ``fetchAndLock`` response.

        Raises ``VariableDecodeError`` for a variable that is not what its type says;
        ``with_variables=False`` leaves the variables out (decode them apart).
        """
        variables, types = decode_variables(raw.get("variables")) if with_variables else ({}, {})
        return cls(
            id=raw["id"],
            topic=raw["topicName"],
            worker_id=raw.get("workerId") or "",
            variables=variables,
            variable_types=types,
            process_instance_id=raw.get("processInstanceId"),
            process_definition_id=raw.get("processDefinitionId"),
            process_definition_key=raw.get("processDefinitionKey"),
            activity_id=raw.get("activityId"),
            activity_instance_id=raw.get("activityInstanceId"),
            execution_id=raw.get("executionId"),
            business_key=raw.get("businessKey"),
            tenant_id=raw.get("tenantId"),
            retries=raw.get("retries"),
            priority=raw.get("priority") or 0,
            error_message=raw.get("errorMessage"),
            lock_expiration_time=raw.get("lockExpirationTime"),
            extension_properties=dict(raw.get("extensionProperties") or {}),
            raw=raw,
        )

    def complete(
        self,
        variables: Mapping[str, Any] | None = None,
        local_variables: Mapping[str, Any] | None = None,
    ) -> Completion:
        """Decide to complete this task; the worker reports it when the handler returns."""
        self.completion = Completion(dict(variables or {}), dict(local_variables or {}))
        return self.completion

    def extend_lock(self, duration_ms: int) -> None:
        """Extend this task's lock to ``duration_ms`` from now; blocks until the engine agreed.

        For sync handlers (they run in a thread). In async handlers use
        :meth:`extend_lock_async`. The worker already extends locks of long-running
        handlers by itself; this is for handlers that know they need longer.
        """
        extender = self._extender()
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is extender.loop:
            raise RuntimeError("in an async handler use: await task.extend_lock_async(ms)")
        asyncio.run_coroutine_threadsafe(extender.extend(duration_ms), extender.loop).result()

    async def extend_lock_async(self, duration_ms: int) -> None:
        """Extend this task's lock to ``duration_ms`` from now (async handlers)."""
        await self._extender().extend(duration_ms)

    def _extender(self) -> LockExtender:
        if self.lock_extender is None:
            raise RuntimeError("this task is not running in a worker: no lock to extend")
        return self.lock_extender

    def lock_expires_at(self) -> datetime | None:
        if not self.lock_expiration_time:
            return None
        return datetime.strptime(self.lock_expiration_time, "%Y-%m-%dT%H:%M:%S.%f%z")


def completion_of(task: Task, result: object) -> Completion:
    """What a handler's return value means: a dict, None, or ``task.complete(...)``.

    Raises TypeError for anything else; the worker reports that as the task's failure.
    """
    if isinstance(result, Completion):
        return result
    if isinstance(result, Mapping):
        return Completion(variables=result)
    if result is not None:
        raise TypeError(
            f"handler of topic {task.topic!r} returned {type(result).__name__}; "
            "return a dict of variables, None, or task.complete(...)"
        )
    return task.completion or Completion()

