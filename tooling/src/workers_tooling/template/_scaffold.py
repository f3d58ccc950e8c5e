"""New workers from the Copier template, and template updates for existing ones.

Versions: every Copier call is pinned to a version tag of the template (the latest, or the
one asked for), so answers files record versions (``_commit: v0.3.0``), never commits; for
this repository's own template the tags are derived from ``_template_version`` first
(:mod:`._tags`, :mod:`._source`).

How ``_src_path`` is recorded: relative to the worker's own folder (``../..`` for a worker
in ``workers/NAME`` of this repository), or as given when it is a URL or an absolute
path (a team whose workers live in another repository). Copier resolves a relative
``_src_path`` against the current directory, so every Copier call here runs inside the
worker's folder: the commands work from any directory, and a plain ``copier update``
run inside ``workers/NAME`` works too.

Trust: Copier runs a template's tasks, migrations and Jinja extensions only for this
repository's own template, or with ``trust=True`` (``--trust``) for any other source
(:mod:`._trust`); ``update_workers`` names each source before it runs it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import copier
from copier.errors import (
    CopierAnswersInterrupt,
    CopierError,
    UnsafeTemplateError,
    UnsupportedVersionError,
)
from jinja2 import TemplateError
from plumbum.commands.processes import ProcessExecutionError

from camunda_workers import SpecError

from ._answer_drift import AnswerDrift, answer_drift
from ._answers import (
    ANSWERS_FILE,
    answer_problems,
    next_free_port,
    read_answers,
    record_version,
    repository_facts,
)
from ._source import SourceCache, TemplateSource, Warn, is_url, parse_version
from ._trust import UntrustedTemplate, code_it_runs, is_own_template, untrusted_message
from ..git import run_git
from ._versions import TemplateVersionError, git_ok, git_output
from ..errors import NoTemplateVersion, ToolingError

__all__ = [
    "ANSWERS_FILE",
    "UpdateCheck",
    "UpdateResult",
    "WorkerTemplate",
    "check_updates",
    "managed_workers",
    "new_worker",
    "next_free_port",
    "update_workers",
    "worker_template",
]

_CONFLICT_MARKER = "<<<<<<< before updating"
_COPIER_ERRORS = (CopierError, ValueError, TypeError, OSError, TemplateError,
                  subprocess.CalledProcessError)


def _workers_dir(repo: Path) -> Path:
    return repo / "workers"


@contextlib.contextmanager
def copier_errors(what: str) -> Iterator[None]:
    """Copier's and git's failures as one ToolingError naming ``what`` failed."""
    try:
        yield
    except CopierAnswersInterrupt:  # Ctrl-C at a question: its text is Copier's whole state
        raise KeyboardInterrupt from None
    except _COPIER_ERRORS as exc:
        if isinstance(exc, ProcessExecutionError):
            detail = (exc.stderr or exc.stdout or "").strip().splitlines()[-3:]
            reason = f"`{' '.join(map(str, exc.argv[:3]))}` failed: {' '.join(detail)}"
        elif isinstance(exc, TemplateError) and getattr(exc, "name", None):
            # Jinja knows the template file and line: the message names them
            line = getattr(exc, "lineno", None)
            where = f"{exc.name}{f', line {line}' if line else ''}"  # type: ignore[attr-defined]
            reason = f"{where}: {str(exc).strip()}"
        else:
            reason = str(exc).strip() or type(exc).__name__
        if isinstance(exc, UnsupportedVersionError):
            reason += " Upgrade Copier where the tooling runs (`pip install -U copier`)."
        if isinstance(exc, UnsafeTemplateError):  # the last guard: see _template_trust
            raise UntrustedTemplate(f"{what}: {' '.join(str(exc).split())} Check the "
                                    "template, then run the command again with --trust"
                                    ) from None
        raise ToolingError(f"{what}: {reason}") from None


def _recorded_source(repo: Path, template: str | None, destination: Path) -> str:
    """What Copier records as ``_src_path``: see the module docstring."""
    if template is None:
        return os.path.relpath(repo, destination)
    if is_url(template) or os.path.isabs(template):
        return template
    return os.path.relpath(Path(template).resolve(), destination)


def new_worker(
    repo: Path,
    *,
    answers: Mapping[str, Any],
    template: str | None = None,
    vcs_ref: str | None = None,
    interactive: bool = False,
    trust: bool = False,
    warn: Warn | None = None,
) -> Path:
    """Render the template into ``workers/NAME``; nothing is left behind if it fails.

    Non-interactive: ``answers`` must hold ``name`` and ``topics``; ``port`` defaults
    to the next free one. Interactive: Copier asks, with these as defaults. The worker
    records the template version it was made from (the latest, or ``vcs_ref``). A template
    other than this repository's runs its tasks and Jinja extensions only with ``trust``.
    """
    defaults = {"port": next_free_port(repo), **answers}
    if not interactive:
        problems = answer_problems(repo, defaults)
        if problems:
            raise SpecError("worker answers", problems)
    source = SourceCache(warn).get(str(repo) if template is None else template, Path.cwd())
    version = source.version_ref(vcs_ref)
    unsafe = trust or is_own_template(source, repo)
    runs = [] if unsafe else code_it_runs(source, [version], update=False)
    if runs:
        raise UntrustedTemplate(untrusted_message(
            "--template", str(template), runs, update=False,
            fix="run the same `workers new` with --trust"))
    name = str(defaults.get("name", "")) if not interactive else None
    destination = _workers_dir(repo) / name if name else None
    if destination is not None and destination.exists():
        raise ToolingError(f"{destination} already exists: pick another name")
    staging = destination or _workers_dir(repo) / ".new-worker"
    staging.mkdir(parents=True)
    try:
        with contextlib.chdir(staging), copier_errors("the template could not be rendered"):
            copier.run_copy(
                _recorded_source(repo, template, staging), ".",
                # interactive: each answer is checked against the repository as it is given
                data=dict(defaults) if not interactive else repository_facts(repo),
                user_defaults=dict(defaults) if interactive else None,
                defaults=not interactive, vcs_ref=version, unsafe=unsafe, quiet=True,
            )
        if read_answers(staging).get("_commit") != version:
            record_version(staging, version)  # git describe chose another tag of that commit
        if destination is None:  # interactive: the name is known only now
            chosen = json.loads((staging / "worker.json").read_text())["name"]
            destination = _workers_dir(repo) / chosen
            if destination.exists():
                raise ToolingError(f"{destination} already exists: pick another name")
            staging.rename(destination)
    except (Exception, KeyboardInterrupt):
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return destination


def managed_workers(repo: Path, names: Sequence[str] | None = None) -> list[Path]:
    """The folders of the workers made from a template (all, or those named)."""
    folders = sorted(p.parent for p in _workers_dir(repo).glob(f"*/{ANSWERS_FILE}"))
    if not names:
        return folders
    known = {p.name: p for p in folders}
    missing = [n for n in names if n not in known]
    if missing:
        raise ToolingError(
            f"no template-managed worker named {', '.join(missing)} (has it a {ANSWERS_FILE}?); "
            f"known: {', '.join(known) or 'none'}")
    return [known[n] for n in names]


@dataclass(frozen=True)
class WorkerTemplate:
    """A worker, its template, the version its answers file records, the ``_src_path`` as
    written there and whether it is this repository's own template (``own``)."""

    folder: Path
    source: TemplateSource
    recorded: str
    src_path: str
    own: bool

    @property
    def name(self) -> str:
        return self.folder.name

    def origin(self) -> str:
        """Where the template is, and whose: what ``workers update`` names before it runs."""
        if self.own:
            return f"{self.source.location_shown()} (this repository's template)"
        return f"{self.src_path!r} (not this repository's template: {self.source.location_shown()})"


