"""A gate to the Docker API: what Prometheus' Swarm discovery and the autoscaler need, no more.

The stack's ``socket-proxy`` service runs this on a manager; it alone mounts the Docker
socket. Prometheus and the autoscaler ask it over TCP (``tcp://socket-proxy:2375``) on an
internal network that only they are on. It forwards ``GET``/``HEAD`` of

    /_ping  /version  /tasks  /services  /nodes  /networks

(each also under a version prefix ``/v1.NN/``, with any query string) to the socket, and
one write: ``POST /services/ID/update?version=N`` (the autoscaler's scaling) when

* the proxy was given its stack (``--stack``, or the ``SOCKET_PROXY_SERVICE`` it runs as,
  ``STACK_socket-proxy``) and the service belongs to it;
* the service carries the :data:`MAX_REPLICAS_LABEL` label (the generator writes it on
  workers with an ``autoscale`` policy, and labels cannot be changed through here);
* the body is the service's current spec with only ``Mode.Replicated.Replicas`` changed,
  to a number within the labels' bounds, and ``version`` is the current version (so the
  daemon applies it to the very spec that was compared, or refuses it as out of date).

Every other method or path is answered with 403: no container, secret, config or exec
endpoint, no create or delete, no image, label, command or mount change. A request is
never passed on as received: only its method, its checked path and query and (for the
update) the checked body reach the daemon, with none of its headers. HTTP itself is
aiohttp's (line, header and body size limits included).

    python socket_proxy.py [--listen 0.0.0.0:2375] [--socket /var/run/docker.sock]
                           [--stack NAME]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import ClientError, ClientSession, ClientTimeout, UnixConnector, web
from yarl import URL

ALLOWED_METHODS = frozenset({"GET", "HEAD"})
ALLOWED_PATH = re.compile(r"/(?:v1\.\d{1,3}/)?(?:_ping|version|tasks|services|nodes|networks)")
UPDATE_PATH = re.compile(r"/(?:v1\.\d{1,3}/)?services/([A-Za-z0-9]{1,64})/update")
# Written by the generator on autoscaled workers (workers_tooling.stackfile._labels).
MIN_REPLICAS_LABEL = "camunda-workers.autoscale.min_replicas"
MAX_REPLICAS_LABEL = "camunda-workers.autoscale.max_replicas"
STACK_LABEL = "com.docker.stack.namespace"
# Headers of the daemon's answer worth passing on (the client negotiates the API version).
PASSED_HEADERS = ("Content-Type", "Api-Version", "Docker-Experimental", "Ostype", "Server")
CHUNK = 64 * 1024

log = logging.getLogger("socket_proxy")
_session = web.AppKey("session", ClientSession)
_stack = web.AppKey("stack", str)


def _bound(labels: dict[str, Any], key: str, default: int | None) -> int | None:
    value = labels.get(key)
    return int(value) if isinstance(value, str) and value.isdigit() else default


def update_problem(service: Any, proposed: Any, *, stack: str, version: str) -> str | None:
    """Why ``proposed`` (an update's body) may not replace ``service`` (the daemon's
    answer to ``GET /services/ID``), or None: only the replicas of an autoscaled service of
    ``stack`` change, within its bounds, at its current ``version``."""
    if not stack:
        return "this proxy was given no stack (--stack): it updates nothing"
    spec = service.get("Spec") if isinstance(service, dict) else None
    if not isinstance(spec, dict):
        return "the daemon's answer has no spec"
    labels = spec.get("Labels") or {}
    if labels.get(STACK_LABEL) != stack:
        return f"the service is not in stack {stack!r}"
    highest = _bound(labels, MAX_REPLICAS_LABEL, None)
    if highest is None:
        return f"the service has no {MAX_REPLICAS_LABEL} label: it is not autoscaled"
    lowest = _bound(labels, MIN_REPLICAS_LABEL, 0) or 0
    if str((service.get("Version") or {}).get("Index")) != version:
        return "version is not the service's current version"
    current = (spec.get("Mode") or {}).get("Replicated")
    wanted = (proposed.get("Mode") or {}).get("Replicated") if isinstance(proposed, dict) else None
    if not isinstance(current, dict) or not isinstance(wanted, dict) or set(wanted) != {"Replicas"}:
        return "only Mode.Replicated.Replicas of a replicated service may change"
    replicas = wanted["Replicas"]
    if not isinstance(replicas, int) or isinstance(replicas, bool) or not (
            lowest <= replicas <= highest):
        return f"Replicas must be a number from {lowest} to {highest} (the service's labels)"
    if {**proposed, "Mode": spec.get("Mode")} != spec:
        return "only Mode.Replicated.Replicas may change; the rest must be the current spec"
    return None


def _refuse(request: web.Request, why: str) -> web.Response:
    log.warning("refused %s %s: %s", request.method, request.path[:200], why)
    return web.json_response(
        {"message": f"{request.method} {request.path[:200]} is not allowed by the socket "
                    f"proxy: {why}"}, status=403)


async def update_replicas(request: web.Request, service_id: str) -> web.StreamResponse:
    """The one write: the replicas of an autoscaled service of this stack, nothing else."""
    if set(request.query) != {"version"} or not request.query["version"].isdigit():
        return _refuse(request, "the only parameter allowed is version=N")
    try:
        proposed = json.loads(await request.read())
    except (ValueError, UnicodeDecodeError):
        return _refuse(request, "the body is not a JSON service spec")
    except web.HTTPRequestEntityTooLarge:
        return _refuse(request, "the body is too large for a service spec")
    session = request.app[_session]
    try:
        async with session.get(URL.build(scheme="http", host="docker",
                                         path=f"/services/{service_id}")) as answer:
            if answer.status != 200:
                return web.json_response({"message": f"service {service_id}: HTTP "
                                                     f"{answer.status} from the daemon"},
                                         status=answer.status)
            service = await answer.json()
        why = update_problem(service, proposed, stack=request.app[_stack],
                             version=request.query["version"])
        if why is not None:
            return _refuse(request, why)
        target = URL.build(scheme="http", host="docker", path=f"/services/{service_id}/update",
                           query={"version": request.query["version"]})
        async with session.post(target, json=proposed) as answer:
            body = await answer.read()
            log.info("service %s: replicas -> %s (HTTP %s)", service_id,
                     proposed["Mode"]["Replicated"]["Replicas"], answer.status)
            return web.Response(status=answer.status, body=body,
                                content_type="application/json")
    except (ClientError, TimeoutError, ValueError) as exc:
        log.warning("the Docker daemon did not answer the update of %s: %s", service_id, exc)
        return web.json_response({"message": f"the Docker daemon did not answer: {exc}"},
                                 status=502)


async def forward(request: web.Request) -> web.StreamResponse:
    """One request: refused (403), or its method, path and query passed to the daemon."""
    update = UPDATE_PATH.fullmatch(request.path)
    if update is not None and request.method == "POST":
        return await update_replicas(request, update.group(1))
    if request.method not in ALLOWED_METHODS or not ALLOWED_PATH.fullmatch(request.path):
        log.warning("refused %s %s", request.method, request.path[:200])
        return web.json_response(
            {"message": f"{request.method} {request.path[:200]} is not allowed by the socket "
                        "proxy (GET of _ping, version, tasks, services, nodes, networks, and the "
                        "replicas of autoscaled services only)"},
            status=403)
    # The query as it came, still percent-encoded: the decoded one would be encoded again
    # (an '=' in a filter's value reaching the daemon as %253D, matching nothing).
    raw = request.rel_url.raw_query_string
    target = URL(f"http://docker{request.rel_url.raw_path}" + (f"?{raw}" if raw else ""),
                 encoded=True)
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


def make_app(socket: str, stack: str = "") -> web.Application:
    """The proxy as an aiohttp application talking to the daemon at ``socket``; it updates
    the replicas of ``stack``'s autoscaled services (none without a stack)."""
    app = web.Application(client_max_size=1 << 20)
    app[_stack] = stack
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
    parser.add_argument("--stack", default=os.environ.get("SOCKET_PROXY_SERVICE", "")
                        .removesuffix("_socket-proxy"),
                        help="the stack whose autoscaled services' replicas may be updated")
    args = parser.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    if not host or not port.isdigit():
        parser.error(f"--listen {args.listen!r}: give HOST:PORT, e.g. 0.0.0.0:2375")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    log.info("forwarding GET of %s to %s on %s; replicas updates for stack %r",
             ALLOWED_PATH.pattern, args.socket, args.listen, args.stack)
    web.run_app(make_app(args.socket, args.stack), host=host, port=int(port), access_log=None,
                print=None)


if __name__ == "__main__":
    main()
