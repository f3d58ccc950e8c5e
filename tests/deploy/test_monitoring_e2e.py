"""Monitoring end to end on a real Swarm: the stack's Prometheus, its alerts and the backlog.

The stack (``workers deploy --monitoring``) runs Prometheus as a service on the workers'
overlay network (as nobody, its port not published: the test reaches it where
``workers prometheus-url`` says), the socket proxy it reads the Swarm through, the backlog
exporter, the engine and the workers, hello-world with 3 replicas. The engine asks for
basic auth; the workers and the exporter read the credentials from Docker secrets
(worker.json ``secrets``), whose value appears in no inspect output and no stack file.
What Prometheus saw goes to stdout (-s).
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.dashboard import AUTOSCALER_SERIES, dashboard_queries, without_data
from tests.support.docker import (
    PROMETHEUS_BASE,
    PYTHON_BASE,
    copy_repo,
    hand_edit_engine,
    remove_stack,
    stack_database,
)
from tests.support.docker import run as _run
from tests.support.engine import EngineApi, free_port, wait_until
from workers_tooling import (
    PrometheusApi,
    ToolingError,
    compose_stack,
    deploy,
    prometheus_url,
    scale,
    service_logs,
    stack_status,
)
from workers_tooling.cli import main

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(1200)]

STACK = "cw-mon"
STEP = 15  # the scrape and evaluation interval of deploy/monitoring/prometheus.yml
COMPLETED = 'camunda_worker_tasks_handled_total{worker="hello-world", outcome="completed"}'
# Docker secrets (cluster-wide names: worker.json names them, CAMUNDA_*_FILE follow).
SECRETS = ("camunda_user", "camunda_password")


@dataclass
class Monitored:
    repo: Path
    api: EngineApi
    prometheus: PrometheusApi
    password: str
    rendered: Path
    loaded_at: float = 0.0  # a time when the dashboard's queries all have data


def _create_secrets(password: str) -> None:
    """What the README tells an operator to do: ``docker secret create NAME -``."""
    _remove_secrets()
    for name, value in zip(SECRETS, ("demo", password), strict=True):
        subprocess.run(["docker", "secret", "create", name, "-"], input=value, text=True,
                       check=True, capture_output=True)


def _remove_secrets() -> None:
    for name in SECRETS:
        subprocess.run(["docker", "secret", "rm", name], check=False, capture_output=True)


def _with_auth(stack_file: Path) -> None:
    """The engine service asks for basic auth; its admin password is the same Docker secret,
    read by Spring Boot's configtree import (a file per property)."""
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.preserve_quotes = True
    data = yaml.load(stack_file.read_text())
    engine = data["services"]["camunda"]
    engine["environment"].update({"ENGINE_AUTH": "basic",
                                  "SPRING_CONFIG_IMPORT": "optional:configtree:/run/secrets/"})
    engine["secrets"].append({"source": "camunda_password", "target": "engine.admin.password"})
    with stack_file.open("w") as out:
        yaml.dump(data, out)


