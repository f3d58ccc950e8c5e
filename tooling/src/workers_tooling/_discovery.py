"""Find the workers of a repository and check each ``worker.json`` and the set as a whole.

Every ``workers/*/worker.json`` is read (folders starting with ``_`` or ``.`` and
``common/`` are not workers) and validated with :class:`~workers_tooling.ServiceSpec`;
the topics it declares are compared with those its code serves (:mod:`._topics`). All
problems of all files are reported at once, as one
:class:`~workers_tooling.errors.WorkerValidationError`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from camunda_workers import SpecError, load_spec

from ._gc import without_gc
from ._service_spec import ServiceSpec
from ._topics import COMMON, TopicCache, cache_file, served_topics
from .errors import InputError, WorkerValidationError

__all__ = ["SKIPPED_FOLDERS", "DiscoveredWorker", "discover_workers", "relative",
           "worker_summary"]

SKIPPED_FOLDERS = frozenset({COMMON})


@dataclass(frozen=True)
class DiscoveredWorker:
    """A valid worker: its folder, its ``worker.json`` and whether it has its own Dockerfile."""

    path: Path
    spec: ServiceSpec
    has_dockerfile: bool

    @property
    def name(self) -> str:
        return self.spec.name


def relative(path: Path, repo: Path) -> str:
    """``path`` relative to ``repo`` for messages (as given when it is outside)."""
    try:
        return path.resolve().relative_to(repo.resolve()).as_posix()
    except ValueError:
        return str(path)


def _worker_folders(root: Path) -> list[tuple[Path, dict[str, bool]]]:
    """Each worker folder with its entries, name -> is a folder (one listing per folder)."""
    if not root.is_dir():
        return []
    folders = []
    try:
        with os.scandir(root) as entries:
            for entry in entries:
                if (entry.is_dir() and not entry.name.startswith(("_", "."))
                        and entry.name not in SKIPPED_FOLDERS):
                    with os.scandir(entry.path) as inside:
                        folders.append((Path(entry.path),
                                        {item.name: item.is_dir() for item in inside}))
    except OSError as exc:
        raise InputError(f"{exc.filename}: cannot list the folder ({exc.strerror}); check "
                         "its permissions") from None
    return sorted(folders, key=lambda item: item[0].name)


def _read(folder: Path, names: dict[str, bool], source: str,
          problems: list[str]) -> ServiceSpec | None:
    if "worker.json" not in names:
        problems.append(f"{source}: missing; every folder in workers/ is a worker: add its "
                        "worker.json (`workers new`), or prefix the folder name with _")
        return None
    try:
        return load_spec(os.path.join(folder, "worker.json"), model=ServiceSpec)
    except SpecError as exc:
        problems.extend(f"{source}: {path}: {message}" if path else f"{source}: {message}"
                        for path, message in exc.problems)
        return None


def _check_own(folder: Path, names: dict[str, bool], spec: ServiceSpec, source: str,
               problems: list[str]) -> None:
    if spec.name != folder.name:
        problems.append(f"{source}: name: {spec.name!r} differs from its folder; set "
                        f'"name": "{folder.name}" or rename the folder to {spec.name}')
    entry = PurePosixPath(spec.entry_point)
    if entry.is_absolute() or ".." in entry.parts:
        problems.append(f"{source}: entry_point: {spec.entry_point!r} must be a path inside "
                        "the worker's folder, e.g. 'main.py'")
    elif not (entry.name in names if len(entry.parts) == 1 else (folder / entry).is_file()):
        problems.append(f"{source}: entry_point: {spec.entry_point!r} does not exist in "
                        f"{folder.name}/; create it or point entry_point at the script")


def _check_topics(folder: Path, names: dict[str, bool], spec: ServiceSpec, source: str,
                  problems: list[str], cache: TopicCache) -> None:
    """The declared topics against the handlers the code registers."""
    served = served_topics(folder, folder.parent / COMMON, names, cache)
    problems.extend(f"{source}: topics: {line}" for line in served.unclear)
    for topic, where in served.topics.items():
        if topic not in spec.topics:
            problems.append(f"{source}: topics: {topic!r} is served by {where} but not "
                            "declared; add it to \"topics\" (or remove the handler)")
    if served.unclear:
        return  # an unknown registration may serve the rest
    for topic in spec.topics:
        if topic not in served.topics:
            problems.append(f"{source}: topics: {topic!r} is declared but no handler serves "
                            f"it (no .topic({topic!r}) in workers/{folder.name}/); add a "
                            "handler or remove the topic")


def _check_set(found: list[tuple[str, ServiceSpec]], problems: list[str]) -> None:
    names: dict[str, str] = {}
    ports: dict[int, str] = {}
    topics: dict[str, tuple[str, ServiceSpec]] = {}
    free = max((spec.port for _, spec in found), default=8000) + 1
    for source, spec in found:
        if spec.name in names:
            problems.append(f"{source}: name: {spec.name!r} is already the name of "
                            f"{names[spec.name]}; worker names must be unique")
        names.setdefault(spec.name, source)
        if spec.port in ports:
            problems.append(f"{source}: port: {spec.port} is already used by "
                            f"{ports[spec.port]}; pick a free port, e.g. {free}")
            free += 1
        ports.setdefault(spec.port, source)
        for topic in spec.topics:
            if topic in topics:
                other_source, other = topics[topic]
                if topic not in spec.shared_topics or topic not in other.shared_topics:
                    problems.append(
                        f"{source}: topics: {topic!r} is also served by {other_source}; "
                        "remove it from one of them, or list it in \"shared_topics\" of both "
                        "if they share it on purpose")
            topics.setdefault(topic, (source, spec))


@without_gc()
def discover_workers(repo: Path) -> list[DiscoveredWorker]:
    """The valid workers of ``repo``, sorted by name; raises if any declaration is wrong."""
    problems: list[str] = []
    found: list[tuple[str, ServiceSpec]] = []
    workers: list[DiscoveredWorker] = []
    cache = TopicCache(cache_file(repo))
    for folder, names in _worker_folders(repo / "workers"):
        source = f"workers/{folder.name}/worker.json"
        spec = _read(folder, names, source, problems)
        if spec is None:
            continue
        _check_own(folder, names, spec, source, problems)
        _check_topics(folder, names, spec, source, problems, cache)
        found.append((source, spec))
        workers.append(DiscoveredWorker(folder, spec, "Dockerfile" in names))
    cache.save()
    _check_set(found, problems)
    if problems:
        raise WorkerValidationError(problems)
    return sorted(workers, key=lambda worker: worker.name)


def worker_summary(worker: DiscoveredWorker) -> dict[str, Any]:
    """What ``workers list`` and ``workers discover --json`` show of a worker."""
    spec = worker.spec
    return {"name": spec.name, "path": f"workers/{worker.path.name}", "port": spec.port,
            "topics": list(spec.topics), "replicas": spec.replicas, "version": spec.version,
            "dockerfile": worker.has_dockerfile}
