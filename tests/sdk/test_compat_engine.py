"""Handlers written for camunda-external-task-client-python3, the way its examples/ write
them, run through camunda_workers.compat against the real engine: only the import of the
worker class differs from a script written for that library."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from camunda.client.external_task_client import ExternalTaskClient
from camunda.external_task.external_task import ExternalTask, TaskResult
from camunda.utils.log_utils import log_with_context

from camunda_workers import Task
from camunda_workers.compat import AsyncExternalTaskWorker, ExternalTaskWorker
from tests.support.engine import REPO, EngineApi, unique, wait_until

pytestmark = pytest.mark.engine

# As that library's examples configure their workers (asyncResponseTimeout shortened).
default_config = {
    "maxTasks": 1,
    "lockDuration": 10000,
    "asyncResponseTimeout": 1000,
    "retries": 3,
    "retryTimeout": 5000,
    "sleepSeconds": 30,
    "isDebug": True,
}


@contextmanager
def subscribed(worker: ExternalTaskWorker, *args: Any, **kwargs: Any) -> Iterator[None]:
    """``worker.subscribe(...)`` (it blocks, as that library's does) in a thread."""
    failed: list[BaseException] = []

    def target() -> None:
        try:
            worker.subscribe(*args, **kwargs)
        except BaseException as error:  # noqa: BLE001 - re-raised in the test's thread
            failed.append(error)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    try:
        yield
    finally:
        worker.stop()
        thread.join(60)
        assert not thread.is_alive(), "the worker did not stop"
        if failed:
            raise failed[0]


def sync_worker(camunda: EngineApi, config: dict[str, Any] | None = None,
                worker_id: str = "1") -> ExternalTaskWorker:
    return ExternalTaskWorker(worker_id=worker_id, base_url=camunda.url,
                              config=config or default_config, environ={})


# -- handlers as that library's examples write them ------------------------------------


def handle_task(task: ExternalTask) -> TaskResult:
    log_context = {"WORKER_ID": task.get_worker_id(), "TASK_ID": task.get_task_id(),
                   "TOPIC": task.get_topic_name()}
    log_with_context(f"handle_task started: business key = {task.get_business_key()}",
                     log_context)
    return task.complete({"success": True, "task_completed_on": str(datetime.now()),
                          "business_key_seen": task.get_business_key(),
                          "order": {"lines": [1, 2], "total": 9.5}})


def validate_image(task: ExternalTask) -> TaskResult:
    img_name = task.get_variable("imgName")
    if "poor" in img_name:
        return task.bpmn_error("POOR_QUALITY_IMAGE", "Image quality is bad",
                               {"img_rejection_code": "POOR_QUALITY_CODE_XX"})
    if "jpg" in img_name:
        return task.complete({"img_approved": True})
    return task.failure("Cannot validate image", "image is corrupted", 0,
                        default_config.get("retryTimeout"))


def test_complete_with_variables_dicts_arrive_as_json(camunda: EngineApi) -> None:
    topic = unique("py3_complete")
    key = camunda.deploy_external_task(topic)
    instance = camunda.start(key, business_key="order-17")
    with subscribed(sync_worker(camunda), topic, handle_task):
        camunda.wait_finished([instance])
    variables = camunda.variables(instance)
    assert variables["success"]["value"] is True
    assert variables["business_key_seen"]["value"] == "order-17"
    # That library sends {"value": {...}} untyped: a Java map. Ours: Json.
    assert variables["order"]["type"] == "Json"
    assert json.loads(variables["order"]["value"]) == {"lines": [1, 2], "total": 9.5}


def test_bpmn_error_complete_and_failure_of_one_handler(camunda: EngineApi) -> None:
    topic = unique("py3_image")
    key = f"p_{topic}"
    camunda.deploy("bpmn_error", process_key=key, topic=topic, error_code="POOR_QUALITY_IMAGE")
    poor, good, corrupt = (camunda.start(key, {"imgName": name})
                           for name in ("poor.png", "good.jpg", "corrupt.png"))
    with subscribed(sync_worker(camunda), topic, validate_image):
        camunda.wait_finished([poor, good])
        incidents = wait_until(lambda: camunda.incidents(corrupt), what="the incident")
    assert "caught" in camunda.activities(poor)
    assert camunda.variables(poor)["img_rejection_code"]["value"] == "POOR_QUALITY_CODE_XX"
    assert "done" in camunda.activities(good)
    assert camunda.variables(good)["img_approved"]["value"] is True
    # failure(..., max_retries=0, ...) on a task without retries: an incident at once
    assert incidents[0]["incidentMessage"] == "Cannot validate image"


def test_failure_counts_retries_down_as_that_library_does(camunda: EngineApi) -> None:
    topic = unique("py3_retry")
    key = camunda.deploy_external_task(topic)
    seen: list[int | None] = []

    def fail_task_handler(task: ExternalTask) -> TaskResult:
        seen.append(task._context.get("retries"))
        return task.failure("task failed", "task failed forced", 3, 10)

    instance = camunda.start(key)
    with subscribed(sync_worker(camunda), topic, fail_task_handler):
        incidents = wait_until(lambda: camunda.incidents(instance), what="the incident")
    # max_retries on the first failure, then the task's retries - 1 down to 0
    assert seen == [None, 3, 2, 1]
    assert incidents[0]["incidentMessage"] == "task failed"


def test_process_variable_filter_business_key_and_a_list_of_topics(camunda: EngineApi) -> None:
    first, second = unique("py3_step1"), unique("py3_step2")
    keys = [camunda.deploy_external_task(topic) for topic in (first, second)]
    wanted = [camunda.start(key, {"strVar": "hello"}, business_key=f"bk-{n}")
              for n, key in enumerate(keys)]
    other = camunda.start(keys[0], {"strVar": "other"})
    with subscribed(sync_worker(camunda), [first, second], handle_task, {"strVar": "hello"}):
        camunda.wait_finished(wanted)
        time.sleep(1.5)  # a poll or more after: the other instance is still not fetched
        assert camunda.external_tasks(processInstanceId=other)[0]["workerId"] is None
    assert [camunda.variables(i)["business_key_seen"]["value"] for i in wanted] == [
        "bk-0", "bk-1"]
    assert camunda.finished([other]) == 0


def test_sync_handlers_run_at_once_with_their_locks_extended(camunda: EngineApi) -> None:
    """maxTasks handlers at once (that library: one after another); a 1 s lock outlived."""
    topic = unique("py3_long")
    key = camunda.deploy_external_task(topic)
    instances = camunda.start_many(key, 3)
    in_flight, most = 0, 0
    lock = threading.Lock()

    def slow(task: ExternalTask) -> TaskResult:
        nonlocal in_flight, most
        with lock:
            in_flight += 1
            most = max(most, in_flight)
        time.sleep(2.5)
        with lock:
            in_flight -= 1
        return task.complete({"slow": True})

    config = {"maxTasks": 3, "lockDuration": 1000, "asyncResponseTimeout": 1000}
    with subscribed(sync_worker(camunda, config), topic, slow):
        wait_until(lambda: most == 3, what="three handlers at once")
        time.sleep(1.5)  # past the 1 s lock of each
        now = datetime.now(UTC)
        for task in camunda.external_tasks(topicName=topic):
            locked_until = datetime.strptime(task["lockExpirationTime"],
                                             "%Y-%m-%dT%H:%M:%S.%f%z")
            assert locked_until > now, "the lock was not extended"
        camunda.wait_finished(instances)
    assert all(camunda.variables(i)["slow"]["value"] is True for i in instances)


def test_the_async_worker_runs_at_once_and_its_stop_drains(camunda: EngineApi) -> None:
    topic = unique("py3_async")
    key = camunda.deploy_external_task(topic)
    instances = camunda.start_many(key, 6, {"n": 2})
    running_at_once: list[int] = []
    in_flight = 0
    stop_now = threading.Event()

    async def handle(task: ExternalTask) -> TaskResult:
        nonlocal in_flight
        in_flight += 1
        running_at_once.append(in_flight)
        if len(running_at_once) == 5:
            stop_now.set()  # two of these five still sleep when the stop comes
        await asyncio.sleep(0.5)
        in_flight -= 1
        return task.complete({"doubled": task.get_variable("n") * 2})

    worker = AsyncExternalTaskWorker(worker_id="async-1", base_url=camunda.url, environ={},
                                     config={"maxConcurrentTasks": 3,
                                             "asyncResponseTimeout": 1000})

    async def main() -> None:
        subscription = asyncio.create_task(worker.subscribe({topic: handle}))
        await asyncio.to_thread(stop_now.wait, 60)
        await worker.stop()  # that library's stop() cancels running handlers
        await subscription

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    thread.join(60)
    assert not thread.is_alive()
    assert max(running_at_once) == 3  # maxConcurrentTasks, not one after another
    assert in_flight == 0  # none cancelled
    done = [i for i in instances if camunda.finished([i])]
    assert len(done) == len(running_at_once) >= 5  # every handler that started reported
    assert all(camunda.variables(i)["doubled"]["value"] == 4 for i in done)


def test_native_handlers_beside_compat_ones_in_one_worker(camunda: EngineApi) -> None:
    old, new = unique("py3_old"), unique("py3_new")
    instances = [camunda.start(camunda.deploy_external_task(topic)) for topic in (old, new)]
    compat = sync_worker(camunda, {"asyncResponseTimeout": 1000})

    @compat.worker.topic(new)
    def moved(task: Task) -> dict[str, Any]:
        return {"handled_by": "native"}

    with subscribed(compat, old, handle_task):
        camunda.wait_finished(instances)
    assert camunda.variables(instances[0])["success"]["value"] is True
    assert camunda.variables(instances[1])["handled_by"]["value"] == "native"


def test_every_getter_returns_what_that_library_returns(camunda: EngineApi) -> None:
    """The same task fetched by that library's own client and by the layer."""
    topic = unique("py3_getters")
    key = f"p_{topic}"
    camunda.deploy("extension_properties", process_key=key, topic=topic)
    instance = camunda.start(key, {"s": "x", "n": 5, "f": 1.5, "flag": True, "none": None},
                             business_key="bk-9", typed={
                                 "j": {"value": json.dumps({"a": [1, 2]}), "type": "Json"},
                                 "untyped": {"value": {"a": 1}},
                                 "d": {"value": "2024-05-01T10:15:30.000+0200", "type": "Date"},
                             })

    def getters(task: ExternalTask) -> dict[str, Any]:
        names = sorted(task.get_variables())
        return {
            "worker_id": task.get_worker_id(), "task_id": task.get_task_id(),
            "process_instance_id": task.get_process_instance_id(),
            "activity_id": task.get_activity_id(), "topic": task.get_topic_name(),
            "tenant_id": task.get_tenant_id(), "business_key": task.get_business_key(),
            "variables": task.get_variables(),
            "variable": {name: task.get_variable(name) for name in [*names, "missing"]},
            "with_meta": {name: task.get_variable(name, with_meta=True) for name in names},
            "extension_properties": task.get_extension_properties(),
            "extension_property": {name: task.get_extension_property(name)
                                   for name in ("channel", "priority", "missing")},
        }

    client = ExternalTaskClient("getters", camunda.url, {"asyncResponseTimeout": 5000})
    theirs = getters(ExternalTask(client.fetch_and_lock(topic)[0]))
    camunda.post(f"/external-task/{theirs['task_id']}/unlock")
    ours: list[dict[str, Any]] = []

    def record(task: ExternalTask) -> TaskResult:
        ours.append(getters(task))
        return task.complete()

    with subscribed(sync_worker(camunda, {"asyncResponseTimeout": 1000}, "getters"),
                    topic, record):
        camunda.wait_finished([instance])
    assert ours == [theirs]
    assert theirs["extension_property"]["channel"] == "email"  # the comparison sees them


Returned = Callable[[ExternalTask], Any]


def returns_none(task: ExternalTask) -> None:
    task.complete({"forgot": "to return it"})


def returns_a_dict(task: ExternalTask) -> dict[str, bool]:
    return {"done": True}


def raises(task: ExternalTask) -> TaskResult:
    raise ValueError("no such customer")


@pytest.mark.parametrize(("handler", "named"), [
    (returns_none, "returned None, not a TaskResult"),
    (returns_a_dict, "returned dict \"{'done': True}\", not a TaskResult"),
    (raises, "raised ValueError: no such customer"),
])
def test_what_that_library_ignores_fails_the_task_down_to_an_incident(
        camunda: EngineApi, handler: Returned, named: str) -> None:
    topic = unique("py3_wrong")
    key = camunda.deploy_external_task(topic)
    calls: list[int | None] = []

    def counted(task: ExternalTask) -> Any:
        calls.append(task._context.get("retries"))
        return handler(task)

    counted.__qualname__ = handler.__name__
    instance = camunda.start(key)
    config = {**default_config, "retries": 2, "retryTimeout": 0}
    with subscribed(sync_worker(camunda, config), topic, counted):
        incidents = wait_until(lambda: camunda.incidents(instance), what="the incident")
    assert calls == [None, 2, 1]  # our retry policy: retries, then down to 0
    message = incidents[0]["incidentMessage"]
    assert message.startswith(f"handler {handler.__name__} of topic '{topic}' "), message
    assert named in message


def test_sigterm_lets_a_running_handler_finish_and_report(camunda: EngineApi,
                                                          tmp_path: Path) -> None:
    """That library's subscribe loops until the process is killed, the task left locked."""
    topic = unique("py3_sigterm")
    key = camunda.deploy_external_task(topic)
    marker = tmp_path / "started"
    env = {**os.environ, "CAMUNDA_URL": camunda.url, "TEST_TOPIC": topic,
           "TEST_MARKER": str(marker), "TEST_SECONDS": "2"}
    process = subprocess.Popen([sys.executable, "-m", "tests.support.compat_app"], cwd=REPO,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        instance = camunda.start(key)
        wait_until(marker.exists, what="the handler to start")
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, output.decode(errors="replace")[-2000:]
    assert camunda.finished([instance]) == 1
    assert camunda.variables(instance)["finished_after_sigterm"]["value"] is True
