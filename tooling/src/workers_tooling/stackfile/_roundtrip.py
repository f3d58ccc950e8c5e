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

import yaml
from ruamel.yaml.comments import CommentedMap

from ..errors import InputError
from ._service import NETWORK, NETWORK_DECLARATION, SECRET_DECLARATION, VOLUME_DECLARATION
from ._servicesync import WORKERS, Family, labelled
from ._splice import Outcome
from .yaml._doc import Document, key_node, own_keys, requote_keys, to_node
from .yaml._edit import delete_key, insert_key, replace_value, rewrite_misread, sync_value

__all__ = ["roundtrip"]

_DOCUMENT_END = re.compile(r"^\.\.\.[ \t]*(#.*)?$", re.MULTILINE)


def _family_services(services: CommentedMap, family: Family) -> dict[str, str]:
    """Name -> service key, for the services carrying the family's label."""
    found: dict[str, str] = {}
    for key in own_keys(services):
        name = labelled(services[key], family.label)
        if name:
            found[name] = key
    return found


def _ensure(data: CommentedMap, section: str, name: str, value: Mapping[str, Any]) -> None:
    """Declare a top-level network/secret/volume the services use, if the file does not."""
    if section not in own_keys(data):
        insert_key(data, len(own_keys(data)), section, to_node({name: value}), blank_line=True)
    elif data[section] is None:
        replace_value(data, section, to_node({name: value}))
    elif name not in data[section]:
        insert_key(data[section], len(own_keys(data[section])), key_node(name),
                   to_node(value))
    else:
        requote_keys(data[section], (name,))


def roundtrip(text: str, *, source: str, generated: Mapping[str, Mapping[str, Any]],
              secrets: Sequence[str], family: Family = WORKERS,
              volumes: Sequence[str] = (),
              networks: Mapping[str, Mapping[str, Any]] | None = None) -> Outcome:
    """Bring the services of ``family`` in ``text`` in line with ``generated`` (name ->
    service, in name order) through a whole-file round trip."""
    document = Document(text, source=source)
    data = document.data
    if "services" not in own_keys(data) or data["services"] is None:
        sync_value(data, "services", CommentedMap())
    services = data["services"]
    if not isinstance(services, CommentedMap):
        raise InputError(f"{source}: services: expected a mapping of services")
    existing = _family_services(services, family)
    yaml11 = _yaml11_services(text)
    for name in generated:
        if name not in existing and name in own_keys(services):
            raise InputError(
                f"{source}: services.{name} exists but is not a generated {family.what}; "
                f"rename that service, or add the label '{family.label}: {name}' under its "
                "deploy.labels to hand it to the generator")
    removed = tuple(sorted(name for name in existing if name not in generated))
    for name in removed:
        delete_key(services, existing.pop(name))
    added: list[str] = []
    updated: list[str] = []
    for name, service in generated.items():
        node = to_node(service)
        if name in existing:
            key = existing[name]
            synced = family.sync(services[key], node, f"{source}: services.{key}")
            requoted = requote_keys(services, (key,))  # `yes:` becomes `"yes":`
            seen = yaml11.get(key) if isinstance(yaml11, dict) else None
            if rewrite_misread(services[key], seen, service) or requoted or synced:
                updated.append(name)
        else:
            insert_key(services, _position(own_keys(services), existing, name),
                       key_node(name), node, blank_line=True)
            existing[name] = name
            added.append(name)
    if generated:
        for network, declaration in {NETWORK: NETWORK_DECLARATION, **(networks or {})}.items():
            _ensure(data, "networks", network, declaration)
    for secret in secrets:
        _ensure(data, "secrets", secret, SECRET_DECLARATION)
    for volume in volumes:
        _ensure(data, "volumes", volume, VOLUME_DECLARATION)
    output = document.dump()
    if _DOCUMENT_END.search(text) and not _DOCUMENT_END.search(output):
        output += "...\n"
    if text.splitlines(keepends=True)[:1] and text.splitlines(keepends=True)[0].endswith("\r\n"):
        output = output.replace("\r\n", "\n").replace("\n", "\r\n")
    return Outcome(output, tuple(added), tuple(updated), removed,
                   tuple(str(key) for key in own_keys(services)), "round trip")


def _yaml11_services(text: str) -> Any:
    """The services as libyaml (YAML 1.1, as Docker's loader) reads them; None if it cannot."""
    try:
        data = yaml.load(text, Loader=yaml.CSafeLoader)
    except yaml.YAMLError:
        return None
    return data.get("services") if isinstance(data, dict) else None


def _position(keys: list[Any], workers: dict[str, str], name: str) -> int:
    """After the last worker service sorting before ``name``; else before the first."""
    index = {key: position for position, key in enumerate(keys)}
    earlier = [index[key] for other, key in workers.items() if other < name]
    later = [index[key] for other, key in workers.items() if other > name]
    return max(earlier) + 1 if earlier else min(later) if later else len(keys)
