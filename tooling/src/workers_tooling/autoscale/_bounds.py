"""``workers scale`` on autoscaled workers: the autoscaler owns their replicas.

``workers scale NAME=N`` refuses a worker with an ``autoscale`` policy (the next round
would undo it); ``workers scale --bounds NAME=MIN..MAX`` changes the policy's
``min_replicas``/``max_replicas`` in its ``worker.json`` (and the stack file), which the
next ``workers deploy`` hands to the autoscaler and to the socket proxy's labels.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from camunda_workers import SpecError, validate_model

from .._atomic import atomic_write
from ..errors import InputError, ToolingError
from ..project._discovery import DiscoveredWorker, discover_workers
from ..project._jsonedit import set_member
from ..project._service_spec import ServiceSpec

__all__ = ["refuse_autoscaled", "set_bounds"]

_BOUNDS = re.compile(r"([^=]+)=(\d+)\.\.(\d+)")


def refuse_autoscaled(names: Sequence[str], workers: Mapping[str, DiscoveredWorker]) -> None:
    """:class:`InputError` when ``names`` has a worker the autoscaler owns."""
    for name in names:
        worker = workers.get(name)
        if worker is not None and (policy := worker.spec.autoscale) is not None:
            raise InputError(
                f"{name} is autoscaled (workers/{worker.path.name}/worker.json: autoscale, "
                f"{policy.min_replicas}..{policy.max_replicas} replicas): the autoscaler owns "
                f"its replicas; `workers scale --bounds {name}=MIN..MAX` changes its bounds")


def set_bounds(assignments: Sequence[str], repo: Path) -> tuple[str, ...]:
    """Write ``NAME=MIN..MAX`` into each worker's ``autoscale`` policy; returns the files
    written (all checked before any is written)."""
    workers = {worker.name: worker for worker in discover_workers(repo)}
    texts: dict[Path, str] = {}
    for assignment in assignments:
        match = _BOUNDS.fullmatch(assignment)
        if match is None:
            raise InputError(f"{assignment!r}: expected NAME=MIN..MAX, e.g. hello-world=0..6")
        name, low, high = match.group(1), int(match.group(2)), int(match.group(3))
        worker = workers.get(name)
        if worker is None or worker.spec.autoscale is None:
            raise InputError(f"{name}: not an autoscaled worker of this repository (no "
                             "\"autoscale\" in its worker.json); --bounds changes only those")
        path = worker.path / "worker.json"
        source = f"workers/{worker.path.name}/worker.json"
        text = path.read_text(encoding="utf-8")
        policy = {**json.loads(text).get("autoscale", {}), "min_replicas": low,
                  "max_replicas": high}
        changed = set_member(text, "autoscale", policy)
        try:
            validate_model(ServiceSpec, json.loads(changed), source=source)
        except SpecError as exc:
            problems = "; ".join(f"{where}: {message}" for where, message in exc.problems)
            raise InputError(f"{source}: autoscale: {low}..{high} is not allowed "
                             f"({problems})") from None
        texts[path] = changed
    written = []
    for path, text in texts.items():
        try:
            atomic_write(path, text)
        except OSError as exc:
            raise ToolingError(f"{path.relative_to(repo)}: cannot write ({exc.strerror}); "
                               "nothing else was changed after it") from None
        written.append(path.relative_to(repo).as_posix())
    return tuple(written)
