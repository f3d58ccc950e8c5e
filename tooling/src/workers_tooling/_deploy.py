"""``workers deploy``: regenerate the stack file, build the images, ``docker stack deploy``."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docker.errors import NotFound

from ._compose import ComposeResult, compose_stack
from ._docker_client import docker_cli, docker_client, require_swarm
from ._images import BuiltImage, build_images
from ._labels import COMPONENT_LABEL, WORKER_LABEL
from ._monitoring_images import build_component_images
from ._stack import DEFAULT_STACK
from .errors import ToolingError

__all__ = ["DeployResult", "deploy"]


@dataclass(frozen=True)
class DeployResult:
    stack: str
    compose: ComposeResult
    images: tuple[BuiltImage, ...]
    warnings: tuple[str, ...]
    output: str
    monitoring: bool = False  # the stack has the monitoring services


def deploy(
    repo: Path,
    *,
    stack: str = DEFAULT_STACK,
    environment: str | None = None,
    stack_file: Path | None = None,
    build: bool = True,
    push: bool = False,
    base_image: str | None = None,
    monitoring: bool | None = None,
    progress: Callable[[str, str], None] = lambda worker, line: None,
) -> DeployResult:
    """Regenerate the stack file, build the images, ``docker stack deploy`` it.

    ``monitoring``: add (True) or remove (False) the monitoring services; None keeps the
    stack file's choice. Their images are built too when the file has them.
    """
    composed = compose_stack(repo, stack_file=stack_file, environment=environment,
                             monitoring=monitoring)
    with docker_client() as client:
        require_swarm(client)
        nodes = len(client.nodes.list())
        if not build:
            _require_images(client, composed.text)
    images = tuple(build_images(repo, base_image=base_image, push=push, progress=progress)
                   if build else ())
    monitored = _has_components(composed.text)
    if build and monitored:
        images += tuple(build_component_images(repo, base_image=base_image, push=push,
                                               progress=progress))
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
    return DeployResult(stack, composed, images, tuple(warnings), done.stdout, monitored)


def _generated_services(stack_text: str) -> dict[str, Any]:
    """Service name -> service, for the services the generator wrote (workers, monitoring)."""
    from ruamel.yaml import YAML

    services = (YAML(typ="safe").load(stack_text) or {}).get("services") or {}
    return {name: service for name, service in services.items()
            if {WORKER_LABEL, COMPONENT_LABEL} & set(
                ((service or {}).get("deploy") or {}).get("labels") or {})}


def _has_components(stack_text: str) -> bool:
    return any(COMPONENT_LABEL in service["deploy"]["labels"]
               for service in _generated_services(stack_text).values())


def _require_images(client: Any, stack_text: str) -> None:
    """Before deploying without a build: every generated service's image must exist here."""
    missing = []
    for name, service in _generated_services(stack_text).items():
        image = service.get("image")
        if image:
            try:
                client.images.get(image)
            except NotFound:
                missing.append(f"{image} (service {name})")
    if missing:
        raise ToolingError(f"image(s) missing on this Docker engine: {', '.join(missing)}; "
                           "build them with `workers build --all` (or deploy without --no-build)")
