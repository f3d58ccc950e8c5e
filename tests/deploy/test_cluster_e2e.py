"""Production on a real three-node Swarm: registry, SSH, placement, status, monitoring, a
rolling update and a node drained under load.

The session's cluster (``cluster`` fixture: every node a dockerd in its own network
namespace, all three managers, a registry on the bridge, an sshd in front of node1) and the
production stack on it (``cluster_stack``: ``make deploy`` over SSH with a registry and
monitoring) are shared with the other cluster modules (node loss:
``test_cluster_node_loss.py``). Counts go to stdout (-s).
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.support.cluster import Cluster
from tests.support.cluster_stack import (
    DB_NODE,
    STACK,
    WORKER,
    ClusterStack,
    duplicates,
    edit_worker,
    greetings,
    log_lines,
    make_deploy,
    scale_worker,
    start,
    swarm_task_id,
    worker,
)
from tests.support.engine import REPO, EngineApi, wait_until
from workers_tooling import (
    LocalImagesOnMultiNodeSwarm,
    PrometheusApi,
    ToolingError,
    deploy,
)
from workers_tooling.cli import main
from workers_tooling.swarm._docker_client import docker_client

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(900),
              pytest.mark.usefixtures("on_cluster")]

REFUSED = "cwx-refused"  # the stack the refused deploys name (the cluster is shared)
TASK_PREFIX = re.compile(rf"^{STACK}_{WORKER}\.\d+\.(\w+)@(\S+)\s")


def _services(cluster: Cluster, stack: str) -> str:
    return cluster.docker(1, "service", "ls", "-q", "--filter",
                          f"label=com.docker.stack.namespace={stack}")


def test_deploy_refuses_local_images_on_a_multi_node_swarm(
        cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REGISTRY", raising=False)
    with pytest.raises(LocalImagesOnMultiNodeSwarm) as caught:
        deploy(REPO, stack=REFUSED, stack_file=tmp_path / "stack.yml")
    message = str(caught.value)
    assert message.startswith(f"this Swarm has 3 nodes ({cluster.hostname(1)}, "
                              f"{cluster.hostname(2)}, {cluster.hostname(3)}) and each pulls "
                              "the worker images from a registry, but no REGISTRY is set")
    assert "local/workers-hello-world:0.1.0" in message
    assert "set REGISTRY=HOST:PORT" in message
    assert _services(cluster, REFUSED) == ""  # nothing deployed


def test_deploy_refuses_images_the_registry_does_not_have(
        cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGISTRY", cluster.registry)
    monkeypatch.setenv("TAG", "never-pushed")
    with pytest.raises(LocalImagesOnMultiNodeSwarm) as caught:
        deploy(REPO, stack=REFUSED, stack_file=tmp_path / "stack.yml", build=False,
               push=False)
    message = str(caught.value)
    assert "but the manager finds these in no registry: " in message
    assert f"{cluster.registry}/workers-hello-world:never-pushed (manifest unknown" in message
    assert _services(cluster, REFUSED) == ""


def _ssh_children() -> int:
    found = subprocess.run(["pgrep", "-P", str(os.getpid()), "-x", "ssh"], capture_output=True,
                           text=True, check=False)
    return len(found.stdout.split())


def test_the_ssh_engine_is_one_login_and_leaves_no_ssh_behind(cluster: Cluster) -> None:
    with docker_client() as client:
        for _ in range(10):
            assert len(client.nodes.list()) == 3
            assert client.info()["Name"] == cluster.hostname(1)  # the manager's dockerd
        assert _ssh_children() == 1  # every request over the one pooled connection
    assert _ssh_children() == 0


def test_an_engine_ssh_cannot_reach_is_a_clear_error(
        cluster: Cluster, capfd: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    target = f"root@{cluster.ip(2)}"  # a node without sshd: connection refused
    monkeypatch.setenv("DOCKER_HOST", f"ssh://{target}")
    assert main(["status", "--stack", STACK]) == 3  # no engine: exit 3
    out, err = capfd.readouterr()
    assert f"no Docker engine answers at ssh://{target}" in err
    assert f"`ssh {target} docker version` must work first" in err
    assert "Traceback" not in out + err
    assert _ssh_children() == 0


# ---------------------------------------------------------------- the deployed stack

def _completed_by_node(api: EngineApi, instances: list[str]) -> Counter[str]:
    """Completions per node, from the worker ids the engine recorded (the Swarm task names)."""
    wanted = set(instances)
    rows = api.get("/history/external-task-log", topicName="say_hello", successLog="true",
                   maxResults="100000")
    with docker_client() as client:  # over SSH, as the tooling does
        service = client.services.get(f"{STACK}_{WORKER}")
        nodes = {node.id: node.attrs["Description"]["Hostname"] for node in client.nodes.list()}
        task_nodes = {task["ID"]: nodes.get(task.get("NodeID", ""), "?")
                      for task in service.tasks()}
    return Counter(task_nodes.get(swarm_task_id(row["workerId"]), "?")
                   for row in rows if row["processInstanceId"] in wanted)


def _registry_digest(registry: str, repository: str, tag: str) -> str:
    response = httpx.head(f"http://{registry}/v2/{repository}/manifests/{tag}", headers={
        "Accept": "application/vnd.docker.distribution.manifest.v2+json"}, timeout=10)
    response.raise_for_status()
    return response.headers["Docker-Content-Digest"]


def _service_image(cluster: Cluster, service: str) -> str:
    return cluster.docker(1, "service", "inspect", "--format",
                          "{{.Spec.TaskTemplate.ContainerSpec.Image}}", service).strip()


def _pinned_and_pulled(cluster: Cluster, tag: str) -> str:
    """The worker's service runs REGISTRY/workers-hello-world:TAG@DIGEST, DIGEST being the
    registry's, and every node with a replica pulled exactly that."""
    digest = _registry_digest(cluster.registry, f"workers-{WORKER}", tag)
    image = _service_image(cluster, f"{STACK}_{WORKER}")
    assert image == f"{cluster.registry}/workers-{WORKER}:{tag}@{digest}"
    for node in set(worker().nodes):
        cluster.docker(cluster.index(node), "image", "inspect",
                       f"{cluster.registry}/workers-{WORKER}@{digest}")
    return digest


