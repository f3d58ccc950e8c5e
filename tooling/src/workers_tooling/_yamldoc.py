"""YAML files for round-trip editing: loading with the file's own style, fresh values.

:class:`Document` loads a file with ruamel.yaml round-trip (indentation detected, ``---``
kept, every anchor kept even once nothing refers to it) and dumps it back.
:func:`to_node` turns plain data into fresh ruamel objects, double-quoting the strings
YAML 1.1 (the Swarm loader) would misread; :func:`same` compares as Swarm would read.
"""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Iterable, Mapping
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.resolver import VersionedResolver
from ruamel.yaml.scalarstring import (
    DoubleQuotedScalarString,
    ScalarString,
    SingleQuotedScalarString,
)

from .errors import InputError

__all__ = ["Document", "guess_indent", "needs_quotes", "own_keys", "same", "to_node"]

_STR = "tag:yaml.org,2002:str"
_RESOLVERS = (VersionedResolver(version=(1, 1)), VersionedResolver(version=(1, 2)))
# Starts with a letter and has no character a non-string plain scalar needs: only the
# words of _SPECIAL_WORDS can then resolve to something else (checked by the resolvers).
_WORDLIKE = re.compile(r"[A-Za-z][A-Za-z0-9_$/(){}=:,@%^<> !'\"*&|-]*")
_SPECIAL_WORDS = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})
_PLAIN_UNSAFE = re.compile(r"^[\s?:,\[\]{}#&*!|>'\"%@`-]|: | #|:$|\s$|^[0-9:._+-]+$")


class Document:
    """A YAML file loaded for round-trip editing: indentation and ``---`` as found."""

    def __init__(self, text: str, *, source: str,
                 indent: tuple[int, int, int] | None = None) -> None:
        self.yaml = YAML(typ="rt")
        self.yaml.preserve_quotes = True
        self.yaml.width = 4096
        mapping, sequence, offset = indent or guess_indent(text)
        self.yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
        self.yaml.explicit_start = _explicit_start(text)
        try:
            data = self.yaml.load(text)
        except YAMLError as exc:
            raise InputError(f"{source}: not valid YAML ({_one_line(exc)}); fix it by "
                               "hand, the generator never rewrites a file it cannot read") from None
        if data is None:
            data = CommentedMap()
        if not isinstance(data, CommentedMap):
            raise InputError(f"{source}: the top level must be a mapping (services: ...)")
        _keep_anchors(data, set())
        self.data: CommentedMap = data

    def dump(self) -> str:
        out = io.StringIO()
        self.yaml.dump(self.data, out)
        return out.getvalue()


def _keep_anchors(node: Any, seen: set[int]) -> None:
    """Anchors are written even when nothing refers to them any more (a removed service
    may have held the last ``*alias``): the file's ``&name`` stays where it was."""
    if id(node) in seen:
        return
    seen.add(id(node))
    anchor = node.yaml_anchor() if hasattr(node, "yaml_anchor") else None
    if anchor is not None:
        anchor.always_dump = True
    if isinstance(node, CommentedMap):
        for _, value in node.non_merged_items():
            _keep_anchors(value, seen)
    elif isinstance(node, CommentedSeq):
        for item in node:
            _keep_anchors(item, seen)


def _explicit_start(text: str) -> bool:
    """Does the document start with ``---`` (after comments and blank lines)?"""
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            return line.rstrip() == "---" or line.startswith("--- ")
    return False


def _one_line(exc: YAMLError) -> str:
    return " ".join(str(exc).split())


def guess_indent(text: str | Iterable[str]) -> tuple[int, int, int]:
    """(mapping, sequence, offset) indentation of a file (its text or its lines); 2, 4, 2
    where it shows none."""
    mapping: int | None = None
    sequence: tuple[int, int] | None = None
    parent: int | None = None  # indentation of the previous line if it was "key:" alone
    for line in text.splitlines() if isinstance(text, str) else text:
        line = line.rstrip("\r\n")
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(line) - len(line.lstrip(" "))
        if parent is not None and indent >= parent:
            if stripped.startswith("- ") and sequence is None:
                after_dash = len(stripped) - len(stripped[1:].lstrip(" "))
                sequence = (indent - parent + after_dash, indent - parent)
            elif not stripped.startswith("-") and mapping is None and indent > parent:
                mapping = indent - parent
        parent = indent if stripped.endswith(":") and not stripped.startswith("- ") else None
        if mapping is not None and sequence is not None:
            break
    seq, offset = sequence if sequence is not None and sequence[0] >= sequence[1] + 2 else (4, 2)
    return mapping or 2, seq, offset


@functools.lru_cache(maxsize=16384)
def needs_quotes(value: str) -> bool:
    """Would YAML 1.1 (the Swarm loader) or 1.2 read this plain scalar as a non-string?"""
    if _PLAIN_UNSAFE.search(value) or value in ("", "~"):
        return True
    if _WORDLIKE.fullmatch(value) and value.lower() not in _SPECIAL_WORDS:
        return False  # a letter first and not a boolean or null word: a string in both
    return any(r.resolve(ScalarNode, value, (True, False)) != _STR for r in _RESOLVERS)


def to_node(value: Any) -> Any:
    """Fresh ruamel objects for plain data (never shared: no ``&id001`` anchors)."""
    if isinstance(value, Mapping):
        node = CommentedMap()
        for key, item in value.items():
            node[key] = to_node(item)
        return node
    if isinstance(value, list | tuple):
        seq = CommentedSeq(to_node(item) for item in value)
        if isinstance(value, tuple):  # tuples are written as flow lists: [a, b]
            seq.fa.set_flow_style()
        return seq
    if isinstance(value, str) and not isinstance(value, ScalarString) and needs_quotes(value):
        return DoubleQuotedScalarString(value)
    return value


def own_keys(mapping: CommentedMap) -> list[Any]:
    """Keys written in this mapping itself (not those pulled in by a ``<<:`` merge)."""
    return [key for key, _ in mapping.non_merged_items()]


def same(old: Any, new: Any) -> bool:
    """Equal as Swarm would read them (quoting of a string only matters where needed)."""
    if isinstance(new, Mapping):
        return (isinstance(old, CommentedMap) and set(own_keys(old)) == set(new)
                and all(same(old[key], item) for key, item in new.items()))
    if isinstance(new, list):
        return (isinstance(old, list) and len(old) == len(new)
                and all(same(a, b) for a, b in zip(old, new, strict=True)))
    if isinstance(new, bool) or isinstance(old, bool):
        return type(old) is type(new) and old == new
    if isinstance(new, int | float):
        return isinstance(old, int | float) and type(old) is not bool and old == new
    if isinstance(new, str):
        return isinstance(old, str) and str(old) == str(new) and (
            not needs_quotes(new)
            or isinstance(old, SingleQuotedScalarString | DoubleQuotedScalarString))
    return bool(old == new)