@pytest.fixture(scope="module")
def monitored(tmp_path_factory: pytest.TempPathFactory,
              swarm_engine_image: str) -> Iterator[Monitored]:
    repo = copy_repo(tmp_path_factory.mktemp("monitoring") / "repo")
    for worker, replicas in (("hello-world", 3), ("publicacao", 1)):
        spec_path = repo / "workers" / worker / "worker.json"
        spec = json.loads(spec_path.read_text())
        spec_path.write_text(json.dumps({**spec, "replicas": replicas, "secrets": list(SECRETS)},
                                        indent=2))
    stack_file = repo / "docker-compose.swarm.yml"
    stack_file.unlink()  # from the seed, as a new project would
    compose_stack(repo, stack_file=stack_file, environment="local", monitoring=True)
    engine_port = free_port()
    hand_edit_engine(stack_file, engine_port)
    _with_auth(stack_file)
    password = uuid.uuid4().hex
    _create_secrets(password)
    database = stack_database(STACK)  # the engine's PostgreSQL: its secret, the node label
    api = EngineApi(f"http://127.0.0.1:{engine_port}/engine-rest", auth=("demo", password))
    prometheus: PrometheusApi | None = None
    try:
        with pytest.MonkeyPatch.context() as env:
            for name, value in {**database.environ, "ENGINE_IMAGE": swarm_engine_image,
                                "PROMETHEUS_BASE_IMAGE": PROMETHEUS_BASE}.items():
                env.setenv(name, value)
            env.delenv("MONITORING_PORT", raising=False)
            result = deploy(repo, stack=STACK, stack_file=stack_file, environment="local",
                            base_image=PYTHON_BASE)
            assert result.monitoring
            assert not result.monitoring_published
            wait_until(api.answers, timeout=300, interval=2, what="the engine service")
            for bpmn in ("hello_world.bpmn", "publicacao.bpmn"):
                files = {bpmn: (bpmn, (repo / "processes" / bpmn).read_bytes(),
                                "application/xml")}
                response = api.http.post("/deployment/create", files=files,
                                         data={"deployment-name": bpmn})
                assert response.status_code == 200, response.text
            prometheus = PrometheusApi(wait_until(_prometheus_url, timeout=120, interval=2,
                                                  what="the Prometheus container"))
            wait_until(lambda: _ready(prometheus), timeout=120, interval=2, what="Prometheus")
            yield Monitored(repo, api, prometheus, password, result.rendered)
    finally:
        if prometheus is not None:
            prometheus.close()
        api.close()
        remove_stack(STACK)
        database.remove()
        # the stack's Prometheus data volume (named after the stack), once no container uses it
        wait_until(_volume_removed, timeout=60, interval=2, what="the data volume to go")
        wait_until(_secrets_removed, timeout=60, interval=2, what="the secrets to go")


def _secrets_removed() -> bool:
    _remove_secrets()
    listed = _run("docker", "secret", "ls", "--format", "{{.Name}}").split()
    return not set(SECRETS) & set(listed)


def _prometheus_url() -> str | None:
    try:
        return prometheus_url(stack=STACK)
    except ToolingError:
        return None  # no container yet


def _volume_removed() -> bool:
    try:
        _run("docker", "volume", "rm", "-f", f"{STACK}_monitoring-data")
    except RuntimeError:
        return False  # still in use by the stopping container
    return True


def _ready(prometheus: PrometheusApi) -> bool:
    try:
        return httpx.get(f"{prometheus.url}/-/ready", timeout=3).status_code == 200
    except httpx.HTTPError:
        return False


def _worker_targets(prometheus: PrometheusApi, worker: str) -> list[dict[str, Any]]:
    return [t for t in prometheus.targets()
            if t["labels"].get("job") == "camunda-workers" and t["labels"].get("worker") == worker]


def _start(api: EngineApi, count: int, prefix: str) -> list[str]:
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda n: api.start("hello_world", {"name": f"{prefix}{n}"}),
                             range(count)))


def _running(worker: str) -> int:
    return next(s for s in stack_status(STACK) if s.worker == worker).running


def _containers_running(worker: str) -> int:
    """Tasks whose container still runs, those told to shut down included: a replica that
    drains after `scale 0` still polls until its SIGTERM (stack_status counts only the
    tasks meant to run)."""
    states = _run("docker", "service", "ps", "--format", "{{.CurrentState}}",
                  f"{STACK}_{worker}")
    return sum(1 for state in states.splitlines() if state.startswith("Running"))


def _aligned(at: float) -> float:
    """The next multiple of STEP seconds (subquery steps fall on multiples of STEP)."""
    return math.ceil(at / STEP) * STEP


def _container(service: str) -> str:
    return _run("docker", "ps", "-q", "--filter",
                f"label=com.docker.swarm.service.name={STACK}_{service}").split()[0]