def test_deploy_over_ssh_pins_digests_and_spreads_300_instances_over_3_nodes(
        cluster: Cluster, cluster_stack: ClusterStack) -> None:
    stack = cluster_stack
    _pinned_and_pulled(cluster, "0.1.0")
    engine = _service_image(cluster, f"{STACK}_camunda")
    assert engine.startswith(f"{cluster.registry}/camunda-engine:camunda-7.24@sha256:")
    publicacao = _service_image(cluster, f"{STACK}_publicacao")
    assert publicacao.startswith(f"{cluster.registry}/workers-publicacao:0.1.0@sha256:")
    # one engine, on a manager (all three are), answering on that node's published port
    assert stack.engine_node() in {cluster.hostname(n) for n in range(1, cluster.managers + 1)}
    assert stack.api.url.startswith(
        f"http://{cluster.ip(cluster.index(stack.engine_node()))}:8080/")
    # the db where its label pins it
    assert cluster.service_nodes(f"{STACK}_db") == [cluster.hostname(DB_NODE)]
    # every replica polls (none still backing off from the engine's start), as Prometheus
    # on its manager sees it, before the load: otherwise the first one up takes it all
    with PrometheusApi(stack.prometheus_url()) as prometheus:
        wait_until(lambda: _ready_replicas(prometheus) == 3, timeout=180, interval=3,
                   what="3 hello-world replicas ready")

    instances = start(stack.api, 300, "spread-")
    stack.api.wait_finished(instances, timeout=300)
    by_node = _completed_by_node(stack.api, instances)
    twice = duplicates(instances, greetings(log_lines()))
    print(f"\n[cluster] spread: started=300 completed={stack.api.finished(instances)} "
          f"by node {dict(sorted(by_node.items()))} duplicates={len(twice)}")
    assert sum(by_node.values()) == 300
    assert set(by_node) == {cluster.hostname(n) for n in (1, 2, 3)}
    assert twice == {}


