"""The publication a process asks for: read and checked from process variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from camunda_workers import BpmnError

__all__ = ["INVALID_PUBLICATION", "Publication", "Section"]

# The BPMN error code the process catches to send the request back for correction.
INVALID_PUBLICATION = "PUBLICACAO_INVALIDA"


@dataclass(frozen=True)
class Section:
    heading: str
    paragraphs: tuple[str, ...]


@dataclass(frozen=True)
class Publication:
    title: str
    author: str
    sections: tuple[Section, ...]
    tags: tuple[str, ...] = ()
    published_on: date | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def word_count(self) -> int:
        words = len(self.title.split())
        for section in self.sections:
            words += len(section.heading.split())
            words += sum(len(paragraph.split()) for paragraph in section.paragraphs)
        return words

    def summary(self, max_words: int = 30) -> str:
        """The first words of the text, for notifications and listings."""
        words = " ".join(p for s in self.sections for p in s.paragraphs).split()
        text = " ".join(words[:max_words])
        return text + (" ..." if len(words) > max_words else "")

    @classmethod
    def from_variables(cls, variables: Mapping[str, Any]) -> Publication:
        """Read ``titulo``, ``autor``, ``secoes``, ``tags``, ``data_publicacao``.

        Everything wrong is reported at once, as a BPMN error the process handles.
        """
        problems: list[str] = []
        title = _text(variables.get("titulo"), "titulo", problems)
        author = _text(variables.get("autor"), "autor", problems)
        sections = _sections(variables.get("secoes"), problems)
        tags = variables.get("tags") or []
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            problems.append("tags: expected a list of strings")
            tags = []
        published = variables.get("data_publicacao")
        if published is not None and not isinstance(published, datetime | date):
            problems.append("data_publicacao: expected a Date variable")
            published = None
        if problems:
            raise BpmnError(INVALID_PUBLICATION, "; ".join(problems),
                            variables={"publicacao_erros": problems})
        published_on = published.date() if isinstance(published, datetime) else published
        return cls(title, author, sections, tuple(tags), published_on)


def _text(value: object, name: str, problems: list[str]) -> str:
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{name}: required text is missing")
        return ""
    return value.strip()


def _sections(value: object, problems: list[str]) -> tuple[Section, ...]:
    if not isinstance(value, list) or not value:
        problems.append("secoes: expected a non-empty list of {titulo, paragrafos}")
        return ()
    sections = []
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            problems.append(f"secoes.{index}: expected an object with titulo and paragrafos")
            continue
        paragraphs = item.get("paragrafos")
        if not isinstance(paragraphs, list) or not all(isinstance(p, str) for p in paragraphs):
            problems.append(f"secoes.{index}.paragrafos: expected a list of strings")
            continue
        sections.append(Section(str(item.get("titulo") or ""), tuple(paragraphs)))
    return tuple(sections)
