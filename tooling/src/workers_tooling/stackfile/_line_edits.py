"""Line edits of a YAML file: what :mod:`._splice` uses to change only some lines.

:class:`LineEdits` collects replacements and insertions by line index and applies them in
one pass; the helpers move a block between its place in the file and a document of its
own (for ruamel.yaml), and write a mapping entry as ruamel.yaml would.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from .yaml._doc import Document, key_node, to_node
from .yaml._emit import CannotEmit, Style, emit_entry
from .yaml._scan import ScannedLines

__all__ = ["LineEdits", "dedent_block", "indent_block", "split_lines", "uses_anchors",
           "without_comment"]


@dataclass
class _Edit:
    start: int
    end: int
    text: str
    order: int


@dataclass
class LineEdits:
    """A file's lines, how it is scanned and styled, and the edits to make."""

    lines: list[str]
    scanned: ScannedLines
    style: Style
    source: str
    edits: list[_Edit] = field(default_factory=list)

    def edit(self, start: int, end: int, text: str) -> None:
        if start == end == len(self.lines) and self.lines and not self.lines[-1].endswith("\n"):
            text = self.style.newline + text  # the file ends without a line break
        self.edits.append(_Edit(start, end, text, len(self.edits)))

    def blank(self, index: int) -> bool:
        return 0 <= index < len(self.lines) and not self.lines[index].strip()

    def result(self) -> str:
        out: list[str] = []
        position = 0
        for edit in sorted(self.edits, key=lambda e: (e.start, e.end > e.start, e.order)):
            out.extend(self.lines[position:edit.start])
            out.append(edit.text)
            position = max(position, edit.end)
        out.extend(self.lines[position:])
        return "".join(out)

    def entry(self, key: str, value: Mapping[str, Any], column: int) -> str:
        """The text of ``key:`` and its mapping at ``column``, as ruamel.yaml writes it."""
        try:
            return emit_entry(key, value, column, self.style)
        except CannotEmit:
            return ruamel_entry(key, value, column, self.style)


def without_comment(value: str) -> str:
    """The value on a key's line without its comment."""
    return "" if value.startswith("#") else re.sub(r"[ \t]+#.*$", "", value)


def ruamel_entry(key: str, value: Mapping[str, Any], column: int, style: Style) -> str:
    document = Document("", source="", indent=(style.mapping, style.sequence, style.offset))
    document.data[key_node(key)] = to_node(value)
    return indent_block(document.dump(), column, style.newline)


def split_lines(text: str) -> list[str]:
    """The lines of ``text``, each with its ``\n`` (or ``\r\n``). Only these end a line:
    ``str.splitlines`` also splits at U+2028, U+0085, form feeds..., which YAML 1.2 reads
    as characters (and YAML 1.1 partly as line breaks: where the two disagree, libyaml's
    line numbers differ from ours and :func:`~.yaml._scan.verify` refuses the splice)."""
    lines = [line + "\n" for line in text.split("\n")]
    lines[-1] = lines[-1][:-1]
    return lines if lines[-1] else lines[:-1]


def indent_block(text: str, column: int, newline: str) -> str:
    pad = " " * column
    return "".join((pad + line if line.strip() else line).rstrip("\n") + newline
                   for line in split_lines(text))


def dedent_block(lines: Sequence[str], column: int) -> str:
    return "".join(line[column:] if not line[:column].strip() else line.lstrip(" ")
                   for line in lines).replace("\r\n", "\n")


def uses_anchors(text: str) -> bool:
    """Does this YAML define or use an anchor, or a merge key?"""
    if not any(mark in text for mark in ("&", "*", "<<")):
        return False
    for event in yaml.parse(text, Loader=yaml.CBaseLoader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            return True
        if isinstance(event, yaml.ScalarEvent) and event.value == "<<" and event.implicit[0]:
            return True
    return False
