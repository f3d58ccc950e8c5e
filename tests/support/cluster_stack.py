"""The production stack on the session's three-node cluster, deployed once and shared by the
cluster test modules (``cluster_stack`` fixture, registered in ``tests/conftest.py``).

Deployed the production way, from this machine over SSH: ``DOCKER_HOST=ssh://root@MANAGER
ENVIRONMENT=production REGISTRY=BRIDGE:5000 MONITORING=1 PUBLISH_MONITORING=1 make deploy``
(build on the manager, push to the registry, ``docker stack deploy``; nodes pull by
digest). The db is pinned by its label to node1 (which has its image); the engine runs on
any manager, its port published in host mode on the node that runs it, so the tests reach
it (and Prometheus) wherever Swarm placed it. At the end of the session the stack is
removed and must leave no service, network or container behind.
"""

from __future__ import annotations

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

from tests.support.cluster import Cluster, docker_host_of
from tests.support.docker import POSTGRES_IMAGE
from tests.support.engine import REPO, EngineApi, wait_until
from workers_tooling import ServiceStatus, ToolingError, service_logs, stack_status
from workers_tooling.swarm._docker_client import docker_client

STACK = "cwx"
WORKER = "hello-world"
DB_NODE = 1  # labelled camunda-workers.db=true: the node that has the database's image
VENV = Path(sys.prefix)
GREETED = re.compile(r"greeted \S+ for ([0-9a-f-]{36})")


@dataclass
class ClusterStack:
    cluster: Cluster
    repo: Path
    env: dict[str, str]  # of `make deploy`
    api: EngineApi  # at the node that runs the engine (follow_engine() after it moved)
    db_password: str  # the secret's value: it must show nowhere (test_cluster_node_loss)

    def engine_node(self) -> str:
        nodes = self.cluster.service_nodes(f"{STACK}_camunda")
        assert len(nodes) == 1, f"the engine runs on {nodes}"
        return nodes[0]

    def follow_engine(self, timeout: float = 420) -> str:
        """Wait until the engine answers on the node Swarm runs it on; that node."""
        def answering() -> str | None:
            try:
                node = self.engine_node()
            except (AssertionError, RuntimeError):
                return None
            api = engine_api(self.cluster, node)
            if answers(api):
                self.api.close()
                self.api = api
                return node
            api.close()
            return None

        found: str = wait_until(answering, timeout=timeout, interval=1,
                                what="the engine service to answer")
        return found

    def prometheus_url(self) -> str:
        nodes = self.cluster.service_nodes(f"{STACK}_monitoring")
        assert len(nodes) == 1, f"Prometheus runs on {nodes}"
        return f"http://{self.cluster.ip(self.cluster.index(nodes[0]))}:9090"


def engine_api(cluster: Cluster, hostname: str) -> EngineApi:
    return EngineApi(f"http://{cluster.ip(cluster.index(hostname))}:8080/engine-rest")