def test_prometheus_runs_as_nobody_unpublished_without_the_docker_socket(
        monitored: Monitored) -> None:
    service = json.loads(_run("docker", "service", "inspect", f"{STACK}_monitoring"))[0]
    assert not service["Endpoint"].get("Ports")
    assert not service["Spec"].get("EndpointSpec", {}).get("Ports")
    container = _container("monitoring")
    processes = _run("docker", "top", container, "-o", "pid,uid,comm").split("\n")[1:]
    assert [line.split()[1:] for line in processes if line.strip()] == [["65534", "prometheus"]]
    mounts = json.loads(_run("docker", "inspect", container))[0]["Mounts"]
    assert [m["Destination"] for m in mounts] == ["/prometheus"]
    # the socket proxy alone has the socket, and it refuses what Prometheus should never do
    proxy = _container("socket-proxy")
    mounts = json.loads(_run("docker", "inspect", proxy))[0]["Mounts"]
    assert [m["Destination"] for m in mounts] == ["/var/run/docker.sock"]
    proxy_service = json.loads(_run("docker", "service", "inspect", f"{STACK}_socket-proxy"))[0]
    assert not proxy_service["Endpoint"].get("Ports")
    asked = _run("docker", "exec", proxy, "python", "-c", (
        "import urllib.request as r, urllib.error as e\n"
        "for method, path in (('POST', '/v1.41/networks/create'), ('GET', '/v1.41/secrets'),"
        " ('GET', '/v1.41/tasks')):\n"
        "    try:\n"
        "        code = r.urlopen(r.Request('http://127.0.0.1:2375' + path, method=method,"
        " data=b'{}' if method == 'POST' else None), timeout=10).status\n"
        "    except e.HTTPError as exc:\n"
        "        code = exc.code\n"
        "    print(method, path, code)\n"))
    assert asked.split("\n")[:3] == ["POST /v1.41/networks/create 403",
                                     "GET /v1.41/secrets 403", "GET /v1.41/tasks 200"]
    print(f"\n[monitoring] Prometheus at {monitored.prometheus.url} (unpublished), uid 65534; "
          "socket proxy: POST 403, secrets 403, tasks 200")


def test_the_secrets_reach_the_workers_as_files_and_nowhere_else(monitored: Monitored) -> None:
    """worker.json `secrets` -> Docker secret -> /run/secrets/NAME -> CAMUNDA_*_FILE: the
    workers (and the backlog exporter) authenticate with it against an engine that asks."""
    password = monitored.password
    assert monitored.api.http.get("/engine").status_code == 200
    denied = httpx.get(f"{monitored.api.url}/process-definition/count", timeout=10)
    assert denied.status_code == 401  # the engine asks for credentials
    worker = _container("hello-world")
    assert _run("docker", "exec", worker, "cat", "/run/secrets/camunda_password") == password
    spec = json.loads(_run("docker", "service", "inspect", f"{STACK}_hello-world"))[0]
    environment = spec["Spec"]["TaskTemplate"]["ContainerSpec"]["Env"]
    assert "CAMUNDA_PASSWORD_FILE=/run/secrets/camunda_password" in environment
    assert "CAMUNDA_USER_FILE=/run/secrets/camunda_user" in environment
    services = _run("docker", "service", "ls", "-q", "--filter",
                    f"label=com.docker.stack.namespace={STACK}").split()
    inspected = _run("docker", "service", "inspect", *services)
    assert "camunda_password" in inspected
    assert password not in inspected
    for stack_file in (monitored.repo / "docker-compose.swarm.yml", monitored.rendered):
        assert password not in stack_file.read_text()
    containers = _run("docker", "ps", "-q", "--filter",
                      f"label=com.docker.stack.namespace={STACK}").split()
    assert password not in _run("docker", "inspect", *containers)
    print(f"[monitoring] secrets: the password is in /run/secrets/camunda_password of the "
          f"workers, in none of {len(services)} services' inspect, {len(containers)} "
          "containers' inspect, the stack file or the rendered file")


def test_prometheus_finds_each_replica_over_the_overlay(monitored: Monitored) -> None:
    prometheus = monitored.prometheus

    def three_up() -> list[dict[str, Any]] | None:
        targets = _worker_targets(prometheus, "hello-world")
        return targets if len(targets) == 3 and all(
            t["health"] == "up" for t in targets) else None

    targets = wait_until(three_up, timeout=180, interval=3, what="3 hello-world targets up")
    for target in targets:
        labels = target["labels"]
        assert labels["service"] == f"{STACK}_hello-world"
        assert labels["stack"] == STACK
        assert labels["node"]
        assert re.fullmatch(rf"{STACK}_hello-world\.[123]\.\w+", labels["task"])
        # the task's own address on the overlay, not a published port
        assert re.fullmatch(r"http://10\.\d+\.\d+\.\d+:8001/metrics", target["scrapeUrl"])
    assert len({t["labels"]["task"] for t in targets}) == 3
    assert len({t["scrapeUrl"] for t in targets}) == 3
    wait_until(lambda: len(_worker_targets(prometheus, "publicacao")) == 1
               and _worker_targets(prometheus, "publicacao")[0]["health"] == "up", timeout=60)
    backlog = wait_until(lambda: [t for t in prometheus.targets()
                                  if t["labels"].get("job") == "camunda-backlog"
                                  and t["health"] == "up"], timeout=120, interval=3)
    assert len(backlog) == 1
    service = json.loads(_run("docker", "service", "inspect", f"{STACK}_hello-world"))[0]
    assert not service["Endpoint"].get("Ports")  # the worker's port is not published
    print(f"\n[monitoring] targets: {len(targets)} hello-world up "
          f"({', '.join(t['scrapeUrl'] for t in targets)}), publicacao 1, backlog 1")


