"""The autoscaler acting on the three-node cluster's production stack, deployed the way a
person does it: hello-world's ``worker.json`` given ``"autoscale": {min 0, max 6,
tasks_per_replica 100}``, then ``AUTOSCALE=1 make deploy`` over SSH (build on the
manager, push to the registry, the ``autoscaler`` service beside the socket proxy and
Prometheus, a round every 3 s).

One burst: at rest 0 replicas; 600 instances -> 6 replicas spread over the three nodes;
the backlog drains, every instance completes; back to 0 after the cooldown. Then a load
held by the test (600 tasks locked): 6 replicas, kept through the autoscaler's task killed
and through a ``make deploy`` in the middle. Prometheus' copy of the autoscaler's metrics
matches ``docker service ls``. The timeline (load and replicas each second) is written to
``bench/results/autoscale-timeline.json`` for ``make bench-autoscale``; the figures go to
stdout (-s). At the end the stack is as the other cluster modules expect it: no
autoscaler, hello-world at 3 replicas.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.support.cluster import Cluster
from tests.support.cluster_stack import (
    STACK,
    WORKER,
    ClusterStack,
    duplicates,
    edit_worker,
    greetings,
    log_lines,
    make_deploy,
    scale_worker,
)
from tests.support.dashboard import AUTOSCALER_SERIES, dashboard_queries, without_data
from tests.support.engine import REPO, EngineApi, wait_until
from tests.tooling.helpers import run_cli
from workers_tooling import PrometheusApi, ToolingError

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(1200),
              pytest.mark.usefixtures("on_cluster")]

SERVICE = f"{STACK}_{WORKER}"
AUTOSCALER = f"{STACK}_autoscaler"
INTERVAL = 3
POLICY = {"min_replicas": 0, "max_replicas": 6, "tasks_per_replica": 100,
          "cooldown_seconds": 10, "scale_down_window_seconds": 6}
TIMELINE = REPO / "bench" / "results" / "autoscale-timeline.json"


@dataclass
class Swarm:
    """The cluster as this test reads it: the worker's replicas, the autoscaler's task."""

    cluster: Cluster

    def replicas(self) -> int:
        """The replicas the service is set to (what the autoscaler decided)."""
        spec = json.loads(self.cluster.docker(1, "service", "inspect", SERVICE))[0]["Spec"]
        return int(spec["Mode"]["Replicated"]["Replicas"])

    def running(self) -> int:
        """Running tasks, as ``docker service ls`` shows them."""
        listed = self.cluster.docker(1, "service", "ls", "--filter", f"name={SERVICE}",
                                     "--format", "{{.Name}} {{.Replicas}}")
        for row in listed.splitlines():
            name, replicas = row.split()[:2]
            if name == SERVICE:
                return int(replicas.split("/")[0])
        return 0

    def autoscaler(self) -> tuple[int, str] | None:
        """(node, container id) of the autoscaler's running task."""
        label = f"label=com.docker.swarm.service.name={AUTOSCALER}"
        for node in range(1, self.cluster.nodes + 1):
            found = self.cluster.docker(node, "ps", "-q", "--filter", label).split()
            if found:
                return node, found[0]
        return None

    def metrics(self) -> dict[str, float]:
        """The autoscaler's /metrics for the worker, read inside its container."""
        where = self.autoscaler()
        if where is None:
            return {}
        text = self.cluster.docker(where[0], "exec", where[1], "python", "-c",
                                   "import urllib.request as r; print(r.urlopen("
                                   "'http://127.0.0.1:9181/metrics').read().decode())")
        samples = {}
        for line in text.splitlines():
            if line.startswith("camunda_autoscaler") and f'worker="{WORKER}"' in line:
                name, value = line.rsplit(" ", 1)
                samples[name.split("{", 1)[0]] = float(value)
        return samples

    def first_round_done(self) -> bool:
        try:
            return "camunda_autoscaler_current_replicas" in self.metrics()
        except RuntimeError:  # its metrics server not up yet
            return False

    @contextlib.contextmanager
    def autoscaler_paused(self) -> Iterator[None]:
        """The autoscaler's container frozen inside the block: what happens there arrives
        at once for it."""
        where = self.autoscaler()
        assert where is not None, "no autoscaler task"
        self.cluster.docker(where[0], "pause", where[1])
        try:
            yield
        finally:
            self.cluster.docker(where[0], "unpause", where[1])


