"""Placement in worker.json: validated, in the JSON Schema, written for Swarm."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from workers_tooling import WorkerValidationError, compose_stack, discover_workers, worker_schema
from workers_tooling.swarm._deploy import _placement_warnings, _unplaceable
from workers_tooling.swarm._nodes import SwarmNode, fits

from .helpers import docker_stack_config, make_repo, worker_files

BAD: list[tuple[str, dict[str, Any], str]] = [
    ("max-zero", {"max_replicas_per_node": 0},
     "placement.max_replicas_per_node: Input should be greater than or equal to 1"),
    ("max-text", {"max_replicas_per_node": "one"},
     "placement.max_replicas_per_node: Input should be a valid integer"),
    ("constraint-one-equals", {"constraints": ["node.role = worker"]},
     "placement.constraints.0: 'node.role = worker' is not a Swarm constraint; write "
     "ATTRIBUTE == VALUE or != VALUE"),
    ("constraint-unknown-attribute", {"constraints": ["node.rol == worker"]},
     "placement.constraints.0: 'node.rol == worker' is not a Swarm constraint"),
    ("constraint-bad-role", {"constraints": ["node.role == boss"]},
     "placement.constraints.0: 'node.role == boss': node.role is manager or worker"),
    ("spread-not-a-label", {"preferences": [{"spread": "node.hostname"}]},
     "placement.preferences.0.spread: 'node.hostname': Swarm spreads over node labels only"),
    ("max-unknown-key", {"max_replica_per_node": 1},
     "placement.max_replica_per_node: unknown key; did you mean 'max_replicas_per_node'?"),
]


@pytest.mark.parametrize(("placement", "expected"), [(p, e) for _, p, e in BAD],
                         ids=[case for case, _, _ in BAD])
def test_bad_placement_is_refused_naming_file_field_and_fix(
        tmp_path: Path, placement: dict[str, Any], expected: str) -> None:
    repo = make_repo(tmp_path, worker_files("spread", 8010, placement=placement))
    with pytest.raises(WorkerValidationError) as caught:
        discover_workers(repo)
    assert any(problem.startswith("workers/spread/worker.json: ") and expected in problem
               for problem in caught.value.problems), caught.value.problems


def test_placement_is_written_for_swarm_and_docker_accepts_it(tmp_path: Path) -> None:
    placement = {"constraints": ["node.role != manager", "node.labels.zone == a"],
                 "preferences": [{"spread": "node.labels.zone"}],
                 "max_replicas_per_node": 1}
    repo = make_repo(tmp_path, worker_files("spread", 8010, replicas=3, placement=placement))
    compose_stack(repo)
    stack = repo / "docker-compose.swarm.yml"
    service = YAML(typ="safe").load(stack.read_text())["services"]["spread"]
    assert service["deploy"]["placement"] == placement
    rendered = YAML(typ="safe").load(docker_stack_config(stack))
    assert rendered["services"]["spread"]["deploy"]["placement"]["max_replicas_per_node"] == 1


def test_max_replicas_alone_and_no_placement(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, worker_files("spread", 8010, placement={"max_replicas_per_node": 2}),
                     worker_files("anywhere", 8011))
    compose_stack(repo)
    services = YAML(typ="safe").load((repo / "docker-compose.swarm.yml").read_text())["services"]
    assert services["spread"]["deploy"]["placement"] == {"max_replicas_per_node": 2}
    assert "placement" not in services["anywhere"]["deploy"]


def test_the_json_schema_has_max_replicas_per_node() -> None:
    placement = json.loads(worker_schema())["$defs"]["Placement"]["properties"]
    assert placement["max_replicas_per_node"]["anyOf"][0] == {"minimum": 1, "type": "integer"}
    assert {"constraints", "preferences"} <= set(placement)


def _node(hostname: str, role: str = "worker", availability: str = "active",
          state: str = "ready", **labels: str) -> SwarmNode:
    return SwarmNode(id=hostname, hostname=hostname, role=role, state=state,
                     availability=availability, labels=labels)


def test_constraints_are_matched_as_swarm_matches_them() -> None:
    node = _node("n1", zone="A")
    assert fits(node, ["node.role == worker", "node.labels.zone == a"])  # values: any case
    assert fits(node, ["node.labels.disk != ssd"])  # a label the node lacks is "not equal"
    assert not fits(node, ["node.labels.disk == ssd"])
    assert not fits(node, ["node.role != worker"])
    assert fits(_node("n2", role="manager"), ["node.hostname == n2", "node.role == manager"])


def test_deploy_warns_when_max_replicas_per_node_leaves_replicas_pending() -> None:
    nodes = [_node("m", role="manager"), _node("w1"), _node("w2", availability="drain"),
             _node("w3", state="down")]
    services = {
        "spread": {"deploy": {"replicas": 3, "placement": {"max_replicas_per_node": 1}}},
        "workers-only": {"deploy": {"replicas": 2, "placement": {
            "max_replicas_per_node": 2, "constraints": ["node.role == worker"]}}},
        "unbounded": {"deploy": {"replicas": 9}},
    }
    assert _placement_warnings(services, nodes) == [
        "spread: 3 replicas at most 1 per node need 3 nodes, 2 can take them now; "
        "1 will stay pending until more nodes fit"]


def test_deploy_warns_when_no_node_may_run_a_service() -> None:
    """The stack's db before its node is labelled: Swarm would leave it pending silently."""
    nodes = [_node("m", role="manager"), _node("w1", zone="a")]
    services = {
        "db": {"deploy": {"placement": {"constraints": [
            "node.labels.camunda-workers.db == true"]}}},
        "camunda": {"deploy": {"placement": {"constraints": ["node.role == manager"]}}},
        "zoned": {"deploy": {"placement": {"constraints": ["node.labels.zone == a"]}}},
        "free": {"image": "x"},
    }
    assert _unplaceable(services, nodes) == [
        "db: no node fits its placement (node.labels.camunda-workers.db == true), so it stays "
        "pending; label the node it belongs on: docker node update --label-add "
        "camunda-workers.db=true NODE"]


def test_deploy_warns_when_a_start_first_update_has_no_free_place() -> None:
    nodes = [_node("m", role="manager"), _node("w1"), _node("w2")]
    start_first = {"order": "start-first", "parallelism": 1}
    services = {
        "full": {"deploy": {"replicas": 3, "update_config": start_first,
                            "placement": {"max_replicas_per_node": 1}}},
        "room": {"deploy": {"replicas": 2, "update_config": start_first,
                            "placement": {"max_replicas_per_node": 1}}},
        "stop-first": {"deploy": {"replicas": 3, "update_config": {"order": "stop-first"},
                                  "placement": {"max_replicas_per_node": 1}}},
    }
    assert _placement_warnings(services, nodes) == [
        "full: a start-first update starts each new replica before stopping an old one, and "
        "its 3 replicas take all 3 places (at most 1 per node on 3 nodes): the next update "
        'will wait forever; set "update": {"order": "stop-first"} in its worker.json, raise '
        "max_replicas_per_node or add a node"]
