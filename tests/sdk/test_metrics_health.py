"""Metrics and health endpoints, scraped over HTTP and checked against the engine."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from camunda_workers import BpmnError, Task, Worker
from camunda_workers._logging import JsonFormatter
from tests.support.engine import REPO, EngineApi, free_port, unique, wait_until
from tests.support.proxy import TcpRelay
from tests.support.running import running

pytestmark = pytest.mark.engine


def scrape(port: int) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def test_scraped_metrics_match_what_the_engine_recorded(camunda: EngineApi) -> None:
    topic = unique("metrics")
    key = f"p_{topic}"
    camunda.deploy("bpmn_error", process_key=key, topic=topic, error_code="REJECTED")
    port = free_port()
    relay = TcpRelay(urlsplit(camunda.url).port or 80)
    relay.up()
    worker = Worker(name="metered", base_url=f"http://127.0.0.1:{relay.port}/engine-rest",
                    environ={}, port=port, async_response_timeout_ms=500, retries=0,
                    backoff_max_seconds=0.5)

    @worker.topic(topic)
    def handle(task: Task) -> None:
        kind = task.variables["kind"]
        if kind == "bpmn":
            raise BpmnError("REJECTED")
        if kind == "fail":
            raise RuntimeError("broken")

    kinds = ["ok"] * 12 + ["bpmn"] * 5 + ["fail"] * 3
    instances = [camunda.start(key, {"kind": kind}) for kind in kinds]
    with running(worker):
        wait_until(lambda: camunda.finished(instances) == 17, what="ok and bpmn instances")
        wait_until(lambda: sum(len(camunda.incidents(i)) for i in instances) == 3)
        samples = scrape(port)
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
        assert httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200
        relay.down()
        wait_until(lambda: httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 503,
                   timeout=10, what="readiness to drop while the engine is away")
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200  # still alive
        errors = scrape(port)
        relay.up()
        wait_until(lambda: httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200,
                   timeout=10)
    relay.down()

    def value(name: str, **labels: str) -> float:
        return samples.get((name, frozenset({"worker": "metered", **labels}.items())), 0.0)

    # engine side: 12 ended at "done", 5 at "caught", 3 incidents
    ended = [camunda.activities(i) for i in instances[:17]]
    assert sum("done" in a for a in ended) == 12
    assert sum("caught" in a for a in ended) == 5
    assert value("camunda_worker_tasks_fetched_total", topic=topic) == 20
    assert value("camunda_worker_tasks_handled_total", topic=topic, outcome="completed") == 12
    assert value("camunda_worker_tasks_handled_total", topic=topic, outcome="bpmn_error") == 5
    assert value("camunda_worker_tasks_handled_total", topic=topic, outcome="failed") == 3
    assert value("camunda_worker_handler_duration_seconds_count", topic=topic,
                 outcome="completed") == 12
    assert value("camunda_worker_tasks_in_flight") == 0
    assert value("camunda_worker_fetch_requests_total", outcome="ok") >= 1
    assert value("camunda_worker_fetch_duration_seconds_count") >= 1
    assert samples[("camunda_worker_info", frozenset({
        "worker": "metered", "sdk_version": "0.1.0", "engine_host": "127.0.0.1"}.items()))] == 1
    connection_errors = errors.get(("camunda_worker_engine_errors_total", frozenset(
        {"worker": "metered", "kind": "connection"}.items())), 0)
    assert connection_errors >= 1


def test_unknown_path_and_method() -> None:
    from prometheus_client import CollectorRegistry

    from camunda_workers._health import HealthServer

    async def scenario() -> tuple[int, int]:
        server = HealthServer(port=0, registry=CollectorRegistry(), host="127.0.0.1",
                              alive=lambda: (True, "ok"), ready=lambda: (False, "draining"))
        await server.start()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
            missing = (await client.get("/nope")).status_code
            ready = await client.get("/readyz")
        await server.stop()
        assert ready.text == "draining\n"
        return missing, ready.status_code

    import asyncio

    assert asyncio.run(scenario()) == (404, 503)


def test_json_logs_carry_task_context_and_no_secrets(camunda: EngineApi, tmp_path: Path) -> None:
    topic = unique("jsonlog")
    key = camunda.deploy_external_task(topic)
    instance = camunda.start(key, {"kind": "x"})
    script = (
        "from camunda_workers import Worker\n"
        "w = Worker(name='logger', async_response_timeout_ms=500, retries=0)\n"
        f"w.topic('{topic}')(lambda task: 1/0)\n"
        "w.run()\n"
    )
    env = {"CAMUNDA_URL": camunda.url, "LOG_FORMAT": "json", "CAMUNDA_USER": "demo",
           "CAMUNDA_PASSWORD": "supersecret-123", "PATH": "/usr/bin:/bin"}
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    wait_until(lambda: camunda.incidents(instance), timeout=30)
    import time

    time.sleep(2)  # a few idle long polls: they must not log
    proc.terminate()
    output, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0
    text = output.decode()
    assert "supersecret" not in text
    records = [json.loads(line) for line in text.splitlines()]
    failed = [r for r in records if "failed" in r["message"]]
    assert failed[0]["worker"] == "logger"
    assert failed[0]["topic"] == topic
    assert failed[0]["process_instance_id"] == instance
    assert failed[0]["task_id"]
    assert failed[0]["level"] == "WARNING"
    # one line per state change: start, the failure, stop signal, stopped; not one per poll
    assert len(records) <= 6, records


def test_json_formatter_includes_exception() -> None:
    formatter = JsonFormatter("w")
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.getLogger("x").makeRecord(
            "x", logging.ERROR, __file__, 1, "bad %s", ("thing",), sys.exc_info())
    entry = json.loads(formatter.format(record))
    assert entry["message"] == "bad thing"
    assert "ValueError: boom" in entry["exception"]


def test_liveness_fails_when_the_poll_loop_stops_turning(camunda: EngineApi) -> None:
    port = free_port()
    worker = Worker(name="stuck", base_url=camunda.url, environ={}, port=port,
                    async_response_timeout_ms=5_000)  # the loop sits in one long poll
    worker.topic(unique("stuck"))(lambda task: None)
    with running(worker):
        wait_until(lambda: _status(f"http://127.0.0.1:{port}/healthz") == 200)
        loop, poller = worker.lifecycle.loop, worker._poller
        assert loop is not None
        assert poller is not None

        def freeze() -> None:  # as if the loop had not turned for 1000 s
            poller.last_turn = loop.time() - 1000

        loop.call_soon_threadsafe(freeze)
        response = httpx.get(f"http://127.0.0.1:{port}/healthz")
        assert response.status_code == 503
        assert response.text.startswith("poll loop stuck for")


def _status(url: str) -> int:
    try:
        return httpx.get(url).status_code
    except httpx.ConnectError:
        return 0  # not listening yet


def test_port_in_use_is_a_clear_error(camunda: EngineApi) -> None:
    import asyncio
    import socket

    from camunda_workers import CamundaWorkersError

    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        worker = Worker(name="clash", base_url=camunda.url, environ={}, port=port)
        worker.topic(unique("clash"))(lambda task: None)
        with pytest.raises(CamundaWorkersError,
                           match=rf"cannot serve /metrics and /healthz on port {port}: .*"
                                 "set METRICS_PORT"):
            asyncio.run(worker.run_async())


def test_a_taken_port_ends_the_process_with_one_line_and_exit_code_1(camunda: EngineApi,
                                                                     tmp_path: Path) -> None:
    import socket

    from tests.support.running import spawn_worker

    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        worker = spawn_worker({"CAMUNDA_URL": camunda.url, "TEST_TOPIC": unique("clash"),
                               "METRICS_PORT": str(port)}, log_path=str(tmp_path / "w.log"))
        assert worker.wait(timeout=30) == 1
    output = (tmp_path / "w.log").read_text()
    assert f"cannot serve /metrics and /healthz on port {port}" in output
    assert "set METRICS_PORT to a free port" in output
    assert "Traceback" not in output


# -- the port faces the network: limits -------------------------------------------------------

@contextmanager
def health_server(**limits: float) -> Iterator[tuple[int, asyncio.AbstractEventLoop]]:
    """A HealthServer on an event loop of its own thread (as on a worker's loop)."""
    from prometheus_client import CollectorRegistry, Counter

    from camunda_workers._health import HealthServer

    registry = CollectorRegistry()
    Counter("demo_things", "Things.", registry=registry).inc(3)
    loop = asyncio.new_event_loop()
    server = HealthServer(port=0, registry=registry, host="127.0.0.1",
                          alive=lambda: (True, "ok"), ready=lambda: (True, "ok"),
                          **limits)  # type: ignore[arg-type]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(10)
    try:
        yield server.port, loop
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
        # the closed connections' sockets are let go of on the loop's next turns
        asyncio.run_coroutine_threadsafe(asyncio.sleep(0.1), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def _raw(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return answer


def _healthy(port: int) -> bool:
    try:
        return _raw(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").endswith(b"ok\n")
    except ConnectionError:
        return False


@pytest.mark.parametrize("request_bytes", [
    b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 100_000 + b"\r\n\r\n",
    b"GET /" + b"a" * 8_200 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
], ids=["100_kb_request_line", "100_kb_header", "just_over_8_kib"])
def test_oversized_requests_get_400_and_no_traceback(request_bytes: bytes,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with health_server() as (port, _):
        answer = _raw(port, request_bytes)
        assert _raw(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").endswith(b"ok\n")
    assert answer.split(b"\r\n")[0].endswith(b" 400 Bad Request"), answer[:100]
    assert [r for r in caplog.records if r.exc_info or r.levelno >= logging.WARNING] == []
    assert any("bad request refused (400" in r.getMessage() for r in caplog.records)


def test_a_slow_client_is_cut_off() -> None:
    """One header line every second never completes a request: closed after 5 s."""
    with health_server() as (port, _), socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(0.2)
        opened = time.monotonic()
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        closed_after = None
        while time.monotonic() - opened < 12:
            try:
                sock.sendall(b"X-Slow: 1\r\n")
                if sock.recv(100) == b"":
                    closed_after = time.monotonic() - opened
                    break
            except TimeoutError:
                time.sleep(0.8)
            except ConnectionError:
                closed_after = time.monotonic() - opened
                break
    assert closed_after is not None, "the slow client held the connection for 12 s"
    assert 4.5 < closed_after < 8, closed_after


def test_connections_are_capped() -> None:
    with health_server() as (port, _):
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(40)]
        time.sleep(0.5)
        closed = 0
        for sock in idle:
            sock.settimeout(0.05)
            try:
                closed += sock.recv(1) == b""
            except TimeoutError:
                pass
            except ConnectionError:
                closed += 1
        assert closed == 40 - 32  # the cap's worth stay open, the rest were closed at once
        assert not _healthy(port)  # while the cap is full, no one else gets in
        wait_until(lambda: _healthy(port), timeout=8, what="the idle ones to time out")
        for sock in idle:
            sock.close()


def test_metrics_speak_openmetrics_and_gzip_when_asked() -> None:
    with health_server() as (port, _):
        url = f"http://127.0.0.1:{port}/metrics"
        plain = httpx.get(url, headers={"Accept-Encoding": "identity"})
        open_metrics = httpx.get(url, headers={"Accept": "application/openmetrics-text"})
        zipped = httpx.get(url, headers={"Accept-Encoding": "gzip"})
        head = httpx.head(url)
        post = httpx.post(url)
    assert plain.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "demo_things_total 3.0" in plain.text
    assert open_metrics.headers["content-type"].startswith("application/openmetrics-text")
    assert open_metrics.text.endswith("# EOF\n")
    assert zipped.headers["content-encoding"] == "gzip"
    assert "demo_things_total 3.0" in zipped.text  # httpx unzips
    assert (head.status_code, head.content) == (200, b"")
    assert plain.headers["connection"] == "close"  # one request per connection
    assert post.status_code == 405


def test_nothing_answers_while_the_loop_is_blocked() -> None:
    """On the worker's own loop: a blocked loop is a dead worker, and liveness says so."""
    with health_server() as (port, loop):
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
        loop.call_soon_threadsafe(time.sleep, 3)
        time.sleep(0.2)
        with pytest.raises(httpx.ReadTimeout):
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
        wait_until(lambda: _healthy(port), timeout=5, what="the loop to turn again")
