"""A real multi-node Swarm on this machine for tests: ``scripts/cluster.sh`` with a name and
a subnet of the tests' own (so a cluster someone runs by hand is left alone).

The ``cluster`` fixture (session scope, registered in ``tests/deploy/conftest.py``) is the
one cluster every test module of a session shares: three nodes, all managers, a registry and
an sshd on node1. A cluster module uses ``on_cluster``: ``DOCKER_HOST`` is node1 over SSH for
that module only. It comes up once (about
30 s) and goes at the end of the session, when ``down`` must leave nothing behind. A test
that kills a node brings it back (``cluster.up()``) before it ends.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.docker import require_docker_or_skip
from tests.support.engine import IN_CI, REPO, wait_until

SCRIPT = REPO / "scripts" / "cluster.sh"
# One test session at a time on this machine owns the cluster (its name and subnet are
# fixed): another one (a second worktree's `make test`) waits for this lock.
SESSION_LOCK = Path("/tmp/camunda-workers-cluster-test.lock")


@dataclass(frozen=True)
class Cluster:
    name: str = "cwt"
    subnet_prefix: str = "10.213.48"
    nodes: int = 3
    managers: int = 3  # Raft keeps its quorum when one is lost

    @property
    def env(self) -> dict[str, str]:
        """The environment of cluster.sh for this cluster."""
        return {**os.environ, "CLUSTER_NAME": self.name,
                "CLUSTER_SUBNET": f"{self.subnet_prefix}.0/24",
                "CLUSTER_MANAGERS": str(self.managers),
                # the bases of every image built on the manager, the monitoring one's too,
                # and the database's (it runs on the manager, labelled camunda-workers.db)
                "CLUSTER_IMAGES": "local/python-base:bookworm local/jre-base:bookworm "
                                  "local/prometheus-base:bookworm local/postgres:15"}

    @property
    def manager_ip(self) -> str:
        return self.ip(1)

    def ip(self, node: int) -> str:
        return f"{self.subnet_prefix}.{10 + node}"

    def hostname(self, node: int) -> str:
        return f"{self.name}-node{node}"

    def index(self, hostname: str) -> int:
        """The node number of a Swarm hostname (``cwt-node2`` → 2)."""
        return int(hostname.rsplit("node", 1)[1])

    @property
    def docker_host(self) -> str:
        """How production reaches the manager: SSH (key and host key set up by cluster.sh)."""
        return f"ssh://root@{self.manager_ip}"

    @property
    def registry(self) -> str:
        return f"{self.subnet_prefix}.1:5000"

    def socket(self, node: int) -> str:
        """The node's dockerd, directly (what the test harness uses to look at a node)."""
        return f"unix:///run/camunda-workers-cluster/{self.name}/node{node}/docker.sock"

    def script(self, *args: str, timeout: float = 600) -> str:
        done = subprocess.run([str(SCRIPT), *args], env=self.env, capture_output=True,
                              text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"cluster.sh {' '.join(args)} failed ({done.returncode}):\n"
                               f"{done.stdout}\n{done.stderr}")
        return done.stdout

    def up(self) -> float:
        """Bring the cluster up (or back); the seconds it took."""
        started = time.monotonic()
        self.script("up", str(self.nodes))
        return time.monotonic() - started

    def down(self) -> None:
        self.script("down")

    def kill(self, node: int) -> None:
        """Node ``node`` loses power (every process SIGKILLed); ``up`` boots it again."""
        self.script("kill", str(node))

    def docker(self, node: int, *args: str, timeout: float = 120) -> str:
        """``docker ARGS`` on one node's dockerd (not through SSH)."""
        done = subprocess.run(["docker", "-H", self.socket(node), *args], capture_output=True,
                              text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"docker {' '.join(args)} on node{node} failed:\n{done.stderr}")
        return done.stdout

    def service_nodes(self, service: str, *, via: int = 1) -> list[str]:
        """Hostnames of the nodes where the service's tasks run (asked of manager ``via``)."""
        listed = self.docker(via, "service", "ps", "--filter", "desired-state=running",
                             "--format", "{{.Node}} {{.CurrentState}}", service)
        return [line.split()[0] for line in listed.splitlines()
                if line.split()[1:2] == ["Running"]]

    def ready_nodes(self, *, via: int = 1) -> list[str]:
        listed = self.docker(via, "node", "ls", "--format", "{{.Hostname}} {{.Status}}")
        return [line.split()[0] for line in listed.splitlines() if line.endswith(" Ready")]

    def leftovers(self) -> list[str]:
        """Everything of this cluster still on the machine (empty after ``down``)."""
        found = []
        namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                                    check=False).stdout
        found += [f"netns {line.split()[0]}" for line in namespaces.splitlines()
                  if line.startswith(f"{self.name}-")]
        links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True,
                               check=False).stdout
        found += [f"link {line.split(':')[1].strip()}" for line in links.splitlines()
                  if line.split(":")[1].strip().split("@")[0].startswith(f"{self.name}-")]
        rules = subprocess.run(["iptables", "-S", "FORWARD"], capture_output=True, text=True,
                               check=False).stdout
        found += [f"iptables {line}" for line in rules.splitlines()
                  if f"camunda-workers-cluster:{self.name}" in line]
        mounts = Path("/proc/self/mounts").read_text()
        found += [f"mount {line.split()[1]}" for line in mounts.splitlines()
                  if f"camunda-workers-cluster/{self.name}" in line]
        for path in (Path("/run/camunda-workers-cluster") / self.name,
                     Path("/var/lib/camunda-workers-cluster") / self.name,
                     Path(f"/etc/ssh/ssh_config.d/camunda-workers-cluster-{self.name}.conf"),
                     Path(f"/run/lock/camunda-workers-cluster-{self.name}.lock"),
                     *Path("/sys/fs/cgroup").glob(f"*/{self.name}-node*")):
            if path.exists():
                found.append(f"path {path}")
        processes = subprocess.run(["pgrep", "-af", f"camunda-workers-cluster/{self.name}"],
                                   capture_output=True, text=True, check=False).stdout
        found += [f"process {line}" for line in processes.splitlines()]
        return found