def test_completed_tasks_in_prometheus_equal_the_engines_count(monitored: Monitored) -> None:
    api, prometheus = monitored.api, monitored.prometheus
    # every replica's counter has a sample (the SDK starts it at 0) before the window opens
    wait_until(lambda: len(prometheus.query(COMPLETED)) == 3, timeout=120, interval=3,
               what="a completed counter from each replica")
    # and each one polls (not backing off from the engine's start), so that all three work
    wait_until(lambda: prometheus.value(
        'count(camunda_worker_ready{worker="hello-world"} == 1)') == 3, timeout=120,
        interval=3, what="every replica ready")
    opened = _aligned(time.time() + STEP)
    time.sleep(opened + 1 - time.time())
    instances = _start(api, 300, "counted-")
    api.wait_finished(instances, timeout=300)
    finished = api.post("/history/process-instance/count",
                        {"processDefinitionKey": "hello_world", "finished": True})["count"]
    assert finished == 300
    wait_until(lambda: prometheus.value(f"sum({COMPLETED})") == 300, timeout=120, interval=3,
               what="the last scrape of each replica to see its tasks")
    # Two scrapes at least in the window: a raw increase() needs two samples of a series, and
    # on a quiet machine the 300 tasks can finish within one scrape interval.
    closed = max(_aligned(time.time()), opened + 2 * STEP)
    time.sleep(closed + 1 - time.time())
    window = int(closed - opened)
    # A subquery at steps aligned to the window: increase() then needs no extrapolation.
    counted = prometheus.query(f"sum(increase({COMPLETED}[{window}s:{STEP}s]))", at=closed)
    raw = prometheus.query(f"sum(increase({COMPLETED}[{window}s]))", at=closed)
    per_replica = prometheus.query(f"increase({COMPLETED}[{window}s:{STEP}s])", at=closed)
    raw_shown = f"{raw[0].value:.1f}" if raw else "no data"
    print(f"[monitoring] engine: {finished} finished; Prometheus over {window}s: "
          f"sum(increase(...[{window}s:{STEP}s])) = {counted[0].value if counted else None}, "
          f"raw sum(increase(...[{window}s])) = {raw_shown} (extrapolated); "
          f"per replica {sorted(round(s.value) for s in per_replica)}")
    assert counted, "no data for the counted increase"
    assert counted[0].value == finished
    monitored.loaded_at = closed
    idle = [s.labels["task"] for s in per_replica if s.value == 0]
    assert not idle, f"replicas that handled nothing: {idle}\n" + _diagnose(prometheus, idle)


def _diagnose(prometheus: PrometheusApi, tasks: list[str]) -> str:
    """What the replicas' metrics and the idle ones' logs say."""
    lines = []
    for metric in ("camunda_worker_fetch_requests_total", "camunda_worker_engine_errors_total",
                   "camunda_worker_ready", "camunda_worker_alive",
                   "camunda_worker_tasks_fetched_total"):
        for sample in prometheus.query(f'{metric}{{worker="hello-world"}}'):
            if sample.value or sample.labels.get("task") in tasks:
                shown = {k: v for k, v in sample.labels.items() if k in ("task", "outcome", "kind")}
                lines.append(f"  {metric} {shown} = {sample.value:g}")
    logs = list(service_logs("hello-world", stack=STACK, tail=100))
    lines += [f"  {line}" for line in logs if line.startswith(tuple(tasks))][-40:]
    return "\n".join(lines)


