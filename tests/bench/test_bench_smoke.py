"""The benchmarks cannot rot: each runs every variant for a handful of tasks on the test engine.

These are smoke tests, never timed assertions: they check that every variant ran, that
every figure the tables show was measured, and the counts that do not depend on speed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from benchkit.proxy import CountingProxy
from benchkit.report import COMPAT_PAIRS
from benchkit.variants import VARIANTS, WORKLOADS

from tests.support.engine import IN_CI, REPO, EngineApi, free_port

pytestmark = [pytest.mark.engine, pytest.mark.slow]



def require(*tools: str) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        message = f"the benchmark needs {', '.join(missing)}"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


def run_script(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True,
                            timeout=timeout, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "Traceback" not in result.stdout + result.stderr, result.stderr[-4000:]
    return result


def test_throughput_runs_every_variant_on_both_workloads(camunda: EngineApi,
                                                         tmp_path: Path) -> None:
    require("node", "npm", "java", "mvn")
    out = tmp_path / "bench.json"
    result = run_script(
        "bench/throughput.py", "--engine-url", camunda.url, "--instances", "6",
        "--latency-instances", "3", "--warmup", "0", "--async-response-timeout", "1000",
        "--idle-periods", "1", "--soak-tasks", "30,60", "--soak-instances", "10",
        "--json", str(out))
    document = json.loads(out.read_text())
    ran = {(r["variant"], r["workload"]): r for r in document["results"]}
    expected = {(v, w) for v, variant in VARIANTS.items() for w in variant.workloads}
    assert set(ran) == expected
    for (variant, workload), run in ran.items():
        where = f"{variant} / {workload}"
        assert run["notes"] == [], where
        assert run["completed"] == 6, where
        assert run["handler_calls"] >= 6, where
        assert run["worker_cpu_ms_per_task"] is not None, where
        assert run["latency_samples"] == 3, where
    idle = {r["variant"]: r for r in document["idle"]}
    assert set(idle) == set(VARIANTS)
    assert all(r["requests_per_period"] is not None for r in idle.values()), idle
    # The SDK's promise: an idle worker sends at most one request per long-poll period.
    assert idle["camunda_workers"]["requests_per_period"] <= 1.0
    (soak,) = document["soak"]
    assert soak["variant"] == "camunda_workers"
    assert set(soak["rss_mb"]) == {"30", "60"}
    tables = {block.split("|")[1].strip(): block for block in result.stdout.split("\n\n")
              if block.startswith("| ")}
    table = tables["variant"]  # the main table
    header = table.splitlines()[0]
    for column in ("no-op tasks/s", "50 ms wait tasks/s", "x JS", "x Java", "x raw",
                   "CPU ms/task", "p50 ms", "idle requests/poll", "RSS MB at 30",
                   "RSS growth to 60"):
        assert column in header, column
    assert [line.split("|")[1].strip() for line in table.splitlines()[2:]] == list(VARIANTS)
    # ours through camunda_workers.compat beside that library's workers and our native ones
    compat = tables["compat variant / workload"]
    assert [line.split("|")[1].strip() for line in compat.splitlines()[2:]] == [
        f"{variant} / {WORKLOADS[workload].title}" for variant, _, _ in COMPAT_PAIRS
        for workload in WORKLOADS]
    for line in compat.splitlines()[2:]:
        cells = [cell.strip() for cell in line.split("|")[2:-1]]
        # Six tasks can spend less CPU than one clock tick: a ratio to 0.00 stays "-".
        ratio_undefined = cells[-2] == "0.00" and cells[-1] == "-"
        assert "-" not in (cells[:-1] if ratio_undefined else cells), line


def test_throughput_refuses_unknown_names() -> None:
    result = subprocess.run([sys.executable, "bench/throughput.py", "--variants", "nope"],
                            cwd=REPO, capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert "unknown variant(s) nope; choose from camunda_workers" in result.stderr
    assert set(WORKLOADS) == {"noop", "wait50"}


def test_transport_choice_runs_every_client_codec_loop_and_strategy(camunda: EngineApi,
                                                                     tmp_path: Path) -> None:
    out = tmp_path / "transport.json"
    common = ["bench/transport_choice.py", "--engine-url", camunda.url, "--tasks", "20",
              "--rounds", "1", "--concurrency", "4", "--batch-size", "8", "--warmup", "0"]
    run_script(*common, "--codecs", "json", "--strategies", "", "--json", str(out))
    clients = json.loads(out.read_text())["transports"]
    run_script(*common, "--clients", "aiohttp", "--loops", "asyncio,uvloop",
               "--strategy-stack", "aiohttp,orjson,uvloop", "--json", str(out))
    codecs = json.loads(out.read_text())
    rows = [*clients, *codecs["transports"], *codecs["strategies"]]
    assert {r["spec"]["client"] for r in rows} == {"httpx", "httpcore", "aiohttp", "aiosonic",
                                                   "pyreqwest"}
    assert {r["spec"]["codec"] for r in rows} == {"json", "orjson", "msgspec"}
    assert {r["spec"]["loop"] for r in rows} == {"asyncio", "uvloop"}
    assert {(r["spec"]["strategy"], r["spec"]["wait_ms"]) for r in codecs["strategies"]} == {
        (strategy, wait) for strategy in ("free", "interval", "batch") for wait in (0, 50)}
    for row in rows:
        (sample,) = row["rounds"]
        assert sample["tasks"] == 20, row["label"]
        # 20 tasks: batches of at most 8, or at most 4 free slots per fetch
        least = 3 if row["spec"]["strategy"] == "batch" else 5
        assert sample["fetches"] >= least, row["label"]
        assert row["cpu_us_per_request"] > 0, row["label"]


def test_profile_samples_the_sdk_worker(camunda: EngineApi) -> None:
    result = run_script("bench/profile_sdk.py", "--engine-url", camunda.url, "--tasks", "300",
                        "--instances", "20", "--top", "5")
    assert "camunda_workers: 3" in result.stdout  # "camunda_workers: 3xx no-op tasks in ..."
    for table in ("| package (self time)", "| function (self time)", "| function (total time"):
        assert table in result.stdout
    # The SDK's frames are resolved to its modules (which ones reach the top varies per run).
    assert "(camunda_workers/_" in result.stdout


def test_counting_proxy_finds_every_request_on_a_keep_alive_connection(
        camunda: EngineApi) -> None:
    target = httpx.URL(camunda.url)
    proxy = CountingProxy(target.host, target.port or 80)
    port = proxy.start()
    try:
        body: dict[str, Any] = {"workerId": "proxy-test", "maxTasks": 1,
                                "topics": [{"topicName": "proxy_test", "lockDuration": 1000}]}

        def chunked() -> Any:
            text = json.dumps(body).encode()
            yield text[:10]
            yield text[10:]

        with httpx.Client(base_url=f"http://127.0.0.1:{port}{target.path}") as http:
            for _ in range(3):
                assert http.post("/external-task/fetchAndLock", json=body).json() == []
            response = http.post("/external-task/fetchAndLock", content=chunked(),
                                 headers={"content-type": "application/json"})
            assert response.request.headers["transfer-encoding"] == "chunked"
            assert response.json() == []
            assert http.get("/version").status_code == 200
        records = proxy.snapshot()
    finally:
        proxy.stop()
    seen = [(r.method, r.path.removeprefix(target.path)) for r in records]
    assert seen == [("POST", "/external-task/fetchAndLock")] * 4 + [("GET", "/version")]
    # the answers are followed too: each one paired with its request, a fetch's maxTasks
    # read from its body (also when chunked)
    assert [(r.status, r.asked, r.task_ids) for r in records] == [(200, 1, [])] * 4 + [
        (200, None, [])]


def test_cli_startup_times_every_command_beside_its_peers() -> None:
    result = run_script("bench/cli_startup.py", "--rounds", "1", "--compose-workers", "3",
                        timeout=120)
    for name in ("workers --help", "workers list", "workers discover",
                 "workers compose (no change)", "copier --help"):
        assert name in result.stdout, result.stdout


@pytest.mark.parametrize("script", ["bench/throughput.py", "bench/replicas.py"])
def test_an_engine_that_does_not_answer_is_one_error_line(script: str) -> None:
    url = f"http://127.0.0.1:{free_port()}/engine-rest"  # nothing listens there
    result = subprocess.run([sys.executable, script, "--engine-url", url, "--variants",
                             "camunda_workers"], cwd=REPO, capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"error: engine not reachable at {url}: " in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_callgrind_counts_instructions_per_sdk_task(camunda: EngineApi) -> None:
    require("valgrind")
    result = run_script("bench/callgrind_sdk.py", "--engine-url", camunda.url,
                        "--warm-up", "10", "--short", "10", "--long", "30")
    # "camunda_workers: 700k instructions per no-op task (... for 10 + 10 tasks, ... for 10 + 30)"
    assert "camunda_workers: " in result.stdout
    assert "instructions per no-op task" in result.stdout
    assert result.stdout.rstrip().endswith("for 10 + 30)")
