"""The monitoring services in the stack file (see :mod:`..monitoring._services`).

``workers compose --monitoring`` adds them, ``--no-monitoring`` removes them, and without
either they stay as the file has them (and are kept up to date). Prometheus' port is
published with ``--publish-monitoring`` only, unpublished with ``--no-publish-monitoring``,
and otherwise kept as the file has it (a new monitoring service: not published). They are a second
kind of :class:`~._servicesync.OwnedServices`, recognised by the
``camunda-workers.component`` label and spliced like the worker services
(:mod:`._splice`); inside them only the generated keys change, keys added by hand
(``command``...) and comments stay. ``--autoscale`` adds the autoscaler to them (it
needs the socket proxy, and Prometheus scrapes it), ``--no-autoscale`` removes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap

from ..errors import InputError
from ..monitoring._services import (
    DOCKER_API_NETWORK,
    DOCKER_API_NETWORK_DECLARATION,
    MONITORING_VOLUME,
    component_services,
)
from ..project._discovery import DiscoveredWorker
from ..swarm._image_names import ImageNames
from ._labels import COMPONENT_LABEL, label_line_pattern, service_label
from ._servicesync import OwnedServices
from .yaml._doc import own_keys
from .yaml._edit import delete_key, sync_value

__all__ = ["COMPONENT_NETWORKS", "COMPONENT_VOLUMES", "MONITORING_SERVICES",
           "wanted_monitoring_services"]

# The keys of a monitoring service the generator owns; inside `deploy` and `environment`
# only the entries it writes.
_COMPONENT_KEYS = ("image", "environment", "ports", "networks", "volumes", "secrets", "deploy")
COMPONENT_VOLUMES = (MONITORING_VOLUME,)
COMPONENT_NETWORKS = {DOCKER_API_NETWORK: DOCKER_API_NETWORK_DECLARATION}


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


MONITORING_SERVICES = OwnedServices(COMPONENT_LABEL, "monitoring service", _sync_component)


def _components(text: str) -> dict[str, dict[str, Any]]:
    """The file's monitoring services by their component label."""
    from ruamel.yaml import YAML

    services = (YAML(typ="safe").load(text) or {}).get("services") or {}
    return {str(service_label(service, COMPONENT_LABEL)):
            service for service in services.values() if isinstance(service, dict)}


def wanted_monitoring_services(text: str, repo: Path, workers: Sequence[DiscoveredWorker], *,
                               images: ImageNames, enabled: bool | None,
                               publish: bool | None = None,
                               autoscale: bool | None = None,
                               ) -> dict[str, dict[str, Any]] | None:
    """The monitoring services ``text`` should have (name -> generated keys; ``{}``: none,
    remove them), or None when it has none and none are asked for (nothing to do).
    ``publish``: Prometheus' port published (True) or not (False); None: as in ``text``.
    ``autoscale``: with the autoscaler (True, which needs the monitoring services) or
    without (False); None: as in ``text`` (and only while a worker has a policy)."""
    if autoscale and enabled is False:
        raise InputError("--autoscale: the autoscaler needs the monitoring services (the "
                         "socket proxy); drop --no-monitoring")
    if autoscale and not any(worker.spec.autoscale for worker in workers):
        raise InputError("--autoscale: no worker has an \"autoscale\" section in its "
                         "worker.json; add one (docs/production.md, Autoscaling)")
    present = label_line_pattern(COMPONENT_LABEL).search(text) is not None
    if autoscale:
        enabled = True
    if not (present if enabled is None else enabled):
        if publish:
            raise InputError("--publish-monitoring: the stack has no monitoring services to "
                             "publish; add them with --monitoring")
        return {} if present else None
    found = _components(text) if present and None in (publish, autoscale) else {}
    if publish is None:
        publish = bool((found.get("monitoring") or {}).get("ports"))
    if autoscale is None:
        autoscale = "autoscaler" in found and any(worker.spec.autoscale for worker in workers)
    return component_services(repo, workers, images=images, publish=publish,
                              autoscale=autoscale)