def test_status_and_logs_over_ssh_and_through_a_docker_context(
        cluster: Cluster, cluster_stack: ClusterStack, tmp_path: Path,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "300")  # the status table, unfolded
    nodes = [cluster.hostname(n) for n in (1, 2, 3)]
    # DOCKER_HOST=ssh://root@MANAGER (set for the whole module)
    assert main(["status", "--stack", STACK]) == 0
    shown = capsys.readouterr().out.splitlines()
    at = next(n for n, line in enumerate(shown) if line.startswith(f"{WORKER} "))
    assert re.match(rf"{WORKER}\s+3/3\s", shown[at]), shown[at]
    replicas = shown[at + 1]  # the service's replicas, on the line below it
    assert replicas.startswith("  replicas: "), replicas
    assert sorted(re.findall(rf"({cluster.name}-node\d) running", replicas)) == nodes
    assert main(["logs", WORKER, "--stack", STACK, "--tail", "20"]) == 0
    prefixes = {m.group(2) for line in capsys.readouterr().out.splitlines()
                if (m := TASK_PREFIX.match(line))}
    assert prefixes == set(nodes)  # lines of the replicas on every node

    # The same through a docker context (DOCKER_CONTEXT; the config of a temp DOCKER_CONFIG).
    config = tmp_path / "docker-config"
    config.mkdir()
    (config / "config.json").write_text("{}")
    subprocess.run(["docker", "context", "create", "cwt-manager", "--docker",
                    f"host={cluster.docker_host}"], check=True, capture_output=True,
                   env={**os.environ, "DOCKER_CONFIG": str(config)})
    monkeypatch.delenv("DOCKER_HOST")
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    monkeypatch.setenv("DOCKER_CONTEXT", "cwt-manager")
    assert main(["status", "--stack", STACK]) == 0
    assert re.search(rf"^{WORKER}\s+3/3\s", capsys.readouterr().out, re.M)
    assert main(["logs", WORKER, "--stack", STACK, "--tail", "5"]) == 0
    assert "@" + nodes[0] in capsys.readouterr().out


