"""One worker service brought in line with what the generator wants, in ruamel.yaml nodes.

Used where a service must be edited with its comments and hand edits kept: a worker
service that differs from what the generator would write afresh (:mod:`._splice`), and
the whole-file round trip (:mod:`._roundtrip`). Only the keys the generator owns change
(:mod:`._service`); everything else in the service stays, with its comments.

An :class:`OwnedServices` is a kind of service the generator owns: :data:`WORKER_SERVICES`
here, the monitoring services in :mod:`._compose_components`. Splicing and the round trip work on
one kind at a time, recognising its services by its label.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from ..errors import InputError
from ._labels import ENV_LABEL, SECRETS_LABEL, WORKER_LABEL, label_names
from ._service import DEPLOY_KEYS, FIXED_ENVIRONMENT, REMOVED_KEYS, SERVICE_KEYS
from .yaml._doc import own_keys, to_node
from .yaml._edit import delete_key, replace_value, sync_value

__all__ = ["WORKER_SERVICES", "OwnedServices", "sync_service"]


def sync_service(service: CommentedMap, generated: CommentedMap, source: str) -> bool:
    """Sync the owned keys of an existing worker service; keep everything else."""
    old_deploy = service.get("deploy") if "deploy" in own_keys(service) else None
    old_labels = old_deploy.get("labels") if isinstance(old_deploy, Mapping) else None
    order = list(generated)
    changed = False
    for key in order:
        current = service[key] if key in own_keys(service) else None
        if key == "environment" and current is not None:
            if not isinstance(current, CommentedMap):
                raise InputError(f"{source}: environment: write it as a mapping (KEY: value); "
                                   "the generator edits it key by key")
            owned = {*FIXED_ENVIRONMENT, *label_names(old_labels, ENV_LABEL), *generated[key]}
            changed = sync_value(service, key, generated[key], order, owned) or changed
        elif key == "deploy" and isinstance(current, CommentedMap):
            changed = sync_value(service, key, generated[key], order, DEPLOY_KEYS) or changed
        elif key == "secrets" and isinstance(current, list):
            before = label_names(old_labels, SECRETS_LABEL)
            changed = _sync_secrets(service, list(generated[key]), before) or changed
        else:
            changed = sync_value(service, key, generated[key], order) or changed
    for key in (*SERVICE_KEYS, *REMOVED_KEYS):
        if key not in generated and key in own_keys(service):
            if key == "secrets" and isinstance(service[key], list):
                before = label_names(old_labels, SECRETS_LABEL)
                changed = _sync_secrets(service, [], before) or changed
            else:
                delete_key(service, key)
                changed = True
    return changed


def _secret_name(entry: Any) -> str:
    return str(entry.get("source") if isinstance(entry, Mapping) else entry)


def _sync_secrets(service: CommentedMap, wanted: list[str], before: list[str]) -> bool:
    """Our secrets in the service's list; entries someone added by hand stay."""
    present = "secrets" in own_keys(service)
    current = list(service["secrets"]) if present else []
    owned = {*before, *wanted}
    desired = [e for e in current if _secret_name(e) not in owned or _secret_name(e) in wanted]
    names = {_secret_name(e) for e in desired}
    desired += [name for name in wanted if name not in names]
    if [id(e) for e in desired] == [id(e) for e in current]:
        return False
    # entries already there are moved over as they are (with their comments)
    node = CommentedSeq(to_node(e) if isinstance(e, str) else e for e in desired)
    if not desired:
        delete_key(service, "secrets")
    elif present:
        replace_value(service, "secrets", node)
    else:
        sync_value(service, "secrets", node, SERVICE_KEYS)
    return True


@dataclass(frozen=True)
class OwnedServices:
    """A kind of generated service: the label naming it, what to call it in messages, and
    how an existing one is brought in line (``sync(service, generated, source)``)."""

    label: str
    what: str
    sync: Callable[[CommentedMap, CommentedMap, str], bool]


WORKER_SERVICES = OwnedServices(WORKER_LABEL, "worker service", sync_service)
