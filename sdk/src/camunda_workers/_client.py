"""The engine's external-task REST API over one keep-alive connection pool.

camunda-external-task-client-python3 opens a new HTTP client for every call (its
``AsyncExternalTaskClient`` does ``async with httpx.AsyncClient()`` per request) and
fetches one task per long poll; ``bench/throughput.py`` measures what that costs.
This client keeps one pool per worker and is the only place where HTTP answers and
transport errors become :class:`~camunda_workers.errors.EngineError`, classified as
the Camunda 7 REST reference documents them (see :func:`engine_error`).

The HTTP client is aiohttp, chosen by measurement (``bench/transport_choice.py``, figures
in bench/README.md): per request it takes a fraction of the CPU time of httpx's async
pool, which checks every pooled connection's socket on every request. Only this module
knows which HTTP library is used; the rest of the SDK sees :class:`HttpTransport`.
"""

from __future__ import annotations

import base64
import io
import re
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypedDict, Unpack
from urllib.parse import urlsplit

import aiohttp

from . import _wire
from ._settings import DEFAULT_MAX_ANSWER_BYTES, WorkerSettings
from .errors import EngineError, EngineRejectedError, EngineUnavailableError

__all__ = [
    "AiohttpTransport", "EngineClient", "HttpAnswer", "HttpTransport", "RequestOptions",
    "basic_auth", "engine_error",
]

_JSON = {"Content-Type": "application/json"}
# Error codes the engine puts in its error body (Camunda >= 7.15) for a conflict that is
# safe to retry: 1 optimistic locking (also CockroachDB's retry error), 10000 deadlock.
_RETRYABLE_CODES = {1, 10_000}
_RETRYABLE_TYPES = {"OptimisticLockingException", "CrdbTransactionRetryException"}
# Gateways and proxies say the engine is away or busy with these; the engine never does.
_UNAVAILABLE = {502, 503, 504}
# aiohttp warns about bodies over 1 MB given as bytes (written at once); a stream of
# them is written in chunks, with the loop running in between.
_STREAMED = 2**20
# Answers are read in pieces of this size, so that one over the cap is never held whole.
_CHUNK = 2**16


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    """An HTTP answer, read in full."""

    status: int
    body: bytes = b""
    reason: str = ""

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class HttpTransport(Protocol):
    """Sends one request over a keep-alive pool; raises only ``EngineError``:
    ``EngineUnavailableError``, or ``EngineRejectedError`` (kind ``too_large``) for an
    answer larger than the transport's cap.

    The worker's seam for tests (``Worker(transport=...)``): a test wraps
    :class:`AiohttpTransport` to count requests or to answer what a real engine cannot
    be made to answer.
    """

    async def send(self, method: str, url: str, *, headers: Mapping[str, str],
                   body: bytes | None, params: Mapping[str, str | int] | None,
                   timeout: float,  # noqa: ASYNC109 - an HTTP timeout, not a cancel scope
                   ) -> HttpAnswer: ...

    async def aclose(self) -> None: ...


