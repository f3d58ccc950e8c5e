"""Worker images, built with the Docker SDK from workers/Dockerfile or a worker's own.

Builds go through the SDK's low-level API, whose JSON stream arrives as the Docker engine
writes it (``client.images.build`` would return only at the end): each line of a build,
like each line of the wheelhouse script before it, reaches the caller's ``progress`` as
it is printed.
"""

from __future__ import annotations

import subprocess
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docker.errors import APIError, DockerException

from ..errors import BuildFailed, ToolingError
from ..project._discovery import DiscoveredWorker, discover_workers
from ._base_images import PYTHON_BASE, find_base, pull_hint
from ._docker_client import docker_client
from ._image_names import ImageNames, git_commit

__all__ = ["BuildFailed", "BuiltImage", "build_images"]

Progress = Callable[[str, str], None]  # (worker or other source, line)
STEP_OUTPUT_KEPT = 30  # last lines of a failing step that BuildFailed carries
WHEELHOUSE_FAILURE_LINES = 10  # last lines of the wheelhouse script in its failure
# Lines of the Docker engine's bookkeeping between a step's own lines
_BOOKKEEPING = (" ---> ", "Removing intermediate container ")


@dataclass(frozen=True)
class BuiltImage:
    worker: str
    tags: tuple[str, ...]
    image_id: str
    size_bytes: int
    seconds: float


def ensure_wheelhouse(repo: Path, progress: Progress) -> None:
    """Wheels of the SDK and every requirements.txt: images install with ``--no-index``.
    The script's lines (and pip's) are reported as they come, as ``wheelhouse``."""
    script = repo / "scripts" / "wheelhouse.sh"
    last: deque[str] = deque(maxlen=WHEELHOUSE_FAILURE_LINES)
    try:
        process = subprocess.Popen([str(script)], cwd=repo, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, errors="replace")
    except OSError as exc:
        raise ToolingError(f"scripts/wheelhouse.sh: cannot run it ({exc.strerror}); restore "
                           "it from git (it must be executable)") from None
    with process:
        assert process.stdout is not None  # a pipe was asked for
        for raw in process.stdout:
            line = raw.rstrip().removeprefix("[wheelhouse] ")  # the reporter names the source
            if line:
                last.append(line)
                progress("wheelhouse", line)
    if process.returncode != 0:
        said = "\n".join(last)
        raise ToolingError(f"building the wheelhouse failed (scripts/wheelhouse.sh exited "
                           f"with {process.returncode}):\n{said}")


def _select(repo: Path, names: Sequence[str] | None) -> list[DiscoveredWorker]:
    workers = discover_workers(repo)
    if not names:
        return workers
    known = {worker.name: worker for worker in workers}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ToolingError(f"no worker named {', '.join(unknown)}; known: {', '.join(known)}")
    return [known[name] for name in names]


