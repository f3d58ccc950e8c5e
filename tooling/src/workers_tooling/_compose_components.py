"""The monitoring services in the stack file (see :mod:`._monitoring_stack`), round trip.

``workers compose --monitoring`` adds them, ``--no-monitoring`` removes them, and without
either they stay as the file has them. Recognised by the ``camunda-workers.component``
label; inside them only the generated keys change.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ruamel.yaml.comments import CommentedMap

from ._discovery import DiscoveredWorker
from ._labels import COMPONENT_LABEL
from ._monitoring_stack import MONITORING_VOLUME, component_services
from ._service import recorded
from ._yamldoc import own_keys, to_node
from ._yamledit import delete_key, insert_key, replace_value, sync_value
from .errors import ToolingError

__all__ = ["compose_components"]


def _component_services(services: CommentedMap) -> dict[str, str]:
    """Monitoring service name -> service key, for the services carrying our label."""
    found: dict[str, str] = {}
    for key in own_keys(services):
        service = services[key]
        deploy = service.get("deploy") if isinstance(service, Mapping) else None
        names = (recorded(deploy.get("labels"), COMPONENT_LABEL)
                 if isinstance(deploy, Mapping) else [])
        if names:
            found[names[0]] = key
    return found


_COMPONENT_KEYS = ("image", "environment", "ports", "networks", "volumes", "secrets", "deploy")


def _sync_component(service: CommentedMap, generated: CommentedMap) -> bool:
    """Sync a monitoring service's generated keys; keys added by hand stay (``command``...)."""
    order = list(generated)
    changed = False
    for key in order:
        owned = list(generated[key]) if key in ("deploy", "environment") else None
        changed = sync_value(service, key, generated[key], order, owned) or changed
    for key in _COMPONENT_KEYS:
        if key not in generated and key in own_keys(service):
            delete_key(service, key)
            changed = True
    return changed


def compose_components(data: CommentedMap, services: CommentedMap, repo: Path,
                        workers: list[DiscoveredWorker], *, enabled: bool | None,
                        registry: str, source: str) -> tuple[list[str], list[str], list[str]]:
    """Add, update or remove the monitoring services; (added, updated, removed)."""
    existing = _component_services(services)
    added: list[str] = []
    updated: list[str] = []
    if not (bool(existing) if enabled is None else enabled):
        for key in existing.values():
            delete_key(services, key)
        return added, updated, sorted(existing)
    for name, wanted in component_services(repo, workers, registry=registry).items():
        generated = to_node(wanted)
        if name in existing:
            if _sync_component(services[existing[name]], generated):
                updated.append(name)
        elif name in own_keys(services):
            raise ToolingError(
                f"{source}: services.{name} exists but is not the generated {name} service; "
                f"rename it, or add the label '{COMPONENT_LABEL}: {name}' under its "
                "deploy.labels to hand it to the generator")
        else:
            insert_key(services, len(own_keys(services)), name, generated, blank_line=True)
            added.append(name)
    _declare_volume(data)
    return added, updated, []


def _declare_volume(data: CommentedMap) -> None:
    """The top-level declaration of Prometheus' data volume, if the file lacks it."""
    if "volumes" not in own_keys(data):
        insert_key(data, len(own_keys(data)), "volumes", to_node({MONITORING_VOLUME: {}}),
                   blank_line=True)
    elif data["volumes"] is None:
        replace_value(data, "volumes", to_node({MONITORING_VOLUME: {}}))
    elif MONITORING_VOLUME not in data["volumes"]:
        volumes = data["volumes"]
        insert_key(volumes, len(own_keys(volumes)), MONITORING_VOLUME, to_node({}))
