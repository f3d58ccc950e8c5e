"""Set one top-level value of a JSON file in place, keeping every other byte.

``workers scale`` writes a worker's replicas back to its ``worker.json``: only the value's
characters change (or one member is added before the closing brace), so indentation, key
order, line breaks and the rest stay as their author wrote them.
"""

from __future__ import annotations

import json
import re

__all__ = ["set_member"]

_WHITESPACE = " \t\r\n"


def _string_end(text: str, start: int) -> int:
    """Index after the JSON string starting at ``start`` (a double quote)."""
    i = start + 1
    while text[i] != '"':
        i += 2 if text[i] == "\\" else 1
    return i + 1


def _members(text: str) -> list[tuple[str, int, int]]:
    """(key, value start, value end) of the top-level object's members."""
    found: list[tuple[str, int, int]] = []
    depth = 0
    i = 0
    key: str | None = None
    value_start = -1
    while i < len(text):
        c = text[i]
        if c == '"':
            end = _string_end(text, i)
            if depth == 1 and key is None and value_start < 0:
                rest = text[end:].lstrip(_WHITESPACE)
                if rest.startswith(":"):
                    key = json.loads(text[i:end])
                    colon = end + (len(text[end:]) - len(rest))
                    value_start = colon + 1
                    while text[value_start] in _WHITESPACE:
                        value_start += 1
                    i = value_start
                    continue
            i = end
            continue
        if c in "{[":
            depth += 1
        elif c in "}]," and depth == 1 and key is not None:  # the member's value ends here
            end = i
            while text[end - 1] in _WHITESPACE:
                end -= 1
            found.append((key, value_start, end))
            key, value_start = None, -1
        if c in "}]":
            depth -= 1
        i += 1
    return found


def set_member(text: str, key: str, value: object) -> str:
    """``text`` (a JSON object) with ``key`` set to ``value``; nothing else changes."""
    json.loads(text)  # only valid JSON is edited
    encoded = json.dumps(value)
    for name, start, end in _members(text):
        if name == key:
            return text[:start] + encoded + text[end:]
    close = text.rindex("}")
    last = close
    while text[last - 1] in _WHITESPACE:
        last -= 1
    newline = "\r\n" if "\r\n" in text else "\n"
    match = re.search(r'\n([ \t]*)"', text)
    if match is None:  # all on one line
        return f'{text[:last]}, "{key}": {encoded}{text[last:]}'
    return f'{text[:last]},{newline}{match.group(1)}"{key}": {encoded}{text[last:]}'
