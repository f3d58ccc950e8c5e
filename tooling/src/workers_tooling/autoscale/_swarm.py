"""The Swarm as the autoscaler sees it: the stack's worker services and their replicas,
read and changed over the Docker API (through the stack's socket proxy), with ``httpx``.

Two calls only, both allowed by ``deploy/monitoring/socket_proxy.py``:

* ``GET /services?filters={"label":["com.docker.stack.namespace=STACK"]}``: the stack's
  services, with their specs, versions and update status (checked again here: a daemon
  that ignored the filter must not lend us another stack's workers);
* ``POST /services/ID/update?version=N`` with the same spec, only
  ``Mode.Replicated.Replicas`` changed (the proxy refuses anything else).

HTTP and Docker errors are translated here, once, into :class:`SwarmError`.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

import httpx

from ..stackfile._labels import WORKER_LABEL

__all__ = ["SwarmError", "WorkerService", "set_replicas", "worker_services"]

_UPDATING = ("updating", "rollback_started")
_STACK_LABEL = "com.docker.stack.namespace"
_MAX_ANSWER = 16 << 20  # bytes: the specs of a stack's services


class SwarmError(Exception):
    """The Docker API did not answer, or refused (transient for the loop: retried)."""


@dataclass(frozen=True)
class WorkerService:
    """One worker's service: ``replicas`` None when it is not replicated (global)."""

    worker: str
    id: str
    version: int
    spec: dict[str, Any]
    replicas: int | None
    update_state: str  # "" when no update ever ran

    @property
    def updating(self) -> bool:
        return self.update_state in _UPDATING


def _answer(response: httpx.Response, what: str) -> Any:
    if len(response.content) > _MAX_ANSWER:
        raise SwarmError(f"{what}: answer over {_MAX_ANSWER} bytes")
    if response.status_code >= 400:
        said = " ".join(response.text[:300].split())
        raise SwarmError(f"{what}: HTTP {response.status_code}: {said}")
    try:
        return response.json()
    except ValueError:
        raise SwarmError(f"{what}: not JSON") from None


def worker_services(docker: httpx.Client, stack: str) -> dict[str, WorkerService]:
    """Worker name -> its service in ``stack`` (``docker``: ``base_url`` the Docker API)."""
    try:
        found = _answer(docker.get("/services", params={"filters": json.dumps(
            {"label": [f"{_STACK_LABEL}={stack}"]})}), "GET /services")
    except httpx.HTTPError as exc:
        raise SwarmError(f"GET /services: Docker API unreachable ({type(exc).__name__}: "
                         f"{' '.join(str(exc).split())[:200]})") from None
    if not isinstance(found, list):
        raise SwarmError("GET /services: not a list of services")
    services: dict[str, WorkerService] = {}
    for service in found:
        spec = service.get("Spec") or {}
        labels = spec.get("Labels") or {}
        worker = labels.get(WORKER_LABEL)
        if not isinstance(worker, str) or labels.get(_STACK_LABEL) != stack:
            continue
        replicated = (spec.get("Mode") or {}).get("Replicated")
        replicas = replicated.get("Replicas", 1) if isinstance(replicated, dict) else None
        services[worker] = WorkerService(
            worker, str(service.get("ID", "")), int((service.get("Version") or {}).get(
                "Index", 0)), spec, replicas,
            str((service.get("UpdateStatus") or {}).get("State", "")))
    return services


def set_replicas(docker: httpx.Client, service: WorkerService, replicas: int) -> None:
    """Run ``replicas`` tasks of ``service`` (at the version it was read at: an update in
    between makes the daemon refuse, and the next round reads it again)."""
    spec = copy.deepcopy(service.spec)
    spec["Mode"] = {"Replicated": {"Replicas": replicas}}
    what = f"POST /services/{service.id}/update"
    try:
        _answer(docker.post(f"/services/{service.id}/update",
                            params={"version": str(service.version)}, json=spec), what)
    except httpx.HTTPError as exc:
        raise SwarmError(f"{what}: Docker API unreachable ({type(exc).__name__}: "
                         f"{' '.join(str(exc).split())[:200]})") from None
