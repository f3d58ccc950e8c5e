"""Splice the worker services into the stack file: only their lines change.

The file is cut into the line spans of its top-level keys and of its services
(:mod:`.yaml._scan`). A worker service whose text is exactly what the generator writes
(:mod:`.yaml._emit`) is left alone; one that differs is read on its own with ruamel.yaml,
synced key by key (:func:`~._servicesync.sync_service`, hand edits and comments kept) and
written back in its place only if something changed; services of new workers are
inserted, those of removed workers cut out. Every other line stays as it was, byte for
byte: other services and sections, comments, flow mappings, ``~``, document markers,
anchors and merge keys, CRLF line breaks.

The same is done for the monitoring services (:mod:`._compose_components`): each call
handles one :class:`~._servicesync.OwnedServices` of generated services, by its label.

:class:`NeedsRoundTrip` says where this is not safe (a worker service that itself uses
anchors, aliases or merge keys, a flow-style section that needs an entry, a file the line
scanner does not follow); the caller then uses :mod:`._roundtrip`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError

from ..errors import InputError
from ._changes import ServiceChanges
from ._labels import label_line_pattern, service_label
from ._layout import declarations, missing, neighbour, not_generated, yaml11_view
from ._line_edits import (
    LineEdits,
    dedent_block,
    indent_block,
    split_lines,
    uses_anchors,
    without_comment,
)
from ._servicesync import WORKER_SERVICES, OwnedServices
from .yaml._doc import Document, guess_indent, needs_quotes, requote_keys, to_node
from .yaml._edit import rewrite_misread
from .yaml._emit import Style
from .yaml._scan import (
    DuplicateKey,
    Entry,
    Unsupported,
    child_column,
    mapping_entries,
    scan_lines,
    verify,
)

__all__ = ["NeedsRoundTrip", "Outcome", "splice"]



_EMPTY_VALUES = ("", "~", "null", "Null", "NULL", "{}")


class NeedsRoundTrip(Exception):
    """Splicing is not safe here; the message says why."""


@dataclass(frozen=True, kw_only=True)
class Outcome(ServiceChanges):
    """The new text and what changed; ``method`` is "splice" or "round trip"."""

    text: str
    services: tuple[str, ...]
    method: str


@dataclass
class _Service:
    entry: Entry
    worker: str | None
    current: bool = False  # already exactly what the generator writes
    loaded: tuple[Document, Any] | None = None  # read with ruamel.yaml (not current)


def _classify(splicer: LineEdits, children: list[Entry], column: int,
              generated: Mapping[str, Mapping[str, Any]], owned: OwnedServices) -> list[_Service]:
    """Which services are ``owned`` (e.g. worker services), and which of those are current."""
    found: list[_Service] = []
    for child in children:
        block = "".join(splicer.lines[child.start:child.end])
        if owned.label not in block:
            found.append(_Service(child, None))
            continue
        match = label_line_pattern(owned.label).search(block)
        guess = match.group(1) if match else ""
        if guess in generated and block == splicer.entry(child.key, generated[guess], column):
            found.append(_Service(child, guess, current=True))
            continue
        loaded = _load(splicer, child, column, owned)
        found.append(_Service(child, service_label(loaded[1], owned.label), loaded=loaded))
    return found


def _load(splicer: LineEdits, child: Entry, column: int,
          owned: OwnedServices) -> tuple[Document, Any]:
    text = dedent_block(splicer.lines[child.start:child.end], column)
    try:
        if uses_anchors(text):
            raise NeedsRoundTrip(f"the {owned.what} {child.key!r} uses anchors, aliases or "
                                 "merge keys")
        style = splicer.style
        document = Document(text, source=splicer.source,
                            indent=(style.mapping, style.sequence, style.offset))
    except yaml.YAMLError as exc:
        raise NeedsRoundTrip(f"service {child.key!r}: {exc}") from None
    return document, document.data[child.key]


def _yaml11_view(splicer: LineEdits, child: Entry, column: int) -> Any:
    """The service as libyaml (YAML 1.1, as Docker's loader) reads it; None if it cannot."""
    data = yaml11_view(dedent_block(splicer.lines[child.start:child.end], column))
    return data.get(child.key) if isinstance(data, dict) else None


def _update(splicer: LineEdits, found: _Service, column: int,
            generated: Mapping[str, Any], owned: OwnedServices) -> bool:
    child = found.entry
    document, service = found.loaded or _load(splicer, child, column, owned)
    where = f"{splicer.source}: services.{child.key}"
    if not isinstance(service, CommentedMap):
        raise InputError(f"{where}: expected a mapping of service keys")
    synced = owned.sync(service, to_node(generated), where)
    requoted = requote_keys(document.data)  # `yes:` becomes `"yes":`
    misread = rewrite_misread(service, _yaml11_view(splicer, child, column), generated)
    if not (synced or requoted or misread):
        return False
    text = indent_block(document.dump(), column, splicer.style.newline)
    splicer.edit(child.start, child.end, text)
    return True


def _remove(splicer: LineEdits, children: list[Entry], bound: int) -> None:
    """Cut out services; each run of them (with only blank lines between) goes with one
    blank line next to it: the one their insertion added."""
    runs: list[list[int]] = []
    for child in sorted(children, key=lambda c: c.start):
        if runs and all(splicer.blank(i) for i in range(runs[-1][1], child.start)):
            runs[-1][1] = child.end
        else:
            runs.append([child.start, child.end])
    for start, end in runs:
        if splicer.blank(start - 1):
            start -= 1
        elif splicer.blank(end) and end + 1 < bound:
            end += 1
        splicer.edit(start, end, "")


def _insert_services(splicer: LineEdits, key_line: int, children: list[Entry],
                     services: list[_Service], new: list[str], column: int,
                     generated: Mapping[str, Mapping[str, Any]]) -> None:
    """New worker services, in name order among the worker services already there."""
    kept = {s.worker: s.entry for s in services
            if s.worker is not None and s.worker in generated}
    newline = splicer.style.newline
    groups: dict[tuple[int, bool], list[str]] = {}  # (line, before a service) -> names
    for name in new:
        near = neighbour(kept, name)
        if near is not None and near[1]:  # after that service
            anchor = (near[0].end, False)
        elif near is not None:  # before it: after the service above it, if any
            index = children.index(near[0])
            anchor = ((children[index - 1].end, False) if index
                      else (near[0].start, True))
        else:
            anchor = (children[-1].end, False) if children else (key_line + 1, True)
        groups.setdefault(anchor, []).append(name)
    for (line, before), names in groups.items():
        texts = [splicer.entry(name, generated[name], column) for name in names]
        if before and children:  # above the first service: a blank line after each
            splicer.edit(line, line, "".join(text + newline for text in texts))
        elif before:  # the first services of an empty section
            splicer.edit(line, line, newline.join(texts))
        else:
            splicer.edit(line, line, "".join(newline + text for text in texts))


def _services(splicer: LineEdits, top: list[Entry], generated: Mapping[str, Mapping[str, Any]],
              owned: OwnedServices) -> tuple[list[str], list[str], list[str], list[Entry]]:
    """Edit the services; returns (added, updated, removed, the services in the file)."""
    newline = splicer.style.newline
    section = next((entry for entry in top if entry.key == "services"), None)
    if section is None and not generated:
        return [], [], [], []
    if section is None:
        texts = [splicer.entry(name, generated[name], splicer.style.mapping)
                 for name in generated]
        at = top[-1].end if top else len(splicer.lines)
        lead = newline if top else ""
        splicer.edit(at, at, lead + "services:" + newline + newline.join(texts))
        return list(generated), [], [], []
    value = without_comment(section.value)
    if value not in _EMPTY_VALUES:
        raise NeedsRoundTrip("services is written in flow style")
    column = child_column(splicer.scanned, section)
    children = (mapping_entries(splicer.scanned, section.start + 1, section.end, column)
                if column is not None else [])
    column = column if column is not None else splicer.style.mapping
    if value and generated:  # `services: {}` or `~` becomes a block mapping
        comment = section.value[len(value):]
        line = splicer.lines[section.start]
        splicer.edit(section.start, section.start + 1,
                     line[:section.column] + "services:" + comment + newline)
    services = _classify(splicer, children, column, generated, owned)
    workers: dict[str, _Service] = {}
    for service in services:
        if service.worker is not None:
            if service.worker in workers:
                raise InputError(
                    f"{splicer.source}: services {workers[service.worker].entry.key!r} and "
                    f"{service.entry.key!r} both carry the label '{owned.label}: "
                    f"{service.worker}'; remove it from one of them")
            workers[service.worker] = service
    keys = {child.key for child in children}
    for name in generated:
        if name not in workers and name in keys:
            raise not_generated(splicer.source, name, owned)
    removed = sorted(name for name in workers if name not in generated)
    _remove(splicer, [workers[name].entry for name in removed], section.end)
    updated = [name for name, service in sorted(workers.items())
               if name in generated and not service.current
               and _update(splicer, service, column, generated[name], owned)]
    added = [name for name in generated if name not in workers]
    _insert_services(splicer, section.start, children, services, added, column, generated)
    return added, updated, removed, children


def _declare(splicer: LineEdits, top: list[Entry], section: str,
             wanted: Mapping[str, Mapping[str, Any]]) -> None:
    """Top-level declarations (the workers network, secrets) the file lacks."""
    if not wanted:
        return
    newline = splicer.style.newline
    entry = next((e for e in top if e.key == section), None)
    if entry is None:
        texts = [splicer.entry(name, value, splicer.style.mapping)
                 for name, value in wanted.items()]
        at = top[-1].end if top else len(splicer.lines)
        splicer.edit(at, at, newline + section + ":" + newline + "".join(texts))
        return
    value = without_comment(entry.value)
    if value not in _EMPTY_VALUES:
        raise NeedsRoundTrip(f"{section} is written in flow style")
    column = child_column(splicer.scanned, entry)
    children = (mapping_entries(splicer.scanned, entry.start + 1, entry.end, column)
                if column is not None else [])
    for child in children:  # a declaration YAML 1.1 would misread (`y:`) gets its quotes
        line = splicer.lines[child.start]
        if (child.key in wanted and needs_quotes(child.key)
                and line[child.column] not in "\"'"):
            at = child.column + len(child.key)
            splicer.edit(child.start, child.start + 1,
                         f'{line[:child.column]}"{child.key}"{line[at:]}')
    lacking = missing((child.key for child in children), wanted)
    if not lacking:
        return
    at_column = column if column is not None else splicer.style.mapping
    declared = "".join(splicer.entry(name, v, at_column) for name, v in lacking.items())
    if value:
        comment = entry.value[len(value):]
        line = splicer.lines[entry.start]
        splicer.edit(entry.start, entry.start + 1,
                     line[:entry.column] + section + ":" + comment + newline)
    at = children[-1].end if children else entry.start + 1
    splicer.edit(at, at, declared)


def splice(text: str, *, source: str, generated: Mapping[str, Mapping[str, Any]],
           secrets: Sequence[str], owned: OwnedServices = WORKER_SERVICES,
           volumes: Sequence[str] = (),
           networks: Mapping[str, Mapping[str, Any]] | None = None) -> Outcome:
    """Bring the services of ``owned`` in ``text`` in line with ``generated`` (name ->
    service, in name order), declaring the network, ``secrets`` and ``volumes`` they use
    (and ``networks``: more networks, name -> declaration)."""
    lines = split_lines(text)
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    try:
        scanned = scan_lines(lines)
        top = mapping_entries(scanned, 0, len(lines), 0)
        splicer = LineEdits(lines, scanned, Style(*guess_indent(lines), newline=newline),
                            source)
        added, updated, removed, children = _services(splicer, top, generated, owned)
        for section, wanted in declarations(generated, secrets, volumes, networks).items():
            _declare(splicer, top, section, wanted)
        output = splicer.result() if splicer.edits else text
        if output != text:  # nothing is written from a file libyaml would not read alike
            verify(text, top, {"services": children})
    except Unsupported as exc:
        raise NeedsRoundTrip(str(exc)) from None
    except (yaml.YAMLError, YAMLError) as exc:
        raise InputError(f"{source}: not valid YAML ({' '.join(str(exc).split())}); fix it "
                           "by hand, the generator never rewrites a file it cannot read") from None
    except DuplicateKey as exc:
        raise InputError(f"{source}: not valid YAML: {exc}") from None
    services = tuple(child.key for child in children) + tuple(added)
    return Outcome(text=output, added=tuple(added), updated=tuple(updated),
                   removed=tuple(removed), services=services, method="splice")

