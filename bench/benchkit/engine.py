"""The few REST calls the benchmarks make themselves: deploy, start, count, clean up."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import httpx

__all__ = ["Engine", "EngineUnreachable", "connect", "gated_bpmn", "loop_bpmn",
           "one_task_bpmn"]

_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
    id="definitions_{key}" targetNamespace="http://camunda.org/examples">
  <bpmn:process id="{key}" name="{key}" isExecutable="true" camunda:historyTimeToLive="1">
"""
_TAIL = """  </bpmn:process>
</bpmn:definitions>
"""

ONE_TASK = _HEAD + """    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="to_task" sourceRef="start" targetRef="task" />
    <bpmn:serviceTask id="task" camunda:type="external" camunda:topic="{topic}" />
    <bpmn:sequenceFlow id="to_end" sourceRef="task" targetRef="end" />
    <bpmn:endEvent id="end" />
""" + _TAIL

# Never ends: every completion creates the next external task of the same instance, so a
# few hundred instances feed a soak of any length without a start request per task.
LOOP = _HEAD + """    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="to_join" sourceRef="start" targetRef="join" />
    <bpmn:exclusiveGateway id="join" />
    <bpmn:sequenceFlow id="to_task" sourceRef="join" targetRef="task" />
    <bpmn:serviceTask id="task" camunda:type="external" camunda:topic="{topic}" />
    <bpmn:sequenceFlow id="again" sourceRef="task" targetRef="join" />
""" + _TAIL


# Instances wait at a message until one correlation releases them all at once: the
# external tasks then appear together, after the workers are up and idle in their polls.
_MESSAGE = '<bpmn:message id="go" name="{key}_go" />\n  <bpmn:process'
GATED = _HEAD.replace("<bpmn:process", _MESSAGE) + """    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="to_gate" sourceRef="start" targetRef="gate" />
    <bpmn:intermediateCatchEvent id="gate"><bpmn:messageEventDefinition messageRef="go" />
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="to_task" sourceRef="gate" targetRef="task" />
    <bpmn:serviceTask id="task" camunda:type="external" camunda:topic="{topic}" />
    <bpmn:sequenceFlow id="to_end" sourceRef="task" targetRef="end" />
    <bpmn:endEvent id="end" />
""" + _TAIL


def gated_bpmn(key: str, topic: str) -> str:
    """start -> message ``<key>_go`` -> external task ``topic`` -> end."""
    return GATED.format(key=key, topic=topic)


def one_task_bpmn(key: str, topic: str) -> str:
    """start -> external task ``topic`` -> end."""
    return ONE_TASK.format(key=key, topic=topic)


def loop_bpmn(key: str, topic: str) -> str:
    """start -> (external task ``topic``)* forever."""
    return LOOP.format(key=key, topic=topic)


