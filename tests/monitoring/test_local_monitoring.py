"""``make monitoring``: a real Prometheus scraping a real worker process and the exporter."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.engine import IN_CI, REPO, EngineApi, free_port, unique, wait_until
from tests.tooling.helpers import build_file_tree, run_cli
from workers_tooling import (
    PrometheusApi,
    ToolingError,
    start_local_monitoring,
    stop_local_monitoring,
)

pytestmark = [pytest.mark.engine, pytest.mark.slow]

MAIN = """\
from pathlib import Path
from camunda_workers import Worker

worker = Worker.from_spec(Path(__file__).with_name("worker.json"))
worker.topic("{topic}")(lambda task: None)
worker.run()
"""


@pytest.fixture
def prometheus_binary() -> None:
    if shutil.which("prometheus") is None:
        message = "prometheus not found: apt-get install prometheus"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


def _repo(root: Path, topic: str, port: int) -> Path:
    build_file_tree(root, {
        "workers/probe/worker.json": {"name": "probe", "version": "1.0.0", "port": port,
                                      "topics": [topic]},
        "workers/probe/main.py": MAIN.format(topic=topic),
    })
    shutil.copytree(REPO / "deploy" / "monitoring", root / "deploy" / "monitoring")
    return root


def test_prometheus_scrapes_local_workers_and_the_backlog(
    camunda: EngineApi, prometheus_binary: None, tmp_path: Path,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    topic = unique("local")
    key = camunda.deploy_external_task(topic)
    repo = _repo(tmp_path, topic, free_port())
    port, backlog_port = free_port(), free_port()
    worker = subprocess.Popen(
        [sys.executable, "main.py"], cwd=repo / "workers" / "probe",
        # a 1 s long poll: its SIGTERM at the end need not wait out a 10 s poll
        env={**os.environ, "CAMUNDA_URL": camunda.url, "CAMUNDA_LONG_POLL_MS": "1000"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT)
    try:
        started = start_local_monitoring(repo, engine_url=camunda.url, port=port,
                                         backlog_port=backlog_port)
        assert started.url == f"http://127.0.0.1:{port}"
        assert not started.already_running
        with PrometheusApi(started.url) as prometheus:
            wait_until(lambda: prometheus.value(
                'up{job="camunda-workers", worker="probe", task="local-process"}') == 1,
                timeout=60, interval=1, what="the local worker's target up")
            wait_until(lambda: prometheus.value('up{job="camunda-backlog"}') == 1, timeout=60,
                       interval=1, what="the backlog exporter's target up")
            instances = [camunda.start(key) for _ in range(3)]
            camunda.wait_finished(instances, timeout=60)
            wait_until(lambda: prometheus.value(
                f'sum(camunda_worker_tasks_handled_total{{topic="{topic}"}})') == 3,
                timeout=60, interval=1, what="the three tasks in Prometheus")
            groups = prometheus.rule_groups()  # the same rules as a stack's
            assert {g["name"] for g in groups} == {"camunda-workers.recording",
                                                    "camunda-workers.alerts"}
            with pytest.raises(ToolingError, match=r"/api/v1/query: bad_data: .*parse error"):
                prometheus.query("sum(")
            samples = prometheus.query("camunda_worker_max_tasks")
            assert [s.labels.get("worker") for s in samples] == ["probe"]
            assert "exported_worker" not in samples[0].labels
            wait_until(lambda: prometheus.query(
                f'camunda_external_tasks{{topic="{topic}", state="open"}}'), timeout=60,
                interval=1, what="the topic's backlog series")
        # a second start finds it running and says where
        code, out, _ = run_cli(capsys, "monitoring", "start", "--port", str(port),
                               "--engine-url", camunda.url, "--repo", str(repo))
        assert code == 0
        assert f"Prometheus already running: http://127.0.0.1:{port} (alerts: " in out
        alerts_page = re.search(r"\(alerts: (\S+)\)", out)
        assert alerts_page
        assert "CamundaWorkerDown" in httpx.get(alerts_page[1]).text
        monkeypatch.setenv("COLUMNS", "200")
        code, out, _ = run_cli(capsys, "monitoring-status", "--prometheus", started.url,
                               "--repo", str(repo))
        assert code == 0, out
        assert re.search(r"probe\s+│\s+1\s+│", out), out
    finally:
        stopped = stop_local_monitoring(repo)
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)
    assert stopped == ["prometheus", "backlog"]
    for pid in (started.prometheus_pid, started.backlog_pid):
        assert not Path(f"/proc/{pid}/cmdline").exists() or not Path(
            f"/proc/{pid}/cmdline").read_bytes()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{started.url}/-/ready")
    code, out, _ = run_cli(capsys, "monitoring", "stop", "--repo", str(repo))
    assert (code, out.strip()) == (0, "nothing was running")


def test_clear_errors(tmp_path: Path, prometheus_binary: None,
                     monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    repo = _repo(tmp_path, "t", free_port())
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        with pytest.raises(ToolingError, match=rf"port {busy} is in use; pick another"):
            start_local_monitoring(repo, engine_url="http://127.0.0.1:1/engine-rest",
                                   port=busy, backlog_port=free_port())
    assert stop_local_monitoring(repo) == []  # nothing was started
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ToolingError, match=r"prometheus not found: install it"):
        start_local_monitoring(repo, engine_url="http://127.0.0.1:1/engine-rest")


def test_the_demo_worker_serves_on_its_worker_json_port(camunda: EngineApi) -> None:
    """So that `make monitoring` (which scrapes worker.json ports) sees `make demo`."""
    import json
    import socket
    import threading

    from workers_tooling.local._demo import run_demo

    port = json.loads((REPO / "workers/hello-world/worker.json").read_text())["port"]
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("0.0.0.0", port))
        except OSError:
            if IN_CI:
                raise
            pytest.skip(f"port {port} is taken here (the demo then uses any free port)")
    scraped: list[str] = []
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            with contextlib.suppress(httpx.HTTPError):
                scraped.append(httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=1).text)
            done.wait(0.05)

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        report = run_demo(repo=REPO, engine_url=camunda.url, instances=60)
    finally:
        done.set()
        poller.join()
    assert report.completed == 60
    assert any('worker="hello-world"' in text for text in scraped)
