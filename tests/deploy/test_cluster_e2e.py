"""Production on a real three-node Swarm: registry, SSH, placement, a node drained and a node
lost under load.

``scripts/cluster.sh`` makes the cluster (every node a dockerd in its own network namespace,
a registry on the bridge, an sshd in front of the manager); every case shares it. The
stack is deployed the production way, from this machine over SSH:
``DOCKER_HOST=ssh://root@MANAGER ENVIRONMENT=production REGISTRY=BRIDGE:5000 MONITORING=1
PUBLISH_MONITORING=1 make deploy`` (build on the manager, push to the registry, ``docker
stack deploy``; nodes pull by digest), with the stack's Prometheus on the manager.
Counts go to stdout (-s).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.cluster import Cluster
from tests.support.docker import POSTGRES_IMAGE, require_docker_or_skip
from tests.support.engine import IN_CI, REPO, EngineApi, wait_until
from workers_tooling import (
    LocalImagesOnMultiNodeSwarm,
    PrometheusApi,
    ServiceStatus,
    ToolingError,
    deploy,
    service_logs,
    stack_status,
)
from workers_tooling.cli import main
from workers_tooling.swarm._docker_client import docker_client

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(900)]

CLUSTER = Cluster()
CLUSTER_LOCK = Path("/tmp/camunda-workers-cluster-test.lock")
STACK = "cwx"
WORKER = "hello-world"
VENV = Path(sys.prefix)
GREETED = re.compile(r"greeted \S+ for ([0-9a-f-]{36})")
TASK_PREFIX = re.compile(rf"^{STACK}_{WORKER}\.\d+\.(\w+)@(\S+)\s")


@dataclass
class Deployed:
    repo: Path
    api: EngineApi
    env: dict[str, str]  # of `make deploy`


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """The three nodes, the registry and the sshd; the tests reach the manager over SSH."""
    require_docker_or_skip(("scripts/base-images.sh",), ("scripts/base-images.sh", "postgres"),
                           ("engine/engine.sh", "build", "camunda"))
    if os.geteuid() != 0:
        if IN_CI:
            pytest.fail("the cluster test needs root (namespaces, iptables)", pytrace=False)
        pytest.skip("the cluster test needs root (namespaces, iptables)")
    # One test session at a time on this machine owns the cluster (its name and subnet
    # are fixed): another one (a second worktree's `make test`) waits here.
    with CLUSTER_LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        seconds = CLUSTER.up()
        print(f"\n[cluster] {CLUSTER.nodes} nodes, registry and sshd up in {seconds:.1f}s")
        saved = {key: os.environ.get(key) for key in ("DOCKER_HOST", "REGISTRY", "TAG")}
        os.environ["DOCKER_HOST"] = CLUSTER.docker_host
        os.environ.pop("TAG", None)
        try:
            yield CLUSTER
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            CLUSTER.down()


def test_deploy_refuses_local_images_on_a_multi_node_swarm(
        cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REGISTRY", raising=False)
    with pytest.raises(LocalImagesOnMultiNodeSwarm) as caught:
        deploy(REPO, stack=STACK, stack_file=tmp_path / "stack.yml")
    message = str(caught.value)
    assert message.startswith(f"this Swarm has 3 nodes ({cluster.hostname(1)}, "
                              f"{cluster.hostname(2)}, {cluster.hostname(3)}) and each pulls "
                              "the worker images from a registry, but no REGISTRY is set")
    assert "local/workers-hello-world:0.1.0" in message
    assert "set REGISTRY=HOST:PORT" in message
    assert cluster.docker(1, "service", "ls", "-q") == ""  # nothing deployed


def test_deploy_refuses_images_the_registry_does_not_have(
        cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGISTRY", cluster.registry)
    monkeypatch.setenv("TAG", "never-pushed")
    with pytest.raises(LocalImagesOnMultiNodeSwarm) as caught:
        deploy(REPO, stack=STACK, stack_file=tmp_path / "stack.yml", build=False, push=False)
    message = str(caught.value)
    assert "but the manager finds these in no registry: " in message
    assert f"{cluster.registry}/workers-hello-world:never-pushed (manifest unknown" in message
    assert cluster.docker(1, "service", "ls", "-q") == ""


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

def _copy_repo(target: Path) -> Path:
    """The repository without caches; of engine/target only the jar (make deploy uses it)."""
    caches = shutil.ignore_patterns(".venv", ".git", "__pycache__", ".run", "*.egg-info",
                                    ".pytest_cache", ".mypy_cache", ".ruff_cache", "wheelhouse")

    def ignore(folder: str, names: list[str]) -> set[str]:
        if Path(folder) == REPO / "engine" / "target":
            return {name for name in names if name != "engine-camunda.jar"}
        return set(caches(folder, names))

    shutil.copytree(REPO, target, ignore=ignore, symlinks=True)
    return target


def _edit_worker(repo: Path, **fields: Any) -> None:
    path = repo / "workers" / WORKER / "worker.json"
    spec = json.loads(path.read_text())
    spec.update(fields)
    path.write_text(json.dumps(spec, indent=2) + "\n")


def _make_deploy(deployed_repo: Path, env: dict[str, str]) -> float:
    """``make deploy`` in the copy, as a person types it; the seconds it took."""
    started = time.monotonic()
    done = subprocess.run(
        ["make", "-C", str(deployed_repo), f"--old-file={VENV}/.installed", "deploy",
         f"VENV={VENV}", f"STACK={STACK}"],
        env=env, capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, f"make deploy failed:\n{done.stdout[-4000:]}\n{done.stderr}"
    assert f"deployed and converged stack {STACK} (2 workers on 3 nodes, " in done.stdout, (
        done.stdout[-2000:])
    return time.monotonic() - started


@pytest.fixture(scope="module")
def deployed(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    repo = _copy_repo(tmp_path_factory.mktemp("cluster") / "repo")
    # Three replicas, at most two per node (so losing a node leaves room for its
    # replicas), a quicker rolling update than the defaults.
    _edit_worker(repo, replicas=3, placement={"max_replicas_per_node": 2},
                 update={"delay": "5s", "monitor": "30s"})
    env = {key: value for key, value in os.environ.items()
           if key not in ("TAG", "ENGINE_IMAGE", "MAKEFLAGS", "MFLAGS")}
    env.update(DOCKER_HOST=cluster.docker_host, REGISTRY=cluster.registry,
               ENVIRONMENT="production", BASE_IMAGE="local/python-base:bookworm",
               JRE_BASE_IMAGE="local/jre-base:bookworm", MONITORING="1",
               # Prometheus' port published on the manager (asked for: not the default),
               # where this machine reads it
               PUBLISH_MONITORING="1",
               PROMETHEUS_BASE_IMAGE="local/prometheus-base:bookworm",
               # The nodes here share the machine's /var/run/docker.sock (only their
               # network namespaces differ): the socket proxy gets the manager's own socket.
               MONITORING_DOCKER_SOCKET=cluster.socket(1).removeprefix("unix://"))
    # What a person does once before the first deploy: the database's password as a
    # secret, and the node its volume lives on labelled (the manager, which has its image).
    secret = f"{STACK}_db_password"
    created = subprocess.run(["docker", "-H", cluster.socket(1), "secret", "create", secret, "-"],
                             input=os.urandom(16).hex(), capture_output=True, text=True,
                             check=False)
    assert created.returncode == 0, created.stderr
    cluster.docker(1, "node", "update", "--label-add", "camunda-workers.db=true",
                   cluster.hostname(1))
    env.update(DB_PASSWORD_SECRET=secret, POSTGRES_IMAGE=POSTGRES_IMAGE)
    seconds = _make_deploy(repo, env)
    print(f"\n[cluster] make deploy over SSH (build on the manager, push, deploy): "
          f"{seconds:.0f}s")
    api = EngineApi(f"http://{cluster.manager_ip}:8080/engine-rest")
    try:
        wait_until(lambda: _answers(api), timeout=300, interval=2, what="the engine service")
        for bpmn in ("hello_world.bpmn", "publicacao.bpmn"):
            files = {bpmn: (bpmn, (repo / "processes" / bpmn).read_bytes(), "application/xml")}
            response = api.http.post("/deployment/create", files=files,
                                     data={"deployment-name": bpmn})
            assert response.status_code == 200, response.text
        wait_until(lambda: len(set(_worker().nodes)) == 3, timeout=300, interval=2,
                   what="three replicas running on three nodes")
        yield Deployed(repo, api, env)
    finally:
        api.close()


def _answers(api: EngineApi) -> bool:
    try:
        return api.http.get("/engine").status_code == 200
    except httpx.HTTPError:
        return False


def _worker() -> ServiceStatus:
    return next(s for s in stack_status(STACK) if s.worker == WORKER)


def _start(api: EngineApi, count: int, prefix: str, per_second: float | None = None,
           ) -> list[str]:
    if per_second is None:
        with ThreadPoolExecutor(8) as pool:
            return list(pool.map(lambda n: api.start("hello_world", {"name": f"{prefix}{n}"}),
                                 range(count)))
    instances = []
    for n in range(count):
        instances.append(api.start("hello_world", {"name": f"{prefix}{n}"}))
        time.sleep(1 / per_second)
    return instances


def _log_lines() -> list[str]:
    return list(service_logs(WORKER, stack=STACK))


def _greetings(lines: list[str]) -> Counter[str]:
    """Handler executions per process instance, from every replica's lines on every node."""
    return Counter(match.group(1) for line in lines if (match := GREETED.search(line)))