def worker_template(folder: Path, sources: SourceCache,
                    repo: Path | None = None) -> WorkerTemplate:
    """The worker's template; :class:`NoTemplateVersion` (naming worker, ref and fix) if it
    has none."""
    answers = read_answers(folder)
    where = f"workers/{folder.name}/{ANSWERS_FILE}"
    src = answers.get("_src_path")
    if not isinstance(src, str) or not src:
        raise NoTemplateVersion(f"{where}: no _src_path (the template it was made from); "
                                "restore the file from git")
    source = sources.get(src, folder)
    recorded = answers.get("_commit")
    own = is_own_template(source, repo if repo is not None else folder.parents[1])
    if isinstance(recorded, str) and source.has(recorded):
        return WorkerTemplate(folder, source, recorded, src, own)
    what = f"the template ref {recorded!r}" if recorded else "no template version"
    raise NoTemplateVersion(
        f"{where} records {what}, which the template {source.location_shown()} does not have "
        f"(commits are rewritten on their way to main; versions are tags: "
        f"{', '.join(source.tags)}). Run `workers adopt {folder.name}` to record the "
        f"version its files match (or `workers adopt {folder.name} VERSION`), commit it, "
        "then update")


def _templates(repo: Path, names: Sequence[str] | None, sources: SourceCache,
               ) -> list[WorkerTemplate]:
    found: list[WorkerTemplate] = []
    problems: list[str] = []
    for folder in managed_workers(repo, names):
        try:
            found.append(worker_template(folder, sources, repo))
        except NoTemplateVersion as exc:
            problems.append(str(exc))
    if problems:
        raise TemplateVersionError("\n".join(
            ["the template version some workers record cannot be found:", *problems]))
    return found


