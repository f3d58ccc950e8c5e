"""Find the workers of a repository and check each ``worker.json`` and the set as a whole.

Every ``workers/*/worker.json`` is read (folders starting with ``_`` or ``.`` and
``common/`` are not workers). All problems of all files are reported at once, as one
:class:`~workers_tooling.errors.WorkerValidationError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from camunda_workers import SpecError, load_spec

from ._service_spec import ServiceSpec
from .errors import WorkerValidationError

__all__ = ["SKIPPED_FOLDERS", "DiscoveredWorker", "discover_workers", "worker_summary"]

SKIPPED_FOLDERS = frozenset({"common"})


@dataclass(frozen=True)
class DiscoveredWorker:
    """A valid worker: its folder, its ``worker.json`` and whether it has its own Dockerfile."""

    path: Path
    spec: ServiceSpec
    has_dockerfile: bool

    @property
    def name(self) -> str:
        return self.spec.name


def _is_worker_folder(path: Path) -> bool:
    return (path.is_dir() and not path.name.startswith(("_", "."))
            and path.name not in SKIPPED_FOLDERS)


def relative(path: Path, repo: Path) -> str:
    """``path`` relative to ``repo`` for messages (as given when it is outside)."""
    try:
        return path.resolve().relative_to(repo.resolve()).as_posix()
    except ValueError:
        return str(path)


def _read(folder: Path, repo: Path, problems: list[str]) -> ServiceSpec | None:
    source = f"{relative(folder, repo)}/worker.json"
    if not (folder / "worker.json").is_file():
        problems.append(f"{source}: missing; every folder in workers/ is a worker: add its "
                        "worker.json (`workers new`), or prefix the folder name with _")
        return None
    try:
        return load_spec(folder / "worker.json", model=ServiceSpec)
    except SpecError as exc:
        problems.extend(f"{source}: {path}: {message}" if path else f"{source}: {message}"
                        for path, message in exc.problems)
        return None


def _check_own(folder: Path, spec: ServiceSpec, source: str, problems: list[str]) -> None:
    if spec.name != folder.name:
        problems.append(f"{source}: name: {spec.name!r} differs from its folder; set "
                        f'"name": "{folder.name}" or rename the folder to {spec.name}')
    entry = PurePosixPath(spec.entry_point)
    if entry.is_absolute() or ".." in entry.parts:
        problems.append(f"{source}: entry_point: {spec.entry_point!r} must be a path inside "
                        "the worker's folder, e.g. 'main.py'")
    elif not (folder / entry).is_file():
        problems.append(f"{source}: entry_point: {spec.entry_point!r} does not exist in "
                        f"{folder.name}/; create it or point entry_point at the script")


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


def discover_workers(repo: Path) -> list[DiscoveredWorker]:
    """The valid workers of ``repo``, sorted by name; raises if any declaration is wrong."""
    root = repo / "workers"
    problems: list[str] = []
    found: list[tuple[str, ServiceSpec]] = []
    workers: list[DiscoveredWorker] = []
    folders = sorted(p for p in root.iterdir() if _is_worker_folder(p)) if root.is_dir() else []
    for folder in folders:
        spec = _read(folder, repo, problems)
        if spec is None:
            continue
        source = f"{relative(folder, repo)}/worker.json"
        _check_own(folder, spec, source, problems)
        found.append((source, spec))
        workers.append(DiscoveredWorker(folder, spec, (folder / "Dockerfile").is_file()))
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