def build_images(
    repo: Path,
    names: Sequence[str] | None = None,
    *,
    registry: str | None = None,
    tag: str | None = None,
    images: ImageNames | None = None,
    base_image: str | None = None,
    push: bool = False,
    progress: Progress = lambda worker, line: None,
    warn: Callable[[str], None] = lambda message: None,
) -> list[BuiltImage]:
    """Build (and with ``push`` push) the images of the named workers, or all.

    Names from ``images`` (default: ``registry``/``tag``, else ``$REGISTRY``/``$TAG``, see
    :class:`~._image_names.ImageNames`): ``REGISTRY/workers-NAME:TAG`` (TAG: the worker's
    version by default), ``:latest`` and the git commit. ``base_image`` (env
    ``BASE_IMAGE``) replaces the Dockerfiles' ``python:3.12-slim``; unset, a local base is
    used where that one is not here (:func:`~._base_images.find_base`).

    ``progress(source, line)`` gets every line as it is printed: each build's, with the
    worker's name as source, and ``wheelhouse``, ``base`` and push lines; ``warn`` what
    is worth a warning (no commit to tag with). A failed build raises
    :class:`BuildFailed` naming the worker and its failing step, with that step's last
    lines as ``output``.
    """
    images = (images or ImageNames(registry=registry, tag=tag)).resolve()
    workers = _select(repo, names)
    with docker_client() as client:
        ensure_wheelhouse(repo, progress)
        base_image = find_base(client, PYTHON_BASE, base_image,
                               say=lambda line: progress("base", line))
        commit, why_not = git_commit(repo)
        if commit is None:
            warn(why_not)
        built = []
        for worker in workers:
            repository = images.repository(worker.name)
            tags = list(images.tags(worker.spec.version, commit))
            dockerfile = (worker.path / "Dockerfile" if worker.has_dockerfile
                          else repo / "workers" / "Dockerfile")
            args = {"WORKER_DIR": str(worker.path.relative_to(repo)),
                    "ENTRY_POINT": worker.spec.entry_point}
            if base_image:
                args["BASE_IMAGE"] = base_image
            started = time.monotonic()
            try:
                image_id = _build(client, worker.name, repo, dockerfile, args,
                                  f"{repository}:{tags[0]}", progress)
            except BuildFailed as exc:
                hint = pull_hint(PYTHON_BASE, base_image, str(exc))
                if hint:
                    raise BuildFailed(f"{exc}; {hint}", exc.output) from None
                raise
            image = client.images.get(image_id)
            for extra in tags[1:]:
                image.tag(repository, extra)
            if push:
                _push(client, worker.name, repository, tags, progress)
            built.append(BuiltImage(worker.name, tuple(f"{repository}:{t}" for t in tags),
                                    image_id, int(image.attrs.get("Size", 0)),
                                    time.monotonic() - started))
        return built


def _build(client: Any, worker: str, repo: Path, dockerfile: Path, args: dict[str, str],
           tag: str, progress: Progress) -> str:
    """Build ``tag`` and return its image id; each line of the build reaches
    ``progress(worker, line)`` as the Docker engine sends it (a chunk of the stream may
    hold part of a line, or several)."""
    step = ""
    image_id = ""
    failure: str | None = None  # what the engine said went wrong
    pending = ""  # the start of a line whose end has not come yet
    output: deque[str] = deque(maxlen=STEP_OUTPUT_KEPT)  # the current step's lines

    def report(text: str) -> None:
        nonlocal step
        line = text.rstrip().rsplit("\r", 1)[-1]  # a progress bar: its last state
        if not line:
            return
        if line.startswith("Step "):
            step = line
            output.clear()
        elif not line.startswith(_BOOKKEEPING):
            output.append(line)
        progress(worker, line)

    def failed(detail: object) -> BuildFailed:
        return BuildFailed(f"{worker}: image build failed at {step or 'the start'}: "
                           f"{str(detail).strip()}", output)

    try:
        stream = client.api.build(path=str(repo), dockerfile=str(dockerfile.relative_to(repo)),
                                  buildargs=args, tag=tag, rm=True, forcerm=True, decode=True)
        for chunk in stream:  # read to the end even after an error: that frees the socket
            *lines, pending = (pending + str(chunk.get("stream", ""))).split("\n")
            for line in lines:
                report(line)
            if "error" in chunk and failure is None:
                report(pending)
                pending = ""
                failure = str(chunk.get("error", ""))
            aux = chunk.get("aux")
            if isinstance(aux, dict) and "ID" in aux:
                image_id = str(aux["ID"])
        report(pending)
    except (APIError, DockerException) as exc:
        raise failed(exc) from None
    if failure is not None:
        raise failed(failure)
    if not image_id:
        raise BuildFailed(f"{worker}: the build finished without an image id")
    return image_id


def _push(client: Any, worker: str, repository: str, tags: list[str], progress: Progress) -> None:
    for tag in tags:
        for chunk in client.api.push(repository, tag=tag, stream=True, decode=True):
            if "error" in chunk:
                raise ToolingError(f"{worker}: push of {repository}:{tag} failed: "
                                   f"{chunk['error']} (is `docker login` done for that registry?)")
            if chunk.get("status"):
                progress(worker, f"{chunk['status']} {chunk.get('progress', '')}".strip())
