"""The metrics the alert rules and the dashboard compare against (deploy/monitoring/)."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from camunda_workers import Task, Worker
from camunda_workers._metrics import DECISIONS, ENGINE_ERROR_KINDS, OUTCOMES
from tests.support.engine import EngineApi, free_port, unique, wait_until
from tests.support.running import running

pytestmark = pytest.mark.engine


def scrape(port: int) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    except httpx.ConnectError:
        return {}  # not listening yet
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def test_capacity_locks_liveness_and_zero_series_before_any_task(camunda: EngineApi) -> None:
    quick, slow = unique("quick"), unique("slow")
    port = free_port()
    worker = Worker(name="watched", base_url=camunda.url, environ={}, port=port, max_tasks=7,
                    lock_duration_ms=20_000, async_response_timeout_ms=500)

    @worker.topic(quick)
    def handle_quick(task: Task) -> None:
        return None

    @worker.topic(slow, lock_duration_ms=90_000)
    def handle_slow(task: Task) -> None:
        return None

    with running(worker):
        wait_until(lambda: scrape(port).get(
            ("camunda_worker_alive", frozenset({"worker": "watched"}.items()))) == 1.0,
            timeout=10, what="the liveness gauge")
        samples = scrape(port)
        # read off the loop too, as tests and other collectors do
        assert worker.metrics.registry.get_sample_value(
            "camunda_worker_alive", {"worker": "watched"}) == 1.0
        loop, poller = worker.lifecycle.loop, worker._poller
        assert loop is not None
        assert poller is not None

        def freeze() -> None:  # as if the poll loop had not turned for 1000 s
            poller.last_turn = loop.time() - 1000

        loop.call_soon_threadsafe(freeze)
        stuck = scrape(port)

    def value(name: str, **labels: str) -> float | None:
        return samples.get((name, frozenset({"worker": "watched", **labels}.items())))

    assert value("camunda_worker_max_tasks") == 7
    assert value("camunda_worker_lock_duration_seconds", topic=quick) == 20
    assert value("camunda_worker_lock_duration_seconds", topic=slow) == 90
    for topic in (quick, slow):  # 0 from the start, not missing
        assert value("camunda_worker_tasks_fetched_total", topic=topic) == 0
        assert value("camunda_worker_lock_extensions_total", topic=topic) == 0
        for outcome in OUTCOMES:
            assert value("camunda_worker_tasks_handled_total", topic=topic, outcome=outcome) == 0
        for decision in DECISIONS:
            assert value("camunda_worker_handler_duration_seconds_count", topic=topic,
                         outcome=decision) == 0
    for kind in ENGINE_ERROR_KINDS:
        assert value("camunda_worker_engine_errors_total", kind=kind) == 0
    assert value("camunda_worker_fetch_requests_total", outcome="error") == 0
    # the same check as /healthz, read at every scrape
    assert stuck[("camunda_worker_alive", frozenset({"worker": "watched"}.items()))] == 0.0


def test_every_engine_error_kind_starts_at_zero() -> None:
    """The kinds EngineError documents are the ones pre-registered (else a rate is missing)."""
    import re

    from camunda_workers import EngineError

    documented = re.search(r"metric label\):(.*?)\. When", EngineError.__doc__ or "", re.S)
    assert documented
    assert set(re.findall(r"``(\w+)``", documented[1])) == set(ENGINE_ERROR_KINDS)
