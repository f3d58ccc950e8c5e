"""Each worker's load, from the engine's count endpoints: one query set per round for all.

Load = the tasks of the worker's topics that a replica can work on or is working on:
open (unlocked) and locked tasks with retries left, of active instances. Per round:

* ``GET /external-task/topic-names?withRetriesLeft=true``: which topics have such tasks;
* ``GET /external-task/count?topicName=T&withRetriesLeft=true&active=true`` for each
  served topic among them (at rest: one request in all).

The count endpoints take one ``topicName``; ``POST /external-task/count`` ignores a
``topicNameIn`` list without a word (it then counts every topic; checked on Camunda 7.24),
so a topic list cannot fold the counts into one request. Engines before 7.19 have no
topic-names endpoint (404): then every served topic is counted.

Engine trouble never raises: the reading carries the error and no loads, and the caller
keeps the replicas as they are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

__all__ = ["LoadReading", "read_loads"]

_MAX_ANSWER = 1 << 20  # bytes: a count or a list of topic names is far smaller
_WORK = {"withRetriesLeft": "true", "active": "true"}


@dataclass(frozen=True)
class LoadReading:
    """Tasks per worker, or why there are none (``error``); ``requests`` sent."""

    loads: Mapping[str, int] = field(default_factory=dict)
    error: str | None = None
    requests: int = 0


class _Unreadable(Exception):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def _get(engine: httpx.Client, path: str, params: Mapping[str, str]) -> Any:
    """The JSON answer, or :class:`_Unreadable` saying what went wrong (HTTP errors are
    translated here, once)."""
    try:
        with engine.stream("GET", path, params=params) as response:
            body = b""
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > _MAX_ANSWER:
                    raise _Unreadable(f"GET {path}: answer over {_MAX_ANSWER} bytes")
    except httpx.HTTPError as exc:
        raise _Unreadable(f"GET {path}: engine unreachable ({type(exc).__name__}: "
                          f"{' '.join(str(exc).split())[:200]})") from None
    if response.status_code >= 400:
        said = " ".join(body[:200].decode("utf-8", "replace").split())
        raise _Unreadable(f"GET {path}: HTTP {response.status_code}: {said}",
                          response.status_code)
    try:
        return httpx.Response(200, content=body).json()
    except ValueError:
        raise _Unreadable(f"GET {path}: not JSON; is the engine URL the REST root "
                          "(.../engine-rest)?") from None


def read_loads(engine: httpx.Client, topics: Mapping[str, Sequence[str]]) -> LoadReading:
    """The load of each worker (``topics``: worker -> its topics) from ``engine`` (an
    ``httpx.Client`` whose ``base_url`` is the REST root, with its credentials)."""
    requests = 0
    try:
        requests += 1
        try:
            names = _get(engine, "/external-task/topic-names", {"withRetriesLeft": "true"})
        except _Unreadable as exc:
            if exc.status != 404:
                raise
            names = None  # before 7.19: count every topic
        if names is not None and not (isinstance(names, list)
                                      and all(isinstance(n, str) for n in names)):
            raise _Unreadable(f"/external-task/topic-names: not a list of names: "
                              f"{str(names)[:200]}")
        served = {topic for worker_topics in topics.values() for topic in worker_topics}
        counts: dict[str, int] = {}
        for topic in sorted(served):
            if names is not None and topic not in names:
                counts[topic] = 0
                continue
            requests += 1
            body = _get(engine, "/external-task/count", {"topicName": topic, **_WORK})
            count = body.get("count") if isinstance(body, dict) else None
            if not isinstance(count, int) or isinstance(count, bool) or count < 0:
                raise _Unreadable(f"/external-task/count: no count in {str(body)[:200]}")
            counts[topic] = count
    except _Unreadable as exc:
        return LoadReading(error=str(exc), requests=requests)
    return LoadReading({worker: sum(counts[t] for t in worker_topics)
                        for worker, worker_topics in topics.items()}, None, requests)
