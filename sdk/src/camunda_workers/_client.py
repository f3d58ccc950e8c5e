"""The engine's external-task REST API over one keep-alive connection pool.

camunda-external-task-client-python3 opens a new HTTP client for every call (its
``AsyncExternalTaskClient`` does ``async with httpx.AsyncClient()`` per request) and
fetches one task per long poll; ``bench/throughput.py`` measures what that costs.
This client keeps one pool per worker and is the only place where transport errors
become :class:`~camunda_workers.errors.EngineError`.
"""

from __future__ import annotations

import json
import re
import ssl
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from ._variables import encode_variables
from .errors import EngineRejectedError, EngineUnavailableError

__all__ = ["EngineClient"]


def _reason(response: httpx.Response) -> str:
    """The engine's own message (``{"type": ..., "message": ...}``), else a short summary."""
    try:
        body = response.json()
    except ValueError:
        # e.g. the servlet container's HTML error page while the engine starts or stops
        title = re.search(r"<title>(.*?)</title>", response.text, re.IGNORECASE | re.DOTALL)
        text = title.group(1) if title else response.text
        return " ".join(text.split())[:160] or response.reason_phrase
    if isinstance(body, dict) and body.get("message"):
        return f"{body.get('type', 'Error')}: {body['message']}"
    return " ".join(response.text.split())[:160]


class EngineClient:
    """Async client for ``/external-task`` endpoints; every method raises only ``EngineError``."""

    def __init__(
        self,
        *,
        base_url: str,
        worker_id: str,
        headers: Mapping[str, str] | None = None,
        timeout: float = 10.0,
        max_connections: int = 10,
        verify: bool | ssl.SSLContext = True,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.worker_id = worker_id
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

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> EngineClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - an HTTP timeout, not a cancel scope
    ) -> Any:
        """Send one request; return the decoded JSON body (``None`` for 204)."""
        try:
            response = await self._http.request(
                method, path, json=body, timeout=timeout if timeout is not None else self._timeout
            )
        except httpx.TimeoutException as exc:
            raise EngineUnavailableError(
                f"{method} {path}: timed out ({type(exc).__name__})", kind="timeout", path=path
            ) from exc
        except httpx.TransportError as exc:
            raise EngineUnavailableError(
                f"{method} {path}: {type(exc).__name__}: {exc}", kind="connection", path=path
            ) from exc
        status = response.status_code
        if status >= 500:
            raise EngineUnavailableError(
                f"{method} {path}: engine answered {status}: {_reason(response)}",
                kind="server", status=status, path=path,
            )
        if status >= 400:
            kind = {401: "unauthorized", 403: "unauthorized", 404: "not_found"}.get(
                status, "rejected"
            )
            raise EngineRejectedError(
                f"{method} {path}: engine answered {status}: {_reason(response)}",
                kind=kind, status=status, path=path,
            )
        if status == 204 or not response.content:
            return None
        try:
            return response.json()
        except (ValueError, json.JSONDecodeError) as exc:
            raise EngineUnavailableError(
                f"{method} {path}: malformed JSON in {status} answer: {response.text[:100]!r}",
                kind="malformed_response", status=status, path=path,
            ) from exc

    async def fetch_and_lock(
        self,
        *,
        max_tasks: int,
        topics: Sequence[Mapping[str, Any]],
        async_response_timeout_ms: int,
        http_timeout: float,
        use_priority: bool = True,
    ) -> list[dict[str, Any]]:
        body = {
            "workerId": self.worker_id,
            "maxTasks": max_tasks,
            "usePriority": use_priority,
            "asyncResponseTimeout": async_response_timeout_ms,
            "topics": list(topics),
        }
        result = await self.request(
            "POST", "/external-task/fetchAndLock", body, timeout=http_timeout
        )
        if not isinstance(result, list) or not all(
            isinstance(task, dict) and "id" in task and "topicName" in task for task in result
        ):
            raise EngineUnavailableError(
                "POST /external-task/fetchAndLock: expected a JSON list of tasks with id and "
                f"topicName, got {str(result)[:100]}",
                kind="malformed_response", path="/external-task/fetchAndLock",
            )
        return result

    async def complete(
        self,
        task_id: str,
        variables: Mapping[str, Any] | None = None,
        local_variables: Mapping[str, Any] | None = None,
    ) -> None:
        await self.request("POST", f"/external-task/{task_id}/complete", {
            "workerId": self.worker_id,
            "variables": encode_variables(variables),
            "localVariables": encode_variables(local_variables),
        })

    async def failure(
        self,
        task_id: str,
        *,
        message: str,
        details: str | None,
        retries: int,
        retry_timeout: int,
    ) -> None:
        await self.request("POST", f"/external-task/{task_id}/failure", {
            "workerId": self.worker_id,
            "errorMessage": message[:666],  # the engine's column is 666 characters wide
            "errorDetails": details,
            "retries": retries,
            "retryTimeout": retry_timeout,
        })

    async def bpmn_error(
        self,
        task_id: str,
        *,
        code: str,
        message: str | None,
        variables: Mapping[str, Any] | None = None,
    ) -> None:
        await self.request("POST", f"/external-task/{task_id}/bpmnError", {
            "workerId": self.worker_id,
            "errorCode": code,
            "errorMessage": message,
            "variables": encode_variables(variables),
        })

    async def extend_lock(self, task_id: str, new_duration_ms: int) -> None:
        await self.request("POST", f"/external-task/{task_id}/extendLock", {
            "workerId": self.worker_id,
            "newDuration": new_duration_ms,
        })

    async def locked_task_ids(self) -> list[str]:
        """Ids of the tasks the engine says this worker id holds locked now."""
        result = await self.request(
            "GET", f"/external-task?workerId={self.worker_id}&locked=true&maxResults=1000")
        return [str(task["id"]) for task in result or []]

    async def unlock(self, task_id: str) -> None:
        await self.request("POST", f"/external-task/{task_id}/unlock")

