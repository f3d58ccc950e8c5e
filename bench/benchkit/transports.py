"""Async HTTP clients and JSON codecs behind one small interface, for transport_choice.py.

Every client gets the same job: POST a JSON body that is already encoded to bytes, return
the answer's bytes, over one keep-alive pool of at most ``max_connections`` connections
to the engine. Encoding and decoding are done outside the client with the chosen codec,
so clients and codecs can be compared independently.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["CLIENTS", "CODECS", "LOOPS", "Codec", "Transport", "make_transport"]

JSON = "application/json"


class Transport(Protocol):
    async def post(self, path: str, body: bytes) -> bytes: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class Codec:
    name: str
    dumps: Callable[[Any], bytes]
    loads: Callable[[bytes], Any]


def _stdlib() -> Codec:
    # What httpx's json= and response.json() do (compact separators are the engine's own).
    return Codec("json", lambda obj: json.dumps(obj).encode(), json.loads)


def _orjson() -> Codec:
    import orjson

    return Codec("orjson", orjson.dumps, orjson.loads)


def _msgspec() -> Codec:
    import msgspec

    encoder, decoder = msgspec.json.Encoder(), msgspec.json.Decoder()
    return Codec("msgspec", encoder.encode, decoder.decode)


CODECS: dict[str, Callable[[], Codec]] = {"json": _stdlib, "orjson": _orjson,
                                          "msgspec": _msgspec}


class _Httpx:
    def __init__(self, base_url: str, max_connections: int) -> None:
        import httpx

        self._client = httpx.AsyncClient(
            base_url=base_url, timeout=httpx.Timeout(10.0, read=60.0),
            headers={"content-type": JSON},
            limits=httpx.Limits(max_connections=max_connections,
                                max_keepalive_connections=max_connections))

    async def post(self, path: str, body: bytes) -> bytes:
        response = await self._client.post(path, content=body)
        response.raise_for_status()
        return response.content

    async def aclose(self) -> None:
        await self._client.aclose()


class _Httpcore:
    """httpx's own connection pool without httpx's request/response models on top."""

    def __init__(self, base_url: str, max_connections: int) -> None:
        import httpcore

        self._base = base_url.encode()
        self._pool = httpcore.AsyncConnectionPool(max_connections=max_connections,
                                                  max_keepalive_connections=max_connections)
        self._headers = [(b"content-type", JSON.encode())]

    async def post(self, path: str, body: bytes) -> bytes:
        response = await self._pool.request(
            b"POST", self._base + path.encode(),
            headers=[*self._headers, (b"content-length", str(len(body)).encode())],
            content=body, extensions={"timeout": {"connect": 10.0, "read": 60.0}})
        if response.status >= 400:
            raise RuntimeError(f"POST {path}: {response.status}")
        return response.content

    async def aclose(self) -> None:
        await self._pool.aclose()


class _Aiohttp:
    def __init__(self, base_url: str, max_connections: int) -> None:
        import aiohttp

        self._base = base_url
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=max_connections, limit_per_host=max_connections),
            timeout=aiohttp.ClientTimeout(total=60, connect=10),
            headers={"content-type": JSON})

    async def post(self, path: str, body: bytes) -> bytes:
        async with self._session.post(self._base + path, data=body) as response:
            response.raise_for_status()
            return await response.read()

    async def aclose(self) -> None:
        await self._session.close()


class _Aiosonic:
    def __init__(self, base_url: str, max_connections: int) -> None:
        import aiosonic
        from aiosonic.pools import PoolConfig
        from aiosonic.timeout import Timeouts

        self._base = base_url
        connector = aiosonic.TCPConnector(
            pool_configs={":default": PoolConfig(size=max_connections, max_conn_requests=None)},
            timeouts=Timeouts(sock_connect=10, sock_read=60, request_timeout=60))
        self._client = aiosonic.HTTPClient(connector=connector)
        self._headers = {"content-type": JSON}

    async def post(self, path: str, body: bytes) -> bytes:
        response = await self._client.post(self._base + path, data=body, headers=self._headers)
        if response.status_code >= 400:
            raise RuntimeError(f"POST {path}: {response.status_code}")
        return bytes(await response.content())

    async def aclose(self) -> None:
        await self._client.connector.cleanup()


class _Pyreqwest:
    """Rust's reqwest (hyper, tokio) with Python bindings; its runtime has threads of its own."""

    def __init__(self, base_url: str, max_connections: int) -> None:
        from datetime import timedelta

        from pyreqwest.client import ClientBuilder

        self._base = base_url
        self._client = (ClientBuilder().max_connections(max_connections)
                        .pool_max_idle_per_host(max_connections)
                        .connect_timeout(timedelta(seconds=10))
                        .read_timeout(timedelta(seconds=60)).build())

    async def post(self, path: str, body: bytes) -> bytes:
        request = (self._client.post(self._base + path).header("content-type", JSON)
                   .body_bytes(body).build())
        response = await request.send()
        if response.status >= 400:
            raise RuntimeError(f"POST {path}: {response.status}")
        return bytes(await response.bytes())

    async def aclose(self) -> None:
        await self._client.close()


CLIENTS: dict[str, Callable[[str, int], Transport]] = {
    "httpx": _Httpx, "httpcore": _Httpcore, "aiohttp": _Aiohttp, "aiosonic": _Aiosonic,
    "pyreqwest": _Pyreqwest,
}

LOOPS = ("asyncio", "uvloop")


def make_transport(client: str, base_url: str, max_connections: int) -> Transport:
    return CLIENTS[client](base_url.rstrip("/"), max_connections)
