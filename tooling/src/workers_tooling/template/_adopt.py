"""``workers adopt``: record which template version a worker was made from.

For a worker whose answers file records a ref its template does not have (a commit
rewritten by a squash or rebase, or a version squashed away), or none. Without a version
given, each version of the template is rendered with the worker's answers and the one
whose files differ least from the worker's is chosen (the newest of equals): a 3-way
merge from that version brings in only what the worker does not have yet. Rendering runs
no tasks; a template other than this repository's loads its Jinja extensions only with
``trust`` (Copier refuses otherwise, see :mod:`._trust`).
"""

from __future__ import annotations

import difflib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import copier

from ._answers import ANSWERS_FILE, read_answers, record_version
from ._scaffold import copier_errors, managed_workers
from ._source import SourceCache, TemplateSource, Warn
from ._trust import is_own_template
from ..errors import ToolingError

__all__ = ["AdoptResult", "adopt_worker"]


@dataclass(frozen=True)
class AdoptResult:
    """The version now recorded, the one before, and how far each version was (lines)."""

    name: str
    previous: str | None
    version: str
    latest: str
    distances: dict[str, int] = field(default_factory=dict)


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []


def _distance(rendered: Path, folder: Path) -> int:
    """Lines that differ between a render and the worker (the worker's own files ignored)."""
    total = 0
    for path in sorted(rendered.rglob("*")):
        relative = path.relative_to(rendered)
        if not path.is_file() or relative.name == ANSWERS_FILE:
            continue
        diff = difflib.unified_diff(_lines(path), _lines(folder / relative), n=0, lineterm="")
        total += sum(1 for line in diff if line[:1] in "+-" and line[:3] not in ("+++", "---"))
    return total


def _render_distance(source: TemplateSource, version: str, answers: dict[str, object],
                     folder: Path, *, unsafe: bool) -> int:
    data = {key: value for key, value in answers.items() if not key.startswith("_")}
    with tempfile.TemporaryDirectory(prefix="workers-adopt-") as scratch, copier_errors(
            f"workers/{folder.name}: rendering template {version} failed"):
        copier.run_copy(source.location, scratch, data=data, vcs_ref=version, defaults=True,
                        quiet=True, unsafe=unsafe, skip_tasks=True)
        return _distance(Path(scratch), folder)


def adopt_worker(repo: Path, name: str, version: str | None = None, *, trust: bool = False,
                 warn: Warn | None = None) -> AdoptResult:
    """Record ``version`` (or the closest one) in ``workers/NAME/.copier-answers.yml``."""
    [folder] = managed_workers(repo, [name])
    answers = read_answers(folder)
    src = answers.get("_src_path")
    if not isinstance(src, str) or not src:
        raise ToolingError(f"workers/{name}/{ANSWERS_FILE}: no _src_path (the template it was "
                           "made from); restore the file from git")
    source = SourceCache(warn).get(src, folder)
    distances: dict[str, int] = {}
    if version is not None:
        chosen = source.version_ref(version)
    else:
        for tag in source.tags:
            distances[tag] = _render_distance(source, tag, answers, folder,
                                              unsafe=trust or is_own_template(source, repo))
        # Fewest differing lines; among equals the newest (tags ascend).
        chosen = min(reversed(source.tags), key=lambda tag: distances[tag])
    previous = answers.get("_commit")
    record_version(folder, chosen)
    return AdoptResult(name, str(previous) if previous is not None else None, chosen,
                       source.latest, distances)
