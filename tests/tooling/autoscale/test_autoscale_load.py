"""Each worker's load read from the real engine: open + locked tasks with retries left,
one topic-names request and one count per topic with tasks, engine trouble as an error."""

from __future__ import annotations

import httpx
import pytest

from tests.support.engine import EngineApi, free_port, unique
from workers_tooling.autoscale import read_loads

pytestmark = pytest.mark.engine


def test_loads_per_worker_from_the_engine(camunda: EngineApi) -> None:
    busy, shared, idle = unique("as_busy"), unique("as_shared"), unique("as_idle")
    for topic in (busy, shared):
        camunda.deploy_external_task(topic)
    camunda.start_many(f"p_{busy}", 5)
    shared_ids = camunda.start_many(f"p_{shared}", 3)
    # a suspended instance's task is no replica's work: not load
    suspended = camunda.http.put(f"/process-instance/{shared_ids[0]}/suspended",
                                 json={"suspended": True})
    assert suspended.status_code == 204
    # 2 of busy locked by a replica (still load), 1 failed for good (an incident: not load)
    locked = camunda.post("/external-task/fetchAndLock", {
        "workerId": "as-test", "maxTasks": 3,
        "topics": [{"topicName": busy, "lockDuration": 60_000}]})
    assert len(locked) == 3
    camunda.post(f"/external-task/{locked[0]['id']}/failure",
                 {"workerId": "as-test", "errorMessage": "boom", "retries": 0})
    topics = {"alpha": [busy, shared], "beta": [shared], "gamma": [idle]}
    with httpx.Client(base_url=camunda.url, timeout=10) as engine:
        reading = read_loads(engine, topics)
    assert reading.error is None
    assert dict(reading.loads) == {"alpha": 4 + 2, "beta": 2, "gamma": 0}
    # topic-names, then one count per topic with tasks; none for the idle topic
    assert reading.requests == 3
    with httpx.Client(base_url=camunda.url, timeout=10) as engine:
        at_rest = read_loads(engine, {"gamma": [idle], "delta": [unique("as_idle")]})
    assert (dict(at_rest.loads), at_rest.requests) == ({"gamma": 0, "delta": 0}, 1)


def test_the_count_endpoint_ignores_a_topic_list(camunda: EngineApi) -> None:
    """Why each topic needs its own count request: POST /external-task/count takes no
    topic list and counts every topic when given one (if an engine starts honouring it,
    this fails and the requests can be folded)."""
    topic = unique("as_list")
    camunda.deploy_external_task(topic)
    camunda.start_many(f"p_{topic}", 2)
    everything = camunda.post("/external-task/count", {})["count"]
    listed = camunda.post("/external-task/count", {"topicNameIn": [unique("as_none")]})
    assert listed["count"] == everything >= 2


def test_engine_away_or_not_an_engine_gives_an_error_and_no_loads(camunda: EngineApi) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{free_port()}/engine-rest",
                      timeout=5) as engine:
        away = read_loads(engine, {"alpha": ["a"]})
    assert away.loads == {}
    assert away.error is not None
    assert away.error.startswith("GET /external-task/topic-names: engine unreachable (Connect")
    with httpx.Client(base_url=camunda.url.removesuffix("/engine-rest") + "/nothing",
                      timeout=5) as engine:
        wrong = read_loads(engine, {"alpha": ["a"]})
    assert wrong.loads == {}
    assert wrong.error is not None
    assert "/external-task/count: HTTP 404" in wrong.error
