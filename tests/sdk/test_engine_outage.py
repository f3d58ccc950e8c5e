"""Engine errors never kill the worker: it backs off, logs once per state change, resumes.

A worker started before its engine (Swarm starts a stack's services in no order) is alive
(``/healthz`` 200) and not ready (``/readyz`` 503) until the engine answers.
"""

from __future__ import annotations

import logging
import time
from urllib.parse import urlsplit

import httpx
import pytest

from camunda_workers import Worker
from tests.support.engine import EngineApi, free_port, unique, wait_until
from tests.support.proxy import TcpRelay
from tests.support.running import CountingTransport, running

pytestmark = pytest.mark.engine


def test_worker_survives_unreachable_engine_and_resumes(
    camunda: EngineApi, caplog: pytest.LogCaptureFixture
) -> None:
    topic = unique("outage")
    key = camunda.deploy_external_task(topic)
    relay = TcpRelay(urlsplit(camunda.url).port or 80)
    relay.up()
    relay.down()  # keeps its port: the worker starts against a refused connection
    transport = CountingTransport()
    port = free_port()
    worker = Worker(name="outage", base_url=f"http://127.0.0.1:{relay.port}/engine-rest",
                    environ={}, port=port, async_response_timeout_ms=1_000,
                    backoff_initial_seconds=0.2, backoff_max_seconds=1.0, transport=transport)
    worker.topic(topic)(lambda task: {"handled": True})
    instances = camunda.start_many(key, 10)
    caplog.set_level(logging.INFO, logger="camunda_workers")
    with running(worker):
        time.sleep(3)
        refused_polls = transport.requests["fetchAndLock"]
        alive, ready = (httpx.get(f"http://127.0.0.1:{port}/{path}") for path in
                        ("healthz", "readyz"))
        relay.up()
        camunda.wait_finished(instances)
        wait_until(lambda: httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200,
                   timeout=10, what="readiness once the engine answers")
        relay.down()  # and once more, now dropping live keep-alive connections
        time.sleep(1.5)
        more = camunda.start_many(key, 5)
        relay.up()
        camunda.wait_finished(more)
    relay.down()
    # backed off instead of spinning: 0.2 s growing to 1 s over 3 s is a handful of tries
    assert 3 <= refused_polls <= 12
    # the README's start order: alive, so Swarm keeps it; not ready until the engine answers
    assert (alive.status_code, ready.status_code) == (200, 503)
    assert ready.text == "engine not reachable\n"
    messages = [r.getMessage() for r in caplog.records if r.name == "camunda_workers"]
    down = [m for m in messages if m.startswith("engine error (connection)")]
    back = [m for m in messages if m.startswith("engine reachable again")]
    assert len(down) == 2, messages  # one line per outage, not one per failed poll
    assert len(back) == 2, messages