def _duplicates(instances: list[str], greetings: Counter[str]) -> dict[str, int]:
    return {i: greetings[i] - 1 for i in instances if greetings[i] > 1}


def _swarm_task_id(worker_id: str) -> str:
    """The Swarm task id in a worker id the engine recorded: the SDK's WORKER_ID is the task
    name (``stack_service.slot.taskid``) and each poll adds ``#tag-n`` to it."""
    return worker_id.split("#", 1)[0].rsplit(".", 1)[-1]


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
    return Counter(task_nodes.get(_swarm_task_id(row["workerId"]), "?")
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
    for node in set(_worker().nodes):
        index = int(node.rsplit("node", 1)[1])
        cluster.docker(index, "image", "inspect", f"{cluster.registry}/workers-{WORKER}@{digest}")
    return digest


def test_deploy_over_ssh_pins_digests_and_spreads_300_instances_over_3_nodes(
        cluster: Cluster, deployed: Deployed) -> None:
    _pinned_and_pulled(cluster, "0.1.0")
    engine = _service_image(cluster, f"{STACK}_camunda")
    assert engine.startswith(f"{cluster.registry}/camunda-engine:camunda-7.24@sha256:")
    publicacao = _service_image(cluster, f"{STACK}_publicacao")
    assert publicacao.startswith(f"{cluster.registry}/workers-publicacao:0.1.0@sha256:")
    engine_node = cluster.docker(1, "service", "ps", "--filter", "desired-state=running",
                                 "--format", "{{.Node}}", f"{STACK}_camunda").split()
    assert engine_node == [cluster.hostname(1)]  # pinned to the manager
    # every replica polls (none still backing off from the engine's start), as Prometheus
    # on the manager sees it, before the load: otherwise the first one up takes it all
    with PrometheusApi(f"http://{cluster.manager_ip}:9090") as prometheus:
        wait_until(lambda: _ready_replicas(prometheus) == 3, timeout=180, interval=3,
                   what="3 hello-world replicas ready")

    instances = _start(deployed.api, 300, "spread-")
    deployed.api.wait_finished(instances, timeout=300)
    by_node = _completed_by_node(deployed.api, instances)
    duplicates = _duplicates(instances, _greetings(_log_lines()))
    print(f"\n[cluster] spread: started=300 completed={deployed.api.finished(instances)} "
          f"by node {dict(sorted(by_node.items()))} duplicates={len(duplicates)}")
    assert sum(by_node.values()) == 300
    assert set(by_node) == {cluster.hostname(n) for n in (1, 2, 3)}
    assert duplicates == {}


def test_status_and_logs_over_ssh_and_through_a_docker_context(
        cluster: Cluster, deployed: Deployed, tmp_path: Path,
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
        cluster: Cluster, deployed: Deployed, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The direct check: one probe container on the manager's end of the overlay network
    reaches every replica at its own address, on every node (never the routing mesh)."""
    monkeypatch.setenv("COLUMNS", "300")
    assert main(["monitoring-status", "--stack", STACK, "--repo", str(deployed.repo)]) == 0
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
        cluster: Cluster, deployed: Deployed, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    prometheus = PrometheusApi(f"http://{cluster.manager_ip}:9090")
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
    url = f"http://{cluster.manager_ip}:9090"
    assert main(["monitoring-status", "--stack", STACK, "--repo", str(deployed.repo),
                 "--prometheus", url]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if f" {WORKER} " in line)
    assert re.search(rf"│ {WORKER} +│ 3 +│", row), row
    with capsys.disabled():
        print(f"[cluster] monitoring-status --prometheus: {' '.join(row.split())}")


def test_rolling_update_pushed_through_the_registry(cluster: Cluster, deployed: Deployed,
                                                    ) -> None:
    main_py = deployed.repo / "workers" / WORKER / "main.py"
    main_py.write_text(main_py.read_text().replace('f"Hello, {name}!"', 'f"Hi, {name}!"'))
    _edit_worker(deployed.repo, version="0.1.1")
    old_digest = _registry_digest(cluster.registry, f"workers-{WORKER}", "0.1.0")
    with ThreadPoolExecutor(1) as background:
        arriving = background.submit(_start, deployed.api, 300, "rolling-", 4.0)
        seconds = _make_deploy(deployed.repo, deployed.env)
        wait_until(lambda: _worker().update_state == "completed", timeout=400, interval=2,
                   what="the rolling update to complete")
        instances = arriving.result()
    deployed.api.wait_finished(instances, timeout=300)
    new_digest = _pinned_and_pulled(cluster, "0.1.1")
    assert new_digest != old_digest
    rows = deployed.api.post(
        "/history/variable-instance?maxResults=5000&deserializeValues=false",
        {"variableName": "greeting", "processInstanceIdIn": instances})
    versions = Counter(row["value"].split(",")[0] for row in rows)
    duplicates = _duplicates(instances, _greetings(_log_lines()))
    worker = _worker()
    print(f"\n[cluster] rolling update through the registry: deploy {seconds:.0f}s, "
          f"started=300 completed={deployed.api.finished(instances)} greetings "
          f"{dict(versions)} duplicates={len(duplicates)} nodes={sorted(worker.nodes)}")
    assert set(versions) == {"Hello", "Hi"}  # both versions served while it rolled
    assert duplicates == {}
    assert worker.running == 3
    assert len(set(worker.nodes)) >= 2


def _worker_node_with_a_replica(cluster: Cluster) -> int:
    """A node other than the manager (the engine is pinned there) running a replica."""
    nodes = Counter(_worker().nodes)
    candidates = [n for n in (2, 3) if nodes[cluster.hostname(n)]]
    assert candidates, f"no worker node runs a replica: {nodes}"
    return max(candidates, key=lambda n: nodes[cluster.hostname(n)])


def test_drain_a_node_under_load(cluster: Cluster, deployed: Deployed) -> None:
    node = _worker_node_with_a_replica(cluster)
    hostname = cluster.hostname(node)
    api = deployed.api
    with ThreadPoolExecutor(1) as background:
        arriving = background.submit(_start, api, 300, "drain-", 15.0)
        time.sleep(6)  # instances arrive for 20 s: drain in the middle of it
        cluster.docker(1, "node", "update", "--availability", "drain", hostname)
        instances = arriving.result()
    try:
        api.wait_finished(instances, timeout=300)
        wait_until(lambda: _worker().running == 3 and hostname not in _worker().nodes,
                   timeout=180, interval=2, what=f"the replicas to leave {hostname}")
        nodes = sorted(_worker().nodes)
        duplicates = _duplicates(instances, _greetings(_log_lines()))
        completed = api.finished(instances)
        print(f"\n[cluster] drain {hostname} under load: started=300 completed={completed} "
              f"lost={300 - completed} duplicates={len(duplicates)} replicas now on {nodes}")
        assert completed == 300
        assert duplicates == {}
    finally:
        cluster.docker(1, "node", "update", "--availability", "active", hostname)


def test_node_lost_under_load(cluster: Cluster, deployed: Deployed) -> None:
    node = _worker_node_with_a_replica(cluster)
    hostname = cluster.hostname(node)
    api = deployed.api
    lost_replicas = Counter(_worker().nodes)[hostname]
    on_node = {r.slot for r in _worker().replicas if r.node == hostname}
    with ThreadPoolExecutor(1) as background:
        arriving = background.submit(_start, api, 300, "lost-", 15.0)
        time.sleep(6)
        cluster.kill(node)  # power loss: dockerd, containerd, the replicas: SIGKILL
        held = _held_by(api, hostname)
        instances = arriving.result()
    try:
        api.wait_finished(instances, timeout=300)  # locks of the lost node expire (30 s)
        wait_until(lambda: _worker().running == 3, timeout=180, interval=2,
                   what="Swarm to reschedule the lost node's replicas")
        worker = _worker()
        rescheduled = sorted(worker.nodes)
        assert hostname not in worker.nodes
        print(f"\n[cluster] node {hostname} lost with {lost_replicas} replica(s) "
              f"(slots {sorted(on_node)}); rescheduled onto {rescheduled}")
    finally:
        cluster.up()  # the node boots again and rejoins; its containers' logs come back
    wait_until(lambda: hostname in _ready_nodes(cluster), timeout=120, interval=1,
               what=f"{hostname} to rejoin")
    greetings = _greetings(_log_lines())
    duplicates = _duplicates(instances, greetings)
    completed = api.finished(instances)
    print(f"[cluster] node lost under load: started=300 completed={completed} "
          f"held by {hostname} at the loss={len(held)} duplicates={sum(duplicates.values())} "
          f"(all among the held: {set(duplicates) <= held})")
    assert completed == 300
    assert set(duplicates) <= held  # at least once: only what the lost node had locked


def _held_by(api: EngineApi, hostname: str) -> set[str]:
    """Process instances whose task the engine has locked for a replica on ``hostname``."""
    with docker_client() as client:
        service = client.services.get(f"{STACK}_{WORKER}")
        node_ids = {n.id for n in client.nodes.list()
                    if n.attrs["Description"]["Hostname"] == hostname}
        tasks = {t["ID"] for t in service.tasks() if t.get("NodeID") in node_ids}
    rows = api.get("/external-task", topicName="say_hello", locked="true",
                   maxResults="10000")
    return {row["processInstanceId"] for row in rows
            if row.get("workerId") and _swarm_task_id(row["workerId"]) in tasks}


def _ready_nodes(cluster: Cluster) -> list[str]:
    listed = cluster.docker(1, "node", "ls", "--format", "{{.Hostname}} {{.Status}}")
    return [line.split()[0] for line in listed.splitlines() if line.endswith(" Ready")]


def test_stack_rm_and_cluster_down_leave_nothing_behind(cluster: Cluster,
                                                        deployed: Deployed) -> None:
    done = subprocess.run(["docker", "stack", "rm", STACK], capture_output=True, text=True,
                          env={**os.environ, "DOCKER_HOST": cluster.docker_host}, check=False)
    assert done.returncode == 0, done.stderr

    def gone() -> bool:
        services = cluster.docker(1, "service", "ls", "-q", "--filter",
                                  f"label=com.docker.stack.namespace={STACK}")
        networks = cluster.docker(1, "network", "ls", "-q", "--filter",
                                  f"label=com.docker.stack.namespace={STACK}")
        containers = [cluster.docker(n, "ps", "-q") for n in (1, 2, 3)]
        return not services.strip() and not networks.strip() and not any(
            c.strip() for c in containers)

    wait_until(gone, timeout=180, interval=2, what="the stack's services, network, containers")
    cluster.down()
    assert cluster.leftovers() == []
    cluster.down()  # again: nothing to do
    assert cluster.leftovers() == []
