"""Handlers written for camunda-external-task-client-python3, run by this SDK unchanged.

Change the import lines only::

    # from camunda.external_task.external_task_worker import ExternalTaskWorker
    from camunda_workers.compat import ExternalTaskWorker
    from camunda.external_task.external_task import ExternalTask, TaskResult

    def handle_task(task: ExternalTask) -> TaskResult:
        return task.complete({"approved": True})

    ExternalTaskWorker(worker_id="1", config={"maxTasks": 10}).subscribe("topic", handle_task)

Handlers get that library's own ``ExternalTask`` and return its ``TaskResult``; the
worker behind them is ours (:class:`camunda_workers.Worker`): handlers run concurrently,
locks are extended, SIGTERM drains, variables are typed, metrics and health are served.
What behaves differently is the SDK README's "Coming from camunda-external-task-client-python3".
Needs the extra: ``pip install 'camunda-workers[compat]'``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Self

try:
    from camunda.external_task.external_task import ExternalTask, TaskResult
except ImportError as missing:  # pragma: no cover - the extra is installed in development
    raise ImportError(
        "camunda_workers.compat runs handlers of camunda-external-task-client-python3, which "
        "is not installed: pip install 'camunda-workers[compat]'") from missing

from prometheus_client import CollectorRegistry

from ._client import HttpTransport
from ._compat_config import AsyncConfig, SyncConfig, compat_options
from ._compat_handler import CompatAction, compat_handler
from ._logging import configure_logging
from ._settings import resolve_settings
from ._spec import WorkerSpec, load_spec
from ._variables import encode_variables
from ._worker import Worker
from .errors import CamundaWorkersError

__all__ = ["AsyncExternalTaskWorker", "ExternalTask", "ExternalTaskWorker", "TaskResult",
           "make_external_task"]

log = logging.getLogger("camunda_workers")
_KEBAB = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
_DEFAULT_NAME = "external-task-worker"


def _worker_name(worker_id: object) -> str:
    """Our worker name (metric label, log field): the worker id when it is one, kebab-case."""
    text = str(worker_id or "")
    return text if _KEBAB.fullmatch(text) and len(text) <= 40 else _DEFAULT_NAME


class _CompatWorker:
    """Builds one of our workers from that library's constructor arguments."""

    _config_model: type[SyncConfig] | type[AsyncConfig] = SyncConfig

    def __init__(self, worker_id: str | int | None, base_url: str | None = None,
                 config: Mapping[str, Any] | None = None, *, name: str | None = None,
                 spec: WorkerSpec | None = None, registry: CollectorRegistry | None = None,
                 environ: Mapping[str, str] | None = None,
                 transport: HttpTransport | None = None) -> None:
        options, self._fetch = compat_options(self._config_model, config,
                                              source=f"{type(self).__name__} config")
        if base_url is not None:  # else CAMUNDA_URL, else localhost:8080 as that library
            options["base_url"] = base_url
        if worker_id is not None and worker_id != "":
            options["worker_id"] = str(worker_id)
        if name is not None or spec is None:
            options["name"] = name or _worker_name(worker_id)
        long_poll = options.pop("async_response_timeout_ms", None)
        if long_poll is not None:
            # A stopping worker waits for its last long poll: at most what the drain allows.
            bound = resolve_settings(options, spec=spec, environ=environ).long_poll_bound_ms()
            options["async_response_timeout_ms"] = min(long_poll, bound)
        self.config = dict(config or {})
        self.worker = Worker(spec=spec, registry=registry, environ=environ,
                             transport=transport, **options)
        self.worker_id = self.worker.worker_id

    @classmethod
    def from_spec(cls, spec: WorkerSpec | str | Path, config: Mapping[str, Any] | None = None,
                  **kwargs: Any) -> Self:
        """A worker configured by ``worker.json`` (the template's ``main.py``): its name,
        max_tasks, lock_duration, port and drain; ``config`` keys override them."""
        loaded = spec if isinstance(spec, WorkerSpec) else load_spec(spec)
        return cls(None, None, config, spec=loaded, **kwargs)

    def _register(self, handlers: Mapping[str, CompatAction],
                  process_variables: Mapping[str, Any] | None,
                  variables: Sequence[str] | None) -> None:
        for topic, action in handlers.items():
            self.worker.topic(
                topic, variables=variables, process_variables=process_variables,
                include_extension_properties=self._fetch.include_extension_properties,
                deserialize_values=self._fetch.deserialize_values,
            )(compat_handler(action, self.worker_id))


