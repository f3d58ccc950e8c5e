"""Clashes between workers (a name, a port, a topic declared twice), blamed on the worker
that changed.

Which of two clashing ``worker.json`` files is wrong is git's view: the one with
uncommitted changes when only one has them, else the one committed later; when git cannot
tell (no repository, both changed, same commit), the message names both neutrally and
says which values are free. Git is asked only when there is a clash.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..git import git_text

__all__ = ["Declared", "clash_problems"]


@dataclass(frozen=True)
class Declared:
    """What one worker.json declares that must be unique across workers (as far as it could
    be read: an invalid file still takes part with the values that are usable)."""

    source: str  # workers/NAME/worker.json
    name: str | None
    port: int | None
    topics: tuple[str, ...] = ()
    shared_topics: frozenset[str] = field(default_factory=frozenset)


class _GitView:
    """Which worker.json files changed: uncommitted, or when each was last committed."""

    def __init__(self, repo: Path) -> None:
        self._repo = repo
        self._dirty: set[str] | None = None
        self._times: dict[str, int | None] = {}

    def _run(self, *args: str) -> str | None:
        return git_text(self._repo, *args)

    def dirty(self, source: str) -> bool | None:
        if self._dirty is None:
            out = self._run("status", "--porcelain", "--untracked-files=all", "--",
                            "workers")
            if out is None:
                return None
            self._dirty = {line[3:].strip().strip('"') for line in out.splitlines()}
        folder = source.rsplit("/", 1)[0] + "/"
        return any(path == source or path.startswith(folder) for path in self._dirty)

    def committed_at(self, source: str) -> int | None:
        if source not in self._times:
            out = self._run("log", "-1", "--format=%ct", "--", source)
            self._times[source] = int(out) if out and out.strip().isdigit() else None
        return self._times[source]

    def changed_of(self, first: str, second: str) -> tuple[str, str] | None:
        """(the one that changed, how), or None when git cannot tell."""
        dirty = (self.dirty(first), self.dirty(second))
        if None in dirty:
            return None
        if dirty[0] != dirty[1]:
            return (first if dirty[0] else second), "this one has uncommitted changes"
        if dirty[0]:
            return None
        times = (self.committed_at(first), self.committed_at(second))
        if times[0] is None or times[1] is None or times[0] == times[1]:
            return None
        return (first if times[0] > times[1] else second), "this one was committed later"


def clash_problems(repo: Path, declared: Sequence[Declared]) -> list[str]:
    """A line per clash, ``source: field: ...`` of the worker to change (or both)."""
    git = _GitView(repo)
    taken_ports = {d.port for d in declared if d.port is not None}
    next_port = max(taken_ports, default=8000)

    def free_port() -> int:
        nonlocal next_port
        next_port += 1
        while next_port in taken_ports:
            next_port += 1
        return next_port

    problems: list[str] = []
    names: dict[str, str] = {}
    ports: dict[int, str] = {}
    topics: dict[str, Declared] = {}
    for worker in declared:
        if worker.name is not None:
            if worker.name in names:
                problems.append(_line(git, worker.source, names[worker.name], "name",
                                      f"{worker.name!r} is the name of both",
                                      "worker names must be unique; rename one"))
            names.setdefault(worker.name, worker.source)
        if worker.port is not None:
            if worker.port in ports:
                problems.append(_line(git, worker.source, ports[worker.port], "port",
                                      f"{worker.port} is used by both",
                                      f"pick a free port, e.g. {free_port()}"))
            ports.setdefault(worker.port, worker.source)
        for topic in worker.topics:
            other = topics.get(topic)
            if other is not None and not (topic in worker.shared_topics
                                          and topic in other.shared_topics):
                problems.append(_line(
                    git, worker.source, other.source, "topics",
                    f"{topic!r} is served by both",
                    "remove it from one of them, or list it in \"shared_topics\" of both if "
                    "they share it on purpose"))
            topics.setdefault(topic, worker)
    return problems


def _line(git: _GitView, later: str, earlier: str, key: str, clash: str, fix: str) -> str:
    """``later`` clashes with ``earlier`` (found first): blame the changed one, or both."""
    changed = git.changed_of(earlier, later)
    if changed is None:
        return (f"{earlier} and {later}: {key}: {clash} (git cannot tell which changed); "
                f"{fix}")
    blamed, how = changed
    other = later if blamed == earlier else earlier
    fix = fix.replace("rename one", "rename this one").replace(
        "from one of them", "from this one")
    return f"{blamed}: {key}: {clash.replace(' both', '')} {other} too ({how}); {fix}"
