"""New workers from the Copier template, and template updates for existing ones.

How ``_src_path`` is recorded: relative to the worker's own folder (``../..`` for a worker
in ``workers/NAME`` of this repository), or as given when it is a URL or an absolute
path (a team whose workers live in another repository). Copier resolves a relative
``_src_path`` against the current directory, so every Copier call here runs inside the
worker's folder: the commands work from any directory, and a plain ``copier update``
run inside ``workers/NAME`` works too.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import copier
from copier.errors import CopierError
from pydantic import BaseModel, ConfigDict, Field

from camunda_workers import SpecError, TopicName, WorkerName, validate_model

from .errors import ToolingError

__all__ = [
    "ANSWERS_FILE",
    "UpdateCheck",
    "UpdateResult",
    "check_updates",
    "new_worker",
    "next_free_port",
    "update_workers",
]

ANSWERS_FILE = ".copier-answers.yml"
FIRST_PORT = 8001
_CONFLICT_MARKER = "<<<<<<< before updating"


class NewWorkerAnswers(BaseModel):
    """The questions of copier.yml, validated before Copier runs (all problems at once)."""

    model_config = ConfigDict(extra="forbid")

    name: WorkerName
    port: int = Field(ge=1024, le=65535)
    topics: list[TopicName] = Field(min_length=1)
    description: str = "A camunda-workers external-task worker."
    max_tasks: int = Field(default=10, ge=1, le=1000)
    lock_duration: int = Field(default=60_000, ge=1_000)
    replicas: int = Field(default=1, ge=0)
    custom_dockerfile: bool = False
    depends_on: list[str] = Field(default_factory=list)


def _workers_dir(repo: Path) -> Path:
    return repo / "workers"


def _used_ports(repo: Path) -> dict[int, str]:
    used: dict[int, str] = {}
    for spec_file in sorted(_workers_dir(repo).glob("*/worker.json")):
        with contextlib.suppress(OSError, ValueError):
            port = json.loads(spec_file.read_text(encoding="utf-8")).get("port")
            if isinstance(port, int):
                used.setdefault(port, spec_file.parent.name)
    return used


def next_free_port(repo: Path, start: int = FIRST_PORT) -> int:
    """The lowest port from ``start`` up that no ``workers/*/worker.json`` uses."""
    used = _used_ports(repo)
    port = start
    while port in used:
        port += 1
    return port


def _template_source(repo: Path, template: str | None, destination: Path) -> str:
    """What Copier records as ``_src_path``: see the module docstring."""
    if template is None:
        return os.path.relpath(repo, destination)
    if re.match(r"^[a-z][a-z0-9+.-]*://|^git@", template) or os.path.isabs(template):
        return template
    return os.path.relpath(Path(template).resolve(), destination)


def new_worker(
    repo: Path,
    *,
    answers: Mapping[str, Any],
    template: str | None = None,
    vcs_ref: str | None = None,
    interactive: bool = False,
) -> Path:
    """Render the template into ``workers/NAME``; nothing is left behind if it fails.

    Non-interactive: ``answers`` must hold ``name`` and ``topics``; ``port`` defaults
    to the next free one. Interactive: Copier asks, with these as defaults.
    """
    defaults = {"port": next_free_port(repo), **answers}
    if not interactive:
        problems = _answer_problems(repo, defaults)
        if problems:
            raise SpecError("worker answers", problems)
    name = str(defaults.get("name", "")) if not interactive else None
    destination = _workers_dir(repo) / name if name else None
    if destination is not None and destination.exists():
        raise ToolingError(f"{destination} already exists: pick another name")
    staging = destination or _workers_dir(repo) / ".new-worker"
    staging.mkdir(parents=True)
    try:
        with contextlib.chdir(staging):
            copier.run_copy(
                _template_source(repo, template, staging), ".",
                data=dict(defaults) if not interactive else None,
                user_defaults=dict(defaults) if interactive else None,
                defaults=not interactive, vcs_ref=vcs_ref, unsafe=True, quiet=True,
            )
        if destination is None:  # interactive: the name is known only now
            chosen = json.loads((staging / "worker.json").read_text())["name"]
            destination = _workers_dir(repo) / chosen
            if destination.exists():
                raise ToolingError(f"{destination} already exists: pick another name")
            staging.rename(destination)
    except (Exception, KeyboardInterrupt) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, CopierError | ValueError):
            raise ToolingError(f"the template could not be rendered: {exc}") from exc
        raise
    return destination


def _answer_problems(repo: Path, answers: Mapping[str, Any]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    try:
        validate_model(NewWorkerAnswers, answers, source="answers")
    except SpecError as exc:
        problems.extend(exc.problems)
    name, port = answers.get("name"), answers.get("port")
    if isinstance(name, str) and (_workers_dir(repo) / name).exists():
        problems.append(("name", f"workers/{name} already exists; pick another name"))
    owner = _used_ports(repo).get(port) if isinstance(port, int) else None
    if owner is not None:
        problems.append(("port", f"{port} is taken by workers/{owner}; the next free one is "
                                 f"{next_free_port(repo)}"))
    return problems


@dataclass(frozen=True)
class UpdateResult:
    """What ``update_workers`` did for one worker."""

    name: str
    status: Literal["updated", "current", "conflicts"]
    from_commit: str | None
    to_commit: str | None
    conflicts: list[str] = field(default_factory=list)


def _answers(folder: Path) -> dict[str, Any]:
    from ruamel.yaml import YAML

    data = YAML(typ="safe").load((folder / ANSWERS_FILE).read_text(encoding="utf-8"))
    return dict(data or {})


def _managed(repo: Path, names: Sequence[str] | None) -> list[Path]:
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


def update_workers(
    repo: Path, names: Sequence[str] | None = None, *, vcs_ref: str | None = None,
) -> list[UpdateResult]:
    """``copier update`` for each named worker (all when ``names`` is empty)."""
    results = []
    for folder in _managed(repo, names):
        before = _answers(folder).get("_commit")
        try:
            with contextlib.chdir(folder):
                copier.run_update(".", defaults=True, overwrite=True, unsafe=True, quiet=True,
                                  vcs_ref=vcs_ref, conflict="inline")
        except (CopierError, ValueError) as exc:
            raise ToolingError(f"workers/{folder.name}: update failed: {exc}") from exc
        after = _answers(folder).get("_commit")
        conflicts = _conflicted_files(folder)
        status: Literal["updated", "current", "conflicts"] = (
            "conflicts" if conflicts else "current" if before == after else "updated")
        results.append(UpdateResult(folder.name, status, before, after, conflicts))
    return results


@dataclass(frozen=True)
class UpdateCheck:
    name: str
    current: str
    latest: str
    behind: bool


def check_updates(repo: Path, names: Sequence[str] | None = None) -> list[UpdateCheck]:
    """Which workers are behind the template (Copier's ``check-update``)."""
    checks = []
    for folder in _managed(repo, names):
        # check-update has no public Python API; its CLI prints JSON.
        done = subprocess.run(
            [sys.executable, "-m", "copier", "check-update", "--output-format", "json"],
            cwd=folder, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise ToolingError(f"workers/{folder.name}: check-update failed: "
                               f"{(done.stderr or done.stdout).strip()}")
        data = json.loads(done.stdout.strip().splitlines()[-1])
        checks.append(UpdateCheck(folder.name, data["current_version"], data["latest_version"],
                                  bool(data["update_available"])))
    return checks

