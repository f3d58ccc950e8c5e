"""``workers deploy``: render the stack, build (and push) the images, ``docker stack deploy``.

The committed stack file is never written here. The file deployed is rendered next to it
(:func:`rendered_file`, ``.STEM.STACK.deploy.yml``, so relative paths in it still work):
the stack file with the worker services brought up to date and the overlay of
``--env`` merged in. The image names are resolved once (:class:`~._image_names.ImageNames`:
``--registry``/``$REGISTRY``, ``--tag``/``$TAG``, each worker's version) and the same names
are built, pushed, checked and deployed: ``docker stack deploy`` fills the file's
``${REGISTRY}``/``${TAG}`` with them.

``--monitoring`` adds the monitoring services to the rendered file (``--no-monitoring``
leaves them out; neither: as the stack file has them); their images are built, pushed and
checked with the workers' (:mod:`..monitoring._images`). Prometheus' port is published
only with ``--publish-monitoring`` (or when the stack file publishes it).

On a Swarm of more than one node every node pulls the worker images: they must be in a
registry all nodes reach (``REGISTRY``). Deploy pushes there, then asks the Swarm's
manager to find each image in the registry (the same lookup ``docker stack deploy`` makes
to pin the image by digest) and refuses, naming the images, when one is not there.

A local deploy (one node, no registry) without ``ENGINE_IMAGE`` runs the engine image
``make engine-image`` makes, found or built here (:mod:`._engine_image`). After
``docker stack deploy`` the services are followed until they converge, or the deploy fails
naming those that did not and why (:mod:`._converge`); ``follow=False`` returns at once.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docker.errors import APIError, NotFound

from ..autoscale import keep_running_replicas
from ..errors import LocalImagesOnMultiNodeSwarm, ToolingError
from ..monitoring._images import build_component_images
from ..monitoring._services import COMPONENTS, component_image
from ..project._discovery import discover_workers, relative
from ..stackfile._compose import STACK_FILE, ComposeResult, compose_stack
from ..stackfile._labels import COMPONENT_LABEL, WORKER_LABEL, service_label
from ..stackfile._stack_variables import interpolate, stack_environment
from ._converge import follow_stack, snapshot
from ._docker_client import docker_cli, docker_client, require_swarm
from ._engine_image import ENGINE_FIX, local_engine_image
from ._image_names import DEFAULT_REGISTRY, ImageNames
from ._images import BuiltImage, build_images
from ._nodes import SwarmNode, fits, swarm_nodes
from ._stack import DEFAULT_STACK
from ._status import ServiceStatus

__all__ = ["DeployResult", "LocalImagesOnMultiNodeSwarm", "deploy", "deploy_environment",
           "rendered_file"]


@dataclass(frozen=True)
class DeployResult:
    stack: str
    compose: ComposeResult
    images: tuple[BuiltImage, ...]
    warnings: tuple[str, ...]
    output: str
    rendered: Path
    names: ImageNames
    nodes: int = 1
    monitoring: bool = False  # the stack has the monitoring services
    monitoring_published: bool = False  # and Prometheus' port is published
    services: tuple[ServiceStatus, ...] = ()  # as they converged (empty: not followed)
    engine_image: str | None = None  # set for the deploy (None: ENGINE_IMAGE or the file's)


def rendered_file(stack_file: Path, stack: str) -> Path:
    """Where the file deployed as ``stack`` is rendered: beside the stack file."""
    return stack_file.with_name(f".{stack_file.stem}.{stack}.deploy.yml")


def deploy_environment(names: ImageNames, environ: Mapping[str, str] | None = None,
                       engine_image: str | None = None) -> dict[str, str]:
    """The environment ``docker stack deploy`` runs with: the docker CLI's variables and
    the stack's (:mod:`..stackfile._stack_variables`) from ``environ`` (default: this
    process's), nothing else, with the resolved REGISTRY and TAG (unset: each worker's
    version) and the engine image found for a local deploy."""
    settings: dict[str, str | None] = {"REGISTRY": names.registry or DEFAULT_REGISTRY,
                                       "TAG": names.tag or None}
    if engine_image:
        settings["ENGINE_IMAGE"] = engine_image
    return stack_environment(os.environ if environ is None else environ, settings)


def deploy(
    repo: Path,
    *,
    stack: str = DEFAULT_STACK,
    environment: str | None = None,
    stack_file: Path | None = None,
    registry: str | None = None,
    tag: str | None = None,
    build: bool = True,
    push: bool | None = None,
    base_image: str | None = None,
    monitoring: bool | None = None,
    publish_monitoring: bool | None = None,
    autoscale: bool | None = None,
    progress: Callable[[str, str], None] = lambda worker, line: None,
    build_progress: Callable[[str, str], None] | None = None,
    warn: Callable[[str], None] = lambda message: None,
    follow: bool = True,
    timeout: float = 300.0,
) -> DeployResult:
    """Render the stack, build (and push) the images, ``docker stack deploy`` the rendered
    file, and (``follow``) wait up to ``timeout`` seconds for the services to converge,
    raising :class:`~._converge.NotConverged` for those that do not. ``push`` defaults to
    whether a registry is set (``REGISTRY`` other than ``local``). ``monitoring``: with
    (True) or without (False) the monitoring services; None: as the stack file has them.
    ``publish_monitoring``: Prometheus' port published on its node (True) or not (False);
    None: as the stack file has it. ``autoscale``: with (True) or without (False) the
    autoscaler; None: as the stack file has it. With the autoscaler, autoscaled workers
    keep the replicas they run (:func:`~.autoscale.keep_running_replicas`).
    ``progress(source, line)``: build lines, the deploy's
    output and, with source ``stack``, each change of a service's state;
    ``build_progress``: the images' build lines instead (a quiet caller drops them);
    ``warn``: each warning as it is found.
    """
    names = ImageNames(registry=registry, tag=tag).resolve()
    build_progress = build_progress or progress
    if push is None:
        push = names.registry != DEFAULT_REGISTRY
    stack_file = stack_file or repo / STACK_FILE
    rendered = rendered_file(stack_file, stack)
    warnings = []
    if compose_stack(repo, stack_file=stack_file, check=True).changed:
        warnings.append(f"{relative(stack_file, repo)} is behind the workers (deployed "
                        "anyway, from the rendered file): run `workers compose` and commit it")
    composed = compose_stack(repo, stack_file=stack_file, environment=environment,
                             output=rendered, monitoring=monitoring,
                             publish_monitoring=publish_monitoring, autoscale=autoscale)
    stack_data = _parsed(composed.text)  # read once; every check below looks at it
    every_service = _services_of(stack_data)
    services = _labelled_services(every_service, WORKER_LABEL)
    found = discover_workers(repo)
    images = {worker.name: names.image(worker.name, worker.spec.version) for worker in found}
    autoscaled = [worker.name for worker in found if worker.spec.autoscale is not None]
    components = _labelled_services(every_service, COMPONENT_LABEL)
    monitored = bool(components)
    published = any(service.get("ports") for service in components.values())
    present = {str(service["deploy"]["labels"][COMPONENT_LABEL])
               for service in components.values()}
    images.update({component.name: component_image(repo, component, names)
                   for component in COMPONENTS if component.name in present})
    with docker_client() as client:
        require_swarm(client)
        if "autoscaler" in present:  # the autoscaler owns their replicas: keep them
            kept = keep_running_replicas(client, stack, rendered, autoscaled)
            for name, count in kept.items():
                progress("autoscale", f"{name}: keeps its {count} running replicas "
                                      "(autoscaled)")
        nodes = swarm_nodes(client)
        if len(nodes) > 1 and names.registry == DEFAULT_REGISTRY:
            raise LocalImagesOnMultiNodeSwarm(_local_only(
                nodes, sorted(images.values()), "no REGISTRY is set (the images are local)",
                "set REGISTRY=HOST:PORT to a registry every node reaches; `workers deploy` "
                "then pushes the images there"))
        if not build:  # what is deployed must be there already (built: checked below)
            if len(nodes) == 1:
                _require_images(client, images)
            else:
                _require_in_registry(client, nodes, images)
        _require_secrets(client, stack_data, deploy_environment(names))
        engine_image = None
        if (len(nodes) == 1 and names.registry == DEFAULT_REGISTRY
                and not os.environ.get("ENGINE_IMAGE") and _engine_services(every_service)):
            engine_image = local_engine_image(client, repo, progress, build_progress)
    built = tuple(build_images(repo, images=names, base_image=base_image, push=push,
                               progress=build_progress, warn=warn) if build else ())
    if build and monitored:
        built += tuple(build_component_images(repo, images=names, base_image=base_image,
                                              push=push, progress=build_progress,
                                              only=present))
    if build and len(nodes) > 1:
        with docker_client() as client:
            _require_in_registry(client, nodes, images)
    warnings += _placement_warnings(services, nodes)
    warnings += _unplaceable(every_service, nodes)
    for warning in warnings:
        warn(warning)
    before = snapshot(stack) if follow else None
    environ = deploy_environment(names, engine_image=engine_image)
    done = docker_cli(["stack", "deploy", "--with-registry-auth", "--prune", "-c",
                       str(rendered), stack], environ=environ)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip()
        raise ToolingError(f"docker stack deploy of {relative(rendered, repo)} failed:\n"
                           f"{detail}")
    converged: tuple[ServiceStatus, ...] = ()
    if before is not None:
        for line in done.stdout.splitlines():
            progress("stack", line)
        workers, engines = set(services), _engine_services(every_service)
        converged = tuple(follow_stack(
            stack, before, timeout=timeout, progress=lambda line: progress("stack", line),
            hint=lambda name, error: _image_fix(name, error, workers, engines)))
    return DeployResult(stack, composed, built, tuple(warnings), done.stdout, rendered, names,
                        len(nodes), monitored, published, converged, engine_image)


def _engine_services(services: Mapping[str, dict[str, Any]]) -> set[str]:
    """The services that run ``${ENGINE_IMAGE...}`` (the engine, whatever its name)."""
    return {name for name, service in services.items()
            if "${ENGINE_IMAGE" in str(service.get("image", ""))}


def _image_fix(name: str, error: str, workers: set[str], engines: set[str]) -> str:
    """How to get the image a service could not find (for the deploy's failure report)."""
    if "no such image" not in error.lower():
        return ""
    if name in engines:
        return ENGINE_FIX
    if name in workers:
        return f"build it with `workers build {name}` (deploy builds it unless --no-build)"
    return ""


def _labelled_services(services: Mapping[str, dict[str, Any]],
                       label: str) -> dict[str, dict[str, Any]]:
    """The services with an image and ``label`` (workers, monitoring)."""
    return {name: service for name, service in services.items()
            if service.get("image") and service_label(service, label) is not None}


def _require_secrets(client: Any, data: Mapping[str, Any], environ: Mapping[str, str]) -> None:
    """Every external secret the services use exists in the Swarm (before any build): the
    operator creates them, their values never pass through a file of the project. Names
    are read as ``docker stack deploy`` reads them, with ``environ``."""
    declared = data.get("secrets") or {}
    users: dict[str, list[str]] = {}
    for service_name, service in (data.get("services") or {}).items():
        for entry in (service or {}).get("secrets") or []:
            source = entry.get("source") if isinstance(entry, dict) else entry
            declaration = declared.get(source)
            if isinstance(declaration, dict) and declaration.get("external"):
                name = interpolate(str(declaration.get("name") or source), environ)
                users.setdefault(name, []).append(str(service_name))
    if not users:
        return
    existing = {secret.name for secret in client.secrets.list()}
    missing = [f"{name} (services {', '.join(services)})"
               for name, services in sorted(users.items()) if name not in existing]
    if missing:
        first = next(name for name in sorted(users) if name not in existing)
        raise ToolingError(
            f"Docker secret(s) missing in this Swarm: {', '.join(missing)}; create each on a "
            f"manager from where the value is kept, e.g. `printf %s \"$VALUE\" | docker "
            f"secret create {first} -` (README.md: Security, Secrets)")


def _parsed(stack_text: str) -> dict[str, Any]:
    """The rendered stack file as data (it was written by the generator: valid YAML)."""
    from ruamel.yaml import YAML

    return YAML(typ="safe").load(stack_text) or {}


def _services_of(data: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Its services by name (those written as a mapping)."""
    services = data.get("services") or {}
    return {str(name): service for name, service in services.items()
            if isinstance(service, dict)}


def _unplaceable(services: Mapping[str, dict[str, Any]], nodes: list[SwarmNode]) -> list[str]:
    """Services no node may run now (the db before its node is labelled): they would stay
    pending without a word from Swarm."""
    warnings = []
    for name, service in services.items():
        constraints = ((service.get("deploy") or {}).get("placement") or {}).get("constraints")
        if not isinstance(constraints, list) or not constraints:
            continue
        if any(node.schedulable and fits(node, constraints) for node in nodes):
            continue
        labels = [c.removeprefix("node.labels.").replace(" == ", "=").replace("==", "=")
                  for c in constraints if str(c).startswith("node.labels.") and "==" in str(c)]
        fix = (f"label the node it belongs on: docker node update --label-add "
               f"{labels[0]} NODE" if labels else "change its constraints or the nodes")
        warnings.append(f"{name}: no node fits its placement ({', '.join(map(str, constraints))})"
                        f", so it stays pending; {fix}")
    return warnings


def _require_images(client: Any, images: Mapping[str, str]) -> None:
    """Before deploying without a build: every image (workers, monitoring) must be here."""
    missing = []
    for name, image in images.items():
        try:
            client.images.get(image)
        except NotFound:
            missing.append(f"{image} (service {name})")
        except APIError as exc:
            raise ToolingError(f"image {image} (service {name}): the Docker engine refused "
                               f"it ({exc.explanation or exc}); check REGISTRY and TAG"
                               ) from None
    if missing:
        raise ToolingError(f"image(s) missing on this Docker engine: {', '.join(missing)}; "
                           "build them with `workers build --all` (or deploy without --no-build)")


def _local_only(nodes: list[SwarmNode], images: list[str], why: str, fix: str) -> str:
    return (f"this Swarm has {len(nodes)} nodes ({', '.join(n.hostname for n in nodes)}) and "
            f"each pulls the worker images from a registry, but {why}: {', '.join(images)}; "
            f"{fix}")


def _require_in_registry(client: Any, nodes: list[SwarmNode],
                         images: Mapping[str, str]) -> None:
    """Each worker image is found in its registry by the Swarm's manager."""
    missing = []
    for image in sorted(images.values()):
        try:
            client.api.inspect_distribution(image)
        except APIError as exc:
            reason = str(exc.explanation or exc).strip().splitlines()[0][:200]
            missing.append(f"{image} ({reason})")
    if missing:
        raise LocalImagesOnMultiNodeSwarm(_local_only(
            nodes, missing, "the manager finds these in no registry",
            "push them there (`workers deploy` pushes when REGISTRY is set, unless "
            "--no-push) to a registry every node reaches"))


def _placement_warnings(services: Mapping[str, dict[str, Any]],
                        nodes: list[SwarmNode]) -> list[str]:
    """Replicas that cannot all be placed: too few nodes fit for max_replicas_per_node."""
    warnings = []
    for name, service in services.items():
        deploy = service.get("deploy") or {}
        placement = deploy.get("placement") or {}
        most = placement.get("max_replicas_per_node")
        replicas = deploy.get("replicas", 1)
        if not isinstance(most, int) or not isinstance(replicas, int) or most < 1:
            continue
        fitting = [node for node in nodes
                   if node.schedulable and fits(node, placement.get("constraints") or [])]
        places = most * len(fitting)
        if replicas > places:
            warnings.append(
                f"{name}: {replicas} replicas at most {most} per node need "
                f"{-(-replicas // most)} nodes, {len(fitting)} can take them now; "
                f"{replicas - places} will stay pending until more nodes fit")
        elif _starts_first(deploy) and replicas == places:
            # Swarm starts the new task before stopping the old one; with every place taken
            # the new task stays pending and the rolling update never ends.
            warnings.append(
                f"{name}: a start-first update starts each new replica before stopping an "
                f"old one, and its {replicas} replicas take all {places} places "
                f"(at most {most} per node on {len(fitting)} nodes): the next update will "
                f"wait forever; set \"update\": {{\"order\": \"stop-first\"}} in its "
                f"worker.json, raise max_replicas_per_node or add a node")
    return warnings


def _starts_first(deploy: Mapping[str, Any]) -> bool:
    return bool((deploy.get("update_config") or {}).get("order") == "start-first")
