"""``workers deploy``: render the stack, build the images, ``docker stack deploy`` it.

The committed stack file is never written here. The file deployed is rendered next to it
(:func:`rendered_file`, ``.STEM.STACK.deploy.yml``, so relative paths in it still work):
the stack file with the worker services brought up to date and the overlay of
``--env`` merged in. The image names are resolved once (:class:`~._image_names.ImageNames`:
``--registry``/``$REGISTRY``, ``--tag``/``$TAG``, each worker's version) and the same names
are built and deployed: ``docker stack deploy`` fills the file's ``${REGISTRY}``/``${TAG}``
with them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docker.errors import APIError, NotFound

from ._compose import STACK_FILE, ComposeResult, compose_stack
from ._discovery import DiscoveredWorker, discover_workers, relative
from ._docker_client import docker_cli, docker_client, require_swarm
from ._image_names import DEFAULT_REGISTRY, ImageNames
from ._images import BuiltImage, build_images
from ._stack import DEFAULT_STACK
from .errors import ToolingError

__all__ = ["DeployResult", "deploy", "deploy_environment", "rendered_file"]


@dataclass(frozen=True)
class DeployResult:
    stack: str
    compose: ComposeResult
    images: tuple[BuiltImage, ...]
    warnings: tuple[str, ...]
    output: str
    rendered: Path
    names: ImageNames


def rendered_file(stack_file: Path, stack: str) -> Path:
    """Where the file deployed as ``stack`` is rendered: beside the stack file."""
    return stack_file.with_name(f".{stack_file.stem}.{stack}.deploy.yml")


def deploy_environment(names: ImageNames) -> dict[str, str]:
    """The environment ``docker stack deploy`` runs with: the resolved REGISTRY and TAG
    (unset: each worker's version), whatever the caller's environment says."""
    environ = {**os.environ, "REGISTRY": names.registry or DEFAULT_REGISTRY}
    environ.pop("TAG", None)
    if names.tag:
        environ["TAG"] = names.tag
    return environ


def deploy(
    repo: Path,
    *,
    stack: str = DEFAULT_STACK,
    environment: str | None = None,
    stack_file: Path | None = None,
    registry: str | None = None,
    tag: str | None = None,
    build: bool = True,
    push: bool = False,
    base_image: str | None = None,
    progress: Callable[[str, str], None] = lambda worker, line: None,
) -> DeployResult:
    """Render the stack, build the images, ``docker stack deploy`` the rendered file."""
    names = ImageNames(registry=registry, tag=tag).resolve()
    stack_file = stack_file or repo / STACK_FILE
    rendered = rendered_file(stack_file, stack)
    warnings = []
    current = compose_stack(repo, stack_file=stack_file, check=True)
    if current.changed:
        warnings.append(f"{relative(stack_file, repo)} is behind the workers (deployed "
                        "anyway, from the rendered file): run `workers compose` and commit it")
    composed = compose_stack(repo, stack_file=stack_file, environment=environment,
                             output=rendered)
    workers = discover_workers(repo)
    with docker_client() as client:
        require_swarm(client)
        nodes = len(client.nodes.list())
        if not build:
            _require_images(client, workers, names)
    images = tuple(build_images(repo, images=names, base_image=base_image, push=push,
                                progress=progress) if build else ())
    if nodes > 1 and (not push or names.registry == DEFAULT_REGISTRY):
        warnings.append(f"this swarm has {nodes} nodes but the images are only on this one: "
                        "build with --push to a registry (REGISTRY=...) that every node reaches")
    done = docker_cli(["stack", "deploy", "--with-registry-auth", "--prune", "-c",
                       str(rendered), stack], environ=deploy_environment(names))
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip()
        raise ToolingError(f"docker stack deploy of {relative(rendered, repo)} failed:\n{detail}")
    return DeployResult(stack, composed, images, tuple(warnings), done.stdout, rendered, names)


def _require_images(client: Any, workers: Sequence[DiscoveredWorker],
                    names: ImageNames) -> None:
    """Before deploying without a build: every worker image must exist here."""
    missing = []
    for worker in workers:
        image = names.image(worker.name, worker.spec.version)
        try:
            client.images.get(image)
        except NotFound:
            missing.append(f"{image} (service {worker.name})")
        except APIError as exc:
            raise ToolingError(f"image {image} (service {worker.name}): the Docker engine "
                               f"refused it ({exc.explanation or exc}); check REGISTRY and TAG"
                               ) from None
    if missing:
        raise ToolingError(f"image(s) missing on this Docker engine: {', '.join(missing)}; "
                           "build them with `workers build --all` (or deploy without --no-build)")
