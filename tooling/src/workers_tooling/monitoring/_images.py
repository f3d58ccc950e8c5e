"""The images of the stack's monitoring services (see :mod:`._services`).

``monitoring`` builds from ``deploy/monitoring/`` on a base with Prometheus in PATH
(``PROMETHEUS_BASE_IMAGE``, default ``prom/prometheus:v2.42.0``;
``local/prometheus-base:bookworm`` from ``scripts/base-images.sh`` where no registry is
reachable); ``backlog`` from the wheelhouse on the workers' Python base (``BASE_IMAGE``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from pathlib import Path

from ..swarm._base_images import PROMETHEUS_BASE, PYTHON_BASE, find_base, pull_hint
from ..swarm._docker_client import docker_client
from ..swarm._image_names import ImageNames
from ..swarm._images import BuildFailed, BuiltImage, _build, _push, ensure_wheelhouse
from ._services import COMPONENTS, component_image

__all__ = ["build_component_images"]


def build_component_images(
    repo: Path,
    *,
    images: ImageNames | None = None,
    base_image: str | None = None,
    prometheus_base_image: str | None = None,
    push: bool = False,
    progress: Callable[[str, str], None] = lambda name, line: None,
    only: Collection[str] | None = None,
) -> list[BuiltImage]:
    """Build (and with ``push`` push) the images of the monitoring services (``only``
    those named; default: all), named as ``images`` resolves them (default:
    ``$REGISTRY``, else ``local``)."""
    images = (images or ImageNames()).resolve()
    built = []
    with docker_client() as client:
        def say(line: str) -> None:
            progress("base", line)

        bases = {"BASE_IMAGE": find_base(client, PYTHON_BASE, base_image, say),
                 "PROMETHEUS_BASE_IMAGE": find_base(client, PROMETHEUS_BASE,
                                                    prometheus_base_image, say)}
        kinds = {"BASE_IMAGE": PYTHON_BASE, "PROMETHEUS_BASE_IMAGE": PROMETHEUS_BASE}
        ensure_wheelhouse(repo, progress)
        for component in COMPONENTS:
            if only is not None and component.name not in only:
                continue
            reference = component_image(repo, component, images)
            repository, tag = reference.rsplit(":", 1)
            base = bases[component.base_env]
            args = {component.base_arg: base} if base else {}
            context = repo / component.context
            started = time.monotonic()
            try:
                image_id = _build(client, component.name, context,
                                  repo / component.dockerfile, args, reference, progress)
            except BuildFailed as exc:
                hint = pull_hint(kinds[component.base_env], base, str(exc))
                if hint:
                    raise BuildFailed(f"{exc}; {hint}", exc.output) from None
                raise
            if push:
                _push(client, component.name, repository, [tag], progress)
            image = client.images.get(image_id)
            built.append(BuiltImage(component.name, (reference,), image_id,
                                    int(image.attrs.get("Size", 0)),
                                    time.monotonic() - started))
    return built