class AiohttpTransport:
    """:class:`HttpTransport` over one aiohttp connection pool of ``max_connections``.

    ``trace_configs``: aiohttp's request tracing (none by default: tracing costs time on
    every request). ``max_answer_bytes``: an answer's body is read in chunks and given up
    (the connection closed) as soon as it is larger.
    """

    def __init__(self, *, max_connections: int = 100, connect_timeout: float = 10.0,
                 verify: bool | ssl.SSLContext = True,
                 trace_configs: Sequence[aiohttp.TraceConfig] = (),
                 max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES) -> None:
        self.max_answer_bytes = max_answer_bytes
        self._max_connections = max_connections
        self._connect_timeout = connect_timeout
        self._verify = verify
        self._trace_configs = list(trace_configs)
        self._session: aiohttp.ClientSession | None = None  # made on the loop, when first used
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(limit=self._max_connections,
                                         limit_per_host=self._max_connections,
                                         ssl=self._verify)
        # The REST API is stateless: no cookies to keep, nor to match on every request.
        return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar(),
                                     auto_decompress=False,
                                     trace_configs=self._trace_configs or None)

    def _timeout(self, total: float) -> aiohttp.ClientTimeout:
        timeout = self._timeouts.get(total)
        if timeout is None:
            # connect: waiting for a pooled connection and opening one; a request that
            # times out there was never sent.
            timeout = self._timeouts[total] = aiohttp.ClientTimeout(
                total=total, connect=min(self._connect_timeout, total))
        return timeout

    async def send(self, method: str, url: str, *, headers: Mapping[str, str],
                   body: bytes | None, params: Mapping[str, str | int] | None,
                   timeout: float,  # noqa: ASYNC109 - an HTTP timeout, not a cancel scope
                   ) -> HttpAnswer:
        session = self._session
        if session is None:
            session = self._session = self._open()
        try:
            data = io.BytesIO(body) if body is not None and len(body) > _STREAMED else body
            async with session.request(method, url, headers=headers, data=data, params=params,
                                       timeout=self._timeout(timeout)) as response:
                return HttpAnswer(response.status, await self._read(method, url, response),
                                  response.reason or "")
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            # Never reached the engine: it cannot have acted on this request.
            timed_out = isinstance(exc, aiohttp.ConnectionTimeoutError)
            raise EngineUnavailableError(
                f"{method} {urlsplit(url).path}: {type(exc).__name__}: {exc}",
                kind="timeout" if timed_out else "connection", path=urlsplit(url).path,
                request_sent=False) from exc
        except TimeoutError as exc:  # aiohttp's own timeouts are TimeoutErrors too
            raise EngineUnavailableError(
                f"{method} {urlsplit(url).path}: timed out ({type(exc).__name__})", kind="timeout",
                path=urlsplit(url).path) from exc
        except aiohttp.ClientError as exc:  # dropped, reset, not HTTP, cut short
            raise EngineUnavailableError(
                f"{method} {urlsplit(url).path}: {type(exc).__name__}: {exc}", kind="connection",
                path=urlsplit(url).path) from exc

    async def _read(self, method: str, url: str, response: aiohttp.ClientResponse) -> bytes:
        """The body, unless it is larger than the cap (then the connection is dropped)."""
        cap = self.max_answer_bytes
        declared = response.content_length
        if (declared is not None and declared <= cap) or response.status == 204:
            # The parser reads no more than declared; a 204 (every accepted report) has
            # no body, whatever its headers say.
            return await response.read()
        if declared is None:  # chunked: counted as it comes
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.content.iter_chunked(_CHUNK):
                size += len(chunk)
                if size > cap:
                    # The error keeps this frame (its traceback), and the worker keeps the
                    # error until the engine answers again: let go of what was read.
                    chunks.clear()
                    break
                chunks.append(chunk)
            else:
                return b"".join(chunks)
        response.close()
        path = urlsplit(url).path
        said = f" (Content-Length {declared})" if declared is not None else ""
        raise EngineRejectedError(
            f"{method} {path}: answer{said} larger than max_answer_bytes ({cap} bytes), not "
            "read; fetch only the variables a topic needs (topic(..., variables=[...])), or "
            "raise CAMUNDA_MAX_ANSWER_BYTES",
            kind="too_large", status=response.status, path=path)

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()


def basic_auth(username: str, password: str) -> str:
    """The ``Authorization`` header of HTTP basic auth (RFC 7617, UTF-8)."""
    pair = f"{username}:{password}".encode()
    return f"Basic {base64.b64encode(pair).decode('ascii')}"


