"""``workers monitoring-status``: each worker's /metrics and whether it answers now."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx

from ._discovery import discover_workers
from ._docker_client import docker_cli

__all__ = ["WorkerEndpoint", "monitoring_status"]


@dataclass(frozen=True)
class WorkerEndpoint:
    worker: str
    url: str
    up: bool
    detail: str


def monitoring_status(repo: Path, *, host: str = "127.0.0.1",
                      stack: str | None = None) -> list[WorkerEndpoint]:
    """Each worker's /metrics URL and whether it answers now.

    First the port published on ``host``; when it does not answer and ``stack`` is
    given, each running replica of the worker's service is asked from inside its
    container (ports are not published on Swarms without IPVS, see deploy/local.yml).
    """
    endpoints = []
    for worker in discover_workers(repo):
        url = f"http://{host}:{worker.spec.port}/metrics"
        try:
            response = httpx.get(url, timeout=3)
            up = response.status_code == 200
            detail = f"{_samples(response.text)} samples" if up else (
                f"HTTP {response.status_code}")
        except httpx.HTTPError as exc:
            up, detail = False, f"{type(exc).__name__} on the published port"
        if not up and stack is not None:
            inside = _scrape_replicas(f"{stack}_{worker.name}", worker.spec.port)
            if inside:
                url = f"{stack}_{worker.name}:{worker.spec.port}/metrics (inside the replicas)"
                answering = [n for n in inside if n is not None]
                up = len(answering) == len(inside)
                detail = (f"{len(answering)}/{len(inside)} replicas answer, "
                          f"{sum(answering)} samples")
        endpoints.append(WorkerEndpoint(worker.name, url, up, detail))
    return endpoints


def _samples(text: str) -> int:
    return sum(1 for line in text.splitlines() if line and not line.startswith("#"))


def _scrape_replicas(service: str, port: int) -> list[int | None]:
    """Samples of /metrics per running container of ``service`` (None: no answer)."""
    listed = docker_cli(["ps", "-q", "--filter", f"label=com.docker.swarm.service.name={service}"])
    results: list[int | None] = []
    probe = ("import urllib.request as r; "
             f"print(r.urlopen('http://127.0.0.1:{port}/metrics', timeout=3).read().decode())")
    for container in listed.stdout.split():
        done = docker_cli(["exec", container, "python", "-c", probe], timeout=30)
        results.append(_samples(done.stdout) if done.returncode == 0 else None)
    return results
