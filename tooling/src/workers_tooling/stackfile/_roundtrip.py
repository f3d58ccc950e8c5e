"""The whole stack file through ruamel.yaml's round trip: the fallback of :mod:`._splice`.

Used only where splicing cannot be done safely: a worker service that itself uses anchors,
aliases or merge keys (it must be read with the anchors defined elsewhere in the file), a
``services``/``networks``/``secrets`` section written as a flow mapping that needs an
entry, or a file the line scanner does not follow. ruamel.yaml then rewrites the whole
file: comments, key order, quoting, anchors and merge keys stay, but its formatting is
normalised (``{ a: 1 }`` becomes ``{a: 1}``, ``~`` an empty value, one indentation). CRLF
line breaks and a final ``...`` are put back.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ruamel.yaml.comments import CommentedMap

from ..errors import InputError
from ._labels import service_label
from ._layout import declarations, missing, neighbour, not_generated, yaml11_view
from ._servicesync import WORKER_SERVICES, OwnedServices
from ._splice import Outcome
from .yaml._doc import Document, key_node, own_keys, requote_keys, to_node
from .yaml._edit import delete_key, insert_key, replace_value, rewrite_misread, sync_value

__all__ = ["roundtrip"]

_DOCUMENT_END = re.compile(r"^\.\.\.[ \t]*(#.*)?$", re.MULTILINE)


def _services_owned(services: CommentedMap, owned: OwnedServices) -> dict[str, str]:
    """Name -> service key, for the services carrying the label of ``owned``."""
    found: dict[str, str] = {}
    for key in own_keys(services):
        name = service_label(services[key], owned.label)
        if name:
            found[name] = key
    return found


def _declare(data: CommentedMap, section: str, wanted: Mapping[str, Mapping[str, Any]]) -> None:
    """Top-level declarations (the workers network, secrets, volumes) the file lacks."""
    if not wanted:
        return
    if section not in own_keys(data):
        insert_key(data, len(own_keys(data)), section, to_node(dict(wanted)), blank_line=True)
        return
    if data[section] is None:
        replace_value(data, section, to_node(dict(wanted)))
        return
    present = tuple(name for name in wanted if name in data[section])  # merge keys too
    requote_keys(data[section], present)
    for name, value in missing(present, wanted).items():
        insert_key(data[section], len(own_keys(data[section])), key_node(name), to_node(value))


def roundtrip(text: str, *, source: str, generated: Mapping[str, Mapping[str, Any]],
              secrets: Sequence[str], owned: OwnedServices = WORKER_SERVICES,
              volumes: Sequence[str] = (),
              networks: Mapping[str, Mapping[str, Any]] | None = None) -> Outcome:
    """Bring the services of ``owned`` in ``text`` in line with ``generated`` (name ->
    service, in name order) through a whole-file round trip."""
    document = Document(text, source=source)
    data = document.data
    if "services" not in own_keys(data) or data["services"] is None:
        sync_value(data, "services", CommentedMap())
    services = data["services"]
    if not isinstance(services, CommentedMap):
        raise InputError(f"{source}: services: expected a mapping of services")
    existing = _services_owned(services, owned)
    data11 = yaml11_view(text)
    yaml11 = data11.get("services") if isinstance(data11, dict) else None
    for name in generated:
        if name not in existing and name in own_keys(services):
            raise not_generated(source, name, owned)
    removed = tuple(sorted(name for name in existing if name not in generated))
    for name in removed:
        delete_key(services, existing.pop(name))
    added: list[str] = []
    updated: list[str] = []
    for name, service in generated.items():
        node = to_node(service)
        if name in existing:
            key = existing[name]
            synced = owned.sync(services[key], node, f"{source}: services.{key}")
            requoted = requote_keys(services, (key,))  # `yes:` becomes `"yes":`
            seen = yaml11.get(key) if isinstance(yaml11, dict) else None
            if rewrite_misread(services[key], seen, service) or requoted or synced:
                updated.append(name)
        else:
            insert_key(services, _position(own_keys(services), existing, name),
                       key_node(name), node, blank_line=True)
            existing[name] = name
            added.append(name)
    for section, wanted in declarations(generated, secrets, volumes, networks).items():
        _declare(data, section, wanted)
    output = document.dump()
    if _DOCUMENT_END.search(text) and not _DOCUMENT_END.search(output):
        output += "...\n"
    if text.splitlines(keepends=True)[:1] and text.splitlines(keepends=True)[0].endswith("\r\n"):
        output = output.replace("\r\n", "\n").replace("\n", "\r\n")
    return Outcome(text=output, added=tuple(added), updated=tuple(updated), removed=removed,
                   services=tuple(str(key) for key in own_keys(services)), method="round trip")


def _position(keys: list[Any], workers: Mapping[str, str], name: str) -> int:
    """The index among ``keys`` where the new service ``name`` goes."""
    near = neighbour(workers, name)
    if near is None:
        return len(keys)
    key, after = near
    return keys.index(key) + (1 if after else 0)
