"""Fixtures of the deploy tests: the session's three-node cluster and the production stack on
it, shared by every cluster test module (tests/support/cluster.py, cluster_stack.py)."""

from tests.support.cluster import cluster
from tests.support.cluster_stack import cluster_stack

__all__ = ["cluster", "cluster_stack"]
