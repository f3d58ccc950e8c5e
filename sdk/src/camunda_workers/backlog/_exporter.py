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
log = logging.getLogger("camunda_workers.backlog")


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
                        help=f"seconds between refreshes (default: $BACKLOG_INTERVAL or "
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
        interval = args.interval if args.interval is not None else float(
            environ.get("BACKLOG_INTERVAL") or DEFAULT_INTERVAL)
    except ValueError:
        parser.error(f"BACKLOG_INTERVAL: not a number: {environ.get('BACKLOG_INTERVAL')!r}")
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
