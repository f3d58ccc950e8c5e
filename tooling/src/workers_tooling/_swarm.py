"""Deploying the stack to Docker Swarm and operating it: status, logs, scale, monitoring."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from docker.errors import NotFound

from ._compose import ComposeResult, compose_stack
from ._discovery import discover_workers
from ._docker_client import docker_cli, docker_cli_lines, docker_client, require_swarm
from ._images import BuiltImage, build_images
from .errors import ToolingError

__all__ = [
    "DEFAULT_STACK",
    "DeployResult",
    "ServiceStatus",
    "WorkerEndpoint",
    "deploy",
    "monitoring_status",
    "scale",
    "service_logs",
    "stack_status",
]

DEFAULT_STACK = "camunda-workers"
WORKER_LABEL = "camunda-workers.worker"
LOGS_TIMEOUT = 60.0  # seconds for `workers logs` without --follow


@dataclass(frozen=True)
class DeployResult:
    stack: str
    compose: ComposeResult
    images: tuple[BuiltImage, ...]
    warnings: tuple[str, ...]
    output: str


def deploy(
    repo: Path,
    *,
    stack: str = DEFAULT_STACK,
    environment: str | None = None,
    stack_file: Path | None = None,
    build: bool = True,
    push: bool = False,
    base_image: str | None = None,
    progress: Callable[[str, str], None] = lambda worker, line: None,
) -> DeployResult:
    """Regenerate the stack file, build the images, ``docker stack deploy`` it."""
    composed = compose_stack(repo, stack_file=stack_file, environment=environment)
    with docker_client() as client:
        require_swarm(client)
        nodes = len(client.nodes.list())
        if not build:
            _require_images(client, composed.text)
    images = tuple(build_images(repo, base_image=base_image, push=push, progress=progress)
                   if build else ())
    warnings = []
    registry = os.environ.get("REGISTRY") or "local"
    if nodes > 1 and (not push or registry == "local"):
        warnings.append(f"this swarm has {nodes} nodes but the images are only on this one: "
                        "build with --push to a registry (REGISTRY=...) that every node reaches")
    done = docker_cli(["stack", "deploy", "--with-registry-auth", "--prune", "-c",
                       str(composed.stack_file), stack])
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip()
        raise ToolingError(f"docker stack deploy failed:\n{detail}")
    return DeployResult(stack, composed, images, tuple(warnings), done.stdout)


def _require_images(client: Any, stack_text: str) -> None:
    """Before deploying without a build: every worker image must exist here."""
    from ruamel.yaml import YAML

    services = (YAML(typ="safe").load(stack_text) or {}).get("services") or {}
    missing = []
    for name, service in services.items():
        labels = ((service or {}).get("deploy") or {}).get("labels") or {}
        image = (service or {}).get("image")
        if WORKER_LABEL in labels and image:
            try:
                client.images.get(image)
            except NotFound:
                missing.append(f"{image} (service {name})")
    if missing:
        raise ToolingError(f"image(s) missing on this Docker engine: {', '.join(missing)}; "
                           "build them with `workers build --all` (or deploy without --no-build)")


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    worker: str | None
    desired: int
    running: int
    image: str
    update_state: str
    last_error: str


def _services(client: Any, stack: str) -> list[Any]:
    return list(client.services.list(filters={"label": f"com.docker.stack.namespace={stack}"}))


def stack_status(stack: str = DEFAULT_STACK) -> list[ServiceStatus]:
    with docker_client() as client:
        require_swarm(client)
        services = _services(client, stack)
        if not services:
            raise ToolingError(f"no stack named {stack!r} is deployed; run `workers deploy`")
        statuses = []
        for service in sorted(services, key=lambda s: s.name):
            spec = service.attrs["Spec"]
            mode = spec.get("Mode", {})
            tasks = service.tasks()
            desired = (mode["Replicated"].get("Replicas", 1) if "Replicated" in mode
                       else sum(1 for t in tasks if t.get("DesiredState") == "running"))
            running = sum(1 for t in tasks if t.get("Status", {}).get("State") == "running")
            failed = [t for t in tasks if t.get("Status", {}).get("Err")]
            failed.sort(key=lambda t: t.get("UpdatedAt", ""))
            labels = spec.get("Labels", {})
            image = spec["TaskTemplate"]["ContainerSpec"]["Image"].split("@", 1)[0]
            statuses.append(ServiceStatus(
                name=spec["Name"], worker=labels.get(WORKER_LABEL), desired=desired,
                running=running, image=image,
                update_state=(service.attrs.get("UpdateStatus") or {}).get("State", "-"),
                last_error=failed[-1]["Status"]["Err"] if failed else ""))
        return statuses


def _service(client: Any, stack: str, name: str) -> Any:
    try:
        return client.services.get(f"{stack}_{name}")
    except NotFound:
        raise ToolingError(f"no service {name!r} in stack {stack!r}; `workers status` lists "
                           "them") from None


def scale(assignments: Sequence[str], *, stack: str = DEFAULT_STACK) -> dict[str, int]:
    """``NAME=N`` for each service to scale.

    Through ``docker service scale``: the SDK's scale re-sends the whole service spec,
    which restarts running tasks on some engines; the CLI changes the replicas only.
    """
    wanted: dict[str, int] = {}
    for assignment in assignments:
        name, _, replicas = assignment.partition("=")
        if not name or not replicas.isdigit():
            raise ToolingError(f"{assignment!r}: expected NAME=N, e.g. hello-world=3")
        wanted[name] = int(replicas)
    with docker_client() as client:
        require_swarm(client)
        services = [_service(client, stack, name).name for name in wanted]
    done = docker_cli(["service", "scale", "--detach",
                       *(f"{service}={count}" for service, count in zip(
                           services, wanted.values(), strict=True))])
    if done.returncode != 0:
        raise ToolingError(f"scaling failed: {(done.stderr or done.stdout).strip()}")
    return wanted


def service_logs(name: str, *, stack: str = DEFAULT_STACK, follow: bool = False,
                 since: str | None = None, tail: int | None = None) -> Iterator[str]:
    """Log lines of every replica of a service, each prefixed with its task name.

    Through the docker CLI: the Docker SDK's service log stream can hang on engines of
    the 20.10 line once a task was shut down, while the CLI returns.
    """
    with docker_client() as client:
        service = _service(client, stack, name)
    command = ["service", "logs", "--no-trunc"]
    if follow:
        command.append("--follow")
    if since:
        command += ["--since", since]
    if tail is not None:
        command += ["--tail", str(tail)]
    if follow:
        yield from docker_cli_lines([*command, service.name])
        return
    # Bounded: on engines of the 20.10 line the stream of a task that stops while it is
    # read may never end.
    done = docker_cli([*command, service.name], timeout=LOGS_TIMEOUT)
    if done.returncode != 0:
        raise ToolingError(f"docker service logs failed: {done.stderr.strip()}")
    yield from (done.stdout + done.stderr).splitlines()


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
