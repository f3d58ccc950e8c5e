"""The exporter's process: options, the metrics server, a refresh every interval."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry, start_http_server

from .._client import EngineClient
from .._settings import WorkerSettings, resolve_settings
from ..errors import SpecError
from ._collector import BacklogCollector

__all__ = ["DEFAULT_INTERVAL", "DEFAULT_PORT", "main"]

DEFAULT_PORT = 9180
DEFAULT_INTERVAL = 30.0
INTERVAL_VARIABLE = "BACKLOG_INTERVAL_SECONDS"
OLD_INTERVAL_VARIABLE = "BACKLOG_INTERVAL"  # its name before the unit was in it
log = logging.getLogger("camunda_workers.backlog")


def environment_interval(environ: Mapping[str, str]) -> float:
    """Seconds between refreshes from ``BACKLOG_INTERVAL_SECONDS``; its old name
    ``BACKLOG_INTERVAL`` still works, with a warning in the log. ``ValueError`` when the
    value is not a number or both are set."""
    new, old = environ.get(INTERVAL_VARIABLE), environ.get(OLD_INTERVAL_VARIABLE)
    if new and old:
        raise ValueError(f"{OLD_INTERVAL_VARIABLE} and {INTERVAL_VARIABLE} are both set; "
                         f"set {INTERVAL_VARIABLE} only")
    variable, value = (OLD_INTERVAL_VARIABLE, old) if old else (INTERVAL_VARIABLE, new)
    if not value:
        return DEFAULT_INTERVAL
    if old:
        log.warning("%s is deprecated: set %s (the unit is in the name)",
                    OLD_INTERVAL_VARIABLE, INTERVAL_VARIABLE)
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"{variable}: not a number: {value!r}") from None


def _parser(environ: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m camunda_workers.backlog",
        description="Export the engine's external tasks per topic and state to Prometheus.")
    topics = [t.strip() for t in environ.get("BACKLOG_TOPICS", "").split(",") if t.strip()]
    parser.add_argument("--topic", action="append", dest="topics", default=None,
                        help="a topic that reads 0 when it has no tasks (repeat; "
                             "default: $BACKLOG_TOPICS)")
    parser.add_argument("--port", type=int, default=None,
                        help=f"metrics port (default: $METRICS_PORT or {DEFAULT_PORT})")
    parser.add_argument("--interval", type=float, default=None,
                        help=f"seconds between refreshes (default: ${INTERVAL_VARIABLE} or "
                             f"{DEFAULT_INTERVAL:.0f})")
    parser.set_defaults(env_topics=topics)
    return parser


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Run until SIGTERM/SIGINT; 0 then, 2 for bad options, 1 if the port cannot be served."""
    environ = os.environ if environ is None else environ
    logging.basicConfig(level=environ.get("LOG_LEVEL", "INFO").upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = _parser(environ)
    args = parser.parse_args(argv)
    try:
        interval = (args.interval if args.interval is not None
                    else environment_interval(environ))
    except ValueError as exc:
        parser.error(str(exc))
    try:
        settings = resolve_settings({"name": "backlog-exporter", "port": args.port},
                                    environ=environ)
    except SpecError as exc:
        parser.error(str(exc))
    if not 1 <= interval <= 3600:
        parser.error(f"--interval {interval:g}: use 1 to 3600 seconds")
    port = DEFAULT_PORT if settings.port is None else settings.port
    registry = CollectorRegistry()
    try:
        server, thread = start_http_server(port, registry=registry)
    except OSError as exc:
        print(f"error: cannot serve /metrics on port {port}: {exc.strerror or exc}; "
              "set METRICS_PORT or --port to a free port", file=sys.stderr)
        return 1
    log.info("backlog of %s every %gs on http://0.0.0.0:%d/metrics",
             urlsplit(settings.base_url).hostname, interval, port)
    try:
        asyncio.run(_refresh_until_stopped(settings, args.topics or args.env_topics,
                                           registry, interval))
    finally:
        server.shutdown()
        thread.join(5)
    log.info("backlog exporter stopped")
    return 0


async def _refresh_until_stopped(settings: WorkerSettings, topics: Sequence[str],
                                 registry: CollectorRegistry, interval: float) -> None:
    """Refresh every ``interval`` seconds until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with EngineClient.for_settings(settings) as engine:
        collector = BacklogCollector(engine, topics=topics, registry=registry)
        while not stop.is_set():
            await collector.refresh()
            with contextlib.suppress(TimeoutError):  # the interval passed: refresh again
                await asyncio.wait_for(stop.wait(), interval)
