"""The engine's external-task REST API over one keep-alive connection pool.

camunda-external-task-client-python3 opens a new HTTP client for every call (its
``AsyncExternalTaskClient`` does ``async with httpx.AsyncClient()`` per request) and
fetches one task per long poll; ``bench/throughput.py`` measures what that costs.
This client keeps one pool per worker and is the only place where HTTP answers and
transport errors become :class:`~camunda_workers.errors.EngineError`, classified as
the Camunda 7 REST reference documents them (see :func:`engine_error`).
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
from camunda.utils.auth_basic import AuthBasic

from . import _wire
from ._settings import WorkerSettings
from .errors import EngineError, EngineRejectedError, EngineUnavailableError

__all__ = ["EngineClient", "engine_error"]

_JSON = {"Content-Type": "application/json"}
# Error codes the engine puts in its error body (Camunda >= 7.15) for a conflict that is
# safe to retry: 1 optimistic locking (also CockroachDB's retry error), 10000 deadlock.
_RETRYABLE_CODES = {1, 10_000}
_RETRYABLE_TYPES = {"OptimisticLockingException", "CrdbTransactionRetryException"}
# Gateways and proxies say the engine is away or busy with these; the engine never does.
_UNAVAILABLE = {502, 503, 504}


def _summary(response: httpx.Response) -> str:
    # e.g. a servlet container's or proxy's HTML error page
    title = re.search(r"<title>(.*?)</title>", response.text, re.IGNORECASE | re.DOTALL)
    text = title.group(1) if title else response.text
    return " ".join(text.split())[:160] or response.reason_phrase


def engine_error(method: str, path: str, response: httpx.Response) -> EngineError:
    """An answer of 400 or more, classified as the Camunda 7 REST API documents it.

    The engine's own answers carry ``{"type", "message"[, "code"]}`` and are final
    (:class:`EngineRejectedError`): 404 the task is gone, 400 its lock is another
    worker's or the request is invalid, 401/403 credentials, 500 the process could not
    continue (a failing expression or listener, a persistence error). Transient
    (:class:`EngineUnavailableError`): 502/503/504, an answer that is not the engine's
    JSON, and the conflicts the engine marks as retryable (optimistic locking, deadlock).
    """
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    prefix = f"{method} {path}: engine answered {status}"
    by_status = {401: "unauthorized", 403: "unauthorized", 404: "not_found"}
    if not isinstance(body, dict) or not isinstance(body.get("type"), str) or (
            status in _UNAVAILABLE):
        kind = by_status.get(status, "server" if status >= 500 else "rejected")
        message = f"{prefix}: {_summary(response)}"
        if kind == "unauthorized":  # the auth filter answers without a JSON body
            return EngineRejectedError(message, kind=kind, status=status, path=path)
        return EngineUnavailableError(message, kind=kind, status=status, path=path)
    engine_type = str(body["type"])
    engine_message = str(body.get("message") or "")
    code = body["code"] if isinstance(body.get("code"), int) else None
    error_class: type[EngineError] = EngineRejectedError
    if engine_type in _RETRYABLE_TYPES or code in _RETRYABLE_CODES:
        error_class, kind = EngineUnavailableError, "conflict"
    else:
        kind = by_status.get(status, "server" if status >= 500 else "rejected")
    return error_class(f"{prefix}: {engine_type}: {engine_message}", kind=kind, status=status,
                       path=path, engine_type=engine_type, engine_message=engine_message,
                       engine_code=code)


class EngineClient:
    """Async client for ``/external-task`` endpoints; every method raises only ``EngineError``.

    Each call names the worker id it acts for: the worker locks every poll under an id
    of its own (see ``_sweep.PollIds``) and reports under the id that locked the task.
    """

    def __init__(
        self,
        *,
        base_url: str,
        headers: Mapping[str, str] | None = None,
        timeout: float = 10.0,
        max_connections: int = 10,
        verify: bool | ssl.SSLContext = True,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers=dict(headers or {}),
            timeout=timeout,
            verify=verify,
            transport=transport,
            # One long poll holds a connection while results are reported on others.
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
        )

    @classmethod
    def for_settings(cls, settings: WorkerSettings,
                     transport: httpx.AsyncBaseTransport | None = None) -> EngineClient:
        """The client a worker with these settings uses (credentials, TLS, pool size)."""
        headers: dict[str, str] = {}
        if settings.token is not None:
            headers["Authorization"] = f"Bearer {settings.token.get_secret_value()}"
        elif settings.username is not None:
            password = settings.password.get_secret_value() if settings.password else ""
            # Header built by camunda-external-task-client-python3's helper.
            headers["Authorization"] = AuthBasic(username=settings.username,
                                                 password=password).token
        return cls(
            base_url=settings.base_url,
            headers=headers,
            timeout=settings.http_timeout,
            max_connections=settings.max_tasks + 2,  # the long poll, and reports beside it
            verify=(ssl.create_default_context(cafile=settings.ca_bundle)
                    if settings.ca_bundle else settings.verify_tls),
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> EngineClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def send(
        self,
        method: str,
        path: str,
        content: bytes | None = None,
        *,
        params: Mapping[str, str | int] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - an HTTP timeout, not a cancel scope
    ) -> httpx.Response:
        """Send one request (``content`` from ``_wire``); return a 2xx/3xx answer or raise."""
        try:
            response = await self._http.request(
                method, path, content=content, params=params,
                headers=_JSON if content is not None else None,
                timeout=timeout if timeout is not None else self._timeout,
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # Never reached the engine: it cannot have acted on this request.
            kind = "connection" if isinstance(exc, httpx.ConnectError) else "timeout"
            raise EngineUnavailableError(
                f"{method} {path}: {type(exc).__name__}: {exc}", kind=kind, path=path,
                request_sent=False,
            ) from exc
        except httpx.TimeoutException as exc:
            raise EngineUnavailableError(
                f"{method} {path}: timed out ({type(exc).__name__})", kind="timeout", path=path
            ) from exc
        except httpx.TransportError as exc:
            raise EngineUnavailableError(
                f"{method} {path}: {type(exc).__name__}: {exc}", kind="connection", path=path
            ) from exc
        if response.status_code >= 400:
            raise engine_error(method, path, response)
        return response

    async def request(
        self,
        method: str,
        path: str,
        content: bytes | None = None,
        *,
        params: Mapping[str, str | int] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - an HTTP timeout, not a cancel scope
    ) -> Any:
        """Send one request; return the decoded JSON body (``None`` for 204)."""
        response = await self.send(method, path, content, params=params, timeout=timeout)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise EngineUnavailableError(
                f"{method} {path}: malformed JSON in {response.status_code} answer: "
                f"{response.text[:100]!r}",
                kind="malformed_response", status=response.status_code, path=path,
            ) from exc

    async def fetch_and_lock(
        self,
        *,
        worker_id: str,
        max_tasks: int,
        topics: Sequence[Mapping[str, Any]],
        async_response_timeout_ms: int,
        http_timeout: float,
        use_priority: bool = True,
    ) -> list[dict[str, Any]]:
        path = "/external-task/fetchAndLock"
        body = _wire.fetch_body(worker_id=worker_id, max_tasks=max_tasks,
                                use_priority=use_priority, topics=topics,
                                async_response_timeout_ms=async_response_timeout_ms)
        result = await self.request("POST", path, body, timeout=http_timeout)
        if not isinstance(result, list) or not all(
            isinstance(task, dict) and "id" in task and "topicName" in task for task in result
        ):
            raise EngineUnavailableError(
                f"POST {path}: expected a JSON list of tasks with id and topicName, "
                f"got {str(result)[:100]}", kind="malformed_response", path=path,
            )
        return result

    async def report(self, task_id: str, action: str, body: bytes) -> None:
        """``POST /external-task/{id}/{action}`` (complete, failure, bpmnError) with ``body``."""
        await self.request("POST", f"/external-task/{task_id}/{action}", body)

    async def extend_lock(self, task_id: str, worker_id: str, new_duration_ms: int) -> None:
        await self.request("POST", f"/external-task/{task_id}/extendLock",
                           _wire.extend_lock_body(worker_id, new_duration_ms))

    async def unlock(self, task_id: str) -> None:
        await self.request("POST", f"/external-task/{task_id}/unlock")

    async def locked_tasks(self, *, worker_id: str | None = None, topic: str | None = None,
                           max_results: int = 1000) -> list[dict[str, Any]]:
        """Tasks locked now, by one worker id or of one topic."""
        params: dict[str, str | int] = {"locked": "true", "maxResults": max_results}
        if worker_id is not None:
            params["workerId"] = worker_id
        if topic is not None:
            params["topicName"] = topic
        result = await self.request("GET", "/external-task", params=params)
        return [task for task in result or [] if isinstance(task, dict) and "id" in task]

    async def download(self, path: str) -> bytes:
        """The raw body of a GET (a binary variable's ``/data``)."""
        return (await self.send("GET", path)).content
