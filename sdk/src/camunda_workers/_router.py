"""Registering topic handlers, apart from running them (see :class:`~camunda_workers.Worker`)."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import warnings
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeVar

from ._task import Completion, Task

__all__ = [
    "HANDLER_EXECUTOR", "AsyncHandler", "Handler", "HandlerResult", "Subscription", "TaskRouter",
]

HandlerResult: TypeAlias = Mapping[str, Any] | Completion | None
AsyncHandler: TypeAlias = Callable[[Task], Awaitable[HandlerResult]]
Handler: TypeAlias = Callable[[Task], HandlerResult] | AsyncHandler
HandlerT = TypeVar("HandlerT", bound=Handler)

# The running worker's thread pool (sized to max_tasks); None outside a worker.
HANDLER_EXECUTOR: contextvars.ContextVar[Executor | None] = contextvars.ContextVar(
    "camunda_workers_handler_executor", default=None
)


def as_async(handler: Handler) -> AsyncHandler:
    """The one place sync handlers become async: they run in the worker's thread pool.

    The worker sizes that pool to ``max_tasks``, so a blocking handler never
    blocks polling or other handlers.
    """
    if inspect.iscoroutinefunction(handler):
        return handler

    @functools.wraps(handler)
    async def in_thread(task: Task) -> HandlerResult:
        context = contextvars.copy_context()
        call = functools.partial(context.run, handler, task)
        result: Any = await asyncio.get_running_loop().run_in_executor(
            HANDLER_EXECUTOR.get(), call
        )
        return result  # type: ignore[no-any-return]

    return in_thread


@dataclass(frozen=True)
class Subscription:
    """One topic, its handler (already async) and what ``fetchAndLock`` asks for it."""

    topic: str
    handler: AsyncHandler
    lock_duration_ms: int | None = None
    variables: tuple[str, ...] | None = None
    local_variables: bool = False
    business_key: str | None = None
    process_definition_key: str | None = None
    tenant_ids: tuple[str, ...] | None = None
    include_extension_properties: bool = False
    process_variables: Mapping[str, Any] | None = None
    deserialize_values: bool = False

    def fetch_topic(self, default_lock_duration_ms: int) -> dict[str, Any]:
        """This subscription as one entry of ``fetchAndLock``'s ``topics``."""
        topic: dict[str, Any] = {
            "topicName": self.topic,
            "lockDuration": self.lock_duration_ms or default_lock_duration_ms,
            "localVariables": self.local_variables,
            "includeExtensionProperties": self.include_extension_properties,
            # Serialized values by default: Json arrives as its text and Java objects in
            # the application/json format as JSON (deserialized ones would arrive as Spin
            # or Java bean properties); _variables decodes both. The compat layer asks
            # as camunda-external-task-client-python3 did (deserialized by default).
            "deserializeValues": self.deserialize_values,
        }
        if self.variables is not None:
            topic["variables"] = list(self.variables)
        if self.business_key is not None:
            topic["businessKey"] = self.business_key
        if self.process_definition_key is not None:
            topic["processDefinitionKey"] = self.process_definition_key
        if self.tenant_ids is not None:
            topic["tenantIdIn"] = list(self.tenant_ids)
        if self.process_variables:
            topic["processVariables"] = dict(self.process_variables)
        return topic


class TaskRouter:
    """Collects handlers by topic. A :class:`Worker` is a router that can also run.

    >>> router = TaskRouter()
    >>> @router.topic("send_email", variables=["to"])
    ... def send_email(task: Task) -> dict[str, object]:
    ...     return {"sent": True}
    >>> worker.include_router(router)
    """

    def __init__(self) -> None:
        self._subscriptions: dict[str, Subscription] = {}

    @property
    def subscriptions(self) -> Mapping[str, Subscription]:
        return dict(self._subscriptions)

    def topic(
        self,
        name: str,
        *,
        lock_duration_ms: int | None = None,
        variables: Sequence[str] | None = None,
        local_variables: bool = False,
        business_key: str | None = None,
        process_definition_key: str | None = None,
        tenant_ids: Sequence[str] | None = None,
        include_extension_properties: bool = False,
        process_variables: Mapping[str, Any] | None = None,
        deserialize_values: bool = False,
        lock_duration: int | None = None,
    ) -> Callable[[HandlerT], HandlerT]:
        """Register the decorated function as the handler of topic ``name``.

        ``lock_duration_ms`` is the task's lock (default: the worker's; ``lock_duration``
        is its deprecated old name); ``variables``
        fetches only those names (default: all); ``local_variables`` only the task's
        local ones. The other filters narrow which tasks of the topic are fetched
        (``process_variables``: only tasks whose process has these values).
        ``deserialize_values`` asks the engine for deserialized Java objects (Json and
        Object variables then arrive as the engine renders the object, not serialized).
        """
        if lock_duration is not None:
            if lock_duration_ms is not None:
                raise ValueError(f"topic {name!r}: lock_duration given together with "
                                 "lock_duration_ms, its new name; give lock_duration_ms only")
            warnings.warn("lock_duration is deprecated: call it lock_duration_ms (the unit "
                          "is in the name)", DeprecationWarning, stacklevel=2)
            lock_duration_ms = lock_duration

        def register(handler: HandlerT) -> HandlerT:
            self._add(Subscription(
                topic=name,
                handler=as_async(handler),
                lock_duration_ms=lock_duration_ms,
                variables=tuple(variables) if variables is not None else None,
                local_variables=local_variables,
                business_key=business_key,
                process_definition_key=process_definition_key,
                tenant_ids=tuple(tenant_ids) if tenant_ids is not None else None,
                include_extension_properties=include_extension_properties,
                process_variables=dict(process_variables) if process_variables else None,
                deserialize_values=deserialize_values,
            ))
            return handler

        return register

    def include_router(self, *routers: TaskRouter) -> None:
        """Take over the handlers of other routers (e.g. one per module)."""
        for router in routers:
            for subscription in router._subscriptions.values():
                self._add(subscription)

    def _add(self, subscription: Subscription) -> None:
        if not subscription.topic.strip():
            raise ValueError("topic name must not be empty")
        if subscription.topic in self._subscriptions:
            raise ValueError(f"topic {subscription.topic!r} already has a handler")
        if subscription.lock_duration_ms is not None and subscription.lock_duration_ms < 100:
            raise ValueError(f"topic {subscription.topic!r}: lock_duration_ms must be >= 100")
        self._subscriptions[subscription.topic] = subscription
