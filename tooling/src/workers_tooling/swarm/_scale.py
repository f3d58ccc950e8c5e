"""``workers scale NAME=N``: change the replicas of services, and keep them.

A worker's replicas are declared in its ``worker.json``: scaling a worker sets the running
service's replicas *and* writes ``"replicas": N`` there (and into the stack file), so the
next ``workers deploy`` deploys the same number instead of undoing the scale. Commit both
files. An overlay that sets the worker's replicas (``deploy/ENV.yml``) still wins for
deploys with that ``--env``: the result warns about it. Services that are not workers are
scaled as they run; their replicas stay the stack file's business.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from camunda_workers import SpecError, validate_model

from .._atomic import atomic_write
from ..autoscale import refuse_autoscaled
from ..errors import InputError, ToolingError
from ..project._discovery import DiscoveredWorker, discover_workers
from ..project._jsonedit import set_member
from ..project._service_spec import ServiceSpec
from ..stackfile._compose import compose_stack
from ..stackfile._overlay import overlays_setting
from ._docker_client import docker_cli, docker_client, require_swarm
from ._stack import DEFAULT_STACK, stack_service

__all__ = ["ScaleResult", "scale"]


@dataclass(frozen=True)
class ScaleResult:
    replicas: dict[str, int]
    written: tuple[str, ...] = ()  # worker.json files changed
    warnings: tuple[str, ...] = field(default_factory=tuple)


def _parse(assignments: Sequence[str]) -> dict[str, int]:
    wanted: dict[str, int] = {}
    for assignment in assignments:
        name, _, replicas = assignment.partition("=")
        if not name or not replicas.isdigit():
            raise InputError(f"{assignment!r}: expected NAME=N, e.g. hello-world=3")
        wanted[name] = int(replicas)
    return wanted


def _new_spec_text(worker: DiscoveredWorker, count: int) -> str:
    """``worker.json`` with the new replicas, checked against the model first."""
    path = worker.path / "worker.json"
    source = f"workers/{worker.path.name}/worker.json"
    text = path.read_text(encoding="utf-8")
    changed = set_member(text, "replicas", count)
    try:
        validate_model(ServiceSpec, json.loads(changed), source=source)
    except SpecError as exc:
        raise InputError(f"{source}: replicas: {count} is not allowed ("
                         f"{'; '.join(message for _, message in exc.problems)})") from None
    return changed


def scale(assignments: Sequence[str], *, stack: str = DEFAULT_STACK,
          repo: Path | None = None) -> ScaleResult:
    """``NAME=N`` for each service to scale; workers of ``repo`` keep the number.

    Through ``docker service scale``: the SDK's scale re-sends the whole service spec,
    which restarts running tasks on some engines; the CLI changes the replicas only.
    """
    wanted = _parse(assignments)
    workers = {w.name: w for w in discover_workers(repo)} if repo is not None else {}
    refuse_autoscaled(list(wanted), workers)
    texts = {name: _new_spec_text(workers[name], count)
             for name, count in wanted.items() if name in workers}
    with docker_client() as client:
        require_swarm(client)
        services = [stack_service(client, stack, name).name for name in wanted]
    done = docker_cli(["service", "scale", "--detach",
                       *(f"{service}={count}" for service, count in zip(
                           services, wanted.values(), strict=True))])
    if done.returncode != 0:
        raise ToolingError(f"scaling failed: {(done.stderr or done.stdout).strip()}")
    warnings = [f"{name} is not a worker of this repository: the next deploy sets its "
                "replicas back to the stack file's; change deploy.replicas there"
                for name in wanted if name not in workers]
    written = []
    for name, text in texts.items():
        path = workers[name].path / "worker.json"
        try:
            atomic_write(path, text)
        except OSError as exc:
            raise ToolingError(f"workers/{name}/worker.json: cannot write ({exc.strerror}); "
                               f"the service runs {wanted[name]} replicas, the file still says "
                               "otherwise: set \"replicas\" there by hand") from None
        written.append(f"workers/{name}/worker.json")
    if repo is None:
        return ScaleResult(wanted, (), tuple(warnings))
    for name in texts:
        warnings += [f"{overlay} sets the replicas of {name}: deploys with --env "
                     f"{overlay.removeprefix('deploy/').removesuffix('.yml')} use that number"
                     for overlay in overlays_setting(repo, name, "replicas")]
    if written:
        try:
            compose_stack(repo)
        except (SpecError, ToolingError) as exc:
            warnings.append(f"the stack file was not updated ({exc}); run `workers compose`")
    return ScaleResult(wanted, tuple(written), tuple(warnings))
