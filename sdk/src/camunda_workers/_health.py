"""``/metrics``, ``/healthz`` and ``/readyz`` served from the worker's own event loop.

Served on the loop on purpose: if the loop is blocked, liveness stops answering too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import suppress

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from .errors import CamundaWorkersError

__all__ = ["HealthServer"]

log = logging.getLogger("camunda_workers")


class HealthServer:
    """A minimal HTTP/1.1 server: one GET per connection, then close."""

    def __init__(
        self,
        *,
        port: int,
        registry: CollectorRegistry,
        alive: Callable[[], tuple[bool, str]],
        ready: Callable[[], tuple[bool, str]],
        host: str = "0.0.0.0",
    ) -> None:
        self.host = host
        self.port = port
        self._registry = registry
        self._alive = alive
        self._ready = ready
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        try:
            self._server = await asyncio.start_server(self._serve, self.host, self.port)
        except OSError as exc:
            raise CamundaWorkersError(
                f"cannot serve /metrics and /healthz on port {self.port}: "
                f"{exc.strerror or exc}; set METRICS_PORT to a free port (0 = any)"
            ) from None
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("metrics and health on http://%s:%d/metrics /healthz /readyz",
                 self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), timeout=5)
            while (await asyncio.wait_for(reader.readline(), timeout=5)) not in (b"\r\n", b""):
                pass  # headers: not needed
            parts = request.decode("latin-1").split()
            path = parts[1].split("?", 1)[0] if len(parts) >= 2 else ""
            status, content_type, body = self._respond(parts[0] if parts else "", path)
            head = (f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
                    f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
            writer.write(head.encode("latin-1") + body)
            await writer.drain()
        except (TimeoutError, ConnectionError, UnicodeDecodeError):
            pass
        finally:
            writer.close()
            with suppress(ConnectionError):
                await writer.wait_closed()

    def _respond(self, method: str, path: str) -> tuple[str, str, bytes]:
        if method not in ("GET", "HEAD"):
            return "405 Method Not Allowed", "text/plain", b"GET only\n"
        if path == "/metrics":
            return "200 OK", CONTENT_TYPE_LATEST, generate_latest(self._registry)
        if path in ("/healthz", "/readyz"):
            ok, reason = (self._alive if path == "/healthz" else self._ready)()
            status = "200 OK" if ok else "503 Service Unavailable"
            return status, "text/plain; charset=utf-8", f"{reason}\n".encode()
        return "404 Not Found", "text/plain", b"try /metrics, /healthz or /readyz\n"
