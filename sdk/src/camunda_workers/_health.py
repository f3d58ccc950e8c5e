"""``/metrics``, ``/healthz`` and ``/readyz`` served from the worker's own event loop.

Served on the loop on purpose: if the loop is blocked, liveness stops answering too.
The port faces the network (every interface of a container), so the server is aiohttp's,
with limits: a request line or header field over 8 KiB gets 400 (logged in one DEBUG
line, no traceback), a connection that has not sent a whole request within
``request_timeout`` seconds is closed (slow clients cannot hold it), at most
``max_connections`` are open at once (more are closed at once), one request per
connection. ``/metrics`` speaks Prometheus' text format or OpenMetrics (``Accept``),
gzipped when asked (``Accept-Encoding``), as prometheus_client's own server does.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder, gzip_accepted

from .errors import CamundaWorkersError

__all__ = ["HealthServer"]

log = logging.getLogger("camunda_workers")
# aiohttp logs a malformed request with its traceback at ERROR; the filter below turns
# that into one DEBUG line: on a port open to the network it is a stranger's noise.
_server_log = logging.getLogger("camunda_workers.health")
_LINE_LIMIT = 8190  # request line, and each header field (aiohttp's own default)


class _BadRequestsInOneLine(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            log.debug("metrics port: bad request refused (%s %s)", error.code,
                      error.message[:100])
            return False
        return True


_server_log.addFilter(_BadRequestsInOneLine())


class _LimitedServer(web.Server):
    """aiohttp's low-level server, with a deadline for each connection's request and a
    cap on open connections (aiohttp has limits on sizes, not on these)."""

    def __init__(self, handler: Callable[[web.BaseRequest], Any], *, request_timeout: float,
                 max_connections: int, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._request_timeout = request_timeout
        self._max_connections = max_connections
        # Open connections; the timer closes one that has sent no whole request in time.
        self._open: dict[web.RequestHandler, asyncio.TimerHandle | None] = {}

    def connection_made(self, handler: web.RequestHandler, transport: asyncio.Transport) -> None:
        super().connection_made(handler, transport)
        loop = asyncio.get_running_loop()
        if len(self._open) >= self._max_connections:
            # Soon, not now: aiohttp starts the connection's task after this returns.
            loop.call_soon(handler.force_close)
            return
        self._open[handler] = loop.call_later(self._request_timeout, handler.force_close)

    def connection_lost(self, handler: web.RequestHandler, exc: BaseException | None = None,
                        ) -> None:
        timer = self._open.pop(handler, None)
        if timer is not None:
            timer.cancel()
        super().connection_lost(handler, exc)

    def request_arrived(self, handler: web.RequestHandler) -> None:
        timer = self._open.get(handler)
        if timer is not None:
            timer.cancel()
            self._open[handler] = None


class HealthServer:
    """The worker's HTTP port: one GET (or HEAD) per connection, then close."""

    def __init__(
        self,
        *,
        port: int,
        registry: CollectorRegistry,
        alive: Callable[[], tuple[bool, str]],
        ready: Callable[[], tuple[bool, str]],
        host: str = "0.0.0.0",
        request_timeout: float = 5.0,
        max_connections: int = 32,
    ) -> None:
        self.host = host
        self.port = port
        self._registry = registry
        self._alive = alive
        self._ready = ready
        self._request_timeout = request_timeout
        self._max_connections = max_connections
        self._http: _LimitedServer | None = None
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._http = _LimitedServer(
            self._handle, max_line_size=_LINE_LIMIT, max_field_size=_LINE_LIMIT,
            access_log=None, logger=_server_log, request_timeout=self._request_timeout,
            max_connections=self._max_connections)
        try:
            self._server = await loop.create_server(self._http, self.host, self.port)
        except OSError as exc:
            raise CamundaWorkersError(
                f"cannot serve /metrics and /healthz on port {self.port}: "
                f"{exc.strerror or exc}; set METRICS_PORT to a free port (0 = any)"
            ) from None
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("metrics and health on http://%s:%d/metrics /healthz /readyz",
                 self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None and self._http is not None:
            self._server.close()
            await asyncio.sleep(0)  # connections accepted just before: made, then closed
            await self._http.shutdown(1.0)
            await self._server.wait_closed()
            self._server = None

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        assert self._http is not None  # started
        self._http.request_arrived(request.protocol)
        response = self._respond(request)
        response.force_close()
        return response

    def _respond(self, request: web.BaseRequest) -> web.Response:
        if request.method not in ("GET", "HEAD"):
            return web.Response(status=405, text="GET only\n", headers={"Allow": "GET, HEAD"})
        if request.path == "/metrics":
            encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
            response = web.Response(body=encoder(self._registry),
                                    headers={"Content-Type": content_type})
            if gzip_accepted(request.headers.get("Accept-Encoding", "")):
                response.enable_compression(web.ContentCoding.gzip)
            return response
        if request.path in ("/healthz", "/readyz"):
            ok, reason = (self._alive if request.path == "/healthz" else self._ready)()
            return web.Response(status=200 if ok else 503, text=f"{reason}\n")
        return web.Response(status=404, text="try /metrics, /healthz or /readyz\n")