@dataclass(frozen=True)
class UpdateResult:
    """What ``update_workers`` did for one worker."""

    name: str
    status: Literal["updated", "current", "conflicts"]
    from_commit: str | None
    to_commit: str | None
    conflicts: list[str] = field(default_factory=list)


def _conflicted_files(folder: Path) -> list[str]:
    found: list[str] = []
    for path in sorted(folder.rglob("*")):
        if path.suffix == ".rej":
            found.append(str(path.relative_to(folder)))
        elif path.is_file():
            with contextlib.suppress(OSError, UnicodeDecodeError):
                if _CONFLICT_MARKER in path.read_text(encoding="utf-8"):
                    found.append(str(path.relative_to(folder)))
    return found


def _dirty(folder: Path) -> bool:
    done = run_git(folder, "status", "--porcelain", "--", ".")
    return done.returncode == 0 and bool(done.stdout.strip())


def _is_older(recorded: str, target: str) -> bool:
    before, after = parse_version(recorded), parse_version(target)
    return before is not None and after is not None and before > after


def _untrusted(plans: Sequence[tuple[WorkerTemplate, str]]) -> list[str]:
    """Why each worker whose template is not this repository's and would run code stops."""
    problems = []
    for worker, target in plans:
        if worker.own or worker.recorded == target:
            continue
        runs = code_it_runs(worker.source, [worker.recorded, target], update=True)
        if runs:
            problems.append(untrusted_message(
                f"workers/{worker.name}/{ANSWERS_FILE}: _src_path", worker.src_path, runs,
                update=True, fix=f"workers update {worker.name} --trust"))
    return problems


