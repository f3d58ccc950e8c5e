"""A read-only gate to the Docker API: what Prometheus' Swarm service discovery needs, no more.

The stack's ``socket-proxy`` service runs this on a manager; it alone mounts the Docker
socket. Prometheus asks it over TCP (``host: tcp://socket-proxy:2375``) on an internal
network that only Prometheus is on. It forwards ``GET``/``HEAD`` of

    /_ping  /version  /tasks  /services  /nodes  /networks

(each also under a version prefix ``/v1.NN/``, with any query string) to the socket and
answers every other method or path with 403: no container, secret, config or exec
endpoint, no POST/PUT/DELETE, nothing that changes the Swarm. A request is never passed on
as received: only its method, its checked path and its query string reach the daemon, with
none of its headers or body. HTTP itself is aiohttp's (line and header size limits
included).

    python socket_proxy.py [--listen 0.0.0.0:2375] [--socket /var/run/docker.sock]
"""

from __future__ import annotations

import argparse
import logging
import re
from collections.abc import AsyncIterator

from aiohttp import ClientError, ClientSession, ClientTimeout, UnixConnector, web
from yarl import URL

ALLOWED_METHODS = frozenset({"GET", "HEAD"})
ALLOWED_PATH = re.compile(r"/(?:v1\.\d{1,3}/)?(?:_ping|version|tasks|services|nodes|networks)")
# Headers of the daemon's answer worth passing on (the client negotiates the API version).
PASSED_HEADERS = ("Content-Type", "Api-Version", "Docker-Experimental", "Ostype", "Server")
CHUNK = 64 * 1024

log = logging.getLogger("socket_proxy")
_session = web.AppKey("session", ClientSession)


async def forward(request: web.Request) -> web.StreamResponse:
    """One request: refused (403), or its method, path and query passed to the daemon."""
    if request.method not in ALLOWED_METHODS or not ALLOWED_PATH.fullmatch(request.path):
        log.warning("refused %s %s", request.method, request.path[:200])
        return web.json_response(
            {"message": f"{request.method} {request.path[:200]} is not allowed by the socket "
                        "proxy (GET of _ping, version, tasks, services, nodes, networks only)"},
            status=403)
    target = URL.build(scheme="http", host="docker", path=request.path,
                       query_string=request.query_string)
    try:
        async with request.app[_session].request(request.method, target) as answer:
            response = web.StreamResponse(
                status=answer.status,
                headers={name: answer.headers[name] for name in PASSED_HEADERS
                         if name in answer.headers})
            await response.prepare(request)
            async for chunk in answer.content.iter_chunked(CHUNK):
                await response.write(chunk)
            await response.write_eof()
            return response
    except (ClientError, TimeoutError) as exc:
        log.warning("the Docker daemon did not answer %s %s: %s", request.method,
                    request.path, exc)
        return web.json_response({"message": f"the Docker daemon did not answer: {exc}"},
                                 status=502)


def make_app(socket: str) -> web.Application:
    """The proxy as an aiohttp application talking to the daemon at ``socket``."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", forward)

    async def session(app: web.Application) -> AsyncIterator[None]:
        async with ClientSession(connector=UnixConnector(path=socket),
                                 timeout=ClientTimeout(total=30)) as client:
            app[_session] = client
            yield

    app.cleanup_ctx.append(session)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", default="0.0.0.0:2375", help="HOST:PORT to serve on")
    parser.add_argument("--socket", default="/var/run/docker.sock", help="the Docker socket")
    args = parser.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    if not host or not port.isdigit():
        parser.error(f"--listen {args.listen!r}: give HOST:PORT, e.g. 0.0.0.0:2375")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    log.info("forwarding GET of %s to %s on %s", ALLOWED_PATH.pattern, args.socket, args.listen)
    web.run_app(make_app(args.socket), host=host, port=int(port), access_log=None,
                print=None)


if __name__ == "__main__":
    main()
