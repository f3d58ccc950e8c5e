"""Answers the worker does not trust: one larger than its cap (a 200 MiB fetch, a File
variable over it), and a task of a topic it never asked for. A proxy in front of the real
engine gives what the engine cannot be made to give; the rest is the engine's."""

from __future__ import annotations

import base64
import json
import logging
import time
from pathlib import Path

import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry

from camunda_workers import Task
from camunda_workers._settings import DEFAULT_MAX_ANSWER_BYTES
from tests.support.engine import EngineApi, unique, wait_until
from tests.support.proxy import Forward, HttpProxy
from tests.support.running import make_worker, running, spawn_worker

pytestmark = pytest.mark.engine

MIB = 2**20


def _peak_rss(pid: int) -> int:
    """The process' peak resident memory so far, bytes (VmHWM: the kernel keeps it)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


@pytest.mark.slow
def test_a_200_mib_answer_is_not_read_its_tasks_are_unlocked_and_the_worker_goes_on(
        camunda: EngineApi, tmp_path: Path) -> None:
    topic = unique("huge")
    key = camunda.deploy_external_task(topic)
    huge_answers = {"to_give": 0, "given": 0, "bytes_sent": 0}
    block = b" " * MIB

    async def sometimes_200_mib(request: web.Request, body: bytes,
                                forward: Forward) -> web.StreamResponse | None:
        if not request.path.endswith("/fetchAndLock"):
            return None
        status, content = await forward(body)  # the engine locks what it finds
        if status != 200 or content == b"[]" or huge_answers["to_give"] == 0:
            return web.Response(status=status, body=content, content_type="application/json")
        huge_answers["to_give"] -= 1
        answer = web.StreamResponse(headers={"Content-Type": "application/json"})
        await answer.prepare(request)  # no Content-Length: chunked, counted as it comes
        try:
            for _ in range(200):
                await answer.write(block)
                huge_answers["bytes_sent"] += len(block)
        except ConnectionError:
            pass  # the worker hung up
        huge_answers["given"] += 1
        return answer

    log = tmp_path / "worker.log"
    with HttpProxy(camunda.url, sometimes_200_mib) as proxy:
        worker = spawn_worker({"CAMUNDA_URL": proxy.url, "TEST_TOPIC": topic,
                               "TEST_ASYNC_RESPONSE_TIMEOUT": "1000", "TEST_BACKOFF_MAX": "1"},
                              log_path=str(log))
        try:
            camunda.wait_finished([camunda.start(key)], timeout=60)
            before = _peak_rss(worker.pid)
            huge_answers["to_give"] = 2
            # Its task reaches the worker in a 200 MiB answer, twice: each time the worker
            # unlocks what the engine locked for that poll (its lock is 60 s), so the
            # third poll gets it in an answer of the usual size.
            second = camunda.start(key)
            camunda.wait_finished([second], timeout=40)
            assert huge_answers["given"] == 2
            peak = _peak_rss(worker.pid)
            assert worker.poll() is None
        finally:
            worker.terminate()
            assert worker.wait(30) == 0
    text = log.read_text()
    print(f"\n[answer cap] peak RSS {before / MIB:.0f} MiB before, {peak / MIB:.0f} MiB after "
          f"two 200 MiB answers (cap {DEFAULT_MAX_ANSWER_BYTES // MIB} MiB); the proxy got "
          f"{huge_answers['bytes_sent'] / MIB:.0f} MiB out before the worker hung up")
    assert peak - before < DEFAULT_MAX_ANSWER_BYTES + 32 * MIB
    assert huge_answers["bytes_sent"] < 2 * 150 * MIB  # hung up early (socket buffers aside)
    cap_lines = [line for line in text.splitlines()
                 if f"larger than max_answer_bytes ({DEFAULT_MAX_ANSWER_BYTES} bytes)" in line]
    assert len(cap_lines) == 1  # once, not per answer
    assert " ERROR " in cap_lines[0]
    assert "raise CAMUNDA_MAX_ANSWER_BYTES" in text
    assert "Traceback" not in text


def test_a_file_variable_over_the_cap_fails_its_task_naming_it(camunda: EngineApi) -> None:
    topic = unique("bigfile")
    key = camunda.deploy_external_task(topic)
    worker = make_worker(camunda, retries=0, max_answer_bytes=64 * 1024)
    sizes: list[int] = []

    @worker.topic(topic)
    def handle(task: Task) -> None:
        sizes.append(len(task.variables["doc"].content))

    def file_of(size: int) -> dict[str, object]:
        return {"doc": {"type": "File", "value": base64.b64encode(b"x" * size).decode(),
                        "valueInfo": {"filename": "doc.bin"}}}

    small = camunda.start(key, typed=file_of(60 * 1024))
    large = camunda.start(key, typed=file_of(100 * 1024))
    with running(worker):
        camunda.wait_finished([small])
        incident = wait_until(lambda: camunda.incidents(large), what="an incident")[0]
    assert sizes == [60 * 1024]  # the handler never saw the large one
    message = incident["incidentMessage"]
    assert message.startswith("VariableDecodeError: variable 'doc' (File) cannot be decoded: "
                              "content not loaded: answer"), message
    assert "larger than max_answer_bytes (65536 bytes)" in message


def test_a_task_of_a_topic_never_asked_for_is_unlocked_and_counted(
        camunda: EngineApi, caplog: pytest.LogCaptureFixture) -> None:
    """The proxy adds another topic to the worker's first fetch, so that the real engine
    locks a real task of it for the worker (for 10 minutes): the worker must unlock it."""
    ours, theirs = unique("ours"), unique("theirs")
    our_key, their_key = camunda.deploy_external_task(ours), camunda.deploy_external_task(theirs)
    stray = camunda.start(their_key)
    mine = camunda.start(our_key)
    injected: list[str] = []

    async def ask_for_their_topic_once(request: web.Request, body: bytes,
                                       forward: Forward) -> web.StreamResponse | None:
        if not request.path.endswith("/fetchAndLock") or injected:
            return None
        fetch = json.loads(body)
        fetch["topics"].append({"topicName": theirs, "lockDuration": 600_000})
        status, content = await forward(json.dumps(fetch).encode())
        injected.extend(task["id"] for task in json.loads(content)
                        if task["topicName"] == theirs)
        return web.Response(status=status, body=content, content_type="application/json")

    registry = CollectorRegistry()
    caplog.set_level(logging.WARNING, logger="camunda_workers")
    with HttpProxy(camunda.url, ask_for_their_topic_once) as proxy:
        worker = make_worker(camunda, base_url=proxy.url, registry=registry, max_tasks=5)
        worker.topic(ours)(lambda task: {"done": True})
        with running(worker):
            camunda.wait_finished([mine])
            assert injected, "the engine locked no task of the other topic"
            wait_until(lambda: camunda.get(f"/external-task/{injected[0]}")["workerId"] is None,
                       timeout=10, what="the stray task to be unlocked")
            time.sleep(0.5)  # more polls: nothing else happens to it
    stray_task = camunda.get(f"/external-task/{injected[0]}")
    assert stray_task["processInstanceId"] == stray
    assert (stray_task["lockExpirationTime"], stray_task["retries"]) == (None, None)
    assert camunda.incidents(stray) == []
    assert registry.get_sample_value("camunda_worker_tasks_not_subscribed_total",
                                     {"worker": "test-worker"}) == 1
    warnings = [r.getMessage() for r in caplog.records if "did not ask for" in r.getMessage()]
    assert warnings == [f"the engine's answer held 1 task(s) of topic(s) this worker did not "
                        f"ask for ('{theirs}'): unlocking them"]
