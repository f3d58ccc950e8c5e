"""A TCP relay in front of the real engine that a test can cut, hang and restore.

Stopping the engine itself takes ~10 s each way; cutting the relay shows the worker the
same refused and dropped connections in milliseconds. Fault tests that need the engine
really gone (issue 3) stop the engine process instead. An engine that accepts
connections and never answers (a hung JVM, a full thread pool) cannot be made on
demand: ``hang()`` plays it, and ``BlackHole`` is one from the start. ``HttpProxy``
changes what passes between a worker and the real engine.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Awaitable, Callable
from contextlib import suppress
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web


class TcpRelay:
    """Listens on ``127.0.0.1:port`` and forwards to ``target_port`` while up."""

    def __init__(self, target_port: int, port: int = 0) -> None:
        self.target_port = target_port
        self.port = port
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._hung = threading.Event()

    def up(self) -> None:
        self._hung.clear()
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        self.port = listener.getsockname()[1]
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def hang(self) -> None:
        """Keep every connection open, accept new ones, and pass nothing any more."""
        self._hung.set()

    def down(self) -> None:
        """Refuse new connections and drop the open ones (mid-request too)."""
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._sockets = self._sockets, set()
        if listener is not None:
            with suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        for sock in sockets:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            if self._hung.is_set():
                with self._lock:
                    self._sockets.add(client)  # held open, never answered
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    upstream.close()
                    return
                self._sockets |= {client, upstream}
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with suppress(OSError):
            while data := source.recv(65536):
                if self._hung.is_set():
                    continue  # swallowed: the other side waits forever
                sink.sendall(data)
        with suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


class BlackHole:
    """Accepts TCP connections on ``127.0.0.1:port`` and never answers."""

    def __init__(self) -> None:
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port: int = self._listener.getsockname()[1]
        self._held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with suppress(OSError):
            while True:
                self._held.append(self._listener.accept()[0])

    def close(self) -> None:
        self._listener.close()
        for sock in self._held:
            sock.close()


Forward = Callable[[bytes], Awaitable[tuple[int, bytes]]]
# (request, its body, forward(body) -> engine's status and body) -> the answer to give,
# or None to give the engine's answer to the unchanged request.
Hook = Callable[[web.Request, bytes, Forward], Awaitable[web.StreamResponse | None]]


class HttpProxy:
    """An HTTP proxy in front of the real engine, on a thread and event loop of its own,
    whose ``hook`` may change a request or answer it itself: what a real engine cannot be
    made to do (a 200 MiB answer, a task of a topic nobody asked for)."""

    def __init__(self, target_url: str, hook: Hook | None = None) -> None:
        self.target = target_url.rstrip("/")
        self.hook = hook
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{urlsplit(self.target).path}"

    def __enter__(self) -> HttpProxy:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("proxy did not start")
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    async def _main(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        base = urlsplit(self.target)
        async with aiohttp.ClientSession(f"{base.scheme}://{base.netloc}") as session:
            async def handle(request: web.Request) -> web.StreamResponse:
                body = await request.read()

                async def forward(content: bytes) -> tuple[int, bytes]:
                    headers = {name: value for name, value in request.headers.items()
                               if name.lower() in ("content-type", "authorization", "accept")}
                    async with session.request(request.method, request.path_qs,
                                               data=content, headers=headers) as answer:
                        return answer.status, await answer.read()

                answer = await self.hook(request, body, forward) if self.hook else None
                if answer is None:
                    status, content = await forward(body)
                    answer = web.Response(status=status, body=content,
                                          content_type="application/json")
                return answer

            app = web.Application(client_max_size=2**30)
            app.router.add_route("*", "/{path:.*}", handle)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            self.port = runner.addresses[0][1]
            self._ready.set()
            await self._stop.wait()
            await runner.cleanup()