def test_monitoring_status_asks_each_replica_on_every_node_over_ssh(
        cluster: Cluster, cluster_stack: ClusterStack, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The direct check: one probe container on the manager's end of the overlay network
    reaches every replica at its own address, on every node (never the routing mesh)."""
    monkeypatch.setenv("COLUMNS", "300")
    assert main(["monitoring-status", "--stack", STACK, "--repo",
                 str(cluster_stack.repo)]) == 0
    out = capsys.readouterr().out
    assert f"up {WORKER} {STACK}_{WORKER}:8001/metrics on {STACK}_workers (3/3 replicas " \
           "answer)" in out
    replicas = re.findall(rf"^ +up {STACK}_{WORKER}\.\d+\.\w+ on ({cluster.name}-node\d) "
                          r"http://(10\.[0-9.]+):8001/metrics \(\d+ samples\)$", out, re.MULTILINE)
    with capsys.disabled():
        print(f"\n[cluster] monitoring-status: {sorted(replicas)}")
    assert sorted(node for node, _ in replicas) == [cluster.hostname(n) for n in (1, 2, 3)]
    assert len({address for _, address in replicas}) == 3  # each at its own address


def _ready_replicas(prometheus: PrometheusApi) -> float:
    try:
        return prometheus.value(f'count(camunda_worker_ready{{worker="{WORKER}"}} == 1)', 0)
    except ToolingError:  # Prometheus not answering yet
        return 0


def _worker_targets(prometheus: PrometheusApi) -> list[tuple[str, str]] | None:
    """(node, health) of each hello-world target Prometheus scrapes; None while it does
    not answer yet."""
    try:
        targets = prometheus.targets()
    except ToolingError:
        return None
    return sorted((target["labels"].get("node", "-"), target["health"]) for target in targets
                  if target["labels"].get("job") == "camunda-workers"
                  and target["labels"].get("worker") == WORKER)


def test_prometheus_on_the_manager_scrapes_each_replica_on_every_node(
        cluster: Cluster, cluster_stack: ClusterStack, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    url = cluster_stack.prometheus_url()
    prometheus = PrometheusApi(url)
    try:
        wanted = [(cluster.hostname(n), "up") for n in (1, 2, 3)]
        targets = wait_until(lambda: _worker_targets(prometheus) == wanted or None,
                             timeout=180, interval=3, what="3 replicas scraped, all up")
        assert targets
        with capsys.disabled():
            print(f"\n[cluster] Prometheus targets of {WORKER}: {_worker_targets(prometheus)}")
    finally:
        prometheus.close()
    monkeypatch.setenv("COLUMNS", "300")
    assert main(["monitoring-status", "--stack", STACK, "--repo", str(cluster_stack.repo),
                 "--prometheus", url]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if f" {WORKER} " in line)
    assert re.search(rf"│ {WORKER} +│ 3 +│", row), row
    with capsys.disabled():
        print(f"[cluster] monitoring-status --prometheus: {' '.join(row.split())}")


def test_rolling_update_pushed_through_the_registry(cluster: Cluster,
                                                    cluster_stack: ClusterStack) -> None:
    stack = cluster_stack
    main_py = stack.repo / "workers" / WORKER / "main.py"
    main_py.write_text(main_py.read_text().replace('f"Hello, {name}!"', 'f"Hi, {name}!"'))
    edit_worker(stack.repo, version="0.1.1")
    old_digest = _registry_digest(cluster.registry, f"workers-{WORKER}", "0.1.0")
    with ThreadPoolExecutor(1) as background:
        arriving = background.submit(start, stack.api, 300, "rolling-", 4.0)
        seconds = make_deploy(stack.repo, stack.env)
        wait_until(lambda: worker().update_state == "completed", timeout=400, interval=2,
                   what="the rolling update to complete")
        instances = arriving.result()
    stack.api.wait_finished(instances, timeout=300)
    new_digest = _pinned_and_pulled(cluster, "0.1.1")
    assert new_digest != old_digest
    rows = stack.api.post(
        "/history/variable-instance?maxResults=5000&deserializeValues=false",
        {"variableName": "greeting", "processInstanceIdIn": instances})
    versions = Counter(row["value"].split(",")[0] for row in rows)
    twice = duplicates(instances, greetings(log_lines()))
    service = worker()
    print(f"\n[cluster] rolling update through the registry: deploy {seconds:.0f}s, "
          f"started=300 completed={stack.api.finished(instances)} greetings "
          f"{dict(versions)} duplicates={len(twice)} nodes={sorted(service.nodes)}")
    assert set(versions) == {"Hello", "Hi"}  # both versions served while it rolled
    assert twice == {}
    assert service.running == 3
    assert len(set(service.nodes)) >= 2


def test_drain_a_node_under_load(cluster: Cluster, cluster_stack: ClusterStack) -> None:
    """A node that runs neither the db nor the engine, with a replica, drained while
    instances arrive: its replicas move, none is lost, none handled twice."""
    stack = cluster_stack
    spared = {cluster.hostname(DB_NODE), stack.engine_node()}
    hostname = next(n for n in (cluster.hostname(i) for i in range(1, cluster.nodes + 1))
                    if n not in spared)
    if hostname not in worker().nodes:  # the rolling update left it none: one per node
        scale_worker(cluster, 0)
        scale_worker(cluster, 3)
    api = stack.api
    with ThreadPoolExecutor(1) as background:
        arriving = background.submit(start, api, 300, "drain-", 15.0)
        time.sleep(6)  # instances arrive for 20 s: drain in the middle of it
        cluster.docker(1, "node", "update", "--availability", "drain", hostname)
        instances = arriving.result()
    try:
        api.wait_finished(instances, timeout=300)
        wait_until(lambda: worker().running == 3 and hostname not in worker().nodes,
                   timeout=180, interval=2, what=f"the replicas to leave {hostname}")
        nodes = sorted(worker().nodes)
        twice = duplicates(instances, greetings(log_lines()))
        completed = api.finished(instances)
        print(f"\n[cluster] drain {hostname} under load: started=300 completed={completed} "
              f"lost={300 - completed} duplicates={len(twice)} replicas now on {nodes}")
        assert completed == 300
        assert twice == {}
    finally:
        cluster.docker(1, "node", "update", "--availability", "active", hostname)
