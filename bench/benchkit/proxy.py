"""A TCP relay in front of the engine that counts the HTTP requests passing through it.

Used only while a worker idles (the relay adds a hop, so throughput and latency are
measured without it). Towards the engine it follows HTTP/1.1 framing (request head, then
a Content-Length or chunked body) to find where each request starts on a keep-alive
connection; answers are relayed as they come.
"""

from __future__ import annotations

import asyncio
import threading
import time
from contextlib import suppress
from dataclasses import dataclass

__all__ = ["CountingProxy", "Request"]

_MAX_HEAD = 64 * 1024


class _NotHttp(Exception):
    """The client sent something that is not an HTTP/1.x request (the relay stops)."""


@dataclass(frozen=True)
class Request:
    at: float  # epoch seconds the request line arrived
    method: str
    path: str


class CountingProxy:
    """Listens on 127.0.0.1:``port`` (0 = any free port) and relays to ``host:target_port``."""

    def __init__(self, host: str, target_port: int) -> None:
        self.host = host
        self.target_port = target_port
        self.port = 0
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="counting-proxy",
                                        daemon=True)

    def start(self) -> int:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._listen(), self._loop)
        self.port = future.result(10)
        return self.port

    async def _listen(self) -> int:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    def stop(self) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()
                # Connections still open (a worker in its long poll) are cut with the loop.
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._loop.close()

    def snapshot(self) -> list[Request]:
        with self._lock:
            return list(self.requests)

    async def _relay(self, client_reader: asyncio.StreamReader,
                     client_writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                self.host, self.target_port)
        except OSError:
            client_writer.close()
            return
        to_engine = asyncio.ensure_future(self._requests(client_reader, upstream_writer))
        to_client = asyncio.ensure_future(self._pump(upstream_reader, client_writer))
        try:
            await asyncio.wait({to_engine, to_client}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for job in (to_engine, to_client):
                job.cancel()
            for writer in (client_writer, upstream_writer):
                writer.close()

    async def _requests(self, reader: asyncio.StreamReader,
                        writer: asyncio.StreamWriter) -> None:
        """Relay requests one by one, recording each request line."""
        with suppress(OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                      _NotHttp):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if len(head) > _MAX_HEAD:
                    raise _NotHttp
                lines = head.decode("latin-1").split("\r\n")
                parts = lines[0].split(" ")
                if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
                    raise _NotHttp
                with self._lock:
                    self.requests.append(Request(time.time(), parts[0], parts[1]))
                writer.write(head)
                headers = {name.strip().lower(): value.strip() for name, _, value in
                           (line.partition(":") for line in lines[1:] if line)}
                if "chunked" in headers.get("transfer-encoding", "").lower():
                    await self._relay_chunked(reader, writer)
                else:
                    await self._relay_exactly(reader, writer,
                                              int(headers.get("content-length", "0")))
                await writer.drain()

    @staticmethod
    async def _relay_exactly(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                             size: int) -> None:
        while size > 0:
            chunk = await reader.read(min(size, 65536))
            if not chunk:
                raise asyncio.IncompleteReadError(b"", size)
            writer.write(chunk)
            size -= len(chunk)

    async def _relay_chunked(self, reader: asyncio.StreamReader,
                             writer: asyncio.StreamWriter) -> None:
        while True:
            line = await reader.readuntil(b"\r\n")
            writer.write(line)
            size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while (trailer := await reader.readuntil(b"\r\n")) != b"\r\n":
                    writer.write(trailer)
                writer.write(trailer)
                return
            await self._relay_exactly(reader, writer, size + 2)  # data and its CRLF

    @staticmethod
    async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with suppress(OSError):
            while chunk := await reader.read(65536):
                writer.write(chunk)
                await writer.drain()
