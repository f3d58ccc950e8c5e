"""Fixtures of the Docker end-to-end tests: what every stack test needs, made once; the
session's three-node cluster and the production stack on it, shared by every cluster test
module (tests/support/cluster.py, cluster_stack.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cluster import cluster, on_cluster
from tests.support.cluster_stack import cluster_stack
from tests.support.docker import build_wheelhouse, prepare_swarm, require_docker_or_skip

__all__ = ["cluster", "cluster_stack", "on_cluster", "swarm", "swarm_engine_image", "wheelhouse"]


@pytest.fixture(scope="session")
def swarm() -> None:
    """A Docker engine in a Swarm (started here when missing): else a skip, a failure in CI,
    remembered for the session's other tests."""
    require_docker_or_skip()


@pytest.fixture(scope="session")
def wheelhouse() -> Path:
    """This checkout's wheelhouse, built once: every copy of the repository a test deploys
    or builds from carries it, up to date."""
    return build_wheelhouse()


@pytest.fixture(scope="session")
def swarm_engine_image(swarm: None, wheelhouse: Path) -> str:
    """The base images and the engine image of the stack tests, prepared once per session."""
    return prepare_swarm()