@dataclass
class Timeline:
    """Load and replicas each second, from a thread, while the burst runs."""

    api: EngineApi
    swarm: Swarm
    started: float = field(default_factory=time.monotonic)
    rows: list[dict[str, float]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.stop.wait(1.0):
            try:
                load = self.api.get("/external-task/count", topicName="say_hello",
                                    withRetriesLeft="true")["count"]
                self.rows.append({"t": round(self.now(), 1), "load": load,
                                  "replicas": self.swarm.replicas(),
                                  "running": self.swarm.running()})
            except (httpx.HTTPError, AssertionError, RuntimeError, KeyError):
                continue  # a sample lost; the next second's is taken

    def now(self) -> float:
        return time.monotonic() - self.started

    def lowest_replicas(self, since: float) -> float:
        return min(row["replicas"] for row in self.rows if row["t"] >= since)


@pytest.fixture(scope="module")
def autoscaled(cluster: Cluster, cluster_stack: ClusterStack,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """``AUTOSCALE=1 make deploy`` of the stack with hello-world's policy (from a copy of
    the stack's repository: the other modules deploy the original); undone at the end."""
    scale_worker(cluster, 0)  # at rest: no task is left, the autoscaler finds 0 running
    repo = tmp_path_factory.mktemp("autoscale") / "repo"
    shutil.copytree(cluster_stack.repo, repo, symlinks=True)
    edit_worker(repo, replicas=0, autoscale=POLICY)
    env = {**cluster_stack.env, "AUTOSCALE": "1", "AUTOSCALE_INTERVAL": str(INTERVAL)}
    swarm = Swarm(cluster)
    try:
        make_deploy(repo, env)
        wait_until(swarm.first_round_done, timeout=120, interval=1,
                   what="the autoscaler's first round")
        yield repo, env
    finally:
        # as the other modules expect the stack: no autoscaler, hello-world fixed at 3
        with contextlib.suppress(RuntimeError):  # not there when the deploy failed
            cluster.docker(1, "service", "rm", AUTOSCALER)
        # gone from every node first: a round of its stopping task would scale the worker
        # back to 0 (seen: the next modules found hello-world at 0/0)
        wait_until(lambda: swarm.autoscaler() is None, timeout=120, interval=1,
                   what="the autoscaler's task to stop")
        scale_worker(cluster, 3)


def _start_600(api: EngineApi, prefix: str) -> list[str]:
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(
            lambda n: api.start("hello_world", {"name": f"{prefix}{n}"}), range(600)))


def _prometheus_sees(prometheus: PrometheusApi, replicas: int) -> bool:
    try:
        seen = prometheus.value(
            f'camunda_autoscaler_current_replicas{{worker="{WORKER}"}}', -1)
    except ToolingError:  # not answering yet
        return False
    return seen == replicas


def test_dry_run_over_ssh_reads_the_remote_swarm(
        cluster_stack: ClusterStack, autoscaled: tuple[Path, dict[str, str]],
        capsys: pytest.CaptureFixture[str]) -> None:
    """``workers autoscale --dry-run`` from this machine, ``DOCKER_HOST=ssh://`` the
    manager (``on_cluster``): the replicas of the remote stack, the load of its engine."""
    repo, _ = autoscaled
    code, out, err = run_cli(capsys, "autoscale", "--dry-run", "--once", "--stack", STACK,
                             "--repo", str(repo), "--engine-url", cluster_stack.api.url)
    assert (code, err) == (0, ""), out
    assert out.splitlines() == [
        f"[dry-run] steady: {WORKER} stays at 0: load 0 not above 0"], out


def test_a_burst_spreads_over_the_nodes_survives_a_restart_and_a_deploy_and_returns_to_zero(
        cluster: Cluster, cluster_stack: ClusterStack,
        autoscaled: tuple[Path, dict[str, str]]) -> None:
    api, swarm = cluster_stack.api, Swarm(cluster)
    back_to_zero = POLICY["cooldown_seconds"] + POLICY["scale_down_window_seconds"] \
        + 6 * INTERVAL + 30
    time.sleep(2 * INTERVAL)  # at rest: 0 replicas, over two rounds
    assert (swarm.replicas(), swarm.running()) == (0, 0)
    timeline = Timeline(api, swarm)
    sampler = threading.Thread(target=timeline.run, daemon=True)
    sampler.start()
    prometheus = PrometheusApi(cluster_stack.prometheus_url())
    try:
        # 1. the burst: 600 instances, worked by the replicas the autoscaler starts. They
        # arrive at once for the autoscaler, paused while they are created (on 2 busy
        # cores creating 600 takes long enough for the first replicas to drain some).
        burst_at = timeline.now()
        with swarm.autoscaler_paused():
            instances = _start_600(api, "as")
        started_all = timeline.now()
        wait_until(lambda: swarm.replicas() > 0, timeout=3 * INTERVAL, interval=0.2,
                   what="the first scale from 0")
        wait_until(lambda: api.finished(instances) > 0, timeout=180, interval=0.3,
                   what="the first instance to finish")
        first_done = timeline.now()
        api.wait_finished(instances, timeout=300)
        drained = timeline.now()
        wait_until(lambda: swarm.replicas() == 0, timeout=back_to_zero, interval=0.5,
                   what="back to 0 replicas after the burst")
        at_zero = timeline.now()

        # 2. a load held by the test (600 tasks locked: load, but no replica's work):
        # 6 replicas, kept through a killed autoscaler task and a deploy.
        wait_until(lambda: swarm.running() == 0, timeout=60, interval=0.5,
                   what="no task running")
        with swarm.autoscaler_paused():
            held = _start_600(api, "held")
            locked: list[dict[str, str]] = api.post("/external-task/fetchAndLock", {
                "workerId": "autoscale-test", "maxTasks": 600,
                "topics": [{"topicName": "say_hello", "lockDuration": 900_000}]})
        assert len(locked) == 600
        wait_until(lambda: swarm.replicas() == 6, timeout=3 * INTERVAL, interval=0.2,
                   what="6 replicas for the held load")
        held_at = timeline.now()
        killed = swarm.autoscaler()
        assert killed is not None
        cluster.docker(killed[0], "rm", "-f", killed[1])
        wait_until(lambda: (now := swarm.autoscaler()) is not None and now[1] != killed[1],
                   timeout=120, interval=0.5, what="a new autoscaler task")
        wait_until(swarm.first_round_done, timeout=60, interval=0.5,
                   what="the new autoscaler's first round")
        time.sleep(2 * INTERVAL)  # its next rounds
        assert timeline.lowest_replicas(held_at) == 6
        assert swarm.metrics()["camunda_autoscaler_current_replicas"] == 6
        # spread over the nodes (in the burst the window may scale down before the sixth
        # container is up: with a 3 s round the drain outruns their start on 2 cores)
        spread = wait_until(lambda: (nodes := cluster.service_nodes(SERVICE)) and len(nodes)
                            == 6 and nodes, timeout=120, interval=1,
                            what="6 replicas running")
        wait_until(lambda: _prometheus_sees(prometheus, 6), timeout=60, interval=2,
                   what="Prometheus to see the 6 replicas docker service ls shows")
        # the dashboard's autoscaler panels (replicas vs load, decisions, errors) have data
        autoscaler_panels = [query for query in dashboard_queries()
                             if AUTOSCALER_SERIES in query[1]]
        assert autoscaler_panels
        assert without_data(prometheus, autoscaler_panels, time.time()) == []
        redeploy_s = make_deploy(*autoscaled)  # keeps the running replicas
        assert timeline.lowest_replicas(held_at) == 6  # the deploy dropped none
        for task in locked:
            api.http.post(f"/external-task/{task['id']}/unlock")
        api.wait_finished(held, timeout=300)
        wait_until(lambda: swarm.replicas() == 0, timeout=back_to_zero, interval=0.5,
                   what="back to 0 replicas after the held load")
        wait_until(lambda: swarm.running() == 0, timeout=60, interval=0.5,
                   what="no task running")
        wait_until(lambda: _prometheus_sees(prometheus, 0), timeout=60, interval=2,
                   what="Prometheus to see 0 replicas, as docker service ls")
    finally:
        prometheus.close()
        timeline.stop.set()
        sampler.join(timeout=10)

    metrics = swarm.metrics()
    for name in ("current_replicas", "desired_replicas", "load"):
        assert metrics[f"camunda_autoscaler_{name}"] == 0, name
    everything = instances + held
    twice = duplicates(everything, greetings(log_lines()))
    completed = api.finished(everything)
    burst_rows = [row for row in timeline.rows if row["t"] <= at_zero + 2]
    first_scale = min(row["t"] for row in burst_rows if row["replicas"] > 0)
    six_at = min((row["t"] for row in burst_rows if row["replicas"] == 6), default=float("nan"))
    figures = {
        "nodes": cluster.nodes, "interval_s": INTERVAL, "policy": POLICY,
        "instances": len(everything), "start_600_s": started_all - burst_at,
        "first_scale_from_0_s": first_scale - burst_at,
        # the 600 there (the autoscaler sees them) -> the first one done
        "scale_from_zero_latency_s": first_done - started_all,
        "six_replicas_s": six_at - burst_at, "drained_s": drained - burst_at,
        "back_to_zero_s": at_zero - burst_at, "zero_after_drain_s": at_zero - drained,
        "replicas_per_node": {node: spread.count(node) for node in sorted(set(spread))},
        "redeploy_s": redeploy_s,
        "completed": completed, "lost": len(everything) - completed,
        "duplicates": sum(twice.values()),
    }
    # the autoscaler's own account: one line per change, with its reason
    said = subprocess.run(["docker", "-H", cluster.socket(1), "service", "logs", "--raw",
                           "--timestamps", AUTOSCALER], capture_output=True, text=True,
                          timeout=60, check=False)
    decisions = sorted(line for line in (said.stdout + said.stderr).splitlines()
                       if " -> " in line)
    print("\n".join(["[autoscale] the autoscaler's log:", *decisions]))
    TIMELINE.parent.mkdir(parents=True, exist_ok=True)
    TIMELINE.write_text(json.dumps({"figures": figures, "burst": burst_rows,
                                    "rows": timeline.rows, "decisions": decisions}, indent=1))
    shown = {k: round(v, 1) if isinstance(v, float) else v for k, v in figures.items()}
    print(f"\n[autoscale] {json.dumps(shown)}")
    assert (completed, len(everything) - completed) == (1200, 0)
    assert len(set(spread)) == cluster.nodes  # spread over the three nodes
    # 6 replicas within two rounds of the 600 being there (one timeline sample of slack)
    assert six_at - started_all <= 2 * INTERVAL + 1, figures