CLUSTER = Cluster()


@contextlib.contextmanager
def docker_host_of(cluster: Cluster) -> Iterator[None]:
    """``DOCKER_HOST`` the cluster's manager over SSH (and no ``TAG``) inside the block only:
    the cluster lives for the whole session, and the tests after the cluster modules must
    reach this machine's engine again (a session-wide DOCKER_HOST broke every one of them)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DOCKER_HOST", cluster.docker_host)
        patch.delenv("TAG", raising=False)
        yield


@pytest.fixture(scope="module")
def on_cluster(cluster: Cluster) -> Iterator[Cluster]:
    """The cluster as the Docker engine of one test module (``DOCKER_HOST``)."""
    with docker_host_of(cluster):
        yield cluster


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """The three-node cluster of this session; ``on_cluster`` makes it a module's
    ``DOCKER_HOST``."""
    require_docker_or_skip(("scripts/base-images.sh",), ("scripts/base-images.sh", "postgres"),
                           ("engine/engine.sh", "build", "camunda"))
    if os.geteuid() != 0:
        if IN_CI:
            pytest.fail("the cluster tests need root (namespaces, iptables)", pytrace=False)
        pytest.skip("the cluster tests need root (namespaces, iptables)")
    with SESSION_LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        seconds = CLUSTER.up()
        print(f"\n[cluster] {CLUSTER.nodes} nodes ({CLUSTER.managers} managers), registry "
              f"and sshd up in {seconds:.1f}s")
        try:
            yield CLUSTER
        finally:
            started = time.monotonic()
            CLUSTER.down()
            print(f"\n[cluster] down in {time.monotonic() - started:.1f}s")
            leftovers = CLUSTER.leftovers()
            CLUSTER.down()  # again: nothing to do
            assert leftovers == [], f"cluster.sh down left behind: {leftovers}"
            assert CLUSTER.leftovers() == []


def wait_node_back(cluster: Cluster, node: int) -> None:
    """After ``cluster.up()`` boots a killed node: Swarm sees it Ready again."""
    wait_until(lambda: cluster.hostname(node) in cluster.ready_nodes(), timeout=120,
               interval=1, what=f"{cluster.hostname(node)} to rejoin")
