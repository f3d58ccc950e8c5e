"""The acting autoscaler's loop against the real engine. The Docker API is a stand-in
here: what it proves are the faults the real daemon does not show on demand (errors,
a rolling update); tests/deploy/test_cluster_autoscale.py runs the loop in a real stack."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from tests.support.engine import EngineApi, free_port, unique
from workers_tooling.autoscale import (
    AutoscaledWorker,
    AutoscalePolicy,
    Autoscaler,
    AutoscalerMetrics,
)

pytestmark = pytest.mark.engine

POLICY = AutoscalePolicy(min_replicas=0, max_replicas=6, tasks_per_replica=10,
                         cooldown_seconds=30, scale_down_window_seconds=30)


class Swarm:
    """One worker service as the Docker API answers for it, failing ``failures`` times."""

    def __init__(self, replicas: int, *, failures: int = 0, update_state: str = "") -> None:
        self.replicas, self.version, self.failures = replicas, 7, failures
        self.update_state = update_state
        self.updates: list[dict[str, Any]] = []
        self.calls = 0

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.failures:
            self.failures -= 1
            return httpx.Response(500, json={"message": "rpc error: leader lost"})
        labels = {"camunda-workers.worker": "hello-world", "com.docker.stack.namespace": "st"}
        spec: dict[str, Any] = {"Name": "st_hello-world", "Labels": labels,
                "Mode": {"Replicated": {"Replicas": self.replicas}},
                "TaskTemplate": {"ContainerSpec": {"Image": "x"}}}
        if request.method == "GET":
            other = {**spec, "Name": "other_hello-world",
                     "Labels": {**labels, "com.docker.stack.namespace": "other"}}
            return httpx.Response(200, json=[{
                "ID": "abc", "Version": {"Index": self.version}, "Spec": spec,
                "UpdateStatus": {"State": self.update_state} if self.update_state else None},
                # the same worker in another stack: not ours
                {"ID": "zzz", "Version": {"Index": 1}, "Spec": other}])
        body = json.loads(request.content)
        assert request.url.params["version"] == str(self.version)
        assert {**body, "Mode": spec["Mode"]} == spec  # only the replicas change
        self.updates.append(body)
        self.replicas = body["Mode"]["Replicated"]["Replicas"]
        self.version += 1
        return httpx.Response(200, json={})


_clients: list[httpx.Client] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _clients:
        _clients.pop().close()


def client(**options: Any) -> httpx.Client:
    _clients.append(httpx.Client(timeout=10, **options))
    return _clients[-1]


def autoscaler(engine_url: str, swarm: Swarm, topic: str, lines: list[str],
               registry: CollectorRegistry, clock: list[float]) -> Autoscaler:
    return Autoscaler(
        [AutoscaledWorker("hello-world", (topic,), POLICY)], stack="st",
        engine=client(base_url=engine_url),
        docker=client(base_url="http://docker", transport=httpx.MockTransport(swarm.handle)),
        metrics=AutoscalerMetrics(registry=registry), say=lines.append,
        clock=lambda: clock[0], stop=threading.Event(), backoff=0.01)


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_scales_with_the_load_and_logs_each_change_once(camunda: EngineApi) -> None:
    topic = unique("as_act")
    camunda.deploy_external_task(topic)
    lines: list[str] = []
    swarm, registry, clock = Swarm(0), CollectorRegistry(), [1000.0]
    scaler = autoscaler(camunda.url, swarm, topic, lines, registry, clock)
    scaler.run_round()
    assert (swarm.updates, lines) == ([], [])  # at rest: stays at 0, says nothing
    assert sample(registry, "camunda_autoscaler_decisions_total", worker="hello-world",
                  direction="none", reason="steady") == 1

    camunda.start_many(f"p_{topic}", 58)
    clock[0] += 5
    scaler.run_round()
    assert lines == ["hello-world 0 -> 6: load 58 over 10 per replica"]
    assert swarm.replicas == 6
    for name, value in (("camunda_autoscaler_load", 58), ("camunda_autoscaler_desired_replicas",
                        6), ("camunda_autoscaler_current_replicas", 6)):
        assert sample(registry, name, worker="hello-world") == value
    assert sample(registry, "camunda_autoscaler_decisions_total", worker="hello-world",
                  direction="up", reason="activation") == 1

    # the engine goes away: nothing changes, one line when it starts, one when it ends
    scaler.engine = client(base_url=f"http://127.0.0.1:{free_port()}/engine-rest")
    for _ in range(3):
        clock[0] += 60
        scaler.run_round()
    assert swarm.replicas == 6
    assert len(lines) == 2
    assert lines[1].startswith("engine: GET /external-task/topic-names: "
                                                   "engine unreachable")
    assert sample(registry, "camunda_autoscaler_engine_up") == 0
    assert sample(registry, "camunda_autoscaler_errors_total", source="engine") == 3
    scaler.engine = client(base_url=camunda.url)
    clock[0] += 5
    scaler.run_round()
    assert lines[2:] == ["engine: readable again"]  # 58 tasks: 6 replicas still wanted
    assert swarm.replicas == 6


def test_docker_errors_are_retried_and_an_update_in_progress_is_left_alone(
        camunda: EngineApi) -> None:
    topic = unique("as_act")
    camunda.deploy_external_task(topic)
    camunda.start_many(f"p_{topic}", 25)
    # two failures: retried within the round with backoff, the third call answers
    lines: list[str] = []
    swarm, registry, clock = Swarm(1, failures=2), CollectorRegistry(), [0.0]
    scaler = autoscaler(camunda.url, swarm, topic, lines, registry, clock)
    scaler.run_round()
    assert lines == ["hello-world 1 -> 3: load 25 over 10 per replica"]
    assert swarm.calls == 4  # 3 reads (2 failed) and the update

    # more failures than attempts: the round changes nothing, says so once
    swarm.failures = 100
    for _ in range(2):
        clock[0] += 15
        scaler.run_round()
    assert swarm.replicas == 3
    assert lines[1:] == ["Docker API: GET /services: HTTP 500: {\"message\":\"rpc error: "
                         "leader lost\"}; nothing changed this round"]
    assert sample(registry, "camunda_autoscaler_errors_total", source="docker") == 2
    swarm.failures = 0

    # a rolling update in progress: left alone until it ends
    swarm.update_state = "updating"
    camunda.start_many(f"p_{topic}", 30)
    clock[0] += 15
    scaler.run_round()
    clock[0] += 15
    scaler.run_round()
    assert swarm.replicas == 3
    assert lines[2:] == ["Docker API: answering again",
                         "hello-world: update in progress (updating); left alone until it ends"]
    swarm.update_state = "completed"
    clock[0] += 15
    scaler.run_round()
    assert (swarm.replicas, lines[4:]) == (6, ["hello-world 3 -> 6: load 55 over 10 per replica"])


def test_a_restarted_autoscaler_starts_its_window_from_the_running_replicas(
        camunda: EngineApi) -> None:
    """A new autoscaler (its task killed and replaced) finds 6 replicas and a small load:
    it holds them for the scale-down window instead of dropping at once (no flapping)."""
    topic = unique("as_act")
    camunda.deploy_external_task(topic)
    camunda.start_many(f"p_{topic}", 5)
    lines: list[str] = []
    swarm, registry, clock = Swarm(6), CollectorRegistry(), [500.0]
    scaler = autoscaler(camunda.url, swarm, topic, lines, registry, clock)
    for _ in range(3):
        scaler.run_round()
        clock[0] += 10
    assert (swarm.replicas, lines) == (6, [])
    clock[0] += 15  # past the 30 s window
    scaler.run_round()
    assert (swarm.replicas, lines) == (1, ["hello-world 6 -> 1: load 5 over 10 per replica"])
