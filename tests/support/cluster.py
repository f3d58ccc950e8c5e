"""A real multi-node Swarm on this machine for tests: ``scripts/cluster.sh`` with a name and
a subnet of the tests' own (so a cluster someone runs by hand is left alone)."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.engine import REPO

SCRIPT = REPO / "scripts" / "cluster.sh"


@dataclass(frozen=True)
class Cluster:
    name: str = "cwt"
    subnet_prefix: str = "10.213.48"
    nodes: int = 3

    @property
    def env(self) -> dict[str, str]:
        """The environment of cluster.sh for this cluster."""
        return {**os.environ, "CLUSTER_NAME": self.name,
                "CLUSTER_SUBNET": f"{self.subnet_prefix}.0/24",
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