def update_workers(
    repo: Path, names: Sequence[str] | None = None, *, vcs_ref: str | None = None,
    trust: bool = False, warn: Warn | None = None,
    announce: Callable[[WorkerTemplate, str], None] | None = None,
) -> list[UpdateResult]:
    """``copier update`` to the latest template version (or ``vcs_ref``) for each named
    worker (all when ``names`` is empty). Nothing is touched unless every worker can go:
    a template that is not this repository's and would run code stops them all unless
    ``trust``. ``announce(worker, target)`` is told each template before it runs."""
    plans = [(worker, worker.source.version_ref(vcs_ref))
             for worker in _templates(repo, names, SourceCache(warn))]
    blocked = [f"workers/{worker.name}: has uncommitted changes; commit or stash them first"
               for worker, target in plans if worker.recorded != target and _dirty(worker.folder)]
    blocked += [f"workers/{worker.name}: records {worker.recorded}, newer than {target}; "
                "downgrades are not supported" for worker, target in plans
                if _is_older(worker.recorded, target)]
    untrusted = [] if trust else _untrusted(plans)
    if untrusted and not blocked:
        raise UntrustedTemplate("\n".join(untrusted))
    blocked += untrusted
    if blocked:
        raise ToolingError("\n".join(blocked))
    results = []
    with _unmerged_entries_set_aside(repo) as set_aside:
        for worker, target in plans:
            if worker.recorded == target:
                results.append(UpdateResult(worker.name, "current", target, target))
                continue
            if announce is not None:
                announce(worker, target)
            with contextlib.chdir(worker.folder), copier_errors(
                    f"workers/{worker.name}: update failed"):
                copier.run_update(".", defaults=True, overwrite=True, unsafe=trust or worker.own,
                                  quiet=True, vcs_ref=target, conflict="inline")
            if read_answers(worker.folder).get("_commit") != target:
                record_version(worker.folder, target)
            conflicts = _conflicted_files(worker.folder)
            results.append(UpdateResult(worker.name, "conflicts" if conflicts else "updated",
                                        worker.recorded, target, conflicts))
            set_aside()
    return results


@contextlib.contextmanager
def _unmerged_entries_set_aside(repo: Path) -> Iterator[Callable[[], None]]:
    """Copier marks an inline conflict as unmerged in git's index (so ``git status`` and
    editors show it); the next worker's update in the same repository then fails at ``git
    write-tree``. The yielded function takes the unmerged entries out of the index (the
    files keep their markers); they are all put back at the end."""
    if not git_ok(repo, "rev-parse", "--is-inside-work-tree"):
        yield lambda: None
        return
    root = Path(git_output(repo, "rev-parse", "--show-toplevel").strip())
    kept: list[str] = []

    def set_aside() -> None:
        unmerged = git_output(root, "ls-files", "-u", "-z")
        entries = [entry for entry in unmerged.split("\0") if entry]
        if entries:
            kept.extend(entries)
            paths = sorted({entry.split("\t", 1)[1] for entry in entries})
            git_output(root, "reset", "-q", "--", *paths)

    try:
        yield set_aside
    finally:
        if kept:
            paths = sorted({entry.split("\t", 1)[1] for entry in kept})
            # Stage 0 out first ("mode 0" removes it), then the conflict stages back in.
            lines = [f"0 {'0' * 40}\t{path}" for path in paths] + kept
            git_output(root, "update-index", "--index-info", stdin="\n".join(lines) + "\n")


@dataclass(frozen=True)
class UpdateCheck:
    """A worker's template version against the latest; ``source`` is its ``_src_path``
    when that is not this repository's template (else None); ``drift``, the answers its
    ``worker.json`` disagrees with."""

    name: str
    current: str
    latest: str
    behind: bool
    source: str | None = None
    drift: tuple[AnswerDrift, ...] = ()


def check_updates(repo: Path, names: Sequence[str] | None = None, *,
                  warn: Warn | None = None) -> list[UpdateCheck]:
    """Which workers are behind their template's latest version, and which answers their
    ``worker.json`` disagrees with."""
    checks = []
    for worker in _templates(repo, names, SourceCache(warn)):
        latest = worker.source.latest
        before, after = parse_version(worker.recorded), parse_version(latest)
        behind = worker.recorded != latest and (before is None or after is None or before < after)
        checks.append(UpdateCheck(worker.name, worker.recorded, latest, behind,
                                  None if worker.own else worker.src_path,
                                  tuple(answer_drift(worker.folder))))
    return checks
