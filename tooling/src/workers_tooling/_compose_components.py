"""The monitoring services in the stack file (see :mod:`._monitoring_stack`).

``workers compose --monitoring`` adds them, ``--no-monitoring`` removes them, and without
either they stay as the file has them (and are kept up to date). They are a second
:class:`~._servicesync.Family` of generated services, recognised by the
``camunda-workers.component`` label and spliced like the worker services
(:mod:`._splice`); inside them only the generated keys change, keys added by hand
(``command``...) and comments stay.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap

from ._discovery import DiscoveredWorker
from ._image_names import ImageNames
from ._labels import COMPONENT_LABEL
from ._monitoring_stack import MONITORING_VOLUME, component_services
from ._servicesync import Family
from ._splice import label_value
from ._yamldoc import own_keys
from ._yamledit import delete_key, sync_value

__all__ = ["COMPONENTS_FAMILY", "COMPONENT_VOLUMES", "wanted_components"]

# The keys of a monitoring service the generator owns; inside `deploy` and `environment`
# only the entries it writes.
_COMPONENT_KEYS = ("image", "environment", "ports", "networks", "volumes", "secrets", "deploy")
COMPONENT_VOLUMES = (MONITORING_VOLUME,)


def _sync_component(service: CommentedMap, generated: CommentedMap, source: str) -> bool:
    """Sync a monitoring service's generated keys; keys added by hand stay (``command``...)."""
    del source  # the worker services' sync names it in its errors; this one raises none
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


COMPONENTS_FAMILY = Family(COMPONENT_LABEL, "monitoring service", _sync_component)


def wanted_components(text: str, repo: Path, workers: Sequence[DiscoveredWorker], *,
                      images: ImageNames,
                      enabled: bool | None) -> dict[str, dict[str, Any]] | None:
    """The monitoring services ``text`` should have (name -> generated keys; ``{}``: none,
    remove them), or None when it has none and none are asked for (nothing to do)."""
    present = label_value(COMPONENT_LABEL).search(text) is not None
    if not (present if enabled is None else enabled):
        return {} if present else None
    return component_services(repo, workers, images=images)