class Engine:
    """A keep-alive client for the engine's REST API (``threads`` parallel starts)."""

    def __init__(self, url: str, threads: int = 8) -> None:
        self.url = url.rstrip("/")
        self.threads = threads
        self.http = httpx.Client(
            base_url=self.url,
            timeout=120.0,
            limits=httpx.Limits(max_connections=threads + 2,
                                max_keepalive_connections=threads + 2),
        )

    def close(self) -> None:
        self.http.close()

    def version(self) -> str:
        response = self.http.get("/version")
        response.raise_for_status()
        return str(response.json().get("version", "?"))

    def deploy(self, key: str, bpmn: str, source: str = "bench") -> str:
        response = self.http.post(
            "/deployment/create",
            data={"deployment-name": key, "deployment-source": source},
            files={f"{key}.bpmn": (f"{key}.bpmn", bpmn.encode(), "application/xml")},
        )
        response.raise_for_status()
        return str(response.json()["id"])

    def delete_deployment(self, deployment_id: str) -> None:
        params = {"cascade": "true", "skipCustomListeners": "true", "skipIoMappings": "true"}
        for attempt in range(10):
            response = self.http.delete(f"/deployment/{deployment_id}", params=params)
            # A stopped worker's last completes may still be running in the engine; the
            # delete then loses an optimistic lock and is worth another try.
            if (response.status_code == 500 and "OptimisticLocking" in response.text
                    and attempt < 9):
                time.sleep(0.5)
                continue
            response.raise_for_status()
            return

    def delete_instances(self, key: str) -> int:
        """Delete every instance of ``key`` with its history, one small transaction each.

        A cascading deployment delete of a long soak (50,000 loop iterations) deletes all
        that history in one transaction, which took an in-memory engine with 768 MB of heap
        out of memory.
        """
        params = {"skipCustomListeners": "true", "skipIoMappings": "true"}
        deleted = 0
        while True:
            response = self.http.get("/history/process-instance", params={
                "processDefinitionKey": key, "maxResults": "200"})
            response.raise_for_status()
            ids = [str(row["id"]) for row in response.json()]
            if not ids:
                return deleted

            def delete(instance: str) -> None:
                runtime = self.http.delete(f"/process-instance/{instance}", params=params)
                if runtime.status_code != 404:  # 404: it had ended already
                    runtime.raise_for_status()
                self.http.delete(f"/history/process-instance/{instance}").raise_for_status()

            with ThreadPoolExecutor(self.threads, thread_name_prefix="delete") as pool:
                for _ in pool.map(delete, ids):
                    deleted += 1

    def start(self, key: str, variables: dict[str, Any] | None = None) -> str:
        body = {"variables": variables} if variables else {}
        response = self.http.post(f"/process-definition/key/{key}/start", json=body)
        response.raise_for_status()
        return str(response.json()["id"])

    def start_many(self, key: str, count: int, variables: dict[str, Any] | None = None) -> None:
        with ThreadPoolExecutor(self.threads, thread_name_prefix="start") as pool:
            for _ in pool.map(lambda _: self.start(key, variables), range(count)):
                pass

    def start_paced(self, key: str, count: int, rate: float) -> dict[str, float]:
        """Start ``count`` instances at ``rate`` per second; id -> time the request was sent."""
        sent: dict[str, float] = {}
        begin = time.monotonic()
        for i in range(count):
            delay = begin + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            t_send = time.time()
            sent[self.start(key)] = t_send
        return sent

    def release(self, key: str) -> None:
        """Correlate ``<key>_go`` to every instance of a ``gated_bpmn`` process, in one call."""
        response = self.http.post("/message", json={"messageName": f"{key}_go", "all": True})
        response.raise_for_status()

    def finished(self, key: str) -> int:
        response = self.http.post(
            "/history/process-instance/count",
            json={"processDefinitionKey": key, "finished": True},
        )
        response.raise_for_status()
        return int(response.json()["count"])

    def wait_finished(self, key: str, count: int, *, since: float, deadline: float,
                      alive: Callable[[], bool]) -> tuple[int, float, bool]:
        """Poll until ``count`` instances of ``key`` finished, ``deadline`` passed or
        ``alive()`` turned false: (finished, end time, whether it was cut short). The end
        is the engine's end time of the last instance if it plausibly is ours (same
        machine), else the poll's."""
        while True:
            completed = self.finished(key)
            now = time.time()
            if completed >= count:
                last = self.last_end_time(key)
                return completed, last if last is not None and since < last <= now + 0.05 \
                    else now, False
            if now >= deadline or not alive():
                return completed, now, True
            time.sleep(0.1)

    def last_end_time(self, key: str) -> float | None:
        """The engine's end time of the last finished instance (epoch seconds)."""
        response = self.http.get("/history/process-instance", params={
            "processDefinitionKey": key, "finished": "true", "sortBy": "endTime",
            "sortOrder": "desc", "firstResult": "0", "maxResults": "1",
        })
        response.raise_for_status()
        rows = response.json()
        if not rows or not rows[0].get("endTime"):
            return None
        end = datetime.strptime(rows[0]["endTime"], "%Y-%m-%dT%H:%M:%S.%f%z")
        return end.timestamp()

    def warm_up(self, count: int, batch_size: int = 100) -> None:
        """Exercise start/fetch/complete once so the JIT has compiled them (not measured)."""
        key = f"bench_warmup_{uuid.uuid4().hex[:8]}"
        deployment = self.deploy(key, one_task_bpmn(key, key))
        try:
            self.start_many(key, count)
            fetch = {"workerId": "bench-warmup", "maxTasks": batch_size,
                     "asyncResponseTimeout": 1000,
                     "topics": [{"topicName": key, "lockDuration": 60_000}]}
            done, deadline = 0, time.monotonic() + 120
            while done < count and time.monotonic() < deadline:
                response = self.http.post("/external-task/fetchAndLock", json=fetch)
                response.raise_for_status()
                for task in response.json():
                    self.http.post(f"/external-task/{task['id']}/complete",
                                   json={"workerId": "bench-warmup"}).raise_for_status()
                    done += 1
        finally:
            self.delete_deployment(deployment)


class EngineUnreachable(RuntimeError):
    """The engine did not answer ``GET /version``: there is nothing to measure."""


def connect(url: str) -> tuple[Engine, str]:
    """A client of the engine at ``url`` and the engine's version, or EngineUnreachable."""
    engine = Engine(url)
    try:
        return engine, engine.version()
    except httpx.HTTPError as error:
        engine.close()
        raise EngineUnreachable(f"engine not reachable at {engine.url}: {error}") from None
