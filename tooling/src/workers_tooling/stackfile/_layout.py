"""What the generator adds to a stack file and where, decided once for both ways of writing
it: the splice (:mod:`._splice`, line edits) and the round trip (:mod:`._roundtrip`,
ruamel.yaml nodes). They differ only in how they write.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

import yaml

from ..errors import InputError
from ._service import NETWORK, NETWORK_DECLARATION, SECRET_DECLARATION, VOLUME_DECLARATION
from ._servicesync import OwnedServices

__all__ = ["declarations", "missing", "neighbour", "not_generated", "yaml11_view"]

Place = TypeVar("Place")


def declarations(generated: Mapping[str, Any], secrets: Sequence[str], volumes: Sequence[str],
                 networks: Mapping[str, Mapping[str, Any]] | None,
                 ) -> dict[str, dict[str, Mapping[str, Any]]]:
    """Section -> name -> declaration: the top-level networks, secrets and volumes the
    generated services use (the workers network only when there are services)."""
    return {
        "networks": {NETWORK: NETWORK_DECLARATION, **(networks or {})} if generated else {},
        "secrets": {name: SECRET_DECLARATION for name in secrets},
        "volumes": {name: VOLUME_DECLARATION for name in volumes},
    }


def missing(declared: Iterable[Any], wanted: Mapping[str, Any]) -> dict[str, Any]:
    """The declarations of ``wanted`` whose names are not among ``declared``."""
    present = {str(name) for name in declared}
    return {name: value for name, value in wanted.items() if name not in present}


def neighbour(kept: Mapping[str, Place], name: str) -> tuple[Place, bool] | None:
    """Where a new generated service goes among the owned services of its kind already in the file
    (name -> place): after the one whose name sorts last before ``name`` (``True``), else
    before the one sorting first after it (``False``); ``None`` if there are none."""
    earlier = [other for other in kept if other < name]
    if earlier:
        return kept[max(earlier)], True
    later = [other for other in kept if other > name]
    if later:
        return kept[min(later)], False
    return None


def not_generated(source: str, name: str, owned: OwnedServices) -> InputError:
    """A service named as a generated one that does not carry the label of its kind."""
    return InputError(
        f"{source}: services.{name} exists but is not a generated {owned.what}; rename "
        f"that service, or add the label '{owned.label}: {name}' under its deploy.labels "
        "to hand it to the generator")


def yaml11_view(text: str) -> Any:
    """``text`` as libyaml (YAML 1.1, as Docker's loader) reads it; None if it cannot."""
    try:
        return yaml.load(text, Loader=yaml.CSafeLoader)
    except yaml.YAMLError:
        return None
