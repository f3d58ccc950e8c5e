"""The autoscaler acting in a real stack on the real Swarm, with the real engine and the
real hello-world worker: the stack file is what ``workers compose --autoscale`` writes
(trimmed to the worker, the socket proxy and the autoscaler; the engine is one the test
starts on this machine, listening on the host's ``docker_gwbridge`` address only, where
the containers reach it).

One burst, hello-world ``min 0, max 6, tasks_per_replica 100`` with a 3 s interval: at
rest 0 replicas; 600 instances -> 6 replicas; the autoscaler's task killed mid-burst ->
the new one continues without dropping a replica; a ``docker stack deploy`` mid-burst
(after :func:`keep_running_replicas`, as ``workers deploy`` does) drops none; the backlog
drains, every instance completes; back to 0 after the cooldown. The autoscaler's metrics
match ``docker service ls``. The timeline (load and replicas each second) is written to
``bench/results/autoscale-timeline.json`` for ``make bench-autoscale``; the figures go to
stdout (-s).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from ruamel.yaml import YAML

from tests.support.docker import copy_repo, require_docker_or_skip
from tests.support.docker import run as docker_run
from tests.support.engine import REPO, EngineApi, EngineProcess, free_port, wait_until
from workers_tooling import build_component_images, build_images, compose_stack
from workers_tooling.autoscale import keep_running_replicas
from workers_tooling.swarm._docker_client import docker_client

pytestmark = [pytest.mark.docker, pytest.mark.engine, pytest.mark.slow,
              pytest.mark.timeout(900)]

STACK = "cw-autoscale"
WORKER = "hello-world"
SERVICE = f"{STACK}_{WORKER}"
INTERVAL = 3
POLICY = {"min_replicas": 0, "max_replicas": 6, "tasks_per_replica": 100,
          "cooldown_seconds": 10, "scale_down_window_seconds": 6}
BASE = "local/python-base:bookworm"
TAG = "autoscale-e2e"
GREETED = re.compile(r"greeted \S+ for ([0-9a-f-]{36})")
TIMELINE = REPO / "bench" / "results" / "autoscale-timeline.json"


def _gateway() -> str:
    """The host as containers on an overlay network reach it (docker_gwbridge)."""
    return docker_run("docker", "network", "inspect", "docker_gwbridge", "-f",
                      "{{(index .IPAM.Config 0).Gateway}}").strip()


def _stack_file(repo: Path) -> Path:
    """``workers compose --autoscale``'s stack file, kept to the worker, the socket proxy
    and the autoscaler (the engine and Prometheus are not what this test is about)."""
    compose_stack(repo, autoscale=True)
    yaml = YAML()
    yaml.preserve_quotes = True
    path = repo / "docker-compose.swarm.yml"
    data = yaml.load(path.read_text())
    for name in list(data["services"]):
        if name not in (WORKER, "socket-proxy", "autoscaler"):
            del data["services"][name]
    for key in ("volumes", "secrets"):
        data.pop(key, None)
    data["services"][WORKER]["stop_grace_period"] = "10s"
    out = repo / "autoscale-stack.yml"
    with out.open("w") as stream:
        yaml.dump(data, stream)
    return out


def _replicas() -> int:
    spec = json.loads(docker_run("docker", "service", "inspect", SERVICE))[0]["Spec"]
    return int(spec["Mode"]["Replicated"]["Replicas"])


def _running() -> int:
    line = docker_run("docker", "service", "ls", "--filter", f"name={SERVICE}",
                      "--format", "{{.Name}} {{.Replicas}}")
    for row in line.splitlines():
        name, replicas = row.split()[:2]
        if name == SERVICE:
            return int(replicas.split("/")[0])
    return 0


def _autoscaler_container() -> str:
    return docker_run("docker", "ps", "-q", "--filter",
                      f"label=com.docker.swarm.service.name={STACK}_autoscaler").strip()


def _metrics() -> dict[str, float]:
    """The autoscaler's /metrics, read inside its container (its port is not published)."""
    text = docker_run("docker", "exec", _autoscaler_container(), "python", "-c",
                      "import urllib.request as r; print(r.urlopen("
                      "'http://127.0.0.1:9181/metrics').read().decode())")
    samples = {}
    for line in text.splitlines():
        if line.startswith("camunda_autoscaler") and f'worker="{WORKER}"' in line:
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def _first_round_done() -> bool:
    try:
        return "camunda_autoscaler_current_replicas" in " ".join(_metrics())
    except RuntimeError:  # its container is there, its metrics server not yet (or gone:
        return False      # the services' logs then say why)