class ExternalTaskWorker(_CompatWorker):
    """That library's ``ExternalTaskWorker(worker_id, base_url, config)``, run by our worker.

    ``base_url`` not given: ``CAMUNDA_URL``, else ``http://localhost:8080/engine-rest``.
    Keyword-only extras: ``name`` (metrics label), ``spec`` (a ``worker.json``),
    ``registry``, ``environ``, ``transport`` as :class:`~camunda_workers.Worker` takes them.
    """

    _config_model = SyncConfig

    def subscribe(self, topic_names: str | Sequence[str] | Mapping[str, CompatAction],
                  action: CompatAction | None = None,
                  process_variables: Mapping[str, Any] | None = None,
                  variables: Sequence[str] | None = None) -> None:
        """Run ``action`` for ``topic_names`` (a name or a list) until SIGTERM/SIGINT, then
        drain. ``{topic: action}`` (no ``action``) serves several handlers in one worker.

        ``process_variables`` fetches only tasks whose process has these values;
        ``variables`` only these variables (default: all).
        """
        if isinstance(topic_names, Mapping):
            if action is not None:
                raise TypeError("give either {topic: action} or topic names and an action")
            handlers = dict(topic_names)
        else:
            if action is None:
                raise TypeError("subscribe(topic_names, action): the action is missing")
            names = [topic_names] if isinstance(topic_names, str) else list(topic_names)
            handlers = dict.fromkeys(names, action)
        self._register(handlers, process_variables, variables)
        self.worker.run()

    def stop(self) -> None:
        """Stop polling and drain, as SIGTERM does. Safe from any thread."""
        self.worker.stop()


class AsyncExternalTaskWorker(_CompatWorker):
    """That library's ``AsyncExternalTaskWorker``: ``await worker.subscribe({topic: fn})``.

    ``maxConcurrentTasks`` handlers run at once; each poll fetches as many tasks as are
    free (that library fetches one per poll).
    """

    _config_model = AsyncConfig

    async def subscribe(self, topic_handlers: Mapping[str, CompatAction],
                        process_variables: Mapping[str, Any] | None = None,
                        variables: Sequence[str] | None = None) -> None:
        """Run the handlers on the running loop until SIGTERM/SIGINT or :meth:`stop`."""
        self._register(topic_handlers, process_variables, variables)
        settings = self.worker.settings
        configure_logging(worker=settings.name, level=settings.log_level)
        try:
            with self.worker.lifecycle.handling_signals(asyncio.get_running_loop()):
                await self.worker.run_async()
        except CamundaWorkersError as error:
            log.error("%s", error)
            raise SystemExit(1) from None

    async def stop(self) -> None:
        """Stop polling and drain (that library's ``stop`` cancels running handlers)."""
        self.worker.stop()


def make_external_task(variables: Mapping[str, Any] | None = None, *,
                       topic: str = "test_topic", **context: Any) -> ExternalTask:
    """That library's ``ExternalTask`` as the engine would deliver it, for unit tests.

    >>> result = charge(make_external_task({"amount": 5}, topic="charge"))
    >>> result.is_success(), result.global_variables
    (True, {'charged': True})

    ``context`` sets other fields of the engine's answer (``businessKey``, ``retries``...).
    """
    answer: dict[str, Any] = {
        "id": str(uuid.uuid4()), "topicName": topic, "workerId": "test-worker",
        "processInstanceId": str(uuid.uuid4()), "activityId": "test_activity",
        "businessKey": None, "tenantId": None, "retries": None, "extensionProperties": {},
        "variables": encode_variables(variables),
    }
    answer.update(context)
    return ExternalTask(answer)
