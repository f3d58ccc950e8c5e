"""A TCP relay in front of the engine that counts the HTTP requests passing through it.

The idle phase of ``throughput.py`` counts an idle worker's requests with it, and
``replicas.py`` what K replicas cost the engine: every fetchAndLock with the tasks it
asked for and the ids it got, every complete and unlock with the engine's status. It
follows HTTP/1.1 framing both ways (a head, then a Content-Length or chunked body) to
find where each request and each answer starts on a keep-alive connection, and pairs
answers with requests in order. It listens on one port per source (a replica), so every
request is known by who sent it.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections import deque
from contextlib import suppress
from dataclasses import dataclass, field

__all__ = ["CountingProxy", "Request"]

_MAX_HEAD = 64 * 1024
_MAX_TASKS = re.compile(rb'"maxTasks"\s*:\s*(\d+)')


class _NotHttp(Exception):
    """Something that is not HTTP/1.x came through (the relay stops parsing)."""


@dataclass
class Request:
    """One request, and once it came back, what the engine answered."""

    at: float  # epoch seconds the request line arrived
    method: str
    path: str
    source: int = 0  # which listener (replica) it came through
    asked: int | None = None  # maxTasks of a fetchAndLock
    status: int | None = None
    answered_at: float | None = None
    task_ids: list[str] = field(default_factory=list)  # what a fetchAndLock got
    error: str | None = None  # the "type" of an error answer

    @property
    def is_fetch(self) -> bool:
        return self.path.endswith("/fetchAndLock")


class CountingProxy:
    """Listens on 127.0.0.1 (any free ports) and relays to ``host:target_port``."""

    def __init__(self, host: str, target_port: int) -> None:
        self.host = host
        self.target_port = target_port
        self.port = 0
        self.ports: list[int] = []
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._servers: list[asyncio.Server] = []
        self._thread = threading.Thread(target=self._loop.run_forever, name="counting-proxy",
                                        daemon=True)

    def start(self, sources: int = 1) -> int:
        """Listen on one port per source (``ports``); return the first."""
        self._thread.start()
        for source in range(sources):
            future = asyncio.run_coroutine_threadsafe(self._listen(source), self._loop)
            self.ports.append(future.result(10))
        self.port = self.ports[0]
        return self.port

    async def _listen(self, source: int) -> int:
        async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            # Cancelled by stop(): ended quietly, or asyncio's stream callback prints the
            # CancelledError as a traceback (Python 3.11).
            with suppress(asyncio.CancelledError):
                await self._relay(reader, writer, source)

        server = await asyncio.start_server(relay, "127.0.0.1", 0)
        self._servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    def stop(self) -> None:
        async def close() -> None:
            for server in self._servers:
                server.close()
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
                     client_writer: asyncio.StreamWriter, source: int) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                self.host, self.target_port)
        except OSError:
            client_writer.close()
            return
        sent: deque[Request] = deque()  # requests on this connection still unanswered
        to_engine = asyncio.ensure_future(
            self._requests(client_reader, upstream_writer, source, sent))
        to_client = asyncio.ensure_future(self._answers(upstream_reader, client_writer, sent))
        try:
            await asyncio.wait({to_engine, to_client}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for job in (to_engine, to_client):
                job.cancel()
            for writer in (client_writer, upstream_writer):
                writer.close()

    @staticmethod
    async def _head(reader: asyncio.StreamReader) -> tuple[list[str], dict[str, str], bytes]:
        head = await reader.readuntil(b"\r\n\r\n")
        if len(head) > _MAX_HEAD:
            raise _NotHttp
        lines = head.decode("latin-1").split("\r\n")
        headers = {name.strip().lower(): value.strip() for name, _, value in
                   (line.partition(":") for line in lines[1:] if line)}
        return lines[0].split(" ", 2), headers, head

    async def _requests(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                        source: int, sent: deque[Request]) -> None:
        """Relay requests one by one, recording each request line (and a fetch's maxTasks)."""
        with suppress(OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                      _NotHttp):
            while True:
                parts, headers, head = await self._head(reader)
                if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
                    raise _NotHttp
                request = Request(time.time(), parts[0], parts[1], source)
                with self._lock:
                    self.requests.append(request)
                sent.append(request)
                writer.write(head)
                body = await self._body(reader, writer, headers, keep=request.is_fetch)
                if body is not None and (asked := _MAX_TASKS.search(body)):
                    request.asked = int(asked.group(1))
                await writer.drain()

    async def _answers(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                       sent: deque[Request]) -> None:
        """Relay answers, each to the oldest unanswered request: its status, a fetch's tasks."""
        with suppress(OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            try:
                while True:
                    parts, headers, head = await self._head(reader)
                    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not sent:
                        raise _NotHttp
                    request = sent.popleft()
                    status = int(parts[1])
                    writer.write(head)
                    keep = status >= 400 or request.is_fetch
                    body = (None if request.method == "HEAD" or status in (204, 304)
                            else await self._body(reader, writer, headers, keep=keep,
                                                  until_close="content-length" not in headers))
                    self._record(request, status, body)
                    await writer.drain()
            except (_NotHttp, ValueError):
                await self._pump(reader, writer)  # not what we can follow: relay as it comes

    def _record(self, request: Request, status: int, body: bytes | None) -> None:
        answer: object = None
        if body:
            with suppress(ValueError):
                answer = json.loads(body)
        with self._lock:
            request.status = status
            request.answered_at = time.time()
            if request.is_fetch and status == 200 and isinstance(answer, list):
                request.task_ids = [str(task.get("id")) for task in answer
                                    if isinstance(task, dict)]
            elif status >= 400 and isinstance(answer, dict):
                request.error = str(answer.get("type") or "")

    async def _body(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    headers: dict[str, str], *, keep: bool,
                    until_close: bool = False) -> bytes | None:
        """Relay one body (Content-Length or chunked); return it when ``keep``."""
        kept: list[bytes] | None = [] if keep else None
        if "chunked" in headers.get("transfer-encoding", "").lower():
            await self._relay_chunked(reader, writer, kept)
        elif "content-length" in headers or not until_close:
            await self._relay_exactly(reader, writer, int(headers.get("content-length", "0")),
                                      kept)
        else:  # an answer without length ends with the connection
            while chunk := await reader.read(65536):
                writer.write(chunk)
                if kept is not None:
                    kept.append(chunk)
        return None if kept is None else b"".join(kept)

    @staticmethod
    async def _relay_exactly(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                             size: int, kept: list[bytes] | None) -> None:
        while size > 0:
            chunk = await reader.read(min(size, 65536))
            if not chunk:
                raise asyncio.IncompleteReadError(b"", size)
            writer.write(chunk)
            if kept is not None:
                kept.append(chunk)
            size -= len(chunk)

    async def _relay_chunked(self, reader: asyncio.StreamReader,
                             writer: asyncio.StreamWriter, kept: list[bytes] | None) -> None:
        while True:
            line = await reader.readuntil(b"\r\n")
            writer.write(line)
            size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while (trailer := await reader.readuntil(b"\r\n")) != b"\r\n":
                    writer.write(trailer)
                writer.write(trailer)
                return
            await self._relay_exactly(reader, writer, size, kept)
            crlf = await reader.readexactly(2)
            writer.write(crlf)

    @staticmethod
    async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with suppress(OSError):
            while chunk := await reader.read(65536):
                writer.write(chunk)
                await writer.drain()
