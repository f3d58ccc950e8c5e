"""Docker and Swarm operations: the Docker client (also over ssh), images and their names
(:class:`ImageNames`), ``workers build``, ``deploy``, ``scale``, ``status``, ``logs``, the
nodes and the engine database upgrade. Names are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_attributes

if TYPE_CHECKING:
    from ._image_names import ImageNames

__all__ = ["ImageNames"]

__getattr__ = lazy_attributes(__name__, globals(), {"ImageNames": "._image_names"})
