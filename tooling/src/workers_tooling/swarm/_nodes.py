"""The nodes of a Swarm as the tooling needs them: names, health, where replicas may go."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SwarmNode", "fits", "swarm_nodes"]

_CONSTRAINT = re.compile(r"^\s*(?P<key>\S+?)\s*(?P<op>==|!=)\s*(?P<value>\S.*?)\s*$")


@dataclass(frozen=True)
class SwarmNode:
    id: str
    hostname: str
    role: str  # manager | worker
    state: str  # ready | down | unknown | disconnected
    availability: str  # active | pause | drain
    labels: dict[str, str] = field(default_factory=dict)
    engine_labels: dict[str, str] = field(default_factory=dict)
    os: str = ""
    arch: str = ""

    @property
    def schedulable(self) -> bool:
        """Swarm places new tasks here."""
        return self.state == "ready" and self.availability == "active"

    def attribute(self, key: str) -> str | None:
        """The value a placement constraint compares (None: the node has no such label)."""
        fixed = {"node.id": self.id, "node.hostname": self.hostname, "node.role": self.role,
                 "node.platform.os": self.os, "node.platform.arch": self.arch}
        if key in fixed:
            return fixed[key]
        if key.startswith("node.labels."):
            return self.labels.get(key.removeprefix("node.labels."))
        if key.startswith("engine.labels."):
            return self.engine_labels.get(key.removeprefix("engine.labels."))
        return None


def swarm_nodes(client: Any) -> list[SwarmNode]:
    """Every node of the Swarm ``client`` manages, by hostname."""
    nodes = []
    for node in client.nodes.list():
        attrs = node.attrs
        spec, description = attrs.get("Spec", {}), attrs.get("Description", {})
        platform = description.get("Platform", {})
        nodes.append(SwarmNode(
            id=attrs["ID"], hostname=description.get("Hostname", attrs["ID"][:12]),
            role=spec.get("Role", ""), state=attrs.get("Status", {}).get("State", "unknown"),
            availability=spec.get("Availability", "active"),
            labels=dict(spec.get("Labels") or {}),
            engine_labels=dict((description.get("Engine") or {}).get("Labels") or {}),
            os=platform.get("OS", ""), arch=platform.get("Architecture", "")))
    return sorted(nodes, key=lambda node: node.hostname)


def fits(node: SwarmNode, constraints: Sequence[str]) -> bool:
    """Whether ``node`` meets every placement constraint (Swarm compares case-insensitively)."""
    for constraint in constraints:
        match = _CONSTRAINT.fullmatch(constraint)
        if match is None:
            return False
        actual = node.attribute(match["key"])
        equal = actual is not None and actual.lower() == match["value"].lower()
        if equal != (match["op"] == "=="):
            return False
    return True
