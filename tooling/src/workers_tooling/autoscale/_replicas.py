"""``workers deploy`` and the autoscaler agree: a deploy keeps the replicas that run.

``docker stack deploy`` sets every service's replicas to the stack file's number, which
would undo the autoscaler's work at every deploy (6 replicas mid-burst back to 1, until
the next round scales up again, and tasks held by the stopped replicas are worked twice).
So before the deploy, each autoscaled worker whose service already runs gets that
service's current replicas written into the rendered stack file; a new service starts
with its ``worker.json`` replicas, and the autoscaler takes it from there.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from docker.errors import DockerException

from ..errors import ToolingError
from ..stackfile._labels import WORKER_LABEL

__all__ = ["keep_running_replicas", "running_replicas"]


def running_replicas(client: Any, stack: str, workers: Iterable[str]) -> dict[str, int]:
    """Worker -> the replicas its service in ``stack`` runs now (deployed ones only)."""
    wanted = set(workers)
    try:
        services = client.services.list(
            filters={"label": f"com.docker.stack.namespace={stack}"})
    except DockerException as exc:
        raise ToolingError(f"Docker: {' '.join(str(exc).split())[:300]}") from None
    found: dict[str, int] = {}
    for service in services:
        spec = service.attrs.get("Spec") or {}
        worker = (spec.get("Labels") or {}).get(WORKER_LABEL)
        replicated = (spec.get("Mode") or {}).get("Replicated")
        if worker in wanted and isinstance(replicated, dict):
            found[worker] = int(replicated.get("Replicas", 1))
    return found


def keep_running_replicas(client: Any, stack: str, rendered: Path,
                          workers: Iterable[str]) -> dict[str, int]:
    """Write the running replicas of ``workers`` into ``rendered`` (a stack file made by
    ``workers compose``, not a file a user edits); returns what was kept."""
    from ruamel.yaml import YAML

    kept = running_replicas(client, stack, workers)
    if not kept:
        return kept
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    data = yaml.load(rendered.read_text(encoding="utf-8"))
    services = data.get("services") or {}
    kept = {name: replicas for name, replicas in kept.items() if name in services}
    for name, replicas in kept.items():
        services[name].setdefault("deploy", {})["replicas"] = replicas
    with rendered.open("w", encoding="utf-8") as out:
        yaml.dump(data, out)
    return kept
