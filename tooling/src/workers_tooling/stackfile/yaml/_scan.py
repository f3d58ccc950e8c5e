"""Where the keys of a block mapping are in a YAML file, found line by line.

The generator splices the stack file instead of re-dumping it: it needs the line span of
each top-level section and of each service, nothing more. :func:`mapping_entries` finds
them in one pass over the lines, following what can make a line belong to the previous
key although it does not look like it: block scalars (``|``, ``>``), flow collections and
quoted scalars that go on over several lines, sequences written at the key's own
indentation. What it does not follow (tabs for indentation, complex ``?`` keys, several
documents, a key with an anchor) raises :class:`Unsupported`, and the caller falls back
to the full round trip. :func:`verify` checks the spans against libyaml's parser before
anything is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import yaml

__all__ = [
    "DuplicateKey", "Entry", "ScannedLines", "Unsupported", "child_column", "mapping_entries",
    "read_key", "scan_lines", "verify",
]

_OPENERS = "\"'[{|>"
# Lines with an opener character that certainly close on the same line (so the scanner
# need not lex them): `key: "text"`, `- 'text'`, `key: [a, "b"]`, `key: ${A:-{b}}` (a
# plain scalar: brackets inside it open nothing), each with an optional comment.
_DQ = r'"[^"\\]*"'
_SQ = r"'[^']*'"
_FLOW_ITEM = rf"""(?:{_DQ}|{_SQ}|[^\s,\[\]{{}}"'#&*!|>][^,\[\]{{}}#]*?)"""
_CLOSED = re.compile(
    rf"""(?:- +)*(?:[A-Za-z0-9_.$/-]+: +)?(?:{_DQ}|{_SQ}"""
    rf"""|\[ *(?:{_FLOW_ITEM} *(?:, *{_FLOW_ITEM} *)*)?\]"""
    r"""|[^\s"'\[{|>#&*!%@`:-](?:[^:#]|:(?![ \t]|$))*?)"""
    r"""[ \t]*(?:#.*)?""")
# The commonest of those (`KEY: "text"`), checked first because it is cheaper.
_QUOTED_VALUE = re.compile(r"""[A-Za-z0-9_.$/-]+: "[^"\\]*"[ \t]*\r?\n?""")
_BLOCK_INDICATOR = re.compile(r"[|>][-+0-9]*[ \t]*(?:#.*)?")


class DuplicateKey(Exception):
    """A key written twice in one mapping: the file is not valid (the message names the lines)."""


class Unsupported(Exception):
    """A construct the line scanner does not follow; the caller uses the full round trip."""


@dataclass
class Entry:
    """A key of a block mapping: its line, the lines of its value, and the text after
    ``key:`` on the key line (comment included, stripped)."""

    key: str
    start: int  # index of the key's line
    end: int  # index after the last line of its value (trailing comments not included)
    column: int
    value: str


@dataclass
class _State:
    depth: int = 0  # open flow collections
    quote: str = ""  # open quoted scalar
    block: bool = False  # the line starts a block scalar


def _separates(text: str, i: int, start: bool, depth: int) -> bool:
    """Is ``text[i]`` an indicator after which a token starts (``,`` ``:`` ``- ``)?"""
    c = text[i]
    spaced = i + 1 == len(text) or text[i + 1] in " \t\r\n"
    return ((c == "," and depth > 0) or (c == ":" and (spaced or depth > 0))
            or (c == "-" and start and not depth and spaced))


def _lex(text: str, state: _State) -> None:
    """Follow ``text`` (one line, no indentation) through quotes and flow collections.

    Only where a token starts does a quote or bracket open something: a plain scalar may
    contain them (``command: echo "hi``)."""
    state.block = False
    start = True  # a token may start here
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if state.quote == '"':
            if c == "\\":
                i += 2
                continue
            if c == '"':
                state.quote, start = "", False
        elif state.quote == "'":
            if c == "'":
                if text[i + 1: i + 2] == "'":
                    i += 2
                    continue
                state.quote, start = "", False
        elif c == "#" and (i == 0 or text[i - 1] in " \t"):
            return
        elif c in " \t\r\n":
            pass
        elif start and c in "&!":  # an anchor or a tag: the node itself comes after it
            while i + 1 < n and text[i + 1] not in " \t\r\n":
                i += 1
        elif start and c in "\"'":
            state.quote = c
        elif start and c in "[{":
            state.depth += 1
        elif state.depth and c in "]}":
            state.depth -= 1
            start = False
        elif _separates(text, i, start, state.depth):
            start = True
        elif start and not state.depth and c in "|>":
            state.block = bool(_BLOCK_INDICATOR.fullmatch(text[i:].rstrip("\r\n")))
            return
        else:
            start = False
        i += 1


def read_key(text: str) -> tuple[str, str] | None:
    """``(key, rest after the colon)`` of a ``key: value`` line (no indentation), or None."""
    first = text[:1]
    if first in ("'", '"'):
        close = text.find(first, 1)
        while first == "'" and close != -1 and text[close + 1: close + 2] == "'":
            close = text.find("'", close + 2)
        if close == -1 or text[close + 1: close + 2] != ":":
            return None
        key = text[1:close].replace("''", "'") if first == "'" else text[1:close]
        if first == '"' and "\\" in key:
            return None
        return key, text[close + 2:].strip()
    if first in ("?", "&", "*", "!", "[", "{", "-", "|", ">", "%", "@", "`"):
        return None
    colon = text.find(": ")
    body = text.rstrip("\r\n \t")
    if colon == -1:
        tab = text.find(":\t")
        colon = tab if tab != -1 else (len(body) - 1 if body.endswith(":") else -1)
    if colon <= 0:
        return None
    return text[:colon].rstrip(), text[colon + 1:].strip()


_TRIVIA = -1  # a blank line or a comment
_MARKER = -2  # `---`, `...` or a `%` directive at column 0
_DEEP = 1 << 30  # inside a block scalar, a quoted scalar or a flow collection
_BLANK = ("", "\n", "\r")
_OPENER = re.compile(r"[\"'\[{|>]")


@dataclass
class ScannedLines:
    """A file's lines, each with its indentation; :data:`_TRIVIA`, :data:`_MARKER` or
    :data:`_DEEP` for lines that cannot hold a key."""

    lines: list[str]
    columns: list[int]


def scan_lines(lines: list[str]) -> ScannedLines:
    """One pass over the file: the indentation of every line that could hold a key."""
    columns = [_TRIVIA] * len(lines)
    state = _State()
    block_column = -1  # inside a block scalar whose line is at this column
    opener, quoted, closed = _OPENER.search, _QUOTED_VALUE.fullmatch, _CLOSED.fullmatch
    going_on = False  # a flow collection or a quoted scalar goes on to the next line
    for i, line in enumerate(lines):
        if going_on:
            _lex(line, state)
            going_on = bool(state.depth or state.quote)
            columns[i] = _DEEP
            continue
        stripped = line.lstrip(" ")
        first = stripped[:1]
        if first in _BLANK:
            continue
        col = len(line) - len(stripped)
        if block_column >= 0:
            if col > block_column:
                columns[i] = _DEEP
                continue
            block_column = -1
        if first == "#":
            continue
        if first == "\t":
            raise Unsupported(f"line {i + 1}: a tab indents it")
        if col == 0 and first in "%-." and (first == "%" or stripped.startswith(("---", "..."))):
            word = stripped.rstrip("\r\n")
            if first == "%" or word in ("---", "...") or word.startswith(("--- ", "... ")):
                columns[i] = _MARKER
                continue
        columns[i] = col
        if opener(stripped) and not quoted(stripped) and not closed(stripped.rstrip("\r\n")):
            _lex(stripped, state)
            going_on = bool(state.depth or state.quote)
            if state.block:
                block_column = col
    return ScannedLines(lines, columns)


def mapping_entries(scanned: ScannedLines, start: int, end: int, column: int) -> list[Entry]:
    """The keys at ``column`` in lines ``start:end`` (a block mapping) with their spans.

    At column 0 a leading ``%`` directive and ``---`` and a final ``...`` are allowed.
    Raises :class:`Unsupported` for what it cannot follow, :class:`DuplicateKey` for a key
    written twice."""
    lines, columns = scanned.lines, scanned.columns
    entries: list[Entry] = []
    seen: dict[str, int] = {}
    ended = False
    for i in range(start, end):
        col = columns[i]
        if col == _TRIVIA:
            continue
        if col > column:
            if not entries:
                raise Unsupported(f"line {i + 1}: indented more than the mapping's first key")
            continue
        if col == _MARKER:
            word = lines[i].rstrip("\r\n")
            if word.startswith("..."):
                ended = True
            elif word.startswith("---") and (entries or word != "---"):
                raise Unsupported(f"line {i + 1}: several documents, or content after ---")
            continue
        stripped = lines[i][col:] if col != _DEEP else ""
        if ended:
            raise Unsupported(f"line {i + 1}: content after the document end marker")
        if col != column or (not entries and stripped.startswith("-")):
            raise Unsupported(f"line {i + 1}: not in a block mapping at column {column}")
        if stripped[:1] == "-" and stripped[1:2] in ("", " ", "\n", "\r"):
            continue  # a sequence written at its key's indentation
        found = read_key(stripped)
        if found is None:
            raise Unsupported(f"line {i + 1}: not a `key: value` line")
        key, value = found
        if key in seen:
            raise DuplicateKey(f"line {i + 1}: {key!r} is written twice in the same "
                               f"mapping (first on line {seen[key] + 1}); remove one")
        seen[key] = i
        entries.append(Entry(key, i, i + 1, col, value))
    bounds = [entry.start for entry in entries[1:]] + [end]
    for entry, bound in zip(entries, bounds, strict=True):
        last = bound - 1
        while last > entry.start and columns[last] in (_TRIVIA, _MARKER):
            last -= 1
        entry.end = last + 1
    return entries


def child_column(scanned: ScannedLines, entry: Entry) -> int | None:
    """The indentation of the first line of a block value under ``entry`` (None: none)."""
    for i in range(entry.start + 1, entry.end):
        col = scanned.columns[i]
        if 0 <= col < _DEEP:
            return col
    return None


@dataclass
class _Frame:
    mapping: bool
    expect_key: bool = True
    key: str | None = None


def _key_lines(text: str) -> tuple[list[tuple[str, int]], dict[str, list[tuple[str, int]]]]:
    """libyaml's view: (key, line) at the top level, and of the mappings just below it."""
    top: list[tuple[str, int]] = []
    below: dict[str, list[tuple[str, int]]] = {}
    stack: list[_Frame] = []
    for event in yaml.parse(text, Loader=yaml.CBaseLoader):
        kind = type(event)
        if kind in (yaml.ScalarEvent, yaml.AliasEvent, yaml.MappingStartEvent,
                    yaml.SequenceStartEvent):
            parent = stack[-1] if stack else None
            if parent is not None and parent.mapping and parent.expect_key:
                key = event.value if isinstance(event, yaml.ScalarEvent) else None
                parent.key = key
                line = event.start_mark.line if event.start_mark is not None else -1
                if key is not None and len(stack) == 1:
                    top.append((key, line))
                elif key is not None and len(stack) == 2 and stack[0].key is not None:
                    below.setdefault(stack[0].key, []).append((key, line))
            if kind in (yaml.MappingStartEvent, yaml.SequenceStartEvent):
                stack.append(_Frame(kind is yaml.MappingStartEvent))
                continue
        elif kind in (yaml.MappingEndEvent, yaml.SequenceEndEvent):
            stack.pop()
        else:
            continue
        if stack and stack[-1].mapping:  # a key or a value is complete
            stack[-1].expect_key = not stack[-1].expect_key
    return top, below


def verify(text: str, top: list[Entry], below: dict[str, list[Entry]]) -> None:
    """Check that ``text`` is valid YAML and that libyaml finds the keys where the
    scanner did (``below``: the entries of some top-level mappings). Raises
    :class:`Unsupported` when they differ, :class:`yaml.YAMLError` when invalid."""
    parsed_top, parsed_below = _key_lines(text)
    if parsed_top != [(entry.key, entry.start) for entry in top]:
        raise Unsupported("the line scanner and libyaml disagree on the top-level keys")
    for section, entries in below.items():
        if parsed_below.get(section, []) != [(entry.key, entry.start) for entry in entries]:
            raise Unsupported(f"the line scanner and libyaml disagree on the keys of {section}")