def answers(api: EngineApi) -> bool:
    try:
        return api.http.get("/engine", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def worker() -> ServiceStatus:
    return next(s for s in stack_status(STACK) if s.worker == WORKER)


def start(api: EngineApi, count: int, prefix: str, per_second: float | None = None,
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


def scale_worker(cluster: Cluster, replicas: int) -> None:
    """``docker service scale`` of the worker, waiting until that many run (0: until no
    container of it is left on any node). From 0 to 3 Swarm puts one on each node."""
    cluster.docker(1, "service", "scale", "-d", f"{STACK}_{WORKER}={replicas}")
    if replicas:
        wait_until(lambda: len(cluster.service_nodes(f"{STACK}_{WORKER}")) == replicas,
                   timeout=180, interval=1, what=f"{replicas} replicas of {WORKER} running")
        return
    label = f"label=com.docker.swarm.service.name={STACK}_{WORKER}"
    wait_until(lambda: not any(cluster.docker(n, "ps", "-q", "--filter", label).strip()
                               for n in range(1, cluster.nodes + 1)),
               timeout=180, interval=1, what=f"the replicas of {WORKER} to stop")


def swarm_task_id(worker_id: str) -> str:
    """The Swarm task id in a worker id the engine recorded: the SDK's WORKER_ID is the task
    name (``stack_service.slot.taskid``) and each poll adds ``#tag-n`` to it."""
    return worker_id.split("#", 1)[0].rsplit(".", 1)[-1]


def held_by(api: EngineApi, hostname: str) -> set[str]:
    """Process instances whose task the engine has locked for a replica on ``hostname``."""
    with docker_client() as client:
        service = client.services.get(f"{STACK}_{WORKER}")
        node_ids = {n.id for n in client.nodes.list()
                    if n.attrs["Description"]["Hostname"] == hostname}
        tasks = {t["ID"] for t in service.tasks() if t.get("NodeID") in node_ids}
    rows = api.get("/external-task", topicName="say_hello", locked="true",
                   maxResults="10000")
    return {row["processInstanceId"] for row in rows
            if row.get("workerId") and swarm_task_id(row["workerId"]) in tasks}


def log_lines() -> list[str]:
    return list(service_logs(WORKER, stack=STACK))


def logged_greetings(attempts: int = 12) -> Counter[str] | None:
    """:func:`greetings` of every replica's log; None when the logs stay unreadable (for a
    while after a lost node is back, Swarm answers "incomplete log stream")."""
    for _ in range(attempts):
        try:
            return greetings(log_lines())
        except ToolingError:
            time.sleep(5)
    return None


def copy_repo(target: Path) -> Path:
    """The repository without caches; of engine/target only the jar (make deploy uses it)."""
    # the wheelhouse is kept: the session's (``wheelhouse`` fixture), up to date, so the
    # deploy does not build it again (26 s)
    caches = shutil.ignore_patterns(".venv", ".git", "__pycache__", ".run", "*.egg-info",
                                    ".pytest_cache", ".mypy_cache", ".ruff_cache")

    def ignore(folder: str, names: list[str]) -> set[str]:
        if Path(folder) == REPO / "engine" / "target":
            return {name for name in names if name != "engine-camunda.jar"}
        return set(caches(folder, names))

    shutil.copytree(REPO, target, ignore=ignore, symlinks=True)
    return target


def edit_worker(repo: Path, **fields: Any) -> None:
    path = repo / "workers" / WORKER / "worker.json"
    spec = json.loads(path.read_text())
    spec.update(fields)
    path.write_text(json.dumps(spec, indent=2) + "\n")


def make_deploy(deployed_repo: Path, env: dict[str, str]) -> float:
    """``make deploy`` in the copy, as a person types it; the seconds it took. Its output,
    each line with the seconds since the start, goes to ``make-deploy-*.log`` beside the
    copy (where the time goes: builds over SSH, pushes, the stack converging)."""
    started = time.monotonic()
    lines = []
    with subprocess.Popen(
            ["make", "-C", str(deployed_repo), f"--old-file={VENV}/.installed", "deploy",
             f"VENV={VENV}", f"STACK={STACK}"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as make:
        assert make.stdout is not None
        for line in make.stdout:
            lines.append(f"{time.monotonic() - started:6.1f}s {line.rstrip()}")
        returncode = make.wait()
    seconds = time.monotonic() - started
    earlier = len(list(deployed_repo.parent.glob("make-deploy-*.log")))
    timeline = deployed_repo.parent / f"make-deploy-{earlier + 1}.log"
    timeline.write_text("\n".join(lines) + "\n")
    print(f"\n[cluster] make deploy: {seconds:.0f}s, timeline in {timeline}")
    output = "\n".join(lines)
    assert returncode == 0, f"make deploy failed:\n{output[-4000:]}"
    assert f"deployed and converged stack {STACK} (2 workers on 3 nodes, " in output, (
        output[-2000:])
    return seconds


@pytest.fixture(scope="session")
def cluster_stack(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory,
                  wheelhouse: Path) -> Iterator[ClusterStack]:
    repo = copy_repo(tmp_path_factory.mktemp("cluster") / "repo")
    # Three replicas, at most two per node (so losing a node leaves room for its
    # replicas), a quicker rolling update than the defaults.
    edit_worker(repo, replicas=3, placement={"max_replicas_per_node": 2},
                update={"delay": "5s", "monitor": "30s"})
    env = {key: value for key, value in os.environ.items()
           if key not in ("TAG", "ENGINE_IMAGE", "MAKEFLAGS", "MFLAGS")}
    env.update(DOCKER_HOST=cluster.docker_host, REGISTRY=cluster.registry,
               ENVIRONMENT="production", BASE_IMAGE="local/python-base:bookworm",
               JRE_BASE_IMAGE="local/jre-base:bookworm", MONITORING="1",
               # Prometheus' port published on its manager (asked for: not the default),
               # where this machine reads it
               PUBLISH_MONITORING="1",
               PROMETHEUS_BASE_IMAGE="local/prometheus-base:bookworm",
               # The nodes here share the machine's /var/run/docker.sock (only their
               # network namespaces differ): the socket proxy gets a manager's own socket.
               MONITORING_DOCKER_SOCKET=cluster.socket(1).removeprefix("unix://"))
    # What a person does once before the first deploy: the database's password as a
    # secret, and the node its volume lives on labelled (node1, which has its image).
    secret = f"{STACK}_db_password"
    password = os.urandom(16).hex()
    created = subprocess.run(["docker", "-H", cluster.socket(1), "secret", "create", secret, "-"],
                             input=password, capture_output=True, text=True, check=False)
    assert created.returncode == 0, created.stderr
    cluster.docker(1, "node", "update", "--label-add", "camunda-workers.db=true",
                   cluster.hostname(DB_NODE))
    env.update(DB_PASSWORD_SECRET=secret, POSTGRES_IMAGE=POSTGRES_IMAGE)
    seconds = make_deploy(repo, env)
    print(f"\n[cluster] make deploy over SSH (build on the manager, push, deploy): "
          f"{seconds:.0f}s")
    started = time.monotonic()
    stack = ClusterStack(cluster, repo, env, engine_api(cluster, cluster.hostname(1)),
                         password)
    try:
        moved = _engine_off_the_db_node(cluster)
        node = stack.follow_engine()
        print(f"[cluster] the engine answers on {node} {time.monotonic() - started:.0f}s "
              f"after the deploy (moved off the db's node: {moved})")
        for bpmn in ("hello_world.bpmn", "publicacao.bpmn"):
            files = {bpmn: (bpmn, (repo / "processes" / bpmn).read_bytes(), "application/xml")}
            response = stack.api.http.post("/deployment/create", files=files,
                                           data={"deployment-name": bpmn})
            assert response.status_code == 200, response.text
        with docker_host_of(cluster):
            wait_until(lambda: len(set(worker().nodes)) == 3, timeout=300, interval=2,
                       what="three replicas running on three nodes")
        yield stack
    finally:
        stack.api.close()
        _remove(cluster)


def _engine_off_the_db_node(cluster: Cluster) -> bool:
    """Swarm places the engine on any manager; when it picked the db's node, move it while
    it is still starting (the db's node paused, the engine's task replaced), so that a node
    loss can take the engine's node and leave the db's (tests/deploy/test_cluster_node_loss)."""
    db_node = cluster.hostname(DB_NODE)
    service = f"{STACK}_camunda"
    if cluster.service_nodes(service) != [db_node]:
        return False
    cluster.docker(1, "node", "update", "--availability", "pause", db_node)
    try:
        cluster.docker(1, "service", "update", "--force", "--detach", service)
        wait_until(lambda: cluster.service_nodes(service) not in ([], [db_node]),
                   timeout=300, interval=1, what="the engine to leave the db's node")
    finally:
        cluster.docker(1, "node", "update", "--availability", "active", db_node)
    return True


def _remove(cluster: Cluster) -> None:
    """``docker stack rm``: its services, network and containers go from every node."""
    done = subprocess.run(["docker", "stack", "rm", STACK], capture_output=True, text=True,
                          env={**os.environ, "DOCKER_HOST": cluster.docker_host}, check=False)
    assert done.returncode == 0, done.stderr

    def gone() -> bool:
        services = cluster.docker(1, "service", "ls", "-q", "--filter",
                                  f"label=com.docker.stack.namespace={STACK}")
        networks = cluster.docker(1, "network", "ls", "-q", "--filter",
                                  f"label=com.docker.stack.namespace={STACK}")
        containers = [cluster.docker(n, "ps", "-q") for n in range(1, cluster.nodes + 1)]
        return not services.strip() and not networks.strip() and not any(
            c.strip() for c in containers)

    started = time.monotonic()
    wait_until(gone, timeout=180, interval=2, what="the stack's services, network, containers")
    print(f"\n[cluster] docker stack rm: everything gone from every node in "
          f"{time.monotonic() - started:.0f}s")


def greetings(lines: list[str]) -> Counter[str]:
    """Handler executions per process instance, from every replica's lines on every node."""
    return Counter(match.group(1) for line in lines if (match := GREETED.search(line)))


def duplicates(instances: list[str], counted: Counter[str]) -> dict[str, int]:
    return {i: counted[i] - 1 for i in instances if counted[i] > 1}
