"""YAML files for round-trip editing: loading with the file's own style, fresh values.

:class:`Document` loads a file with ruamel.yaml round-trip (indentation detected, ``---``
kept, every anchor kept even once nothing refers to it) and dumps it back.
:func:`to_node` turns plain data into fresh ruamel objects, double-quoting the strings
YAML 1.1 (the Swarm loader) would misread, keys included, and the strings whose characters
only an escape keeps (control characters, U+0085, U+2028, U+2029: line breaks to a YAML
1.1 reader); :func:`same` compares as Swarm would read, key quoting included.
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

from ...errors import InputError

__all__ = [
    "Document", "guess_indent", "key_node", "key_quoted", "needs_escapes", "needs_quotes",
    "own_keys", "requote_keys", "equal_as_swarm_reads", "to_node",
]

_STR = "tag:yaml.org,2002:str"
_RESOLVERS = (VersionedResolver(version=(1, 1)), VersionedResolver(version=(1, 2)))
# Starts with a letter and has no character a non-string plain scalar needs: only the
# words of _SPECIAL_WORDS can then resolve to something else (checked by the resolvers).
_WORDLIKE = re.compile(r"[A-Za-z][A-Za-z0-9_$/(){}=:,@%^<> !'\"*&|-]*")
_SPECIAL_WORDS = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})
_PLAIN_UNSAFE = re.compile(r"^[\s?:,\[\]{}#&*!|>'\"%@`-]|: | #|:$|\s$|^[0-9:._+-]+$")
# Characters a YAML reader changes unless they are escaped in a double-quoted scalar: C0
# and C1 controls (tab and line feed included: a folded line break is read back as a
# space), DEL, the Unicode line and paragraph separators, a byte order mark, surrogates.
_ESCAPED = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff\ufffe\uffff]")


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
    """Would YAML 1.1 (the Swarm loader) or 1.2 read this plain scalar as a non-string, or
    as another string (:func:`needs_escapes`)?"""
    if _PLAIN_UNSAFE.search(value) or value in ("", "~") or needs_escapes(value):
        return True
    if _WORDLIKE.fullmatch(value) and value.lower() not in _SPECIAL_WORDS:
        return False  # a letter first and not a boolean or null word: a string in both
    return any(r.resolve(ScalarNode, value, (True, False)) != _STR for r in _RESOLVERS)


def needs_escapes(value: str) -> bool:
    """Is this string read back as written only double-quoted, with escapes?"""
    return _ESCAPED.search(value) is not None


def key_node(key: Any) -> Any:
    """A key to write: double-quoted where YAML 1.1 would misread it."""
    if isinstance(key, str) and not isinstance(key, ScalarString) and needs_quotes(key):
        return DoubleQuotedScalarString(key)
    return key


def key_quoted(key: Any) -> bool:
    """Is a key of a loaded file written as YAML 1.1 reads it back (quoted where needed)?"""
    if not isinstance(key, str) or not needs_quotes(key):
        return True
    return isinstance(key, DoubleQuotedScalarString) or (
        isinstance(key, SingleQuotedScalarString) and not needs_escapes(key))


def to_node(value: Any) -> Any:
    """Fresh ruamel objects for plain data (never shared: no ``&id001`` anchors); keys and
    strings that need quotes are double-quoted."""
    if isinstance(value, Mapping):
        node = CommentedMap()
        for key, item in value.items():
            node[key_node(key)] = to_node(item)
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


def requote_keys(mapping: CommentedMap, keys: Iterable[Any] | None = None) -> bool:
    """Double-quote the own keys (all, or those in ``keys``) a YAML 1.1 reader would
    misread, in place and with their comments; returns whether one changed."""
    wanted = None if keys is None else set(keys)
    changed = False
    for index, key in enumerate(own_keys(mapping)):
        if key_quoted(key) or (wanted is not None and key not in wanted):
            continue
        comments = mapping.ca.items.pop(key, None)
        value = mapping.pop(key)
        quoted = DoubleQuotedScalarString(key)
        mapping.insert(index, quoted, value)
        if comments is not None:
            mapping.ca.items[quoted] = comments
        changed = True
    return changed


def equal_as_swarm_reads(old: Any, new: Any) -> bool:
    """Equal as Swarm would read them (quoting of a string or key only matters where
    needed; where an escape is needed, only double quotes keep it)."""
    if isinstance(new, Mapping):
        return (isinstance(old, CommentedMap) and set(own_keys(old)) == set(new)
                and all(key_quoted(key) for key in own_keys(old))
                and all(equal_as_swarm_reads(old[key], item) for key, item in new.items()))
    if isinstance(new, list):
        return (isinstance(old, list) and len(old) == len(new)
                and all(equal_as_swarm_reads(a, b) for a, b in zip(old, new, strict=True)))
    if isinstance(new, bool) or isinstance(old, bool):
        return type(old) is type(new) and old == new
    if isinstance(new, int | float):
        return isinstance(old, int | float) and type(old) is not bool and old == new
    if isinstance(new, str):
        return isinstance(old, str) and str(old) == str(new) and (
            not needs_quotes(new) or isinstance(old, DoubleQuotedScalarString)
            or (isinstance(old, SingleQuotedScalarString) and not needs_escapes(new)))
    return bool(old == new)
