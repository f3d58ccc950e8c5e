"""camunda_workers: Camunda 7 / Operaton external-task workers.

>>> from camunda_workers import Worker, Task, BpmnError
>>> worker = Worker.from_spec("worker.json")
>>> @worker.topic("send_email", variables=["to"])
... def send_email(task: Task) -> dict[str, object]:
...     return {"sent": True}
>>> worker.run()

``Worker`` (and with it the HTTP client, aiohttp) and the names of running tasks (settings,
retries, routing, tasks, typed values: asyncio and pydantic models) are imported on first
use, so that reading a ``worker.json`` (``load_spec``, as the ``workers`` command does)
stays fast.
"""

import importlib
from typing import TYPE_CHECKING, Any

from ._spec import Duration, TopicName, WorkerName, WorkerSpec, load_spec
from ._validation import validate_model
from ._version import __version__
from .errors import (
    BpmnError,
    CamundaWorkersError,
    EngineError,
    EngineRejectedError,
    EngineUnavailableError,
    SpecError,
    TaskFailure,
    UnsendableVariableError,
)

__all__ = [
    "ENV_VARIABLES",
    "AsyncHandler",
    "Backoff",
    "BpmnError",
    "CamundaWorkersError",
    "Completion",
    "Duration",
    "EngineError",
    "EngineRejectedError",
    "EngineUnavailableError",
    "ExponentialRetryPolicy",
    "FileValue",
    "Handler",
    "HandlerResult",
    "RetryDecision",
    "RetryPolicy",
    "SpecError",
    "Subscription",
    "Task",
    "TaskFailure",
    "TaskRouter",
    "TopicName",
    "TypedValue",
    "UnsendableVariableError",
    "Worker",
    "WorkerName",
    "WorkerOptions",
    "WorkerSettings",
    "WorkerSpec",
    "__version__",
    "check_engine_url",
    "load_spec",
    "read_secret_file",
    "redacted_url",
    "validate_model",
]


# Public name -> its private module, imported on first use (see the docstring).
_LAZY = {
    **dict.fromkeys(["Backoff", "ExponentialRetryPolicy", "RetryDecision", "RetryPolicy"],
                    "._retry"),
    **dict.fromkeys(["AsyncHandler", "Handler", "HandlerResult", "Subscription", "TaskRouter"],
                    "._router"),
    **dict.fromkeys(["ENV_VARIABLES", "WorkerOptions", "WorkerSettings", "check_engine_url",
                     "read_secret_file", "redacted_url"], "._settings"),
    **dict.fromkeys(["Completion", "Task"], "._task"),
    **dict.fromkeys(["FileValue", "TypedValue"], "._variables"),
    "Worker": "._worker",
}

if TYPE_CHECKING:
    from ._retry import Backoff, ExponentialRetryPolicy, RetryDecision, RetryPolicy
    from ._router import AsyncHandler, Handler, HandlerResult, Subscription, TaskRouter
    from ._settings import (
        ENV_VARIABLES,
        WorkerOptions,
        WorkerSettings,
        check_engine_url,
        read_secret_file,
        redacted_url,
    )
    from ._task import Completion, Task
    from ._variables import FileValue, TypedValue
    from ._worker import Worker


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
