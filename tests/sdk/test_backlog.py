"""The backlog exporter against a real engine: counts per topic and state, from counts only."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from urllib.parse import urlsplit

import httpx
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from camunda_workers._client import AiohttpTransport, EngineClient, HttpAnswer
from camunda_workers._settings import resolve_settings
from camunda_workers.backlog import BacklogCollector, BacklogSnapshot
from camunda_workers.backlog import main as backlog_main
from camunda_workers.backlog._exporter import environment_interval
from tests.support.engine import REPO, EngineApi, free_port, unique, wait_until

pytestmark = pytest.mark.engine


class Recording(AiohttpTransport):
    """The worker's real transport, recording each request's path."""

    def __init__(self) -> None:
        super().__init__()
        self.paths: Counter[str] = Counter()

    async def send(self, method: str, url: str, *, headers: Mapping[str, str],
                   body: bytes | None, params: Mapping[str, str | int] | None,
                   timeout: float) -> HttpAnswer:  # noqa: ASYNC109 - as the protocol's
        self.paths[urlsplit(url).path.split("/engine-rest", 1)[1]] += 1
        return await super().send(method, url, headers=headers, body=body, params=params,
                                  timeout=timeout)


class Refreshing:
    """A collector on an engine client of its own, refreshed on one event loop."""

    def __init__(self, url: str, *, transport: AiohttpTransport | None = None,
                 topics: tuple[str, ...] = (), registry: CollectorRegistry | None = None):
        self.loop = asyncio.new_event_loop()
        settings = resolve_settings({"name": "t", "base_url": url}, environ={})
        self.engine = EngineClient.for_settings(settings, transport=transport)
        self.collector = BacklogCollector(self.engine, topics=topics, registry=registry)

    def refresh(self) -> BacklogSnapshot:
        return self.loop.run_until_complete(self.collector.refresh())

    def close(self) -> None:
        self.loop.run_until_complete(self.engine.aclose())
        self.loop.close()


@contextmanager
def refreshing(url: str, **options: object) -> Iterator[Refreshing]:
    made = Refreshing(url, **options)  # type: ignore[arg-type]
    try:
        yield made
    finally:
        made.close()


def _fetch(api: EngineApi, topic: str, count: int) -> list[str]:
    tasks = api.post("/external-task/fetchAndLock", {
        "workerId": "test", "maxTasks": count,
        "topics": [{"topicName": topic, "lockDuration": 600_000}]})
    return [task["id"] for task in tasks]


def test_counts_per_state_follow_the_engine(camunda: EngineApi,
                                            request: pytest.FixtureRequest) -> None:
    topic, idle = unique("backlog"), unique("idle")
    key = camunda.deploy_external_task(topic)
    transport = Recording()
    registry = CollectorRegistry()
    made = Refreshing(camunda.url, transport=transport, topics=(idle,), registry=registry)
    request.addfinalizer(made.close)
    collector = made

    def counts() -> dict[str, float | None]:
        collector.refresh()
        return {state: registry.get_sample_value(
            "camunda_external_tasks", {"topic": topic, "state": state})
            for state in ("open", "locked", "no_retries")}

    assert counts() == {"open": None, "locked": None, "no_retries": None}  # never seen
    instances = [camunda.start(key) for _ in range(6)]
    assert counts() == {"open": 6, "locked": 0, "no_retries": 0}
    locked = _fetch(camunda, topic, 3)
    assert counts() == {"open": 3, "locked": 3, "no_retries": 0}
    camunda.post(f"/external-task/{locked[0]}/failure",
                 {"workerId": "test", "errorMessage": "broken", "retries": 0,
                  "retryTimeout": 0})
    # a failure with retries left waits out its retry timeout: still locked, not open
    camunda.post(f"/external-task/{locked[1]}/failure",
                 {"workerId": "test", "errorMessage": "again", "retries": 2,
                  "retryTimeout": 600_000})
    assert counts() == {"open": 3, "locked": 2, "no_retries": 1}
    # the states are disjoint: they add up to the topic's tasks
    assert sum(v or 0 for v in counts().values()) == len(
        camunda.external_tasks(topicName=topic))
    assert registry.get_sample_value("camunda_external_tasks",
                                     {"topic": idle, "state": "open"}) == 0
    assert registry.get_sample_value("camunda_backlog_engine_up") == 1

    # drained: the topic reads 0, it does not disappear
    for task in [*_fetch(camunda, topic, 10), locked[2]]:
        camunda.post(f"/external-task/{task}/complete", {"workerId": "test"})
    for task in camunda.external_tasks(topicName=topic):
        camunda.http.delete(f"/process-instance/{task['processInstanceId']}")
    assert counts() == {"open": 0, "locked": 0, "no_retries": 0}
    assert len(instances) == 6

    # counts only, never task lists: topic-names, then three counts per topic with tasks
    transport.paths.clear()
    collector.refresh()
    assert set(transport.paths) <= {"/external-task/topic-names", "/external-task/count"}
    with_tasks = camunda.get("/external-task/topic-names")
    assert transport.paths["/external-task/count"] == 3 * len(with_tasks)
    assert transport.paths["/external-task/topic-names"] == 1


def test_engine_away_is_a_gauge_not_a_crash(camunda: EngineApi) -> None:
    registry = CollectorRegistry()
    with refreshing(f"http://127.0.0.1:{free_port()}/engine-rest", topics=("t",),
                    registry=registry) as made:
        snapshot = made.refresh()
    assert snapshot.error is not None
    assert snapshot.error.startswith("connection: GET /engine-rest/external-task/topic-names: ")
    assert registry.get_sample_value("camunda_backlog_engine_up") == 0
    assert registry.get_sample_value("camunda_backlog_refresh_errors_total") == 1
    # no stale counts while the engine is away
    assert registry.get_sample_value("camunda_external_tasks",
                                     {"topic": "t", "state": "open"}) is None
    with refreshing(camunda.url + "/nope") as made:
        error = made.refresh().error or ""
    assert "engine answered 404" in error
    assert "is CAMUNDA_URL the engine's REST root" in error


def test_the_command_serves_metrics_and_stops_on_sigterm(camunda: EngineApi) -> None:
    topic = unique("cmd")
    key = camunda.deploy_external_task(topic)
    camunda.start(key)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "camunda_workers.backlog", "--port", str(port),
         "--interval", "1"],
        env={"CAMUNDA_URL": camunda.url, "BACKLOG_TOPICS": "a_topic, other",
             "PATH": "/usr/bin:/bin"},
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        def scraped() -> dict[tuple[str, str], float]:
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
            except httpx.ConnectError:
                return {}
            return {(s.labels["topic"], s.labels["state"]): s.value
                    for family in text_string_to_metric_families(text)
                    for s in family.samples if s.name == "camunda_external_tasks"}

        samples = wait_until(lambda: scraped().get((topic, "open")), timeout=20,
                             what="the exporter's first refresh")
        assert samples == 1
        # later refreshes follow the engine too
        camunda.start(key)
        wait_until(lambda: scraped().get((topic, "open")) == 2, timeout=20,
                   what="a later refresh to count the second task")
        assert scraped()[("other", "no_retries")] == 0
        assert scraped()[("a_topic", "locked")] == 0
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, output
    assert b"Traceback" not in output


@pytest.mark.parametrize(("argv", "environ", "message"), [
    (["--interval", "0"], {}, "--interval 0: use 1 to 3600 seconds"),
    ([], {"BACKLOG_INTERVAL_SECONDS": "soon"}, "BACKLOG_INTERVAL_SECONDS: not a number: 'soon'"),
    ([], {"BACKLOG_INTERVAL": "soon"}, "BACKLOG_INTERVAL: not a number: 'soon'"),
    ([], {"BACKLOG_INTERVAL": "5", "BACKLOG_INTERVAL_SECONDS": "5"},
     "BACKLOG_INTERVAL and BACKLOG_INTERVAL_SECONDS are both set; set "
     "BACKLOG_INTERVAL_SECONDS only"),
    ([], {"CAMUNDA_URL": "engine:8080"}, "base_url (from env CAMUNDA_URL)"),
])
def test_bad_options_are_clear_errors(argv: list[str], environ: dict[str, str], message: str,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        backlog_main(argv, environ)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_port_in_use_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        code = backlog_main(["--port", str(port)], {"CAMUNDA_URL": "http://127.0.0.1:1/x"})
    assert code == 1
    assert time.monotonic() - started < 10
    assert f"cannot serve /metrics on port {port}" in capsys.readouterr().err


def test_the_interval_carries_its_unit_and_the_old_name_still_works(
        caplog: pytest.LogCaptureFixture) -> None:
    assert environment_interval({}) == 30
    assert environment_interval({"BACKLOG_INTERVAL_SECONDS": "7"}) == 7
    assert caplog.records == []
    assert environment_interval({"BACKLOG_INTERVAL": "9"}) == 9
    assert [r.getMessage() for r in caplog.records] == [
        "BACKLOG_INTERVAL is deprecated: set BACKLOG_INTERVAL_SECONDS (the unit is in the name)"]
