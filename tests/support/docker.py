"""A Docker engine with a single-node Swarm for tests: started here when missing.

Locally a machine without Docker skips these tests; in CI (``CI=true``) they fail.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.engine import IN_CI, REPO


def run(*command: str) -> str:
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


POSTGRES_IMAGE = "local/postgres:15"  # scripts/base-images.sh postgres
PYTHON_BASE = "local/python-base:bookworm"  # scripts/base-images.sh python
JRE_BASE = "local/jre-base:bookworm"  # scripts/base-images.sh jre
PROMETHEUS_BASE = "local/prometheus-base:bookworm"  # scripts/base-images.sh prometheus
# The engine image of the stack tests, built once per session from engine/ (make engine-image).
ENGINE_IMAGE = "local/camunda-engine:e2e"
DB_NODE_LABEL = "camunda-workers.db"


@dataclass(frozen=True)
class StackDatabase:
    """What a person does once before the first deploy of a stack with its database: the
    password secret (the stack file names it by DB_PASSWORD_SECRET) and the node label."""

    stack: str
    secret: str
    password: str

    @property
    def environ(self) -> dict[str, str]:
        """The deploy's settings: this secret and the locally built PostgreSQL image."""
        return {"DB_PASSWORD_SECRET": self.secret, "POSTGRES_IMAGE": POSTGRES_IMAGE}

    def remove(self) -> None:
        """The secret and the volume, after ``docker stack rm`` (once its containers are gone:
        a secret or volume in use cannot be removed)."""
        from tests.support.engine import wait_until

        wait_until(lambda: not run("docker", "ps", "-aq", "--filter",
                                   f"label=com.docker.stack.namespace={self.stack}").strip(),
                   timeout=180, interval=1, what=f"the containers of {self.stack} to go")
        subprocess.run(["docker", "secret", "rm", self.secret], capture_output=True, check=False)
        subprocess.run(["docker", "volume", "rm", "-f", f"{self.stack}_db-data"],
                       capture_output=True, check=False)


def stack_database(stack: str) -> StackDatabase:
    """A random password as the secret ``STACK_db_password``; this node labelled for the db.

    The label stays: other stacks on this shared Swarm may rely on it, and it pins nothing
    else."""
    password = secrets.token_hex(16)
    name = f"{stack}_db_password"
    done = subprocess.run(["docker", "secret", "create", name, "-"], input=password,
                          capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"docker secret create {name} failed: {done.stderr.strip()}")
    node = run("docker", "info", "-f", "{{.Swarm.NodeID}}").strip()
    labels = json.loads(run("docker", "node", "inspect", "-f", "{{json .Spec.Labels}}", node))
    if (labels or {}).get(DB_NODE_LABEL) != "true":
        run("docker", "node", "update", "--label-add", f"{DB_NODE_LABEL}=true", node)
    return StackDatabase(stack, name, password)


def require_docker_or_skip(*setup: tuple[str, ...]) -> None:
    """``scripts/docker-up.sh`` then each ``setup`` command; skip (fail in CI) if any fails."""
    try:
        run("scripts/docker-up.sh")
        for command in setup:
            run(*command)
    except (RuntimeError, OSError) as exc:
        if IN_CI:
            pytest.fail(f"Docker/Swarm unavailable in CI: {exc}", pytrace=False)
        pytest.skip(f"Docker/Swarm unavailable: {exc}")


def build_wheelhouse() -> Path:
    """``scripts/wheelhouse.sh`` in this checkout, as ``workers build`` runs it: the copies
    that :func:`copy_repo` makes then find it up to date instead of each building one."""
    run("scripts/wheelhouse.sh")
    return REPO / "wheelhouse"


def prepare_swarm() -> str:
    """Docker, the Swarm, the base images, the engine jar and ENGINE_IMAGE, each made here
    when missing; returns ENGINE_IMAGE. The session fixture ``swarm_engine_image``
    (tests/deploy/conftest.py) calls it once for every stack test."""
    require_docker_or_skip(
        ("scripts/base-images.sh",),
        ("scripts/base-images.sh", "postgres"),
        ("engine/engine.sh", "build", "camunda"),
        ("docker", "build", "-q", "-f", "engine/Dockerfile", "--build-arg",
         f"JRE_BASE_IMAGE={JRE_BASE}", "-t", ENGINE_IMAGE, "engine"),
    )
    return ENGINE_IMAGE


def remove_stack(stack: str, *, timeout: float = 180) -> None:
    """``docker stack rm`` and wait until its services are gone (its containers may still
    stop: :meth:`StackDatabase.remove` waits for those).

    A stack with a database loses its other services first: the engine's shutdown writes to
    its database, and with both stopped at once it waited for its 30 s grace period and
    was killed (measured: 36 s per teardown, 4 teardowns per run)."""
    from tests.support.engine import wait_until

    services = run("docker", "service", "ls", "--format", "{{.Name}}", "--filter",
                   f"label=com.docker.stack.namespace={stack}").split()
    database = f"{stack}_db"
    others = [service for service in services if service != database]
    if database in services and others:
        subprocess.run(["docker", "service", "rm", *others], capture_output=True, check=False)

        def only_the_database_runs() -> bool:
            running = run("docker", "ps", "--format",
                          '{{.Label "com.docker.swarm.service.name"}}', "--filter",
                          f"label=com.docker.stack.namespace={stack}").split()
            return set(running) <= {database}

        wait_until(only_the_database_runs, timeout=timeout, interval=1,
                   what=f"the services of {stack} but its database to stop")
    subprocess.run(["docker", "stack", "rm", stack], capture_output=True, check=False)
    wait_until(lambda: not run("docker", "service", "ls", "-q", "--filter",
                               f"label=com.docker.stack.namespace={stack}").strip(),
               timeout=timeout, interval=1, what=f"the stack {stack} to go")


def containers(stack: str, service: str, *, all_states: bool = False) -> list[str]:
    """The containers of ``stack``'s ``service`` on this node (running ones by default)."""
    return run("docker", "ps", "-q", *(["-a"] if all_states else []), "--filter",
               f"label=com.docker.swarm.service.name={stack}_{service}").split()


def copy_repo(target: Path) -> Path:
    """The repository as a stack test deploys it: without git, caches and build output."""
    ignore = shutil.ignore_patterns(".venv", ".git", "__pycache__", ".run", "target", "*.jar",
                                    ".pytest_cache", ".mypy_cache", ".ruff_cache")
    shutil.copytree(REPO, target, ignore=ignore, symlinks=True)
    return target


def hand_edit_engine(stack_file: Path, port: int) -> None:
    """What a person does on a machine without IPVS: the engine's port in host mode.

    Without IPVS (this kernel), Swarm's virtual IPs and ingress ports do not work; the
    `local` overlay gives the workers DNS round robin, and the engine (a service the
    generator leaves alone) is edited by hand, as its stack-file comment says.
    """
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.preserve_quotes = True
    data = yaml.load(stack_file.read_text())
    engine = data["services"]["camunda"]
    engine["ports"] = [{"target": 8080, "published": port, "mode": "host"}]
    engine["deploy"]["endpoint_mode"] = "dnsrr"
    with stack_file.open("w") as out:
        yaml.dump(data, out)
