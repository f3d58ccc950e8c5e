"""``workers autoscale --dry-run``: the autoscaler's loop in the foreground.

Every round: the load of every autoscaled worker (one query set, :func:`read_loads`), the
replicas its service runs now (the Swarm of ``DOCKER_HOST``/the Docker context, as every
``workers`` command), then :func:`decide`, whose reason is reported. Nothing is changed:
acting on the decisions is the autoscaler service's job (planned).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docker.errors import DockerException

from ..errors import InputError, ToolingError
from ..project._discovery import discover_workers
from ..project._service_spec import AutoscalePolicy
from ..swarm._docker_client import docker_client, require_swarm
from ..swarm._stack import stack_service
from ._engine import CredentialError, engine_client
from ._load import read_loads
from .policy import Decision, ScaleState, decide

__all__ = ["autoscale_dry_run"]

_UPDATING = ("updating", "rollback_started")


@dataclass(frozen=True)
class _Service:
    replicas: int | None  # None: not deployed, or not replicated
    note: str = ""


def _services(client: Any, stack: str, names: list[str]) -> dict[str, _Service]:
    """The replicas each worker's service runs now (Docker errors translated here)."""
    found: dict[str, _Service] = {}
    for name in names:
        try:
            service = stack_service(client, stack, name)
        except ToolingError as exc:
            found[name] = _Service(None, str(exc))
            continue
        except DockerException as exc:
            raise ToolingError(f"Docker: {' '.join(str(exc).split())[:300]}") from None
        mode = service.attrs["Spec"].get("Mode", {})
        update = (service.attrs.get("UpdateStatus") or {}).get("State", "")
        if "Replicated" not in mode:
            found[name] = _Service(None, f"{name}: a global service; not autoscaled")
        elif update in _UPDATING:
            found[name] = _Service(None, f"{name}: update in progress ({update}); left alone "
                                         "until it ends")
        else:
            found[name] = _Service(int(mode["Replicated"].get("Replicas", 1)))
    return found


def autoscale_dry_run(
    repo: Path, *, stack: str, engine_url: str, interval: float, once: bool,
    report: Callable[[str], None], clock: Callable[[], float] = time.monotonic,
    stop: threading.Event | None = None,
) -> int:
    """Report each round's decisions until ``stop`` (or after one round with ``once``);
    returns the number of rounds."""
    autoscaled = [w for w in discover_workers(repo) if w.spec.autoscale is not None]
    if not autoscaled:
        raise InputError("no worker has an \"autoscale\" section in its worker.json; add "
                         "one (docs/production.md, Autoscaling)")
    policies: Mapping[str, AutoscalePolicy] = {
        w.name: w.spec.autoscale for w in autoscaled if w.spec.autoscale is not None}
    topics = {w.name: list(w.spec.topics) for w in autoscaled}
    stop = stop or threading.Event()
    states: dict[str, ScaleState | None] = dict.fromkeys(policies)
    rounds = 0
    try:
        engine_http = engine_client(engine_url, os.environ)
    except CredentialError as exc:
        raise InputError(f"{exc}: give a readable file (the engine's credentials, as the "
                         "workers read them)") from None
    with docker_client() as client, engine_http as engine:
        require_swarm(client)
        while True:
            reading = read_loads(engine, topics)
            if reading.error is not None:
                report(f"engine: {reading.error}; replicas stay as they are")
            try:
                services = _services(client, stack, sorted(policies))
            except ToolingError as exc:
                report(f"{exc}; nothing decided this round")
                services = {}
            now = clock()
            for name, service in services.items():
                if service.replicas is None:
                    report(service.note)
                    continue
                decision: Decision = decide(
                    name, policies[name], now=now, load=reading.loads.get(name),
                    current=service.replicas, state=states[name])
                states[name] = decision.state
                mark = "would scale" if decision.changes(service.replicas) else "steady"
                report(f"[dry-run] {mark}: {decision.reason}")
            rounds += 1
            if once or stop.wait(interval):
                return rounds