@dataclass
class Timeline:
    """Load and replicas each second, from a thread, while the burst runs."""

    api: EngineApi
    started: float = field(default_factory=time.monotonic)
    rows: list[dict[str, float]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.stop.wait(1.0):
            try:
                load = self.api.get("/external-task/count", topicName="say_hello",
                                    withRetriesLeft="true")["count"]
                self.rows.append({"t": round(time.monotonic() - self.started, 1),
                                  "load": load, "replicas": _replicas(),
                                  "running": _running()})
            except (httpx.HTTPError, AssertionError, RuntimeError, KeyError):
                continue  # a sample lost; the next second's is taken

    def lowest_replicas(self, since: float) -> float:
        return min(row["replicas"] for row in self.rows if row["t"] >= since)


@dataclass
class GatewayEngine(EngineProcess):
    """An engine on the host's docker_gwbridge address (the containers' way to the host;
    not loopback, which they cannot reach, nor every interface)."""

    host: str = ""

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/engine-rest"


@pytest.fixture(scope="module")
def camunda() -> Iterator[EngineApi]:
    require_docker_or_skip()
    gateway = _gateway()
    engine = GatewayEngine("camunda", free_port(), [f"--server.address={gateway}"],
                           host=gateway)
    engine.start()
    api = EngineApi(engine.url)
    try:
        yield api
    finally:
        api.close()
        engine.stop()


def _stack_deploy(stack_file: Path, camunda: EngineApi) -> None:
    environ = {**os.environ, "TAG": TAG, "AUTOSCALE_INTERVAL": str(INTERVAL),
               "CAMUNDA_URL": camunda.url}
    done = subprocess.run(["docker", "stack", "deploy", "-c", str(stack_file), STACK],
                          env=environ, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def stack(camunda: EngineApi, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    require_docker_or_skip()
    repo = copy_repo(tmp_path_factory.mktemp("autoscale") / "repo")
    spec_path = repo / "workers" / WORKER / "worker.json"
    spec = json.loads(spec_path.read_text())
    spec_path.write_text(json.dumps({**spec, "replicas": 0, "autoscale": POLICY}, indent=2))
    build_images(repo, [WORKER], tag=TAG, base_image=BASE)
    build_component_images(repo, base_image=BASE,
                           prometheus_base_image="local/prometheus-base:bookworm",
                           only={"socket-proxy", "autoscaler"})
    stack_file = _stack_file(repo)
    _stack_deploy(stack_file, camunda)
    try:
        wait_until(lambda: _autoscaler_container() != "", timeout=180, interval=1,
                   what="the autoscaler's container")
        try:
            wait_until(_first_round_done, timeout=90, interval=1,
                       what="the autoscaler's first round")
        except AssertionError as exc:  # what the services said, to see why
            said = {name: subprocess.run(
                ["docker", "service", "logs", "--raw", f"{STACK}_{name}"], capture_output=True,
                text=True, check=False).stdout[-3000:] for name in ("autoscaler", "socket-proxy")}
            tasks = docker_run("docker", "stack", "ps", "--no-trunc", STACK)
            raise AssertionError(f"{exc}\n{tasks}\n{said}") from None
        yield stack_file
    finally:
        subprocess.run(["docker", "stack", "rm", STACK], capture_output=True, check=False)
        wait_until(lambda: docker_run("docker", "service", "ls", "-q", "--filter",
                                      f"label=com.docker.stack.namespace={STACK}") == "",
                   timeout=120, interval=1, what="the stack to go")


def _deploy_process(camunda: EngineApi) -> None:
    bpmn = REPO / "processes" / "hello_world.bpmn"
    answer = camunda.http.post("/deployment/create", files={
        bpmn.name: (bpmn.name, bpmn.read_bytes(), "application/xml")},
        data={"deployment-name": bpmn.name})
    assert answer.status_code == 200, answer.text


def _back_to_zero(what: str) -> None:
    wait_until(lambda: _replicas() == 0, timeout=POLICY["cooldown_seconds"]
               + POLICY["scale_down_window_seconds"] + 6 * INTERVAL + 30, interval=0.5,
               what=f"back to 0 replicas ({what})")


@contextlib.contextmanager
def _autoscaler_paused() -> Iterator[None]:
    """The autoscaler's container frozen inside the block: what happens there arrives at
    once for it."""
    paused = _autoscaler_container()
    docker_run("docker", "pause", paused)
    try:
        yield
    finally:
        docker_run("docker", "unpause", paused)


def _start_600(camunda: EngineApi, prefix: str) -> list[str]:
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(
            lambda n: camunda.start("hello_world", {"name": f"{prefix}{n}"}), range(600)))


def test_a_burst_scales_out_survives_a_restart_and_a_deploy_and_returns_to_zero(
        camunda: EngineApi, stack: Path) -> None:
    _deploy_process(camunda)
    time.sleep(2 * INTERVAL)  # at rest: 0 replicas, over two rounds
    assert (_replicas(), _running()) == (0, 0)
    timeline = Timeline(camunda)
    sampler = threading.Thread(target=timeline.run, daemon=True)
    sampler.start()
    try:
        # 1. the burst: 600 instances, worked by the replicas the autoscaler starts. They
        # arrive at once for the autoscaler, which is paused while they are created: on 2
        # busy cores creating 600 takes up to 15 s, long enough for the first replicas to
        # drain the first ones, so the load of a round never reached 600 (seen in CI).
        burst_at = time.monotonic() - timeline.started
        with _autoscaler_paused():
            instances = _start_600(camunda, "as")
        started_all = time.monotonic() - timeline.started
        wait_until(lambda: _replicas() > 0, timeout=3 * INTERVAL, interval=0.2,
                   what="the first scale from 0")
        wait_until(lambda: camunda.finished(instances) > 0, timeout=120, interval=0.3,
                   what="the first instance to finish")
        first_done = time.monotonic() - timeline.started
        camunda.wait_finished(instances, timeout=300)
        drained = time.monotonic() - timeline.started
        _back_to_zero("after the burst")
        at_zero = time.monotonic() - timeline.started

        # 2. a load held by the test (600 tasks locked: load, but no replica's work):
        # 6 replicas, kept through a killed autoscaler task and a deploy. Made while the
        # autoscaler is paused: else the replica it starts for the first tasks takes the
        # next ones before the test can lock them, and the held load never reaches 600.
        wait_until(lambda: _running() == 0, timeout=60, interval=0.5, what="no task running")
        with _autoscaler_paused():
            held = _start_600(camunda, "held")
            locked: list[dict[str, str]] = camunda.post("/external-task/fetchAndLock", {
                "workerId": "autoscale-test", "maxTasks": 600,
                "topics": [{"topicName": "say_hello", "lockDuration": 600_000}]})
        assert len(locked) == 600
        wait_until(lambda: _replicas() == 6, timeout=3 * INTERVAL, interval=0.2,
                   what="6 replicas for the held load")
        held_at = time.monotonic() - timeline.started
        old = _autoscaler_container()
        docker_run("docker", "rm", "-f", old)
        wait_until(lambda: _autoscaler_container() not in ("", old), timeout=120,
                   interval=0.5, what="a new autoscaler task")
        time.sleep(3 * INTERVAL)  # the new one's first rounds
        assert timeline.lowest_replicas(held_at) == 6
        assert _metrics()[f'camunda_autoscaler_current_replicas{{worker="{WORKER}"}}'] == 6
        with docker_client() as client:  # what `workers deploy` does with the autoscaler
            assert keep_running_replicas(client, STACK, stack, [WORKER]) == {WORKER: 6}
        _stack_deploy(stack, camunda)
        time.sleep(INTERVAL)
        assert timeline.lowest_replicas(held_at) == 6  # the deploy dropped none
        for task in locked:
            camunda.http.post(f"/external-task/{task['id']}/unlock")
        camunda.wait_finished(held, timeout=300)
        _back_to_zero("after the held load")
        wait_until(lambda: _running() == 0, timeout=60, interval=0.5, what="no task running")
    finally:
        timeline.stop.set()
        sampler.join(timeout=10)

    metrics = _metrics()
    for name in ("current_replicas", "desired_replicas", "load"):
        assert metrics[f'camunda_autoscaler_{name}{{worker="{WORKER}"}}'] == 0, name
    lines = docker_run("docker", "service", "logs", "--raw", SERVICE).splitlines()
    greetings = Counter(m.group(1) for line in lines if (m := GREETED.search(line)))
    everything = instances + held
    duplicates = sum(greetings[i] - 1 for i in everything if greetings[i] > 1)
    completed = camunda.finished(everything)
    burst_rows = [row for row in timeline.rows if row["t"] <= at_zero + 2]
    first_scale = min(row["t"] for row in burst_rows if row["replicas"] > 0)
    six_at = min((row["t"] for row in burst_rows if row["replicas"] == 6), default=float("nan"))
    figures = {
        "interval_s": INTERVAL, "policy": POLICY, "instances": len(everything),
        "start_600_s": started_all - burst_at,
        "first_scale_from_0_s": first_scale - burst_at,
        # the 600 there (the autoscaler sees them) -> the first one done
        "scale_from_zero_latency_s": first_done - started_all,
        "six_replicas_s": six_at - burst_at, "drained_s": drained - burst_at,
        "back_to_zero_s": at_zero - burst_at, "zero_after_drain_s": at_zero - drained,
        "completed": completed, "lost": len(everything) - completed,
        "duplicates": duplicates,
    }
    TIMELINE.parent.mkdir(parents=True, exist_ok=True)
    TIMELINE.write_text(json.dumps({"figures": figures, "burst": burst_rows,
                                    "rows": timeline.rows}, indent=1))
    shown = {k: round(v, 1) if isinstance(v, float) else v for k, v in figures.items()}
    print(f"\n[autoscale] {json.dumps(shown)}")
    assert (completed, len(everything) - completed) == (1200, 0)
    # 6 replicas within two rounds of the 600 being there (one timeline sample of slack)
    assert six_at - started_all <= 2 * INTERVAL + 1, figures
