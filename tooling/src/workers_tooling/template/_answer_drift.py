"""Answers that a worker's ``worker.json`` no longer agrees with.

``workers new`` writes the same answers into ``worker.json`` and into the files the
template renders from them (the README's port and topics, ``main.py``'s handlers and
docstring, the Dockerfile's port), and records them in ``.copier-answers.yml``. A hand
edit of ``worker.json`` (the port moved to 8002) leaves those files and the answers at the
old value, and ``workers update`` keeps them so: it renders the old and the new template
version with the same recorded answers, so no change of theirs reaches the files. The
fields compared are those rendered outside ``worker.json``; ``replicas``, ``max_tasks``
and ``lock_duration`` live only there (``workers scale`` edits ``replicas``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ._answers import ANSWERS_FILE, read_answers
from ..errors import ToolingError

__all__ = ["AnswerDrift", "answer_drift"]

# Each field compared, with the template's files besides worker.json that show it.
RENDERED_FIELDS: dict[str, tuple[str, ...]] = {
    "name": ("README.md", "main.py"),
    "description": ("README.md", "main.py"),
    "port": ("README.md", "Dockerfile"),
    "topics": ("README.md", "main.py", "tests/test_handlers.py"),
}


@dataclass(frozen=True)
class AnswerDrift:
    """One answer of ``worker`` that ``worker.json`` disagrees with."""

    worker: str
    field: str
    answer: object
    in_file: object
    files: tuple[str, ...]

    def message(self) -> str:
        shown = ", ".join(self.files)
        answer, in_file = json.dumps(self.answer), json.dumps(self.in_file)
        return (f"workers/{self.worker}/{ANSWERS_FILE}: {self.field}: answer {answer}, "
                f"worker.json {in_file} ({shown} still say {answer}); to keep {in_file} set "
                f"`{self.field}: {in_file}` in {ANSWERS_FILE} and edit {shown} by hand "
                f"(`workers update` will not), or put {answer} back in worker.json")


def answer_drift(folder: Path) -> list[AnswerDrift]:
    """The compared answers that differ from ``folder/worker.json`` (none when either file
    cannot be read: discovery and the answers' own checks report that)."""
    try:
        answers = read_answers(folder)
        spec = json.loads((folder / "worker.json").read_text(encoding="utf-8"))
    except (ToolingError, OSError, UnicodeDecodeError, ValueError):
        return []
    if not isinstance(spec, dict):
        return []
    drift = []
    for field, files in RENDERED_FIELDS.items():
        if field not in answers or field not in spec:
            continue
        answer, in_file = answers[field], spec[field]
        if isinstance(answer, list | tuple):
            answer = list(answer)
        if answer != in_file:
            shown = tuple(name for name in files if (folder / name).is_file())
            drift.append(AnswerDrift(folder.name, field, answer, in_file, shown))
    return drift
