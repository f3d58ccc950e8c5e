"""The replicas benchmark cannot rot: a few replicas, a few tasks, on the test engine.

A smoke test, never a timed assertion: every run finished its backlog and every count the
table shows was taken at the relay. The counting itself is checked on made-up records.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from benchkit.proxy import Request
from benchkit.replicas import ReplicasResult, count_requests

from tests.bench.test_bench_smoke import require, run_script
from tests.support.engine import REPO, EngineApi


def _fetch(at: float, answered: float | None, asked: int, ids: list[str],
           source: int = 0) -> Request:
    return Request(at, "POST", "/engine-rest/external-task/fetchAndLock", source, asked=asked,
                   status=200 if answered is not None else None, answered_at=answered,
                   task_ids=ids)


def _complete(at: float, task: str, source: int, status: int = 204) -> Request:
    return Request(at, "POST", f"/engine-rest/external-task/{task}/complete", source,
                   status=status, answered_at=at + 0.01)


def test_counts_fetches_conflicts_hand_backs_and_spread_from_the_relay_record() -> None:
    result = ReplicasResult("v", "noop", replicas=2, instances=10)
    result.completed = 10
    requests = [
        _fetch(0.0, 1.0, 4, ["a", "b", "c", "d"], source=0),
        # 2 of 4 while 6 were left and no other fetch was under way: 2 lost to a conflict
        _fetch(0.5, 1.1, 4, ["e", "f"], source=1),
        # 4 asked, 3 given, 1 left after it and another fetch (of 4) still under way: the
        # backlog, not a conflict, may explain it
        _fetch(1.2, 1.5, 4, ["g", "h", "i"], source=0),
        _fetch(1.3, 1.6, 4, ["j", "a"], source=1),  # "a" again: it was handed back
        _fetch(1.7, None, 4, [], source=0),  # the long poll left pending at the end
        Request(1.2, "POST", "/engine-rest/external-task/a/unlock", 0, status=204),
        *[_complete(1.2, t, 0) for t in "bcdghi"],
        *[_complete(1.7, t, 1) for t in "efja"],
        _complete(1.8, "b", 1, status=404),
        _fetch(9.0, 9.1, 4, ["late"], source=1),  # after the end: not counted
    ]
    count_requests(result, requests, until=5.0)
    assert (result.fetches, result.empty_fetches, result.tasks_fetched) == (5, 0, 11)
    assert result.asked == 20
    assert result.short_of_backlog == 2
    assert (result.completes, result.unlocks, result.handed_back) == (10, 1, 1)
    assert result.per_replica == [6, 4]
    assert result.error_answers == {"404 (complete)": 1}
    assert result.per_task(result.fetches) == 0.5


@pytest.mark.engine
@pytest.mark.slow
def test_replicas_runs_ours_and_the_js_client_at_one_and_two_replicas(
        camunda: EngineApi, tmp_path: Path) -> None:
    require("node", "npm")
    out = tmp_path / "replicas.json"
    result = run_script(
        "bench/replicas.py", "--engine-url", camunda.url, "--replicas", "1,2",
        "--instances", "12", "--workloads", "noop", "--async-response-timeout", "1000",
        "--variants", "camunda_workers,js_client", "--json", str(out))
    document = json.loads(out.read_text())
    ran = {(r["variant"], r["replicas"]): r for r in document["results"]}
    assert set(ran) == {(v, k) for v in ("camunda_workers", "js_client") for k in (1, 2)}
    for (variant, replicas), run in ran.items():
        where = f"{variant} x {replicas}"
        assert run["notes"] == [], where
        assert run["completed"] == 12, where
        assert run["completes"] == 12, where
        assert sum(run["per_replica"]) == 12, where
        assert len(run["per_replica"]) == replicas, where
        assert run["tasks_fetched"] >= 12, where
        assert run["fetches"] >= 1, where
        assert run["worker_cpu_ms_per_task"] is not None, where
    table = result.stdout.split("\n\n")[-2]
    header = table.splitlines()[0]
    for column in ("tasks/s", "x K=1", "x JS", "engine CPU ms/task", "fetches/task",
                   "short of backlog", "handed back/task", "spread"):
        assert column in header, column
    assert "no-op / 2 / js_client" in table


def test_replicas_refuses_bad_options() -> None:
    result = subprocess.run([sys.executable, "bench/replicas.py", "--replicas", "1,x"],
                            cwd=REPO, capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert "--replicas: expected numbers like 1,4,12, got '1,x'" in result.stderr


@pytest.mark.engine
@pytest.mark.slow
def test_replicas_runs_on_an_engine_on_postgresql(tmp_path: Path) -> None:
    """`make bench-replicas-postgres`: its own PostgreSQL and engine, both gone after."""
    from tests.support.sessions import postgres_server

    postgres_server()  # skips without PostgreSQL locally, fails in CI
    out = tmp_path / "replicas.json"
    result = run_script(
        "bench/postgres_engine.py", "--", sys.executable, "bench/replicas.py",
        "--replicas", "1", "--instances", "12", "--workloads", "noop",
        "--async-response-timeout", "1000", "--variants", "camunda_workers",
        "--json", str(out))
    assert "on PostgreSQL jdbc:postgresql://127.0.0.1:" in result.stdout
    (run,) = json.loads(out.read_text())["results"]
    assert (run["completed"], run["completes"]) == (12, 12)
    assert run["engine_cpu_ms_per_task"] is not None
    port = result.stdout.split("engine http://127.0.0.1:", 1)[1].split("/", 1)[0]
    assert not (REPO / "engine" / ".run" / f"camunda-{port}.pid").exists()