def test_every_dashboard_query_returns_data(monitored: Monitored) -> None:
    """Each panel's query, and each variable's, evaluated at the end of the load."""
    assert monitored.loaded_at, "runs after the load test"
    queries = dashboard_queries()
    # The autoscaler's panels need the autoscaler (`--autoscale`), which this stack does not
    # run: they are checked where it runs (tests/deploy/test_cluster_autoscale.py).
    autoscaler = [query for query in queries if AUTOSCALER_SERIES in query[1]]
    assert autoscaler, "the dashboard has its autoscaler panels"
    queries = [query for query in queries if query not in autoscaler]
    empty = without_data(monitored.prometheus, queries, monitored.loaded_at)
    assert not empty, "queries without data:\n" + "\n".join(empty)
    print(f"[monitoring] dashboard: {len(queries)} queries, all with data")


def test_monitoring_status_from_prometheus_and_from_each_replica(
    monitored: Monitored, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    repo = str(monitored.repo)
    # the exporter counts every 30 s: wait until it has seen the load drain
    wait_until(lambda: monitored.prometheus.value(
        f'sum(camunda_backlog:external_tasks:max{{topic="say_hello", stack="{STACK}"}})') == 0,
        timeout=120, interval=3, what="the backlog of say_hello to read 0")
    assert main(["monitoring-status", "--prometheus", monitored.prometheus.url,
                 "--stack", STACK, "--repo", repo]) == 0
    shown = capsys.readouterr().out
    # replicas up, tasks/s, failed, open, locked, incidents, alerts
    row = r"\s+│\s+".join(["hello-world", "3", r"\d+\.\d\d", r"(0\.0%|-)", "0", "0", "0", "-"])
    assert re.search(row, shown), shown
    assert main(["monitoring-status", "--stack", STACK, "--repo", repo]) == 0
    shown = capsys.readouterr().out
    assert re.search(r"up hello-world .*\(3/3 replicas answer\)", shown), shown
    assert len(re.findall(rf"up {STACK}_hello-world\.\d\.\w+ on ", shown)) == 3


def test_scaled_to_zero_the_worker_down_alert_fires_and_the_backlog_rises(
    monitored: Monitored, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    api, prometheus = monitored.api, monitored.prometheus
    open_tasks = ('camunda_backlog:external_tasks:max{topic="say_hello", state="open", '
                  f'stack="{STACK}"}}')
    scale(["hello-world=0"], stack=STACK)
    wait_until(lambda: _running("hello-world") == 0 and _containers_running("hello-world") == 0,
               timeout=120, interval=2, what="the replicas to stop")
    waiting = _start(api, 40, "waiting-")
    started = time.monotonic()

    def firing() -> dict[str, Any] | None:
        return next((alert for alert in prometheus.alerts()
                     if alert["labels"]["alertname"] == "CamundaWorkerDown"
                     and alert["labels"].get("worker") == "hello-world"
                     and alert["state"] == "firing"), None)

    alert = wait_until(firing, timeout=300, interval=5, what="CamundaWorkerDown to fire")
    fired_after = time.monotonic() - started
    wait_until(lambda: prometheus.value(open_tasks) == 40, timeout=120, interval=3,
               what="the backlog metric to show the 40 waiting tasks")
    assert _worker_targets(prometheus, "hello-world") == []
    # the UI's page (README); Debian's build serves the classic UI only
    page = httpx.get(f"{prometheus.url}/classic/alerts", timeout=10)
    assert page.status_code == 200
    assert "CamundaWorkerDown" in page.text
    assert main(["monitoring-status", "--prometheus", prometheus.url, "--stack", STACK,
                 "--repo", str(monitored.repo)]) == 1
    shown = capsys.readouterr().out
    assert re.search(r"hello-world\s+│\s+0\s+│.*│\s+40\s+│.*CamundaWorkerDown", shown), shown
    print(f"[monitoring] scaled to 0: CamundaWorkerDown firing after {fired_after:.0f}s "
          f"({alert['labels']}, {alert['annotations']['summary']!r}); backlog open = 40")

    scale(["hello-world=3"], stack=STACK)
    api.wait_finished(waiting, timeout=300)
    wait_until(lambda: prometheus.value(open_tasks) == 0, timeout=120, interval=3,
               what="the backlog metric to fall to 0")
    wait_until(lambda: firing() is None, timeout=180, interval=5,
               what="CamundaWorkerDown to resolve")
    print("[monitoring] scaled back to 3: backlog open = 0, the alert resolved")
