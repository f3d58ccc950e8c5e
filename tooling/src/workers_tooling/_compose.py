"""``workers compose``: keep the worker services of the Swarm stack file up to date.

The stack file (``docker-compose.swarm.yml``) belongs to people; the generator edits it in
place with ruamel.yaml round-trip:

* a service per discovered worker is added, or updated where it differs; the services of
  workers that no longer exist are removed. A worker's service is recognised by the
  ``camunda-workers.worker: NAME`` label under ``deploy.labels``;
* inside those services it changes only the keys it owns (see :mod:`._service`);
* everything else stays byte for byte: other services, top-level sections, ``x-``
  extensions, anchors, comments, key order, quoting. The only other additions are the
  ``workers`` network and the secrets workers use, when the file does not declare them.

With no stack file yet, it starts from ``deploy/stack.seed.yml``. ``environment="production"``
merges the overlay ``deploy/production.yml`` into the generated services (:mod:`._overlay`).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from ._atomic import Writer, atomic_write, write_all
from ._compose_components import compose_components
from ._discovery import DiscoveredWorker, discover_workers, relative
from ._labels import ENV_LABEL, SECRETS_LABEL, WORKER_LABEL
from ._overlay import load_overlay
from ._service import (
    DEPLOY_KEYS,
    FIXED_ENVIRONMENT,
    NETWORK,
    REMOVED_KEYS,
    SERVICE_KEYS,
    build_service,
    recorded,
)
from ._yamldoc import Document, own_keys, to_node
from ._yamledit import delete_key, insert_key, replace_value, sync_value
from .errors import ToolingError

__all__ = ["SEED_FILE", "STACK_FILE", "ComposeResult", "compose_stack"]

STACK_FILE = "docker-compose.swarm.yml"
SEED_FILE = "deploy/stack.seed.yml"


@dataclass(frozen=True)
class ComposeResult:
    """What :func:`compose_stack` did (or, with ``check``, would do)."""

    stack_file: Path
    workers: tuple[str, ...]
    added: tuple[str, ...]
    updated: tuple[str, ...]
    removed: tuple[str, ...]
    changed: bool
    written: bool
    seeded: bool
    diff: str
    text: str


def _worker_services(services: CommentedMap) -> dict[str, str]:
    """Worker name -> service key, for the services carrying our label."""
    found: dict[str, str] = {}
    for key in own_keys(services):
        service = services[key]
        deploy = service.get("deploy") if isinstance(service, Mapping) else None
        names = recorded(deploy.get("labels"), WORKER_LABEL) if isinstance(deploy, Mapping) else []
        if names:
            found[names[0]] = key
    return found


def _sync_service(service: CommentedMap, generated: CommentedMap, source: str) -> bool:
    """Sync the owned keys of an existing worker service; keep everything else."""
    old_deploy = service.get("deploy") if "deploy" in own_keys(service) else None
    old_labels = old_deploy.get("labels") if isinstance(old_deploy, Mapping) else None
    order = list(generated)
    changed = False
    for key in order:
        current = service[key] if key in own_keys(service) else None
        if key == "environment" and current is not None:
            if not isinstance(current, CommentedMap):
                raise ToolingError(f"{source}: environment: write it as a mapping (KEY: value); "
                                   "the generator edits it key by key")
            owned = {*FIXED_ENVIRONMENT, *recorded(old_labels, ENV_LABEL), *generated[key]}
            changed = sync_value(service, key, generated[key], order, owned) or changed
        elif key == "deploy" and isinstance(current, CommentedMap):
            changed = sync_value(service, key, generated[key], order, DEPLOY_KEYS) or changed
        elif key == "secrets" and isinstance(current, list):
            before = recorded(old_labels, SECRETS_LABEL)
            changed = _sync_secrets(service, list(generated[key]), before) or changed
        else:
            changed = sync_value(service, key, generated[key], order) or changed
    for key in (*SERVICE_KEYS, *REMOVED_KEYS):
        if key not in generated and key in own_keys(service):
            if key == "secrets" and isinstance(service[key], list):
                before = recorded(old_labels, SECRETS_LABEL)
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


def _position(services: CommentedMap, workers: dict[str, str], name: str) -> int:
    """After the last worker service sorting before ``name``; else before the first."""
    keys = own_keys(services)
    earlier = [keys.index(key) for other, key in workers.items() if other < name]
    later = [keys.index(key) for other, key in workers.items() if other > name]
    return max(earlier) + 1 if earlier else min(later) if later else len(keys)


def _ensure(data: CommentedMap, section: str, name: str, value: dict[str, Any]) -> None:
    """Declare a top-level network/secret the workers use, if the file does not."""
    if section not in own_keys(data):
        insert_key(data, len(own_keys(data)), section, to_node({name: value}), blank_line=True)
    elif data[section] is None:
        replace_value(data, section, to_node({name: value}))
    elif name not in data[section]:
        insert_key(data[section], len(own_keys(data[section])), name, to_node(value))


def compose_stack(
    repo: Path,
    *,
    stack_file: Path | None = None,
    seed: Path | None = None,
    registry: str | None = None,
    tag: str | None = None,
    environment: str | None = None,
    monitoring: bool | None = None,
    check: bool = False,
    writer: Writer = write_all,
) -> ComposeResult:
    """Bring the worker services of ``stack_file`` in line with ``workers/*/worker.json``.

    ``registry`` defaults to ``$REGISTRY`` or ``local``, ``tag`` to ``$TAG`` or each worker's
    version. ``monitoring`` adds (True) or removes (False) the monitoring services
    (:mod:`._monitoring_stack`); None keeps them if the file has them. ``check=True`` writes
    nothing; the result's ``diff`` shows what would change.
    """
    stack_file = stack_file or repo / STACK_FILE
    seed = seed or repo / SEED_FILE
    registry = (registry or os.environ.get("REGISTRY") or "local").rstrip("/")
    tag = tag or os.environ.get("TAG") or None
    workers = discover_workers(repo)
    names = [worker.name for worker in workers]
    common, per_worker = load_overlay(repo, environment, names) if environment else ({}, {})
    source = relative(stack_file, repo)
    old_text = stack_file.read_text(encoding="utf-8") if stack_file.is_file() else None
    if old_text is None and not seed.is_file():
        raise ToolingError(f"neither {source} nor its seed {relative(seed, repo)} exists; "
                           "restore the seed from git")
    start = old_text if old_text is not None else seed.read_text(encoding="utf-8")
    document = Document(start, source=source if old_text is not None else relative(seed, repo))
    data = document.data
    if "services" not in own_keys(data) or data["services"] is None:
        sync_value(data, "services", CommentedMap())
    services = data["services"]
    if not isinstance(services, CommentedMap):
        raise ToolingError(f"{source}: services: expected a mapping of services")
    existing = _worker_services(services)
    for name in names:
        if name not in existing and name in own_keys(services):
            raise ToolingError(
                f"{source}: services.{name} exists but is not a generated worker service; "
                f"rename that service, or add the label '{WORKER_LABEL}: {name}' under its "
                "deploy.labels to hand it to the generator")
    removed = tuple(sorted(name for name in existing if name not in names))
    for name in removed:
        delete_key(services, existing.pop(name))
    added: list[str] = []
    updated: list[str] = []
    for worker in workers:
        image = f"{registry}/workers-{worker.name}:{tag or worker.spec.version}"
        generated = to_node(build_service(
            worker, image=image, overlays=(common, per_worker.get(worker.name, {}))))
        if worker.name in existing:
            key = existing[worker.name]
            if _sync_service(services[key], generated, f"{source}: services.{key}"):
                updated.append(worker.name)
        else:
            insert_key(services, _position(services, existing, worker.name), worker.name,
                       generated, blank_line=True)
            existing[worker.name] = worker.name
            added.append(worker.name)
    more = compose_components(data, services, repo, workers, enabled=monitoring,
                              registry=registry, source=source)
    added += more[0]
    updated += more[1]
    removed += tuple(more[2])
    _declare(data, workers)
    text = document.dump()
    changed = text != old_text
    diff = "".join(difflib.unified_diff(
        (old_text or "").splitlines(keepends=True), text.splitlines(keepends=True),
        fromfile=f"a/{source}", tofile=f"b/{source}")) if changed else ""
    if changed and not check:
        try:
            atomic_write(stack_file, text, writer=writer)
        except OSError as exc:
            raise ToolingError(f"{source}: cannot write ({exc}); the file is unchanged") from None
    return ComposeResult(
        stack_file=stack_file, workers=tuple(names), added=tuple(added),
        updated=tuple(updated), removed=removed, changed=changed,
        written=changed and not check, seeded=old_text is None, diff=diff, text=text)


def _declare(data: CommentedMap, workers: list[DiscoveredWorker]) -> None:
    if workers:
        _ensure(data, "networks", NETWORK, {"driver": "overlay", "attachable": True})
    for secret in sorted({s for worker in workers for s in worker.spec.secrets}):
        _ensure(data, "secrets", secret, {"external": True})
