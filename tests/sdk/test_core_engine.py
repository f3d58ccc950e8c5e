"""The SDK core against a real engine: completion, variables, batching, concurrency, options."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections import Counter
from typing import Any

import pytest

from camunda_workers import Task
from tests.support.engine import EngineApi, unique
from tests.support.running import CountingTransport, make_worker, running

# fixtures `camunda` and `engine` of this module: each test runs once more on PostgreSQL
from tests.support.sessions import camunda_also_on_postgres, engine_also_on_postgres  # noqa: F401

pytestmark = pytest.mark.engine


def test_returned_dict_completes_with_global_variables(engine: EngineApi) -> None:
    topic = unique("complete")
    key = engine.deploy_external_task(topic)
    worker = make_worker(engine)

    @worker.topic(topic)
    def handle(task: Task) -> dict[str, Any]:
        return {"greeting": f"hello {task.variables['who']}", "count": 3}

    instances = engine.start_many(key, 5, {"who": "ada"})
    with running(worker):
        engine.wait_finished(instances)
    variables = engine.variables(instances[0])
    assert variables["greeting"]["value"] == "hello ada"
    assert variables["count"]["type"] == "Integer"


def test_none_completes_and_complete_sets_local_variables(camunda: EngineApi) -> None:
    plain, local = unique("none"), unique("local")
    plain_key, local_key = camunda.deploy_external_task(plain), camunda.deploy_external_task(local)
    worker = make_worker(camunda)

    @worker.topic(plain)
    def nothing(task: Task) -> None:
        return None

    @worker.topic(local)
    async def with_local(task: Task) -> Any:
        return task.complete(variables={"g": 1}, local_variables={"l": "only here"})

    first, second = camunda.start(plain_key, {"x": 1}), camunda.start(local_key)
    with running(worker):
        camunda.wait_finished([first, second])
    assert set(camunda.variables(first)) == {"x"}
    variables = camunda.variables(second)
    assert variables["g"]["activityInstanceId"] == second  # process scope
    assert variables["l"]["activityInstanceId"].startswith("work:")  # the task's own scope


def test_one_fetch_serves_all_topics_over_keep_alive(camunda: EngineApi) -> None:
    topics = [unique("multi") for _ in range(3)]
    keys = [camunda.deploy_external_task(topic) for topic in topics]
    transport = CountingTransport()
    worker = make_worker(camunda, max_tasks=4, transport=transport)
    seen: list[str] = []
    for topic in topics:
        worker.topic(topic)(lambda task: seen.append(task.topic))  # type: ignore[func-returns-value]

    instances = [camunda.start(key) for key in keys for _ in range(10)]
    with running(worker):
        camunda.wait_finished(instances)
    assert sorted(set(seen)) == sorted(topics)
    fetch = json.loads(transport.fetch_bodies[0])
    assert sorted(t["topicName"] for t in fetch["topics"]) == sorted(topics)
    assert transport.requests["complete"] == 30
    # 30 completions and the polls went over a handful of pooled connections.
    assert transport.connections <= worker.settings.max_tasks + 2


def test_long_poll_waits_instead_of_spinning(camunda: EngineApi) -> None:
    transport = CountingTransport()
    worker = make_worker(camunda, async_response_timeout_ms=1_000, transport=transport)
    worker.topic(unique("idle"))(lambda task: None)
    with running(worker):
        time.sleep(3.5)
    # An idle worker asks once per long poll (about 4 in 3.5 s), not in a busy loop.
    assert 2 <= transport.requests["fetchAndLock"] <= 6


def test_an_idle_worker_sends_nothing_but_its_long_polls(camunda: EngineApi) -> None:
    transport = CountingTransport()
    worker = make_worker(camunda, async_response_timeout_ms=1_000, transport=transport)
    worker.topic(unique("quiet"))(lambda task: None)
    with running(worker):
        time.sleep(1.5)  # the look for another process with this WORKER_ID is done
        before = Counter(transport.requests)
        time.sleep(3)
        after = Counter(transport.requests) - before
    assert set(after) == {"fetchAndLock"}, after
    assert 2 <= after["fetchAndLock"] <= 4  # one per 1 s long poll


def test_long_poll_returns_when_work_arrives(camunda: EngineApi) -> None:
    topic = unique("wake")
    key = camunda.deploy_external_task(topic)
    worker = make_worker(camunda, async_response_timeout_ms=8_000)
    started = threading.Event()
    worker.topic(topic)(lambda task: started.set())  # type: ignore[func-returns-value]
    with running(worker):
        time.sleep(1)  # the worker is inside an 8 s long poll now
        instance = camunda.start(key)
        assert started.wait(10), "long poll did not hand over the new task"
        camunda.wait_finished([instance])


def test_batches_and_never_more_than_max_tasks_in_flight(camunda: EngineApi) -> None:
    topic = unique("batch")
    key = camunda.deploy_external_task(topic)
    transport = CountingTransport()
    worker = make_worker(camunda, max_tasks=4, transport=transport)
    lock = threading.Lock()
    active, peak, threads = 0, 0, set()

    @worker.topic(topic)
    def slow(task: Task) -> None:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
            threads.add(threading.get_ident())
        time.sleep(0.2)
        with lock:
            active -= 1

    instances = camunda.start_many(key, 16)
    with running(worker):
        camunda.wait_finished(instances)
    assert peak == 4  # batches filled every slot, never more
    assert len(threads) >= 2  # sync handlers ran on the thread pool
    assert all(json.loads(body)["maxTasks"] <= 4 for body in transport.fetch_bodies)
    assert transport.requests["fetchAndLock"] < 16  # tasks came in batches


def test_long_tasks_are_not_fetched_ahead(camunda: EngineApi) -> None:
    """A task that runs longer than a fetched-ahead task may wait (half a second) is
    fetched only for a free slot: the worker never holds a lock it will not use soon."""
    topic = unique("no_ahead")
    key = camunda.deploy_external_task(topic)
    worker = make_worker(camunda, max_tasks=2)
    worker.topic(topic)(lambda task: time.sleep(1.0))  # type: ignore[func-returns-value]
    instances = camunda.start_many(key, 8)
    locked: list[int] = []
    with running(worker):
        while camunda.finished(instances) < len(instances):
            locked.append(len(camunda.locked_by(worker.worker_id, topic)))
            time.sleep(0.05)
    assert max(locked) == 2, locked


class SlowReportsTransport(CountingTransport):
    """The engine's answers to reports come late, as from an engine other replicas keep
    saturated (a loaded engine cannot be made on demand; its slowness can)."""

    async def send(self, method: str, url: str, **kwargs: Any) -> Any:
        if url.endswith("/complete"):
            await asyncio.sleep(0.8)
        return await super().send(method, url, **kwargs)


def test_a_busy_worker_fetches_whole_batches_while_the_engine_is_slow_to_answer(
        camunda: EngineApi) -> None:
    """While reports take long, the engine is the bottleneck: slots that free up one by one
    wait (at most that long) for a whole batch instead of a fetch each (issue 21)."""
    topic = unique("batches")
    key = camunda.deploy_external_task(topic)
    transport = SlowReportsTransport()
    worker = make_worker(camunda, max_tasks=8, transport=transport)
    started = itertools.count()

    @worker.topic(topic)
    async def staggered(task: Task) -> None:
        await asyncio.sleep(next(started) % 8 * 0.05)  # slots free one by one

    instances = camunda.start_many(key, 48)
    with running(worker):
        camunda.wait_finished(instances)
    asked = [json.loads(body)["maxTasks"] for body in transport.fetch_bodies]
    # 48 tasks in batches of 6 to 8 and the poll left waiting at the end (one fetch per
    # one or two freed slots, as before issue 21, took 25)
    assert len(asked) <= 12, asked
    assert sum(asked) / len(asked) >= 5, asked


def test_async_handlers_run_on_the_loop_concurrently(camunda: EngineApi) -> None:
    import asyncio

    topic = unique("async")
    key = camunda.deploy_external_task(topic)
    worker = make_worker(camunda, max_tasks=5)
    active, peak, loop_threads = 0, 0, set()

    @worker.topic(topic)
    async def handle(task: Task) -> dict[str, Any]:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        loop_threads.add(threading.get_ident())
        await asyncio.sleep(0.2)
        active -= 1
        return {"done": True}

    instances = camunda.start_many(key, 10)
    with running(worker):
        camunda.wait_finished(instances)
    assert peak == 5
    assert len(loop_threads) == 1  # all on the event loop's thread


def test_topic_options_filter_and_task_fields(camunda: EngineApi) -> None:
    topic, ext_topic = unique("opts"), unique("ext")
    key = camunda.deploy_external_task(topic)
    ext_key = f"p_{ext_topic}"
    camunda.deploy("extension_properties", process_key=ext_key, topic=ext_topic)
    worker = make_worker(camunda)
    received: dict[str, Task] = {}

    @worker.topic(topic, variables=["wanted"], business_key="order-7", process_definition_key=key)
    def only_order_7(task: Task) -> None:
        received[task.business_key or ""] = task

    @worker.topic(ext_topic, include_extension_properties=True)
    def with_properties(task: Task) -> None:
        received["ext"] = task

    other = camunda.start(key, {"wanted": 1}, business_key="order-8")
    wanted = camunda.start(key, {"wanted": 1, "secret": "x"}, business_key="order-7")
    ext = camunda.start(ext_key)
    with running(worker):
        camunda.wait_finished([wanted, ext])
        time.sleep(1.5)  # more than one long poll: order-8 must still be waiting
    assert camunda.finished([other]) == 0
    task = received["order-7"]
    assert task.variables == {"wanted": 1}  # only the requested variable was fetched
    assert task.process_instance_id == wanted
    assert task.process_definition_key == key
    assert task.activity_id == "work"
    assert task.topic == topic
    assert task.retries is None
    assert task.worker_id.startswith(f"{worker.worker_id}#")  # locked under its poll's id
    assert received["ext"].extension_properties == {"channel": "email", "priority": "high"}
    # order-8 is picked up by a worker without the filter
    plain = make_worker(camunda)
    plain.topic(topic)(lambda task: None)
    with running(plain):
        camunda.wait_finished([other])


def test_local_variables_option_fetches_only_local(camunda: EngineApi) -> None:
    topic = unique("localonly")
    key = camunda.deploy_external_task(topic)
    worker = make_worker(camunda)
    got: list[dict[str, Any]] = []
    worker.topic(topic, local_variables=True)(lambda task: got.append(task.variables))  # type: ignore[func-returns-value]
    instance = camunda.start(key, {"global_one": 1})
    with running(worker):
        camunda.wait_finished([instance])
    assert got == [{}]


def test_tenant_ids_option(camunda: EngineApi) -> None:
    topic = unique("tenant")
    key = camunda.deploy_external_task(topic, tenant_id="tenant-a")
    camunda.deploy_external_task(topic, tenant_id="tenant-b")
    worker = make_worker(camunda)
    tenants: list[str | None] = []
    worker.topic(topic, tenant_ids=["tenant-a"])(lambda task: tenants.append(task.tenant_id))  # type: ignore[func-returns-value]
    a = camunda.start(key, tenant_id="tenant-a")
    b = camunda.start(key, tenant_id="tenant-b")
    with running(worker):
        camunda.wait_finished([a])
        time.sleep(1.5)
    assert tenants == ["tenant-a"]
    assert camunda.finished([b]) == 0
