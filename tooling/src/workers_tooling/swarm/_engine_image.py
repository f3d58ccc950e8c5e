"""The engine image of a local deploy (no registry, one node): found or built here.

The stack file runs ``${ENGINE_IMAGE:-camunda/camunda-bpm-platform:run-7.24.0}``, a public
image a machine without network does not have. Unless ``ENGINE_IMAGE`` is set, a local
deploy runs ``local/camunda-engine:ENGINE_TAG`` (the name ``make engine-image`` gives it):
the one on this Docker engine, else built from ``engine/`` when the jar is there, else it
stops and says what to run.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from docker.errors import APIError, NotFound

from ..errors import ToolingError
from ._base_images import JRE_BASE, find_base, pull_hint
from ._images import BuildFailed, _build

__all__ = ["ENGINE_FIX", "LOCAL_ENGINE_REPOSITORY", "local_engine_image"]

LOCAL_ENGINE_REPOSITORY = "local/camunda-engine"
DEFAULT_ENGINE_TAG = "camunda-7.24"
ENGINE_FIX = "build it with `make engine-image` or set ENGINE_IMAGE"


def local_engine_image(client: Any, repo: Path, progress: Callable[[str, str], None],
                       build_progress: Callable[[str, str], None] | None = None) -> str:
    """``local/camunda-engine:ENGINE_TAG``, made sure to be on this Docker engine; what is
    done goes to ``progress``, the lines of a build to ``build_progress`` (default: the
    same)."""
    image = f"{LOCAL_ENGINE_REPOSITORY}:{os.environ.get('ENGINE_TAG') or DEFAULT_ENGINE_TAG}"
    try:
        client.images.get(image)
    except NotFound:
        pass
    except APIError as exc:
        raise ToolingError(f"engine image {image}: the Docker engine refused to look it up "
                           f"({exc.explanation or exc}); set ENGINE_IMAGE") from None
    else:
        progress("engine", f"ENGINE_IMAGE not set: running {image} (found on this Docker "
                           "engine)")
        return image
    jar = repo / "engine" / "target" / "engine-camunda.jar"
    if not jar.is_file():
        raise ToolingError(
            f"ENGINE_IMAGE is not set and the local engine image {image} is not on this "
            f"Docker engine; {ENGINE_FIX} (`make engine-image` builds "
            "engine/target/engine-camunda.jar with Maven, then the image)")
    def say(line: str) -> None:
        progress("engine", line)

    base = find_base(client, JRE_BASE, None, say)
    say(f"ENGINE_IMAGE not set: building {image} from engine/ (the jar is built)")
    try:
        _build(client, "engine", repo / "engine", repo / "engine" / "Dockerfile",
               {JRE_BASE.variable: base} if base else {}, image, build_progress or progress)
    except BuildFailed as exc:
        hint = pull_hint(JRE_BASE, base, str(exc))
        raise BuildFailed(f"{exc}; {hint or ENGINE_FIX}", exc.output) from None
    return image
