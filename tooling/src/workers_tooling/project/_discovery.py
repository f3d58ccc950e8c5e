"""Find the workers of a repository and check each ``worker.json`` and the set as a whole.

Every ``workers/*/worker.json`` is read (folders starting with ``_`` or ``.`` and
``common/`` are not workers) and validated with :class:`~workers_tooling.ServiceSpec`;
the topics it declares are compared with those its code serves (:mod:`._topics`), and
names, ports and topics across workers (:mod:`._clashes`, also with the usable values of
an invalid file). All problems of all kinds and files are reported at once, as one
:class:`~workers_tooling.errors.WorkerValidationError`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from camunda_workers import SpecError, load_spec

from .._gc import without_gc
from ..errors import InputError, WorkerValidationError
from ._clashes import Declared, clash_problems
from ._paths import relative
from ._service_spec import ServiceSpec
from ._topics import COMMON, TopicCache, cache_file, served_topics

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


def _usable(folder: Path, source: str) -> Declared | None:
    """The name, port and topics of an invalid worker.json that are of the right type, for
    the checks across workers (so that one kind of problem does not hide another)."""
    try:
        data = json.loads((folder / "worker.json").read_text(encoding="utf-8-sig"))
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None

    def strings(value: Any) -> tuple[str, ...]:
        return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()

    name, port = data.get("name"), data.get("port")
    return Declared(source, name if isinstance(name, str) else None,
                    port if isinstance(port, int) and not isinstance(port, bool) else None,
                    strings(data.get("topics")), frozenset(strings(data.get("shared_topics"))))


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


@without_gc()
def discover_workers(repo: Path) -> list[DiscoveredWorker]:
    """The valid workers of ``repo``, sorted by name; raises if any declaration is wrong."""
    problems: list[str] = []
    found: list[Declared] = []
    workers: list[DiscoveredWorker] = []
    cache = TopicCache(cache_file(repo))
    for folder, names in _worker_folders(repo / "workers"):
        source = f"workers/{folder.name}/worker.json"
        spec = _read(folder, names, source, problems)
        if spec is None:
            usable = _usable(folder, source) if "worker.json" in names else None
            if usable is not None:
                found.append(usable)
            continue
        _check_own(folder, names, spec, source, problems)
        _check_topics(folder, names, spec, source, problems, cache)
        found.append(Declared(source, spec.name, spec.port, tuple(spec.topics),
                              frozenset(spec.shared_topics)))
        workers.append(DiscoveredWorker(folder, spec, "Dockerfile" in names))
    cache.save()
    if len(found) > 1:
        problems.extend(clash_problems(repo, found))
    if problems:
        raise WorkerValidationError(problems)
    return sorted(workers, key=lambda worker: worker.name)


def worker_summary(worker: DiscoveredWorker) -> dict[str, Any]:
    """What ``workers list`` and ``workers discover --json`` show of a worker."""
    spec = worker.spec
    return {"name": spec.name, "path": f"workers/{worker.path.name}", "port": spec.port,
            "topics": list(spec.topics), "replicas": spec.replicas, "version": spec.version,
            "dockerfile": worker.has_dockerfile}
