"""The Swarm stack file (``docker-compose.swarm.yml``): what ``workers compose`` writes.

A worker's service from its spec (:func:`build_service`), its labels and stack variables,
the fast splice of changed services and the whole-file round trip (:func:`roundtrip`) where
splicing is not safe, overlays. ``yaml/`` holds the YAML scanning, emitting and editing they
share. Names are imported on first use: reading a worker.json needs none of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_attributes

if TYPE_CHECKING:
    from ._compose import check_depends_on
    from ._roundtrip import roundtrip
    from ._service import build_service

__all__ = ["build_service", "check_depends_on", "roundtrip"]

_WHERE = {"build_service": "._service", "check_depends_on": "._compose",
          "roundtrip": "._roundtrip"}

__getattr__ = lazy_attributes(__name__, globals(), _WHERE)
