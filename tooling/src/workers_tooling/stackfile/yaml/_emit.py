"""A small YAML emitter for the worker services the generator writes.

It writes plain data (mappings, lists, tuples as flow lists, strings, ints, bools,
``None``) exactly as ruamel.yaml's round-trip dumper writes the same data made with
:func:`~._doc.to_node` under the file's indentation (a property test holds it to
that), at a fraction of the cost. Anything outside what it is sure of (floats, non-ASCII
or multi-line strings, long keys, lists in lists) raises
:class:`CannotEmit`, and the caller lets ruamel.yaml write that service.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from ._doc import needs_quotes

__all__ = ["CannotEmit", "Style", "emit_entry"]

# Plain scalars ruamel.yaml writes as they are (needs_quotes rules out the rest).
_PLAIN = re.compile(r"[A-Za-z0-9_$/(][A-Za-z0-9_$/.(){}=:,@+%~^<> !'\"*&|-]*")
_PLAIN_IN_FLOW = re.compile(r"[A-Za-z0-9_$/(][A-Za-z0-9_$/.()=:@+%~^<> !'\"*&|-]*")
_QUOTABLE = re.compile(r"[ -~]*")  # printable ASCII: no escapes beyond \\ and \"
_LONGEST = 1000  # ruamel.yaml folds lines past its width (4096): stay far below
_LONGEST_KEY = 120  # ruamel.yaml writes longer keys as explicit `? key` entries


class CannotEmit(Exception):
    """This value is not one the emitter is sure to write as ruamel.yaml would."""


@dataclass(frozen=True)
class Style:
    """Indentation of the file (as ruamel.yaml's ``indent()``) and its line break."""

    mapping: int = 2
    sequence: int = 4
    offset: int = 2
    newline: str = "\n"


def _scalar(value: Any, *, flow: bool = False) -> str:
    if type(value) is str or type(value) is DoubleQuotedScalarString:
        return _string(value, type(value) is DoubleQuotedScalarString, flow)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    raise CannotEmit(repr(value))


@functools.lru_cache(maxsize=16384)
def _string(value: str, double: bool, flow: bool) -> str:
    """A string scalar; ``double``: it must be double-quoted (a DoubleQuotedScalarString)."""
    if len(value) > _LONGEST:
        raise CannotEmit(repr(value))
    if double or needs_quotes(value):
        if not _QUOTABLE.fullmatch(value):
            raise CannotEmit(repr(value))
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if not (_PLAIN_IN_FLOW if flow else _PLAIN).fullmatch(value) or value.endswith((" ", "-")):
        raise CannotEmit(repr(value))
    return value


@functools.lru_cache(maxsize=16384)
def _key(key: Any) -> str:
    """A key: plain, or double-quoted where YAML 1.1 would read it as something else
    (``"yes":``, ``"on":``, ``"1":``), as ruamel.yaml writes a key that
    :func:`~._doc.to_node` quoted. Past 128 characters ruamel.yaml writes an explicit
    ``? key``: declined."""
    if type(key) is not str or len(key) > _LONGEST_KEY:
        raise CannotEmit(repr(key))
    if needs_quotes(key):
        if not _QUOTABLE.fullmatch(key):
            raise CannotEmit(repr(key))
        return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if not _PLAIN_IN_FLOW.fullmatch(key):
        raise CannotEmit(repr(key))
    return key


def _mapping(out: list[str], mapping: Mapping[Any, Any], column: int, style: Style,
             first_prefix: str | None = None) -> None:
    pad = " " * column
    for key, value in mapping.items():
        prefix = pad if first_prefix is None else first_prefix
        first_prefix = None
        kind = type(value)
        if kind is str or kind is DoubleQuotedScalarString:
            text = _string(value, kind is DoubleQuotedScalarString, False)
            out.append(f"{prefix}{_key(key)}: {text}")
        elif kind is dict or (kind is not list and kind is not tuple
                              and isinstance(value, Mapping)):
            if value:
                out.append(f"{prefix}{_key(key)}:")
                _mapping(out, value, column + style.mapping, style)
            else:
                out.append(f"{prefix}{_key(key)}: {{}}")
        elif kind is list:
            if value:
                out.append(f"{prefix}{_key(key)}:")
                _sequence(out, value, column, style)
            else:
                out.append(f"{prefix}{_key(key)}: []")
        elif kind is tuple:
            if any(isinstance(item, Mapping | list | tuple) for item in value):
                raise CannotEmit("a flow list of collections")
            items = ", ".join(_scalar(item, flow=True) for item in value)
            out.append(f"{prefix}{_key(key)}: [{items}]")
        else:
            text = _scalar(value)
            out.append(f"{prefix}{_key(key)}: {text}" if text else f"{prefix}{_key(key)}:")


def _sequence(out: list[str], items: list[Any], column: int, style: Style) -> None:
    dash = " " * (column + style.offset) + "-" + " " * (style.sequence - style.offset - 1)
    content = column + style.sequence
    for item in items:
        if isinstance(item, Mapping) and item:
            _mapping(out, item, content, style, first_prefix=dash)
        elif isinstance(item, Mapping | list | tuple):
            raise CannotEmit("an empty mapping or a list in a list")
        else:
            out.append(dash + _scalar(item))


def emit_entry(key: str, value: Mapping[str, Any], column: int, style: Style) -> str:
    """``key:`` at ``column`` and its block mapping below, each line ending in the newline."""
    if style.sequence - style.offset < 2:
        raise CannotEmit("a sequence indentation ruamel.yaml writes differently")
    out: list[str] = []
    _mapping(out, {key: value}, column, style)
    return style.newline.join(out) + style.newline