def _summary(answer: HttpAnswer) -> str:
    # e.g. a servlet container's or proxy's HTML error page
    text = answer.text
    title = re.search(r"<title>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
    text = title.group(1) if title else text
    return " ".join(text.split())[:160] or answer.reason


def engine_error(method: str, path: str, answer: HttpAnswer) -> EngineError:
    """An answer of 400 or more, classified as the Camunda 7 REST API documents it.

    The engine's own answers carry ``{"type", "message"[, "code"]}`` and are final
    (:class:`EngineRejectedError`): 404 the task is gone, 400 its lock is another
    worker's or the request is invalid, 401/403 credentials, 500 the process could not
    continue (a failing expression or listener, a persistence error). Transient
    (:class:`EngineUnavailableError`): 502/503/504, an answer that is not the engine's
    JSON, and the conflicts the engine marks as retryable (optimistic locking, deadlock).
    """
    status = answer.status
    try:
        body = _wire.loads(answer.body)
    except ValueError:
        body = None
    prefix = f"{method} {path}: engine answered {status}"
    by_status = {401: "unauthorized", 403: "unauthorized", 404: "not_found"}
    if not isinstance(body, dict) or not isinstance(body.get("type"), str) or (
            status in _UNAVAILABLE):
        kind = by_status.get(status, "server" if status >= 500 else "rejected")
        message = f"{prefix}: {_summary(answer)}"
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


class RequestOptions(TypedDict, total=False):
    """The keyword options of :meth:`EngineClient.send` and :meth:`EngineClient.request`."""

    params: Mapping[str, str | int] | None
    timeout: float | None  # seconds for this request (default: the client's)


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
        transport: HttpTransport | None = None,
        max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._headers = dict(headers or {})
        self._json_headers = {**self._headers, **_JSON}
        # One long poll holds a connection while results are reported on others.
        self._http: HttpTransport = transport or AiohttpTransport(
            max_connections=max_connections, connect_timeout=timeout, verify=verify,
            max_answer_bytes=max_answer_bytes)

    @classmethod
    def for_settings(cls, settings: WorkerSettings,
                     transport: HttpTransport | None = None) -> EngineClient:
        """The client a worker with these settings uses (credentials, TLS, pool size)."""
        headers: dict[str, str] = {}
        if settings.token is not None:
            headers["Authorization"] = f"Bearer {settings.token.get_secret_value()}"
        elif settings.username is not None:
            password = settings.password.get_secret_value() if settings.password else ""
            headers["Authorization"] = basic_auth(settings.username, password)
        return cls(
            base_url=settings.base_url,
            headers=headers,
            timeout=settings.http_timeout_seconds,
            max_connections=settings.max_tasks + 2,  # the long poll, and reports beside it
            verify=(ssl.create_default_context(cafile=settings.ca_bundle)
                    if settings.ca_bundle else settings.verify_tls),
            transport=transport,
            max_answer_bytes=settings.max_answer_bytes,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> EngineClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def send(self, method: str, path: str, content: bytes | None = None,
                   **options: Unpack[RequestOptions]) -> HttpAnswer:
        """Send one request (``content`` from ``_wire``); return a 2xx/3xx answer or raise."""
        timeout = options.get("timeout")
        answer = await self._http.send(
            method, self.base_url + path, body=content, params=options.get("params"),
            headers=self._json_headers if content is not None else self._headers,
            timeout=timeout if timeout is not None else self._timeout)
        if answer.status >= 400:
            raise engine_error(method, path, answer)
        return answer

    async def request(self, method: str, path: str, content: bytes | None = None,
                      **options: Unpack[RequestOptions]) -> Any:
        """:meth:`send`, then the decoded JSON body (``None`` for 204)."""
        answer = await self.send(method, path, content, **options)
        if answer.status == 204 or not answer.body:
            return None
        try:
            return _wire.loads(answer.body)
        except ValueError as exc:
            raise EngineUnavailableError(
                f"{method} {path}: malformed JSON in {answer.status} answer: "
                f"{answer.text[:100]!r}",
                kind="malformed_response", status=answer.status, path=path,
            ) from exc

    async def fetch_and_lock(
        self,
        *,
        worker_id: str,
        max_tasks: int,
        topics: Sequence[Mapping[str, Any]],
        async_response_timeout_ms: int,
        http_timeout: float,
        use_priority: bool,
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
        return (await self.send("GET", path)).body
