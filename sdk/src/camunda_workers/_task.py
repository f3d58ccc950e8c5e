"""The task a handler receives, and what a handler may return."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ._variables import decode_variables

__all__ = ["Completion", "Task"]


@dataclass(frozen=True)
class Completion:
    """Completes a task: ``variables`` go to the process, ``local_variables`` to the task."""

    variables: Mapping[str, Any] = field(default_factory=dict)
    local_variables: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Task:
    """One locked external task.

    ``variables`` holds plain Python values (decoded from Camunda's typed values).
    A handler completes the task by returning a dict of process variables, or
    ``None``, or by calling :meth:`complete` (which also allows local variables).
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
    completion: Completion | None = field(default=None, repr=False)

    @classmethod
    def from_engine(cls, raw: Mapping[str, Any]) -> Task:
        """Build from one element of a ``fetchAndLock`` response."""
        return cls(
            id=raw["id"],
            topic=raw["topicName"],
            worker_id=raw.get("workerId") or "",
            variables=decode_variables(raw.get("variables")),
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
        )

    def complete(
        self,
        variables: Mapping[str, Any] | None = None,
        local_variables: Mapping[str, Any] | None = None,
    ) -> Completion:
        """Decide to complete this task; the worker reports it when the handler returns."""
        self.completion = Completion(dict(variables or {}), dict(local_variables or {}))
        return self.completion

    def lock_expires_at(self) -> datetime | None:
        if not self.lock_expiration_time:
            return None
        return datetime.strptime(self.lock_expiration_time, "%Y-%m-%dT%H:%M:%S.%f%z")
