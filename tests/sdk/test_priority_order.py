"""``use_priority``: the engine's priority order costs it a sort of the backlog per fetch and
makes concurrent fetches of many replicas take the same tasks (bench/README.md, replicas.py).
By default ("auto") a worker asks without it until it fetches a task with a priority."""

from __future__ import annotations

import json
import logging
import threading

import pytest
from aiohttp import web

from camunda_workers import Task, Worker
from tests.support.engine import EngineApi, unique, wait_until
from tests.support.proxy import Forward, HttpProxy
from tests.support.running import CountingTransport, make_worker, running

pytestmark = pytest.mark.engine


def _use_priority_sent(transport: CountingTransport) -> list[bool]:
    return [json.loads(body)["usePriority"] for body in transport.fetch_bodies]


def _set_priority(camunda: EngineApi, instance: str, priority: int) -> None:
    task = camunda.external_tasks(processInstanceId=instance)[0]
    camunda.http.put(f"/external-task/{task['id']}/priority",
                     json={"priority": priority}).raise_for_status()


def test_by_default_no_priority_order_while_no_task_has_a_priority(camunda: EngineApi) -> None:
    topic = unique("no_prio")
    key = camunda.deploy_external_task(topic)
    instances = camunda.start_many(key, 6)
    transport = CountingTransport()
    worker = make_worker(camunda, max_tasks=2, transport=transport)
    assert worker.settings.use_priority == "auto"
    worker.topic(topic)(lambda task: None)
    with running(worker):
        camunda.wait_finished(instances)
    sent = _use_priority_sent(transport)
    assert sent, "no fetch"
    assert not any(sent), sent


def test_by_default_the_priority_order_from_the_first_task_with_a_priority(
        camunda: EngineApi, caplog: pytest.LogCaptureFixture) -> None:
    topic = unique("prio")
    key = camunda.deploy_external_task(topic)
    first = camunda.start(key)
    _set_priority(camunda, first, 7)  # the only task when the worker starts
    transport = CountingTransport()
    worker = make_worker(camunda, max_tasks=1, transport=transport)
    handled: list[str] = []
    gate = threading.Event()

    @worker.topic(topic)
    def work(task: Task) -> None:
        handled.append(task.process_instance_id or "")
        assert gate.wait(30)

    caplog.set_level(logging.INFO, logger="camunda_workers")
    with running(worker):
        wait_until(lambda: handled == [first], timeout=20, what="the first task")
        # While the one slot is busy the worker fetches nothing: three tasks wait.
        low = [camunda.start(key), camunda.start(key)]
        urgent = camunda.start(key)
        _set_priority(camunda, urgent, 9)
        gate.set()
        camunda.wait_finished([first, *low, urgent])
    assert handled[:2] == [first, urgent], "the urgent task was not served first"
    sent = _use_priority_sent(transport)
    assert sent[0] is False
    assert all(sent[1:]), sent
    switched = [r.getMessage() for r in caplog.records if "priority order" in r.getMessage()]
    assert switched == [f"fetched a task of topic {topic!r} with priority 7: fetching in the "
                        "engine's priority order from now on"]


@pytest.mark.parametrize("use_priority", [True, False])
def test_a_set_use_priority_is_sent_as_it_is(camunda: EngineApi, use_priority: bool) -> None:
    topic = unique("prio_set")
    key = camunda.deploy_external_task(topic)
    instances = [camunda.start(key) for _ in range(3)]
    _set_priority(camunda, instances[0], 5)
    transport = CountingTransport()
    worker = make_worker(camunda, max_tasks=1, transport=transport, use_priority=use_priority)
    worker.topic(topic)(lambda task: None)
    with running(worker):
        camunda.wait_finished(instances)
    sent = _use_priority_sent(transport)
    assert set(sent) == {use_priority}, sent


def test_use_priority_takes_true_false_or_auto() -> None:
    with pytest.raises(ValueError, match="use_priority"):
        Worker(name="w", environ={}, use_priority="sometimes")  # type: ignore[arg-type]


def test_a_priority_that_is_not_a_number_changes_nothing(
        camunda: EngineApi, caplog: pytest.LogCaptureFixture) -> None:
    """An answer (a proxy's, a broken engine's) whose priorities are a 1 MiB string, true or
    a fraction: the worker keeps fetching without the order, and logs none of it."""
    topic = unique("prio_junk")
    key = camunda.deploy_external_task(topic)
    instances = [camunda.start(key) for _ in range(3)]
    junk = iter(["9" * 2**20, True, 7.5])

    async def junk_priorities(request: web.Request, body: bytes,
                              forward: Forward) -> web.StreamResponse | None:
        if not request.path.endswith("/fetchAndLock"):
            return None
        status, content = await forward(body)
        tasks = json.loads(content) if status == 200 else []
        for task in tasks:
            task["priority"] = next(junk, 0)
        return web.Response(status=status, body=json.dumps(tasks).encode() if tasks
                            else content, content_type="application/json")

    transport = CountingTransport()
    caplog.set_level(logging.INFO, logger="camunda_workers")
    with HttpProxy(camunda.url, junk_priorities) as proxy:
        worker = make_worker(camunda, base_url=proxy.url, max_tasks=1, transport=transport)
        worker.topic(topic)(lambda task: None)
        with running(worker):
            camunda.wait_finished(instances)
    sent = _use_priority_sent(transport)
    assert sent, "no fetch"
    assert not any(sent), sent
    assert not [r for r in caplog.records if "priority order" in r.getMessage()]
