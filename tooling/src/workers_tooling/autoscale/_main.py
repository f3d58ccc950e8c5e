"""``python -m workers_tooling.autoscale``: the stack's ``autoscaler`` service.

Configured by its environment, which ``workers compose --autoscale`` writes:

* ``AUTOSCALE_WORKERS``: ``{"NAME": {"topics": [...], "autoscale": {...}}, ...}`` (each
  ``autoscale`` the worker's policy, validated as in ``worker.json``);
* ``AUTOSCALE_INTERVAL``: seconds between rounds (default 15);
* ``AUTOSCALER_SERVICE``: the service's own name (``{{.Service.Name}}``, ``STACK_autoscaler``),
  which names the stack; or ``AUTOSCALE_STACK``;
* ``CAMUNDA_URL`` (and ``CAMUNDA_USER_FILE``/``CAMUNDA_PASSWORD_FILE`` or
  ``CAMUNDA_TOKEN_FILE``), ``DOCKER_HOST`` (``tcp://socket-proxy:2375``), ``METRICS_PORT``.

A bad setting is one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Mapping

import httpx
from prometheus_client import CollectorRegistry, start_http_server
from pydantic import ValidationError

from ..project._service_spec import AutoscalePolicy
from ._act import AutoscaledWorker, Autoscaler
from ._engine import CredentialError, engine_client
from ._metrics import AutoscalerMetrics

__all__ = ["SettingError", "main", "workers_from_environment"]

log = logging.getLogger("workers_tooling.autoscale")


class SettingError(Exception):
    """An environment variable the autoscaler cannot use (the message names it)."""


def workers_from_environment(text: str) -> list[AutoscaledWorker]:
    """``AUTOSCALE_WORKERS`` as :class:`AutoscaledWorker` objects."""
    try:
        data = json.loads(text)
    except ValueError:
        raise SettingError("AUTOSCALE_WORKERS: not JSON; `workers compose --autoscale` "
                           "writes it") from None
    if not isinstance(data, dict) or not data:
        raise SettingError("AUTOSCALE_WORKERS: expected {\"NAME\": {\"topics\": [...], "
                           "\"autoscale\": {...}}, ...}")
    workers = []
    for name, entry in sorted(data.items()):
        topics = entry.get("topics") if isinstance(entry, dict) else None
        if not (isinstance(topics, list) and topics and all(isinstance(t, str) for t in topics)):
            raise SettingError(f"AUTOSCALE_WORKERS: {name}.topics: expected a list of names")
        try:
            policy = AutoscalePolicy.model_validate(entry.get("autoscale") or {})
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                                 for e in exc.errors())
            raise SettingError(f"AUTOSCALE_WORKERS: {name}.autoscale: {problems}") from None
        workers.append(AutoscaledWorker(name, tuple(topics), policy))
    return workers


def _engine(environ: Mapping[str, str]) -> httpx.Client:
    url = environ.get("CAMUNDA_URL", "http://engine:8080/engine-rest")
    try:
        return engine_client(url, environ)
    except CredentialError as exc:
        raise SettingError(str(exc)) from None


def _number(environ: Mapping[str, str], name: str, default: str, low: float,
            high: float) -> float:
    text = environ.get(name, default)
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not low <= value <= high:
        raise SettingError(f"{name}: {text!r} is not a number from {low:g} to {high:g}")
    return value


def build(environ: Mapping[str, str], registry: CollectorRegistry,
          stop: threading.Event) -> tuple[Autoscaler, float, int]:
    """The autoscaler, its interval and its metrics port, from ``environ``."""
    workers = workers_from_environment(environ.get("AUTOSCALE_WORKERS", ""))
    stack = environ.get("AUTOSCALE_STACK") or environ.get(
        "AUTOSCALER_SERVICE", "").removesuffix("_autoscaler")
    if not stack:
        raise SettingError("AUTOSCALE_STACK: not set (nor AUTOSCALER_SERVICE, "
                           "{{.Service.Name}} in the stack file)")
    interval = _number(environ, "AUTOSCALE_INTERVAL", "15", 1, 3600)
    port = int(_number(environ, "METRICS_PORT", "9181", 1, 65535))
    docker_url = environ.get("DOCKER_HOST", "tcp://socket-proxy:2375")
    if not docker_url.startswith("tcp://"):
        raise SettingError(f"DOCKER_HOST: {docker_url!r}: the autoscaler talks to the "
                           "socket proxy over tcp://HOST:PORT")
    # the proxy answers in milliseconds: a short timeout keeps a round (retries included)
    # well within an interval when it does not
    docker = httpx.Client(base_url="http://" + docker_url.removeprefix("tcp://"), timeout=5)
    return (Autoscaler(workers, stack=stack, engine=_engine(environ), docker=docker,
                       metrics=AutoscalerMetrics(registry=registry), say=log.info,
                       stop=stop), interval, port)


def main(environ: Mapping[str, str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request: noise
    stop = threading.Event()
    registry = CollectorRegistry()
    try:
        autoscaler, interval, port = build(os.environ if environ is None else environ,
                                           registry, stop)
    except SettingError as exc:
        print(f"autoscaler: {exc}", file=sys.stderr)
        return 2
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        start_http_server(port, registry=registry)
    except OSError as exc:
        print(f"autoscaler: METRICS_PORT: cannot serve on {port} ({exc.strerror})",
              file=sys.stderr)
        return 2
    log.info("autoscaling %s in stack %s every %gs", ", ".join(autoscaler.workers),
             autoscaler.stack, interval)
    with autoscaler.engine, autoscaler.docker:
        autoscaler.run(interval)
    return 0
